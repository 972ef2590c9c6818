package classify

import "testing"

func TestIndexPath(t *testing.T) {
	cases := []struct {
		method, path string
		exprs        []string
		want         string
		ok           bool
	}{
		{"GET", "/_search", []string{"logs-*", "metrics-*"}, "/logs-*,metrics-*/_search", true},
		{"POST", "/_search", []string{"a"}, "/a/_search", true},
		{"GET", "/logs-*/_search", []string{"logs-a", "logs-b"}, "/logs-a,logs-b/_search", true},
		{"GET", "/*/_count", []string{"*", "-.security*"}, "/*,-.security*/_count", true},
		{"GET", "/_count", []string{"x"}, "/x/_count", true},
		{"GET", "/_cat/indices", []string{"logs-*"}, "/_cat/indices/logs-*", true},
		{"GET", "/_cat/indices/*", []string{"logs-*"}, "/_cat/indices/logs-*", true},
		{"GET", "/_mapping", []string{"logs-*"}, "/logs-*/_mapping", true},
		{"HEAD", "/_search", []string{"a"}, "/a/_search", true},
		{"GET", "/_search", []string{"a b"}, "/a%20b/_search", true},
		{"GET", "/_search", nil, "", false},
		{"GET", "/_cluster/settings", []string{"a"}, "", false},
		{"GET", "/no/such/api/here", []string{"a"}, "", false},
	}
	for _, c := range cases {
		got, ok := IndexPath(c.method, c.path, c.exprs)
		if got != c.want || ok != c.ok {
			t.Errorf("IndexPath(%s %s, %q) = %q, %v; want %q, %v", c.method, c.path, c.exprs, got, ok, c.want, c.ok)
		}
	}
}

// TestIndexPathEveryRoute: every route with an index parameter rewrites to
// a path that classifies as the same API with the new expression.
func TestIndexPathEveryRoute(t *testing.T) {
	for i := range routes {
		r := &routes[i]
		pos := indexParamPos(r)
		if pos < 0 {
			continue
		}
		segs := patternSegments(r.path)
		for k, s := range segs {
			if s[0] == '{' {
				segs[k] = "x"
			}
		}
		path := "/" + joinPlain(segs)
		method := firstMethod(r.methods)
		got, ok := IndexPath(method, path, []string{"logs-*", "-logs-b"})
		if !ok {
			t.Errorf("%s %s: no index path", method, path)
			continue
		}
		res, err := Classify(Request{Method: method, Path: got})
		if err != nil || res.API != r.api {
			// A more specific route may win for the rewritten literal; the
			// API must still be the same one.
			t.Errorf("%s %s → %s classifies as %q (%v), want %q", method, path, got, res.API, err, r.api)
		}
	}
}

func joinPlain(segs []string) string {
	out := ""
	for i, s := range segs {
		if i > 0 {
			out += "/"
		}
		out += s
	}
	return out
}

func firstMethod(ms string) string {
	for i := 0; i < len(ms); i++ {
		if ms[i] == ',' {
			return ms[:i]
		}
	}
	return ms
}
