package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/gateway/filerealm"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// Projection is the read model the gateway serves from and waits on for
// read-your-writes.
type Projection interface {
	Model() *projector.Model
	Ready() bool
	WaitFor(ctx context.Context, stream string, seq uint64) error
	WaitForLatest(ctx context.Context, stream string) error
}

// Authorizer decides requests.
type Authorizer interface {
	Decide(ctx context.Context, in *policy.Input) (policy.Decision, error)
	Generated() string
	Revision() string
	Reload(ctx context.Context) error
	// PrivilegesGranting names the privileges that grant action, for the
	// hint ending a 403 reason (policy.Engine.PrivilegesGranting).
	PrivilegesGranting(action string) (kind string, names []string)
	// GrantsOnSomeIndex reports whether roles grant index action on at
	// least one index (policy.Engine.GrantsOnSomeIndex).
	GrantsOnSomeIndex(roles []string, action string) bool
}

// Appender appends an event to a stream, optionally under an optimistic
// concurrency condition.
type Appender interface {
	Append(ctx context.Context, subject string, ev events.Event, expect *events.Expect) (uint64, error)
}

// Recorder records an auth outcome without blocking.
type Recorder interface {
	Emit(now time.Time, o events.AuthOutcome) error
}

// Backlog is what a Recorder may report of the outcomes it has not yet
// published (events.Emitter does): the health answer shows it.
type Backlog interface {
	Pending() int      // queued in memory
	SpoolBytes() int64 // on disk, waiting for NATS
}

var (
	_ Projection = (*projector.Projector)(nil)
	_ Authorizer = (*policy.Engine)(nil)
	_ Appender   = events.Log{}
	_ Recorder   = (*events.Emitter)(nil)
	_ Backlog    = (*events.Emitter)(nil)
	_ FileRealm  = (*filerealm.Realm)(nil)
)

// Gateway is the HTTP edge. Create it with New and serve with Run.
type Gateway struct {
	cfg       Config
	upstreams []*fasthttp.HostClient
	next      atomic.Uint64
	basic     *basicCache
	keyed     *secret.Keyed
	reqSeq    atomic.Uint64
	server    *fasthttp.Server
	hashSlots chan struct{} // bounds concurrent argon2id verifications
	counts    counters      // GET /_portcullis/metrics
	ln        net.Listener
}

// New validates cfg and returns a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	keyed, err := secret.NewKeyed()
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, basic: newBasicCache(), keyed: keyed, hashSlots: make(chan struct{}, 2*runtime.GOMAXPROCS(0))}
	for _, raw := range cfg.Upstreams {
		u, _ := parseUpstream(raw) // validated above
		g.upstreams = append(g.upstreams, &fasthttp.HostClient{
			Addr:                     u.addr,
			IsTLS:                    u.isTLS,
			Name:                     "portcullis",
			NoDefaultUserAgentHeader: true,
			MaxConns:                 cfg.MaxConnsPerUpstream,
			MaxIdleConnDuration:      cfg.IdleTimeout,
			// A deadline set once per exchange: it bounds reading the whole
			// answer, streamed bodies included (UpstreamTimeout).
			ReadTimeout:                   cfg.UpstreamTimeout,
			WriteTimeout:                  cfg.UpstreamTimeout,
			DisableHeaderNamesNormalizing: true,
			DisablePathNormalizing:        true,
			StreamResponseBody:            true,
			MaxResponseBodySize:           0,
			RetryIfErr:                    func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		})
	}
	g.server = &fasthttp.Server{
		Handler:               g.Handle,
		Name:                  "",
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
		ReadTimeout:           cfg.ReadTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		StreamRequestBody:     true,
		// Header names are normalised, so that Authorization, X-Opaque-Id
		// and the hop-by-hop headers are found and removed whatever their
		// case (names are case-insensitive in HTTP).
		DisablePreParseMultipartForm: true,
		NoDefaultContentType:         true,
		// fasthttp's own parse errors would log the raw request, credentials
		// included.
		SecureErrorLogMessage: true,
		ErrorHandler:          parseErrorHandler,
		// The body of a streamed upload gets its own, longer deadline.
		HeaderReceived: func(*fasthttp.RequestHeader) fasthttp.RequestConfig {
			return fasthttp.RequestConfig{ReadTimeout: cfg.BodyReadTimeout}
		},
		Logger: fasthttpLogger{cfg.Logger},
	}
	return g, nil
}

// Listen binds the listen address, so a caller knows the port (":0" in
// tests) before Run.
func (g *Gateway) Listen() (net.Addr, error) {
	if g.ln != nil {
		return g.ln.Addr(), nil
	}
	ln, err := net.Listen("tcp", g.cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("gateway listen %s: %w", g.cfg.Listen, err)
	}
	g.ln = ln
	return ln.Addr(), nil
}

// Run serves until ctx ends, then stops accepting and waits up to 10s for
// in-flight requests.
func (g *Gateway) Run(ctx context.Context) error {
	if _, err := g.Listen(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- g.server.Serve(g.ln) }()
	g.cfg.Logger.InfoContext(ctx, "gateway_listening", "addr", g.ln.Addr().String(), "upstreams", g.cfg.Upstreams)
	select {
	case err := <-errc:
		return fmt.Errorf("gateway serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := g.server.ShutdownWithContext(sctx); err != nil {
		return fmt.Errorf("gateway shutdown: %w", err)
	}
	<-errc
	return nil
}

// request is what the handler learned of a request, copied out of the
// RequestCtx so that it may outlive it (the outcome event).
type request struct {
	method string
	path   string // canonical
	query  []byte // raw query without the consumed token parameter
	token  string // from the token parameter; never logged
	body   []byte // the body, when it had to be read to authorize it
	// rewritten: the gateway replaced the body (a clear scroll limited to
	// the caller's ids); it is plain JSON.
	rewritten bool
	requestID string
	sourceIP  string

	// Storage for what a request needs once, allocated with it.
	basic   principal        // a Basic principal (authenticateBasic)
	in      policy.Input     // the policy input of a content request
	targets [1]policy.Target // its targets, when there is one
}

// requestPool holds the request state between requests: a request
// allocated with each one was a quarter of the garbage the process made per
// request (BENCHMARKS.md, Request state pooled). Nothing keeps a *request,
// or a pointer into one, beyond Handle: the handler starts no goroutine,
// what it records or publishes is copied (the outcome is encoded in Emit,
// the decision cache copies its key), and the streamed answer holds the
// upstream response alone.
var requestPool = sync.Pool{New: func() any { return new(request) }}

// releaseRequest clears r whole, so that no field of one request (its
// principal above all) can be seen by the next, and returns it to the pool.
func releaseRequest(r *request) {
	*r = request{}
	requestPool.Put(r)
}

// uri is the request's URI as Elasticsearch's reasons quote it, without the
// consumed token parameter.
func (r *request) uri() string {
	if len(r.query) == 0 {
		return r.path
	}
	return r.path + "?" + string(r.query)
}

// Handle serves one request. It is the fasthttp handler; exported for
// benchmarks and tests that drive the gateway without a listener.
func (g *Gateway) Handle(ctx *fasthttp.RequestCtx) {
	now := g.cfg.Now()
	if !upperToken(ctx.Method()) {
		// Methods are case-sensitive; the policy compares them upper-cased,
		// so a lower-case one would be checked as another than the one sent.
		writeError(ctx, badRequest("invalid HTTP method"))
		return
	}
	r := requestPool.Get().(*request)
	defer releaseRequest(r)
	r.method = methodString(ctx.Method())
	r.sourceIP = remoteIP(ctx)
	r.requestID = g.requestID(ctx)
	rawURI := ctx.Request.Header.RequestURI()
	rawPath, rawQuery, _ := bytes.Cut(rawURI, []byte("?"))
	if i := bytes.IndexByte(rawQuery, '#'); i >= 0 {
		rawQuery = rawQuery[:i]
	}
	path, err := canon.Path(rawPath)
	if err != nil {
		g.record(ctx, now, r, events.AuthOutcome{Action: events.ActionTamperedRequest, Outcome: "failure", Reason: err.Error(), Path: string(rawPath)})
		writeError(ctx, badRequest(err.Error()))
		return
	}
	r.path = path
	rest, tok, found, err := canon.TakeParam(rawQuery, "token")
	if err != nil {
		g.record(ctx, now, r, events.AuthOutcome{Action: events.ActionTamperedRequest, Outcome: "failure", Reason: err.Error()})
		writeError(ctx, badRequest(err.Error()))
		return
	}
	r.query = append([]byte(nil), rest...)
	if found {
		r.token = tok
	}

	// Endpoints that need no authentication.
	switch {
	case path == "/_portcullis/health":
		g.health(ctx)
		return
	case path == "/_portcullis/metrics" && (r.method == fasthttp.MethodGet || r.method == fasthttp.MethodHead):
		g.metrics(ctx)
		return
	case path == "/login" && r.method == fasthttp.MethodPost:
		g.login(ctx, now, r)
		return
	}

	p, fail := g.authenticate(ctx, now, r)
	if fail != nil {
		g.recordFailure(ctx, now, r, fail)
		if fail.busy {
			writeError(ctx, errOverloaded)
			return
		}
		writeUnauthorizedAdditional(ctx, fail.reason, fail.additional)
		return
	}

	if path == "/logout" && r.method == fasthttp.MethodPost {
		g.logout(ctx, now, r, p)
		return
	}
	if ep := route(r.method, path); ep != nil {
		g.manage(ctx, now, r, p, ep)
		return
	}
	// Classify: what the request does to which indices, the body's targets
	// included when its API can name them (then the body is read whole).
	needsBody := classify.NeedsBody(r.method, path)
	var body, plain []byte
	if needsBody {
		var ok bool
		if body, plain, ok = g.readClassifiedBody(ctx); !ok {
			return
		}
	}
	res, err := classify.Classify(classify.Request{
		Method: r.method, Path: path, Query: r.query, Body: plain,
		ContentType: contentTypeString(ctx.Request.Header.ContentType()),
	})
	if err != nil {
		g.record(ctx, now, r, events.AuthOutcome{Action: events.ActionTamperedRequest, Outcome: "failure", Reason: err.Error(), User: p.name})
		writeError(ctx, badRequest(err.Error()))
		return
	}
	if !g.pitTargets(ctx, now, r, p, &res) {
		return
	}
	in := &r.in
	*in = policy.Input{
		User: p.policyUser(),
		Request: policy.Request{Method: r.method, Path: path, Kind: policy.KindContent, RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query,
			Action: res.Action, Targets: policyTargets(r.targets[:0], res)},
	}
	if narrowCandidate(res) {
		if !g.narrowRead(ctx, now, r, p, res, in) {
			return
		}
	} else if !g.restrictWildcards(ctx, now, r, p, res, in) {
		return
	}
	if m := itemized(res, plain); m != nil {
		// Items (bulk, msearch, mget) the user may not act on fail alone.
		g.items(ctx, now, r, p, res, m, in, body, plain)
		return
	}
	check := func(d policy.Decision, user policy.User) bool {
		if res.Deny != "" && d.Rule != "superuser" {
			// The classifier cannot see what this API reads (SQL text …).
			g.denyExtra(ctx, now, r, p, res.Action, nil, "only the superuser may call this API: "+res.Deny)
			return false
		}
		if needsBody && strings.HasPrefix(d.Rule, "constraint:") {
			// A constraint granted the path; the indices the body names
			// must be granted too.
			return g.checkBodyConstraints(ctx, now, r, p, user, res)
		}
		return true
	}
	if g.ownerStatus(ctx, now, r, p, &res) {
		return
	}
	if !g.authorize(ctx, now, r, p, in, check) {
		return
	}
	r.body = body
	if res.Context != classify.ContextNone || res.Creates != classify.ContextNone {
		// Scroll, point-in-time and async ids are their creator's.
		g.contextRequest(ctx, now, r, p, &res)
		return
	}
	g.proxy(ctx, r)
}

// policyTargets converts the classifier's targets to the policy's,
// appended to dst (empty); a cluster action is one target without indices.
func policyTargets(dst []policy.Target, res classify.Result) []policy.Target {
	ts := res.Targets
	if len(ts) == 0 {
		if res.Cluster && res.Action != "" {
			return append(dst, policy.Target{Action: res.Action})
		}
		return nil
	}
	for _, t := range ts {
		dst = append(dst, policy.Target{Action: t.Action, Indices: withoutExclusions(t.Indices), AnyIndex: t.Kind == classify.KindAnyIndex})
	}
	return dst
}

// withoutExclusions drops the exclusions ("-name" after a wildcard) of an
// index list: they only remove indices, and need no grant.
func withoutExclusions(list []string) []string {
	if !slices.ContainsFunc(list, func(s string) bool { return strings.HasPrefix(s, "-") }) {
		return list
	}
	out := make([]string, 0, len(list))
	for _, e := range classify.ParseList(list) {
		if !e.Exclusion {
			out = append(out, e.Raw)
		}
	}
	return out
}

// narrowCandidate reports whether res is a read of one index expression of
// the path, which Elasticsearch narrows when it has wildcards.
func narrowCandidate(res classify.Result) bool {
	if res.Cluster || res.Deny != "" || len(res.Targets) != 1 || len(res.ContextIDs) > 0 {
		return false
	}
	t := res.Targets[0]
	return !t.FromBody && t.Kind == classify.KindIndex && narrowable(t.Action)
}

// authorize decides in and, when denied, answers 403. Every decision is
// recorded; a decision that cannot be recorded is a denial.
//
// check, when given, vets an allowing decision further, for the user the
// decision was made for (and answers and records its own denial).
//
// A request authenticated by an API key with role descriptors is decided
// twice, as Elasticsearch intersects the key's privileges with its owner's:
// once with the owner's current roles, once with the key's descriptor roles;
// both must allow, and the key's decision (the narrower grant) is the one
// recorded and vetted by check.
func (g *Gateway) authorize(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, in *policy.Input, check func(policy.Decision, policy.User) bool) bool {
	d := g.decide(ctx, r, in)
	if d.Allow && check != nil && !check(d, in.User) {
		return false
	}
	if d.Allow && p.keyRoles != nil {
		kin := *in
		kin.User.Roles = p.keyRoles
		d = g.decide(ctx, r, &kin)
		// Each side of the intersection is vetted with its own roles.
		if d.Allow && check != nil && !check(d, kin.User) {
			return false
		}
	}
	o := p.outcome(r)
	o.ESAction = in.Request.Action
	o.PolicyRevision = d.Revision
	o.Rule = d.Rule
	o.Reason = d.Reason
	if d.Allow {
		o.Action, o.Outcome = events.ActionAccessGranted, "success"
		if err := g.emit(now, o); err != nil {
			g.cfg.Logger.WarnContext(ctx, "outcome_not_recorded", "request_id", r.requestID, "error", err)
			writeError(ctx, errOverloaded)
			return false
		}
		return true
	}
	action := in.Request.Action
	if action == "" {
		action = r.method + " " + r.path
	}
	g.refuse(ctx, now, r, p, o, in, d, action, targetIndices(in.Request.Targets))
	return false
}

// refuse answers and records the refusal of the whole request: action on
// indices ("" when the action was authorized by its name alone) was denied
// by d. o is the outcome, filled but for its action and status.
//
// The reason is Elasticsearch's (AuthorizationDenialMessages.actionDenied),
// ending with the privileges that grant the action; a refusal by a deny
// rule of the policy, which Elasticsearch has no counterpart of, ends with
// the rule's reason instead, and so does one whose action no privilege
// grants.
func (g *Gateway) refuse(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, o events.AuthOutcome, in *policy.Input, d policy.Decision, action, indices string) {
	if p.anonymous {
		o.Action, o.Outcome, o.Status = events.ActionAnonymousAccessDenied, "failure", fasthttp.StatusForbidden
		if !g.cfg.Anonymous.AuthzException {
			// Elasticsearch's authz_exception: false: a 401 that makes
			// HTTP clients ask for credentials.
			o.Status = fasthttp.StatusUnauthorized
			g.record(ctx, now, r, o)
			writeUnauthorized(ctx, "action ["+action+"] requires authentication")
			return
		}
	} else {
		o.Action, o.Outcome, o.Status = events.ActionAccessDenied, "failure", fasthttp.StatusForbidden
	}
	g.record(ctx, now, r, o)
	reason := unauthorized(p, action, indices)
	switch {
	case in.Request.Kind == policy.KindManagement && in.Request.Privilege != "":
		reason += ", this action is granted by the cluster privileges [" + in.Request.Privilege + ",all]"
	case d.Rule != "deny" && g.grantedBy(action) != "":
		reason += g.grantedBy(action)
	case d.Reason != "":
		reason += ": " + d.Reason
	}
	writeForbidden(ctx, reason)
}

// unauthorized is the start of Elasticsearch's reason for refusing action
// on indices to p: "action [a] is unauthorized for user [u] with effective
// roles [r] on indices [i]".
func unauthorized(p *principal, action, indices string) string {
	reason := "action [" + action + "] is unauthorized for user [" + p.name + "] with effective roles [" + joinRoles(p.roles) + "]"
	if p.apiKeyID != "" {
		// Elasticsearch names the key and no roles for an API key.
		reason = "action [" + action + "] is unauthorized for API key id [" + p.apiKeyID + "] of user [" + p.name + "]"
	}
	if indices != "" {
		reason += " on indices [" + indices + "]"
	}
	return reason
}

// grantedBy is the end of Elasticsearch's refusal reason: ", this action is
// granted by the index privileges [create_doc,create,…,all]" (or cluster
// privileges), "" when the policy's tables name no privilege granting
// action.
func (g *Gateway) grantedBy(action string) string {
	kind, names := g.cfg.Policy.PrivilegesGranting(action)
	if kind == "" || len(names) == 0 {
		return ""
	}
	return ", this action is granted by the " + kind + " privileges [" + strings.Join(names, ",") + "]"
}

// decide evaluates in; a policy that cannot be evaluated denies.
func (g *Gateway) decide(ctx *fasthttp.RequestCtx, r *request, in *policy.Input) policy.Decision {
	// Not ctx: a decision is not cancelled when the server shuts down, and
	// RequestCtx carries no value the policy reads (WithoutCancel would
	// allocate on every request).
	d, err := g.cfg.Policy.Decide(context.Background(), in)
	if err != nil {
		g.cfg.Logger.ErrorContext(ctx, "policy_decision_failed", "request_id", r.requestID, "error", err)
		d = policy.Decision{Allow: false, Reason: "the policy could not be evaluated", Revision: g.cfg.Policy.Revision()}
	}
	return d
}

// record emits an outcome. A failure to enqueue is logged: the caller is
// already refusing the request, so there is nothing more to deny.
func (g *Gateway) record(ctx context.Context, now time.Time, r *request, o events.AuthOutcome) {
	if o.Method == "" {
		o.Method = r.method
	}
	if o.Path == "" {
		o.Path = r.path
	}
	if o.Query == "" && len(r.query) > 0 {
		o.Query = string(r.query)
	}
	o.RequestID, o.SourceIP = r.requestID, r.sourceIP
	if err := g.emit(now, o); err != nil {
		g.cfg.Logger.WarnContext(ctx, "outcome_not_recorded", "action", o.Action, "request_id", r.requestID, "error", err)
	}
}

// emit queues outcome o for the AUTH stream and counts it (metrics).
func (g *Gateway) emit(now time.Time, o events.AuthOutcome) error {
	err := g.cfg.Outcomes.Emit(now, o)
	g.counts.outcome(o.Action, err == nil)
	return err
}

func (g *Gateway) health(ctx *fasthttp.RequestCtx) {
	if !g.cfg.Projection.Ready() {
		writeJSON(ctx, fasthttp.StatusServiceUnavailable, []byte(`{"status":"red","reason":"projections are catching up"}`))
		return
	}
	b := append(make([]byte, 0, 128), `{"status":"green","policy_revision":`...)
	b = strconv.AppendQuote(b, g.cfg.Policy.Revision())
	if bl, ok := g.cfg.Outcomes.(Backlog); ok {
		// Outcomes waiting for NATS: spooled bytes mean it is unreachable.
		b = append(b, `,"outcomes":{"queued":`...)
		b = strconv.AppendInt(b, int64(bl.Pending()), 10)
		b = append(b, `,"spooled_bytes":`...)
		b = strconv.AppendInt(b, bl.SpoolBytes(), 10)
		b = append(b, '}')
	}
	writeJSON(ctx, fasthttp.StatusOK, append(b, '}'))
}

// requestID is the client's X-Opaque-Id when it sent a sane one (as
// Elasticsearch uses it), else one made here.
func (g *Gateway) requestID(ctx *fasthttp.RequestCtx) string {
	if id := ctx.Request.Header.Peek("X-Opaque-Id"); len(id) > 0 && len(id) <= 256 && printable(id) {
		return string(id)
	}
	var buf [128]byte
	b := append(append(buf[:0], g.cfg.NodeID...), '-')
	return string(strconv.AppendUint(b, g.reqSeq.Add(1), 36))
}

// methodString is string(m), without allocating for the usual methods.
func methodString(m []byte) string {
	switch string(m) {
	case fasthttp.MethodGet:
		return fasthttp.MethodGet
	case fasthttp.MethodPost:
		return fasthttp.MethodPost
	case fasthttp.MethodPut:
		return fasthttp.MethodPut
	case fasthttp.MethodDelete:
		return fasthttp.MethodDelete
	case fasthttp.MethodHead:
		return fasthttp.MethodHead
	}
	return string(m)
}

// contentTypeString is string(ct), without allocating for the usual
// content types of Elasticsearch requests.
func contentTypeString(ct []byte) string {
	switch string(ct) {
	case "":
		return ""
	case "application/json":
		return "application/json"
	case "application/x-ndjson":
		return "application/x-ndjson"
	case "application/json; charset=UTF-8":
		return "application/json; charset=UTF-8"
	}
	return string(ct)
}

// upperToken reports whether b is a non-empty run of A-Z.
func upperToken(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return len(b) > 0
}

// parseErrorHandler answers a request fasthttp could not parse in
// Elasticsearch's error shape (and logs nothing of its content).
func parseErrorHandler(ctx *fasthttp.RequestCtx, err error) {
	if errors.Is(err, fasthttp.ErrBodyTooLarge) {
		writeError(ctx, &clientError{status: fasthttp.StatusRequestEntityTooLarge, typ: "illegal_argument_exception", reason: "request body is too large"})
		return
	}
	writeError(ctx, badRequest("malformed HTTP request"))
}

func printable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func remoteIP(ctx *fasthttp.RequestCtx) string {
	if addr, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		return addr.IP.String()
	}
	return ctx.RemoteAddr().String()
}

type fasthttpLogger struct {
	l interface{ Warn(string, ...any) }
}

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn("fasthttp", "message", fmt.Sprintf(format, args...))
}

// targetIndices lists the index expressions of targets for a 403 reason.
func targetIndices(ts []policy.Target) string {
	var all []string
	for _, t := range ts {
		for _, i := range t.Indices {
			if !slices.Contains(all, i) {
				all = append(all, i)
			}
		}
	}
	return strings.Join(all, ",")
}
