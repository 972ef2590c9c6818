package policy

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestInputDocument pins the input document, a documented contract
// (docs/policy.md): user policies and their tests depend on it.
func TestInputDocument(t *testing.T) {
	in := &Input{
		User:    User{Name: "alice", Roles: []string{"user", "ops"}, Realm: "native", AuthType: "realm"},
		Request: Request{Method: "get", Path: "/logs/_doc/1", Kind: KindContent, Privilege: "", Action: "indices:data/read/get", RequestID: "r-1", SourceIP: "192.0.2.1", Query: []byte("refresh=true")},
	}
	v, err := ast.JSON(inputValue(in, "GET", allInputFields, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v)
	const want = `{"request":{"action":"indices:data/read/get","kind":"content","method":"GET","path":"/logs/_doc/1","path_prefixes":["/","/logs","/logs/_doc","/logs/_doc/1"],"privilege":"","query":"refresh=true","request_id":"r-1","source_ip":"192.0.2.1","targets":[]},"user":{"authentication_type":"realm","name":"alice","realm":"native","roles":["user","ops"]}}`
	if string(got) != want {
		t.Errorf("input document\n got %s\nwant %s", got, want)
	}
}

func TestPathPrefixes(t *testing.T) {
	tests := map[string][]string{
		"/":           {"/"},
		"/a":          {"/", "/a"},
		"/a/b/c":      {"/", "/a", "/a/b", "/a/b/c"},
		"/a/":         {"/", "/a", "/a/"},
		"/a//b":       {"/", "/a", "/a/", "/a//b"},
		"/a%2Fb/c":    {"/", "/a%2Fb", "/a%2Fb/c"},
		"":            nil,
		"a/b":         nil,
		"/_cat/nodes": {"/", "/_cat", "/_cat/nodes"},
	}
	for path, want := range tests {
		got := appendPathPrefixes(nil, path)
		if !slices.Equal(got, want) || pathPrefixCount(path) != len(want) {
			t.Errorf("prefixes of %q = %q (count %d), want %q", path, got, pathPrefixCount(path), want)
		}
	}
}

// TestInputTargets pins request.targets, any_index included, and keeps the
// decision cache from confusing a target with any_index and one without.
func TestInputTargets(t *testing.T) {
	in := &Input{Request: Request{Method: "POST", Path: "/_search/scroll", Kind: KindContent, Targets: []Target{
		{Action: "indices:data/read/scroll", AnyIndex: true}, {Action: "indices:data/read/search", Indices: []string{"a", "b"}}}}}
	v, err := ast.JSON(inputValue(in, "POST", allInputFields, nil))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v.(map[string]any)["request"].(map[string]any)["targets"])
	const want = `[{"action":"indices:data/read/scroll","any_index":true,"indices":[]},{"action":"indices:data/read/search","indices":["a","b"]}]`
	if string(got) != want {
		t.Errorf("targets\n got %s\nwant %s", got, want)
	}
	if targetsKey([]Target{{Action: "x", AnyIndex: true}}) == targetsKey([]Target{{Action: "x"}}) {
		t.Error("any_index is not part of the cache key")
	}
}

func TestReadInputFields(t *testing.T) {
	request := fieldMethod | fieldPath | fieldPathPrefixes | fieldKind | fieldPrivilege | fieldAction | fieldRequestID | fieldSourceIP | fieldQuery | fieldTargets
	user := fieldUserName | fieldUserRoles | fieldUserRealm | fieldUserAuthType
	for _, tt := range []struct {
		rule string
		want inputFields
	}{
		{`x := input.request.source_ip`, fieldSourceIP},
		{`x := input.request.targets[0].action`, fieldTargets},
		{`x := input.user`, user},
		{`x := input.request[k] if k := "path"`, request},
		{`x := input[k].name if k := "user"`, fieldUserName},
		{`x := input`, allInputFields},
		{`x := object.get(input, ["request", "source_ip"], "")`, allInputFields},
		{`x := input.other`, 0},
		{`x := data.input.request.path`, 0},
	} {
		mod := "package p\n\n" + tt.rule + "\n"
		c := newCompiler(false)
		c.Compile(map[string]*ast.Module{"p.rego": ast.MustParseModuleWithOpts(mod, ast.ParserOptions{RegoVersion: ast.RegoV1})})
		if c.Failed() {
			t.Fatalf("%s: %v", tt.rule, c.Errors)
		}
		if got := readInputFields(c); got != tt.want {
			t.Errorf("%s: fields %014b, want %014b", tt.rule, got, tt.want)
		}
	}
}

// TestInputWithoutUnreadFields: the engine builds the input with the fields
// its policy reads, and a policy reading another field gets it.
func TestInputWithoutUnreadFields(t *testing.T) {
	e := newEngine(t, Config{}, testConstraints)
	if f := e.cur.Load().fields; f&(fieldSourceIP|fieldRequestID|fieldUserName) != 0 || f&fieldUserRoles == 0 {
		t.Errorf("embedded policy: fields %013b", f)
	}
	dir := writePolicy(t, map[string]string{"ip.rego": `package portcullis.authz

deny contains concat(" ", ["from", input.request.source_ip, "as", input.user.name]) if input.request.source_ip == "192.0.2.66"
`})
	e = newEngine(t, Config{Dir: dir}, testConstraints)
	in := content("GET", "/aaa", "user")
	in.Request.SourceIP = "192.0.2.66"
	if d, err := e.Decide(context.Background(), in); err != nil || d.Reason != "from 192.0.2.66 as alice" {
		t.Errorf("Decide = %+v, %v", d, err)
	}
}

func TestTargetsKey(t *testing.T) {
	// Unambiguous whatever bytes index names hold.
	a := []Target{{Action: "indices:data/read/search", Indices: []string{"x\x01indices:data/write/delete"}}}
	b := []Target{{Action: "indices:data/read/search", Indices: []string{"x"}}, {Action: "indices:data/write/delete"}}
	if targetsKey(a) == targetsKey(b) {
		t.Errorf("targets %+v and %+v share a key", a, b)
	}
	r := rand.New(rand.NewPCG(5, 6))
	parts := []string{"", "a", "b", "\x00", "\x01", "ab", strings.Repeat("z", 200)}
	gen := func() []Target {
		ts := make([]Target, r.IntN(3))
		for i := range ts {
			ts[i].Action = parts[r.IntN(len(parts))]
			for range r.IntN(3) {
				ts[i].Indices = append(ts[i].Indices, parts[r.IntN(len(parts))])
			}
		}
		return ts
	}
	for range 5000 {
		x, y := gen(), gen()
		same := slices.EqualFunc(x, y, func(a, b Target) bool { return a.Action == b.Action && slices.Equal(a.Indices, b.Indices) })
		if (targetsKey(x) == targetsKey(y)) != same {
			t.Fatalf("targetsKey(%+v) == targetsKey(%+v) is %v", x, y, !same)
		}
		if targetsKeyEqual(targetsKey(x), y) != same || !targetsKeyEqual(targetsKey(x), x) {
			t.Fatalf("targetsKeyEqual(%+v, %+v) is %v", x, y, !same)
		}
	}
}

// inputValue builds the input document of in: inputObject of inputParts.
func inputValue(in *Input, method string, fields inputFields, terms *inputTerms) ast.Value {
	return inputObject(inputParts(in, method, fields, terms))
}
