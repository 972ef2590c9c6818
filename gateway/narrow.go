package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/policy"
)

// Elasticsearch narrows a read whose index expression has wildcards, or
// names no index, to the indices the user may read, and never lets a
// wildcard reach a restricted index (.security*, the audit trail here) for
// a user whose roles do not grant it with allow_restricted_indices. The
// gateway does the same by rewriting the path before the policy decides:
//
//   - a wildcard the policy grants as a whole is kept;
//   - otherwise it is replaced by the index name patterns of the user's
//     roles that it covers and the policy grants ("*" → "logs-*,metrics-*");
//     a granted pattern that only overlaps it ("logs-*" against "*-prod")
//     is resolved against the cluster (GET /_resolve/index) and replaced by
//     the granted names;
//   - a wildcard that may reach a restricted index is followed by the
//     exclusion "-.security*", then by the restricted patterns the user is
//     granted;
//   - explicit names are kept: an unauthorized one is a 403, as there;
//   - nothing left reads nothing ("*,-*": an empty result, or
//     index_not_found with allow_no_indices=false, as there).
//
// The rewritten request is then decided as any other. Writes are never
// rewritten: a write whose wildcard may reach a restricted index is refused
// unless the user is granted the restricted indices.

// restrictedPrefix starts the name of every restricted index.
const restrictedPrefix = ".security"

// restrictedExclusion excludes every restricted index from the wildcards
// before it.
const restrictedExclusion = "-" + restrictedPrefix + "*"

// maxResolvedNames bounds the concrete names a narrowed read may list.
const maxResolvedNames = 1000

// narrowable reports whether action is a read Elasticsearch narrows.
func narrowable(action string) bool {
	switch {
	case strings.HasPrefix(action, "indices:data/read/"), strings.HasPrefix(action, "indices:monitor/"):
		return true
	}
	switch action {
	case "indices:admin/get", "indices:admin/mappings/get", "indices:admin/mappings/fields/get",
		"indices:admin/aliases/get", "indices:admin/resolve/index", "indices:admin/validate/query",
		"indices:admin/data_stream/get", "indices:admin/ilm/explain":
		return true
	}
	return false
}

// mayMatchRestricted reports whether pattern, an index name with '*'
// wildcards, can match a restricted index name while not being itself one
// that names restricted indices only (those the policy refuses without
// allow_restricted_indices already).
func mayMatchRestricted(pattern string) bool {
	lit, _, wild := strings.Cut(pattern, "*")
	if !wild {
		return false
	}
	if strings.HasPrefix(lit, restrictedPrefix) {
		return false
	}
	return strings.HasPrefix(restrictedPrefix, lit)
}

// globCovers reports whether pattern ('*' matching any run of characters)
// matches name as a string. For a name that is itself a pattern, this means
// every index name it matches, pattern matches too. Linear in the lengths
// (the greedy matcher that backtracks to the last star only): patterns come
// from requests.
func globCovers(pattern, name string) bool {
	p, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, n
			p++
		case p < len(pattern) && pattern[p] == name[n]:
			p++
			n++
		case star >= 0:
			p = star + 1
			mark++
			n = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// mayOverlap reports whether two '*' patterns can match a common name, by
// their literal prefixes and suffixes (a necessary condition; when it
// holds, the cluster is asked).
func mayOverlap(a, b string) bool {
	pa, _, _ := strings.Cut(a, "*")
	pb, _, _ := strings.Cut(b, "*")
	sa := a[strings.LastIndexByte(a, '*')+1:]
	sb := b[strings.LastIndexByte(b, '*')+1:]
	return (strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)) &&
		(strings.HasSuffix(sa, sb) || strings.HasSuffix(sb, sa))
}

// excludesRestricted reports whether an exclusion of exprs removes every
// restricted index from the wildcards before it.
func excludesRestricted(exprs []classify.Expression) bool {
	for _, e := range exprs {
		if e.Exclusion && globCovers(e.Name, restrictedPrefix+"*") {
			return true
		}
	}
	return false
}

// narrower computes the narrowed index list of one read. allowed asks the
// policy whether one expression is granted; candidates are the index name
// patterns of the user's roles; resolve lists the concrete names a
// wildcard matches in the cluster.
type narrower struct {
	allowed    func(expr string) (bool, error)
	candidates []string
	resolve    func(expr string) ([]string, error)
}

// narrow returns the list to send instead of list, and whether it differs.
func (n *narrower) narrow(list []string) ([]string, bool, error) {
	all := classify.IsAll(list)
	if all {
		list = []string{"*"}
	}
	exprs := classify.ParseList(list)
	var plain, restricted, exclusions []string
	needExclusion, changed := false, all
	restrictedOK := -1 // unknown
	grantsRestricted := func() (bool, error) {
		if restrictedOK < 0 {
			ok, err := n.allowed(restrictedPrefix + "*")
			if err != nil {
				return false, err
			}
			restrictedOK = 0
			if ok {
				restrictedOK = 1
			}
		}
		return restrictedOK == 1, nil
	}
	excluded := excludesRestricted(exprs)
	add := func(name string) {
		if strings.HasPrefix(name, restrictedPrefix) {
			if !slices.Contains(restricted, name) {
				restricted = append(restricted, name)
			}
		} else if !slices.Contains(plain, name) {
			plain = append(plain, name)
		}
	}
	for _, e := range exprs {
		switch {
		case e.Exclusion:
			exclusions = append(exclusions, e.Raw)
			continue
		case !e.Wildcard || e.Cluster != "" || e.DateMath || e.Malformed:
			add(e.Raw)
			continue
		}
		ok, err := n.allowed(e.Raw)
		if err != nil {
			return nil, false, err
		}
		restrictedReach := mayMatchRestricted(e.Name) && !excluded
		if restrictedReach {
			if r, err := grantsRestricted(); err != nil {
				return nil, false, err
			} else if r {
				restrictedReach = false
			}
		}
		if ok {
			add(e.Raw)
			if restrictedReach {
				needExclusion, changed = true, true
				// The restricted patterns the user is granted come back
				// after the exclusion.
				if err := n.addCandidates(e.Name, true, add); err != nil {
					return nil, false, err
				}
			}
			continue
		}
		changed = true
		if err := n.addCandidates(e.Name, false, add); err != nil {
			return nil, false, err
		}
	}
	if !changed {
		return list, false, nil
	}
	// Exclusions apply to the wildcards before them; without one left they
	// would be names. Apply them to the names kept instead.
	hasWildcard := slices.ContainsFunc(plain, func(s string) bool { return strings.Contains(s, "*") })
	out := make([]string, 0, len(plain)+len(exclusions)+len(restricted)+1)
	if hasWildcard {
		out = append(out, plain...)
		out = append(out, exclusions...)
	} else {
		for _, name := range plain {
			if !excludedBy(name, exclusions) {
				out = append(out, name)
			}
		}
	}
	if needExclusion && hasWildcard {
		out = append(out, restrictedExclusion)
	}
	for _, name := range restricted {
		if !excludedBy(name, exclusions) {
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		// Nothing the user may read: a wildcard that matches nothing.
		out = noIndices
	}
	return out, true, nil
}

// noIndices is the index list of a read narrowed to nothing: "*" then its
// exclusion, which Elasticsearch resolves to no index (an empty answer, or
// index_not_found with allow_no_indices=false).
var noIndices = []string{"*", "-*"}

// witness returns a pattern of the user's roles the policy grants the
// action on, or "": a read narrowed to nothing is authorized as the action
// on an index the user may act on, as Elasticsearch authorizes the action
// before resolving indices to none.
func (n *narrower) witness() (string, error) {
	for _, g := range n.candidates {
		ok, err := n.allowed(g)
		if err != nil {
			return "", err
		}
		if ok {
			return g, nil
		}
	}
	return "", nil
}

// addCandidates adds, for wildcard name, the granted role patterns it
// covers, and the granted names of the cluster it shares with the patterns
// that only overlap it. onlyRestricted limits them to restricted ones.
func (n *narrower) addCandidates(name string, onlyRestricted bool, add func(string)) error {
	var overlapping []string
	for _, g := range n.candidates {
		if onlyRestricted && !strings.HasPrefix(g, restrictedPrefix) {
			continue
		}
		switch {
		case globCovers(name, g):
			ok, err := n.allowed(g)
			if err != nil {
				return err
			}
			if ok {
				add(g)
			}
		case strings.Contains(g, "*") && mayOverlap(name, g):
			overlapping = append(overlapping, g)
		}
	}
	if len(overlapping) == 0 {
		return nil
	}
	names, err := n.resolve(name)
	if err != nil {
		return err
	}
	if len(names) > maxResolvedNames {
		return fmt.Errorf("[%s] matches %d indices, more than the %d a narrowed read may name: name the indices to read", name, len(names), maxResolvedNames)
	}
	for _, concrete := range names {
		if !slices.ContainsFunc(overlapping, func(g string) bool { return globCovers(g, concrete) }) {
			continue
		}
		ok, err := n.allowed(concrete)
		if err != nil {
			return err
		}
		if ok {
			add(concrete)
		}
	}
	return nil
}

func excludedBy(name string, exclusions []string) bool {
	for _, x := range exclusions {
		if globCovers(strings.TrimPrefix(x, "-"), name) {
			return true
		}
	}
	return false
}

// restrictWildcards refuses (answering 403) a request that is not narrowed
// (a write, or a read naming indices in its body) whose wildcard may reach a
// restricted index the user is not granted.
func (g *Gateway) restrictWildcards(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res classify.Result, in *policy.Input) bool {
	if res.Cluster || res.Context != classify.ContextNone || len(res.ContextIDs) > 0 {
		// Scroll, PIT and async requests name no index expression: their
		// indices are the context's.
		return true
	}
	var grantsRestricted *bool
	for _, t := range res.Targets {
		if classify.IsAll(t.Indices) && t.Kind != classify.KindIndex {
			// An item without its own index names the path's.
			continue
		}
		if namesOnly(t.Indices) {
			continue // nothing to parse on the usual request
		}
		list := t.Indices
		if classify.IsAll(list) {
			list = []string{"*"}
		}
		exprs := classify.ParseList(list)
		if excludesRestricted(exprs) {
			continue
		}
		for _, e := range exprs {
			if e.Exclusion || !mayMatchRestricted(e.Name) {
				continue
			}
			if grantsRestricted == nil {
				ok := g.allowedOn(ctx, r, p, in, t.Action, restrictedPrefix+"*")
				grantsRestricted = &ok
			}
			if !*grantsRestricted {
				g.denyExtra(ctx, now, r, p, t.Action, []string{e.Raw},
					"on indices ["+e.Raw+"]: the expression may match restricted indices ["+restrictedPrefix+"*], which no role of the user grants; exclude them (add "+restrictedExclusion+") or name the indices")
				return false
			}
		}
	}
	return true
}

// narrowRead rewrites r's path and in's targets when the request is a read
// of one path index expression with wildcards (or of all indices) that
// Elasticsearch would narrow. It answers and returns false when it cannot
// decide.
func (g *Gateway) narrowRead(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, res classify.Result, in *policy.Input) bool {
	t := res.Targets[0]
	if namesOnly(t.Indices) {
		// Nothing to narrow (the hot path stays free of it).
		return true
	}
	orig := *in
	n := &narrower{
		allowed: func(expr string) (bool, error) {
			return g.allowedOn(ctx, r, p, &orig, t.Action, expr), nil
		},
		candidates: g.candidatePatterns(p),
		resolve: func(expr string) ([]string, error) {
			return g.resolveIndex(ctx, expr, r.query)
		},
	}
	list, changed, err := n.narrow(t.Indices)
	if err != nil {
		g.denyExtra(ctx, now, r, p, t.Action, t.Indices, "on indices ["+strings.Join(t.Indices, ",")+"]: "+err.Error())
		return false
	}
	if !changed {
		return true
	}
	path, ok := classify.IndexPath(r.method, r.path, list)
	if !ok {
		// The API has no form naming indices: decided as it is.
		return true
	}
	targets := withoutExclusions(list)
	if slices.Equal(list, noIndices) {
		w, err := n.witness()
		if err != nil {
			g.denyExtra(ctx, now, r, p, t.Action, t.Indices, "on indices ["+strings.Join(t.Indices, ",")+"]: "+err.Error())
			return false
		}
		if w == "" {
			// No grant of the action at all: decided, and refused, as sent.
			return true
		}
		targets = []string{w}
	}
	g.cfg.Logger.DebugContext(ctx, "read_narrowed", "request_id", r.requestID, "from", r.path, "to", path)
	r.path = path
	in.Request.Path = path
	in.Request.Targets = []policy.Target{{Action: t.Action, Indices: targets}}
	return true
}

// namesOnly reports whether an index list names indices only: no wildcard,
// not all indices.
func namesOnly(list []string) bool {
	return !classify.IsAll(list) && !slices.ContainsFunc(list, func(s string) bool { return strings.IndexByte(s, '*') >= 0 })
}

// allowedOn asks the policy whether p may do action on the one index
// expression expr, as the same method on the path naming it; for an API key
// with role descriptors both its owner's roles and the key's must allow.
func (g *Gateway) allowedOn(ctx *fasthttp.RequestCtx, r *request, p *principal, in *policy.Input, action, expr string) bool {
	path, ok := classify.IndexPath(r.method, in.Request.Path, []string{expr})
	if !ok {
		path = in.Request.Path
	}
	q := &policy.Input{
		User: in.User,
		Request: policy.Request{Method: r.method, Path: path, Kind: policy.KindContent, Action: action,
			RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query,
			Targets: []policy.Target{{Action: action, Indices: []string{expr}}}},
	}
	if !g.decide(ctx, r, q).Allow {
		return false
	}
	if p.keyRoles != nil {
		q.User.Roles = p.keyRoles
		return g.decide(ctx, r, q).Allow
	}
	return true
}

// candidatePatterns lists the index name patterns of p's roles (for an API
// key with role descriptors, of the key's).
func (g *Gateway) candidatePatterns(p *principal) []string {
	var out []string
	addEntries := func(indices []events.IndexPrivileges) {
		for _, e := range indices {
			for _, n := range e.Names {
				if !slices.Contains(out, n) {
					out = append(out, n)
				}
			}
		}
	}
	model := g.cfg.Projection.Model()
	if p.apiKeyID != "" && (p.keyRoles != nil || p.limitedRoles != nil) {
		if k, ok := model.APIKey(p.apiKeyID); ok {
			roles := k.Roles
			if p.keyRoles == nil {
				roles = k.LimitedBy
			}
			for _, role := range roles {
				addEntries(role.Indices)
			}
		}
		return out
	}
	for _, name := range userRoles(p.roles) {
		if role, ok := model.Role(name); ok {
			addEntries(role.Indices)
		}
	}
	return out
}

// resolveIndex lists the indices, aliases and data streams expr matches in
// the cluster, with the request's expand_wildcards.
func (g *Gateway) resolveIndex(ctx context.Context, expr string, query []byte) ([]string, error) {
	q := url.Values{}
	if vals, err := url.ParseQuery(string(query)); err == nil {
		if ew := vals.Get("expand_wildcards"); ew != "" {
			q.Set("expand_wildcards", ew)
		}
	}
	req := fasthttp.AcquireRequest()
	resp := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	uri := "/_resolve/index/" + url.PathEscape(expr)
	if len(q) > 0 {
		uri += "?" + q.Encode()
	}
	req.Header.SetMethod(fasthttp.MethodGet)
	req.Header.SetRequestURI(uri)
	if err := g.roundTrip(req, resp, true); err != nil {
		return nil, fmt.Errorf("resolve [%s]: %w", expr, err)
	}
	if resp.StatusCode() != fasthttp.StatusOK {
		return nil, fmt.Errorf("resolve [%s]: Elasticsearch answered %d", expr, resp.StatusCode())
	}
	var out struct {
		Indices     []struct{ Name string } `json:"indices"`
		Aliases     []struct{ Name string } `json:"aliases"`
		DataStreams []struct{ Name string } `json:"data_streams"`
	}
	if err := json.Unmarshal(resp.Body(), &out); err != nil {
		return nil, fmt.Errorf("resolve [%s]: %w", expr, err)
	}
	names := make([]string, 0, len(out.Indices)+len(out.Aliases)+len(out.DataStreams))
	for _, x := range out.Indices {
		names = append(names, x.Name)
	}
	for _, x := range out.Aliases {
		names = append(names, x.Name)
	}
	for _, x := range out.DataStreams {
		names = append(names, x.Name)
	}
	return names, nil
}
