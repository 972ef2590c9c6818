package policy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Config configures an Engine.
type Config struct {
	// Dir is a directory of .rego files (not *_test.rego, not in
	// subdirectories) replacing the embedded default policy of package rego.
	// It normally holds an edited copy of rego/. Default "": the embedded
	// files.
	Dir string
}

type options struct {
	logger    *slog.Logger
	cacheSize int
	plain     bool // no precomputed rules, no memo: see withoutPrecomputation
	topdown   bool // evaluate with topdown, not the plan: see withTopdown
}

// Option configures an Engine beyond its Config.
type Option func(*options)

// WithLogger sets the logger for compilations. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithDecisionCache sets how many decisions the engine caches (see
// cache.go: only for a policy whose decisions depend on nothing but the
// user's roles and the request's method, path, kind and privilege). 0
// disables the cache. Default DefaultDecisionCacheSize.
func WithDecisionCache(entries int) Option {
	return func(o *options) { o.cacheSize = max(0, entries) }
}

// withoutPrecomputation makes the engine evaluate the policy as written:
// no rule precomputed (fold.go), no function value remembered (memo.go).
// The tests compare the two.
func withoutPrecomputation() Option { return func(o *options) { o.plain = true } }

// withTopdown makes the engine evaluate the policy with OPA's evaluator,
// topdown, instead of interpreting its plan (vm.go). The tests compare the
// two; withoutPrecomputation implies it.
func withTopdown() Option { return func(o *options) { o.topdown = true } }

// Engine evaluates the authorization policy. It is safe for concurrent use.
type Engine struct {
	cfg       Config
	log       *slog.Logger
	cacheSize int
	plain     bool
	topdown   bool

	// mu serialises compilations (SetConstraints, SetRoles, Reload) so the
	// last change wins and no change is lost; Decide never takes it. Each
	// of SetConstraints and SetRoles regenerates the module with the
	// other's current set.
	mu          sync.Mutex
	policy      []source     // guarded by mu
	constraints []Constraint // guarded by mu
	roles       []Role       // guarded by mu
	generated   generated    // guarded by mu
	folds       foldCache    // guarded by mu

	cur atomic.Pointer[prepared]

	terms *inputTerms // input terms kept across requests, see inputValue

	// granting serves PrivilegesGranting (privileges_granting.go).
	granting atomic.Pointer[grantingSnapshot]
}

// prepared is one compiled policy, immutable once published.
type prepared struct {
	eval      decider
	fields    inputFields // of the input document, those the policy reads
	evaluator string      // "plan" or "topdown"
	// evaluatorReason says why a policy is evaluated by topdown.
	evaluatorReason string
	revision        string
	generated       string         // source
	cache           *decisionCache // nil when disabled or the policy is not cacheable
	noCache         string         // why the policy is not cacheable, or ""
	folded          []string       // the rules precomputed when compiling (fold)
}

// decider evaluates the decision query of one compiled policy: a program
// (the plan, vm.go) or an evaluator (topdown, eval.go).
type decider interface {
	eval(ctx context.Context, user, request *ast.Term) (*ast.Term, error)
}

// New returns an Engine with the policy of cfg, no constraints and no roles
// but the built-in ones.
func New(cfg Config, opts ...Option) (*Engine, error) {
	o := options{logger: slog.New(slog.DiscardHandler), cacheSize: DefaultDecisionCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	e := &Engine{cfg: cfg, log: o.logger, cacheSize: o.cacheSize, plain: o.plain, topdown: o.topdown || o.plain, terms: newInputTerms()}

	policy, err := loadPolicy(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	generated, err := generate(nil, nil)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.install(context.Background(), policy, generated, nil, nil); err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return e, nil
}

// SetConstraints replaces the constraints: it validates them, regenerates
// the constraints module, recompiles and swaps the new policy in. On error
// (an invalid constraint, a duplicate or empty id) the current policy stays.
func (e *Engine) SetConstraints(ctx context.Context, cs []Constraint) error {
	if err := checkConstraints(cs); err != nil {
		return fmt.Errorf("set constraints: %w", err)
	}
	cs = slices.Clone(cs)
	e.mu.Lock()
	defer e.mu.Unlock()
	generated, err := generate(cs, e.roles)
	if err != nil {
		return fmt.Errorf("set constraints: %w: %w", ErrInvalidConstraint, err)
	}
	if err := e.install(ctx, e.policy, generated, cs, e.roles); err != nil {
		return fmt.Errorf("set constraints: %w", err)
	}
	return nil
}

// SetRoles replaces the roles created through the API: it validates them
// (ValidateRole, names unique), regenerates the module with the current
// constraints, recompiles and swaps the new policy in. On error (an
// invalid role, a name the policy files define in package portcullis.roles)
// the current policy stays.
func (e *Engine) SetRoles(ctx context.Context, rs []Role) error {
	if err := checkRoles(rs); err != nil {
		return fmt.Errorf("set roles: %w", err)
	}
	rs = slices.Clone(rs)
	e.mu.Lock()
	defer e.mu.Unlock()
	generated, err := generate(e.constraints, rs)
	if err != nil {
		return fmt.Errorf("set roles: %w: %w", ErrInvalidRole, err)
	}
	if err := e.install(ctx, e.policy, generated, e.constraints, rs); err != nil {
		return fmt.Errorf("set roles: %w", err)
	}
	return nil
}

// Set replaces the constraints and the roles at once, with one
// recompilation instead of the two of SetConstraints and SetRoles (a
// replica's start, when both come from its model). On error the current
// policy stays.
func (e *Engine) Set(ctx context.Context, cs []Constraint, rs []Role) error {
	if err := checkConstraints(cs); err != nil {
		return fmt.Errorf("set constraints and roles: %w", err)
	}
	if err := checkRoles(rs); err != nil {
		return fmt.Errorf("set constraints and roles: %w", err)
	}
	cs, rs = slices.Clone(cs), slices.Clone(rs)
	e.mu.Lock()
	defer e.mu.Unlock()
	generated, err := generate(cs, rs)
	if err != nil { // only constraints fail to generate
		return fmt.Errorf("set constraints and roles: %w: %w", ErrInvalidConstraint, err)
	}
	if err := e.install(ctx, e.policy, generated, cs, rs); err != nil {
		return fmt.Errorf("set constraints and roles: %w", err)
	}
	return nil
}

// Reload re-reads the policy files (Config.Dir, or the embedded ones) and
// recompiles them with the current constraints. On error the current policy
// stays.
func (e *Engine) Reload(ctx context.Context) error {
	policy, err := loadPolicy(e.cfg.Dir)
	if err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.install(ctx, policy, e.generated, e.constraints, e.roles); err != nil {
		return fmt.Errorf("reload: %w", err)
	}
	return nil
}

// install compiles policy with generated and publishes it. e.mu is held.
func (e *Engine) install(ctx context.Context, policy []source, gen generated, cs []Constraint, rs []Role) error {
	start := time.Now()
	p, err := prepare(ctx, policy, gen, e.cacheSize, !e.plain, !e.topdown, &e.folds)
	if err != nil {
		e.log.ErrorContext(ctx, "policy_compilation_failed", slog.Any("error", err))
		return err
	}
	e.policy, e.generated, e.constraints, e.roles = policy, gen, cs, rs
	e.cur.Store(p)
	e.log.InfoContext(ctx, "policy_compiled",
		slog.String("revision", p.revision),
		slog.Int("constraints", len(cs)),
		slog.Int("roles", len(rs)),
		slog.Int("modules", len(policy)+1),
		slog.Bool("decision_cache", p.cache != nil),
		slog.String("decision_cache_off_reason", p.noCache),
		slog.Any("precomputed", p.folded),
		slog.String("evaluator", p.evaluator),
		slog.String("evaluator_reason", p.evaluatorReason),
		slog.Duration("duration", time.Since(start)))
	return nil
}

// Generated returns the source of the generated module: constraints and
// roles.
func (e *Engine) Generated() string { return e.cur.Load().generated }

// Revision returns the revision of the current policy: the first 16 hex
// digits of a SHA-256 over every module, the generated one included.
func (e *Engine) Revision() string { return e.cur.Load().revision }

// Decide evaluates the policy for in. It does no I/O and is safe for
// concurrent use. On error the returned Decision denies, and so must the
// caller. Decide keeps no reference to in or its strings (which may point
// into a request buffer), and the Decision shares no memory with them.
//
// A context already done is an error; a running evaluation is not
// interrupted (it takes microseconds and has no I/O to wait on), which spares
// the goroutine OPA would otherwise start per evaluation to watch ctx.
func (e *Engine) Decide(ctx context.Context, in *Input) (Decision, error) {
	p := e.cur.Load()
	if in == nil {
		return Decision{Reason: "no input", Revision: p.revision}, ErrNilInput
	}
	if err := ctx.Err(); err != nil {
		return Decision{Reason: "evaluation cancelled", Revision: p.revision}, fmt.Errorf("%w: %w", ErrEval, err)
	}
	method := strings.ToUpper(in.Request.Method)

	var h uint64
	if p.cache != nil {
		var d Decision
		var hit bool
		if d, h, hit = p.cache.get(in, method); hit {
			d.Revision = p.revision
			return d, nil
		}
	}

	user, request := inputParts(in, method, p.fields, e.terms)
	t, err := p.eval.eval(ctx, user, request)
	if err != nil {
		return Decision{Reason: "policy evaluation failed", Revision: p.revision}, fmt.Errorf("%w: %w", ErrEval, err)
	}
	d, err := decision(t)
	if err == nil && p.cache != nil {
		p.cache.put(h, in, method, d)
	}
	d.Revision = p.revision
	return d, err
}

// builtinRolesRef is the package of the built-in roles (rego/roles.rego).
var builtinRolesRef = ast.MustParseRef("data.portcullis.roles")

var (
	keyAllow  = ast.StringTerm("allow")
	keyReason = ast.StringTerm("reason")
	keyRule   = ast.StringTerm("rule")

	errMalformed = errors.New("decision is not an object {allow: boolean, reason: string, rule: string}")
)

// decision reads the Decision out of the value of the decision query.
func decision(t *ast.Term) (Decision, error) {
	deny := Decision{Reason: "policy produced no decision"}
	obj, ok := t.Value.(ast.Object)
	if !ok {
		return deny, fmt.Errorf("%w: %w", ErrEval, errMalformed)
	}
	allow, ok1 := termValue[ast.Boolean](obj.Get(keyAllow))
	reason, ok2 := termValue[ast.String](obj.Get(keyReason))
	rule, ok3 := termValue[ast.String](obj.Get(keyRule))
	if !ok1 || !ok2 || !ok3 {
		return deny, fmt.Errorf("%w: %w", ErrEval, errMalformed)
	}
	// A reason or rule may be a string of the input (deny contains
	// input.request.path): copy, the Decision outlives the request buffer.
	return Decision{Allow: bool(allow), Reason: strings.Clone(string(reason)), Rule: strings.Clone(string(rule))}, nil
}

func termValue[T ast.Value](t *ast.Term) (T, bool) {
	var zero T
	if t == nil {
		return zero, false
	}
	v, ok := t.Value.(T)
	return v, ok
}

// checkConstraints validates cs as a whole: each constraint, and ids
// non-empty and unique.
func checkConstraints(cs []Constraint) error {
	var errs []error
	seen := make(map[string]bool, len(cs))
	for i, c := range cs {
		if c.ID == "" {
			errs = append(errs, fmt.Errorf("%w: constraint #%d has no id", ErrInvalidConstraint, i))
		} else if seen[c.ID] {
			errs = append(errs, fmt.Errorf("%w %q: duplicate id", ErrInvalidConstraint, c.ID))
		}
		seen[c.ID] = true
		if err := ValidateConstraint(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// prepare compiles policy and generated into a prepared decision query,
// with a decision cache of cacheSize entries if the policy allows one, and
// if precompute its input-independent rules folded and its pure functions
// memoised (fc: see compile). If planned, the decision is evaluated by
// interpreting its plan (plan.go, vm.go), unless the planner or the
// interpreter cannot take the policy: then, as otherwise, by topdown.
func prepare(ctx context.Context, policy []source, gen generated, cacheSize int, precompute, planned bool, fc *foldCache) (*prepared, error) {
	// Both evaluators read the constants from the base data document: the
	// compiler need not walk their values (compile, split).
	compiler, modules, folded, data, err := compile(ctx, policy, gen, precompute, true, fc)
	if err != nil {
		return nil, err
	}
	if len(compiler.GetRulesExact(decisionRef)) == 0 {
		return nil, fmt.Errorf("%w: no rule defines %v", ErrCompile, decisionRef)
	}
	for _, name := range gen.roles {
		if len(compiler.GetRulesWithPrefix(builtinRolesRef.Append(ast.StringTerm(name)))) > 0 {
			return nil, fmt.Errorf("%w %q: the policy defines a built-in role of that name", ErrInvalidRole, name)
		}
	}

	fields := readInputFields(compiler)
	var ev decider
	kind, reason := "topdown", "configured"
	if planned {
		var pure []memoFunc
		if precompute {
			pure = memoFuncs(compiler)
		}
		prog, err := newPlanned(ctx, modules, gen, pure)
		if err == nil {
			ev, kind, reason = prog, "plan", ""
		} else {
			reason = err.Error()
		}
	}
	if ev == nil {
		if ev, err = newEvaluator(ctx, compiler, gen, data, precompute); err != nil {
			return nil, err
		}
	}
	ok, why := cacheable(compiler)
	var cache *decisionCache
	if ok && cacheSize > 0 {
		cache = newDecisionCache(cacheSize)
	}
	return &prepared{
		cache:           cache,
		noCache:         why,
		eval:            ev,
		fields:          fields,
		folded:          folded,
		evaluator:       kind,
		evaluatorReason: reason,
		revision:        revision(append(slices.Clone(policy), source{name: generatedName, text: gen.source})),
		generated:       gen.source,
	}, nil
}
