package policy

import (
	"context"
	"strings"
	"testing"
)

// FuzzValidateConstraint checks that ValidateConstraint never panics and
// that whatever it accepts compiles: the gateway answers 200 to a constraint
// it validated, so SetConstraints must not fail on it later.
func FuzzValidateConstraint(f *testing.F) {
	for _, c := range testConstraints {
		f.Add(c.ID, c.Paths[0], c.Methods[0], c.Roles[0])
	}
	f.Add(`q"1`, `/a"b/\x*y`, "post", `r\1`)
	f.Add("x", "/a//b", "FETCH", "")
	e, err := New(Config{}, WithDecisionCache(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, id, path, method, role string) {
		// Any request is decided, without error, whatever its strings.
		in := content(method, path, role)
		if _, err := e.Decide(context.Background(), in); err != nil {
			t.Fatalf("Decide(%+v): %v", in, err)
		}

		c := Constraint{ID: id, Paths: []string{path}, Methods: []string{method}, Roles: []string{role}}
		if ValidateConstraint(c) != nil || id == "" {
			return
		}
		if err := e.SetConstraints(context.Background(), []Constraint{c}); err != nil {
			t.Fatalf("valid constraint %+v does not compile: %v", c, err)
		}
		if d, err := e.Decide(context.Background(), in); err != nil || (!d.Allow && d.Rule != "deny" && !strings.Contains(path, "*")) {
			t.Fatalf("Decide(%+v) under %+v = %+v, %v; want granted", in, c, d, err)
		}
	})
}
