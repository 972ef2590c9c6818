package classify

import "testing"

func TestNeedsBody(t *testing.T) {
	cases := []struct {
		method, path string
		want         bool
	}{
		{"POST", "/data/_bulk", true},
		{"POST", "/_bulk", true},
		{"POST", "/data/_msearch", true},
		{"GET", "/data/_mget", true},
		{"POST", "/data/_search", true},
		{"POST", "/_reindex", true},
		{"POST", "/_aliases", true},
		{"POST", "/data/_doc", false},
		{"PUT", "/data/_doc/1", false},
		{"PUT", "/data", true}, // create index: aliases in the body
		{"PUT", "/data/_mapping", false},
		{"GET", "/nope/_nope/_nope", false},
	}
	for _, c := range cases {
		if got := NeedsBody(c.method, c.path); got != c.want {
			t.Errorf("NeedsBody(%s %s) = %v, want %v", c.method, c.path, got, c.want)
		}
	}
}
