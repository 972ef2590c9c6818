package policy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/rego"
)

// Planning: the decision compiled to OPA's intermediate representation.
//
// OPA's planner (the compiler behind `opa build -t plan` and the Wasm
// target) turns the decision query and the rules it reaches into a plan:
// blocks of statements over numbered locals, lookups, scans and builtin
// calls, with no unification, bindings or backtracking left to do at
// evaluation time. vm.go interprets it. The plan is the policy as written
// (after fold.go's precomputation), compiled by OPA: the decision stays
// expressed in Rego.
//
// Constants are not planned as values. A rule whose value is a constant
// (the generated constraints index, globs and roles, the precomputed tables,
// the privilege tables of rego/roles.rego) would be planned as the statements
// building its value, run once per evaluation: at 10,000 constraints, tens of
// thousands of statements per decision. planDecision rewrites each such rule
// `name := <value>` as `name := data[constantsKey][<path>]` and hands the
// values over in the base data document, which the plan reads with a
// lookup, as OPA reads a document of its store. The rule stays where it was,
// so that every reference to it resolves as before.

// planTarget is the name of the rego target whose plugin receives the plan.
const planTarget = "portcullis-plan"

func init() { rego.RegisterPlugin(planTarget, planCapture{}) }

// planCapture is a rego target plugin that only keeps the plan: rego hands
// a target plugin the plan of the prepared query, which is the public way
// to have OPA plan a query. The plan goes to the *ir.Policy the context
// carries (planKey), so that concurrent compilations do not mix.
type planCapture struct{}

type planKey struct{}

func (planCapture) IsTarget(t string) bool { return t == planTarget }

func (planCapture) PrepareForEval(ctx context.Context, p *ir.Policy, _ ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	dst, ok := ctx.Value(planKey{}).(**ir.Policy)
	if !ok {
		return nil, errors.New("plan requested without a destination")
	}
	*dst = p
	return planCapture{}, nil
}

// Eval is never called: the prepared query is only planned.
func (planCapture) Eval(context.Context, *rego.EvalContext, ast.Value) (ast.Value, error) {
	return nil, errors.New("planned only")
}

// planResult is the variable of the planned query holding the decision.
const planResult = "result"

// planDecision plans the decision query over modules (parsed, not
// compiled) and returns the plan and the base data document: the values of
// the constant rules it took out of the modules.
func planDecision(ctx context.Context, modules map[string]*ast.Module) (*ir.Policy, ast.Object, error) {
	planned, data, err := splitConstants(modules)
	if err != nil {
		return nil, nil, err
	}
	p, err := planQuery(ctx, planResult+" = "+decisionRef.String(), planned)
	if err != nil {
		return nil, nil, err
	}
	return p, data, nil
}

// planQuery plans query over modules, with the policy's capabilities.
func planQuery(ctx context.Context, query string, modules map[string]*ast.Module) (*ir.Policy, error) {
	opts := []func(*rego.Rego){
		rego.Query(query),
		rego.Target(planTarget),
		rego.Capabilities(capabilities),
		rego.SetRegoVersion(ast.RegoV1),
	}
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		opts = append(opts, rego.ParsedModule(modules[name]))
	}
	var p *ir.Policy
	if _, err := rego.New(opts...).PrepareForEval(context.WithValue(ctx, planKey{}, &p)); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if p == nil {
		return nil, errors.New("plan: the planner produced no plan")
	}
	if len(p.UnplannedRules) > 0 {
		return nil, fmt.Errorf("plan: rule %s cannot be planned", p.UnplannedRules[0].Path)
	}
	return p, nil
}

// constantsKey is the member of the base data document holding the values
// of the constant rules, keyed by rule path. No package can be named so.
const constantsKey = "\x00constants"

// splitConstants returns modules with each constant rule's value replaced
// by a reference to the base data document, and that document. A rule is
// constant when it is the only rule of its path (no default, no other
// definition, no else), a complete rule with a ground value and an empty
// body.
func splitConstants(modules map[string]*ast.Module) (map[string]*ast.Module, ast.Object, error) {
	count := map[string]int{}
	for _, m := range modules {
		for _, r := range m.Rules {
			count[m.Package.Path.Extend(r.Head.Ref()).String()]++
		}
	}
	values := ast.NewObject()
	out := make(map[string]*ast.Module, len(modules))
	for name, m := range modules {
		var rules []*ast.Rule
		for i, r := range m.Rules {
			key := m.Package.Path.Extend(r.Head.Ref()).String()
			if count[key] != 1 || !constantRuleDef(r) {
				continue
			}
			if rules == nil {
				rules = slices.Clone(m.Rules)
			}
			values.Insert(ast.StringTerm(key), r.Head.Value)
			// A shallow copy: r.Copy would copy the value it replaces, and
			// OPA's compiler copies the modules it compiles.
			cp, head := *r, *r.Head
			head.Value = ast.RefTerm(ast.DefaultRootDocument, ast.InternedTerm(constantsKey), ast.StringTerm(key))
			head.Value.Location = r.Head.Value.Location
			cp.Head = &head
			rules[i] = &cp
		}
		if rules == nil {
			out[name] = m
			continue
		}
		cp := *m
		cp.Rules = rules
		out[name] = &cp
	}
	return out, ast.NewObject(ast.Item(ast.InternedTerm(constantsKey), ast.NewTerm(values))), nil
}

// constantRuleDef reports whether r is `name := <constant>` with an empty
// body.
func constantRuleDef(r *ast.Rule) bool {
	h := r.Head
	return !r.Default && r.Else == nil && len(h.Args) == 0 && h.Key == nil && h.Value != nil &&
		ast.IsConstant(h.Value.Value) && trivialBody(r.Body)
}
