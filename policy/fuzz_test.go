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

// FuzzInterpreterMatchesTopdown decides requests of any strings (the
// request's are untrusted) with the interpreter and with topdown, under the
// same constraints and roles, and requires the same decision or the same
// failure.
func FuzzInterpreterMatchesTopdown(f *testing.F) {
	f.Add("GET", "/aaa", "user", "content", "", "indices:data/read/get", "logs-1")
	f.Add("PUT", "/aaa/zzz/1", "admin", "content", "", "indices:data/write/index", "*")
	f.Add("POST", "/_security/user/bob", "r5", "management", "manage_security", "", "")
	f.Add("HEAD", "/.security-7/x", "monitor", "content", "", "indices:monitor/stats", ".security-7")
	f.Add("GET", "/m/\x00/x", "reader", "content", "1", "cluster:monitor/health", "a\x01b")
	f.Add("DELETE", "//logs-2024//", "*", "other", "x", "indices:admin/delete", "logs-*,-logs-1")
	ctx := context.Background()
	roles := []Role{
		{Name: "r5", Cluster: []string{"manage_api_key"}, Indices: []IndexPrivileges{{Names: []string{"logs-*"}, Privileges: []string{"read"}}, {Names: []string{"*"}, Privileges: []string{"index"}}}},
		{Name: "admin", Indices: []IndexPrivileges{{Names: []string{"*", ".security*"}, Privileges: []string{"all"}, AllowRestrictedIndices: true}}},
	}
	engines := [2]*Engine{}
	for i, opts := range [][]Option{{WithDecisionCache(0)}, {WithDecisionCache(0), withTopdown()}} {
		e, err := New(Config{}, opts...)
		if err != nil {
			f.Fatal(err)
		}
		if err := e.SetConstraints(ctx, testConstraints); err != nil {
			f.Fatal(err)
		}
		if err := e.SetRoles(ctx, roles); err != nil {
			f.Fatal(err)
		}
		engines[i] = e
	}
	if engines[0].cur.Load().evaluator != "plan" || engines[1].cur.Load().evaluator != "topdown" {
		f.Fatal("engines do not evaluate as meant")
	}
	f.Fuzz(func(t *testing.T, method, path, role, kind, privilege, action, index string) {
		in := content(method, path, role, "user")
		in.Request.Kind, in.Request.Privilege, in.Request.Action = kind, privilege, action
		if action != "" {
			in.Request.Targets = []Target{{Action: action, Indices: []string{index}}, {Action: action, AnyIndex: index == ""}}
		}
		got, gotErr := engines[0].Decide(ctx, in)
		want, wantErr := engines[1].Decide(ctx, in)
		if (gotErr != nil) != (wantErr != nil) || got != want {
			t.Fatalf("%+v: plan %+v, %v; topdown %+v, %v", in.Request, got, gotErr, want, wantErr)
		}
	})
}
