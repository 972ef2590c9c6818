package policy

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
)

// TestPatternsMatcher checks rego/authz.rego's patterns_matcher and matches,
// which sort glob patterns into lookups, prefixes and globs, against
// glob.match itself on random patterns and strings, special characters
// and the delimiter included.
func TestPatternsMatcher(t *testing.T) {
	ctx := context.Background()
	var mods []func(*rego.Rego)
	for _, s := range mustLoad(t) {
		mods = append(mods, rego.Module(s.name, s.text))
	}
	prepare := func(query string) rego.PreparedEvalQuery {
		q, err := rego.New(append(mods, rego.Query(query), rego.StrictBuiltinErrors(true))...).PrepareForEval(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	fast := prepare(`x := data.portcullis.authz.matches(data.portcullis.authz.patterns_matcher(input.patterns), input.s)`)
	glob := prepare(`x := count([p | some p in input.patterns; glob.match(p, ["\u0000"], input.s)]) > 0`)
	eval := func(q rego.PreparedEvalQuery, in map[string]any) (bool, bool) {
		rs, err := q.Eval(ctx, rego.EvalInput(in))
		if err != nil {
			return false, true
		}
		return len(rs) == 1 && rs[0].Bindings["x"] == true, false
	}

	r := rand.New(rand.NewPCG(7, 8))
	alphabet := []string{"a", "b", "-", "*", "*", "?", "[", "]", "{", "}", ",", `\`, "\x00", "/", ".", "!", "ü"}
	word := func(n int) string {
		var b strings.Builder
		for range r.IntN(n) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		return b.String()
	}
	matched, invalid := 0, 0
	for i := range 3000 {
		patterns := []any{}
		for range 1 + r.IntN(3) {
			patterns = append(patterns, word(6))
		}
		s := word(6)
		if i%3 == 0 { // a string made to match: a pattern with its stars filled
			p := patterns[0].(string)
			s = strings.ReplaceAll(p, "*", word(3))
		}
		in := map[string]any{"patterns": patterns, "s": s}
		got, gotErr := eval(fast, in)
		want, wantErr := eval(glob, in)
		if wantErr {
			// An invalid glob ("[a"): both fail when they reach it, and
			// they may reach it in different orders.
			invalid++
			continue
		}
		if gotErr || got != want {
			t.Fatalf("patterns %q, string %q: matches = %v (error %v), glob.match = %v", patterns, s, got, gotErr, want)
		}
		if want {
			matched++
		}
	}
	if matched < 300 || invalid > 1500 {
		t.Errorf("%d matches, %d invalid patterns of 3000: the generator no longer exercises matching", matched, invalid)
	}
}
