package policy

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gobwas/glob"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Which named privileges grant an action.
//
// Elasticsearch ends a 403's reason with ", this action is granted by the
// index privileges [create_doc,create,delete,index,write,all]" (or the
// cluster privileges): every named privilege whose action patterns match the
// action, least powerful first (AuthorizationDenialMessages.actionDenied,
// IndexPrivilege.findPrivilegesThatGrant, ClusterPrivilegeResolver). Here
// the privilege → action pattern tables are the policy's own data,
// data.portcullis.roles.index_privilege_actions and
// cluster_privilege_actions (rego/roles.rego), read out of the compiled
// policy files and matched as the policy matches them (glob.match with the
// delimiter "\u0000"), so the hint names exactly what the policy grants.
//
// Order, as Elasticsearch's privilege registries sort themselves:
//   - index privileges (Privilege.sortByAccessLevel): by the number of other
//     privileges each is a subset of, descending, then by name;
//   - cluster privileges (ClusterPrivilegeResolver.sortByAccessLevel): by
//     the number of other privileges each implies, ascending, then by name.
//
// A privilege is a subset of another when each of its patterns is covered
// by one of the other's: the same pattern, or one whose glob matches it as a
// literal string ("indices:data/write/*" covers "indices:data/write/index*").
// That is exact for the tables' prefix patterns.

// Privilege kinds returned by PrivilegesGranting.
const (
	PrivilegeKindIndex   = "index"
	PrivilegeKindCluster = "cluster"
)

// maxGrantingActions bounds the actions whose answer a snapshot keeps.
const maxGrantingActions = 4096

var (
	indexPrivilegeActionsRef   = ast.MustParseRef("data.portcullis.roles.index_privilege_actions")
	clusterPrivilegeActionsRef = ast.MustParseRef("data.portcullis.roles.cluster_privilege_actions")
)

// privilegeTable is one privilege → action patterns table, compiled.
type privilegeTable struct {
	names    []string // in registry order (see above)
	patterns map[string][]string
	globs    map[string][]*glob.Pattern
}

// privilegeTables are what the policy files say privileges grant.
type privilegeTables struct {
	index, cluster privilegeTable
}

// grantingSnapshot serves one compiled policy (one prepared): the tables
// of its policy files, the index privileges its roles hold, and the
// answers given so far.
type grantingSnapshot struct {
	p      *prepared
	src    []source // the policy files the tables come from
	tables *privilegeTables
	// roleIndexPrivileges[role] are the privileges of the role's indices
	// entries, all entries together.
	roleIndexPrivileges map[string][]string

	mu      sync.Mutex
	answers map[string]granting
}

type granting struct {
	kind  string
	names []string
}

// PrivilegesGranting returns the named privileges that grant action, in
// Elasticsearch's order (least powerful first, "all" last), and their kind:
// PrivilegeKindCluster for a cluster action (cluster:*,
// indices:admin/template/*, indices:admin/index_template/*, as
// Elasticsearch's ClusterPrivilegeResolver.isClusterAction),
// PrivilegeKindIndex for another indices:* action, "" and no names for
// anything else or when the policy's tables name no privilege granting it.
//
// The tables are read once per policy revision and each action's answer is
// kept (a bounded number of actions); the returned slice must not be
// modified.
func (e *Engine) PrivilegesGranting(action string) (kind string, names []string) {
	kind = privilegeKind(action)
	if kind == "" {
		return "", nil
	}
	s, err := e.grantingSnapshot()
	if err != nil {
		e.log.Error("privilege_tables_unavailable", "error", err)
		return "", nil
	}
	s.mu.Lock()
	a, ok := s.answers[action]
	s.mu.Unlock()
	if ok {
		return a.kind, a.names
	}
	t := &s.tables.index
	if kind == PrivilegeKindCluster {
		t = &s.tables.cluster
	}
	a = granting{kind: kind, names: t.granting(action)}
	if len(a.names) == 0 {
		a.kind = ""
	}
	s.mu.Lock()
	if len(s.answers) < maxGrantingActions {
		s.answers[action] = a
	}
	s.mu.Unlock()
	return a.kind, a.names
}

// GrantsOnSomeIndex reports whether one of roles holds an index privilege
// that grants index action on at least one index: how Elasticsearch
// authorizes the top-level action of a composite request (bulk, mget,
// msearch …) before each of its items (RBACEngine
// shouldAuthorizeIndexActionNameOnly). The superuser role grants
// everything. Roles are those compiled with SetRoles, as the policy's
// role_privileges rule reads them.
func (e *Engine) GrantsOnSomeIndex(roles []string, action string) bool {
	if slices.Contains(roles, "superuser") {
		return true
	}
	kind, granting := e.PrivilegesGranting(action)
	if kind != PrivilegeKindIndex {
		return false
	}
	s, err := e.grantingSnapshot()
	if err != nil {
		return false
	}
	for _, r := range roles {
		for _, p := range s.roleIndexPrivileges[r] {
			if slices.Contains(granting, p) {
				return true
			}
		}
	}
	return false
}

// privilegeKind is the kind of privilege that may grant action.
func privilegeKind(action string) string {
	switch {
	case strings.HasPrefix(action, "cluster:"),
		strings.HasPrefix(action, "indices:admin/template/"),
		strings.HasPrefix(action, "indices:admin/index_template/"):
		return PrivilegeKindCluster
	case strings.HasPrefix(action, "indices:"):
		return PrivilegeKindIndex
	}
	return ""
}

// grantingSnapshot returns the snapshot of the current policy, building it
// on the first call after a change. Building takes e.mu briefly; the
// tables are recompiled only when the policy files changed (Reload), not
// on a change of constraints or roles.
func (e *Engine) grantingSnapshot() (*grantingSnapshot, error) {
	p := e.cur.Load()
	if s := e.granting.Load(); s != nil && s.p == p {
		return s, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	// Under mu, e.cur, e.policy and e.roles belong together.
	p = e.cur.Load()
	prev := e.granting.Load()
	if prev != nil && prev.p == p {
		return prev, nil
	}
	s := &grantingSnapshot{p: p, src: e.policy, answers: map[string]granting{}}
	if prev != nil && sameSources(prev.src, e.policy) {
		s.tables = prev.tables
	} else {
		t, err := loadPrivilegeTables(e.policy)
		if err != nil {
			return nil, err
		}
		s.tables = t
	}
	s.roleIndexPrivileges = make(map[string][]string, len(e.roles))
	for _, r := range e.roles {
		var ps []string
		for _, ip := range r.Indices {
			for _, p := range ip.Privileges {
				if !slices.Contains(ps, p) {
					ps = append(ps, p)
				}
			}
		}
		s.roleIndexPrivileges[r.Name] = ps
	}
	e.granting.Store(s)
	return s, nil
}

// sameSources reports whether a and b are the same loaded policy files
// (the same slice: the engine replaces it on Reload, never edits it).
func sameSources(a, b []source) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// loadPrivilegeTables compiles the policy files alone (the tables are
// constants of the files, not of the generated module) and reads the two
// tables out of them.
func loadPrivilegeTables(srcs []source) (*privilegeTables, error) {
	gen, err := generate(nil, nil)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	c, _, _, _, err := compile(ctx, srcs, gen, false, false, nil)
	if err != nil {
		return nil, err
	}
	read := func(ref ast.Ref) (map[string][]string, error) {
		rs, err := rego.New(rego.Compiler(c), rego.Query(ref.String())).Eval(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: read %v: %w", ErrEval, ref, err)
		}
		out := map[string][]string{}
		if len(rs) == 0 || len(rs[0].Expressions) == 0 {
			return out, nil // the policy has no such table: nothing grants
		}
		m, ok := rs[0].Expressions[0].Value.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%w: %v is not an object", ErrEval, ref)
		}
		for name, v := range m {
			list, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: %v[%q] is not an array", ErrEval, ref, name)
			}
			for _, x := range list {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("%w: %v[%q] holds a non-string", ErrEval, ref, name)
				}
				out[name] = append(out[name], s)
			}
		}
		return out, nil
	}
	index, err := read(indexPrivilegeActionsRef)
	if err != nil {
		return nil, err
	}
	cluster, err := read(clusterPrivilegeActionsRef)
	if err != nil {
		return nil, err
	}
	it, err := newPrivilegeTable(index, false)
	if err != nil {
		return nil, err
	}
	ct, err := newPrivilegeTable(cluster, true)
	if err != nil {
		return nil, err
	}
	return &privilegeTables{index: it, cluster: ct}, nil
}

// newPrivilegeTable compiles patterns and orders the privilege names as
// Elasticsearch's index registry (cluster false) or cluster registry
// (cluster true) orders them.
func newPrivilegeTable(patterns map[string][]string, cluster bool) (privilegeTable, error) {
	t := privilegeTable{patterns: patterns, globs: make(map[string][]*glob.Pattern, len(patterns))}
	for name, ps := range patterns {
		for _, p := range ps {
			g, err := glob.Compile(p, 0)
			if err != nil {
				return t, fmt.Errorf("%w: privilege %q: pattern %q: %w", ErrCompile, name, p, err)
			}
			t.globs[name] = append(t.globs[name], g)
		}
		t.names = append(t.names, name)
	}
	rank := make(map[string]int, len(t.names))
	for _, a := range t.names {
		for _, b := range t.names {
			if a == b {
				continue
			}
			if cluster && t.subset(b, a) { // a implies b
				rank[a]++
			}
			if !cluster && t.subset(a, b) { // a is a subset of b
				rank[a]--
			}
		}
	}
	slices.SortFunc(t.names, func(a, b string) int {
		if rank[a] != rank[b] {
			return rank[a] - rank[b]
		}
		return strings.Compare(a, b)
	})
	return t, nil
}

// subset reports whether every pattern of privilege a is covered by one of
// privilege b's.
func (t *privilegeTable) subset(a, b string) bool {
	for _, pa := range t.patterns[a] {
		covered := false
		for i, pb := range t.patterns[b] {
			if pa == pb || t.globs[b][i].Match(pa) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

// granting lists, in registry order, the privileges one of whose patterns
// matches action.
func (t *privilegeTable) granting(action string) []string {
	var out []string
	for _, name := range t.names {
		for _, g := range t.globs[name] {
			if g.Match(action) {
				out = append(out, name)
				break
			}
		}
	}
	return out
}
