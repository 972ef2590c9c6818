package policy

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/tester"
)

// Test runs the OPA unit tests (rules named test_*) of the *_test.rego
// files in dir, against the policy files of dir, and prints the results to
// w as `opa test -v` does. dir "" means the embedded files of package rego.
// The policy is compiled as Engine compiles it (Rego v1, without
// deniedBuiltins) but without the generated constraints module: tests supply
// data.portcullis.constraints themselves (`with data.portcullis.constraints
// as ...`), so that `opa test rego/` runs them the same way.
//
// failed counts failing tests and tests that raised an error. err reports a
// policy or test file that could not be loaded or compiled.
func Test(ctx context.Context, dir string, w io.Writer) (passed, failed int, err error) {
	srcs, err := load(dir, func(string) bool { return true })
	if err != nil {
		return 0, 0, fmt.Errorf("policy test: %w", err)
	}
	if !hasTests(srcs) {
		return 0, 0, fmt.Errorf("policy test: %w: no *_test.rego files in %q", ErrCompile, dir)
	}
	modules, err := parse(srcs)
	if err != nil {
		return 0, 0, fmt.Errorf("policy test: %w", err)
	}
	ch, err := tester.NewRunner().
		SetCompiler(newCompiler(true)).
		SetModules(modules).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true).
		RunTests(ctx, nil)
	if err != nil {
		return 0, 0, fmt.Errorf("policy test: %w: %w", ErrCompile, err)
	}

	// Tests run in parallel; report them in file order, as `opa test` does
	// for one file.
	var results []*tester.Result
	for r := range ch {
		switch {
		case r.Skip:
		case r.Pass():
			passed++
		default:
			failed++
		}
		results = append(results, r)
	}
	slices.SortFunc(results, func(a, b *tester.Result) int {
		return cmp.Or(cmp.Compare(a.Location.File, b.Location.File), cmp.Compare(a.Location.Row, b.Location.Row))
	})
	sorted := make(chan *tester.Result, len(results))
	for _, r := range results {
		sorted <- r
	}
	close(sorted)
	if err := (tester.PrettyReporter{Output: w, Verbose: true}).Report(sorted); err != nil {
		return passed, failed, fmt.Errorf("policy test: %w", err)
	}
	return passed, failed, nil
}

func hasTests(srcs []source) bool {
	for _, s := range srcs {
		if strings.HasSuffix(s.name, "_test.rego") {
			return true
		}
	}
	return false
}
