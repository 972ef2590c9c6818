package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/test/cases"
	"github.com/open-policy-agent/opa/v1/util"
)

// TestInterpreterConformance runs OPA's own evaluation test suite (the
// cases OPA checks topdown and its Wasm compiler with, shipped in its
// module) through the planner and this package's interpreter, and compares
// every result set with topdown's for the same query, modules, data and
// input. Cases the interpreter declines (with, builtins outside the
// policy's capabilities) or that the planner cannot plan are counted as
// skipped; any case both run must agree.
func TestInterpreterConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: OPA's suite takes a few seconds")
	}
	dir := opaTestCases(t)
	set, err := cases.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var ran, skipped int
	skips := map[string]int{}
	for _, tc := range set.Sorted().Cases {
		if reason, ok := conformanceExceptions[tc.Note]; ok {
			skips[reason]++
			skipped++
			continue
		}
		why := runConformanceCase(t, tc)
		if why == "" || why == bothFail {
			ran++
		}
		if why == "" {
			continue
		}
		skips[why]++
		if why != bothFail {
			skipped++
		}
	}
	t.Logf("%d cases agreed (%d of them failing both ways), %d skipped: %v", ran, skips[bothFail], skipped, skips)
	// The suite holds some 2,000 cases: most must run, so that a change
	// skipping them wholesale (a planner error, say) does not pass quietly.
	if ran < 1000 {
		t.Errorf("only %d cases ran", ran)
	}
}

// bothFail is a case topdown and the interpreter both fail: they agree.
const bothFail = "both fail"

// conformanceExceptions are the cases where the interpreter and topdown
// differ, by design, and why.
var conformanceExceptions = map[string]string{
	// data[2] over a base document {"2": ...}: topdown reads base
	// documents through the store, whose paths are strings, so the number 2
	// finds the key "2"; the plan reads the document as a value, where it
	// does not (as in Rego, {"2": "bar"}[2] is undefined). The engine has no
	// base documents: its data are rules, which topdown reads as values too.
	"data/toplevel integer": "integer key into a base document",
	"data/nested integer":   "integer key into a base document",
}

// opaTestCases returns the directory of OPA's Rego v1 test cases in the
// module cache.
func opaTestCases(t *testing.T) string {
	t.Helper()
	dir := reflect.TypeFor[cases.TestCase]().PkgPath() // .../v1/test/cases
	root, err := moduleDir("github.com/open-policy-agent/opa")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, strings.TrimPrefix(dir, "github.com/open-policy-agent/opa/"), "testdata", "v1")
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("OPA's test cases: %v", err)
	}
	return path
}

// moduleDir returns the directory of module mod (a dependency) in the
// module cache, by running the go command.
func moduleDir(mod string) (string, error) {
	out, err := goList("-m", "-f", "{{.Dir}}", mod)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// runConformanceCase runs tc both ways and reports a disagreement, or
// returns why it skipped the case ("" if it ran).
func runConformanceCase(t *testing.T, tc cases.TestCase) string {
	t.Helper()
	if len(tc.Env) > 0 {
		return "reads the environment"
	}
	ctx := context.Background()
	modules := map[string]*ast.Module{}
	for i, src := range tc.Modules {
		m, err := ast.ParseModuleWithOpts(fmt.Sprintf("mod%d.rego", i), src, ast.ParserOptions{RegoVersion: ast.RegoV1, Capabilities: capabilities})
		if err != nil {
			return "does not parse"
		}
		modules[fmt.Sprintf("mod%d.rego", i)] = m
	}
	var data map[string]any
	if tc.Data != nil {
		data = *tc.Data
	}
	var input *ast.Term
	if tc.InputTerm != nil {
		v, err := ast.ParseTerm(*tc.InputTerm)
		if err != nil {
			return "input does not parse"
		}
		input = v
	} else if tc.Input != nil {
		v, err := ast.InterfaceToValue(*tc.Input)
		if err != nil {
			return "input does not convert"
		}
		input = ast.NewTerm(v)
	}

	storeData, err := copyData(data)
	if err != nil {
		return "data does not copy"
	}
	vmData, err := copyData(data)
	if err != nil {
		return "data does not copy"
	}
	// topdown, through package rego, as the engine runs it: strict
	// builtin errors.
	opts := []func(*rego.Rego){
		rego.Query(tc.Query),
		rego.Capabilities(capabilities),
		rego.SetRegoVersion(ast.RegoV1),
		rego.Store(inmem.NewFromObject(storeData)),
		rego.StrictBuiltinErrors(true),
	}
	for _, name := range slices.Sorted(maps.Keys(modules)) {
		opts = append(opts, rego.ParsedModule(modules[name]))
	}
	if input != nil {
		opts = append(opts, rego.ParsedInput(input.Value))
	}
	rs, tdErr := rego.New(opts...).Eval(ctx)
	if tdErr != nil && strings.Contains(tdErr.Error(), "rego_compile_error") {
		// Modules conflicting with the case's base documents: the store
		// is not planned; the engine has no base documents.
		return "does not compile with its data"
	}
	want := make([]string, 0, len(rs))
	for _, r := range rs {
		want = append(want, bindingsKey(t, r.Bindings))
	}

	p, err := planQuery(ctx, tc.Query, modules)
	if err != nil {
		return "not planned"
	}
	dv, err := ast.InterfaceToValue(vmData)
	if err != nil {
		return "data does not convert"
	}
	prog, err := newProgram(ctx, p, dv.(ast.Object), generated{})
	if err != nil {
		return "declined: " + strings.SplitN(err.Error(), ": ", 2)[1]
	}
	var got []string
	err = prog.run(ctx, input, func(res *ast.Term) {
		if tdErr != nil {
			got = append(got, res.String())
			return
		}
		b := map[string]any{}
		res.Value.(ast.Object).Foreach(func(k, v *ast.Term) {
			name := string(k.Value.(ast.String))
			if strings.HasPrefix(name, "__") || strings.HasPrefix(name, "$") {
				return // generated
			}
			j, err := ast.JSONWithOpt(v.Value, ast.JSONOpt{SortSets: true})
			if err != nil {
				t.Errorf("%s: result: %v", tc.Note, err)
			}
			b[name] = j
		})
		got = append(got, bindingsKey(t, b))
	})
	switch {
	case tdErr != nil && len(got) > 0:
		// Where topdown fails, the engine denies; so must the
		// interpreter: fail, or find nothing.
		t.Errorf("%s: interpreter decided %v where topdown failed: %v\nquery: %s\nmodules: %s", tc.Note, got, tdErr, tc.Query, strings.Join(tc.Modules, "\n---\n"))
		return ""
	case tdErr != nil:
		return bothFail
	case err != nil:
		t.Errorf("%s: interpreter failed where topdown did not: %v\nquery: %s\nmodules: %s", tc.Note, err, tc.Query, strings.Join(tc.Modules, "\n---\n"))
		return ""
	}
	slices.Sort(want)
	slices.Sort(got)
	want, got = slices.Compact(want), slices.Compact(got) // the plan may add a result twice
	if !slices.Equal(want, got) {
		t.Errorf("%s: interpreter %v, topdown %v\nquery: %s\nmodules: %s", tc.Note, got, want, tc.Query, strings.Join(tc.Modules, "\n---\n"))
	}
	return ""
}

// bindingsKey encodes bindings, for comparison: generated variables left
// out, sets sorted.
func bindingsKey(t *testing.T, b rego.Vars) string {
	t.Helper()
	out := map[string]any{}
	for k, v := range b {
		if strings.HasPrefix(k, "__") || strings.HasPrefix(k, "$") {
			continue
		}
		av, err := ast.InterfaceToValue(v)
		if err != nil {
			t.Fatal(err)
		}
		out[k], err = ast.JSONWithOpt(av, ast.JSONOpt{SortSets: true})
		if err != nil {
			t.Fatal(err)
		}
	}
	j, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(j)
}

// copyData deep-copies a test case's data: the store and the conversion
// must not share it.
func copyData(d map[string]any) (map[string]any, error) {
	if d == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, util.UnmarshalJSON(b, &out)
}

// goList runs go list with args.
func goList(args ...string) (string, error) {
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		return "", fmt.Errorf("go list %v: %w", args, err)
	}
	return string(out), nil
}
