package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	benchupstream "github.com/portcullis/portcullis/bench/upstream"
)

// BenchmarkServeAllow drives the whole process of `portcullis serve` over
// loopback, as bench/load does, but in one process so that it can be
// profiled (go test -bench ServeAllow -cpuprofile): embedded NATS
// JetStream, projector, policy, the outcome emitter publishing every
// access_granted, and the gateway proxying a _search of a native user
// (Basic, a role granting read on bench-*) to a fasthttp upstream. The
// clients run in this process too; their frames are fasthttp's client.
func BenchmarkServeAllow(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	uctx, ucancel := context.WithCancel(context.Background())
	udone := make(chan error, 1)
	go func() { udone <- benchupstream.Serve(uctx, ln) }()
	defer func() { ucancel(); <-udone }()

	cfg := defaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Upstream = []string{"http://" + ln.Addr().String()}
	cfg.DataDir = b.TempDir()
	cfg.NATS.Listen = "" // in-process only, as in the tests
	cfg.Audit.Disabled = true
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, log, io.Discard, func(k string) string {
		if k == "PORTCULLIS_BOOTSTRAP_PASSWORD" {
			return bootstrapPassword
		}
		return ""
	})
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	addr, err := a.Addr()
	if err != nil {
		cancel()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()

	hc := &fasthttp.HostClient{Addr: addr.String(), MaxConns: 64}
	do := func(method, path, auth, body string) (int, []byte) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(method)
		req.SetRequestURI("http://" + addr.String() + path)
		req.Header.Set("Authorization", auth)
		req.Header.SetContentType("application/json")
		req.SetBodyString(body)
		if err := hc.DoTimeout(req, resp, 30*time.Second); err != nil {
			b.Fatal(err)
		}
		return resp.StatusCode(), append([]byte(nil), resp.Body()...)
	}
	basic := func(u, p string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)) }
	super := basic("elastic", bootstrapPassword)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, _ := do("GET", "/_security/_authenticate", super, ""); st == 200 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the superuser does not authenticate after 30s")
		}
	}
	for _, c := range []struct{ path, body string }{
		{"/_security/role/bench_reader", `{"indices":[{"names":["bench-*"],"privileges":["read"]}]}`},
		{"/_security/user/bench", `{"password":"bench-password-1","roles":["bench_reader"]}`},
	} {
		if st, body := do("PUT", c.path, super, c.body); st != 200 {
			b.Fatalf("PUT %s: %d %s", c.path, st, body)
		}
	}
	user := basic("bench", "bench-password-1")
	const search = `{"query":{"match":{"message":"GET"}},"size":1}`
	if st, body := do("POST", "/bench-logs/_search", user, search); st != 200 || !bytes.Contains(body, []byte(`"hits"`)) {
		b.Fatalf("search: %d %s", st, body)
	}

	b.SetParallelism(16) // 16 × GOMAXPROCS connections
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod("POST")
		req.SetRequestURI("http://" + addr.String() + "/bench-logs/_search")
		req.Header.Set("Authorization", user)
		req.Header.SetContentType("application/json")
		req.SetBodyString(search)
		for pb.Next() {
			if err := hc.Do(req, resp); err != nil {
				b.Error(err)
				return
			}
			if resp.StatusCode() != 200 {
				b.Errorf("status %d: %s", resp.StatusCode(), resp.Body())
				return
			}
		}
	})
	// Every outcome published: the emitter's backlog counts.
	for a.emitter.Pending() > 0 {
		time.Sleep(time.Millisecond)
	}
	b.StopTimer()
	// The process's CPU time per request (server, upstream and clients
	// together), steadier than ns/op on a shared machine.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
