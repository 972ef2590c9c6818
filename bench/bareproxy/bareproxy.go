// Package bareproxy is the floor of the load harness (bench/load): a
// fasthttp reverse proxy that forwards each request to one upstream over a
// kept-alive fasthttp.HostClient and copies the answer back, and does
// nothing else: no authentication, no parsing beyond fasthttp's own, no
// logging. Portcullis's throughput is compared with it.
package bareproxy

import (
	"context"
	"net"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/bench/upstream"
)

// Proxy forwards every request to one upstream.
type Proxy struct {
	hc *fasthttp.HostClient
}

// New returns a Proxy to the upstream at addr (host:port), with at most
// maxConns connections to it (0: fasthttp's default).
func New(addr string, maxConns int) *Proxy {
	return &Proxy{hc: &fasthttp.HostClient{
		Addr:                     addr,
		MaxConns:                 maxConns,
		NoDefaultUserAgentHeader: true,
		ReadTimeout:              time.Minute,
		WriteTimeout:             time.Minute,
	}}
}

// Handle forwards the request as it came and answers with the upstream's
// answer (502 when the upstream could not be reached). Only the
// connection-scoped header goes, as fasthttp's own proxy example does.
func (p *Proxy) Handle(ctx *fasthttp.RequestCtx) {
	ctx.Request.Header.Del("Connection")
	if err := p.hc.Do(&ctx.Request, &ctx.Response); err != nil {
		ctx.Response.Reset()
		ctx.Error("bad gateway: "+err.Error(), fasthttp.StatusBadGateway)
		return
	}
	ctx.Response.Header.Del("Connection")
}

// Serve proxies the requests of ln until ctx ends.
func (p *Proxy) Serve(ctx context.Context, ln net.Listener) error {
	return upstream.ServeHandler(ctx, ln, "bench-bareproxy", p.Handle)
}
