package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/policy"
)

// maxClassifiedBody bounds a body the gateway must read to authorize
// (_bulk, _msearch, _mget, _search …): Elasticsearch's own default
// http.max_content_length.
const maxClassifiedBody = 100 << 20

// readClassifiedBody reads a body the classifier must see: body is what
// the client sent (and the proxy forwards), plain the same decompressed.
// It answers and returns ok false on a body it cannot read.
func (g *Gateway) readClassifiedBody(ctx *fasthttp.RequestCtx) (body, plain []byte, ok bool) {
	body, err := readBodyLimit(ctx, maxClassifiedBody)
	if err != nil {
		writeError(ctx, err)
		return nil, nil, false
	}
	plain = body
	switch enc := strings.ToLower(string(bytes.TrimSpace(ctx.Request.Header.Peek("Content-Encoding")))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			plain, err = io.ReadAll(io.LimitReader(zr, maxClassifiedBody+1))
		}
		if err != nil || len(plain) > maxClassifiedBody {
			writeError(ctx, badRequest("cannot decompress the gzip request body"))
			return nil, nil, false
		}
	default:
		writeError(ctx, badRequest("unsupported Content-Encoding ["+enc+"]"))
		return nil, nil, false
	}
	return body, plain, true
}

// checkBodyConstraints checks, for a request a constraint granted by its
// path, the indices its body names (a _bulk item's _index, an _msearch
// header, an _mget doc, a terms lookup …), which the path did not show.
// Each is authorized as the same method on /<index>/<endpoint> — what the
// request would be had it named the index in its path — so that a
// constraint on /data cannot reach /secret through a body.
func (g *Gateway) checkBodyConstraints(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, user policy.User, res classify.Result) bool {
	endpoint := endpointOf(r.path)
	checked := map[string]bool{}
	for _, t := range res.Targets {
		if !t.FromBody {
			continue
		}
		indices := t.Indices
		if len(indices) == 0 {
			indices = []string{"_all"}
		}
		for _, idx := range indices {
			path, err := canon.Path([]byte("/" + url.PathEscape(idx) + endpoint))
			if err != nil {
				writeError(ctx, badRequest("invalid index name in the request body"))
				return false
			}
			if checked[path] {
				continue
			}
			checked[path] = true
			in := &policy.Input{
				User:    user,
				Request: policy.Request{Method: r.method, Path: path, Kind: policy.KindContent, Action: t.Action, RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query},
			}
			d, err := g.cfg.Policy.Decide(context.Background(), in) // as decide: not cancelled by a shutdown
			if err != nil || !d.Allow {
				reason := "the policy could not be evaluated"
				if err == nil {
					reason = d.Reason
				}
				g.denyExtra(ctx, now, r, p, t.Action, []string{idx}, "on indices ["+idx+"] named in the request body: "+reason)
				return false
			}
		}
	}
	return true
}

// denyExtra answers 403 for a request the policy allowed but a further
// check refused, and records the denial.
func (g *Gateway) denyExtra(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, action string, indices []string, why string) {
	o := p.outcome(r)
	o.Action, o.Outcome, o.Status = events.ActionAccessDenied, "failure", fasthttp.StatusForbidden
	o.ESAction, o.Indices, o.Reason = action, indices, why
	g.record(ctx, now, r, o)
	writeForbidden(ctx, "action ["+action+"] is unauthorized for user ["+p.name+"] with effective roles ["+joinRoles(p.roles)+"] "+why)
}

// endpointOf is the API part of a canonical path: from its first segment
// that starts with "_" (other than "_all"), e.g. "/_bulk" for "/data/_bulk",
// "/_search/template" for "/_search/template".
func endpointOf(path string) string {
	rest := path
	for len(rest) > 1 {
		seg, tail, _ := strings.Cut(rest[1:], "/")
		if strings.HasPrefix(seg, "_") && seg != "_all" {
			return rest
		}
		if tail == "" {
			return ""
		}
		rest = "/" + tail
	}
	return ""
}
