package policy

import (
	"context"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Precomputed rules.
//
// A rule of the policy that does not read the input has the same value for
// every request of one compiled policy: rego/authz.rego's tables of what each
// role grants, for instance, expand the roles' privileges into action
// patterns. OPA evaluates rules lazily, once per evaluation, so such a rule
// would be recomputed for every decision. fold evaluates them once, when the
// policy is compiled (a change of the policy files, the constraints or the
// roles), and compiles `name := <value>` in their place: a decision then
// reads the value as it reads any constant.
//
// A rule is folded when its value provably depends on nothing a request
// changes:
//
//   - it is a complete rule (one value, a ground reference, no arguments),
//     not a constant already, and nothing is defined below it;
//   - neither it nor any rule or function it depends on, transitively,
//     reads the input, calls a nondeterministic builtin (time.now_ns, ...)
//     or reads the constraints' index and globs (left out of the compilation
//     that evaluates the rules, which would otherwise cost as much as the
//     main one);
//   - no module of the policy uses `with`, which could evaluate the rule
//     with other data than the policy's;
//   - its evaluation succeeds and is defined; otherwise it is left as
//     written, and a request reaching it fails or finds it undefined, as
//     before.
//
// Then the folded value is the value every evaluation would compute, and a
// decision is the same with or without folding (TestFoldEquivalent).

// constraintsDataRefs are the documents of the generated module that the
// folding compilation leaves out.
var constraintsDataRefs = []ast.Ref{
	ast.MustParseRef("data.portcullis.constraints.index"),
	ast.MustParseRef("data.portcullis.constraints.globs"),
}

// fold returns modules, the parsed policy files, with their foldable rules
// replaced by their values, and the paths of the rules it folded. It never
// fails: what it cannot fold stays as written (and a policy that does not
// compile fails in the main compilation).
func fold(ctx context.Context, modules map[string]*ast.Module, gen generated) (map[string]*ast.Module, []string) {
	for _, m := range modules {
		if usesWith(m) {
			return modules, nil
		}
	}
	// The policy with the roles of the generated module, not its index and
	// globs. The roles document is read from the store (splitConstants), so
	// that the compiler does not walk it: it grows with the roles.
	roles, data, err := splitConstants(map[string]*ast.Module{generatedName: gen.rolesModule})
	if err != nil {
		return modules, nil
	}
	store, err := dataStore(ctx, data)
	if err != nil {
		return modules, nil
	}
	phase := make(map[string]*ast.Module, len(modules)+1)
	maps.Copy(phase, modules)
	phase[generatedName] = roles[generatedName]
	c := newCompiler(false)
	if c.Compile(phase); c.Failed() {
		return modules, nil
	}

	f := folder{c: c, pure: map[*ast.Rule]bool{}, store: store}
	values := map[string]*ast.Term{} // by rule path
	var paths []ast.Ref
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		for _, r := range c.Modules[name].Rules {
			path := r.Ref()
			key := path.String()
			if _, seen := values[key]; seen || !f.candidate(path) {
				continue
			}
			v := f.eval(ctx, path)
			values[key] = v // nil: evaluated, not folded
			if v != nil {
				paths = append(paths, path)
			}
		}
	}
	if len(paths) == 0 {
		return modules, nil
	}

	// Replace the rules of each folded path, in the parsed modules, by one
	// rule `name := value` where the first of them was. The compiled rules
	// are copies of the parsed ones, with the same locations.
	folded := make(map[string]*ast.Module, len(modules))
	maps.Copy(folded, modules)
	placed := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		m := modules[name]
		var rules []*ast.Rule
		changed := false
		for _, r := range m.Rules {
			key := m.Package.Path.Extend(r.Head.Ref()).String()
			v := values[key]
			if v == nil {
				rules = append(rules, r)
				continue
			}
			changed = true
			if !placed[key] {
				placed[key] = true
				rules = append(rules, constantRule(r, v))
			}
		}
		if changed {
			cp := *m // Compile copies it, and sets its rules' Module
			cp.Rules = rules
			folded[name] = &cp
		}
	}
	names := make([]string, len(paths))
	for i, p := range paths {
		names[i] = p.String()
	}
	return folded, names
}

// constantRule returns `<r's reference> := value`, at r's location.
func constantRule(r *ast.Rule, value *ast.Term) *ast.Rule {
	head := r.Head.Copy()
	head.Args, head.Key = nil, nil
	head.Value = value
	head.Assign = true
	loc := r.Location
	return &ast.Rule{
		Head:     head,
		Body:     ast.NewBody(ast.NewExpr(ast.BooleanTerm(true).SetLocation(loc)).SetLocation(loc)),
		Location: loc,
		Module:   r.Module,
	}
}

type folder struct {
	c    *ast.Compiler
	pure map[*ast.Rule]bool // memo of pureRule; false while being checked

	// allowConstraints admits rules reading the constraints' index and
	// globs: constant for a compiled policy, they are only left out of
	// fold's compilation.
	allowConstraints bool

	// store holds the base data document eval reads (the roles).
	store storage.Store
}

// dataStore returns a store of the base data document data, with AST
// values (as the plan reads it).
func dataStore(ctx context.Context, data ast.Object) (storage.Store, error) {
	store := inmem.NewWithOpts(inmem.OptReturnASTValuesOnRead(true))
	txn, err := store.NewTransaction(ctx, storage.WriteParams)
	if err != nil {
		return nil, err
	}
	if err := store.Write(ctx, txn, storage.AddOp, storage.RootPath, data); err != nil {
		store.Abort(ctx, txn)
		return nil, err
	}
	if err := store.Commit(ctx, txn); err != nil {
		return nil, err
	}
	return store, nil
}

// candidate reports whether the rules at path may be folded.
func (f *folder) candidate(path ast.Ref) bool {
	if !path.IsGround() || path.Compare(decisionRef) == 0 {
		return false
	}
	node := f.c.RuleTree.Find(path)
	if node == nil || len(node.Children) > 0 {
		return false
	}
	rules := f.c.GetRulesExact(path)
	if len(rules) == 0 {
		return false
	}
	constant := true
	for _, r := range rules {
		if len(r.Head.Args) > 0 || r.Head.RuleKind() != ast.SingleValue || !r.Ref().IsGround() {
			return false
		}
		if r.Else != nil || !r.Head.Value.IsGround() || !trivialBody(r.Body) {
			constant = false
		}
		if !f.pureRule(r) {
			return false
		}
	}
	return !constant
}

// trivialBody reports whether body is `true`, the body of `x := value`.
func trivialBody(body ast.Body) bool {
	return len(body) == 1 && body[0].Equal(ast.NewExpr(ast.BooleanTerm(true)))
}

// pureRule reports whether r, its else branches and everything they depend
// on read neither the input nor (unless f.allowConstraints) the
// constraints' index and globs, and call no nondeterministic builtin.
func (f *folder) pureRule(r *ast.Rule) bool {
	if ok, seen := f.pure[r]; seen {
		return ok
	}
	f.pure[r] = false // recursion is a compile error; be safe anyway
	ok := true
	for e := r; e != nil && ok; e = e.Else {
		ok = pureNode(e, f.allowConstraints)
		for dep := range f.c.Graph.Dependencies(e) {
			if d, isRule := dep.(*ast.Rule); !isRule || !f.pureRule(d) {
				ok = false
				break
			}
		}
	}
	f.pure[r] = ok
	return ok
}

// pureNode checks the terms and expressions of one rule (not its else
// branches, nor its dependencies).
func pureNode(r *ast.Rule, allowConstraints bool) bool {
	ok := true
	vis := ast.NewGenericVisitor(func(x any) bool {
		if !ok {
			return true
		}
		switch x := x.(type) {
		case *ast.Rule:
			return x != r // the else branches are checked on their own
		case *ast.Expr:
			if len(x.With) > 0 || (x.IsCall() && nondeterministic(x.Operator()) != "") {
				ok = false
			}
		case ast.Call:
			if nondeterministic(x[0]) != "" {
				ok = false
			}
		case ast.Var:
			if x.Equal(ast.InputRootDocument.Value) {
				ok = false
			}
		case ast.Ref:
			if x.HasPrefix(ast.InputRootRef) || (!allowConstraints && readsConstraintsData(x)) {
				ok = false
			}
		}
		return !ok
	})
	vis.Walk(r)
	return ok
}

// readsConstraintsData reports whether ref may read a document of
// constraintsDataRefs: it is a prefix of one, or they agree wherever ref
// has a constant.
func readsConstraintsData(ref ast.Ref) bool {
	if !ref.HasPrefix(ast.DefaultRootRef) {
		return false
	}
	for _, c := range constraintsDataRefs {
		overlap := true
		for i := 0; i < len(ref) && i < len(c); i++ {
			if ref[i].IsGround() && !ref[i].Equal(c[i]) {
				overlap = false
				break
			}
		}
		if overlap {
			return true
		}
	}
	return false
}

// usesWith reports whether an expression of m has a with modifier.
func usesWith(m *ast.Module) bool {
	found := false
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		found = found || len(e.With) > 0
		return found
	})
	return found
}

// eval evaluates the document at path with the compiler of f, no input and
// strict builtin errors; nil if it fails or is undefined.
func (f *folder) eval(ctx context.Context, path ast.Ref) *ast.Term {
	store := f.store
	if store == nil {
		store = inmem.NewWithOpts(inmem.OptReturnASTValuesOnRead(true))
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil
	}
	defer store.Abort(ctx, txn)
	query, result, err := compileQuery(f.c, path)
	if err != nil {
		return nil
	}
	var out *ast.Term
	n := 0
	err = topdown.NewQuery(query).
		WithCompiler(f.c).
		WithStore(store).
		WithTransaction(txn).
		WithStrictBuiltinErrors(true).
		Iter(ctx, func(qr topdown.QueryResult) error {
			n++
			out = qr[result]
			return nil
		})
	if err != nil || n != 1 || out == nil || !out.IsGround() {
		return nil
	}
	return out
}
