package policy

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestInputTermsTargets(t *testing.T) {
	c := newInputTerms()
	a := []Target{{Action: "indices:data/read/get", Indices: []string{"logs-1"}}}
	b := []Target{{Action: "indices:data/read/get", Indices: []string{"logs-1", "logs-2"}}}
	ab := []Target{{Action: "indices:data/read/get", Indices: []string{"logs-1"}}, {Action: "x", AnyIndex: true}}

	if got := c.targetsTerm(nil); got != emptyArray {
		t.Errorf("no targets: %v", got)
	}
	for _, ts := range [][]Target{a, b, ab} {
		first := c.targetsTerm(ts)
		if want := targetsTerm(ts, identity); first.Value.Compare(want.Value) != 0 {
			t.Errorf("term(%v) = %v, want %v", ts, first, want)
		}
		if again := c.targetsTerm(ts); again != first {
			t.Errorf("term(%v) built again", ts)
		}
	}
	if c.targetsTerm(a) == c.targetsTerm(b) || c.targetsTerm(a) == c.targetsTerm(ab) {
		t.Error("different targets share a term")
	}

	// A cached term owns its strings: the request's may point into a
	// buffer that is reused.
	buf := []byte("logs-9")
	ts := []Target{{Action: "indices:data/read/get", Indices: []string{unsafe.String(&buf[0], len(buf))}}}
	term := c.targetsTerm(ts)
	copy(buf, "xxxx-x")
	if want := ast.MustParseTerm(`[{"action": "indices:data/read/get", "indices": ["logs-9"]}]`); term.Value.Compare(want.Value) != 0 {
		t.Errorf("cached term changed with the request buffer: %v", term)
	}

	// Bounded.
	for i := range 3 * termCacheSize {
		c.targetsTerm([]Target{{Action: "a", Indices: []string{fmt.Sprint(i)}}})
	}
	n := 0
	for i := range c.targets.shards {
		n += len(c.targets.shards[i].m)
	}
	if n > termCacheSize {
		t.Errorf("%d entries, want at most %d", n, termCacheSize)
	}
}

func TestInputTermsUsers(t *testing.T) {
	c := newInputTerms()
	buf := []byte("role-a")
	u := &User{Name: "alice", Roles: []string{unsafe.String(&buf[0], len(buf)), "b"}, Realm: "native", AuthType: "realm"}
	roles := c.users.term(newUserKey(u, fieldUserRoles))
	if want := ast.MustParseTerm(`{"roles": ["role-a", "b"]}`); roles.Value.Compare(want.Value) != 0 {
		t.Errorf("roles only: %v", roles)
	}
	if again := c.users.term(newUserKey(u, fieldUserRoles)); again != roles {
		t.Error("built again")
	}
	all := c.users.term(newUserKey(u, allInputFields))
	if want := ast.MustParseTerm(`{"name": "alice", "roles": ["role-a", "b"], "realm": "native", "authentication_type": "realm"}`); all.Value.Compare(want.Value) != 0 {
		t.Errorf("all fields: %v", all)
	}
	copy(buf, "zzzzzz")
	if want := ast.MustParseTerm(`{"roles": ["role-a", "b"]}`); roles.Value.Compare(want.Value) != 0 {
		t.Errorf("kept term changed with the request buffer: %v", roles)
	}
	// Other roles, name or field set: another term.
	for _, k := range []userKey{
		newUserKey(&User{Roles: []string{"zzzzzz", "b"}}, fieldUserRoles),
		newUserKey(&User{Name: "bob", Roles: u.Roles}, allInputFields),
		newUserKey(u, fieldUserRoles|fieldUserName),
	} {
		if got := c.users.term(k); got == roles || got == all {
			t.Errorf("%+v shares a term", k)
		}
	}
}
