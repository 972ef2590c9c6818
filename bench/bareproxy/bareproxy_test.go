package bareproxy

import (
	"context"
	"net"
	"testing"

	"github.com/valyala/fasthttp"
)

// TestForwards checks that the proxy sends the request as it came (method,
// URI, headers, body) and answers with the upstream's answer, and that an
// unreachable upstream is a 502.
func TestForwards(t *testing.T) {
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type seen struct{ method, uri, auth, body string }
	got := make(chan seen, 1)
	up := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		got <- seen{string(ctx.Method()), string(ctx.RequestURI()), string(ctx.Request.Header.Peek("Authorization")), string(ctx.PostBody())}
		ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
		ctx.SetStatusCode(201)
		ctx.SetBodyString(`{"ok":true}`)
	}}
	go up.Serve(upLn) //nolint:errcheck // ends with Shutdown
	defer up.Shutdown()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New(upLn.Addr().String(), 4).Serve(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	var req fasthttp.Request
	var resp fasthttp.Response
	req.Header.SetMethod("POST")
	req.SetRequestURI("http://" + ln.Addr().String() + "/logs-1/_search?size=1")
	req.Header.Set("Authorization", "Basic eDp5")
	req.SetBodyString(`{"query":{"match_all":{}}}`)
	if err := fasthttp.Do(&req, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != 201 || string(resp.Body()) != `{"ok":true}` || string(resp.Header.Peek("X-Elastic-Product")) != "Elasticsearch" {
		t.Errorf("answer %d %q %q", resp.StatusCode(), resp.Body(), resp.Header.Peek("X-Elastic-Product"))
	}
	want := seen{"POST", "/logs-1/_search?size=1", "Basic eDp5", `{"query":{"match_all":{}}}`}
	if s := <-got; s != want {
		t.Errorf("upstream saw %+v, want %+v", s, want)
	}

	// An upstream that is gone.
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	var rctx fasthttp.RequestCtx
	rctx.Request.SetRequestURI("/x")
	New(addr, 1).Handle(&rctx)
	if rctx.Response.StatusCode() != fasthttp.StatusBadGateway {
		t.Errorf("unreachable upstream: status %d", rctx.Response.StatusCode())
	}
}
