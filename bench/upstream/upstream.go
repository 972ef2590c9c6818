// Package upstream is the stand-in Elasticsearch of the load harness
// (bench/load): a fasthttp server that answers every request as a node
// answers a small _search, with the product header clients check. It does
// no work per request beyond writing that answer, so that what the harness
// measures in front of it is the cost of the proxy, not of the upstream.
package upstream

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// SearchBody is the answer to every request: a _search with one hit, about
// the size of a small dashboard query's answer.
const SearchBody = `{"took":1,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},` +
	`"hits":{"total":{"value":1,"relation":"eq"},"max_score":1.0,"hits":[{"_index":"bench-logs","_id":"1","_score":1.0,` +
	`"_source":{"@timestamp":"2026-11-23T12:00:00Z","message":"GET /index.html 200","host":{"name":"web-1"},"bytes":1234}}]}}`

// Handler answers every request with SearchBody.
func Handler(ctx *fasthttp.RequestCtx) {
	ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
	ctx.SetContentType("application/json")
	ctx.SetBodyString(SearchBody)
}

// Serve answers on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener) error {
	return ServeHandler(ctx, ln, "bench-upstream", Handler)
}

// ServeHandler serves h on ln as the bench's servers do (name, timeouts,
// no default Server header) until ctx ends, then shuts down cleanly.
func ServeHandler(ctx context.Context, ln net.Listener, name string, h fasthttp.RequestHandler) error {
	s := &fasthttp.Server{
		Handler:               h,
		Name:                  name,
		NoDefaultServerHeader: true,
		ReadTimeout:           time.Minute,
		IdleTimeout:           time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s serve: %w", name, err)
	case <-ctx.Done():
	}
	if err := s.ShutdownWithContext(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("%s shutdown: %w", name, err)
	}
	<-errc
	return nil
}
