package main

import (
	"strings"
	"testing"
)

// TestUserAPI: Elasticsearch's user API over the same account aggregate as
// the codelibs /_auth/account.
func TestUserAPI(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up)
	su := basic(elasticAuth)

	r := call(t, "PUT", n.url+"/_security/user/jacknich", `{"password":"l0ng-r4nd0m-p@ssw0rd","roles":["admin","other_role1"],"full_name":"Jack Nicholson","email":"jacknich@example.com","metadata":{"intelligence":7}}`, su...)
	mustStatus(t, r, 200, "create user")
	if string(r.Body) != `{"created":true}` {
		t.Fatalf("create answer %s", r.Body)
	}
	r = call(t, "POST", n.url+"/_security/user/jacknich", `{"roles":["admin"],"full_name":"Jack N."}`, su...)
	mustStatus(t, r, 200, "update user")
	if string(r.Body) != `{"created":false}` {
		t.Fatalf("update answer %s", r.Body)
	}
	r = call(t, "GET", n.url+"/_security/user/jacknich", "", su...)
	mustStatus(t, r, 200, "get user")
	want := `{"jacknich":{"username":"jacknich","roles":["admin"],"full_name":"Jack N.","email":"jacknich@example.com","metadata":{"intelligence":7},"enabled":true}}`
	if string(r.Body) != want {
		t.Fatalf("get user\n got %s\nwant %s", r.Body, want)
	}
	// The password kept through the update; the codelibs API sees the same account.
	mustStatus(t, call(t, "GET", n.url+"/x", "", basic("jacknich:l0ng-r4nd0m-p@ssw0rd")...), 403, "jacknich authenticates (no grant)")
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"jacknich","password":"secret1"}`, su...), 409, "codelibs create of the same user")

	r = call(t, "GET", n.url+"/_security/_authenticate", "", basic("jacknich:l0ng-r4nd0m-p@ssw0rd")...)
	mustStatus(t, r, 200, "_authenticate")
	for _, w := range []string{`"username":"jacknich"`, `"roles":["admin"]`, `"authentication_realm":{"name":"default_native","type":"native"}`, `"authentication_type":"realm"`, `"full_name":"Jack N."`} {
		if !strings.Contains(string(r.Body), w) {
			t.Errorf("_authenticate lacks %s: %s", w, r.Body)
		}
	}

	// Own password: no privilege needed; another user's: manage_security.
	mustStatus(t, call(t, "POST", n.url+"/_security/user/_password", `{"password":"new-pass-1"}`, basic("jacknich:l0ng-r4nd0m-p@ssw0rd")...), 200, "change own password")
	mustStatus(t, call(t, "GET", n.url+"/_security/_authenticate", "", basic("jacknich:l0ng-r4nd0m-p@ssw0rd")...), 401, "old password")
	mustStatus(t, call(t, "POST", n.url+"/_security/user/jacknich/_password", `{"password":"new-pass-2"}`, basic("jacknich:new-pass-1")...), 200, "change own password by name")
	mustStatus(t, call(t, "POST", n.url+"/_security/user/elastic/_password", `{"password":"hijacked"}`, basic("jacknich:new-pass-2")...), 403, "change another user's password")

	// Disable / enable: a disabled user neither authenticates nor keeps a working token.
	tok := call(t, "POST", n.url+"/login", `{"username":"jacknich","password":"new-pass-2"}`).json(t)["token"].(string)
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/jacknich/_disable", "", su...), 200, "disable")
	mustStatus(t, call(t, "GET", n.url+"/_security/_authenticate", "", basic("jacknich:new-pass-2")...), 401, "disabled user, Basic")
	mustStatus(t, call(t, "GET", n.url+"/_security/_authenticate?token="+tok, ""), 401, "disabled user, token")
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/jacknich/_enable", "", su...), 200, "enable")
	mustStatus(t, call(t, "GET", n.url+"/_security/_authenticate?token="+tok, ""), 200, "enabled again, token")

	// Errors as Elasticsearch gives them.
	r = call(t, "PUT", n.url+"/_security/user/noroles", `{"password":"secret1"}`, su...)
	if r.Status != 400 || !strings.Contains(string(r.Body), `"type":"action_request_validation_exception"`) || !strings.Contains(string(r.Body), "roles are missing") {
		t.Fatalf("missing roles: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/nopw", `{"roles":[]}`, su...), 400, "create without password")
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/meta", `{"password":"secret1","roles":[],"metadata":[1]}`, su...), 400, "metadata not an object")
	r = call(t, "GET", n.url+"/_security/user/nobody", "", su...)
	if r.Status != 404 || string(r.Body) != `{}` {
		t.Fatalf("get unknown user: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "GET", n.url+"/_security/user", "", basic("jacknich:new-pass-2")...), 403, "list users without manage_security")

	r = call(t, "GET", n.url+"/_security/user", "", su...)
	mustStatus(t, r, 200, "list users")
	if m := r.json(t); m["elastic"] == nil || m["jacknich"] == nil {
		t.Fatalf("list users: %s", r.Body)
	}
	r = call(t, "DELETE", n.url+"/_security/user/jacknich", "", su...)
	if r.Status != 200 || string(r.Body) != `{"found":true}` {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	r = call(t, "DELETE", n.url+"/_security/user/jacknich", "", su...)
	if r.Status != 404 || string(r.Body) != `{"found":false}` {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "GET", n.url+"/_security/_authenticate?token="+tok, ""), 401, "token of a deleted user")
}
