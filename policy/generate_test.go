package policy

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// testRoles are roles as the gateway would set them: duplicates and order
// in cluster do not matter, indices keep their order.
var testRoles = []Role{
	{Name: "user_admin", Cluster: []string{"manage_security"}},
	{Name: "logs reader", Cluster: []string{"monitor", "monitor"}, Indices: []IndexPrivileges{
		{Names: []string{"logs-*", "metrics-*"}, Privileges: []string{"read", "view_index_metadata"}},
		{Names: []string{".security-audit-*"}, Privileges: []string{"read"}, AllowRestrictedIndices: true},
	}},
	{Name: `q"uote\`, Cluster: []string{"manage_api_key", "all"}},
}

func TestGenerateGolden(t *testing.T) {
	tests := map[string]struct {
		cs []Constraint
		rs []Role
	}{
		"empty":       {},
		"constraints": {cs: testConstraints},
		"quoting": {cs: []Constraint{
			{ID: `q"1`, Paths: []string{`/a"b/<c>`, `/ü/x*y*`}, Methods: []string{"post"}, Roles: []string{`r\1`, "*"}},
		}},
		"roles":                 {rs: testRoles},
		"constraints_and_roles": {cs: testConstraints[:2], rs: testRoles[:1]},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g, err := generate(tt.cs, tt.rs)
			if err != nil {
				t.Fatal(err)
			}
			got := g.source
			if _, err := parse([]source{{name: generatedName, text: got}}); err != nil {
				t.Fatalf("generated module does not parse: %v\n%s", err, got)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("generated module differs from %s (run go test -update if intended):\n%s", golden, got)
			}
		})
	}
}

func TestSplitGlob(t *testing.T) {
	tests := []struct{ path, literal, pattern string }{
		{"/", "/", ""},
		{"/a/b", "/a/b", ""},
		{"/logs-*", "/", `^/logs-[^/]*(?:/.*)?$`},
		{"/a/b*c/d", "/a", `^/a/b[^/]*c/d(?:/.*)?$`},
		{"/a.b/*", "/a.b", `^/a\.b/[^/]*(?:/.*)?$`},
		{"/**", "/", `^/[^/]*[^/]*(?:/.*)?$`},
	}
	for _, tt := range tests {
		literal, re, err := splitGlob(tt.path)
		var pattern string
		if re != nil {
			pattern = re.String()
		}
		if err != nil || literal != tt.literal || pattern != tt.pattern {
			t.Errorf("splitGlob(%q) = %q, %q, %v; want %q, %q", tt.path, literal, pattern, err, tt.literal, tt.pattern)
		}
	}
}

func TestNormPath(t *testing.T) {
	for in, want := range map[string]string{"*": "/", "/*": "/", "/": "/", "//": "/", "/a/": "/a", "/a//": "/a", "/a/*": "/a/*", "/*/": "/"} {
		if got := normPath(in); got != want {
			t.Errorf("normPath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPatternCache(t *testing.T) {
	g, err := generate(testConstraints, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.patterns) != 2 {
		t.Fatalf("patterns = %v, want the 2 globs of c4", g.patterns)
	}
	c := newPatternCache(t.Context(), g.patterns)
	for p, re := range g.patterns {
		if got, ok := c.Get(ast.String(p)); !ok || got != re {
			t.Errorf("Get(%q) = %v, %v; want the compiled pattern", p, got, ok)
		}
	}
	c.Insert(ast.String("other"), 1)
	if got, ok := c.Get(ast.String("other")); !ok || got != 1 {
		t.Errorf("Get(other) = %v, %v; want the inserted value", got, ok)
	}
}

// TestGeneratedModuleIsSource checks that the module compiled is the module
// shown: generate builds it directly instead of parsing its source.
func TestGeneratedModuleIsSource(t *testing.T) {
	for name, cs := range map[string][]Constraint{
		"none":  nil,
		"test":  testConstraints,
		"bench": benchConstraints(300),
		"duplicates": {
			{ID: "d", Paths: []string{"/x", "/x/", "/g*", "/g*/"}, Methods: []string{"GET", "get"}, Roles: []string{"r", "r"}},
			{ID: "c", Paths: []string{"/g*"}, Methods: []string{"*"}, Roles: []string{"r"}},
		},
		"roles": nil,
	} {
		var rs []Role
		if name == "roles" || name == "test" {
			rs = testRoles
		}
		g, err := generate(cs, rs)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parse([]source{{name: generatedName, text: g.source}})
		if err != nil {
			t.Fatal(err)
		}
		if want := parsed[generatedName]; !want.Equal(g.module) {
			t.Errorf("%s: generated module differs from its source:\n%v\nwant\n%v", name, g.module, want)
		}
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "a", `a"b`, `a\b`, "a\nb", "ü\u2028x", "<&>", "/x%2Fy"} {
		term, err := ast.ParseTerm(quote(s))
		if err != nil || !term.Equal(ast.StringTerm(s)) {
			t.Errorf("quote(%q) = %s: parses as %v, %v", s, quote(s), term, err)
		}
	}
}
