package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
	"github.com/portcullis/portcullis/internal/syncbuf"
)

// connectJS connects to the NATS server at url, closed with the test.
func connectJS(t *testing.T, url string, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

const bootstrapPassword = "bootstrap-secret-0451"

// upstream is a recording stand-in for Elasticsearch: it answers every
// request 200 with the product header and remembers what reached it. The
// end-to-end tests of the proxy against a real node live with the auditor
// issue; these check what the gateway forwards.
type upstream struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []seen
}

type seen struct {
	Method, URI string
	Header      http.Header
	Body        string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.reqs = append(u.reqs, seen{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: string(b)})
		u.mu.Unlock()
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"upstream":true,"uri":%q}`, r.RequestURI)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) seen() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	s := u.seen()
	if len(s) == 0 {
		t.Fatal("nothing reached the upstream")
	}
	return s[len(s)-1]
}

// node is one running gateway replica.
type node struct {
	t      *testing.T
	app    *app
	url    string
	cancel context.CancelFunc
	done   chan error
	out    *syncbuf.Buffer
}

type nodeOpt func(*Config)

func withDataDir(dir string) nodeOpt { return func(c *Config) { c.DataDir = dir } }
func withAudit(esURL string) nodeOpt {
	return func(c *Config) { c.Audit.Disabled, c.Audit.URL = false, esURL }
}
func withUpstreamURL(u string) nodeOpt     { return func(c *Config) { c.Upstream = []string{u} } }
func withTokenTTL(d time.Duration) nodeOpt { return func(c *Config) { c.TokenTTL = d } }
func withNATSURL(u string) nodeOpt         { return func(c *Config) { c.NATS.URL = u } }
func withNATSListen(addr string) nodeOpt {
	return func(c *Config) { c.NATS.Listen, c.NATS.Password = addr, "nats-secret" }
}

// startNode runs a replica in-process in front of up and waits until it is
// healthy.
func startNode(t *testing.T, up *upstream, opts ...nodeOpt) *node {
	t.Helper()
	return startNodeEnv(t, up, map[string]string{"PORTCULLIS_BOOTSTRAP_PASSWORD": bootstrapPassword}, opts...)
}

// startNodeEnv is startNode with env as the process environment.
func startNodeEnv(t *testing.T, up *upstream, env map[string]string, opts ...nodeOpt) *node {
	t.Helper()
	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	if up != nil {
		cfg.Upstream = []string{up.srv.URL}
	}
	cfg.DataDir = t.TempDir()
	cfg.NATS.Listen = "" // tests run many nodes at once; withNATSListen opens a port
	cfg.Log.Level = "warn"
	cfg.Audit.Disabled = true // the recording upstream is no Elasticsearch; withAudit turns it on
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.NATS.URL != "" {
		cfg.NATS.Password = "nats-secret"
	}
	getenv := func(k string) string { return env[k] }
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	out := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, log, out, getenv)
	if err != nil {
		cancel()
		t.Fatalf("newApp: %v", err)
	}
	addr, err := a.Addr()
	if err != nil {
		cancel()
		t.Fatalf("listen: %v", err)
	}
	n := &node{t: t, app: a, url: "http://" + addr.String(), cancel: cancel, done: make(chan error, 1), out: out}
	go func() { n.done <- a.Run(ctx) }()
	t.Cleanup(n.stop)
	n.waitHealthy()
	return n
}

func (n *node) waitHealthy() {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(n.url + "/_portcullis/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 && n.app.proj.Model().SubjectSeq(elasticSubject) != 0 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	n.t.Fatal("node not healthy after 30s")
}

func (n *node) stop() {
	n.cancel()
	select {
	case err := <-n.done:
		if err != nil {
			n.t.Errorf("node stopped with error: %v", err)
		}
	case <-time.After(30 * time.Second):
		n.t.Error("node did not stop within 30s")
	}
	n.done <- nil // a second stop returns at once
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// reply is an HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("answer is not JSON (%v): %s", err, r.Body)
	}
	return m
}

func (r reply) jsonArray(t *testing.T) []any {
	t.Helper()
	var a []any
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("answer is not a JSON array (%v): %s", err, r.Body)
	}
	return a
}

// call sends a request the way curl does: a -d body goes with
// Content-Type application/x-www-form-urlencoded, whatever it holds.
func call(t *testing.T, method, url, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// rawCall sends a request line exactly as given (no client-side path
// cleaning), for the path tricks.
func rawCall(t *testing.T, base, method, target string, hdr ...string) reply {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, addr)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	b.WriteString("\r\n")
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

const elasticAuth = "elastic:" + bootstrapPassword

var elasticSubject = "portcullis.state.account.ZWxhc3RpYw" // events.StateSubject("account", "elastic")

func basic(userpass string) []string {
	u, p, _ := strings.Cut(userpass, ":")
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(u, p)
	return []string{"Authorization", req.Header.Get("Authorization")}
}

func mustStatus(t *testing.T, r reply, want int, what string) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, want, r.Body)
	}
}

func init() {
	// Tests never read a developer's real configuration.
	os.Unsetenv("PORTCULLIS_CONFIG")
}

// tryCall is call without a testing.T, for polling.
func tryCall(method, url string, hdr ...string) (int, error) {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return 0, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// changesIn waits (up to 10 s) until the AUTH stream at js holds want
// security_config_change outcomes, and returns them.
func changesIn(t *testing.T, js jetstream.JetStream, want int) []events.AuthOutcome {
	t.Helper()
	var got []events.AuthOutcome
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		got = got[:0]
		for m := range eventstest.Messages(t, js, events.StreamAuth) {
			for b := range events.SplitEvents(m.Data) {
				ev, err := events.Decode(b)
				if err != nil {
					t.Fatal(err)
				}
				var o events.AuthOutcome
				if err := ev.DecodeData(&o); err != nil {
					t.Fatal(err)
				}
				if o.Action == events.ActionSecurityConfigChange {
					got = append(got, o)
				}
			}
		}
		if len(got) >= want || time.Since(start) > 10*time.Second {
			return got
		}
	}
}
