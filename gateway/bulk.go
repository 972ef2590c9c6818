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
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/policy"
)

// Bulk items fail alone, as in Elasticsearch.
//
// Elasticsearch authorizes a _bulk request in three steps
// (AuthorizationService, es-security-protocol.md §1.1): the top-level
// action indices:data/write/bulk by its name alone (a privilege granting
// it on any index will do); then each shard request,
// indices:data/write/bulk[s], on the shard's index; then each item's
// implied action (indices:data/write/index:op_type/index or /create,
// indices:data/write/update, indices:data/write/delete) on its index. A
// refusal at the first step refuses the request (403); at the other two it
// aborts the items concerned, which come back at their place in a 200
// response as a 403 item, the others being executed.
//
// The gateway does the same. When the policy grants the whole request (a
// superuser, roles covering every item, a path constraint whose body
// indices are all granted too), it is forwarded as it came. Otherwise each
// item is decided alone: the allowed ones are forwarded, their lines byte
// for byte (the body decompressed, Content-Encoding dropped), and the
// refused ones are put back into Elasticsearch's answer where they were,
// as Elasticsearch renders an aborted item; every item refused, the
// gateway answers itself without calling Elasticsearch.
//
// Differences with Elasticsearch, all from the gateway seeing names where
// Elasticsearch resolves them: a refused item's _index is the name it was
// sent with (Elasticsearch names the concrete index an alias or date math
// resolves to), and its _id is null when it had none (Elasticsearch shows
// the id it generated). A refusal by a deny rule of the policy refuses the
// whole request. When items are refused, filter_path is not forwarded, so
// the answer carries every field (a superset of what was asked for: the
// filter would not know the refused items apart), and Accept-Encoding is
// not forwarded, so the answer comes uncompressed.

// bulkShardAction is the action Elasticsearch authorizes on each shard's
// index before the items' own actions.
const bulkShardAction = "indices:data/write/bulk[s]"

// maxBulkResponse bounds the Elasticsearch answer the gateway reads whole
// to merge refused items into it.
const maxBulkResponse = 256 << 20

// bulkRefusal is a refused bulk item.
type bulkRefusal struct {
	item   int    // position in the request
	action string // the action refused
	index  string // the index it was refused on
	reason string // Elasticsearch's reason
	status int    // 403, or 401 for the anonymous user without authz_exception
	d      policy.Decision
}

// bulkItemOutcome is a bulk item's verdict for one subject, cached per
// (action, index): items repeat a few.
type bulkVerdict struct {
	refused bool
	action  string
	d       policy.Decision
}

// bulk authorizes and forwards a _bulk request item by item. in is the
// whole request's input; body is the body as sent, plain decompressed.
func (g *Gateway) bulk(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res classify.Result, in *policy.Input, body, plain []byte) {
	subjects := []policy.User{in.User}
	if p.keyRoles != nil {
		ku := in.User
		ku.Roles = p.keyRoles
		subjects = append(subjects, ku)
	}
	refused := make(map[int]*bulkRefusal)
	var last policy.Decision
	for _, u := range subjects {
		uin := *in
		uin.User = u
		d := g.decide(ctx, r, &uin)
		last = d
		switch {
		case d.Allow && strings.HasPrefix(d.Rule, "constraint:"):
			// The path is granted; the indices the items name must be
			// too, as if each item were sent to /<index>/_bulk.
			if !g.bulkConstraintItems(ctx, r, p, u, res, refused) {
				return
			}
		case d.Allow:
		case d.Rule == "deny" || !g.cfg.Policy.GrantsOnSomeIndex(u.Roles, res.Action):
			// A deny rule, or no privilege granting bulk anywhere: the
			// request is refused by its name, as Elasticsearch does.
			o := p.outcome(r)
			o.ESAction, o.PolicyRevision, o.Rule, o.Reason = res.Action, d.Revision, d.Rule, d.Reason
			indices := ""
			if d.Rule == "deny" {
				indices = targetIndices(in.Request.Targets)
			}
			g.refuse(ctx, now, r, p, o, &uin, d, res.Action, indices)
			return
		default:
			g.bulkRoleItems(ctx, r, p, u, res, refused)
		}
	}

	o := p.outcome(r)
	o.ESAction, o.PolicyRevision, o.Rule, o.Reason = res.Action, last.Revision, last.Rule, last.Reason
	o.Action, o.Outcome = events.ActionAccessGranted, "success"
	if len(refused) > 0 {
		o.Reason = strconv.Itoa(len(refused)) + " of " + strconv.Itoa(len(res.Targets)) + " bulk items refused"
	}
	if err := g.cfg.Outcomes.Emit(now, o); err != nil {
		g.cfg.Logger.WarnContext(ctx, "outcome_not_recorded", "request_id", r.requestID, "error", err)
		writeError(ctx, errOverloaded)
		return
	}
	if len(refused) == 0 {
		r.body = body
		g.proxy(ctx, r)
		return
	}

	items, err := classify.BulkItems(plain)
	if err != nil || len(items) != len(res.Targets) {
		// Classify accepted the body: BulkItems cannot disagree.
		g.cfg.Logger.ErrorContext(ctx, "bulk_items_mismatch", "request_id", r.requestID, "items", len(items), "targets", len(res.Targets), "error", err)
		writeError(ctx, errInternal)
		return
	}
	if msg := missingIndices(res); msg != "" {
		// Elasticsearch validates the request before authorizing it.
		writeError(ctx, &clientError{status: fasthttp.StatusBadRequest, typ: "action_request_validation_exception", reason: msg})
		return
	}
	refusedItems := make([]renderedItem, 0, len(refused))
	forward := make([]byte, 0, len(plain))
	for i, it := range items {
		rf, ok := refused[i]
		if !ok {
			forward = append(forward, plain[it.Start:it.End]...)
			continue
		}
		refusedItems = append(refusedItems, renderedItem{pos: i, json: bulkRefusalItem(it, rf.index, rf.status, rf.reason)})
		g.recordItemRefusal(ctx, now, r, p, rf)
	}
	if len(forward) == 0 {
		out, err := mergeBulkResponse(nil, len(items), refusedItems)
		if err != nil {
			g.cfg.Logger.ErrorContext(ctx, "bulk_merge_failed", "request_id", r.requestID, "error", err)
			writeError(ctx, errInternal)
			return
		}
		ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
		writeJSON(ctx, fasthttp.StatusOK, out)
		return
	}
	g.forwardBulk(ctx, r, forward, len(items), refusedItems)
}

// bulkRoleItems decides each item with u's role privileges, as
// Elasticsearch does at the shard level: bulk[s] on the item's index, then
// the item's implied action on it.
func (g *Gateway) bulkRoleItems(ctx *fasthttp.RequestCtx, r *request, p *principal, u policy.User, res classify.Result, refused map[int]*bulkRefusal) {
	type key struct{ action, index string }
	seen := make(map[key]bulkVerdict)
	decide := func(action, index string) policy.Decision {
		var idx []string
		if index != "" {
			idx = []string{index}
		}
		return g.decide(ctx, r, &policy.Input{User: u, Request: policy.Request{
			Method: r.method, Path: r.path, Kind: policy.KindContent, Action: action, RequestID: r.requestID, SourceIP: r.sourceIP,
			Targets: []policy.Target{{Action: action, Indices: idx}},
		}})
	}
	for _, t := range res.Targets {
		index := ""
		if len(t.Indices) > 0 {
			index = t.Indices[0]
		}
		k := key{t.Action, index}
		v, ok := seen[k]
		if !ok {
			if d := decide(bulkShardAction, index); !d.Allow {
				v = bulkVerdict{refused: true, action: bulkShardAction, d: d}
			} else if d := decide(t.Action, index); !d.Allow {
				v = bulkVerdict{refused: true, action: t.Action, d: d}
			}
			seen[k] = v
		}
		if v.refused {
			g.addRefusal(refused, p, t.Item, v.action, index, v.d)
		}
	}
}

// bulkConstraintItems checks, for a request a path constraint granted,
// each item that names its own index: it is allowed when the same method
// on /<index>/_bulk would be (checkBodyConstraints, item by item). An
// index name that is not a valid path segment refuses the request (400).
func (g *Gateway) bulkConstraintItems(ctx *fasthttp.RequestCtx, r *request, p *principal, u policy.User, res classify.Result, refused map[int]*bulkRefusal) bool {
	endpoint := endpointOf(r.path)
	seen := make(map[string]policy.Decision)
	for _, t := range res.Targets {
		if !t.FromBody {
			continue // the path's index, granted with the path
		}
		index := "_all"
		if len(t.Indices) > 0 {
			index = t.Indices[0]
		}
		d, ok := seen[index]
		if !ok {
			path, err := canon.Path([]byte("/" + url.PathEscape(index) + endpoint))
			if err != nil {
				writeError(ctx, badRequest("invalid index name in the request body"))
				return false
			}
			d = g.decide(ctx, r, &policy.Input{User: u, Request: policy.Request{
				Method: r.method, Path: path, Kind: policy.KindContent, Action: t.Action, RequestID: r.requestID, SourceIP: r.sourceIP,
			}})
			seen[index] = d
		}
		if !d.Allow {
			g.addRefusal(refused, p, t.Item, bulkShardAction, index, d)
		}
	}
	return true
}

// addRefusal notes item as refused, unless it already is (by the other
// side of an API key's intersection).
func (g *Gateway) addRefusal(refused map[int]*bulkRefusal, p *principal, item int, action, index string, d policy.Decision) {
	if _, ok := refused[item]; ok {
		return
	}
	rf := &bulkRefusal{item: item, action: action, index: index, status: fasthttp.StatusForbidden, d: d}
	if p.anonymous && !g.cfg.Anonymous.AuthzException {
		// Elasticsearch's authenticationRequired, item by item.
		rf.status = fasthttp.StatusUnauthorized
		rf.reason = "action [" + action + "] requires authentication"
	} else {
		rf.reason = unauthorized(p, action, index) + g.grantedBy(action)
	}
	refused[item] = rf
}

// recordItemRefusal records a refused item as access denied.
func (g *Gateway) recordItemRefusal(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, rf *bulkRefusal) {
	o := p.outcome(r)
	o.Action, o.Outcome, o.Status = events.ActionAccessDenied, "failure", rf.status
	if p.anonymous {
		o.Action = events.ActionAnonymousAccessDenied
	}
	o.ESAction, o.Indices = rf.action, []string{rf.index}
	o.PolicyRevision, o.Rule = rf.d.Revision, rf.d.Rule
	o.Reason = "bulk item " + strconv.Itoa(rf.item) + ": " + rf.reason
	g.record(ctx, now, r, o)
}

// missingIndices is Elasticsearch's validation failure for items with no
// index (none in the action line, none in the path), "" when every item
// has one.
func missingIndices(res classify.Result) string {
	var b strings.Builder
	n := 0
	for _, t := range res.Targets {
		if len(t.Indices) == 0 {
			n++
			if n == 1 {
				b.WriteString("Validation Failed: ")
			}
			b.WriteString(strconv.Itoa(n) + ": index is missing;")
		}
	}
	return b.String()
}

// renderedItem is a refused item's entry of the bulk response.
type renderedItem struct {
	pos  int
	json []byte
}

// bulkRefusalItem renders a refused item as Elasticsearch renders an
// aborted one (BulkItemResponse with a Failure):
// {"<op>":{"_index":…,"_id":…,"status":403,"error":{"type":"security_exception","reason":…}}}.
func bulkRefusalItem(it classify.BulkItem, index string, status int, reason string) []byte {
	b := make([]byte, 0, 160+len(reason))
	b = append(b, `{"`...)
	b = append(b, it.Op...)
	b = append(b, `":{"_index":`...)
	b = appendJSONString(b, index)
	b = append(b, `,"_id":`...)
	if it.HasID {
		b = appendJSONString(b, it.ID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, `,"error":{"type":"security_exception","reason":`...)
	b = appendJSONString(b, reason)
	return append(b, "}}}"...)
}

// appendJSONString appends s as a JSON string the way Elasticsearch's
// Jackson writes one: '"' and '\' escaped, control characters as \b \t \n
// \f \r or \u00XX, everything else (non-ASCII included) as is. Invalid
// UTF-8 becomes U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+n]...)
			}
			i += n
			continue
		}
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\b':
			b = append(b, '\\', 'b')
		case '\t':
			b = append(b, '\\', 't')
		case '\n':
			b = append(b, '\\', 'n')
		case '\f':
			b = append(b, '\\', 'f')
		case '\r':
			b = append(b, '\\', 'r')
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return append(b, '"')
}

// forwardBulk sends the allowed items, and answers Elasticsearch's
// response with the refused items merged in. An answer that is not a bulk
// response (the request refused whole: 400, 413, 429 …) is passed on as
// it is.
func (g *Gateway) forwardBulk(ctx *fasthttp.RequestCtx, r *request, forward []byte, total int, refused []renderedItem) {
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
		if out, err = mergeBulkResponse(raw, total, refused); err != nil {
			g.cfg.Logger.WarnContext(ctx, "bulk_merge_failed", "request_id", r.requestID, "error", err)
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

// mergeBulkResponse puts refused items back at their places (pos, in
// increasing order) in upstream, Elasticsearch's answer to the other items
// of a bulk request of total items: {"errors":…,"took":…,"items":[…]},
// possibly with more members, which are kept as they are, in their order.
// "errors" becomes true; the items Elasticsearch returned are copied byte
// for byte. A nil upstream (nothing was forwarded) gives
// {"errors":true,"took":0,"items":[…]}.
//
// An upstream that is not such an object, or whose items are not as many
// as were forwarded, is an error: the items could not be matched to the
// request's.
func mergeBulkResponse(upstream []byte, total int, refused []renderedItem) ([]byte, error) {
	size := 32
	for i, rf := range refused {
		if rf.pos < 0 || rf.pos >= total || i > 0 && rf.pos <= refused[i-1].pos {
			return nil, fmt.Errorf("merge bulk response: refused item position %d out of order", rf.pos)
		}
		size += len(rf.json) + 1
	}
	if upstream == nil {
		if len(refused) != total {
			return nil, fmt.Errorf("merge bulk response: %d items refused of %d, and no response", len(refused), total)
		}
		out := make([]byte, 0, size)
		out = append(out, `{"errors":true,"took":0,"items":[`...)
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
		return nil, errors.New("merge bulk response: not a JSON object")
	}
	out := make([]byte, 0, len(upstream)+size)
	out = append(out, '{')
	var sawErrors, sawItems bool
	for first := true; dec.More(); first = false {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("merge bulk response: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errors.New("merge bulk response: malformed object")
		}
		if !first {
			out = append(out, ',')
		}
		out = appendJSONString(out, key)
		out = append(out, ':')
		switch key {
		case "errors":
			var v json.RawMessage
			if sawErrors {
				return nil, errors.New("merge bulk response: duplicate errors")
			}
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("merge bulk response: errors: %w", err)
			}
			sawErrors = true
			out = append(out, "true"...)
		case "items":
			if sawItems {
				return nil, errors.New("merge bulk response: duplicate items")
			}
			sawItems = true
			if out, err = mergeItems(dec, out, total, refused); err != nil {
				return nil, err
			}
		default:
			var v json.RawMessage
			if err := dec.Decode(&v); err != nil {
				return nil, fmt.Errorf("merge bulk response: %s: %w", key, err)
			}
			out = append(out, v...)
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, errors.New("merge bulk response: malformed object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("merge bulk response: data after the object")
	}
	if !sawErrors || !sawItems {
		return nil, errors.New("merge bulk response: no errors or items")
	}
	return append(out, '}'), nil
}

// mergeItems copies the items array dec is at into out, with refused
// inserted at their positions.
func mergeItems(dec *json.Decoder, out []byte, total int, refused []renderedItem) ([]byte, error) {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, errors.New("merge bulk response: items is not an array")
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
			return nil, fmt.Errorf("merge bulk response: %d items, %d forwarded", pos-next, total-len(refused))
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("merge bulk response: item: %w", err)
		}
		out = append(out, v...)
	}
	if dec.More() {
		return nil, fmt.Errorf("merge bulk response: more items than the %d forwarded", total-len(refused))
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, errors.New("merge bulk response: malformed items")
	}
	return append(out, ']'), nil
}

// readUpstreamBody reads a response whole (at most maxBulkResponse bytes),
// gunzipped if Elasticsearch compressed it.
func readUpstreamBody(resp *fasthttp.Response) ([]byte, error) {
	var src io.Reader = bytes.NewReader(resp.Body())
	if s := resp.BodyStream(); s != nil {
		src = s
	}
	body, err := io.ReadAll(io.LimitReader(src, maxBulkResponse+1))
	if err == nil && len(body) > maxBulkResponse {
		err = errors.New("bulk response too large to merge")
	}
	if err != nil {
		return nil, fmt.Errorf("read bulk response: %w", err)
	}
	switch enc := strings.ToLower(strings.TrimSpace(string(resp.Header.Peek("Content-Encoding")))); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("read bulk response: %w", err)
		}
		plain, err := io.ReadAll(io.LimitReader(zr, maxBulkResponse+1))
		if err == nil && len(plain) > maxBulkResponse {
			err = errors.New("bulk response too large to merge")
		}
		if err != nil {
			return nil, fmt.Errorf("read bulk response: %w", err)
		}
		return plain, nil
	default:
		return nil, fmt.Errorf("read bulk response: unsupported Content-Encoding %q", enc)
	}
}
