package policy

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

func TestMemoFuncs(t *testing.T) {
	c, _, _, _, err := compile(context.Background(), mustLoad(t), mustGenerate(t, nil, testRoles), true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range memoFuncs(c) {
		names = append(names, fmt.Sprintf("%v/%d", f.path, f.arity))
	}
	for _, want := range []string{"data.portcullis.authz.role_grants_index/3", "data.portcullis.authz.role_grants_cluster_action/2"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not memoised; memoised: %v", want, names)
		}
	}
	for _, not := range []string{"data.portcullis.authz.index_granted/2", "data.portcullis.authz.target_granted/1"} {
		if slices.Contains(names, not) {
			t.Errorf("%s memoised: it reads the input", not)
		}
	}
}

func TestMemoEligible(t *testing.T) {
	f := ast.MustParseRef("data.p.f")
	m := newMemo([]memoFunc{{path: f, arity: 2}}, 8)
	call := func(args ...*ast.Term) ast.Ref { return append(ast.Ref{ast.NewTerm(f)}, args...) }
	for _, tt := range []struct {
		ref  ast.Ref
		want bool
	}{
		{call(ast.StringTerm("a"), ast.NumberTerm("1")), true},
		{call(ast.StringTerm("a"), ast.BooleanTerm(true)), true},
		{call(ast.StringTerm("a"), ast.ArrayTerm(ast.StringTerm("b"))), false}, // not a scalar
		{call(ast.StringTerm("a")), false},                                     // arity
		{ast.Ref{ast.NewTerm(ast.MustParseRef("data.p.g")), ast.StringTerm("a"), ast.StringTerm("b")}, false},
		{ast.MustParseRef("data.p.f.a.b"), false}, // a rule's document, not a call
	} {
		if got := m.eligible(tt.ref); got != tt.want {
			t.Errorf("eligible(%v) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

// TestMemoDetaches: the memo keeps copies of keys and values that share no
// bytes with the request's strings.
func TestMemoDetaches(t *testing.T) {
	f := ast.MustParseRef("data.p.f")
	m := newMemo([]memoFunc{{path: f, arity: 1}}, 8)
	buf := []byte("index-1")
	arg := unsafe.String(&buf[0], len(buf)) // as a request buffer would
	ref := ast.Ref{ast.NewTerm(f), ast.StringTerm(arg)}
	value := ast.ObjectTerm(ast.Item(ast.StringTerm(arg), ast.ArrayTerm(ast.StringTerm(arg), ast.NumberTerm("1"))))
	m.put(ref, value)
	got := m.get(ref)
	if got == nil || !got.Equal(value) {
		t.Fatalf("get = %v, want %v", got, value)
	}
	ast.WalkTerms(got, func(x *ast.Term) bool {
		if s, ok := x.Value.(ast.String); ok && unsafe.StringData(string(s)) == &buf[0] {
			t.Errorf("value shares the argument's bytes")
		}
		return false
	})
	copy(buf, "xxxxxxx") // the caller reuses its buffer
	if m.get(ast.Ref{ast.NewTerm(f), ast.StringTerm("index-1")}) == nil {
		t.Error("key shares the argument's bytes")
	}
}

func TestMemoBounded(t *testing.T) {
	f := ast.MustParseRef("data.p.f")
	const size = 4 * memoShards
	m := newMemo([]memoFunc{{path: f, arity: 1}}, size)
	for i := range 10 * size {
		m.put(ast.Ref{ast.NewTerm(f), ast.IntNumberTerm(i)}, ast.BooleanTerm(true))
	}
	n := 0
	for i := range m.shards {
		for _, es := range m.shards[i].m {
			n += len(es)
		}
		if m.shards[i].n > m.perShard {
			t.Errorf("shard %d holds %d entries, more than %d", i, m.shards[i].n, m.perShard)
		}
	}
	if n > size || n == 0 {
		t.Errorf("memo holds %d entries, want 1..%d", n, size)
	}
}

// TestMemoCommitsOnSuccess: an evaluation that fails leaves nothing in the
// memo; one that succeeds leaves the values of the pure calls it made. With
// topdown and with the interpreter.
func TestMemoCommitsOnSuccess(t *testing.T) {
	dir := writePolicy(t, map[string]string{"fail.rego": `package portcullis.authz

deny contains "too many" if {
	role_grants_index("r", "indices:data/read/search", "logs-1") # computed, then
	to_number(input.request.privilege) > 5 # fails on "x"
}
`})
	for name, opts := range map[string][]Option{
		"topdown": {WithDecisionCache(0), withTopdown()},
		"plan":    {WithDecisionCache(0)},
	} {
		ctx := context.Background()
		e := newEngine(t, Config{Dir: dir}, nil, opts...)
		if err := e.SetRoles(ctx, []Role{{Name: "r", Indices: []IndexPrivileges{{Names: []string{"logs-*"}, Privileges: []string{"read"}}}}}); err != nil {
			t.Fatal(err)
		}
		in := content("GET", "/_search", "r")
		in.Request.Targets = []Target{{Action: "indices:data/read/search", Indices: []string{"logs-1"}}}
		in.Request.Privilege = "x"
		if _, err := e.Decide(ctx, in); !errors.Is(err, ErrEval) {
			t.Fatalf("%s: Decide: %v, want ErrEval", name, err)
		}
		var m *memo
		switch ev := e.cur.Load().eval.(type) {
		case *evaluator:
			m = ev.memo
		case *program:
			m = ev.memo
		}
		if m == nil {
			t.Fatalf("%s: no memo", name)
		}
		call := ast.Ref{ast.NewTerm(ast.MustParseRef("data.portcullis.authz.role_grants_index")), ast.StringTerm("r"), ast.StringTerm("indices:data/read/search"), ast.StringTerm("logs-1")}
		if v := m.get(call); v != nil {
			t.Errorf("%s: a failed evaluation left %v in the memo", name, v)
		}
		in.Request.Privilege = "1"
		if d, err := e.Decide(ctx, in); err != nil || d.Rule != "role_privileges" {
			t.Fatalf("%s: Decide = %+v, %v", name, d, err)
		}
		if v := m.get(call); v == nil || !v.Equal(ast.BooleanTerm(true)) {
			t.Errorf("%s: memo holds %v for %v, want true", name, v, call)
		}
	}
}

// TestFrameCacheMatchesOPA runs random operations on frameCache and on
// OPA's own virtual cache, and compares every answer.
func TestFrameCacheMatchesOPA(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	refs := []ast.Ref{
		ast.MustParseRef("data.a"), ast.MustParseRef("data.a.b"), ast.MustParseRef(`data.a["b"]`),
		ast.MustParseRef("data.a.c"), ast.MustParseRef("data.x.y.z"), ast.MustParseRef(`data.a[1]`),
		{ast.NewTerm(ast.MustParseRef("data.f")), ast.StringTerm("a")},
		{ast.NewTerm(ast.MustParseRef("data.f")), ast.StringTerm("b")},
	}
	for round := range 200 {
		ours, theirs := getFrameCache(nil), topdown.NewVirtualCache()
		depth := 0
		for step := range 50 {
			ref := refs[r.IntN(len(refs))]
			switch op := r.IntN(10); {
			case op == 0:
				ours.Push()
				theirs.Push()
				depth++
			case op == 1 && depth > 0:
				ours.Pop()
				theirs.Pop()
				depth--
			case op < 6:
				var v *ast.Term
				if r.IntN(4) > 0 {
					v = ast.IntNumberTerm(r.IntN(3))
				}
				// The evaluator reuses the slice it passes: so do we.
				scratch := slices.Clone(ref)
				ours.Put(scratch, v)
				theirs.Put(slices.Clone(ref), v)
				scratch[len(scratch)-1] = ast.StringTerm("overwritten")
			default:
				v1, u1 := ours.Get(ref)
				v2, u2 := theirs.Get(ref)
				if u1 != u2 || (v1 == nil) != (v2 == nil) || (v1 != nil && !v1.Equal(v2)) {
					t.Fatalf("round %d step %d: Get(%v) = %v, %v; OPA's = %v, %v", round, step, ref, v1, u1, v2, u2)
				}
			}
		}
		key := func(r ast.Ref) string { return r.String() }
		k1, k2 := ours.Keys(), theirs.Keys()
		s1, s2 := make([]string, len(k1)), make([]string, len(k2))
		for i := range k1 {
			s1[i] = key(k1[i])
		}
		for i := range k2 {
			s2[i] = key(k2[i])
		}
		slices.Sort(s1)
		slices.Sort(s2)
		if !slices.Equal(s1, s2) {
			t.Fatalf("round %d: Keys = %v, OPA's = %v", round, s1, s2)
		}
		ours.release(false)
	}
}

// TestFrameCacheReleaseClears: a pooled frameCache keeps no value of the
// evaluation it served.
func TestFrameCacheReleaseClears(t *testing.T) {
	c := getFrameCache(nil)
	c.Put(ast.MustParseRef("data.a"), ast.StringTerm("secret"))
	entries := c.entries[:cap(c.entries)]
	c.release(false)
	for _, s := range entries {
		if s.value != nil || s.ref != nil {
			t.Fatalf("released cache keeps %v = %v", s.ref, s.value)
		}
	}
}

// TestConcurrentRoleDecisions runs role-privilege decisions, which read and
// fill the memo, from several goroutines (run with -race).
func TestConcurrentRoleDecisions(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, nil, WithDecisionCache(0))
	if err := e.SetRoles(ctx, benchRoles(10)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				n := (w*7 + i) % 10
				in := content("GET", "/_search", fmt.Sprintf("role-%d", n))
				indices := []string{fmt.Sprintf("logs-%d-%d", n, i%3)}
				if i%2 == 1 {
					indices = append(indices, "secret") // refused
				}
				in.Request.Targets = []Target{{Action: "indices:data/read/search", Indices: indices}}
				d, err := e.Decide(ctx, in)
				if err != nil || d.Allow != (i%2 == 0) {
					t.Errorf("Decide(%v) = %+v, %v", in.Request.Targets, d, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func mustLoad(t *testing.T) []source {
	t.Helper()
	srcs, err := loadPolicy("")
	if err != nil {
		t.Fatal(err)
	}
	return srcs
}

func mustGenerate(t *testing.T, cs []Constraint, rs []Role) generated {
	t.Helper()
	g, err := generate(cs, rs)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
