package policy

import (
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Keys of the input document (docs/policy.md). OPA never mutates terms, so
// evaluations share these, and the interned values below.
var (
	keyUser     = ast.StringTerm("user")
	keyName     = ast.StringTerm("name")
	keyRoles    = ast.StringTerm("roles")
	keyRealm    = ast.StringTerm("realm")
	keyAuthType = ast.StringTerm("authentication_type")

	keyRequest      = ast.StringTerm("request")
	keyMethod       = ast.StringTerm("method")
	keyPath         = ast.StringTerm("path")
	keyPathPrefixes = ast.StringTerm("path_prefixes")
	keyKind         = ast.StringTerm("kind")
	keyPrivilege    = ast.StringTerm("privilege")
	keyAction       = ast.StringTerm("action")
	keyRequestID    = ast.StringTerm("request_id")
	keySourceIP     = ast.StringTerm("source_ip")
	keyTargets      = ast.StringTerm("targets")
	keyIndices      = ast.StringTerm("indices")
	keyAnyIndex     = ast.StringTerm("any_index")
)

// interned holds terms for the values most requests share.
var interned = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range append([]string{"", "/", KindContent, KindManagement}, methods...) {
		m[s] = ast.StringTerm(s)
	}
	return m
}()

// inputValue builds the input document of in directly as an ast.Value,
// sparing OPA a conversion from Go values. method is in.Request.Method
// upper-cased; request.path_prefixes is derived from the path. The strings of in are referenced, not
// copied: the value must not outlive the call to Decide.
//
// Terms are carved out of one slice, strings the policy reads on every
// request are interned: this runs once per decision.
func inputValue(in *Input, method string) ast.Value {
	r := &in.Request
	prefixes := pathPrefixCount(r.Path)
	nStrings := 11 + len(in.User.Roles) + prefixes
	slab := make([]ast.Term, 0, nStrings)
	str := func(s string) *ast.Term {
		if t, ok := interned[s]; ok {
			return t
		}
		slab = append(slab, ast.Term{Value: ast.String(s)}) // never grows: cap is an upper bound
		return &slab[len(slab)-1]
	}

	elems := make([]*ast.Term, 0, len(in.User.Roles)+prefixes)
	for _, role := range in.User.Roles {
		elems = append(elems, str(role))
	}
	roles := elems[:len(in.User.Roles):len(in.User.Roles)]
	elems = appendPathPrefixes(elems, r.Path, str)
	pathPrefixes := elems[len(roles):]

	user := ast.NewObject(
		[2]*ast.Term{keyName, str(in.User.Name)},
		[2]*ast.Term{keyRoles, ast.ArrayTerm(roles...)},
		[2]*ast.Term{keyRealm, str(in.User.Realm)},
		[2]*ast.Term{keyAuthType, str(in.User.AuthType)},
	)
	request := ast.NewObject(
		[2]*ast.Term{keyMethod, str(method)},
		[2]*ast.Term{keyPath, str(r.Path)},
		[2]*ast.Term{keyPathPrefixes, ast.ArrayTerm(pathPrefixes...)},
		[2]*ast.Term{keyKind, str(r.Kind)},
		[2]*ast.Term{keyPrivilege, str(r.Privilege)},
		[2]*ast.Term{keyAction, str(r.Action)},
		[2]*ast.Term{keyRequestID, str(r.RequestID)},
		[2]*ast.Term{keySourceIP, str(r.SourceIP)},
		[2]*ast.Term{keyTargets, targetsTerm(r.Targets)},
	)
	return ast.NewObject(
		[2]*ast.Term{keyUser, ast.NewTerm(user)},
		[2]*ast.Term{keyRequest, ast.NewTerm(request)},
	)
}

// pathPrefixCount returns how many prefixes appendPathPrefixes appends.
func pathPrefixCount(path string) int {
	if !strings.HasPrefix(path, "/") {
		return 0
	}
	if path == "/" {
		return 1
	}
	return 1 + strings.Count(path, "/")
}

// appendPathPrefixes appends "/" and every segment prefix of path, shortest
// first: "/", "/a", "/a/b" for "/a/b". A path that does not start with "/"
// has none, so no constraint covers it.
func appendPathPrefixes(dst []*ast.Term, path string, str func(string) *ast.Term) []*ast.Term {
	if !strings.HasPrefix(path, "/") {
		return dst
	}
	dst = append(dst, str("/"))
	if path == "/" {
		return dst
	}
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			dst = append(dst, str(path[:i]))
		}
	}
	return append(dst, str(path))
}

// emptyArray is the targets of a request without any.
var emptyArray = ast.ArrayTerm()

// targetsTerm is request.targets: [{"action", "indices"}], with
// "any_index": true on a target that has it.
func targetsTerm(ts []Target) *ast.Term {
	if len(ts) == 0 {
		return emptyArray
	}
	out := make([]*ast.Term, len(ts))
	for i, t := range ts {
		idx := make([]*ast.Term, len(t.Indices))
		for j, s := range t.Indices {
			idx[j] = ast.StringTerm(s)
		}
		items := [][2]*ast.Term{
			ast.Item(keyAction, ast.StringTerm(t.Action)),
			ast.Item(keyIndices, ast.ArrayTerm(idx...)),
		}
		if t.AnyIndex {
			items = append(items, ast.Item(keyAnyIndex, ast.BooleanTerm(true)))
		}
		out[i] = ast.ObjectTerm(items...)
	}
	return ast.ArrayTerm(out...)
}

// targetsKey is a canonical encoding of targets for the decision cache.
func targetsKey(ts []Target) string {
	if len(ts) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range ts {
		if t.AnyIndex {
			b.WriteByte(2)
		}
		b.WriteString(t.Action)
		for _, s := range t.Indices {
			b.WriteByte(0)
			b.WriteString(s)
		}
		b.WriteByte(1)
	}
	return b.String()
}
