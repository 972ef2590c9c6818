package policy

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestInputDocument pins the input document, a documented contract
// (docs/policy.md): user policies and their tests depend on it.
func TestInputDocument(t *testing.T) {
	in := &Input{
		User:    User{Name: "alice", Roles: []string{"user", "ops"}, Realm: "native", AuthType: "realm"},
		Request: Request{Method: "get", Path: "/logs/_doc/1", Kind: KindContent, Privilege: "", Action: "indices:data/read/get", RequestID: "r-1", SourceIP: "192.0.2.1"},
	}
	v, err := ast.JSON(inputValue(in, "GET", allInputFields))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v)
	const want = `{"request":{"action":"indices:data/read/get","kind":"content","method":"GET","path":"/logs/_doc/1","path_prefixes":["/","/logs","/logs/_doc","/logs/_doc/1"],"privilege":"","request_id":"r-1","source_ip":"192.0.2.1","targets":[]},"user":{"authentication_type":"realm","name":"alice","realm":"native","roles":["user","ops"]}}`
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
		str := func(s string) *ast.Term { return ast.StringTerm(s) }
		var got []string
		for _, t := range appendPathPrefixes(nil, path, str) {
			got = append(got, string(t.Value.(ast.String)))
		}
		if !slices.Equal(got, want) || pathPrefixCount(path) != len(want) {
			t.Errorf("prefixes of %q = %q (count %d), want %q", path, got, pathPrefixCount(path), want)
		}
	}
}
