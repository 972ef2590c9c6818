package policy

import (
	"context"
	"fmt"
	"testing"
)

// benchConstraints returns n constraints shaped like a real deployment's:
// per-index grants, tenant glob patterns under a literal prefix, method and
// role wildcards, plus two first-segment globs every request of role-4 has
// to try.
func benchConstraints(n int) []Constraint {
	cs := []Constraint{
		{ID: "g0", Paths: []string{"/metrics-*"}, Methods: []string{"GET"}, Roles: []string{"role-4"}},
		{ID: "g1", Paths: []string{"/traces-*/_search"}, Methods: []string{"GET", "POST"}, Roles: []string{"role-4"}},
	}
	for i := range n {
		c := Constraint{
			ID:      fmt.Sprintf("c%05d", i),
			Paths:   []string{fmt.Sprintf("/index-%d", i)},
			Methods: []string{"GET", "post"},
			Roles:   []string{fmt.Sprintf("role-%d", i%50)},
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
	return cs
}

// benchInput is allowed by constraint c00004 after trying g0 and g1.
func benchInput() *Input {
	return &Input{
		User:    User{Name: "alice", Roles: []string{"role-4", "role-9"}, Realm: "native", AuthType: "realm"},
		Request: Request{Method: "GET", Path: "/index-4/_search", Kind: KindContent, Action: "indices:data/read/search", RequestID: "req-1", SourceIP: "192.0.2.1"},
	}
}

var benchSizes = []int{10, 1000, 10000}

// BenchmarkDecide measures a full evaluation: the decision cache is off.
func BenchmarkDecide(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("constraints=%d", n), func(b *testing.B) {
			benchmarkDecide(b, newEngine(b, Config{}, benchConstraints(n), WithDecisionCache(0)))
		})
	}
}

// BenchmarkDecideCached measures a decision served by the decision cache.
func BenchmarkDecideCached(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("constraints=%d", n), func(b *testing.B) {
			benchmarkDecide(b, newEngine(b, Config{}, benchConstraints(n)))
		})
	}
}

func benchmarkDecide(b *testing.B, e *Engine) {
	ctx := context.Background()
	in := benchInput()
	if d, err := e.Decide(ctx, in); err != nil || !d.Allow || d.Rule != "constraint:c00004" {
		b.Fatalf("Decide = %+v, %v", d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Decide(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReference measures the plain linear policy of property_test.go
// on the same constraints: the design's baseline.
func BenchmarkReference(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("constraints=%d", n), func(b *testing.B) {
			ref := newReference(b, benchConstraints(n), nil)
			in := benchInput()
			if allow, rule := ref.decide(b, in); !allow || rule != "constraint:c00004" {
				b.Fatalf("reference = %v %q", allow, rule)
			}
			b.ReportAllocs()
			for b.Loop() {
				ref.decide(b, in)
			}
		})
	}
}

// BenchmarkSetConstraints measures a recompilation.
func BenchmarkSetConstraints(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("constraints=%d", n), func(b *testing.B) {
			e := newEngine(b, Config{}, nil)
			cs := benchConstraints(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := e.SetConstraints(context.Background(), cs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAllocsFlat pins the hot path: a cached decision allocates nothing, and
// an evaluation allocates the same at 10 and at 10,000 constraints.
func TestAllocsFlat(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	ctx := context.Background()
	in := benchInput()
	var perSize []float64
	for _, n := range []int{10, 10000} {
		e := newEngine(t, Config{}, benchConstraints(n), WithDecisionCache(0))
		perSize = append(perSize, testing.AllocsPerRun(200, func() { _, _ = e.Decide(ctx, in) }))
	}
	if perSize[0] != perSize[1] {
		t.Errorf("allocations per decision: %v at 10 constraints, %v at 10,000; want equal", perSize[0], perSize[1])
	}
	const budget = 225 // 207 measured with the restricted-index guard (rego/authz.rego)
	if perSize[1] > budget {
		t.Errorf("allocations per decision = %v, budget %d", perSize[1], budget)
	}

	e := newEngine(t, Config{}, benchConstraints(10000))
	_, _ = e.Decide(ctx, in)
	if a := testing.AllocsPerRun(200, func() { _, _ = e.Decide(ctx, in) }); a != 0 {
		t.Errorf("allocations per cached decision = %v, want 0", a)
	}
}
