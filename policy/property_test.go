package policy

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// referencePolicy is the specification of constraint matching written as
// plainly as Rego allows: a linear scan over the constraints as submitted,
// string prefixes on segment boundaries, glob.match for glob paths; of
// cluster privileges: a role's privilege grants the request's when it is
// the same, "all", or implies it (refImplies); and of index privileges:
// every target of the request granted by a role entry, one glob.match per
// privilege's action pattern and per index name pattern, restricted indices
// only with allow_restricted_indices. The engine's indexed, precomputed and
// memoised policy must decide exactly as it does.
const referencePolicy = `package reference

decision := {"allow": false, "rule": "deny"} if {
	not input.request.kind in {"content", "management"}
} else := {"allow": false, "rule": "deny"} if {
	not upper(input.request.method) in {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
} else := {"allow": true, "rule": "superuser"} if {
	"superuser" in input.user.roles
} else := {"allow": true, "rule": concat("", ["privilege:", input.request.privilege])} if {
	input.request.kind == "management"
	some role in input.user.roles
	some privilege in data.reference.cluster[role]
	grants(privilege)
} else := {"allow": true, "rule": concat("", ["constraint:", min(granting)])} if {
	input.request.kind == "content"
	not restricted
	count(granting) > 0
} else := {"allow": true, "rule": "role_privileges"} if {
	input.request.kind == "content"
	count(input.request.targets) > 0
	every t in input.request.targets {
		target_ok(t)
	}
} else := {"allow": false, "rule": ""}

restricted if startswith(input.request.path, "/.security")

restricted if {
	some t in input.request.targets
	some i in t.indices
	startswith(i, ".security")
}

target_ok(t) if {
	startswith(t.action, "cluster:")
	some role in input.user.roles
	some privilege in data.reference.cluster[role]
	some pattern in data.reference.cluster_actions[privilege]
	glob.match(pattern, ["\u0000"], t.action)
}

target_ok(t) if {
	not startswith(t.action, "cluster:")
	count(t.indices) > 0
	every i in t.indices {
		index_ok(t.action, i)
	}
}

target_ok(t) if {
	not startswith(t.action, "cluster:")
	count(t.indices) == 0
	index_ok(t.action, "*")
}

index_ok(action, index) if {
	some role in input.user.roles
	some entry in data.reference.indices[role]
	some privilege in entry.privileges
	some pattern in data.reference.index_actions[privilege]
	glob.match(pattern, ["\u0000"], action)
	some name in entry.names
	glob.match(name, ["\u0000"], index)
	not refused(entry, index)
}

refused(entry, index) if {
	startswith(index, ".security")
	not entry.allow_restricted_indices
}

grants(p) if p in {input.request.privilege, "all"}

grants(p) if input.request.privilege in data.reference.implies[p]

granting contains c.id if {
	some c in data.reference.constraints
	method_ok(c)
	role_ok(c)
	path_ok(c)
}

method_ok(c) if "*" in c.methods

method_ok(c) if {
	some m in c.methods
	upper(m) == upper(input.request.method)
}

role_ok(c) if "*" in c.roles

role_ok(c) if {
	some r in c.roles
	r in input.user.roles
}

path_ok(c) if {
	some p in c.paths
	covers(trim_right(p, "/"), input.request.path)
}

# "/", "*" and "/*" cover everything.
covers(p, _) if p in {"", "*", "/*"}

covers(p, path) if {
	not contains(p, "*")
	path == p
}

covers(p, path) if {
	not contains(p, "*")
	startswith(path, concat("", [p, "/"]))
}

# A glob path covers a path when it matches one of its segment prefixes.
covers(p, path) if {
	contains(p, "*")
	not p in {"*", "/*"}
	segments := split(path, "/")
	some i in numbers.range(1, count(segments) - 1)
	glob.match(p, ["/"], concat("/", array.slice(segments, 0, i + 1)))
}
`

type reference struct {
	query rego.PreparedEvalQuery
}

// refImplies is what Elasticsearch's cluster privileges of genPrivileges
// imply (ClusterPrivilegeResolver), written independently of
// rego/roles.rego.
var refImplies = map[string]any{
	"manage_security": []any{"read_security", "manage_api_key", "manage_own_api_key"},
	"manage_api_key":  []any{"manage_own_api_key"},
	"manage":          []any{"monitor"},
}

func newReference(t testing.TB, cs []Constraint, rs []Role) *reference {
	t.Helper()
	list := make([]any, len(cs))
	for i, c := range cs {
		list[i] = map[string]any{"id": c.ID, "paths": strs(c.Paths), "methods": strs(c.Methods), "roles": strs(c.Roles)}
	}
	cluster := map[string]any{"superuser": []any{"all"}}
	indices := map[string]any{}
	for _, r := range rs {
		cluster[r.Name] = strs(r.Cluster)
		var entries []any
		for _, ip := range r.Indices {
			entries = append(entries, map[string]any{"names": strs(ip.Names), "privileges": strs(ip.Privileges), "allow_restricted_indices": ip.AllowRestrictedIndices})
		}
		indices[r.Name] = entries
	}
	store := inmem.NewFromObject(map[string]any{"reference": map[string]any{
		"constraints":     list,
		"cluster":         cluster,
		"implies":         refImplies,
		"indices":         indices,
		"index_actions":   builtinDocument(t, "data.portcullis.roles.index_privilege_actions"),
		"cluster_actions": builtinDocument(t, "data.portcullis.roles.cluster_privilege_actions"),
	}})
	q, err := rego.New(
		rego.Query("data.reference.decision"),
		rego.Module("reference.rego", referencePolicy),
		rego.Store(store),
		rego.StrictBuiltinErrors(true), // as the engine: an invalid glob fails the decision
	).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &reference{query: q}
}

// builtinDocument evaluates ref in the embedded policy files: the privilege
// tables of rego/roles.rego, Elasticsearch's data, which the reference
// shares (it checks the logic that uses them).
func builtinDocument(t testing.TB, ref string) any {
	t.Helper()
	srcs, err := loadPolicy("")
	if err != nil {
		t.Fatal(err)
	}
	var opts []func(*rego.Rego)
	for _, s := range srcs {
		opts = append(opts, rego.Module(s.name, s.text))
	}
	rs, err := rego.New(append(opts, rego.Query(ref))...).Eval(context.Background())
	if err != nil || len(rs) != 1 {
		t.Fatalf("%s: %v, %v", ref, rs, err)
	}
	return rs[0].Expressions[0].Value
}

func strs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// decide returns the reference's decision; failed if its evaluation failed
// (a builtin error: an invalid glob pattern).
func (r *reference) decide(t testing.TB, in *Input) (allow bool, rule string, failed bool) {
	t.Helper()
	targets := make([]any, len(in.Request.Targets))
	for i, tg := range in.Request.Targets {
		targets[i] = map[string]any{"action": tg.Action, "indices": strs(tg.Indices)}
	}
	input := map[string]any{
		"user":    map[string]any{"roles": strs(in.User.Roles)},
		"request": map[string]any{"method": in.Request.Method, "path": in.Request.Path, "kind": in.Request.Kind, "privilege": in.Request.Privilege, "targets": targets},
	}
	rs, err := r.query.Eval(context.Background(), rego.EvalInput(input))
	if err != nil {
		return false, "", true
	}
	if len(rs) != 1 {
		t.Fatalf("reference: %v", rs)
	}
	d := rs[0].Expressions[0].Value.(map[string]any)
	return d["allow"].(bool), d["rule"].(string), false
}

// gen draws constraints and requests from small vocabularies, so that they
// share prefixes and collide often.
type gen struct{ r *rand.Rand }

var (
	genSegments = []string{"aaa", "aaab", "aa", "b", "logs-2024", "logs-x", "logs", "_search", "_doc", "1", "x%2Fy", "ünï"}
	genMethods  = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
	genRoles    = []string{"r1", "r2", "r3", "r4", "r5"}
	// genPrivileges are cluster privileges related by implication.
	genPrivileges = []string{"monitor", "manage", "manage_security", "manage_api_key", "manage_own_api_key", "read_security", "all"}
	// genIndexNames are index name patterns of roles: plain, prefixes,
	// globs, restricted. All valid globs: with an invalid one ("{a"),
	// glob.match fails, and which decisions reach it depends on the order
	// the two policies try patterns in (docs/policy.md, "Precomputed
	// rules").
	genIndexNames = []string{"logs-*", "logs-*", "logs-2024", "*", "*", "app-1", ".security*", ".security-audit-*", "metrics", "logs-**"}
	genIndexPrivs = []string{"read", "read", "write", "create_doc", "index", "view_index_metadata", "all", "all", "manage", "delete", "monitor", "none"}
	// genActions are actions of targets, index and cluster ones.
	genActions = []string{
		"indices:data/read/search", "indices:data/read/search", "indices:data/read/get", "indices:data/read/get", "indices:data/write/bulk[s]", "indices:data/write/index",
		"indices:data/write/index:op_type/create", "indices:data/write/index:op_type/index", "indices:data/write/index[s]",
		"indices:admin/create", "indices:admin/mappings/get", "indices:monitor/stats", "indices:admin/template/put",
		"cluster:monitor/health", "cluster:admin/settings/update", "cluster:admin/xpack/security/user/get",
	}
	// genTargetIndices are index expressions of targets: names, wildcards,
	// restricted, odd bytes.
	genTargetIndices = []string{"logs-2024", "logs-*", "app-1", "app-2", "metrics", ".security-7", ".security-audit-1", "*", "l*", "logs-\x00x", "{logs,app}-1", "", "logs-2024\x01"}
)

func (g gen) pick(ss []string) string { return ss[g.r.IntN(len(ss))] }

func (g gen) chance(p float64) bool { return g.r.Float64() < p }

// mixCase changes the case of some letters of s.
func (g gen) mixCase(s string) string {
	b := []byte(s)
	for i := range b {
		if g.chance(0.3) {
			b[i] = strings.ToLower(string(b[i]))[0]
		}
	}
	return string(b)
}

func (g gen) constraintPath() string {
	switch {
	case g.chance(0.03):
		return "*"
	case g.chance(0.03):
		return "/*"
	case g.chance(0.03):
		return "/"
	}
	var b strings.Builder
	for range 1 + g.r.IntN(3) {
		seg := g.pick(genSegments)
		if g.chance(0.2) {
			runes := []rune(seg)
			i := g.r.IntN(len(runes) + 1)
			seg = string(runes[:i]) + "*" + string(runes[i:]) // a glob: *, prefix*, *suffix, in*side
			if g.chance(0.3) {
				seg = "*"
			}
		}
		b.WriteString("/" + seg)
	}
	if g.chance(0.1) {
		b.WriteString("/")
	}
	return b.String()
}

func (g gen) constraint(id string) Constraint {
	c := Constraint{ID: id}
	for range 1 + g.r.IntN(2) {
		c.Paths = append(c.Paths, g.constraintPath())
	}
	if g.chance(0.15) {
		c.Methods = []string{"*"}
	} else {
		for range 1 + g.r.IntN(2) {
			c.Methods = append(c.Methods, g.mixCase(g.pick(genMethods)))
		}
	}
	if g.chance(0.1) {
		c.Roles = []string{"*"}
	} else {
		for range 1 + g.r.IntN(2) {
			c.Roles = append(c.Roles, g.pick(genRoles))
		}
	}
	return c
}

// roles returns roles for some of genRoles, so that a user's roles are
// sometimes API roles, sometimes only constraint roles.
func (g gen) roles() []Role {
	var rs []Role
	for _, name := range genRoles {
		if !g.chance(0.5) {
			continue
		}
		r := Role{Name: name}
		for range g.r.IntN(3) {
			p := g.pick(genPrivileges)
			if p == "all" && g.chance(0.7) {
				p = "monitor" // keep "all" rare
			}
			r.Cluster = append(r.Cluster, p)
		}
		for range 1 + g.r.IntN(2) {
			ip := IndexPrivileges{AllowRestrictedIndices: g.chance(0.3)}
			for range 1 + g.r.IntN(2) {
				ip.Names = append(ip.Names, g.pick(genIndexNames))
			}
			for range 1 + g.r.IntN(2) {
				ip.Privileges = append(ip.Privileges, g.pick(genIndexPrivs))
			}
			r.Indices = append(r.Indices, ip)
		}
		rs = append(rs, r)
	}
	return rs
}

func (g gen) request() *Input {
	var path strings.Builder
	for range g.r.IntN(5) {
		path.WriteString("/")
		if !g.chance(0.03) { // else an empty segment
			path.WriteString(g.pick(genSegments))
		}
	}
	if path.Len() == 0 || g.chance(0.05) {
		path.WriteString("/")
	}
	in := &Input{Request: Request{Method: g.mixCase(g.pick(genMethods)), Path: path.String(), Kind: KindContent}}
	if g.chance(0.03) {
		in.Request.Method = "PROPFIND"
	}
	switch {
	case g.chance(0.15):
		in.Request.Kind, in.Request.Privilege = KindManagement, g.pick(genPrivileges[:6])
	case g.chance(0.03):
		in.Request.Kind = "other"
	}
	if in.Request.Kind == KindContent && g.chance(0.6) {
		for range 1 + g.r.IntN(2) {
			t := Target{Action: g.pick(genActions)}
			for range g.r.IntN(3) {
				t.Indices = append(t.Indices, g.pick(genTargetIndices))
			}
			in.Request.Targets = append(in.Request.Targets, t)
		}
		switch {
		case g.chance(0.1):
			in.Request.Path = "/.security-7/_search"
		case g.chance(0.5): // a path fewer constraints cover, as _bulk's
			in.Request.Path = g.pick([]string{"/_bulk", "/_msearch", "/_mget"})
		}
	}
	for _, r := range genRoles {
		if g.chance(0.4) {
			in.User.Roles = append(in.User.Roles, r)
		}
	}
	if g.chance(0.05) {
		in.User.Roles = append(in.User.Roles, "superuser")
	}
	return in
}

// TestMatchesReference checks the engine against referencePolicy on random
// constraints and requests.
func TestMatchesReference(t *testing.T) {
	rounds, requests := 40, 250
	if testing.Short() {
		rounds = 5
	}
	g := gen{rand.New(rand.NewPCG(1, 2))}
	ctx := context.Background()
	fast, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	cached, err := New(Config{}, WithDecisionCache(64))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New(Config{}, WithDecisionCache(0), withoutPrecomputation())
	if err != nil {
		t.Fatal(err)
	}
	var allowed, compared, failed int
	rules := map[string]int{}
	for round := range rounds {
		cs := make([]Constraint, 1+g.r.IntN(60))
		for i, n := range g.r.Perm(len(cs)) {
			cs[i] = g.constraint(fmt.Sprintf("c%02d", n))
		}
		rs := g.roles()
		for _, e := range []*Engine{fast, cached, plain} {
			if err := e.SetConstraints(ctx, cs); err != nil {
				t.Fatalf("round %d: SetConstraints: %v", round, err)
			}
			if err := e.SetRoles(ctx, rs); err != nil {
				t.Fatalf("round %d: SetRoles: %v", round, err)
			}
		}
		ref := newReference(t, cs, rs)
		for range requests {
			in := g.request()
			wantAllow, wantRule, wantFailed := ref.decide(t, in)
			if wantFailed {
				for _, e := range []*Engine{plain, fast, cached} {
					if d, err := e.Decide(ctx, in); err == nil {
						t.Fatalf("round %d: %s %s roles %v targets %+v: reference fails, engine decides %+v\nroles: %+v", round, in.Request.Method, in.Request.Path, in.User.Roles, in.Request.Targets, d, rs)
					}
				}
				failed++
				continue
			}
			want, err := plain.Decide(ctx, in)
			if err != nil {
				t.Fatalf("round %d: %s %s roles %v targets %+v: reference decides allow=%v rule=%q, engine fails: %v\nroles: %+v", round, in.Request.Method, in.Request.Path, in.User.Roles, in.Request.Targets, wantAllow, wantRule, err, rs)
			}
			for _, e := range []*Engine{plain, fast, cached, cached} {
				d, err := e.Decide(ctx, in)
				if err != nil {
					t.Fatalf("Decide: %v", err)
				}
				if d.Allow != wantAllow || d.Rule != wantRule || d.Reason != want.Reason {
					t.Fatalf("round %d: %s %s roles %v kind %s privilege %q targets %+v:\nengine    allow=%v rule=%q (%s)\nreference allow=%v rule=%q (plain engine: %s)\nconstraints: %+v\nroles: %+v\n%s",
						round, in.Request.Method, in.Request.Path, in.User.Roles, in.Request.Kind, in.Request.Privilege, in.Request.Targets,
						d.Allow, d.Rule, d.Reason, wantAllow, wantRule, want.Reason, cs, rs, e.Generated())
				}
			}
			compared++
			rules[strings.SplitN(wantRule, ":", 2)[0]]++
			if wantAllow {
				allowed++
			}
		}
	}
	t.Logf("%d decisions compared, %d allowed; by rule: %v; %d failures compared", compared, allowed, rules, failed)
	if allowed < compared/10 || allowed > compared*9/10 {
		t.Errorf("%d of %d allowed: the generator no longer exercises both outcomes", allowed, compared)
	}
	for _, rule := range []string{"", "deny", "superuser", "privilege", "constraint", "role_privileges"} {
		if rules[rule] < compared/100 {
			t.Errorf("%d of %d decisions by rule %q: the generator no longer exercises it", rules[rule], compared, rule)
		}
	}
}
