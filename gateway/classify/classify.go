package classify

import (
	"bytes"
	"strings"
	"sync"

	"github.com/portcullis/portcullis/gateway/canon"
)

// Request is what the classifier reads. It is copied out of the HTTP
// request by the caller; Classify keeps no reference to it after returning
// except through strings it copied.
type Request struct {
	// Method is the HTTP method, upper-case.
	Method string
	// Path is the canonical path, from canon.Path.
	Path string
	// Query is the raw query string, without '?'.
	Query []byte
	// Body is the request body, already decompressed.
	Body []byte
	// ContentType is the Content-Type header ("" when absent).
	ContentType string
}

// Kind says what the names of a [Target] are.
type Kind uint8

const (
	// KindIndex: the names the action reads or writes (indices, aliases,
	// data streams), from the path or the body.
	KindIndex Kind = iota
	// KindItem: like KindIndex, for one item of a multi-item request
	// (bulk item, msearch search, mget/mtv doc), which fails alone.
	KindItem
	// KindAlias: alias names being added or removed; Elasticsearch also
	// applies the subset rule to added aliases.
	KindAlias
	// KindNewIndex: an index created from another one (resize target,
	// rollover new index, downsample target, create_from dest); subject to
	// the subset rule (its permissions must not exceed the source's).
	KindNewIndex
	// KindAnyIndex: an action on a search context (scroll, clear scroll,
	// close point in time, async result get and delete), which names no
	// index: Elasticsearch authorizes it by its name alone, the indices
	// having been authorized when the context was opened, and checks that
	// the context is the caller's. Indices is empty; a role granting the
	// action on some index grants it, and the gateway binds the context to
	// its creator.
	KindAnyIndex
)

// Target is one (action, names) pair to authorize.
type Target struct {
	// Action is the action name authorized against Indices.
	Action string
	// Indices are index expressions as written: lists split with
	// SplitList, possibly with wildcards, "-exclusions", date math, "_all"
	// or "cluster:index". Empty means all indices.
	Indices []string
	// Kind says what the names are.
	Kind Kind
	// Item is the zero-based position of the item for KindItem (bulk
	// item, msearch search, mget/mtv doc, alias action); 0 otherwise.
	Item int
	// FromBody: the names came from the body, not the path (or they are
	// the path's default for an item without its own index).
	FromBody bool
}

// ContextKind names the kind of server-side context an id refers to.
type ContextKind uint8

const (
	ContextNone ContextKind = iota
	ContextScroll
	ContextPIT
	ContextAsync // async search, EQL, SQL and ES|QL async ids
	ContextSQLCursor
)

// Result is the classification of one request.
type Result struct {
	// API is the reference table's API name ("search", "bulk",
	// "indices.create"); empty when Unknown.
	API string
	// Action is the top-level action. For composite requests (bulk, mget,
	// msearch, reindex, …) Elasticsearch authorizes it on the name only
	// (any index), then each of Targets.
	Action string
	// Cluster: Action is a cluster action; Targets is then empty.
	Cluster bool
	// Targets are the (action, indices) pairs to authorize, in request
	// order.
	Targets []Target
	// Unknown: no route matches the path; deny to all but superuser.
	Unknown bool
	// MethodNotAllowed: a route matches the path but not the method
	// (Elasticsearch answers 405); deny to all but superuser.
	MethodNotAllowed bool
	// Deny, when set, says why the request must be denied to all but
	// superuser although it is known: its targets are where the classifier
	// cannot see them (SQL/ES|QL text, remote reindex, reindex scripts).
	Deny string
	// Context is the kind of the ids in ContextIDs.
	Context ContextKind
	// ContextIDs are the scroll/PIT/async/cursor ids the request uses; the
	// gateway must check they were created by the same user. "_all" (clear
	// every scroll) is passed through as is.
	ContextIDs []string
	// Creates is the kind of context the response will carry an id for
	// (search with ?scroll, open PIT, async search submit, EQL search, SQL
	// query, ES|QL async query), so the gateway can bind it to the user.
	Creates ContextKind
	// KeepAlive is the keep-alive the request asks for the context it
	// creates or uses, as written (Elasticsearch time units): ?scroll of
	// a search or scroll (the scroll body's "scroll" wins), ?keep_alive of
	// an open PIT or async search submit or get, pit.keep_alive of a
	// search body. Empty when the request names none.
	KeepAlive string
	// Derived: Action is derived from Elasticsearch's conventions, not
	// taken from the verified table.
	Derived bool
}

// Classify maps a request to its action(s) and targets. An error wraps
// [ErrBadRequest] and means the request is malformed (answer 400). It never
// panics and never reads beyond r.
func Classify(r Request) (Result, error) {
	// The classifier escapes (the body walkers' closures hold it): it, the
	// path's segments and the result it fills come from a pool, and the
	// result is copied out.
	c := classifierPool.Get().(*classifier)
	res, err := c.classify(r)
	*c = classifier{}
	classifierPool.Put(c)
	return res, err
}

// classifierPool holds classifiers between calls of Classify. Nothing the
// classifier made outlives the call but the Result, copied out of it (its
// strings and slices are its own, never the classifier's buffers).
var classifierPool = sync.Pool{New: func() any { return new(classifier) }}

func (c *classifier) classify(r Request) (Result, error) {
	segs := canon.AppendSegments(c.segBuf[:0], r.Path)
	n := match(segs)
	if n == nil {
		return Result{Unknown: true}, nil
	}
	rt := n.pick(r.Method)
	if rt == nil {
		return Result{MethodNotAllowed: true}, nil
	}
	res := Result{
		API:     rt.api,
		Action:  rt.action,
		Cluster: cluster(rt.action),
		Derived: rt.derived,
	}
	q, err := parseQuery(r.Query)
	if err != nil {
		return res, err
	}
	body, err := requestBody(r, q, rt.body)
	if err != nil {
		return res, err
	}
	c.r, c.segs, c.q, c.body, c.result = rt, segs, q, body, res
	c.res = &c.result
	err = c.run()
	return c.result, err
}

// requestBody returns the body to read: the HTTP body, else ?source= with
// ?source_content_type (RestRequest.contentOrSourceParam). The content type
// must be JSON or NDJSON (compatible-with=8 at most), unless the route's
// body is raw.
func requestBody(r Request, q query, kind bodyKind) ([]byte, error) {
	body, ctype := r.Body, r.ContentType
	if len(body) == 0 {
		if q.hasSource != q.hasSourceType {
			return nil, ErrSourceType
		}
		if !q.hasSource {
			return nil, nil
		}
		body, ctype = []byte(q.source), q.sourceContentType
	}
	if len(bytes.TrimLeft(body, " \t\r\n")) == 0 {
		return nil, nil
	}
	if kind == bodyRaw {
		return body, nil
	}
	return body, checkContentType(ctype)
}

// checkContentType accepts application/json, application/x-ndjson and
// their application/vnd.elasticsearch+ variants with compatible-with=8.
// SMILE, CBOR, YAML and everything else are refused: the classifier reads
// JSON only, and a body it cannot read must not reach Elasticsearch.
func checkContentType(ct string) error {
	mt, params, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	switch mt {
	case "application/json", "application/x-ndjson":
		return nil
	case "application/vnd.elasticsearch+json", "application/vnd.elasticsearch+x-ndjson":
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "compatible-with") && strings.TrimSpace(v) != "8" {
				return ErrCompatibleWith
			}
		}
		return nil
	}
	return ErrContentType
}

// classifier carries one classification.
type classifier struct {
	r    *route
	segs []string
	q    query
	body []byte
	res  *Result // &result
	// result is the storage of res, segBuf of segs.
	result Result
	segBuf [8]string
}

func (c *classifier) param(name string) (string, bool) { return bind(c.r, c.segs, name) }

func (c *classifier) add(t Target) { c.res.Targets = append(c.res.Targets, t) }

// pathTargets adds the route's path parameter targets with action.
func (c *classifier) pathTargets(action string) {
	if c.res.Cluster {
		return
	}
	idx := false
	for _, p := range routeParams(c.r) {
		v, ok := c.param(p[0])
		if !ok {
			continue
		}
		t := Target{Action: action, Indices: SplitList(v)}
		switch p[1] {
		case "alias":
			t.Kind = KindAlias
		case "new":
			t.Kind = KindNewIndex
		default:
			idx = true
		}
		c.add(t)
	}
	if !idx {
		// No index in the path: the action applies to all indices.
		c.res.Targets = append([]Target{{Action: action}}, c.res.Targets...)
	}
}

// pathIndices returns the split {index} (or the route's index param).
func (c *classifier) pathIndices() []string {
	for _, p := range routeParams(c.r) {
		if p[1] == "index" {
			if v, ok := c.param(p[0]); ok {
				return SplitList(v)
			}
		}
	}
	return nil
}

func (c *classifier) rawIndex() string {
	for _, p := range routeParams(c.r) {
		if p[1] == "index" {
			if v, ok := c.param(p[0]); ok {
				return v
			}
		}
	}
	return ""
}

func (c *classifier) run() error {
	switch c.r.api {
	case "eql.search", "sql.query", "esql.async_query":
		// Run for longer than wait_for_completion_timeout (or with
		// keep_on_completion), they answer with an async id.
		c.res.Creates = ContextAsync
	}
	switch c.r.body {
	case bodyRaw:
		c.pathTargets(c.r.action)
		return nil
	case bodyDeny:
		c.res.Deny = c.r.note
		c.pathTargets(c.r.action)
		return c.validate()
	case bodySearch:
		return c.search(c.r.action)
	case bodySearchTemplate:
		return c.search("indices:data/read/search")
	case bodyMsearch:
		return c.msearch()
	case bodyBulk:
		return c.bulk()
	case bodyMget:
		return c.mget("indices:data/read/mget[shard]")
	case bodyMtv:
		return c.mget("indices:data/read/mtv[shard]")
	case bodyReindex:
		return c.reindex()
	case bodyAliases:
		return c.aliases()
	case bodyCreateIndex:
		c.pathTargets(c.r.action)
		return c.bodyAliases(c.pathIndices())
	case bodyResize:
		c.pathTargets(c.r.action)
		tgt, _ := c.param("target")
		return c.bodyAliases(SplitList(tgt))
	case bodyRollover:
		c.pathTargets(c.r.action)
		return c.validate()
	case bodyScroll:
		return c.scroll()
	case bodyClearScroll:
		return c.clearScroll()
	case bodyOpenPIT:
		c.res.Creates, c.res.KeepAlive = ContextPIT, c.q.keepAlive
		c.pathTargets(c.r.action)
		return c.validate()
	case bodyClosePIT:
		return c.closePIT()
	case bodyAsyncID:
		c.res.Context, c.res.KeepAlive = ContextAsync, c.q.keepAlive
		if id, ok := c.param("id"); ok {
			c.res.ContextIDs = []string{id}
		}
		if !c.res.Cluster {
			c.add(Target{Action: c.r.action, Kind: KindAnyIndex})
		}
		return c.validate()
	case bodySQLCursor:
		return c.sqlCursor()
	case bodyDocIndex, bodyDocCreate, bodyDocUpdate, bodyDocDelete:
		return c.doc()
	case bodyMigrateReindex:
		return c.migrateReindex()
	case bodyModifyDataStream:
		return c.modifyDataStream()
	}
	c.pathTargets(c.r.action)
	return c.validate()
}

// validate checks a body the classifier takes no targets from.
func (c *classifier) validate() error {
	if c.body == nil {
		return nil
	}
	return validJSON(c.body)
}

// NeedsBody reports whether a request of method to the canonical path has a
// body that can name targets or context ids, so that authorizing it means
// reading the body. Bodies that carry none (a document, a mapping, ML
// data) need not be read: a caller may stream them unread.
func NeedsBody(method, path string) bool {
	var buf [8]string
	n := match(canon.AppendSegments(buf[:0], path))
	if n == nil {
		return false
	}
	rt := n.pick(method)
	if rt == nil {
		return false
	}
	switch rt.body {
	case bodyJSON, bodyRaw, bodyDeny, bodyDocIndex, bodyDocCreate, bodyDocUpdate, bodyDocDelete,
		bodyRollover, bodyOpenPIT, bodyAsyncID:
		return false
	}
	return true
}
