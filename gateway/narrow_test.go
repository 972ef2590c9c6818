package gateway

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestGlobCovers(t *testing.T) {
	cases := []struct {
		pattern, name string
		want          bool
	}{
		{"*", "logs-*", true},
		{"*", "", true},
		{"logs-*", "logs-a", true},
		{"logs-*", "logs-*", true},
		{"logs-*", "logs", false},
		{"logs-*", "*", false},
		{"l*s-*", "logs-app-*", true},
		{"*-prod", "logs-prod", true},
		{"*-prod", "logs-*", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXc", false},
		{".security*", ".security-audit-*", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
	}
	for _, c := range cases {
		if got := globCovers(c.pattern, c.name); got != c.want {
			t.Errorf("globCovers(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestMayMatchRestricted(t *testing.T) {
	for p, want := range map[string]bool{
		"*": true, ".*": true, ".s*": true, ".securit*": true, "*-audit*": true,
		".security*": false, ".security-audit-*": false, // named restricted: the policy decides
		"logs-*": false, "logs": false, ".kibana*": false, "": false,
	} {
		if got := mayMatchRestricted(p); got != want {
			t.Errorf("mayMatchRestricted(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestMayOverlap(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"logs-*", "*-prod", true},
		{"logs-*", "metrics-*", false},
		{"*-dev", "*-prod", false},
		{"l*", "logs-*", true},
		{"a*z", "ab*", true},
	} {
		if got := mayOverlap(c.a, c.b); got != c.want {
			t.Errorf("mayOverlap(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

// fakeGrants grants the expressions that one of patterns covers (with
// restricted names only when restricted), like the policy's role check.
func fakeGrants(patterns []string, restricted bool, calls *[]string) func(string) (bool, error) {
	return func(expr string) (bool, error) {
		*calls = append(*calls, expr)
		if strings.HasPrefix(expr, restrictedPrefix) && !restricted {
			// Only restricted patterns granted as such.
			for _, p := range patterns {
				if strings.HasPrefix(p, restrictedPrefix) && globCovers(p, expr) {
					return true, nil
				}
			}
			return false, nil
		}
		for _, p := range patterns {
			if globCovers(p, expr) {
				return true, nil
			}
		}
		return false, nil
	}
}

func TestNarrow(t *testing.T) {
	cluster := []string{"logs-dev", "logs-prod", "metrics-prod", "secret", ".security-audit-2026.11.23"}
	resolve := func(expr string) ([]string, error) {
		var out []string
		for _, n := range cluster {
			if globCovers(expr, n) {
				out = append(out, n)
			}
		}
		return out, nil
	}
	cases := []struct {
		name       string
		grants     []string
		restricted bool
		list       []string
		want       []string
		changed    bool
	}{
		{"all to the granted patterns", []string{"logs-*", "metrics-*"}, false, nil, []string{"logs-*", "metrics-*"}, true},
		{"_all", []string{"logs-*"}, false, []string{"_all"}, []string{"logs-*"}, true},
		{"star", []string{"logs-*"}, false, []string{"*"}, []string{"logs-*"}, true},
		{"granted wildcard kept", []string{"logs-*"}, false, []string{"logs-*"}, []string{"logs-*"}, false},
		{"narrower grant", []string{"logs-prod*"}, false, []string{"logs-*"}, []string{"logs-prod*"}, true},
		{"explicit names kept", []string{"logs-*"}, false, []string{"secret"}, []string{"secret"}, false},
		{"explicit names kept among wildcards", []string{"logs-*"}, false, []string{"secret", "*"}, []string{"secret", "logs-*"}, true},
		{"nothing readable", []string{"logs-*"}, false, []string{"metrics-*"}, []string{"*", "-*"}, true},
		{"overlap resolved", []string{"*-prod"}, false, []string{"logs-*"}, []string{"logs-prod"}, true},
		{"exclusion kept after a wildcard", []string{"logs-*"}, false, []string{"*", "-logs-dev"}, []string{"logs-*", "-logs-dev"}, true},
		{"exclusion applied to names", []string{"*-prod"}, false, []string{"logs-*", "-logs-prod"}, []string{"*", "-*"}, true},
		{"star granted: restricted excluded", []string{"*"}, false, []string{"*"}, []string{"*", "-.security*"}, true},
		{"star granted with restricted grant", []string{"*", ".security-audit-*"}, false, []string{"*"}, []string{"*", "-.security*", ".security-audit-*"}, true},
		{"user excluded restricted already", []string{"*"}, false, []string{"*", "-.security*"}, []string{"*", "-.security*"}, false},
		{"restricted granted whole", []string{"*"}, true, []string{"*"}, []string{"*"}, false},
		{"audit reader", []string{"logs-*", ".security-audit-*"}, false, nil, []string{"logs-*", ".security-audit-*"}, true},
		{"remote and date math untouched", []string{"logs-*"}, false, []string{"c1:logs-*", "<logs-{now/d}>"}, []string{"c1:logs-*", "<logs-{now/d}>"}, false},
	}
	for _, c := range cases {
		var calls []string
		n := &narrower{allowed: fakeGrants(c.grants, c.restricted, &calls), candidates: c.grants, resolve: resolve}
		got, changed, err := n.narrow(c.list)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got, c.want) || changed != c.changed {
			t.Errorf("%s: narrow(%q) = %q, %v; want %q, %v", c.name, c.list, got, changed, c.want, c.changed)
		}
	}
}

func TestNarrowErrors(t *testing.T) {
	boom := errors.New("boom")
	n := &narrower{
		allowed:    func(string) (bool, error) { return false, nil },
		candidates: []string{"*-prod"},
		resolve:    func(string) ([]string, error) { return nil, boom },
	}
	if _, _, err := n.narrow([]string{"logs-*"}); !errors.Is(err, boom) {
		t.Fatalf("resolve error not returned: %v", err)
	}
	many := make([]string, maxResolvedNames+1)
	for i := range many {
		many[i] = "logs-prod"
	}
	n.resolve = func(string) ([]string, error) { return many, nil }
	if _, _, err := n.narrow([]string{"logs-*"}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("too many names: %v", err)
	}
}

// FuzzNarrow: for any index list, narrowing never panics, and every
// wildcard it sends is granted by the policy or excluded after a granted
// one: nothing the user may not read is added.
func FuzzNarrow(f *testing.F) {
	for _, s := range []string{"", "*", "_all", "logs-*,-logs-a", "*,-.security*", "a,b*,-c", "<x-{now}>", "c:l*", "-*", "**,*-"} {
		f.Add(s)
	}
	grants := []string{"logs-*", "*-prod", ".security-audit-*"}
	f.Fuzz(func(t *testing.T, list string) {
		var calls []string
		allowed := fakeGrants(grants, false, &calls)
		n := &narrower{allowed: allowed, candidates: grants, resolve: func(expr string) ([]string, error) {
			return []string{"logs-prod", "metrics-prod", "x"}, nil
		}}
		in := strings.Split(list, ",")
		out, changed, err := n.narrow(in)
		if err != nil || !changed {
			return
		}
		for _, e := range out {
			if strings.HasPrefix(e, "-") || !strings.Contains(e, "*") || slices.Contains(in, e) {
				continue
			}
			if ok, _ := allowed(e); !ok && e != "*" {
				t.Fatalf("narrow(%q) added ungranted %q: %q", in, e, out)
			}
		}
	})
}
