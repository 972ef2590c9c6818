package policy

import (
	"encoding/binary"
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
	keyQuery        = ast.StringTerm("query")
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

// inputFields is a set of fields of the input document: those a compiled
// policy may read (readInputFields).
type inputFields uint16

const (
	fieldUserName inputFields = 1 << iota
	fieldUserRoles
	fieldUserRealm
	fieldUserAuthType
	fieldMethod
	fieldPath
	fieldPathPrefixes
	fieldKind
	fieldPrivilege
	fieldAction
	fieldRequestID
	fieldSourceIP
	fieldQuery
	fieldTargets

	allInputFields = fieldTargets<<1 - 1
)

// inputFieldRefs are the fields of the input document.
var inputFieldRefs = []struct {
	ref   ast.Ref
	field inputFields
}{
	{ast.MustParseRef("input.user.name"), fieldUserName},
	{ast.MustParseRef("input.user.roles"), fieldUserRoles},
	{ast.MustParseRef("input.user.realm"), fieldUserRealm},
	{ast.MustParseRef("input.user.authentication_type"), fieldUserAuthType},
	{ast.MustParseRef("input.request.method"), fieldMethod},
	{ast.MustParseRef("input.request.path"), fieldPath},
	{ast.MustParseRef("input.request.path_prefixes"), fieldPathPrefixes},
	{ast.MustParseRef("input.request.kind"), fieldKind},
	{ast.MustParseRef("input.request.privilege"), fieldPrivilege},
	{ast.MustParseRef("input.request.action"), fieldAction},
	{ast.MustParseRef("input.request.request_id"), fieldRequestID},
	{ast.MustParseRef("input.request.source_ip"), fieldSourceIP},
	{ast.MustParseRef("input.request.query"), fieldQuery},
	{ast.MustParseRef("input.request.targets"), fieldTargets},
}

// readInputFields returns the fields of the input document that the policy
// compiled in c may read: those some reference of a module may reach,
// through the field itself, an ancestor (input.request, input) or a
// variable key (input.request[k]). A field no reference reaches cannot
// change a decision, and the input is built without it.
func readInputFields(c *ast.Compiler) inputFields {
	var fields inputFields
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		switch v := x.(type) {
		case ast.Var: // not the head of a reference: input itself
			if v.Equal(ast.InputRootDocument.Value) {
				fields = allInputFields
			}
		case ast.Ref:
			if v.HasPrefix(ast.InputRootRef) {
				for _, f := range inputFieldRefs {
					if refsOverlap(v, f.ref) {
						fields |= f.field
					}
				}
			}
			for _, t := range v[1:] {
				vis.Walk(t)
			}
			return true
		}
		return fields == allInputFields
	})
	for _, m := range c.Modules {
		vis.Walk(m)
	}
	return fields
}

// refsOverlap reports whether references a and b may reach a common
// document: they agree wherever both have a constant, up to the shorter.
func refsOverlap(a, b ast.Ref) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i].IsGround() && b[i].IsGround() && !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// inputParts builds the input document of in directly as ast values,
// sparing OPA a conversion from Go values, with the fields of fields only
// (readInputFields: the others are never read). method is
// in.Request.Method upper-cased; request.path_prefixes is derived from the
// path. The strings of in are referenced, not copied: the value must not
// outlive the call to Decide.
//
// Terms are carved out of one slice, strings the policy reads on every
// request are interned: this runs once per decision.
//
// terms, if not nil, serves the terms of the user and request.targets.
//
// inputParts returns the two members of the document, user and request.
func inputParts(in *Input, method string, fields inputFields, terms *inputTerms) (*ast.Term, *ast.Term) {
	r := &in.Request
	prefixes := 0
	if fields&fieldPathPrefixes != 0 {
		prefixes = pathPrefixCount(r.Path)
	}
	b := inputBuilder{slab: make([]ast.Term, 0, 8+prefixes)}

	var userTerm *ast.Term
	if terms != nil {
		userTerm = terms.users.term(newUserKey(&in.User, fields))
	} else {
		userTerm = newUserTerm(newUserKey(&in.User, fields))
	}

	var kv [10][2]*ast.Term
	request := kv[:0]
	add := func(f inputFields, key, value *ast.Term) {
		if fields&f != 0 {
			request = append(request, [2]*ast.Term{key, value})
		}
	}
	if fields&fieldMethod != 0 {
		add(fieldMethod, keyMethod, b.str(method))
	}
	if fields&fieldPath != 0 {
		add(fieldPath, keyPath, b.str(r.Path))
	}
	if fields&fieldPathPrefixes != 0 {
		var buf [16]string
		ps := appendPathPrefixes(buf[:0], r.Path)
		ts := make([]*ast.Term, len(ps))
		for i, p := range ps {
			ts[i] = b.str(p)
		}
		add(fieldPathPrefixes, keyPathPrefixes, ast.ArrayTerm(ts...))
	}
	if fields&fieldKind != 0 {
		add(fieldKind, keyKind, b.str(r.Kind))
	}
	if fields&fieldPrivilege != 0 {
		add(fieldPrivilege, keyPrivilege, b.str(r.Privilege))
	}
	if fields&fieldAction != 0 {
		add(fieldAction, keyAction, b.str(r.Action))
	}
	if fields&fieldRequestID != 0 {
		add(fieldRequestID, keyRequestID, b.str(r.RequestID))
	}
	if fields&fieldSourceIP != 0 {
		add(fieldSourceIP, keySourceIP, b.str(r.SourceIP))
	}
	if fields&fieldQuery != 0 {
		// Made a string only for a policy that reads it.
		add(fieldQuery, keyQuery, b.str(string(r.Query)))
	}
	if fields&fieldTargets != 0 {
		if terms != nil {
			add(fieldTargets, keyTargets, terms.targetsTerm(r.Targets))
		} else {
			add(fieldTargets, keyTargets, targetsTerm(r.Targets, identity))
		}
	}
	return userTerm, ast.NewTerm(ast.NewObject(request...))
}

// inputBuilder makes the string terms of one input: carved out of one
// slice, those most requests share interned.
type inputBuilder struct {
	slab []ast.Term // its capacity bounds the terms made: it never grows
}

func (b *inputBuilder) str(s string) *ast.Term {
	if t, ok := interned[s]; ok {
		return t
	}
	b.slab = append(b.slab, ast.Term{Value: ast.String(s)})
	return &b.slab[len(b.slab)-1]
}

// inputObject is the input document {"user": user, "request": request}.
func inputObject(user, request *ast.Term) ast.Value {
	return ast.NewObject([2]*ast.Term{keyUser, user}, [2]*ast.Term{keyRequest, request})
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
func appendPathPrefixes(dst []string, path string) []string {
	if !strings.HasPrefix(path, "/") {
		return dst
	}
	dst = append(dst, "/")
	if path == "/" {
		return dst
	}
	for i := 1; i < len(path); i++ {
		if path[i] == '/' {
			dst = append(dst, path[:i])
		}
	}
	return append(dst, path)
}

func identity(s string) string { return s }

// emptyArray is the targets of a request without any.
var emptyArray = ast.ArrayTerm()

// targetsTerm is request.targets: [{"action", "indices"}], with
// "any_index": true on a target that has it; its strings are str(s) for
// each string s of ts (strings.Clone for a term that outlives the request).
func targetsTerm(ts []Target, str func(string) string) *ast.Term {
	if len(ts) == 0 {
		return emptyArray
	}
	out := make([]*ast.Term, len(ts))
	for i, t := range ts {
		idx := make([]*ast.Term, len(t.Indices))
		for j, s := range t.Indices {
			idx[j] = ast.StringTerm(str(s))
		}
		items := [][2]*ast.Term{
			ast.Item(keyAction, ast.StringTerm(str(t.Action))),
			ast.Item(keyIndices, ast.ArrayTerm(idx...)),
		}
		if t.AnyIndex {
			items = append(items, ast.Item(keyAnyIndex, ast.BooleanTerm(true)))
		}
		out[i] = ast.ObjectTerm(items...)
	}
	return ast.ArrayTerm(out...)
}

// targetsKey is a canonical encoding of targets for the decision cache:
// for each target, the number of its indices, then its action and each
// index, every string preceded by its length (binary.AppendUvarint). The
// lengths make it unambiguous whatever bytes the strings hold: index names
// come from the request.
func targetsKey(ts []Target) string {
	if len(ts) == 0 {
		return ""
	}
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	for _, t := range ts {
		b = binary.AppendUvarint(b, targetHead(t))
		str(t.Action)
		for _, s := range t.Indices {
			str(s)
		}
	}
	return string(b)
}

// targetHead is the first number of a target in its key: the count of its
// indices and whether it is an any-index target.
func targetHead(t Target) uint64 {
	h := uint64(len(t.Indices)) << 1
	if t.AnyIndex {
		h |= 1
	}
	return h
}

// targetsKeyEqual reports whether key == targetsKey(ts), without building
// the latter.
func targetsKeyEqual(key string, ts []Target) bool {
	next := func(n uint64) bool { // consumes the uvarint n
		v, size := uvarint(key)
		if size <= 0 || v != n {
			return false
		}
		key = key[size:]
		return true
	}
	str := func(s string) bool {
		if !next(uint64(len(s))) || !strings.HasPrefix(key, s) {
			return false
		}
		key = key[len(s):]
		return true
	}
	for _, t := range ts {
		if !next(targetHead(t)) || !str(t.Action) {
			return false
		}
		for _, s := range t.Indices {
			if !str(s) {
				return false
			}
		}
	}
	return key == ""
}

// uvarint is binary.Uvarint for a string.
func uvarint(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}
