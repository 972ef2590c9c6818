package policy

import (
	"context"
	"fmt"
	"testing"
)

// decisionBenchRoles is the number of roles of BenchmarkDecision's state.
const decisionBenchRoles = 100

// decisionBenchState is a deployment of n constraints over 100 roles, each
// role also granting read and view_index_metadata on its own index pattern
// and monitor on a shared one: per-index grants, tenant globs under a
// literal prefix, method and role wildcards (the shapes of benchConstraints,
// spread over 100 roles instead of 50).
func decisionBenchState(n int) ([]Constraint, []Role) {
	cs := make([]Constraint, 0, n)
	for i := range n {
		c := Constraint{
			ID:      fmt.Sprintf("c%05d", i),
			Paths:   []string{fmt.Sprintf("/index-%d", i)},
			Methods: []string{"GET", "post"},
			Roles:   []string{fmt.Sprintf("role-%d", i%decisionBenchRoles)},
		}
		switch i % 10 {
		case 7:
			c.Paths = []string{fmt.Sprintf("/tenant-%d/logs-*", i)}
		case 8:
			c.Paths = []string{fmt.Sprintf("/data-%d", i)}
			c.Methods = []string{"*"}
		case 9:
			c.Paths = []string{fmt.Sprintf("/pub-%d", i)}
			c.Roles = []string{"*"}
		}
		cs = append(cs, c)
	}
	rs := make([]Role, decisionBenchRoles)
	for i := range rs {
		rs[i] = Role{
			Name:    fmt.Sprintf("role-%d", i),
			Cluster: []string{"monitor"},
			Indices: []IndexPrivileges{
				{Names: []string{fmt.Sprintf("logs-%d-*", i), fmt.Sprintf("metrics-%d", i)}, Privileges: []string{"read", "view_index_metadata"}},
				{Names: []string{"shared-*"}, Privileges: []string{"monitor"}},
			},
		}
	}
	return cs, rs
}

// BenchmarkDecision is the decision `make bench` reports: 10, 1,000 and
// 10,000 constraints and 100 roles; a search granted by a constraint and
// one granted by the index privileges of a role (no constraint covers its
// path: the constraint lookup runs first and finds nothing); each fully
// evaluated (the decision cache off) and served by the decision cache.
func BenchmarkDecision(b *testing.B) {
	byConstraint := &Input{
		User: User{Name: "alice", Roles: []string{"role-4", "role-9"}, Realm: "native", AuthType: "realm"},
		Request: Request{Method: "GET", Path: "/index-4/_search", Kind: KindContent, Action: "indices:data/read/search",
			Targets:   []Target{{Action: "indices:data/read/search", Indices: []string{"index-4"}}},
			RequestID: "req-1", SourceIP: "192.0.2.1"},
	}
	byRole := &Input{
		User: User{Name: "bob", Roles: []string{"role-7", "role-42"}, Realm: "native", AuthType: "realm"},
		Request: Request{Method: "POST", Path: "/logs-7-2026.11/_search", Kind: KindContent, Action: "indices:data/read/search",
			Targets:   []Target{{Action: "indices:data/read/search", Indices: []string{"logs-7-2026.11"}}},
			RequestID: "req-2", SourceIP: "192.0.2.2"},
	}
	for _, n := range []int{10, 1000, 10000} {
		cs, rs := decisionBenchState(n)
		for _, grant := range []struct {
			name string
			in   *Input
			rule string
		}{
			{"constraint", byConstraint, "constraint:c00004"},
			{"role", byRole, "role_privileges"},
		} {
			for _, cache := range []struct {
				name string
				opts []Option
			}{
				{"uncached", []Option{WithDecisionCache(0)}},
				{"cached", nil},
			} {
				b.Run(fmt.Sprintf("constraints=%d/roles=%d/grant=%s/%s", n, decisionBenchRoles, grant.name, cache.name), func(b *testing.B) {
					e := newEngine(b, Config{}, cs, cache.opts...)
					if err := e.SetRoles(context.Background(), rs); err != nil {
						b.Fatal(err)
					}
					benchmarkDecision(b, e, grant.in, grant.rule)
				})
			}
		}
	}
}

func benchmarkDecision(b *testing.B, e *Engine, in *Input, rule string) {
	ctx := context.Background()
	if d, err := e.Decide(ctx, in); err != nil || !d.Allow || d.Rule != rule {
		b.Fatalf("Decide = %+v, %v; want allowed by %s", d, err, rule)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
