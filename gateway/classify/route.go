package classify

import "strings"

// bodyKind says how a route's body is read.
type bodyKind uint8

const (
	bodyJSON             bodyKind = iota // validated strictly if present; no targets in it
	bodyRaw                              // not JSON (text structure, ML data, monitoring bulk): not read
	bodyDeny                             // targets live where the classifier cannot see them: Deny
	bodySearch                           // search: pit.id, ?scroll creates a scroll
	bodySearchTemplate                   // search/template: action on name, search on path
	bodyMsearch                          // NDJSON header/body pairs
	bodyBulk                             // NDJSON action/source pairs
	bodyMget                             // docs[]._index, ids
	bodyMtv                              // docs[]._index, ids
	bodyReindex                          // source.index read, dest.index write
	bodyAliases                          // actions[]
	bodyCreateIndex                      // aliases{}
	bodyResize                           // source, target, aliases{}
	bodyRollover                         // alias, new index
	bodyScroll                           // scroll_id in path, query or body
	bodyClearScroll                      // scroll_id(s) in path or body
	bodyOpenPIT                          // creates a PIT
	bodyClosePIT                         // id in body
	bodyAsyncID                          // async id in path
	bodySQLCursor                        // cursor in body
	bodyDocIndex                         // index API
	bodyDocCreate                        // create API
	bodyDocUpdate                        // update API
	bodyDocDelete                        // delete API
	bodyMigrateReindex                   // source.index
	bodyModifyDataStream                 // actions[].{add,remove}_backing_index
)

// route is one (API, path) of the REST surface.
type route struct {
	api     string
	methods string // comma-separated, as in the reference table
	path    string // pattern: literal segments and {param}s
	action  string
	body    bodyKind
	params  string // "param:role,...": path params naming targets (role index, alias or new)
	// paramList is params parsed, by buildTrie.
	paramList [][2]string
	derived   bool   // action name derived from conventions, not from §1.5
	extra     bool   // path absent from the reference table
	note      string // why a body is not inspected, or why the API is denied
}

func (r *route) allows(method string) bool {
	for m := range strings.SplitSeq(r.methods, ",") {
		if m == method {
			return true
		}
	}
	return false
}

// cluster reports whether action is authorized as a cluster action, as
// ClusterPrivilegeResolver.isClusterAction decides: cluster:* and the two
// template families.
func cluster(action string) bool {
	return strings.HasPrefix(action, "cluster:") ||
		strings.HasPrefix(action, "indices:admin/template/") ||
		strings.HasPrefix(action, "indices:admin/index_template/")
}

// node is a PathTrie node: literal children, at most one wildcard child,
// and the routes registered at this path, in table order.
type node struct {
	lit    map[string]*node
	wild   *node
	routes []*route
}

var trie = buildTrie()

func buildTrie() *node {
	root := &node{}
	for i := range routes {
		r := &routes[i]
		r.paramList = parseParams(r.params)
		n := root
		for _, seg := range patternSegments(r.path) {
			if strings.HasPrefix(seg, "{") {
				if n.wild == nil {
					n.wild = &node{}
				}
				n = n.wild
				continue
			}
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			c := n.lit[seg]
			if c == nil {
				c = &node{}
				n.lit[seg] = c
			}
			n = c
		}
		n.routes = append(n.routes, r)
	}
	return root
}

func patternSegments(p string) []string {
	var out []string
	for s := range strings.SplitSeq(p, "/") {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Matching modes of Elasticsearch's PathTrie, tried in this order by
// RestController.getAllHandlers; the first match wins.
type mode uint8

const (
	explicitOnly mode = iota
	wildcardRoot
	wildcardLeaf
	wildcardAny
)

// match finds the node for segs as PathTrie.retrieveAll does: literal
// children before the wildcard, with backtracking.
func match(segs []string) *node {
	if len(segs) == 0 {
		if len(trie.routes) > 0 {
			return trie
		}
		return nil
	}
	for m := explicitOnly; m <= wildcardAny; m++ {
		if n := trie.retrieve(segs, 0, m); n != nil {
			return n
		}
	}
	return nil
}

func (n *node) retrieve(segs []string, i int, m mode) *node {
	if i >= len(segs) {
		return nil
	}
	last := i == len(segs)-1
	wildOK := m == wildcardAny || (m == wildcardRoot && i == 0) || (m == wildcardLeaf && last)
	next, usedWild := n.lit[segs[i]], false
	if next == nil {
		if !wildOK || n.wild == nil {
			return nil
		}
		next, usedWild = n.wild, true
	} else if last && len(next.routes) == 0 && n.wild != nil && m != explicitOnly && m != wildcardRoot {
		next, usedWild = n.wild, true
	}
	if last {
		if len(next.routes) > 0 {
			return next
		}
		return nil
	}
	if v := next.retrieve(segs, i+1, m); v != nil {
		return v
	}
	if !usedWild && m != explicitOnly && n.wild != nil {
		return n.wild.retrieve(segs, i+1, m)
	}
	return nil
}

// pick returns the route for method at n: the first in table order that
// allows it; HEAD falls back to GET (authorized identically, §2.1).
func (n *node) pick(method string) *route {
	for _, r := range n.routes {
		if r.allows(method) {
			return r
		}
	}
	if method == "HEAD" {
		for _, r := range n.routes {
			if r.allows("GET") {
				return r
			}
		}
	}
	return nil
}

// bind returns the value of path parameter name for segs matched by r.
func bind(r *route, segs []string, name string) (string, bool) {
	want := "{" + name + "}"
	i := 0
	for s := range strings.SplitSeq(r.path, "/") {
		if s == "" {
			continue
		}
		if s == want && i < len(segs) {
			return segs[i], true
		}
		i++
	}
	return "", false
}

// routeParams yields (param, role) pairs of r.params.
func routeParams(r *route) [][2]string { return r.paramList }

// parseParams parses a route's params: "param:role,...".
func parseParams(params string) [][2]string {
	if params == "" {
		return nil
	}
	var out [][2]string
	for p := range strings.SplitSeq(params, ",") {
		name, role, _ := strings.Cut(p, ":")
		out = append(out, [2]string{name, role})
	}
	return out
}
