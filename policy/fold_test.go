package policy

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// foldModule exercises what fold precomputes and what it must leave as
// written.
const foldModule = `package portcullis.extra

table := {x | some x in numbers.range(1, 3)}

constant := 1

via_function := double(21)

double(x) := x * 2

roles_count := count(data.portcullis.constraints.roles)

default defaulted := "default"

defaulted := "set" if count(table) > 5

reads_input := input.request.path

reads_input_indirectly := reads_input

reads_input_in_function := impure(1)

impure(x) := x if input.request.path

reads_input_in_every := true if {
	every x in [1] {
		impure(x)
	}
}

now := time.now_ns()

index_size := count(data.portcullis.constraints.index)

fails := 1 / 0

undefined_rule := x if x := data.nothing.here

partial contains 1 if true
`

func TestFold(t *testing.T) {
	dir := writePolicy(t, map[string]string{"extra.rego": foldModule, "deny.rego": `package portcullis.authz

deny contains sprintf("folded %v %v %v", [data.portcullis.extra.via_function, data.portcullis.extra.defaulted, data.portcullis.extra.table]) if {
	input.request.path == "/folded"
}
`})
	e := newEngine(t, Config{Dir: dir}, testConstraints)
	if err := e.SetRoles(context.Background(), testRoles); err != nil {
		t.Fatal(err)
	}
	// The precomputed values are those an evaluation computes.
	for _, opts := range [][]Option{nil, {withoutPrecomputation()}} {
		e := newEngine(t, Config{Dir: dir}, testConstraints, opts...)
		d, err := e.Decide(context.Background(), content("GET", "/folded", "user"))
		if err != nil || d.Reason != "folded 42 default {1, 2, 3}" {
			t.Errorf("Decide = %+v, %v", d, err)
		}
	}
	folded := e.cur.Load().folded
	for _, want := range []string{
		"data.portcullis.extra.table", "data.portcullis.extra.via_function", "data.portcullis.extra.roles_count",
		"data.portcullis.extra.defaulted",
		"data.portcullis.authz.index_grants", "data.portcullis.authz.cluster_grants",
	} {
		if !slices.Contains(folded, want) {
			t.Errorf("%s not precomputed; precomputed: %v", want, folded)
		}
	}
	for _, not := range []string{
		"data.portcullis.extra.constant",                // a constant already
		"data.portcullis.extra.reads_input",             // reads the input
		"data.portcullis.extra.reads_input_indirectly",  // through a rule
		"data.portcullis.extra.reads_input_in_function", // through a function
		"data.portcullis.extra.reads_input_in_every",
		"data.portcullis.extra.now",            // nondeterministic
		"data.portcullis.extra.index_size",     // left out of the folding compilation
		"data.portcullis.extra.fails",          // fails: a request reaching it fails
		"data.portcullis.extra.undefined_rule", // undefined
		"data.portcullis.extra.partial",        // not a complete rule
		"data.portcullis.extra.double",         // a function
		"data.portcullis.authz.decision",
	} {
		if slices.Contains(folded, not) {
			t.Errorf("%s precomputed", not)
		}
	}
}

// TestFoldKeepsFailures: a rule left as written because it fails still
// fails a decision that reaches it, as without precomputation.
func TestFoldKeepsFailures(t *testing.T) {
	dir := writePolicy(t, map[string]string{"extra.rego": foldModule, "deny.rego": `package portcullis.authz

deny contains "never" if data.portcullis.extra.fails > 1
`})
	for _, opts := range [][]Option{nil, {withoutPrecomputation()}} {
		e := newEngine(t, Config{Dir: dir}, testConstraints, opts...)
		if d, err := e.Decide(context.Background(), content("GET", "/aaa", "user")); !errors.Is(err, ErrEval) || d.Allow {
			t.Errorf("Decide = %+v, %v; want ErrEval", d, err)
		}
	}
}

// TestFoldOffWithWith: `with` anywhere in the policy could evaluate a rule
// with other data than the policy's, so nothing is precomputed nor
// memoised.
func TestFoldOffWithWith(t *testing.T) {
	dir := writePolicy(t, map[string]string{"with.rego": `package portcullis.extra

mocked := x if {
	x := data.portcullis.authz.cluster_grants with data.portcullis.roles as {}
}
`})
	e := newEngine(t, Config{Dir: dir}, testConstraints)
	p := e.cur.Load()
	if len(p.folded) > 0 {
		t.Errorf("precomputed %v; want none", p.folded)
	}
	// No memo either, whichever evaluator runs it.
	switch ev := p.eval.(type) {
	case *evaluator:
		if ev.memo != nil {
			t.Error("topdown memo on; want none")
		}
	case *program:
		if ev.memo != nil {
			t.Error("interpreter memo on; want none")
		}
	default:
		t.Fatalf("evaluator %T", p.eval)
	}
	// Decisions stand, computed as written.
	if d, err := e.Decide(context.Background(), content("GET", "/aaa", "user")); err != nil || d.Rule != "constraint:c1" {
		t.Errorf("Decide = %+v, %v", d, err)
	}
}

// TestFoldFollowsRoles: the precomputed tables follow the roles, and a
// change of constraints alone reuses them.
func TestFoldFollowsRoles(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, testConstraints)
	in := management("manage_security", "r")
	for _, tt := range []struct {
		roles []Role
		allow bool
	}{
		{nil, false},
		{[]Role{{Name: "r", Cluster: []string{"manage_security"}}}, true},
		{[]Role{{Name: "r", Cluster: []string{"monitor"}}}, false},
		{[]Role{{Name: "r", Cluster: []string{"all"}}}, true},
	} {
		if err := e.SetRoles(ctx, tt.roles); err != nil {
			t.Fatal(err)
		}
		if err := e.SetConstraints(ctx, testConstraints[:2]); err != nil {
			t.Fatal(err)
		}
		if d, err := e.Decide(ctx, in); err != nil || d.Allow != tt.allow {
			t.Errorf("roles %+v: %+v, %v; want allow=%v", tt.roles, d, err, tt.allow)
		}
	}
}

func TestReadsConstraintsData(t *testing.T) {
	for ref, want := range map[string]bool{
		"data.portcullis.constraints.index":          true,
		`data.portcullis.constraints.globs["/"]`:     true,
		"data.portcullis.constraints":                true,
		"data.portcullis[x]":                         true,
		"data[x].constraints.index":                  true,
		"data":                                       true,
		"data.portcullis.constraints.roles":          false,
		"data.portcullis.constraints.roles[x].index": false,
		"data.portcullis.roles":                      false,
		"input.index":                                false,
	} {
		if got := readsConstraintsData(mustRef(t, ref)); got != want {
			t.Errorf("readsConstraintsData(%s) = %v, want %v", ref, got, want)
		}
	}
}

func mustRef(t *testing.T, s string) ast.Ref {
	t.Helper()
	r, err := ast.ParseRef(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
