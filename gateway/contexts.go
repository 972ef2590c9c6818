package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/gateway/searchctx"
	"github.com/portcullis/portcullis/projector"
)

// Search context binding.
//
// Elasticsearch with security on lets only the creator of a scroll or an
// async search (EQL, SQL, ES|QL) continue, read or delete it. Behind the
// gateway it sees one identity, so the gateway does it: the id an answer
// carries is bound to the user who asked (its SHA-256, in a
// portcullis.context.opened.v1 event), and a request presenting an id is
// refused unless the id is bound to the same user, with the answer
// Elasticsearch gives for a context that does not exist. Point-in-time ids
// are bound too, a departure: Elasticsearch re-authorizes the indices a
// PIT covers instead, which the gateway cannot do without trusting the
// id's content.
//
// Why events and not ids signed by the gateway: replicas already share
// their state through the log, read-your-writes is there (the replica that
// binds waits for its own event; another one that does not know an id
// catches up before refusing it), ids reach clients unchanged (Kibana and
// the clients log, compare and pass them), and no key has to be shared.
// The cost is one JetStream append per context opened, none per use
// (renewals aside), and memory bounded by the projector's limits.

// Keep-alives Elasticsearch assumes when a request names none.
const (
	defaultScrollKeepAlive = 5 * time.Minute    // search.default_keep_alive
	defaultAsyncKeepAlive  = 5 * 24 * time.Hour // async search, EQL, SQL, ES|QL
	contextSlack           = 5 * time.Minute    // a binding outlives its context by at least this
	maxAnswerPrefix        = 64 << 10           // bytes of an answer read to find its id
	bindTimeout            = 10 * time.Second   // bound on publishing a binding
)

// contextOwner is who p is for a search context, as Elasticsearch compares
// creators (events.ContextOwner): an API key alone; a user by name and
// realm, the realm's type for native and file, type and name otherwise; a
// login token as its native user.
func (p *principal) contextOwner() events.ContextOwner {
	switch {
	case p.apiKeyID != "":
		return events.ContextOwner{Username: p.name, RealmType: realmAPIKey, APIKeyID: p.apiKeyID}
	case p.anonymous:
		return events.ContextOwner{Username: p.name, RealmType: realmAnonymous, RealmName: realmAnonymous}
	case p.realm == realmNative || p.realm == realmToken:
		return events.ContextOwner{Username: p.name, RealmType: "native"}
	case p.realm == realmFile:
		return events.ContextOwner{Username: p.name, RealmType: "file"}
	case p.realm == realmLDAP:
		return events.ContextOwner{Username: p.name, RealmType: "ldap", RealmName: realmLDAP}
	}
	return events.ContextOwner{Username: p.name, RealmType: p.realm, RealmName: p.realm}
}

// contextKind is the binding kind of a classified context.
func contextKind(k classify.ContextKind) string {
	switch k {
	case classify.ContextScroll:
		return events.ContextScroll
	case classify.ContextPIT:
		return events.ContextPIT
	case classify.ContextAsync:
		return events.ContextAsync
	}
	return ""
}

// APIs of the async results, by what they do with the id.
var (
	asyncStatusAPIs = map[string]bool{"async_search.status": true, "eql.get_status": true, "sql.get_async_status": true}
	asyncGetAPIs    = map[string]bool{"async_search.get": true, "eql.get": true, "sql.get_async": true, "esql.async_query_get": true}
	asyncDeleteAPIs = map[string]bool{"async_search.delete": true, "eql.delete": true, "sql.delete_async": true, "esql.async_query_delete": true}
)

// keepAlive is the keep-alive a request asks for, or Elasticsearch's
// default for the kind, held within what a binding may last: half the
// TOKENS stream's retention, so that a binding renewed at its half-life
// never outlives the events that replay it.
func (g *Gateway) keepAlive(res *classify.Result, kind string) time.Duration {
	k, ok := searchctx.ParseKeepAlive(res.KeepAlive)
	if !ok {
		k = defaultScrollKeepAlive
		if kind == events.ContextAsync {
			k = defaultAsyncKeepAlive
		}
	}
	return min(k, g.cfg.TokenTTL/2)
}

// bindingTTL is how long a binding for a context kept alive k lasts.
func (g *Gateway) bindingTTL(k time.Duration) time.Duration {
	return min(2*k+contextSlack, g.cfg.TokenTTL)
}

// ownerStatus serves the status of an async result to its owner, whom
// Elasticsearch lets read it without the monitor privilege the status
// action otherwise needs. It reports whether it answered.
func (g *Gateway) ownerStatus(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res *classify.Result) bool {
	if !asyncStatusAPIs[res.API] || len(res.ContextIDs) != 1 {
		return false
	}
	b, _, ok := g.contextBinding(ctx, now, res.ContextIDs[0], new(bool))
	if !ok || b.Kind != events.ContextAsync || b.Owner != p.contextOwner() {
		return false
	}
	o := p.outcome(r)
	o.Action, o.Outcome, o.ESAction, o.Rule = events.ActionAccessGranted, "success", res.Action, "context_owner"
	o.PolicyRevision = g.cfg.Policy.Revision()
	if err := g.emit(now, o); err != nil {
		g.cfg.Logger.WarnContext(ctx, "outcome_not_recorded", "request_id", r.requestID, "error", err)
		writeError(ctx, errOverloaded)
		return true
	}
	g.proxy(ctx, r)
	return true
}

// pitTargets authorizes a search with a point in time on the PIT's
// indices, as Elasticsearch does (it re-authorizes them on every search):
// the PIT must be the caller's, and then its id, which Elasticsearch gave
// the caller, is trusted to name them. The search's own target names no
// index (Elasticsearch refuses indices beside a PIT); it takes the PIT's.
// Only for the single-search APIs: an _msearch item is not tied to its
// PIT here, so it keeps "all indices". It reports false when it answered.
func (g *Gateway) pitTargets(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res *classify.Result) bool {
	if res.Context != classify.ContextPIT || len(res.ContextIDs) == 0 || (res.API != "search" && res.API != "async_search.submit") {
		return true
	}
	owner := p.contextOwner()
	caughtUp := false
	var indices []string
	for _, id := range res.ContextIDs {
		b, _, ok := g.contextBinding(ctx, now, id, &caughtUp)
		if !ok || b.Owner != owner || b.Kind != events.ContextPIT {
			g.refuseContext(ctx, now, r, p, res, id, ok)
			return false
		}
		shards, err := searchctx.ParsePIT(id)
		if err != nil {
			// Bound, so Elasticsearch made it: a format this gateway does
			// not know.
			g.refuseContext(ctx, now, r, p, res, id, true)
			return false
		}
		for _, s := range shards {
			if n := s.Name(); !slices.Contains(indices, n) {
				indices = append(indices, n)
			}
		}
	}
	for i := range res.Targets {
		if t := &res.Targets[i]; !t.FromBody && t.Kind == classify.KindIndex && len(t.Indices) == 0 {
			t.Indices = indices
		}
	}
	return true
}

// contextBinding looks up the binding of id. An id unknown here may have
// been bound on another replica a moment ago: the projection catches up to
// the TOKENS stream once per request (caughtUp) before the id counts as
// unknown.
func (g *Gateway) contextBinding(ctx context.Context, now time.Time, id string, caughtUp *bool) (*projector.Context, [32]byte, bool) {
	h := sha256.Sum256([]byte(id))
	m := g.cfg.Projection.Model()
	b, ok := m.Context(h, now)
	if !ok && !*caughtUp {
		*caughtUp = true
		if err := g.cfg.Projection.WaitForLatest(ctx, events.StreamTokens); err == nil {
			b, ok = m.Context(h, now)
		}
	}
	return b, h, ok
}

// contextRequest serves an authorized request that uses or creates a
// search context: the ids it presents must be the caller's, the id its
// answer carries is bound to the caller, and the ids it deletes are
// unbound.
func (g *Gateway) contextRequest(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res *classify.Result) {
	owner := p.contextOwner()
	kind := contextKind(res.Context)
	hook := &contextHook{g: g, r: r, owner: owner, now: now}
	if kind != "" && len(res.ContextIDs) > 0 && !asyncStatusAPIs[res.API] {
		// (A status the policy allowed is the monitor privilege's, which
		// sees every async result, as in Elasticsearch.)
		caughtUp := false
		var owned []string
		for i, id := range res.ContextIDs {
			if slices.Contains(res.ContextIDs[:i], id) {
				continue // the same id in the path and the body
			}
			b, _, ok := g.contextBinding(ctx, now, id, &caughtUp)
			if ok && b.Owner == owner && b.Kind == kind {
				owned = append(owned, id)
				hook.used = append(hook.used, b)
				continue
			}
			if res.API == "clear_scroll" {
				continue // the others' ids are left out, below
			}
			g.refuseContext(ctx, now, r, p, res, id, ok)
			return
		}
		switch {
		case res.API == "clear_scroll" && len(owned) == 0:
			g.refuseContext(ctx, now, r, p, res, res.ContextIDs[0], false)
			return
		case res.API == "clear_scroll" && len(owned) < distinct(res.ContextIDs):
			if err := limitClearScroll(r, owned); err != nil {
				writeError(ctx, err)
				return
			}
		}
		switch {
		case res.API == "clear_scroll" || res.API == "close_point_in_time" || asyncDeleteAPIs[res.API]:
			hook.closes = owned
		case res.API == "scroll" || res.Context == classify.ContextPIT || asyncGetAPIs[res.API]:
			g.renew(ctx, now, hook.used, owner, g.keepAlive(res, kind))
		}
	}
	switch {
	case res.Creates != classify.ContextNone:
		hook.kind = contextKind(res.Creates)
		hook.key = "id"
		if res.Creates == classify.ContextScroll {
			hook.key = "_scroll_id"
		}
		hook.keepAlive = g.keepAlive(res, hook.kind)
	case res.API == "scroll":
		// A scroll's answer carries its id again, which may change.
		hook.kind, hook.key, hook.keepAlive = events.ContextScroll, "_scroll_id", g.keepAlive(res, events.ContextScroll)
	case res.Context == classify.ContextPIT && res.API == "search":
		// So does a search with a PIT, as pit_id.
		hook.kind, hook.key, hook.keepAlive = events.ContextPIT, "pit_id", g.keepAlive(res, events.ContextPIT)
	}
	if hook.key == "" && len(hook.closes) == 0 {
		g.proxy(ctx, r)
		return
	}
	g.forward(ctx, r, hook)
}

// distinct counts the different strings of ids.
func distinct(ids []string) int {
	n := 0
	for i, id := range ids {
		if !slices.Contains(ids[:i], id) {
			n++
		}
	}
	return n
}

// refuseContext answers a request presenting an id that is not the
// caller's (bound to another user, or to nobody) as Elasticsearch answers
// for a context that does not exist, and records access_denied.
func (g *Gateway) refuseContext(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res *classify.Result, id string, bound bool) {
	status, body := fasthttp.StatusNotFound, []byte(nil)
	switch {
	case res.API == "clear_scroll":
		body = searchctx.NoScrollFreed
	case res.API == "close_point_in_time":
		body = searchctx.NoPITFreed
	case res.Context == classify.ContextScroll:
		if cs, err := searchctx.ParseScroll(id); err != nil {
			status, body = fasthttp.StatusBadRequest, searchctx.UnparsableScroll(searchctx.IsTruncated(err))
		} else {
			body = searchctx.MissingScroll(cs)
		}
	case res.Context == classify.ContextPIT:
		if ss, err := searchctx.ParsePIT(id); err != nil {
			status, body = fasthttp.StatusBadRequest, searchctx.UnparsablePIT(id)
		} else {
			body = searchctx.MissingPIT(ss)
		}
	default:
		body = searchctx.MissingAsync(id)
	}
	o := p.outcome(r)
	o.Action, o.Outcome, o.Status, o.ESAction = events.ActionAccessDenied, "failure", status, res.Action
	o.Reason = "the " + contextKind(res.Context) + " id is not bound to the user"
	if bound {
		o.Reason = "the " + contextKind(res.Context) + " id belongs to another user"
	}
	g.record(ctx, now, r, o)
	ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
	writeJSON(ctx, status, body)
}

// limitClearScroll rewrites a clear scroll to the caller's ids alone, as
// Elasticsearch frees only the contexts a user may use.
func limitClearScroll(r *request, owned []string) error {
	body, err := json.Marshal(map[string][]string{"scroll_id": owned})
	if err != nil {
		return fmt.Errorf("encode clear scroll: %w", err)
	}
	q := r.query
	for _, name := range []string{"scroll_id", "source", "source_content_type"} {
		if q, _, _, err = canon.TakeParam(q, name); err != nil {
			return badRequest(err.Error())
		}
	}
	r.method, r.path, r.query, r.body, r.rewritten = fasthttp.MethodDelete, "/_search/scroll", q, body, true
	return nil
}

// renew extends the bindings of the ids a request uses when they would
// not outlive the keep-alive it asks for. The binding stands meanwhile, so
// the event is not waited for, and a failure only logs.
func (g *Gateway) renew(ctx context.Context, now time.Time, used []*projector.Context, owner events.ContextOwner, k time.Duration) {
	for _, b := range used {
		if !b.ExpiresAt.Before(now.Add(k + contextSlack)) {
			continue
		}
		if _, err := g.publishBinding(ctx, now, b.Hash, b.Kind, owner, now.Add(g.bindingTTL(k))); err != nil {
			g.cfg.Logger.WarnContext(ctx, "context_not_renewed", "kind", b.Kind, "error", err)
		}
	}
}

// publishBinding appends the opened event of a binding and returns its
// sequence on the TOKENS stream.
func (g *Gateway) publishBinding(ctx context.Context, now time.Time, h [32]byte, kind string, owner events.ContextOwner, expires time.Time) (uint64, error) {
	hexSum := hex.EncodeToString(h[:])
	ev, err := events.New(g.cfg.NodeID, events.TypeContextOpened, hexSum, now, events.ContextOpened{
		IDHash: hexSum, Kind: kind, Owner: owner, Time: now.UTC(), ExpiresAt: expires.UTC()})
	if err != nil {
		return 0, err
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bindTimeout)
	defer cancel()
	return g.cfg.Log.Append(wctx, events.TokensSubject(ev.Type), ev, nil)
}

// bind binds id to owner before its answer reaches the client, so that
// the client can use it at once through any replica: this replica waits
// for its own event, the others catch up when they meet the id. An id
// bound already to owner is renewed if need be; bound to anybody else (it
// never is: Elasticsearch makes a new id per context) it is an error.
func (g *Gateway) bind(ctx context.Context, now time.Time, id, kind string, owner events.ContextOwner, k time.Duration) error {
	h := sha256.Sum256([]byte(id))
	m := g.cfg.Projection.Model()
	if b, ok := m.Context(h, now); ok {
		if b.Owner != owner || b.Kind != kind {
			return fmt.Errorf("bind %s id: %w", kind, errContextTaken)
		}
		g.renew(ctx, now, []*projector.Context{b}, owner, k)
		return nil
	}
	seq, err := g.publishBinding(ctx, now, h, kind, owner, now.Add(g.bindingTTL(k)))
	if err != nil {
		return fmt.Errorf("bind %s id: %w", kind, err)
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bindTimeout)
	defer cancel()
	if err := g.cfg.Projection.WaitFor(wctx, events.StreamTokens, seq); err != nil {
		return fmt.Errorf("bind %s id: wait for projection: %w", kind, err)
	}
	if b, ok := m.Context(h, now); !ok || b.Owner != owner {
		// The projector refused it: too many bindings.
		return fmt.Errorf("bind %s id: %w", kind, projector.ErrContextLimit)
	}
	return nil
}

var errContextTaken = errors.New("context id bound to another user")

// unbind drops the bindings of the ids a request deleted. The contexts are
// gone either way: a failure only logs, and the bindings expire.
func (g *Gateway) unbind(ctx context.Context, now time.Time, ids []string, owner events.ContextOwner) {
	for _, id := range ids {
		h := sha256.Sum256([]byte(id))
		hexSum := hex.EncodeToString(h[:])
		ev, err := events.New(g.cfg.NodeID, events.TypeContextClosed, hexSum, now, events.ContextClosed{IDHash: hexSum, Owner: owner})
		if err == nil {
			wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), bindTimeout)
			_, err = g.cfg.Log.Append(wctx, events.TokensSubject(ev.Type), ev, nil)
			cancel()
		}
		if err != nil {
			g.cfg.Logger.WarnContext(ctx, "context_not_unbound", "error", err)
		}
	}
}

// contextHook binds the id an answer carries, and unbinds deleted ids.
type contextHook struct {
	g     *Gateway
	r     *request
	owner events.ContextOwner
	now   time.Time
	// used are the bindings of the ids the request presented.
	used []*projector.Context
	// kind, key: the binding kind of the id the answer carries in its
	// top-level member key; "" when it carries none to bind.
	kind, key string
	keepAlive time.Duration
	// closes are ids the request deletes.
	closes []string
}

// asyncIDHeaders carry the id of an ES|QL (and a SQL text-format) async
// answer.
var asyncIDHeaders = []string{"X-Elasticsearch-Async-Id", "Async-ID"}

func (h *contextHook) prepare(req *fasthttp.Request) {
	if h.key != "" {
		// The id is read from the answer: no compression.
		req.Header.Del("Accept-Encoding")
	}
}

func (h *contextHook) answered(ctx *fasthttp.RequestCtx, resp *fasthttp.Response) ([]byte, bool) {
	g := h.g
	if len(h.closes) > 0 && resp.StatusCode() < 500 {
		g.unbind(ctx, h.now, h.closes, h.owner)
	}
	if h.key == "" || resp.StatusCode() != fasthttp.StatusOK || h.r.method == fasthttp.MethodHead {
		return nil, true
	}
	id := ""
	if h.kind == events.ContextAsync {
		for _, name := range asyncIDHeaders {
			if v := resp.Header.Peek(name); len(v) > 0 {
				id = string(v)
				break
			}
		}
	}
	var prefix []byte
	if id == "" {
		var err error
		if prefix, id, err = readAnswerID(resp, h.key); err != nil {
			g.cfg.Logger.WarnContext(ctx, "upstream_failed", "request_id", h.r.requestID, "error", err)
			writeError(ctx, errBadGateway)
			return nil, false
		}
	}
	if id == "" {
		// No id (a search that completed, an answer not in JSON): nothing
		// to bind, and an id the gateway did not see is nobody's.
		return prefix, true
	}
	sum := sha256.Sum256([]byte(id))
	for _, b := range h.used {
		if b.Hash == sum {
			// The id the request presented, renewed already if need be.
			return prefix, true
		}
	}
	if err := g.bind(ctx, h.now, id, h.kind, h.owner, h.keepAlive); err != nil {
		g.cfg.Logger.ErrorContext(ctx, "context_not_bound", "request_id", h.r.requestID, "kind", h.kind, "error", err)
		g.freeContext(ctx, h.kind, id)
		writeError(ctx, errOverloaded)
		return nil, false
	}
	return prefix, true
}

// readAnswerID reads the start of an answer until the top-level member key
// is found, the answer shows it has none, or maxAnswerPrefix bytes were
// read. prefix is what was read from a streamed body (to send on first);
// nil when the body was read whole.
func readAnswerID(resp *fasthttp.Response, key string) (prefix []byte, id string, err error) {
	s := resp.BodyStream()
	if s == nil {
		v, scan := searchctx.FindString(resp.Body(), key)
		if scan != searchctx.Found {
			v = ""
		}
		return nil, v, nil
	}
	buf := make([]byte, 0, 4096)
	for len(buf) < maxAnswerPrefix {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, rerr := s.Read(buf[len(buf):min(cap(buf), maxAnswerPrefix)])
		buf = buf[:len(buf)+n]
		v, scan := searchctx.FindString(buf, key)
		switch {
		case scan == searchctx.Found:
			return buf, v, nil
		case scan == searchctx.Absent, errors.Is(rerr, io.EOF):
			return buf, "", nil
		case rerr != nil:
			return buf, "", fmt.Errorf("read answer: %w", rerr)
		}
	}
	return buf, "", nil
}

// freeContext asks Elasticsearch to free a context the gateway could not
// bind, best effort: unbound, nobody may use it anyway, but it holds
// resources until its keep-alive ends.
func (g *Gateway) freeContext(ctx context.Context, kind, id string) {
	req := fasthttp.AcquireRequest()
	defer fasthttp.ReleaseRequest(req)
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseResponse(resp)
	req.Header.SetMethod(fasthttp.MethodDelete)
	req.Header.SetContentType("application/json")
	switch kind {
	case events.ContextScroll:
		req.SetRequestURI("/_search/scroll")
		b, _ := json.Marshal(map[string][]string{"scroll_id": {id}})
		req.SetBody(b)
	case events.ContextPIT:
		req.SetRequestURI("/_pit")
		b, _ := json.Marshal(map[string]string{"id": id})
		req.SetBody(b)
	default:
		req.SetRequestURI("/_async_search/" + url.PathEscape(id))
	}
	if err := g.roundTrip(req, resp, false); err != nil {
		g.cfg.Logger.WarnContext(ctx, "context_not_freed", "kind", kind, "error", err)
		return
	}
	_ = resp.CloseBodyStream()
}
