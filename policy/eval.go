package policy

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// evaluator runs the decision query of one compiled policy with OPA's
// evaluator (topdown) directly, without package rego's per-evaluation
// machinery: rego.PreparedEvalQuery.Eval builds an EvalContext, opens a
// store transaction, starts a goroutine watching the context, wraps each
// result in a ResultSet; none of which a decision needs. What it does is
// what rego would do with the same compiler: the same compiled query, the
// same builtins, strict builtin errors.
type evaluator struct {
	compiler *ast.Compiler
	query    ast.Body // the compiled decisionQuery
	result   ast.Var  // the query's variable holding the decision
	store    storage.Store
	txn      storage.Transaction
	patterns cache.InterQueryValueCache
	cancel   topdown.Cancel
	metrics  metrics.Metrics
	memo     *memo // nil if the policy has no pure function
}

// resultVar is the variable of the queries compileQuery compiles. Query
// variables are local to the query, so it cannot clash with a name of the
// policy.
const resultVar = ast.Var("result")

// compileQuery compiles the query `result = <ref>` and returns it with the
// variable holding the value of ref once compiled.
func compileQuery(c *ast.Compiler, ref ast.Ref) (ast.Body, ast.Var, error) {
	qc := c.QueryCompiler()
	query, err := qc.Compile(ast.NewBody(ast.Equality.Expr(ast.NewTerm(resultVar), ast.NewTerm(ref))))
	if err != nil {
		return nil, "", err
	}
	result := resultVar
	for rewritten, original := range qc.RewrittenVars() {
		if original == resultVar {
			result = rewritten
		}
	}
	return query, result, nil
}

// noRequestMetadata is handed to every evaluation, sparing topdown the
// allocation of an empty map each time; builtins only read it.
var noRequestMetadata = map[string]any{}

// newEvaluator returns the evaluator of the policy compiled in compiler, with
// gen, over the base data document data (compile's, nil for none). memoise
// enables the memo of pure function values (memo.go).
func newEvaluator(ctx context.Context, compiler *ast.Compiler, gen generated, data ast.Object, memoise bool) (*evaluator, error) {
	query, result, err := compileQuery(compiler, decisionRef)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	// Every evaluation reads through one transaction opened here and never
	// closed. The store holds data, is private to this evaluator and never
	// written after, so the transaction stays valid and sparing its
	// per-request open and close removes a lock every request would share.
	if data == nil {
		data = ast.NewObject()
	}
	store, err := dataStore(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCompile, err)
	}
	var m *memo
	if memoise {
		m = newMemo(memoFuncs(compiler), DefaultMemoSize)
	}
	return &evaluator{
		compiler: compiler,
		query:    query,
		result:   result,
		store:    store,
		txn:      txn,
		patterns: newPatternCache(ctx, gen.patterns),
		cancel:   topdown.NewCancel(), // never cancelled: see Engine.Decide
		metrics:  metrics.NoOp(),
		memo:     m,
	}, nil
}

// eval evaluates the decision for the input of user and request and
// returns it, unconverted.
func (ev *evaluator) eval(ctx context.Context, user, request *ast.Term) (*ast.Term, error) {
	input := inputObject(user, request)
	var out *ast.Term
	n := 0
	vc := getFrameCache(ev.memo)
	err := topdown.NewQuery(ev.query).
		WithCompiler(ev.compiler).
		WithStore(ev.store).
		WithTransaction(ev.txn).
		WithInput(ast.NewTerm(input)).
		WithCancel(ev.cancel).
		WithMetrics(ev.metrics).
		WithInterQueryBuiltinValueCache(ev.patterns).
		// A builtin error (to_number("x") in a deny rule) fails the
		// evaluation, hence denies, instead of leaving the rule undefined.
		WithStrictBuiltinErrors(true).
		WithSeed(rand.Reader).
		WithTime(time.Now()).
		WithRequestMetadata(noRequestMetadata).
		WithVirtualCache(vc).
		WithBaseCache(noBaseCache{}).
		Iter(ctx, func(qr topdown.QueryResult) error {
			n++
			out = qr[ev.result]
			return nil
		})
	vc.release(err == nil)
	if err != nil {
		return nil, err
	}
	if n != 1 || out == nil {
		return nil, fmt.Errorf("%d results", n)
	}
	return out, nil
}
