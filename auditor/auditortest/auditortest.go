// Package auditortest holds test helpers for code that writes to a real
// Elasticsearch node: where the node is, and a TCP proxy in front of it that
// a test can switch off and on to simulate an outage.
package auditortest

import (
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"
)

// ESURL returns the URL of the real Elasticsearch node the tests use
// (PORTCULLIS_TEST_ES_URL, which `make test` sets). Without one the test
// fails under CI (CI=true), where those tests must run, and is skipped
// loudly elsewhere.
func ESURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("PORTCULLIS_TEST_ES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			tb.Fatal("PORTCULLIS_TEST_ES_URL is not set: under CI the Elasticsearch tests must run (use make test)")
		}
		tb.Skip("!!! SKIPPED: no Elasticsearch node (PORTCULLIS_TEST_ES_URL unset); run make test or scripts/elasticsearch up")
	}
	return u
}

// Proxy is a TCP proxy on a loopback port in front of another address.
// Down closes the listener and every open connection, so that clients get
// "connection refused" exactly as from a stopped server; Up listens again
// on the same port. Tests use it to take Elasticsearch away from one
// client without stopping the node other tests share.
type Proxy struct {
	target string
	addr   string

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// NewProxy starts a proxy to targetURL's host:port (http://127.0.0.1:9201)
// and stops it when the test ends.
func NewProxy(tb testing.TB, targetURL string) *Proxy {
	tb.Helper()
	u, err := url.Parse(targetURL)
	if err != nil {
		tb.Fatalf("proxy target %q: %v", targetURL, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("proxy listen: %v", err)
	}
	p := &Proxy{target: u.Host, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	tb.Cleanup(func() {
		p.Down()
		p.wg.Wait()
	})
	return p
}

// URL is the proxy's http URL.
func (p *Proxy) URL() string { return "http://" + p.addr }

// Down stops accepting and cuts every open connection.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
}

// Up listens again on the proxy's port. It retries for a few seconds in the
// unlikely case the port is briefly taken.
func (p *Proxy) Up() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			p.serve(ln)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// serve accepts on ln; p.mu is held by the caller or p is not shared yet.
func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.pipe(c)
		}
	}()
}

func (p *Proxy) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		_ = c.Close()
		_ = up.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()

	done := func() {
		_ = c.Close()
		_ = up.Close()
		p.mu.Lock()
		delete(p.conns, c)
		delete(p.conns, up)
		p.mu.Unlock()
	}
	var once sync.Once
	p.wg.Add(2)
	for _, pair := range [][2]net.Conn{{up, c}, {c, up}} {
		go func() {
			defer p.wg.Done()
			// A copy ends with an error when Down cuts the connection:
			// that is the point.
			_, _ = io.Copy(pair[0], pair[1])
			once.Do(done)
		}()
	}
}
