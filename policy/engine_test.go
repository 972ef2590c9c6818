package policy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/rego"
)

// testConstraints cover the cases the table below exercises.
var testConstraints = []Constraint{
	{ID: "c1", Paths: []string{"/aaa"}, Methods: []string{"get"}, Roles: []string{"user"}},
	{ID: "c2", Paths: []string{"/aaa/"}, Methods: []string{"*"}, Roles: []string{"admin"}},
	{ID: "c3", Paths: []string{"/pub"}, Methods: []string{"GET", "head"}, Roles: []string{"*"}},
	{ID: "c4", Paths: []string{"/logs-*", "/m/*/x"}, Methods: []string{"GET"}, Roles: []string{"reader"}},
	{ID: "c5", Paths: []string{"*"}, Methods: []string{"HEAD"}, Roles: []string{"monitor"}},
	{ID: "c0", Paths: []string{"/aaa/zzz"}, Methods: []string{"GET"}, Roles: []string{"user"}},
}

func newEngine(t testing.TB, cfg Config, cs []Constraint, opts ...Option) *Engine {
	t.Helper()
	e, err := New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := e.SetConstraints(context.Background(), cs); err != nil {
		t.Fatalf("SetConstraints: %v", err)
	}
	return e
}

func content(method, path string, roles ...string) *Input {
	return &Input{
		User:    User{Name: "alice", Roles: roles, Realm: "native", AuthType: "realm"},
		Request: Request{Method: method, Path: path, Kind: KindContent, RequestID: "r1", SourceIP: "192.0.2.1"},
	}
}

func management(privilege string, roles ...string) *Input {
	return &Input{
		User:    User{Name: "alice", Roles: roles, Realm: "native", AuthType: "realm"},
		Request: Request{Method: "POST", Path: "/_security/user/bob", Kind: KindManagement, Privilege: privilege},
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		in     *Input
		allow  bool
		rule   string
		reason string
	}{
		{"default deny", content("GET", "/ccc", "user"), false, "", "no constraint grants [GET /ccc] to roles [user]"},
		{"no roles", content("GET", "/aaa"), false, "", "no constraint grants [GET /aaa] to roles []"},
		{"roles sorted in reason", content("GET", "/ccc", "b", "a"), false, "", "no constraint grants [GET /ccc] to roles [a, b]"},

		{"path itself", content("GET", "/aaa", "user"), true, "constraint:c1", ""},
		{"path below", content("GET", "/aaa/x", "user"), true, "constraint:c1", ""},
		{"deep below", content("GET", "/aaa/x/_doc/1", "user"), true, "constraint:c1", ""},
		{"no string prefix", content("GET", "/aaab", "user"), false, "", "no constraint grants [GET /aaab] to roles [user]"},
		{"parent not covered", content("GET", "/", "user"), false, "", "no constraint grants [GET /] to roles [user]"},
		{"segment-internal slash", content("GET", "/aaa%2Fb", "user"), false, "", "no constraint grants [GET /aaa%2Fb] to roles [user]"},

		{"smallest id wins", content("GET", "/aaa/zzz", "user"), true, "constraint:c0", ""},
		{"smallest id across roles", content("GET", "/aaa/zzz/1", "admin", "user"), true, "constraint:c0", ""},

		{"method case-insensitive in constraint", content("GET", "/aaa", "user"), true, "constraint:c1", ""},
		{"method case-insensitive in request", content("get", "/aaa", "user"), true, "constraint:c1", ""},
		{"other method", content("POST", "/aaa", "user"), false, "", "no constraint grants [POST /aaa] to roles [user]"},
		{"method wildcard", content("DELETE", "/aaa/1", "admin"), true, "constraint:c2", ""},
		{"trailing slash ignored", content("PUT", "/aaa", "admin"), true, "constraint:c2", ""},
		{"unsupported method", content("PROPFIND", "/aaa", "admin"), false, "deny", "unsupported method [PROPFIND]"},

		{"other role", content("GET", "/aaa", "guest"), false, "", "no constraint grants [GET /aaa] to roles [guest]"},
		{"one of the roles", content("GET", "/aaa", "guest", "user"), true, "constraint:c1", ""},
		{"role wildcard", content("HEAD", "/pub/x", "guest"), true, "constraint:c3", ""},
		{"role wildcard without roles", content("GET", "/pub"), true, "constraint:c3", ""},

		{"glob", content("GET", "/logs-2024/_search", "reader"), true, "constraint:c4", ""},
		{"glob matches empty", content("GET", "/logs-", "reader"), true, "constraint:c4", ""},
		{"glob within segment only", content("GET", "/logs", "reader"), false, "", "no constraint grants [GET /logs] to roles [reader]"},
		{"glob anchored", content("GET", "/my-logs-1", "reader"), false, "", "no constraint grants [GET /my-logs-1] to roles [reader]"},
		{"inner glob", content("GET", "/m/any/x/y", "reader"), true, "constraint:c4", ""},
		{"inner glob one segment", content("GET", "/m/a/b/x", "reader"), false, "", "no constraint grants [GET /m/a/b/x] to roles [reader]"},
		{"all paths", content("HEAD", "/", "monitor"), true, "constraint:c5", ""},
		{"all paths deep", content("HEAD", "/a/b/c", "monitor"), true, "constraint:c5", ""},

		{"superuser content", content("DELETE", "/anything", "superuser"), true, "superuser", "the user has role superuser"},
		{"superuser management", management("manage_security", "superuser"), true, "superuser", "the user has role superuser"},
		{"management denied", management("manage_security", "user", "admin"), false, "", "no role of [admin, user] holds cluster privilege [manage_security]"},
		{"constraints never grant management", &Input{User: User{Roles: []string{"user"}}, Request: Request{Method: "GET", Path: "/aaa", Kind: KindManagement, Privilege: "monitor"}}, false, "", "no role of [user] holds cluster privilege [monitor]"},
		{"unknown kind", &Input{User: User{Roles: []string{"superuser"}}, Request: Request{Method: "GET", Path: "/aaa", Kind: "weird"}}, false, "deny", "unknown request kind [weird]"},
		{"path not canonical", content("GET", "aaa", "user"), false, "", "no constraint grants [GET aaa] to roles [user]"},
	}
	for _, cache := range []int{0, 100} {
		e := newEngine(t, Config{}, testConstraints, WithDecisionCache(cache))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				for range 2 { // the second time from the cache, if any
					d, err := e.Decide(context.Background(), tt.in)
					if err != nil {
						t.Fatalf("Decide: %v", err)
					}
					if d.Allow != tt.allow || d.Rule != tt.rule || (tt.reason != "" && d.Reason != tt.reason) {
						t.Errorf("Decide = %+v, want allow %v rule %q reason %q", d, tt.allow, tt.rule, tt.reason)
					}
					if d.Revision != e.Revision() || len(d.Revision) != 16 {
						t.Errorf("Revision = %q, want %q", d.Revision, e.Revision())
					}
				}
			})
		}
	}
}

func TestDecideNoConstraints(t *testing.T) {
	e, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Decide(context.Background(), content("GET", "/", "user"))
	if err != nil || d.Allow || d.Reason != "no constraint grants [GET /] to roles [user]" {
		t.Errorf("Decide = %+v, %v; want a denial", d, err)
	}
}

func TestDecideErrors(t *testing.T) {
	e := newEngine(t, Config{}, testConstraints)
	if d, err := e.Decide(context.Background(), nil); !errors.Is(err, ErrNilInput) || d.Allow {
		t.Errorf("Decide(nil) = %+v, %v; want ErrNilInput", d, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d, err := e.Decide(ctx, content("GET", "/aaa", "user")); !errors.Is(err, ErrEval) || !errors.Is(err, context.Canceled) || d.Allow {
		t.Errorf("Decide(cancelled) = %+v, %v; want ErrEval wrapping context.Canceled", d, err)
	}
}

// writePolicy writes the embedded policy files to a temporary directory,
// plus extra files, and returns it.
func writePolicy(t *testing.T, extra map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	if err := rego.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	for name, text := range extra {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const denyNight = `package portcullis.authz

deny contains "writes are frozen" if {
	input.request.method in {"PUT", "POST", "DELETE"}
	input.request.source_ip == "192.0.2.66"
}
`

func TestDenyRuleOverrides(t *testing.T) {
	dir := writePolicy(t, map[string]string{"freeze.rego": denyNight})
	e := newEngine(t, Config{Dir: dir}, testConstraints)

	in := content("PUT", "/aaa/1", "admin")
	if d, err := e.Decide(context.Background(), in); err != nil || !d.Allow {
		t.Fatalf("Decide = %+v, %v; want allowed", d, err)
	}
	in.Request.SourceIP = "192.0.2.66"
	in.User.Roles = []string{"admin", "superuser"}
	d, err := e.Decide(context.Background(), in)
	if err != nil || d.Allow || d.Rule != "deny" || d.Reason != "writes are frozen" {
		t.Errorf("Decide = %+v, %v; want denied by the deny rule", d, err)
	}
	// The deny rule reads source_ip, which the cache key does not hold.
	if p := e.cur.Load(); p.cache != nil || !strings.Contains(p.noCache, "input.request.source_ip") {
		t.Errorf("cache = %v (%q); want none, for input.request.source_ip", p.cache != nil, p.noCache)
	}
}

// TestDenyOnQuery: a deny rule on input.request.query (the raw query
// string) fires, and the policy gets no decision cache (the cache key does
// not hold the query).
func TestDenyOnQuery(t *testing.T) {
	e := newEngine(t, Config{Dir: writePolicy(t, map[string]string{"noscript.rego": `package portcullis.authz

deny contains "no stored scripts by parameter" if contains(input.request.query, "script_id=")
`})}, testConstraints)
	in := content("GET", "/aaa", "admin")
	in.Request.Query = []byte("q=x&script_id=drop")
	if d, err := e.Decide(context.Background(), in); err != nil || d.Allow || d.Reason != "no stored scripts by parameter" {
		t.Errorf("Decide(script_id) = %+v, %v; want denied by the deny rule", d, err)
	}
	in.Request.Query = []byte("q=x")
	if d, err := e.Decide(context.Background(), in); err != nil || !d.Allow {
		t.Errorf("Decide(q=x) = %+v, %v; want allowed", d, err)
	}
	if p := e.cur.Load(); p.cache != nil || !strings.Contains(p.noCache, "input.request.query") {
		t.Errorf("cache = %v (%q); want none, for input.request.query", p.cache != nil, p.noCache)
	}
}

func TestReload(t *testing.T) {
	dir := writePolicy(t, nil)
	e := newEngine(t, Config{Dir: dir}, testConstraints)
	embedded := newEngine(t, Config{}, testConstraints)
	if e.Revision() != embedded.Revision() {
		t.Errorf("revision of a copy of the embedded policy = %s, want %s", e.Revision(), embedded.Revision())
	}

	before := e.Revision()
	if err := os.WriteFile(filepath.Join(dir, "freeze.rego"), []byte(denyNight), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(context.Background()); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if e.Revision() == before {
		t.Error("Reload with a new file kept the revision")
	}
	in := content("PUT", "/aaa", "admin")
	in.Request.SourceIP = "192.0.2.66"
	if d, _ := e.Decide(context.Background(), in); d.Allow {
		t.Error("reloaded deny rule not applied")
	}

	// A broken file: Reload fails, the policy in force stays.
	good := e.Revision()
	if err := os.WriteFile(filepath.Join(dir, "broken.rego"), []byte("package portcullis.authz\ndeny contains"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(context.Background()); !errors.Is(err, ErrCompile) {
		t.Errorf("Reload(broken) = %v, want ErrCompile", err)
	}
	if e.Revision() != good {
		t.Error("failed Reload changed the revision")
	}
	if d, err := e.Decide(context.Background(), content("GET", "/aaa", "user")); err != nil || !d.Allow {
		t.Errorf("after failed Reload: Decide = %+v, %v", d, err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := map[string]map[string]string{
		"no files":         {},
		"no decision":      {"x.rego": "package portcullis.other\nx := 1\n"},
		"syntax":           {"x.rego": "package portcullis.authz\ndecision := {\n"},
		"denied builtin":   {"x.rego": "package portcullis.authz\ndecision := http.send({\"method\": \"get\", \"url\": \"http://x\"})\n"},
		"not rego v1":      {"x.rego": "package portcullis.authz\ndecision = x { x := 1 }\n"},
		"decision missing": {"x.rego": "package portcullis.authz\nallow := true\n"},
	}
	for name, files := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			for n, text := range files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := New(Config{Dir: dir}); !errors.Is(err, ErrCompile) {
				t.Errorf("New = %v, want ErrCompile", err)
			}
		})
	}
	if _, err := New(Config{Dir: filepath.Join(t.TempDir(), "missing")}); !errors.Is(err, ErrCompile) {
		t.Errorf("New(missing dir) = %v, want ErrCompile", err)
	}
}

func TestMalformedDecision(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "authz.rego"), []byte("package portcullis.authz\ndecision := {\"allow\": \"yes\"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := e.Decide(context.Background(), content("GET", "/", "superuser")); !errors.Is(err, ErrEval) || d.Allow {
		t.Errorf("Decide = %+v, %v; want ErrEval and a denial", d, err)
	}
}

func TestSetConstraints(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, nil)
	empty := e.Revision()

	if err := e.SetConstraints(ctx, testConstraints); err != nil {
		t.Fatal(err)
	}
	withConstraints := e.Revision()
	if withConstraints == empty {
		t.Error("revision unchanged by SetConstraints")
	}

	// Order does not matter.
	reversed := make([]Constraint, len(testConstraints))
	for i, c := range testConstraints {
		reversed[len(reversed)-1-i] = c
	}
	if err := e.SetConstraints(ctx, reversed); err != nil {
		t.Fatal(err)
	}
	if e.Revision() != withConstraints {
		t.Error("revision depends on the order of constraints")
	}

	// Invalid sets are refused; the policy in force stays.
	for name, cs := range map[string][]Constraint{
		"duplicate id": {testConstraints[0], testConstraints[0]},
		"no id":        {{Paths: []string{"/"}, Methods: []string{"GET"}, Roles: []string{"r"}}},
		"invalid":      {{ID: "x", Paths: []string{"aaa"}, Methods: []string{"GET"}, Roles: []string{"r"}}},
	} {
		if err := e.SetConstraints(ctx, cs); !errors.Is(err, ErrInvalidConstraint) {
			t.Errorf("%s: SetConstraints = %v, want ErrInvalidConstraint", name, err)
		}
		if e.Revision() != withConstraints {
			t.Errorf("%s: failed SetConstraints changed the revision", name)
		}
	}
	if d, _ := e.Decide(ctx, content("GET", "/aaa", "user")); !d.Allow {
		t.Error("constraints lost after a failed SetConstraints")
	}

	if err := e.SetConstraints(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if e.Revision() != empty {
		t.Error("revision with no constraints differs from the initial one")
	}
	if d, _ := e.Decide(ctx, content("GET", "/aaa", "user")); d.Allow {
		t.Error("removed constraint still grants")
	}
}

func TestValidateConstraint(t *testing.T) {
	ok := Constraint{ID: "c", Paths: []string{"/a"}, Methods: []string{"GET"}, Roles: []string{"r"}}
	tests := []struct {
		name string
		edit func(*Constraint)
		want string // "" = valid, else a fragment of the error
	}{
		{"valid", func(*Constraint) {}, ""},
		{"no id is valid", func(c *Constraint) { c.ID = "" }, ""},
		{"all paths", func(c *Constraint) { c.Paths = []string{"*", "/*", "/"} }, ""},
		{"globs and trailing slash", func(c *Constraint) { c.Paths = []string{"/logs-*/", "/a/*/b"} }, ""},
		{"lower-case and wildcard methods", func(c *Constraint) { c.Methods = []string{"get", "Patch", "*"} }, ""},
		{"unicode", func(c *Constraint) { c.Paths = []string{"/índice"}; c.Roles = []string{"lecteur"} }, ""},
		{"no paths", func(c *Constraint) { c.Paths = nil }, "paths is empty"},
		{"empty path", func(c *Constraint) { c.Paths = []string{""} }, `path "" is empty`},
		{"relative path", func(c *Constraint) { c.Paths = []string{"a/b"} }, `path "a/b" must start with "/" or be "*"`},
		{"empty segment", func(c *Constraint) { c.Paths = []string{"/a//b"} }, "empty segment"},
		{"dot segment", func(c *Constraint) { c.Paths = []string{"/a/../b"} }, "dot segment"},
		{"control character", func(c *Constraint) { c.Paths = []string{"/a\nb"} }, "control characters"},
		{"invalid utf-8", func(c *Constraint) { c.Roles = []string{"\xff"} }, "invalid UTF-8"},
		{"no methods", func(c *Constraint) { c.Methods = nil }, "methods is empty"},
		{"unknown method", func(c *Constraint) { c.Methods = []string{"FETCH"} }, `method "FETCH" is not one of GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS or *`},
		{"no roles", func(c *Constraint) { c.Roles = nil }, "roles is empty"},
		{"empty role", func(c *Constraint) { c.Roles = []string{""} }, "a role is empty"},
		{"id with newline", func(c *Constraint) { c.ID = "a\nb" }, "control characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := ValidateConstraint(c)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("ValidateConstraint = %v, want nil", err)
			case tt.want != "" && (!errors.Is(err, ErrInvalidConstraint) || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("ValidateConstraint = %v, want ErrInvalidConstraint containing %q", err, tt.want)
			}
		})
	}

	// Every problem is reported, on one line.
	err := ValidateConstraint(Constraint{ID: "bad", Paths: []string{"x"}, Methods: []string{"FETCH"}})
	if err == nil || strings.Count(err.Error(), ";") != 2 || strings.Contains(err.Error(), "\n") {
		t.Errorf("ValidateConstraint = %q, want three problems on one line", err)
	}
	if !strings.HasPrefix(err.Error(), `invalid constraint "bad": `) {
		t.Errorf("ValidateConstraint = %q, want it to name the constraint", err)
	}
}

func TestCacheable(t *testing.T) {
	tests := []struct {
		name, rego string
		why        string // "" = cacheable
	}{
		{"default policy", "", ""},
		{"reads a key field", `deny contains "x" if input.request.path == "/secret"`, ""},
		{"reads source_ip", `deny contains "x" if input.request.source_ip == "1.2.3.4"`, "input.request.source_ip"},
		{"reads user name", `deny contains "x" if input.user.name == "eve"`, "input.user.name"},
		{"reads the whole user", `deny contains "x" if count(input.user) > 9`, "input.user"},
		{"reads input dynamically", `deny contains "x" if { some k; input.request[k] == "x" }`, "input.request["},
		{"calls time.now_ns", `deny contains "x" if time.now_ns() < 0`, "time.now_ns"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			extra := map[string]string{}
			if tt.rego != "" {
				extra["extra.rego"] = "package portcullis.authz\n\n" + tt.rego + "\n"
			}
			e := newEngine(t, Config{Dir: writePolicy(t, extra)}, testConstraints)
			p := e.cur.Load()
			if (p.cache == nil) != (tt.why != "") || !strings.Contains(p.noCache, tt.why) {
				t.Errorf("cache %v, reason %q; want reason containing %q", p.cache != nil, p.noCache, tt.why)
			}
		})
	}
}

func TestGenerated(t *testing.T) {
	e := newEngine(t, Config{}, testConstraints)
	g := e.Generated()
	for _, want := range []string{"package portcullis.constraints", `#   "c1": paths ["/aaa"], methods ["get"], roles ["user"]`, `"/aaa": {`} {
		if !strings.Contains(g, want) {
			t.Errorf("Generated() lacks %q:\n%s", want, g)
		}
	}
}

func TestBuiltinErrorDenies(t *testing.T) {
	dir := writePolicy(t, map[string]string{"numbers.rego": `package portcullis.authz

deny contains "too many" if to_number(input.request.path) > 5
`})
	e := newEngine(t, Config{Dir: dir}, testConstraints)
	if d, err := e.Decide(context.Background(), content("GET", "/aaa", "superuser")); !errors.Is(err, ErrEval) || d.Allow {
		t.Errorf("Decide = %+v, %v; want ErrEval and a denial", d, err)
	}
}

// TestSet: Set is SetConstraints and SetRoles in one compilation, and
// refuses what either refuses, keeping the policy in force.
func TestSet(t *testing.T) {
	ctx := context.Background()
	twoSteps := newEngine(t, Config{}, testConstraints)
	if err := twoSteps.SetRoles(ctx, testRoles); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, Config{}, nil)
	if err := e.Set(ctx, testConstraints, testRoles); err != nil {
		t.Fatal(err)
	}
	if e.Revision() != twoSteps.Revision() || e.Generated() != twoSteps.Generated() {
		t.Fatalf("Set compiled revision %s, SetConstraints + SetRoles %s", e.Revision(), twoSteps.Revision())
	}
	for _, in := range []*Input{content("GET", "/aaa", "user"), content("GET", "/bbb/x", "user"), content("GET", "/aaa", "nobody")} {
		d1, err1 := e.Decide(ctx, in)
		d2, err2 := twoSteps.Decide(ctx, in)
		if d1.Allow != d2.Allow || d1.Reason != d2.Reason || (err1 == nil) != (err2 == nil) {
			t.Errorf("%s %s: Set %+v %v, two steps %+v %v", in.Request.Method, in.Request.Path, d1, err1, d2, err2)
		}
	}
	rev := e.Revision()
	if err := e.Set(ctx, []Constraint{{ID: "x", Paths: []string{"aaa"}, Methods: []string{"GET"}, Roles: []string{"r"}}}, nil); !errors.Is(err, ErrInvalidConstraint) {
		t.Errorf("Set with an invalid constraint = %v, want ErrInvalidConstraint", err)
	}
	if err := e.Set(ctx, nil, []Role{{Name: ""}}); !errors.Is(err, ErrInvalidRole) {
		t.Errorf("Set with an invalid role = %v, want ErrInvalidRole", err)
	}
	if e.Revision() != rev {
		t.Error("a failed Set changed the policy in force")
	}
}

// TestPolicyNamingARole: a policy file may read a role of the generated
// roles document by name. Deleting that role recompiles (the rule is then
// undefined): compiling against the values' types made it a type error,
// which kept the old policy, and the deleted role's grants, in force.
func TestPolicyNamingARole(t *testing.T) {
	ctx := context.Background()
	dir := writePolicy(t, map[string]string{"naming.rego": `package portcullis.authz

deny contains "user_admin may not read /admin" if {
	data.portcullis.constraints.roles.user_admin.cluster[_] == "manage_security"
	input.request.path == "/admin"
}
`})
	for name, opts := range map[string][]Option{"plan": nil, "topdown": {withTopdown()}, "topdown, not precomputed": {withTopdown(), withoutPrecomputation()}} {
		e := newEngine(t, Config{Dir: dir}, []Constraint{{ID: "a", Paths: []string{"/admin"}, Methods: []string{"GET"}, Roles: []string{"user"}}}, opts...)
		if err := e.SetRoles(ctx, testRoles); err != nil {
			t.Fatal(err)
		}
		if d, err := e.Decide(ctx, content("GET", "/admin", "user")); err != nil || d.Allow {
			t.Fatalf("%s, with the role: %+v %v, want the deny rule to refuse", name, d, err)
		}
		before := e.Revision()
		if err := e.SetRoles(ctx, testRoles[1:]); err != nil {
			t.Fatalf("%s, deleting the role the policy names: %v", name, err)
		}
		if e.Revision() == before {
			t.Fatalf("%s: the roles changed, the policy did not", name)
		}
		if d, err := e.Decide(ctx, content("GET", "/admin", "user")); err != nil || !d.Allow {
			t.Fatalf("%s, without the role: %+v %v, want the constraint to grant", name, d, err)
		}
	}
}
