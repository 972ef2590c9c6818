package policy

import (
	"context"
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// The embedded policy, and one with the user's deny rules, must be
// evaluated by the interpreter: a change of rego/ that the planner or the
// interpreter cannot take would otherwise fall back to topdown, and its
// cost, without a word.
func TestEmbeddedPolicyIsPlanned(t *testing.T) {
	for name, cfg := range map[string]Config{
		"embedded":   {},
		"deny rules": {Dir: writePolicy(t, map[string]string{"night.rego": denyNight})},
	} {
		e := newEngine(t, cfg, testConstraints)
		if err := e.SetRoles(context.Background(), benchRoles(3)); err != nil {
			t.Fatal(err)
		}
		p := e.cur.Load()
		if p.evaluator != "plan" {
			t.Fatalf("%s: evaluated by %s (%s), want the plan", name, p.evaluator, p.evaluatorReason)
		}
		// And on its fast paths: the decision function called directly,
		// lookups in the input kept, pure functions remembered.
		prog := p.eval.(*program)
		if prog.entry < 0 || prog.nslots == 0 || prog.memo == nil {
			t.Errorf("%s: entry %d, input lookups kept %d, memo %v", name, prog.entry, prog.nslots, prog.memo != nil)
		}
	}
}

// A policy the interpreter declines (a `with` the decision reaches) is
// evaluated by topdown, with the same decisions.
func TestWithFallsBackToTopdown(t *testing.T) {
	dir := writePolicy(t, map[string]string{"with.rego": `package portcullis.authz

deny contains "mocked superuser" if {
	"superuser" in input.user.roles
	is_admin with input.user.roles as ["admin"]
}

is_admin if "admin" in input.user.roles
`})
	e := newEngine(t, Config{Dir: dir}, testConstraints)
	p := e.cur.Load()
	if p.evaluator != "topdown" || p.evaluatorReason == "" {
		t.Fatalf("evaluated by %s (%q), want topdown with a reason", p.evaluator, p.evaluatorReason)
	}
	ctx := context.Background()
	if d, err := e.Decide(ctx, content("GET", "/aaa", "superuser")); err != nil || d.Allow || d.Reason != "mocked superuser" {
		t.Errorf("superuser: %+v, %v; want denied by the mocked rule", d, err)
	}
	if d, err := e.Decide(ctx, content("GET", "/aaa", "user")); err != nil || !d.Allow || d.Rule != "constraint:c1" {
		t.Errorf("user: %+v, %v", d, err)
	}
}

// Deny rules reading the time, the source address and calling builtins
// that fail: the interpreter decides as topdown does, and an error denies.
func TestInterpreterMatchesTopdown(t *testing.T) {
	dir := writePolicy(t, map[string]string{"extra.rego": `package portcullis.authz

deny contains "before the epoch" if time.now_ns() < 0

deny contains "blocked address" if input.request.source_ip == "203.0.113.9"

deny contains "bad number" if to_number(input.request.privilege) > 10

deny contains msg if {
	some prefix in input.request.path_prefixes
	endswith(prefix, "/secret")
	msg := sprintf("no %s", [prefix])
}
`})
	plan := newEngine(t, Config{Dir: dir}, testConstraints, WithDecisionCache(0))
	td := newEngine(t, Config{Dir: dir}, testConstraints, WithDecisionCache(0), withTopdown())
	if p := plan.cur.Load(); p.evaluator != "plan" {
		t.Fatalf("evaluated by %s (%s)", p.evaluator, p.evaluatorReason)
	}
	mk := func(method, path, ip, privilege string, roles ...string) *Input {
		in := content(method, path, roles...)
		in.Request.SourceIP, in.Request.Privilege = ip, privilege
		return in
	}
	ctx := context.Background()
	seen := map[string]bool{}
	for _, in := range []*Input{
		mk("GET", "/aaa", "192.0.2.1", "1", "user"),
		mk("GET", "/aaa", "203.0.113.9", "1", "user"),
		mk("GET", "/aaa/secret/x", "192.0.2.1", "1", "admin"),
		mk("GET", "/aaa", "192.0.2.1", "11", "user"),
		mk("GET", "/aaa", "192.0.2.1", "eleven", "user"), // to_number fails
		mk("TRACE", "/aaa", "192.0.2.1", "1", "user"),
		mk("GET", "/ccc", "192.0.2.1", "1", "b", "a"),
	} {
		want, wantErr := td.Decide(ctx, in)
		got, gotErr := plan.Decide(ctx, in)
		if (gotErr != nil) != (wantErr != nil) || got != want {
			t.Errorf("%s %s %s %s: plan %+v, %v; topdown %+v, %v", in.Request.Method, in.Request.Path, in.Request.SourceIP, in.Request.Privilege, got, gotErr, want, wantErr)
		}
		if gotErr != nil && (got.Allow || !errors.Is(gotErr, ErrEval)) {
			t.Errorf("%s: failed evaluation %+v, %v; want a denial and ErrEval", in.Request.Path, got, gotErr)
		}
		seen[got.Reason] = true
		seen["error"] = seen["error"] || gotErr != nil
	}
	// The cases reach what they are meant to.
	for _, r := range []string{"blocked address", "no /aaa/secret", "bad number", "error", "unsupported method [TRACE]", "no constraint grants [GET /ccc] to roles [a, b]"} {
		if !seen[r] {
			t.Errorf("no decision %q among %v", r, seen)
		}
	}
}

// A literal collection with constant elements is built once, unless a
// statement of the function adds to it later, directly or through a copy.
func TestFoldLiterals(t *testing.T) {
	str := []*ast.Term{ast.StringTerm("a"), ast.StringTerm("b")}
	s := func(i int) ir.Operand { return ir.Operand{Value: ir.StringIndex(i)} }
	local := func(l int) ir.Operand { return ir.Operand{Value: ir.Local(l)} }
	tests := []struct {
		name  string
		stmts []ir.Stmt
		fold  bool
	}{
		{"constant set", []ir.Stmt{
			&ir.MakeSetStmt{Target: 2}, &ir.SetAddStmt{Value: s(0), Set: 2}, &ir.SetAddStmt{Value: s(1), Set: 2},
		}, true},
		{"a variable element", []ir.Stmt{
			&ir.MakeSetStmt{Target: 2}, &ir.SetAddStmt{Value: s(0), Set: 2}, &ir.SetAddStmt{Value: local(3), Set: 2},
		}, false},
		{"added to later", []ir.Stmt{
			&ir.MakeArrayStmt{Target: 2}, &ir.ArrayAppendStmt{Value: s(0), Array: 2},
			&ir.AssignVarStmt{Source: local(5), Target: 6}, &ir.ArrayAppendStmt{Value: s(1), Array: 2},
		}, false},
		{"added to through a copy", []ir.Stmt{
			&ir.MakeObjectStmt{Target: 2}, &ir.ObjectInsertStmt{Key: s(0), Value: s(1), Object: 2},
			&ir.AssignVarStmt{Source: local(2), Target: 4}, &ir.ObjectInsertStmt{Key: s(1), Value: s(1), Object: 4},
		}, false},
		{"empty", []ir.Stmt{&ir.MakeSetStmt{Target: 2}, &ir.AssignVarStmt{Source: local(2), Target: 3}}, false},
	}
	for _, tt := range tests {
		b := &ir.Block{Stmts: tt.stmts}
		foldLiterals([]*ir.Block{b}, str)
		_, folded := b.Stmts[0].(*constStmt)
		if folded != tt.fold {
			t.Errorf("%s: folded %v, want %v (%d statements left)", tt.name, folded, tt.fold, len(b.Stmts))
		}
	}
}

// Concurrent decisions share the program, not their machines.
func TestInterpreterConcurrent(t *testing.T) {
	e := newEngine(t, Config{}, testConstraints, WithDecisionCache(0))
	ctx := context.Background()
	done := make(chan error)
	for g := range 8 {
		go func() {
			for i := range 200 {
				in := content("GET", "/aaa", "user")
				rule := "constraint:c1"
				if (g+i)%2 == 1 {
					in, rule = content("GET", "/pub/x", "anyone"), "constraint:c3"
				}
				d, err := e.Decide(ctx, in)
				if err != nil || d.Rule != rule {
					done <- errors.Join(err, errors.New(d.Rule+" != "+rule))
					return
				}
			}
			done <- nil
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// A panic during an evaluation (a builtin's, or the interpreter's) is an
// error, hence a denial; the process and the next evaluations go on.
func TestInterpreterPanicIsAnError(t *testing.T) {
	ctx := context.Background()
	m := ast.MustParseModuleWithOpts(`package t
p := upper(input.x)`, ast.ParserOptions{RegoVersion: ast.RegoV1})
	p, err := planQuery(ctx, "x = data.t.p", map[string]*ast.Module{"t.rego": m})
	if err != nil {
		t.Fatal(err)
	}
	prog, err := newProgram(ctx, p, ast.NewObject(), generated{})
	if err != nil {
		t.Fatal(err)
	}
	var upper *callStmt
	for _, fn := range prog.funcs {
		walkStmts(fn.f.Blocks, func(s ir.Stmt) {
			if c, ok := s.(*callStmt); ok && c.Func == "upper" {
				upper = c
			}
		})
	}
	if upper == nil {
		t.Fatal("no call of upper in the plan")
	}
	orig := upper.builtin
	upper.builtin = func(topdown.BuiltinContext, []*ast.Term, func(*ast.Term) error) error { panic("boom") }
	input := ast.MustParseTerm(`{"x": "a"}`)
	if err := prog.run(ctx, input, func(*ast.Term) {}); !errors.Is(err, errPanic) {
		t.Fatalf("run = %v, want errPanic", err)
	}
	upper.builtin = orig
	var got *ast.Term
	if err := prog.run(ctx, input, func(r *ast.Term) { got = r }); err != nil || got == nil || !got.Equal(ast.MustParseTerm(`{"x": "A"}`)) {
		t.Fatalf("after the panic: %v, %v", got, err)
	}
}
