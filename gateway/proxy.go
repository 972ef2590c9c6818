package gateway

import (
	"bytes"
	"errors"
	"io"
	"net"

	"github.com/valyala/fasthttp"
)

// hopHeaders are connection-scoped and never forwarded (RFC 9110 §7.6.1),
// plus the credentials the gateway consumed.
var hopHeaders = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Proxy-Authenticate",
	"TE", "Trailer", "Upgrade", "Authorization",
}

// proxy forwards the request to an Elasticsearch node with the canonical
// path the policy checked, and streams the answer back.
func (g *Gateway) proxy(ctx *fasthttp.RequestCtx, r *request) {
	g.forward(ctx, r, nil)
}

// answerHook sees an upstream answer before the client does (the search
// context binding, contexts.go).
type answerHook interface {
	// prepare adjusts the upstream request.
	prepare(req *fasthttp.Request)
	// answered runs once Elasticsearch answered: it may read the start of
	// the body (returned as prefix, still to be sent) and returns false
	// when it answered the client itself.
	answered(ctx *fasthttp.RequestCtx, resp *fasthttp.Response) (prefix []byte, ok bool)
}

// forward sends r upstream and streams the answer back; hook, when given,
// sees the answer first.
func (g *Gateway) forward(ctx *fasthttp.RequestCtx, r *request, hook answerHook) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	g.upstreamRequest(ctx, r, req)
	hasBody := g.upstreamBody(ctx, r, req)
	if hook != nil {
		hook.prepare(req)
	}

	resp := fasthttp.AcquireResponse()
	err := g.roundTrip(req, resp, !hasBody)
	if err != nil {
		fasthttp.ReleaseResponse(resp)
		g.cfg.Logger.WarnContext(ctx, "upstream_failed", "request_id", r.requestID, "error", err)
		writeError(ctx, errBadGateway)
		return
	}
	var prefix []byte
	if hook != nil {
		var ok bool
		if prefix, ok = hook.answered(ctx, resp); !ok {
			_ = resp.CloseBodyStream()
			fasthttp.ReleaseResponse(resp)
			return
		}
	}
	resp.Header.CopyTo(&ctx.Response.Header)
	for _, h := range hopHeaders[:len(hopHeaders)-1] {
		ctx.Response.Header.Del(h)
	}
	if r.method == fasthttp.MethodHead {
		ctx.Response.SkipBody = true
		ctx.Response.Header.SetContentLength(resp.Header.ContentLength())
		_ = resp.CloseBodyStream()
		fasthttp.ReleaseResponse(resp)
		return
	}
	if s := resp.BodyStream(); s != nil {
		var body io.Reader = s
		if len(prefix) > 0 {
			body = io.MultiReader(bytes.NewReader(prefix), s)
		}
		ctx.Response.SetBodyStream(&upstreamBody{resp: resp, r: body}, resp.Header.ContentLength())
		return
	}
	ctx.Response.SetBody(resp.Body())
	fasthttp.ReleaseResponse(resp)
}

// upstreamRequest fills req with the headers and URI of what goes to
// Elasticsearch for r: the client's headers less the hop-by-hop ones and
// the credentials the gateway consumed, the canonical path and query,
// X-Forwarded-For and X-Opaque-Id. The body is upstreamBody's, or the
// caller's.
func (g *Gateway) upstreamRequest(ctx *fasthttp.RequestCtx, r *request, req *fasthttp.Request) {
	ctx.Request.Header.CopyTo(&req.Header)
	// Headers the client named in Connection are hop-by-hop too.
	for name := range bytes.SplitSeq(ctx.Request.Header.Peek("Connection"), []byte(",")) {
		if name = bytes.TrimSpace(name); len(name) > 0 {
			req.Header.DelBytes(name)
		}
	}
	for _, h := range hopHeaders {
		req.Header.Del(h)
	}
	req.Header.DelCookie("eaid")
	if len(req.Header.Peek("Cookie")) == 0 {
		req.Header.Del("Cookie")
	}
	if r.rewritten {
		// The gateway wrote the body: plain JSON, whatever the client sent.
		req.Header.SetMethod(r.method)
		req.Header.Del("Content-Encoding")
		req.Header.SetContentType("application/json")
	}
	uri := make([]byte, 0, len(r.path)+1+len(r.query))
	uri = append(uri, r.path...)
	if len(r.query) > 0 {
		uri = append(uri, '?')
		uri = append(uri, r.query...)
	}
	req.Header.SetRequestURIBytes(uri)
	if xff := ctx.Request.Header.Peek("X-Forwarded-For"); len(xff) > 0 {
		req.Header.Set("X-Forwarded-For", string(xff)+", "+r.sourceIP)
	} else {
		req.Header.Set("X-Forwarded-For", r.sourceIP)
	}
	req.Header.Set("X-Opaque-Id", r.requestID)
}

// upstreamBody sets req's body: the one the gateway read or wrote for r,
// else the client's, streamed. It reports whether there is one.
func (g *Gateway) upstreamBody(ctx *fasthttp.RequestCtx, r *request, req *fasthttp.Request) bool {
	hasBody := ctx.Request.Header.ContentLength() != 0
	if r.body != nil {
		req.SetBodyRaw(r.body)
		req.Header.SetContentLength(len(r.body))
		hasBody = len(r.body) > 0
	} else if hasBody {
		if s := ctx.RequestBodyStream(); s != nil {
			req.SetBodyStream(s, ctx.Request.Header.ContentLength())
		} else {
			req.SetBodyRaw(ctx.Request.Body())
		}
	}
	return hasBody
}

// roundTrip sends req to the next upstream in turn. A request without a
// body that could not be delivered (connection refused, reset before any
// answer) is tried once on each other node; one with a body is not, since a
// stream cannot be replayed.
func (g *Gateway) roundTrip(req *fasthttp.Request, resp *fasthttp.Response, retryable bool) error {
	n := len(g.upstreams)
	start := g.next.Add(1)
	attempts := n
	if retryable && attempts < 2 {
		// One node: a kept-alive connection the node closed is tried again
		// on a fresh one.
		attempts = 2
	}
	var err error
	for i := 0; i < attempts; i++ {
		hc := g.upstreams[(start+uint64(i))%uint64(n)]
		req.Header.SetHost(hc.Addr)
		err = hc.Do(req, resp)
		if err == nil {
			return nil
		}
		if !retryable || !deliveryFailed(err) {
			break
		}
	}
	return errors.Join(errBadGateway, err)
}

// deliveryFailed reports whether err means the node never got the request.
func deliveryFailed(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, fasthttp.ErrConnectionClosed) || errors.Is(err, fasthttp.ErrNoFreeConns)
}

// upstreamBody streams an upstream response body to the client and
// releases the upstream response when fasthttp closes it.
type upstreamBody struct {
	resp *fasthttp.Response
	r    io.Reader
}

func (b *upstreamBody) Read(p []byte) (int, error) { return b.r.Read(p) }

func (b *upstreamBody) Close() error {
	err := b.resp.CloseBodyStream()
	fasthttp.ReleaseResponse(b.resp)
	return err
}
