package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/internal/jsonstr"
	"github.com/portcullis/portcullis/policy"
)

// Items of multi-item requests fail alone, as in Elasticsearch.
//
// Elasticsearch authorizes _bulk, _msearch and _mget in steps
// (AuthorizationService, es-security-protocol.md §1.1): the top-level
// action (indices:data/write/bulk, indices:data/read/msearch,
// indices:data/read/mget) by its name alone, a privilege granting it on any
// index being enough; then each sub-request on its own indices: each bulk
// shard request (indices:data/write/bulk[s]) and in it each item's implied
// action (indices:data/write/index:op_type/index or /create,
// indices:data/write/update, indices:data/write/delete); each search of an
// _msearch (indices:data/read/search); each shard request of an _mget
// (indices:data/read/mget[shard]). A refusal of the top-level action
// refuses the request (403); a refusal of a sub-request fails the items
// concerned, which come back at their place in a 200 answer as
// security_exception failures, the others being executed.
//
// The gateway does the same. When the policy grants the whole request (a
// superuser, roles covering every item, a path constraint whose body
// indices are all granted too), it is forwarded as it came. Otherwise each
// item is decided alone: the allowed ones are forwarded (the body
// decompressed, Content-Encoding dropped; _bulk and _msearch lines byte for
// byte, _mget docs as they were written), and the refused ones are put back
// into Elasticsearch's answer at their place, rendered as Elasticsearch
// renders them; every item refused, the gateway answers itself without
// calling Elasticsearch.
//
// Differences with Elasticsearch, all from the gateway seeing names where
// Elasticsearch resolves them: a refused item names the index as it was
// sent (Elasticsearch names the concrete index an alias or date math
// resolves to, and answers index_not_found_exception for an _mget doc of
// an index that does not exist); a refused _bulk item without _id shows
// null (Elasticsearch shows the id it generated). A refusal by a deny rule
// of the policy refuses the whole request. When items are refused,
// filter_path is not forwarded, so the answer carries every field (a
// superset of what was asked for: the filter would not know the refused
// items apart), and Accept-Encoding is not forwarded, so the answer comes
// uncompressed. Items of a body passed as ?source= are not decided alone:
// such a request is allowed or refused whole.

// maxItemsResponse bounds the Elasticsearch answer the gateway reads whole
// to merge refused items into it.
const maxItemsResponse = 256 << 20

// multiAPI is what differs between the multi-item APIs.
type multiAPI struct {
	// shard is the action authorized on each item's index before the
	// item's own ("" for none).
	shard string
	// shape is the answer's.
	shape responseShape
	// cut reads the items of a body (decompressed) that Classify accepted.
	cut func(plain []byte, res classify.Result) (multiBody, error)
}

// multiAPIs are the APIs whose items fail alone, by classify API name.
var multiAPIs = map[string]*multiAPI{
	"bulk":             {shard: bulkShardAction, shape: bulkShape, cut: cutBulk},
	"msearch":          {shape: msearchShape, cut: cutMsearch},
	"msearch_template": {shape: msearchShape, cut: cutMsearch},
	"mget":             {shape: mgetShape, cut: cutMget},
}

// itemized reports whether res is a request whose items are decided alone.
func itemized(res classify.Result, plain []byte) *multiAPI {
	m := multiAPIs[res.API]
	if m == nil || res.Deny != "" || len(res.Targets) == 0 || len(plain) == 0 {
		return nil
	}
	for _, t := range res.Targets {
		if t.Kind != classify.KindItem {
			return nil
		}
	}
	return m
}

// multiBody is the body of a multi-item request, cut into items.
type multiBody interface {
	// count is the number of items.
	count() int
	// invalid is Elasticsearch's validation failure of the request
	// ("Validation Failed: 1: …;"), "" when it is valid. Elasticsearch
	// validates before it authorizes.
	invalid() string
	// forward is the body with the items not refused.
	forward(refused map[int]*itemRefusal) []byte
	// render is item i's entry in the answer, refused.
	render(i int, rf *itemRefusal) []byte
}

// itemRefusal is a refused item.
type itemRefusal struct {
	item    int
	action  string   // the action refused
	indices []string // the indices it was refused on
	reason  string   // Elasticsearch's reason
	status  int      // 403, or 401 for the anonymous user without authz_exception
	d       policy.Decision
}

// verdict is the decision on one (action, index) of an item.
type verdict struct {
	refused bool
	action  string
	d       policy.Decision
}

// items authorizes a multi-item request item by item, forwards the allowed
// items and answers with the refused ones merged in. in is the whole
// request's input; body is the body as sent, plain decompressed.
func (g *Gateway) items(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res classify.Result, m *multiAPI, in *policy.Input, body, plain []byte) {
	subjects := []policy.User{in.User}
	if p.keyRoles != nil {
		ku := in.User
		ku.Roles = p.keyRoles
		subjects = append(subjects, ku)
	}
	refused := make(map[int]*itemRefusal)
	var last policy.Decision
	for _, u := range subjects {
		uin := *in
		uin.User = u
		d := g.decide(ctx, r, &uin)
		last = d
		switch {
		case d.Allow && strings.HasPrefix(d.Rule, "constraint:"):
			// The path is granted; the indices the items name must be
			// too, as if each were sent to /<index>/<endpoint>.
			if !g.constraintItems(ctx, r, p, u, res, m, refused) {
				return
			}
		case d.Allow:
		case d.Rule == "deny" || !g.cfg.Policy.GrantsOnSomeIndex(u.Roles, res.Action):
			// A deny rule, or no privilege granting the action anywhere:
			// the request is refused by its name, as Elasticsearch does.
			o := p.outcome(r)
			o.ESAction, o.PolicyRevision, o.Rule, o.Reason = res.Action, d.Revision, d.Rule, d.Reason
			indices := ""
			if d.Rule == "deny" {
				indices = targetIndices(in.Request.Targets)
			}
			g.refuse(ctx, now, r, p, o, &uin, d, res.Action, indices)
			return
		default:
			g.roleItems(ctx, r, p, u, res, m, refused)
		}
	}

	o := p.outcome(r)
	o.ESAction, o.PolicyRevision, o.Rule, o.Reason = res.Action, last.Revision, last.Rule, last.Reason
	o.Action, o.Outcome = events.ActionAccessGranted, "success"
	var mb multiBody
	if len(refused) > 0 {
		var err error
		mb, err = m.cut(plain, res)
		switch {
		case err != nil:
			// What Elasticsearch would refuse whole.
			writeError(ctx, badRequest(err.Error()))
			return
		case mb.count() != itemCount(res):
			// Classify accepted the body: the cut cannot disagree.
			g.cfg.Logger.ErrorContext(ctx, "items_mismatch", "request_id", r.requestID, "items", mb.count(), "targets", itemCount(res))
			writeError(ctx, errInternal)
			return
		}
		if msg := mb.invalid(); msg != "" {
			writeError(ctx, &clientError{status: fasthttp.StatusBadRequest, typ: "action_request_validation_exception", reason: msg})
			return
		}
		o.Reason = strconv.Itoa(len(refused)) + " of " + strconv.Itoa(mb.count()) + " items refused"
	}
	if err := g.emit(now, o); err != nil {
		g.cfg.Logger.WarnContext(ctx, "outcome_not_recorded", "request_id", r.requestID, "error", err)
		writeError(ctx, errOverloaded)
		return
	}
	if len(refused) == 0 {
		r.body = body
		g.proxy(ctx, r)
		return
	}

	rendered := make([]renderedItem, 0, len(refused))
	for i := range mb.count() {
		if rf, ok := refused[i]; ok {
			rendered = append(rendered, renderedItem{pos: i, json: mb.render(i, rf)})
			g.recordItemRefusal(ctx, now, r, p, rf)
		}
	}
	if len(rendered) == mb.count() {
		out, err := mergeResponse(nil, m.shape, mb.count(), rendered)
		if err != nil {
			g.cfg.Logger.ErrorContext(ctx, "items_merge_failed", "request_id", r.requestID, "error", err)
			writeError(ctx, errInternal)
			return
		}
		ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
		writeJSON(ctx, fasthttp.StatusOK, out)
		return
	}
	g.forwardItems(ctx, r, mb.forward(refused), m.shape, mb.count(), rendered)
}

// itemCount is the number of items res's targets describe.
func itemCount(res classify.Result) int {
	n := 0
	for _, t := range res.Targets {
		n = max(n, t.Item+1)
	}
	return n
}

// roleItems decides each item with u's role privileges, as Elasticsearch
// decides each sub-request: the shard action (bulk[s]) on the item's index
// if the API has one, then each action of the item on each of its indices.
// An item is refused on the first action refused, naming every index of
// that target it was refused on.
func (g *Gateway) roleItems(ctx *fasthttp.RequestCtx, r *request, p *principal, u policy.User, res classify.Result, m *multiAPI, refused map[int]*itemRefusal) {
	type key struct{ action, index string }
	seen := make(map[key]verdict)
	decide := func(action, index string) verdict {
		k := key{action, index}
		if v, ok := seen[k]; ok {
			return v
		}
		var idx []string
		if index != "" {
			idx = []string{index}
		}
		d := g.decide(ctx, r, &policy.Input{User: u, Request: policy.Request{
			Method: r.method, Path: r.path, Kind: policy.KindContent, Action: action, RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query,
			Targets: []policy.Target{{Action: action, Indices: idx}},
		}})
		v := verdict{refused: !d.Allow, action: action, d: d}
		seen[k] = v
		return v
	}
	for _, t := range res.Targets {
		if _, ok := refused[t.Item]; ok {
			continue
		}
		indices := t.Indices
		if len(indices) == 0 {
			indices = []string{""}
		}
		var first verdict
		var denied []string
		for _, index := range indices {
			v := verdict{}
			if m.shard != "" {
				v = decide(m.shard, index)
			}
			if !v.refused {
				v = decide(t.Action, index)
			}
			if !v.refused || first.refused && v.action != first.action {
				continue
			}
			first = v
			if index != "" {
				denied = append(denied, index)
			}
		}
		if first.refused {
			g.addRefusal(refused, p, t.Item, first.action, denied, first.d)
		}
	}
}

// constraintItems checks, for a request a path constraint granted, each
// index an item names: it is allowed when the same method on
// /<index>/<endpoint> would be (checkBodyConstraints, item by item). An
// index name that is not a valid path segment refuses the request (400).
func (g *Gateway) constraintItems(ctx *fasthttp.RequestCtx, r *request, p *principal, u policy.User, res classify.Result, m *multiAPI, refused map[int]*itemRefusal) bool {
	endpoint := endpointOf(r.path)
	seen := make(map[string]policy.Decision)
	for _, t := range res.Targets {
		if !t.FromBody {
			continue // the path's indices, granted with the path
		}
		if _, ok := refused[t.Item]; ok {
			continue
		}
		indices := t.Indices
		if len(indices) == 0 {
			indices = []string{"_all"}
		}
		var denied []string
		var first policy.Decision
		for _, index := range indices {
			d, ok := seen[index]
			if !ok {
				path, err := canon.Path([]byte("/" + url.PathEscape(index) + endpoint))
				if err != nil {
					writeError(ctx, badRequest("invalid index name in the request body"))
					return false
				}
				d = g.decide(ctx, r, &policy.Input{User: u, Request: policy.Request{
					Method: r.method, Path: path, Kind: policy.KindContent, Action: t.Action, RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query,
				}})
				seen[index] = d
			}
			if !d.Allow {
				if len(denied) == 0 {
					first = d
				}
				denied = append(denied, index)
			}
		}
		if len(denied) > 0 {
			action := t.Action
			if m.shard != "" {
				action = m.shard
			}
			g.addRefusal(refused, p, t.Item, action, denied, first)
		}
	}
	return true
}

// addRefusal notes item as refused, unless it already is (by the other
// side of an API key's intersection).
func (g *Gateway) addRefusal(refused map[int]*itemRefusal, p *principal, item int, action string, indices []string, d policy.Decision) {
	if _, ok := refused[item]; ok {
		return
	}
	rf := &itemRefusal{item: item, action: action, indices: indices, status: fasthttp.StatusForbidden, d: d}
	if p.anonymous && !g.cfg.Anonymous.AuthzException {
		// Elasticsearch's authenticationRequired, item by item.
		rf.status = fasthttp.StatusUnauthorized
		rf.reason = "action [" + action + "] requires authentication"
	} else {
		rf.reason = unauthorized(p, action, strings.Join(indices, ",")) + g.grantedBy(action)
	}
	refused[item] = rf
}

// recordItemRefusal records a refused item as access denied.
func (g *Gateway) recordItemRefusal(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, rf *itemRefusal) {
	o := p.outcome(r)
	o.Action, o.Outcome, o.Status = events.ActionAccessDenied, "failure", rf.status
	if p.anonymous {
		o.Action = events.ActionAnonymousAccessDenied
	}
	o.ESAction, o.Indices = rf.action, rf.indices
	o.PolicyRevision, o.Rule = rf.d.Revision, rf.d.Rule
	o.Reason = "item " + strconv.Itoa(rf.item) + ": " + rf.reason
	g.record(ctx, now, r, o)
}

// renderedItem is a refused item's entry in the answer.
type renderedItem struct {
	pos  int
	json []byte
}

// appendSecurityError appends the security_exception of rf as
// Elasticsearch renders an exception: with its root causes when detailed
// (generateFailureXContent), without when not (generateThrowableXContent,
// a bulk item's "error"). A 401 carries the WWW-Authenticate challenges.
func appendSecurityError(b []byte, rf *itemRefusal, detailed bool) []byte {
	cause := func(b []byte) []byte {
		b = append(b, `"type":"security_exception","reason":`...)
		b = jsonstr.AppendJackson(b, rf.reason)
		if rf.status == fasthttp.StatusUnauthorized {
			b = append(b, `,"header":`...)
			b = append(b, wwwAuthenticateJSON...)
		}
		return b
	}
	b = append(b, '{')
	if detailed {
		b = append(b, `"root_cause":[{`...)
		b = cause(b)
		b = append(b, "}],"...)
	}
	b = cause(b)
	return append(b, '}')
}

// responseShape is the shape of a multi-item API's answer.
type responseShape struct {
	// array is the member holding one entry per item.
	array string
	// errors: the answer's "errors" member becomes true (bulk).
	errors bool
	// empty is the answer up to the array's '[' when the gateway answers
	// alone.
	empty string
}

var (
	bulkShape    = responseShape{array: "items", errors: true, empty: `{"errors":true,"took":0,"items":[`}
	msearchShape = responseShape{array: "responses", empty: `{"took":0,"responses":[`}
	mgetShape    = responseShape{array: "docs", empty: `{"docs":[`}
)

// mergeResponse puts refused items back at their places (pos, in
// increasing order) in upstream, Elasticsearch's answer to the other items
// of a request of total items: an object whose member shape.array holds
// one entry per forwarded item. Its other members are kept as they are, in
// their order; the entries Elasticsearch returned are copied byte for
// byte; for bulk, "errors" becomes true. A nil upstream (nothing was
// forwarded) gives shape.empty, the refused items and "]}".
//
// An upstream that is not such an object, or whose entries are not as
// many as were forwarded, is an error: they could not be matched to the
// request's items.
func mergeResponse(upstream []byte, shape responseShape, total int, refused []renderedItem) ([]byte, error) {
	size := 32
	for i, rf := range refused {
		if rf.pos < 0 || rf.pos >= total || i > 0 && rf.pos <= refused[i-1].pos {
			return nil, fmt.Errorf("merge response: refused item position %d out of order", rf.pos)
		}
		size += len(rf.json) + 1
	}
	if upstream == nil {
		if len(refused) != total {
			return nil, fmt.Errorf("merge response: %d items refused of %d, and no response", len(refused), total)
		}
		out := make([]byte, 0, size+len(shape.empty))
		out = append(out, shape.empty...)
		for i, rf := range refused {
			if i > 0 {
				out = append(out, ',')
			}
			out = append(out, rf.json...)
		}
		return append(out, "]}"...), nil
	}

	dec := json.NewDecoder(bytes.NewReader(upstream))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("merge response: not a JSON object")
	}
	out := make([]byte, 0, len(upstream)+size)
	out = append(out, '{')
	sawErrors, sawArray := !shape.errors, false
	for first := true; dec.More(); first = false {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("merge response: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("merge response: malformed object")
		}
		if !first {
			out = append(out, ',')
		}
		out = jsonstr.AppendJackson(out, key)
		out = append(out, ':')
		switch {
		case key == shape.array:
			if sawArray {
				return nil, fmt.Errorf("merge response: duplicate %s", key)
			}
			sawArray = true
			if out, err = mergeEntries(dec, out, total, refused); err != nil {
				return nil, err
			}
		case shape.errors && key == "errors":
			if sawErrors {
				return nil, errors.New("merge response: duplicate errors")
			}
			sawErrors = true
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("merge response: errors: %w", err)
			}
			out = append(out, "true"...)
		default:
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("merge response: %s: %w", key, err)
			}
			out = append(out, v...)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("merge response: malformed object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("merge response: data after the object")
	}
	if !sawErrors || !sawArray {
		return nil, fmt.Errorf("merge response: no %s", shape.array)
	}
	return append(out, '}'), nil
}

// mergeEntries copies the array dec is at into out, with refused inserted
// at their positions.
func mergeEntries(dec *json.Decoder, out []byte, total int, refused []renderedItem) ([]byte, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, errors.New("merge response: entries are not an array")
	}
	out = append(out, '[')
	next := 0 // the next refused item to place
	for pos := 0; pos < total; pos++ {
		if pos > 0 {
			out = append(out, ',')
		}
		if next < len(refused) && refused[next].pos == pos {
			out = append(out, refused[next].json...)
			next++
			continue
		}
		if !dec.More() {
			return nil, fmt.Errorf("merge response: %d entries, %d forwarded", pos-next, total-len(refused))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("merge response: entry: %w", err)
		}
		out = append(out, v...)
	}
	if dec.More() {
		return nil, fmt.Errorf("merge response: more entries than the %d forwarded", total-len(refused))
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, errors.New("merge response: malformed entries")
	}
	return append(out, ']'), nil
}

// forwardItems sends the allowed items, and answers Elasticsearch's
// response with the refused items merged in. An answer that is not a 200
// (the request refused whole: 400, 413, 429 …) is passed on as it is.
func (g *Gateway) forwardItems(ctx *fasthttp.RequestCtx, r *request, forward []byte, shape responseShape, total int, refused []renderedItem) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	fr := *r
	// filter_path could drop what the merge needs. Classify parsed the
	// query already: it is well-formed.
	if rest, _, found, err := canon.TakeParam(r.query, "filter_path"); err == nil && found {
		fr.query = rest
	}
	g.upstreamRequest(ctx, &fr, req)
	// The body is forwarded decompressed; the answer must come so too.
	req.Header.Del("Content-Encoding")
	req.Header.Del("Accept-Encoding")
	req.SetBodyRaw(forward)
	req.Header.SetContentLength(len(forward))

	resp := fasthttp.AcquireResponse()
	defer func() {
		_ = resp.CloseBodyStream()
		fasthttp.ReleaseResponse(resp)
	}()
	if err := g.roundTrip(req, resp, false); err != nil {
		g.cfg.Logger.WarnContext(ctx, "upstream_failed", "request_id", r.requestID, "error", err)
		writeError(ctx, errBadGateway)
		return
	}
	raw, err := readUpstreamBody(resp)
	if err != nil {
		g.cfg.Logger.WarnContext(ctx, "upstream_failed", "request_id", r.requestID, "error", err)
		writeError(ctx, errBadGateway)
		return
	}
	out := raw
	if resp.StatusCode() == fasthttp.StatusOK {
		if out, err = mergeResponse(raw, shape, total, refused); err != nil {
			g.cfg.Logger.WarnContext(ctx, "items_merge_failed", "request_id", r.requestID, "error", err)
			writeError(ctx, errBadGateway)
			return
		}
	}
	resp.Header.CopyTo(&ctx.Response.Header)
	for _, h := range hopHeaders[:len(hopHeaders)-1] {
		ctx.Response.Header.Del(h)
	}
	ctx.Response.Header.Del("Content-Encoding")
	ctx.Response.SetBody(out)
}

// readUpstreamBody reads a response whole (at most maxItemsResponse bytes),
// gunzipped if Elasticsearch compressed it.
func readUpstreamBody(resp *fasthttp.Response) ([]byte, error) {
	var src io.Reader = bytes.NewReader(resp.Body())
	if s := resp.BodyStream(); s != nil {
		src = s
	}
	body, err := readLimit(src)
	if err != nil {
		return nil, err
	}
	switch enc := strings.ToLower(strings.TrimSpace(string(resp.Header.Peek("Content-Encoding")))); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("read response: %w", err)
		}
		return readLimit(zr)
	default:
		return nil, fmt.Errorf("read response: unsupported Content-Encoding %q", enc)
	}
}

func readLimit(src io.Reader) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(src, maxItemsResponse+1))
	if err == nil && len(body) > maxItemsResponse {
		err = errors.New("too large to merge")
	}
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	return body, nil
}
