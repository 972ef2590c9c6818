package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/bench/upstream"
)

func startUpstream(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- upstream.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return ln.Addr().String()
}

// TestLoops runs both loops briefly against the upstream: requests are
// answered, none fails, and each one counted in the window has one latency.
func TestLoops(t *testing.T) {
	wl := workload{addr: startUpstream(t), method: "POST", path: "/bench-logs/_search", body: []byte(`{}`), authorization: basicAuth("u", "p")}
	if err := wl.check(context.Background()); err != nil {
		t.Fatal(err)
	}
	ph := phase{warmup: 20 * time.Millisecond, duration: 500 * time.Millisecond}
	for name, s := range map[string]*sample{
		"closed": closedLoop(context.Background(), wl, 4, ph),
		"open":   openLoop(context.Background(), wl, 4, 500, ph),
	} {
		if s.failed != 0 || s.total == 0 || len(s.latencies) != s.ok || s.total < s.ok || s.elapsed != ph.duration {
			t.Errorf("%s loop: ok %d failed %d total %d latencies %d elapsed %v (%s)", name, s.ok, s.failed, s.total, len(s.latencies), s.elapsed, s.firstErr)
		}
	}
}

// TestCheckRefuses: a target that answers something else than the
// upstream's _search (a 401, another body) or nothing is not measured.
func TestCheckRefuses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		if string(ctx.Path()) == "/401" {
			ctx.SetStatusCode(401)
		}
		ctx.SetBodyString("<html>welcome to nginx</html>")
	}}
	go srv.Serve(ln) //nolint:errcheck // ends with Shutdown
	defer srv.Shutdown()
	for _, wl := range []workload{
		{addr: ln.Addr().String(), method: "GET", path: "/401"},
		{addr: ln.Addr().String(), method: "GET", path: "/other"},
		{addr: "127.0.0.1:1", method: "GET", path: "/"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		if err := wl.check(ctx); err == nil {
			t.Errorf("check of %s%s succeeded", wl.addr, wl.path)
		}
		cancel()
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses; pgrp 4242, utime 17, stime 5.
	line := []byte("1234 (nginx: worker (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 100 0 0")
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	if st != (procStat{pgrp: 4242, utime: 17, stime: 5}) {
		t.Errorf("parseStat = %+v", st)
	}
	if _, err := parseStat([]byte("1234 (x) S 1")); err == nil {
		t.Error("short line parsed")
	}
}

func TestCPUListLen(t *testing.T) {
	for list, want := range map[string]int{"": 0, "0": 1, "1": 1, "0,1": 2, "0-3": 4, "0-1,4": 3, "3-1": 0, "x": 0} {
		if got := cpuListLen(list); got != want {
			t.Errorf("cpuListLen(%q) = %d, want %d", list, got, want)
		}
	}
}

func TestRotate(t *testing.T) {
	ts := []*target{{name: "a"}, {name: "b"}, {name: "c"}}
	for r, want := range []string{"abc", "bca", "cab", "abc"} {
		got := ""
		for _, t := range rotate(ts, r) {
			got += t.name
		}
		if got != want {
			t.Errorf("rotate(%d) = %s, want %s", r, got, want)
		}
	}
}
