package main

import (
	"strings"
	"testing"
	"time"
)

// TestRoleAPI: Elasticsearch's role API. Roles compile into the policy: a
// role's cluster privileges grant management requests at once, and stop
// granting them as soon as the role is deleted.
func TestRoleAPI(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up)
	su := basic(elasticAuth)

	mustStatus(t, call(t, "PUT", n.url+"/_security/user/ua", `{"password":"secret1","roles":["user_admin"]}`, su...), 200, "create ua")
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/mon", `{"password":"secret1","roles":["monitor_only"]}`, su...), 200, "create mon")
	ua, mon := basic("ua:secret1"), basic("mon:secret1")

	// Before the role exists, ua holds no privilege.
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/x", `{"password":"secret1","roles":[]}`, ua...), 403, "ua before the role")

	r := call(t, "PUT", n.url+"/_security/role/user_admin", `{"cluster":["manage_security"],"indices":[{"names":["logs-*"],"privileges":["read"]}],"metadata":{"v":1}}`, su...)
	mustStatus(t, r, 200, "create role")
	if string(r.Body) != `{"role":{"created":true}}` {
		t.Fatalf("create role answer %s", r.Body)
	}
	r = call(t, "POST", n.url+"/_security/role/monitor_only", `{"cluster":["monitor"]}`, su...)
	if r.Status != 200 || string(r.Body) != `{"role":{"created":true}}` {
		t.Fatalf("create monitor_only: %d %s", r.Status, r.Body)
	}

	// A holder of user_admin creates users and constraints; monitor_only cannot.
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/x", `{"password":"secret1","roles":[]}`, ua...), 200, "ua creates a user")
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/data"],"methods":["get"],"roles":["r"]}`, ua...), 200, "ua creates a constraint")
	r = call(t, "PUT", n.url+"/_security/user/y", `{"password":"secret1","roles":[]}`, mon...)
	if r.Status != 403 || !strings.Contains(string(r.Body), "manage_security") || !strings.Contains(string(r.Body), "monitor_only") {
		t.Fatalf("mon creates a user: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/data"],"methods":["get"],"roles":["r"]}`, mon...), 403, "mon creates a constraint")

	// A put replaces the whole role.
	r = call(t, "PUT", n.url+"/_security/role/monitor_only", `{"cluster":["monitor"],"indices":[]}`, su...)
	if r.Status != 200 || string(r.Body) != `{"role":{"created":false}}` {
		t.Fatalf("replace monitor_only: %d %s", r.Status, r.Body)
	}

	// GET answers as Elasticsearch does.
	r = call(t, "GET", n.url+"/_security/role/user_admin", "", su...)
	mustStatus(t, r, 200, "get role")
	want := `{"user_admin":{"cluster":["manage_security"],"indices":[{"names":["logs-*"],"privileges":["read"],"allow_restricted_indices":false}],"applications":[],"run_as":[],"metadata":{"v":1},"transient_metadata":{"enabled":true}}}`
	if string(r.Body) != want {
		t.Fatalf("get role\n got %s\nwant %s", r.Body, want)
	}
	r = call(t, "GET", n.url+"/_security/role/monitor_only,nope", "", ua...)
	want = `{"monitor_only":{"cluster":["monitor"],"indices":[],"applications":[],"run_as":[],"metadata":{},"transient_metadata":{"enabled":true}}}`
	if r.Status != 200 || string(r.Body) != want {
		t.Fatalf("get two roles, one missing: %d\n got %s\nwant %s", r.Status, r.Body, want)
	}
	r = call(t, "GET", n.url+"/_security/role", "", su...)
	mustStatus(t, r, 200, "list roles")
	if m := r.json(t); m["superuser"] == nil || m["user_admin"] == nil || m["monitor_only"] == nil || len(m) != 3 {
		t.Fatalf("list roles: %s", r.Body)
	}
	r = call(t, "GET", n.url+"/_security/role/superuser", "", su...)
	if r.Status != 200 || !strings.Contains(string(r.Body), `"cluster":["all"]`) || !strings.Contains(string(r.Body), `"_reserved":true`) {
		t.Fatalf("get superuser: %d %s", r.Status, r.Body)
	}
	r = call(t, "GET", n.url+"/_security/role/nope", "", su...)
	if r.Status != 404 || string(r.Body) != `{}` {
		t.Fatalf("get unknown role: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "GET", n.url+"/_security/role", "", mon...), 403, "list roles without manage_security")

	// Validation errors as Elasticsearch gives them.
	for _, tt := range []struct{ what, name, body, want string }{
		{"unknown cluster privilege", "bad", `{"cluster":["manage_everything"]}`, "unknown cluster privilege [manage_everything]"},
		{"unknown index privilege", "bad", `{"indices":[{"names":["a"],"privileges":["fly"]}]}`, "unknown index privilege [fly]"},
		{"superuser", "superuser", `{"cluster":["monitor"]}`, "Role [superuser] is reserved and may not be used."},
	} {
		r := call(t, "PUT", n.url+"/_security/role/"+tt.name, tt.body, su...)
		if r.Status != 400 || !strings.Contains(string(r.Body), `"type":"action_request_validation_exception"`) || !strings.Contains(string(r.Body), tt.want) {
			t.Errorf("%s: %d %s", tt.what, r.Status, r.Body)
		}
	}
	for _, tt := range []struct{ what, body, want string }{
		{"applications", `{"applications":[{"application":"kibana","privileges":["all"],"resources":["*"]}]}`, "not supported"},
		{"run_as", `{"run_as":["bob"]}`, "not supported"},
		{"unknown field", `{"clusters":[]}`, "unknown field [clusters]"},
		{"duplicate key", `{"cluster":[],"cluster":["all"]}`, "duplicate field [cluster]"},
		{"metadata", `{"metadata":[1]}`, "must be an object"},
	} {
		r := call(t, "PUT", n.url+"/_security/role/bad", tt.body, su...)
		if r.Status != 400 || !strings.Contains(string(r.Body), tt.want) {
			t.Errorf("%s: %d %s", tt.what, r.Status, r.Body)
		}
	}
	mustStatus(t, call(t, "PUT", n.url+"/_security/role/empty_lists", `{"cluster":[],"applications":[],"run_as":[]}`, su...), 200, "empty applications and run_as")
	mustStatus(t, call(t, "DELETE", n.url+"/_security/role/superuser", "", su...), 400, "delete superuser")

	// Deleting the role revokes it at once.
	r = call(t, "DELETE", n.url+"/_security/role/user_admin", "", su...)
	if r.Status != 200 || string(r.Body) != `{"found":true}` {
		t.Fatalf("delete role: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/z", `{"password":"secret1","roles":[]}`, ua...), 403, "ua after the role is deleted")
	r = call(t, "DELETE", n.url+"/_security/role/user_admin", "", su...)
	if r.Status != 404 || string(r.Body) != `{"found":false}` {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
	mustStatus(t, call(t, "DELETE", n.url+"/_security/role/monitor_only", "", ua...), 403, "delete without manage_security")
}

// TestRoleTwoReplicas: a role put on replica A is enforced on replica B.
func TestRoleTwoReplicas(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	a := startNode(t, up, withNATSListen(natsAddr))
	b := startNode(t, up, withNATSURL("nats://"+natsAddr))
	su := basic(elasticAuth)

	mustStatus(t, call(t, "PUT", a.url+"/_security/user/ua", `{"password":"secret1","roles":["user_admin"]}`, su...), 200, "create ua on A")
	mustStatus(t, call(t, "PUT", a.url+"/_security/role/user_admin", `{"cluster":["manage_security"]}`, su...), 200, "role on A")
	ua := basic("ua:secret1")
	// B has applied the role once it has caught up with A's writes.
	eventually(t, "role put on A enforced on B", func() bool {
		return call(t, "GET", b.url+"/_security/user/ua", "", ua...).Status == 200
	})
	mustStatus(t, call(t, "PUT", b.url+"/_security/user/x", `{"password":"secret1","roles":[]}`, ua...), 200, "ua creates a user on B")

	mustStatus(t, call(t, "DELETE", b.url+"/_security/role/user_admin", "", su...), 200, "delete role on B")
	eventually(t, "role deleted on B revoked on A", func() bool {
		return call(t, "GET", a.url+"/_security/user/ua", "", ua...).Status == 403
	})
}

// eventually polls cond for up to two seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("%s: not after %s", what, time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%s after %s", what, time.Since(start))
}
