package gateway

import (
	"io"
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BenchmarkHandleAllow drives the whole allow path (realm chain with a
// cached Basic credential, canonical parse, policy decision, outcome
// emission, proxying over a kept-alive connection) through Handle, against
// a fasthttp upstream on loopback.
func BenchmarkHandleAllow(b *testing.B) {
	tg, run := allowPath(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run()
		if i%4096 == 0 {
			tg.out.reset()
		}
	}
}

// TestHandleAllocs pins the allocations of the allow path through Handle
// (BenchmarkHandleAllow's): 23 before the request state and classifiers
// were pooled, 15 after (16 with the request state alone allocated), most
// of them the upstream exchange's (fasthttp's streamed answer) and the
// outcome's id. make test runs it without the race detector.
func TestHandleAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	tg, run := allowPath(t)
	if n := testing.AllocsPerRun(500, func() {
		run()
		tg.out.reset()
	}); n > 15 {
		t.Errorf("%v allocations per allowed request, want <= 15", n)
	}
}

// allowPath serves a gateway in front of a fasthttp upstream on loopback
// and returns a function that drives one allowed search through Handle,
// reading the streamed answer to its end. It has run once (the slow hash).
func allowPath(tb testing.TB) (*testGateway, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
		ctx.SetBodyString(`{"took":1,"hits":{"total":{"value":0}}}`)
	}}
	go up.Serve(ln)
	tb.Cleanup(func() { _ = up.Shutdown() })
	tg := newTestGateway(tb, "http://"+ln.Addr().String())

	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/data/_search?q=x")
	req.Header.Set("Authorization", "Basic cmVhZGVyOnJlYWRlci1wdw==") // reader:reader-pw
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, nil)
	run := func() {
		ctx.Response.Reset()
		req.CopyTo(&ctx.Request)
		tg.g.Handle(&ctx)
		if ctx.Response.StatusCode() != 200 {
			tb.Fatalf("status %d: %s", ctx.Response.StatusCode(), ctx.Response.Body())
		}
		if s := ctx.Response.BodyStream(); s != nil {
			// Read to the end, as the server does when it writes the
			// answer: a stream closed unread closes the upstream
			// connection, and every request would dial a new one.
			if _, err := io.Copy(io.Discard, s); err != nil {
				tb.Fatal(err)
			}
			ctx.Response.CloseBodyStream()
		}
	}
	run() // the slow hash, once
	tg.out.reset()
	return tg, run
}

// BenchmarkBasicCacheHit is the authentication of a Basic credential
// verified before: the Authorization header parsed and decoded, the keyed
// digest of user and password, the sharded cache checked against the
// account's current incarnation and password epoch. The slow hash runs once,
// before the timer.
func BenchmarkBasicCacheHit(b *testing.B) {
	tg := newTestGateway(b, "http://127.0.0.1:1") // nothing is proxied
	var req fasthttp.Request
	req.Header.SetMethod("GET")
	req.SetRequestURI("/data/_search")
	req.Header.Set("Authorization", "Basic cmVhZGVyOnJlYWRlci1wdw==") // reader:reader-pw
	var ctx fasthttp.RequestCtx
	ctx.Init(&req, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}, nil)
	r := &request{method: "GET", path: "/data/_search", requestID: "bench", sourceIP: "127.0.0.1"}
	now := time.Now()
	if p, fail := tg.g.authenticate(&ctx, now, r); fail != nil || p.name != "reader" {
		b.Fatalf("authenticate = %+v, %+v", p, fail)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, fail := tg.g.authenticate(&ctx, now, r); fail != nil {
			b.Fatal(fail.reason)
		}
	}
}
