package policy

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// The plan interpreter.
//
// A program is the plan of the decision query (plan.go) made ready to run:
// its string constants as terms, its functions indexed, each call site
// resolved to a function of the plan or to OPA's implementation of the
// builtin it names (the builtins topdown runs: the same code, the same
// errors). Values are OPA's (ast.Value), so that builtins, the input
// document and the decision need no conversion.
//
// Execution follows OPA's IR semantics (docs/ir.md in OPA, and its Wasm
// compiler, which this mirrors statement for statement): a block runs its
// statements in order; a statement that is undefined ends its block, and
// execution resumes after it; BreakStmt{n} leaves n blocks more; a scan
// runs its block once per element, a NotStmt's block or a WithStmt's block
// count one block, a scan two (its loop and the block around it). A
// function of the plan with no argument but input and data is a rule:
// its value is remembered for the rest of the evaluation, as OPA's
// evaluators do.

// errNoPlan is returned by newProgram for a plan it cannot run; the engine
// then evaluates with topdown.
var errNoPlan = errors.New("plan not supported by the interpreter")

// brk values of exec and stmt: nothing to leave, or the function returned.
// A value n ≥ 0 leaves the current block and n blocks around it.
const (
	next     = -1
	returned = -2
)

type program struct {
	strings []*ast.Term // static strings
	plan    *ir.Plan
	planLen int // locals of the plan
	entry   int // the function the plan calls for the decision, or -1
	nslots  int // lookups in the input kept per evaluation (inputDotStmt)
	funcs   []*function
	paths   map[string]int // function index by path, for CallDynamicStmt
	data    *ast.Term
	clock   bool      // a builtin of the plan reads the evaluation's time
	memo    *memo     // values of pure function calls, see memo.go; nil if none
	pool    sync.Pool // of *machine

	patterns cache.InterQueryValueCache
	cancel   topdown.Cancel
	metrics  metrics.Metrics
}

type function struct {
	f       *ir.Func
	nlocals int
	rule    int       // index in machine.rules when the function is a rule, or -1
	pure    *ast.Term // the function's path if its calls are remembered (memo)
}

// callStmt is a CallStmt resolved: it calls function fn of the program,
// or if fn < 0 builtin.
type callStmt struct {
	*ir.CallStmt
	fn       int
	builtin  topdown.BuiltinFunc
	relation bool // the builtin's outputs, all of them, are its value (walk)
}

// inputDotStmt is a DotStmt looking a constant key up in the input
// (input.<k1>), or in what the statement before it looked up there
// (input.<k1>.<k2>, parent set). The input does not change during an
// evaluation, so its value is kept, in slot, for the next lookup of the
// same keys, which the plan of each rule makes again.
type inputDotStmt struct {
	*ir.DotStmt
	key    *ast.Term
	slot   int
	parent *inputDotStmt // the lookup of k1, for input.<k1>.<k2>
}

// constStmt assigns a constant to a local: a literal collection with
// constant elements, built once (foldLiterals).
type constStmt struct {
	ir.Location
	Target ir.Local
	Value  *ast.Term
}

// newPlanned plans the decision of modules and readies the plan to run.
//
// Calls of the functions of pure (memoFuncs) are remembered across
// evaluations, as topdown remembers them (memo.go).
func newPlanned(ctx context.Context, modules map[string]*ast.Module, gen generated, pure []memoFunc) (*program, error) {
	p, data, err := planDecision(ctx, modules)
	if err != nil {
		return nil, err
	}
	prog, err := newProgram(ctx, p, data, gen)
	if err != nil {
		return nil, err
	}
	if prog.memo = newMemo(pure, DefaultMemoSize); prog.memo != nil {
		for _, fn := range prog.funcs {
			_, path, _ := strings.Cut(fn.f.Name, ".")
			for _, f := range pure {
				if len(fn.f.Params) == 2+f.arity && f.path.String() == path {
					fn.pure = ast.NewTerm(f.path)
				}
			}
		}
	}
	return prog, nil
}

// newProgram readies p to run over data.
func newProgram(ctx context.Context, p *ir.Policy, data ast.Object, gen generated) (*program, error) {
	if p.Plans == nil || len(p.Plans.Plans) != 1 {
		return nil, fmt.Errorf("%w: %d plans", errNoPlan, len(p.Plans.Plans))
	}
	prog := &program{
		plan:     p.Plans.Plans[0],
		paths:    map[string]int{},
		data:     ast.NewTerm(data),
		patterns: newPatternCache(ctx, gen.patterns),
		cancel:   topdown.NewCancel(),
		metrics:  metrics.NoOp(),
	}
	for _, s := range p.Static.Strings {
		prog.strings = append(prog.strings, ast.StringTerm(s.Value))
	}
	byName := map[string]int{}
	rules := 0
	if p.Funcs != nil {
		for i, f := range p.Funcs.Funcs {
			byName[f.Name] = i
			fn := &function{f: f, rule: -1}
			if len(f.Params) == 2 {
				fn.rule = rules
				rules++
			}
			prog.funcs = append(prog.funcs, fn)
			if len(f.Path) > 0 {
				prog.paths[strings.Join(f.Path, "\x00")] = i
			}
		}
	}
	var err error
	check := func(stmt ir.Stmt, n *int) {
		if err != nil {
			return
		}
		*n = max(*n, maxLocal(stmt)+1)
		switch s := stmt.(type) {
		case *ir.WithStmt:
			err = fmt.Errorf("%w: with", errNoPlan)
		case *ir.CallStmt:
			if _, ok := byName[s.Func]; !ok && topdown.GetBuiltin(s.Func) == nil {
				err = fmt.Errorf("%w: unknown function %s", errNoPlan, s.Func)
			}
			prog.clock = prog.clock || readsClock(s.Func)
		}
	}
	prog.planLen = 2
	walkStmts(prog.plan.Blocks, func(s ir.Stmt) { check(s, &prog.planLen) })
	for _, fn := range prog.funcs {
		fn.nlocals = 2
		for _, l := range fn.f.Params {
			fn.nlocals = max(fn.nlocals, int(l)+1)
		}
		fn.nlocals = max(fn.nlocals, int(fn.f.Return)+1)
		walkStmts(fn.f.Blocks, func(s ir.Stmt) { check(s, &fn.nlocals) })
	}
	if err != nil {
		return nil, err
	}
	// Functions of the constant rules (planDecision): their value is known.
	constants := map[int]*ast.Term{}
	if c, ok := termValue[ast.Object](data.Get(ast.InternedTerm(constantsKey))); ok {
		for i, fn := range prog.funcs {
			if _, path, ok := strings.Cut(fn.f.Name, "."); ok && len(fn.f.Params) == 2 {
				if v := c.Get(ast.StringTerm(path)); v != nil {
					constants[i] = v
				}
			}
		}
	}
	// Does every function of the plan get the input as its first
	// argument, in local 0? Then lookups in the input (inputDotStmt) are
	// the same wherever they are made.
	inputArgs := true
	for _, fn := range prog.funcs {
		inputArgs = inputArgs && len(fn.f.Params) >= 2 && fn.f.Params[0] == ir.Input
	}
	walkAll := func(f func(ir.Stmt)) {
		walkStmts(prog.plan.Blocks, f)
		for _, fn := range prog.funcs {
			walkStmts(fn.f.Blocks, f)
		}
	}
	walkAll(func(stmt ir.Stmt) {
		switch s := stmt.(type) {
		case *ir.CallStmt:
			if _, ok := byName[s.Func]; ok && (len(s.Args) == 0 || s.Args[0].Value != ir.Local(ir.Input)) {
				inputArgs = false
			}
		case *ir.CallDynamicStmt:
			if len(s.Args) == 0 || s.Args[0] != ir.Input {
				inputArgs = false
			}
		}
		if l, ok := written(stmt); ok && l == ir.Input {
			inputArgs = false
		}
		if sc, ok := stmt.(*ir.ScanStmt); ok && sc.Value == ir.Input {
			inputArgs = false
		}
	})
	slots := map[[2]int]int{}
	slot := func(k [2]int) int {
		if i, ok := slots[k]; ok {
			return i
		}
		slots[k] = len(slots)
		return slots[k]
	}

	// The plan is this program's own: its statements are rewritten in
	// place (resolved calls, constants, lookups in the input).
	resolve := func(blocks []*ir.Block) {
		eachBlock(blocks, func(b *ir.Block) {
			for i, stmt := range b.Stmts {
				switch s := stmt.(type) {
				case *ir.MakeNumberRefStmt:
					n := ast.NewTerm(ast.Number(prog.strings[s.Index].Value.(ast.String)))
					b.Stmts[i] = &constStmt{Location: s.Location, Target: s.Target, Value: n}
				case *ir.DotStmt:
					if !inputArgs {
						continue
					}
					k, ok := s.Key.Value.(ir.StringIndex)
					if !ok {
						continue
					}
					if s.Source.Value == ir.Local(ir.Input) {
						b.Stmts[i] = &inputDotStmt{DotStmt: s, key: prog.strings[k], slot: slot([2]int{int(k), -1})}
						continue
					}
					// input.<k1>.<k2>, in two statements in a row.
					if i == 0 {
						continue
					}
					prev, ok := b.Stmts[i-1].(*inputDotStmt)
					if ok && prev.parent == nil && s.Source.Value == prev.Target {
						k1 := prev.Key.Value.(ir.StringIndex)
						b.Stmts[i] = &inputDotStmt{DotStmt: s, key: prog.strings[k], slot: slot([2]int{int(k1), int(k)}), parent: prev}
					}
				case *ir.CallStmt:
					if v := constants[byName[s.Func]]; v != nil && len(s.Args) == 2 {
						if _, ok := byName[s.Func]; ok {
							b.Stmts[i] = &constStmt{Location: s.Location, Target: s.Result, Value: v}
							continue
						}
					}
					c := &callStmt{CallStmt: s, fn: -1}
					if f, ok := byName[s.Func]; ok {
						c.fn = f
					} else {
						c.builtin = topdown.GetBuiltin(s.Func)
						if decl := ast.BuiltinMap[s.Func]; decl != nil {
							c.relation = decl.Relation
						}
					}
					b.Stmts[i] = c
				}
			}
		})
		foldLiterals(blocks, prog.strings)
	}
	resolve(prog.plan.Blocks)
	for _, fn := range prog.funcs {
		resolve(fn.f.Blocks)
	}
	prog.entry = decisionEntry(prog)
	nslots := len(slots)
	prog.nslots = nslots
	prog.pool.New = func() any {
		m := &machine{prog: prog, rules: make([]*ast.Term, rules), ruleSet: make([]bool, rules), slots: make([]*ast.Term, nslots)}
		m.iter = func(t *ast.Term) error { m.out = t; return nil }
		return m
	}
	return prog, nil
}

// decisionEntry returns the function of the decision rule if the plan is
// only `result = <call of it>` (what planDecision plans), or -1.
func decisionEntry(p *program) int {
	if len(p.plan.Blocks) != 1 || len(p.strings) == 0 || p.strings[0].Value.Compare(ast.String(planResult)) != 0 {
		return -1
	}
	st := p.plan.Blocks[0].Stmts
	if len(st) != 5 {
		return -1
	}
	c, ok1 := st[0].(*callStmt)
	a, ok2 := st[1].(*ir.AssignVarStmt)
	mk, ok3 := st[2].(*ir.MakeObjectStmt)
	ins, ok4 := st[3].(*ir.ObjectInsertStmt)
	add, ok5 := st[4].(*ir.ResultSetAddStmt)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || c.fn < 0 || len(c.Args) != 2 ||
		c.Args[0].Value != ir.Local(ir.Input) || c.Args[1].Value != ir.Local(ir.Data) ||
		a.Source.Value != c.Result || ins.Object != mk.Target || ins.Value.Value != a.Target ||
		ins.Key.Value != ir.StringIndex(0) || add.Value != mk.Target {
		return -1
	}
	return c.fn
}

// readsClock reports whether builtin name reads the evaluation's time
// (BuiltinContext.Time), which is then taken once per evaluation.
func readsClock(name string) bool {
	return strings.HasPrefix(name, "time.") || name == "io.jwt.decode_verify"
}

// eachBlock calls f on every block of blocks, nested ones included.
func eachBlock(blocks []*ir.Block, f func(*ir.Block)) {
	for _, b := range blocks {
		f(b)
		for _, s := range b.Stmts {
			switch s := s.(type) {
			case *ir.BlockStmt:
				eachBlock(s.Blocks, f)
			case *ir.ScanStmt:
				eachBlock([]*ir.Block{s.Block}, f)
			case *ir.NotStmt:
				eachBlock([]*ir.Block{s.Block}, f)
			case *ir.WithStmt:
				eachBlock([]*ir.Block{s.Block}, f)
			}
		}
	}
}

// foldLiterals replaces, in the blocks of one function (or plan), each
// literal collection with constant elements ({"GET", "HEAD"} in `x in
// {...}`), which the planner builds by statements on every evaluation, by
// a constStmt assigning the value built once. Only when the collection
// cannot be changed afterwards: no other statement of the function adds to
// its local, nor to a local it is copied to.
func foldLiterals(blocks []*ir.Block, strings []*ast.Term) {
	mutations := map[ir.Local]int{} // statements adding to each local
	copies := map[ir.Local][]ir.Local{}
	walkStmts(blocks, func(s ir.Stmt) {
		if t, ok := mutated(s); ok {
			mutations[t]++
		}
		switch s := s.(type) {
		case *ir.AssignVarStmt:
			if l, ok := s.Source.Value.(ir.Local); ok {
				copies[l] = append(copies[l], s.Target)
			}
		case *ir.AssignVarOnceStmt:
			if l, ok := s.Source.Value.(ir.Local); ok {
				copies[l] = append(copies[l], s.Target)
			}
		}
	})
	changedLater := func(l ir.Local) bool {
		seen := map[ir.Local]bool{l: true}
		todo := copies[l]
		for len(todo) > 0 {
			c := todo[0]
			todo = todo[1:]
			if seen[c] {
				continue
			}
			seen[c] = true
			if mutations[c] > 0 {
				return true
			}
			todo = append(todo, copies[c]...)
		}
		return false
	}
	constant := func(o ir.Operand) *ast.Term {
		switch v := o.Value.(type) {
		case ir.StringIndex:
			return strings[v]
		case ir.Bool:
			return ast.InternedTerm(bool(v))
		}
		return nil
	}
	// Runs: a Make statement and the additions of constants to its local
	// that follow it; a local qualifies if every addition to it is in one.
	type run struct {
		b      *ir.Block
		i, j   int // b.Stmts[i] makes, b.Stmts[i+1:j] add
		target ir.Local
		value  ast.Value
	}
	var runs []run
	inRuns := map[ir.Local]int{}
	eachBlock(blocks, func(b *ir.Block) {
		for i := 0; i < len(b.Stmts); i++ {
			r := run{b: b, i: i}
			switch s := b.Stmts[i].(type) {
			case *ir.MakeSetStmt:
				r.target, r.value = s.Target, ast.NewSet()
			case *ir.MakeArrayStmt:
				r.target, r.value = s.Target, ast.NewArray()
			case *ir.MakeObjectStmt:
				r.target, r.value = s.Target, ast.NewObject()
			default:
				continue
			}
			j := i + 1
		adds:
			for ; j < len(b.Stmts); j++ {
				switch a := b.Stmts[j].(type) {
				case *ir.SetAddStmt:
					v := constant(a.Value)
					if a.Set != r.target || v == nil {
						break adds
					}
					r.value.(ast.Set).Add(v)
				case *ir.ArrayAppendStmt:
					v := constant(a.Value)
					if a.Array != r.target || v == nil {
						break adds
					}
					r.value = r.value.(*ast.Array).Append(v)
				case *ir.ObjectInsertStmt:
					k, v := constant(a.Key), constant(a.Value)
					if a.Object != r.target || k == nil || v == nil {
						break adds
					}
					r.value.(ast.Object).Insert(k, v)
				default:
					break adds
				}
			}
			if j > i+1 {
				r.j = j
				runs = append(runs, r)
				inRuns[r.target] += j - i - 1
				i = j - 1
			}
		}
	})
	// Replace the qualifying runs, last first within each block so that
	// the indices of the others stay valid.
	for k := len(runs) - 1; k >= 0; k-- {
		r := runs[k]
		if mutations[r.target] != inRuns[r.target] || changedLater(r.target) {
			continue
		}
		c := &constStmt{Location: *r.b.Stmts[r.i].GetLocation(), Target: r.target, Value: ast.NewTerm(r.value)}
		r.b.Stmts = slices.Replace(r.b.Stmts, r.i, r.j, ir.Stmt(c))
	}
}

// written returns the local a statement assigns, if it does.
func written(s ir.Stmt) (ir.Local, bool) {
	switch s := s.(type) {
	case *ir.AssignIntStmt:
		return s.Target, true
	case *ir.AssignVarOnceStmt:
		return s.Target, true
	case *ir.AssignVarStmt:
		return s.Target, true
	case *ir.CallDynamicStmt:
		return s.Result, true
	case *ir.CallStmt:
		return s.Result, true
	case *ir.DotStmt:
		return s.Target, true
	case *ir.LenStmt:
		return s.Target, true
	case *ir.MakeArrayStmt:
		return s.Target, true
	case *ir.MakeNullStmt:
		return s.Target, true
	case *ir.MakeNumberIntStmt:
		return s.Target, true
	case *ir.MakeNumberRefStmt:
		return s.Target, true
	case *ir.MakeObjectStmt:
		return s.Target, true
	case *ir.MakeSetStmt:
		return s.Target, true
	case *ir.ObjectMergeStmt:
		return s.Target, true
	case *ir.ResetLocalStmt:
		return s.Target, true
	case *ir.ScanStmt:
		return s.Key, true // and s.Value, which the caller checks
	case *ir.WithStmt:
		return s.Local, true
	}
	return 0, false
}

// mutated returns the local a statement adds to, if it does.
func mutated(s ir.Stmt) (ir.Local, bool) {
	switch s := s.(type) {
	case *ir.SetAddStmt:
		return s.Set, true
	case *ir.ArrayAppendStmt:
		return s.Array, true
	case *ir.ObjectInsertStmt:
		return s.Object, true
	case *ir.ObjectInsertOnceStmt:
		return s.Object, true
	}
	return 0, false
}

// walkStmts calls f on every statement of blocks, nested ones included.
func walkStmts(blocks []*ir.Block, f func(ir.Stmt)) {
	eachBlock(blocks, func(b *ir.Block) {
		for _, s := range b.Stmts {
			f(s)
		}
	})
}

// maxLocal returns the largest local s names, or -1.
func maxLocal(s ir.Stmt) int {
	m := -1
	op := func(o ir.Operand) {
		if l, ok := o.Value.(ir.Local); ok {
			m = max(m, int(l))
		}
	}
	loc := func(ls ...ir.Local) {
		for _, l := range ls {
			m = max(m, int(l))
		}
	}
	switch s := s.(type) {
	case *ir.ArrayAppendStmt:
		op(s.Value)
		loc(s.Array)
	case *ir.AssignIntStmt:
		loc(s.Target)
	case *ir.AssignVarOnceStmt:
		op(s.Source)
		loc(s.Target)
	case *ir.AssignVarStmt:
		op(s.Source)
		loc(s.Target)
	case *ir.CallDynamicStmt:
		loc(s.Args...)
		loc(s.Result)
		for _, p := range s.Path {
			op(p)
		}
	case *ir.CallStmt:
		for _, a := range s.Args {
			op(a)
		}
		loc(s.Result)
	case *ir.DotStmt:
		op(s.Source)
		op(s.Key)
		loc(s.Target)
	case *ir.EqualStmt:
		op(s.A)
		op(s.B)
	case *ir.NotEqualStmt:
		op(s.A)
		op(s.B)
	case *ir.IsArrayStmt:
		op(s.Source)
	case *ir.IsObjectStmt:
		op(s.Source)
	case *ir.IsSetStmt:
		op(s.Source)
	case *ir.IsDefinedStmt:
		loc(s.Source)
	case *ir.IsUndefinedStmt:
		loc(s.Source)
	case *ir.LenStmt:
		op(s.Source)
		loc(s.Target)
	case *ir.MakeArrayStmt:
		loc(s.Target)
	case *ir.MakeNullStmt:
		loc(s.Target)
	case *ir.MakeNumberIntStmt:
		loc(s.Target)
	case *ir.MakeNumberRefStmt:
		loc(s.Target)
	case *ir.MakeObjectStmt:
		loc(s.Target)
	case *ir.MakeSetStmt:
		loc(s.Target)
	case *ir.ObjectInsertOnceStmt:
		op(s.Key)
		op(s.Value)
		loc(s.Object)
	case *ir.ObjectInsertStmt:
		op(s.Key)
		op(s.Value)
		loc(s.Object)
	case *ir.ObjectMergeStmt:
		loc(s.A, s.B, s.Target)
	case *ir.ResetLocalStmt:
		loc(s.Target)
	case *ir.ResultSetAddStmt:
		loc(s.Value)
	case *ir.ReturnLocalStmt:
		loc(s.Source)
	case *ir.ScanStmt:
		loc(s.Source, s.Key, s.Value)
	case *ir.SetAddStmt:
		op(s.Value)
		loc(s.Set)
	case *ir.WithStmt:
		loc(s.Local)
		op(s.Value)
	}
	return m
}

// machine is the state of one evaluation. Machines are pooled: eval
// clears what it used before putting one back.
type machine struct {
	prog    *program
	stack   []*ast.Term // locals of the active frames, see push
	args    []*ast.Term // arguments of the function being called, builtin operands
	rules   []*ast.Term // values of rules evaluated (remembered)
	ruleSet []bool
	slots   []*ast.Term     // values of inputDotStmt lookups
	root    *ast.Term       // the input document, see input
	pending []memoEntry     // calls to remember once the evaluation succeeds
	result  func(*ast.Term) // called by ResultSetAddStmt
	ret     *ast.Term       // value of the function returning
	out     *ast.Term       // value of the builtin returning
	iter    func(*ast.Term) error
	bctx    topdown.BuiltinContext
}

var (
	errAssignConflict = errors.New("eval_conflict_error: complete rules must not produce multiple outputs")
	errInsertConflict = errors.New("eval_conflict_error: object keys must be unique")
)

// eval runs the program on input and returns the decision, unconverted.
// The plan of the decision query calls the decision rule's function and
// wraps its value in a result object: eval calls the function directly.
func (p *program) eval(ctx context.Context, user, request *ast.Term) (t *ast.Term, err error) {
	if p.entry >= 0 {
		m := p.get(ctx)
		defer recoverEval(&err) // before the machine goes back to the pool: it does not
		m.args = append(m.args, m.input(user, request), p.data)
		t, err = m.function(p.entry, 0)
		if err == nil {
			m.remember()
		}
		m.reset()
		p.pool.Put(m)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, errors.New("no decision")
		}
		return t, nil
	}
	var out *ast.Term
	n := 0
	err = p.run(ctx, ast.NewTerm(inputObject(user, request)), func(t *ast.Term) {
		out = t
		n++
	})
	if err != nil {
		return nil, err
	}
	if n != 1 || out == nil {
		return nil, fmt.Errorf("%d results", n)
	}
	obj, ok := out.Value.(ast.Object)
	if !ok {
		return nil, errors.New("result is not an object")
	}
	t = obj.Get(p.strings[0]) // the query's variable, planResult: the plan's first string
	if t == nil {
		return nil, errors.New("result has no decision")
	}
	return t, nil
}

// run runs the program on input (nil: undefined) and calls result with
// each result (an object of the query's variables) the plan adds.
func (p *program) run(ctx context.Context, input *ast.Term, result func(*ast.Term)) (err error) {
	m := p.get(ctx)
	defer recoverEval(&err)
	m.result = result
	l := m.push(p.planLen)
	l[0] = input
	l[1] = p.data
	_, err = m.exec(p.plan.Blocks, l)
	if err == nil {
		m.remember()
	}
	m.reset()
	p.pool.Put(m)
	return err
}

// input returns the input document of user and request: the machine's
// own object, whose members are replaced (an object built per evaluation
// costs more than the two replacements). It holds the last request's terms
// until the next evaluation; it never leaves the machine.
func (m *machine) input(user, request *ast.Term) *ast.Term {
	if m.root == nil {
		m.root = ast.NewTerm(inputObject(user, request))
		return m.root
	}
	obj := m.root.Value.(ast.Object)
	obj.Insert(keyUser, user)
	obj.Insert(keyRequest, request)
	return m.root
}

// errPanic is the error of an evaluation that panicked: a builtin, or this
// interpreter, failed in a way it did not foresee. The request is denied
// and the process goes on; the machine is dropped, not pooled.
var errPanic = errors.New("evaluation panicked")

// recoverEval turns a panic of the evaluation into errPanic in *err.
func recoverEval(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", errPanic, r)
	}
}

// get returns a machine for an evaluation under ctx.
func (p *program) get(ctx context.Context) *machine {
	m := p.pool.Get().(*machine)
	m.bctx = topdown.BuiltinContext{
		Context:                     ctx,
		Metrics:                     p.metrics,
		Seed:                        rand.Reader,
		Cancel:                      p.cancel,
		InterQueryBuiltinValueCache: p.patterns,
		RequestMetadata:             noRequestMetadata,
		Capabilities:                capabilities,
	}
	if p.clock {
		m.bctx.Time = ast.UIntNumberTerm(uint64(time.Now().UnixNano()))
	}
	return m
}

// push returns a frame of n locals on the stack, all undefined; pop(n)
// releases it. A frame is a slice of the stack: when the stack grows, the
// frames of the callers stay in the old array, where they alone are used
// until they are popped.
func (m *machine) push(n int) []*ast.Term {
	base := len(m.stack)
	if base+n > cap(m.stack) {
		m.stack = make([]*ast.Term, base, max(2*cap(m.stack), base+n, 256))
	}
	m.stack = m.stack[:base+n]
	return m.stack[base : base+n : base+n]
}

func (m *machine) pop(n int) {
	top := len(m.stack) - n
	clear(m.stack[top:])
	m.stack = m.stack[:top]
}

func (m *machine) reset() {
	clear(m.stack[:cap(m.stack)])
	m.stack = m.stack[:0]
	clear(m.rules)
	clear(m.ruleSet)
	clear(m.slots)
	clear(m.pending)
	m.pending = m.pending[:0]
	clear(m.args[:cap(m.args)])
	m.args = m.args[:0]
	m.result, m.ret, m.out = nil, nil, nil
	m.bctx = topdown.BuiltinContext{}
}

// exec runs blocks in order, as a plan, a function or a BlockStmt does:
// each ends on an undefined statement or a break out of it, and the next one
// runs; a break beyond a block leaves the others.
func (m *machine) exec(blocks []*ir.Block, l []*ast.Term) (int, error) {
	for _, b := range blocks {
		r, err := m.block(b, l)
		if err != nil {
			return 0, err
		}
		if r == returned {
			return returned, nil
		}
		if r > 0 {
			return r - 1, nil
		}
	}
	return next, nil
}

// block runs b: next if it reached its end, 0 if it ended early, n > 0 to
// leave n blocks around it, returned.
func (m *machine) block(b *ir.Block, l []*ast.Term) (int, error) {
	for _, s := range b.Stmts {
		r, err := m.stmt(s, l)
		if err != nil {
			return 0, err
		}
		if r != next {
			return r, nil
		}
	}
	return next, nil
}

func (m *machine) operand(o ir.Operand, l []*ast.Term) *ast.Term {
	switch v := o.Value.(type) {
	case ir.Local:
		return l[v]
	case ir.StringIndex:
		return m.prog.strings[v]
	case ir.Bool:
		return ast.InternedTerm(bool(v))
	}
	return nil
}

// undefined is the result of an undefined statement: leave the block.
const undefined = 0

func (m *machine) stmt(s ir.Stmt, l []*ast.Term) (int, error) {
	switch s := s.(type) {
	case *ir.DotStmt:
		src, key := m.operand(s.Source, l), m.operand(s.Key, l)
		if src == nil || key == nil {
			return undefined, nil
		}
		v := dot(src.Value, key)
		if v == nil {
			return undefined, nil
		}
		l[s.Target] = v
	case *ir.AssignVarStmt:
		l[s.Target] = m.operand(s.Source, l)
	case *ir.AssignVarOnceStmt:
		v := m.operand(s.Source, l)
		if cur := l[s.Target]; cur != nil && v != nil && cur.Value.Compare(v.Value) != 0 {
			return 0, errAssignConflict
		}
		l[s.Target] = v
	case *ir.ResetLocalStmt:
		l[s.Target] = nil
	case *callStmt:
		return m.call(s, l)
	case *constStmt:
		l[s.Target] = s.Value
	case *inputDotStmt:
		v := m.slots[s.slot]
		if v == nil {
			src := l[s.Source.Value.(ir.Local)]
			if src == nil {
				return undefined, nil
			}
			if v = dot(src.Value, s.key); v == nil {
				return undefined, nil
			}
			m.slots[s.slot] = v
		}
		l[s.Target] = v
	case *ir.EqualStmt:
		a, b := m.operand(s.A, l), m.operand(s.B, l)
		if a == nil || b == nil || a.Value.Compare(b.Value) != 0 {
			return undefined, nil
		}
	case *ir.NotEqualStmt:
		a, b := m.operand(s.A, l), m.operand(s.B, l)
		if a == nil || b == nil || a.Value.Compare(b.Value) == 0 {
			return undefined, nil
		}
	case *ir.IsDefinedStmt:
		if l[s.Source] == nil {
			return undefined, nil
		}
	case *ir.IsUndefinedStmt:
		if l[s.Source] != nil {
			return undefined, nil
		}
	case *ir.BlockStmt:
		return m.exec(s.Blocks, l)
	case *ir.BreakStmt:
		return int(s.Index), nil
	case *ir.ScanStmt:
		return m.scan(s, l)
	case *ir.NotStmt:
		r, err := m.block(s.Block, l)
		switch {
		case err != nil:
			return 0, err
		case r == returned:
			return returned, nil
		case r == next: // the negated block is defined
			return undefined, nil
		case r > 0:
			return r - 1, nil
		}
	case *ir.MakeObjectStmt:
		l[s.Target] = ast.NewTerm(ast.NewObject())
	case *ir.MakeSetStmt:
		l[s.Target] = ast.NewTerm(ast.NewSet())
	case *ir.MakeArrayStmt:
		l[s.Target] = ast.NewTerm(ast.NewArray(make([]*ast.Term, 0, s.Capacity)...))
	case *ir.MakeNullStmt:
		l[s.Target] = ast.InternedNullTerm
	case *ir.MakeNumberIntStmt:
		l[s.Target] = ast.InternedTerm(int(s.Value))
	case *ir.MakeNumberRefStmt:
		l[s.Target] = ast.NewTerm(ast.Number(m.prog.strings[s.Index].Value.(ast.String)))
	case *ir.AssignIntStmt:
		l[s.Target] = ast.InternedTerm(int(s.Value))
	case *ir.LenStmt:
		src := m.operand(s.Source, l)
		if src == nil {
			return undefined, nil
		}
		n, ok := length(src.Value)
		if !ok {
			return undefined, nil
		}
		l[s.Target] = ast.InternedTerm(n)
	case *ir.ArrayAppendStmt:
		a, v := l[s.Array], m.operand(s.Value, l)
		if a == nil || v == nil {
			return undefined, nil
		}
		arr, ok := a.Value.(*ast.Array)
		if !ok {
			return undefined, nil
		}
		a.Value = arr.Append(v)
	case *ir.SetAddStmt:
		t, v := l[s.Set], m.operand(s.Value, l)
		if t == nil || v == nil {
			return undefined, nil
		}
		set, ok := t.Value.(ast.Set)
		if !ok {
			return undefined, nil
		}
		set.Add(v)
	case *ir.ObjectInsertStmt:
		return insert(l[s.Object], m.operand(s.Key, l), m.operand(s.Value, l), false)
	case *ir.ObjectInsertOnceStmt:
		return insert(l[s.Object], m.operand(s.Key, l), m.operand(s.Value, l), true)
	case *ir.ObjectMergeStmt:
		a, b := l[s.A], l[s.B]
		if a == nil || b == nil {
			return undefined, nil
		}
		oa, ok1 := a.Value.(ast.Object)
		ob, ok2 := b.Value.(ast.Object)
		if !ok1 || !ok2 {
			return undefined, nil
		}
		l[s.Target] = ast.NewTerm(mergeObjects(oa, ob))
	case *ir.IsArrayStmt:
		if v := m.operand(s.Source, l); v == nil || !isArray(v.Value) {
			return undefined, nil
		}
	case *ir.IsObjectStmt:
		if v := m.operand(s.Source, l); v == nil || !isObject(v.Value) {
			return undefined, nil
		}
	case *ir.IsSetStmt:
		if v := m.operand(s.Source, l); v == nil || !isSet(v.Value) {
			return undefined, nil
		}
	case *ir.CallDynamicStmt:
		return m.callDynamic(s, l)
	case *ir.ResultSetAddStmt:
		if v := l[s.Value]; v != nil {
			m.result(v)
		}
	case *ir.ReturnLocalStmt:
		m.ret = l[s.Source]
		return returned, nil
	case *ir.NopStmt:
	default:
		return 0, fmt.Errorf("statement %T not supported", s)
	}
	return next, nil
}

// insert runs an ObjectInsertStmt, or with once an ObjectInsertOnceStmt:
// a key already there with another value is then a conflict.
func insert(t, k, v *ast.Term, once bool) (int, error) {
	if t == nil || k == nil || v == nil {
		return undefined, nil
	}
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return undefined, nil
	}
	if once {
		if cur := obj.Get(k); cur != nil {
			if cur.Value.Compare(v.Value) != 0 {
				return 0, errInsertConflict
			}
			return next, nil
		}
	}
	obj.Insert(k, v)
	return next, nil
}

func isArray(v ast.Value) bool  { _, ok := v.(*ast.Array); return ok }
func isObject(v ast.Value) bool { _, ok := v.(ast.Object); return ok }
func isSet(v ast.Value) bool    { _, ok := v.(ast.Set); return ok }

// dot looks key up in v: an object's member, an array's element, a set's
// element (a set maps its elements to themselves), or nil.
func dot(v ast.Value, key *ast.Term) *ast.Term {
	switch c := v.(type) {
	case ast.Object:
		return c.Get(key)
	case *ast.Array:
		n, ok := key.Value.(ast.Number)
		if !ok {
			return nil
		}
		i, ok := n.Int()
		if !ok || i < 0 || i >= c.Len() {
			return nil
		}
		return c.Elem(i)
	case ast.Set:
		if c.Contains(key) {
			return key
		}
	}
	return nil
}

func length(v ast.Value) (int, bool) {
	switch c := v.(type) {
	case *ast.Array:
		return c.Len(), true
	case ast.Object:
		return c.Len(), true
	case ast.Set:
		return c.Len(), true
	case ast.String:
		return len([]rune(string(c))), true
	}
	return 0, false
}

// mergeObjects returns a and b merged as OPA merges a rule tree's base and
// virtual documents: keys of both, objects under a common key merged, else
// b's value.
func mergeObjects(a, b ast.Object) ast.Object {
	out, _ := a.MergeWith(b, func(v1, v2 *ast.Term) (*ast.Term, bool) {
		o1, ok1 := v1.Value.(ast.Object)
		o2, ok2 := v2.Value.(ast.Object)
		if ok1 && ok2 {
			return ast.NewTerm(mergeObjects(o1, o2)), false
		}
		return v2, false
	})
	return out
}

// scan runs s's block for each element of its source. A break out of the
// block (1) ends the scan; beyond (n ≥ 2) leaves n-2 blocks around it.
func (m *machine) scan(s *ir.ScanStmt, l []*ast.Term) (int, error) {
	src := l[s.Source]
	if src == nil {
		return next, nil
	}
	switch c := src.Value.(type) {
	case *ast.Array:
		for i := range c.Len() {
			if r, stop, err := m.step(s, l, ast.InternedTerm(i), c.Elem(i)); stop {
				return r, err
			}
		}
	case ast.Set:
		for _, e := range c.Slice() {
			if r, stop, err := m.step(s, l, e, e); stop {
				return r, err
			}
		}
	case ast.Object:
		res := next
		var err error
		c.Until(func(k, v *ast.Term) bool {
			var stop bool
			res, stop, err = m.step(s, l, k, v)
			return stop
		})
		return res, err
	}
	return next, nil
}

// step runs one iteration of scan s, and says whether the scan stops and
// with what.
func (m *machine) step(s *ir.ScanStmt, l []*ast.Term, k, v *ast.Term) (int, bool, error) {
	l[s.Key], l[s.Value] = k, v
	r, err := m.block(s.Block, l)
	switch {
	case err != nil:
		return 0, true, err
	case r == returned:
		return returned, true, nil
	case r == 1:
		return next, true, nil
	case r >= 2:
		return r - 2, true, nil
	}
	return next, false, nil
}

// call runs a CallStmt: a function of the plan or a builtin. An undefined
// result makes the statement undefined.
func (m *machine) call(c *callStmt, l []*ast.Term) (int, error) {
	s := c.CallStmt
	if c.fn >= 0 {
		// Arguments are passed as they are: input may be undefined.
		base := len(m.args)
		for _, a := range s.Args {
			m.args = append(m.args, m.operand(a, l))
		}
		v, err := m.function(c.fn, base)
		return result(l, s.Result, v, err)
	}
	base := len(m.args)
	for _, a := range s.Args {
		v := m.operand(a, l)
		if v == nil {
			m.args = m.args[:base]
			return undefined, nil
		}
		m.args = append(m.args, v)
	}
	if c.relation {
		return m.callRelation(c, l, base)
	}
	m.out = nil
	err := c.builtin(m.bctx, m.args[base:], m.iter)
	clear(m.args[base:])
	m.args = m.args[:base]
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.Func, err)
	}
	if m.out == nil {
		return undefined, nil
	}
	l[s.Result] = m.out
	m.out = nil
	return next, nil
}

// callRelation calls a builtin that is a relation (walk): its value is the
// array of every output, which the plan scans.
func (m *machine) callRelation(c *callStmt, l []*ast.Term, base int) (int, error) {
	var outs []*ast.Term
	err := c.builtin(m.bctx, m.args[base:], func(t *ast.Term) error {
		outs = append(outs, t)
		return nil
	})
	clear(m.args[base:])
	m.args = m.args[:base]
	if err != nil {
		return 0, fmt.Errorf("%s: %w", c.Func, err)
	}
	l[c.Result] = ast.ArrayTerm(outs...)
	return next, nil
}

// function runs function i of the program, whose arguments are in m.args
// from base, and returns its value (nil: undefined).
func (m *machine) function(i, base int) (*ast.Term, error) {
	fn := m.prog.funcs[i]
	args := m.args[base:]
	if fn.rule >= 0 && m.ruleSet[fn.rule] {
		clear(args)
		m.args = m.args[:base]
		return m.rules[fn.rule], nil
	}
	var call ast.Ref // the memo's key: [path, arguments...]
	if fn.pure != nil {
		if call = memoCall(fn.pure, args[2:]); call != nil {
			if v := m.prog.memo.get(call); v != nil {
				clear(args)
				m.args = m.args[:base]
				return v, nil
			}
		}
	}
	frame := m.push(fn.nlocals)
	for j, p := range fn.f.Params {
		if j < len(args) {
			frame[p] = args[j]
		}
	}
	clear(args)
	m.args = m.args[:base]
	m.ret = nil
	r, err := m.exec(fn.f.Blocks, frame)
	m.pop(fn.nlocals)
	if err != nil {
		return nil, err
	}
	v := m.ret
	m.ret = nil
	if r != returned {
		v = nil
	}
	if fn.rule >= 0 {
		m.rules[fn.rule], m.ruleSet[fn.rule] = v, true
	}
	if call != nil && v != nil {
		m.pending = append(m.pending, memoEntry{key: call, value: v})
	}
	return v, nil
}

// memoCall returns the memo's key of a call of path with args, or nil if
// an argument is not a scalar (only such calls are remembered).
func memoCall(path *ast.Term, args []*ast.Term) ast.Ref {
	call := make(ast.Ref, 0, 1+len(args))
	call = append(call, path)
	for _, a := range args {
		if a == nil || !ast.IsScalar(a.Value) {
			return nil
		}
		call = append(call, a)
	}
	return call
}

// remember puts the calls of the evaluation that succeeded into the memo
// (which copies them: they may hold strings of the request).
func (m *machine) remember() {
	for _, e := range m.pending {
		m.prog.memo.put(e.key, e.value)
	}
}

// callDynamic calls the function whose path the operands of s name; a
// path naming no function is undefined.
func (m *machine) callDynamic(s *ir.CallDynamicStmt, l []*ast.Term) (int, error) {
	var b strings.Builder
	for i, p := range s.Path {
		v := m.operand(p, l)
		if v == nil {
			return undefined, nil
		}
		str, ok := v.Value.(ast.String)
		if !ok {
			return undefined, nil
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(string(str))
	}
	i, ok := m.prog.paths[b.String()]
	if !ok {
		return undefined, nil
	}
	base := len(m.args)
	for _, a := range s.Args {
		m.args = append(m.args, l[a])
	}
	v, err := m.function(i, base)
	return result(l, s.Result, v, err)
}

// result ends a call statement whose call returned v, err: it fails, is
// undefined, or assigns v to target.
func result(l []*ast.Term, target ir.Local, v *ast.Term, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	if v == nil {
		return undefined, nil
	}
	l[target] = v
	return next, nil
}
