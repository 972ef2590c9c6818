package classify

import (
	"net/url"
	"strings"

	"github.com/portcullis/portcullis/gateway/canon"
)

// IndexPath returns the canonical path of the same API call as method on
// path, naming exprs as its index expression: the {index} segment replaced,
// or, for a route without one (GET /_search, GET /_cat/indices), the same
// API's route that has one, its other parameters kept. It is how a read of
// all indices or of a wildcard is narrowed to the indices a user may read.
//
// ok is false when the API has no form naming indices in its path, or exprs
// is empty.
func IndexPath(method, path string, exprs []string) (string, bool) {
	if len(exprs) == 0 {
		return "", false
	}
	segs := canon.Segments(path)
	n := match(segs)
	if n == nil {
		return "", false
	}
	rt := n.pick(method)
	if rt == nil {
		return "", false
	}
	list := strings.Join(exprs, ",")
	if i := indexParamPos(rt); i >= 0 && i < len(segs) {
		out := make([]string, len(segs))
		copy(out, segs)
		out[i] = list
		return joinSegments(out)
	}
	pattern := patternSegments(rt.path)
	if len(pattern) != len(segs) {
		return "", false
	}
	m := method
	if m == "HEAD" && !rt.allows(m) {
		m = "GET"
	}
	for k := range routes {
		r2 := &routes[k]
		if r2.api != rt.api || !r2.allows(m) {
			continue
		}
		i := indexParamPos(r2)
		if i < 0 {
			continue
		}
		p2 := patternSegments(r2.path)
		if len(p2) != len(pattern)+1 || !sameSegments(append(p2[:i:i], p2[i+1:]...), pattern) {
			continue
		}
		out := make([]string, 0, len(segs)+1)
		out = append(out, segs[:i]...)
		out = append(out, list)
		out = append(out, segs[i:]...)
		return joinSegments(out)
	}
	return "", false
}

// indexParamPos is the position among r's path segments of its index
// parameter (role "index"), or -1.
func indexParamPos(r *route) int {
	for _, p := range routeParams(r) {
		if p[1] != "index" {
			continue
		}
		want := "{" + p[0] + "}"
		for i, s := range patternSegments(r.path) {
			if s == want {
				return i
			}
		}
	}
	return -1
}

// sameSegments compares two route patterns, any {param} matching any other.
func sameSegments(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		pa, pb := strings.HasPrefix(a[i], "{"), strings.HasPrefix(b[i], "{")
		if pa != pb || (!pa && a[i] != b[i]) {
			return false
		}
	}
	return true
}

func joinSegments(segs []string) (string, bool) {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	p, err := canon.Path([]byte(b.String()))
	if err != nil {
		return "", false
	}
	return p, true
}
