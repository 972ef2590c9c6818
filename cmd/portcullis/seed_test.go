package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// TestSeedCodelibs runs every curl command of the codelibs README
// (shared/seeds/001) against a gateway, with the documented departures:
// management calls carry the superuser's credentials (deny by default), and
// /aaa_search is not covered by the constraint /aaa (segment-aware paths).
func TestSeedCodelibs(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up)
	su := basic(elasticAuth)

	// Create User
	r := call(t, "PUT", n.url+"/_auth/account", `{
    "authenticator" : "index",
    "username" : "testuser",
    "password" : "test123",
    "roles" : ["user", "admin"]
}`, su...)
	mustStatus(t, r, 200, "create user")
	if r.json(t)["status"] != float64(200) {
		t.Fatalf("create user answer %s", r.Body)
	}

	// Update User
	r = call(t, "POST", n.url+"/_auth/account", `{
    "authenticator" : "index",
    "username" : "testuser",
    "password" : "test321",
    "roles" : ["user"]
}`, su...)
	mustStatus(t, r, 200, "update user")

	// Content Constraints: admin GET/POST /aaa, user GET /bbb.
	r = call(t, "POST", n.url+"/security/constraint/", `{
    "authenticator" : "index",
    "paths" : ["/aaa"],
    "methods" : ["get", "post"],
    "roles" : ["admin"]
}`, su...)
	mustStatus(t, r, 200, "constraint /aaa")
	aaaID, _ := r.json(t)["id"].(string)
	if aaaID == "" {
		t.Fatalf("constraint answer has no id: %s", r.Body)
	}
	r = call(t, "POST", n.url+"/security/constraint/", `{
    "authenticator" : "index",
    "paths" : ["/bbb"],
    "methods" : ["get"],
    "roles" : ["user"]
}`, su...)
	mustStatus(t, r, 200, "constraint /bbb")

	// Reload Configuration
	r = call(t, "POST", n.url+"/_auth/reload", "", su...)
	mustStatus(t, r, 200, "reload")

	// Login with the updated password; the old one is refused.
	r = call(t, "POST", n.url+"/login", `{
    "username" : "testuser",
    "password" : "test123"
}`)
	mustStatus(t, r, 401, "login with the old password")
	r = call(t, "POST", n.url+"/login", `{
    "username" : "testuser",
    "password" : "test321"
}`)
	mustStatus(t, r, 200, "login")
	ans := r.json(t)
	token, _ := ans["token"].(string)
	if ans["status"] != float64(200) || token == "" {
		t.Fatalf("login answer %s", r.Body)
	}

	// testuser now has role user only: GET /bbb allowed, /aaa denied.
	r = call(t, "GET", n.url+"/bbb/_search?q=*:*&token="+token, "")
	mustStatus(t, r, 200, "GET /bbb/_search with token parameter")
	got := up.last(t)
	if got.URI != "/bbb/_search?q=*:*" {
		t.Fatalf("upstream got %q, want the token parameter removed", got.URI)
	}
	r = call(t, "GET", n.url+"/aaa/_search?q=*:*&token="+token, "")
	mustStatus(t, r, 403, "GET /aaa/_search as role user")
	if !strings.Contains(string(r.Body), `"type":"security_exception"`) || !strings.Contains(string(r.Body), "testuser") {
		t.Fatalf("403 body %s", r.Body)
	}
	r = call(t, "POST", n.url+"/bbb/_search", `{}`, "Cookie", "eaid="+token, "Content-Type", "application/json")
	mustStatus(t, r, 403, "POST /bbb as role user (constraint allows get only)")

	// Make testuser admin again: the role change applies to the existing token.
	r = call(t, "POST", n.url+"/_auth/account", `{"username":"testuser","roles":["user","admin"]}`, su...)
	mustStatus(t, r, 200, "role change")
	r = call(t, "GET", n.url+"/aaa/_search?q=*:*&token="+token, "")
	mustStatus(t, r, 200, "GET /aaa/_search with token after role change")
	// The seed's own URL, /aaa_search: not covered by /aaa (segment-aware).
	r = call(t, "GET", n.url+"/aaa_search?q=*:*&token="+token, "")
	mustStatus(t, r, 403, "GET /aaa_search (segment-aware departure)")
	// Cookie form.
	r = call(t, "GET", n.url+"/aaa/_search?q=*:*", "", "Cookie", "eaid="+token)
	mustStatus(t, r, 200, "GET /aaa/_search with eaid cookie")
	if c := up.last(t).Header.Get("Cookie"); strings.Contains(c, token) || strings.Contains(c, "eaid") {
		t.Fatalf("eaid cookie forwarded upstream: %q", c)
	}
	// Bearer form, and methods compare case-insensitively (constraint says "post").
	r = call(t, "POST", n.url+"/aaa/_search", `{}`, "Authorization", "Bearer "+token, "Content-Type", "application/json")
	mustStatus(t, r, 200, "POST /aaa/_search with Bearer")
	if h := up.last(t).Header.Get("Authorization"); h != "" {
		t.Fatalf("Authorization forwarded upstream: %q", h)
	}
	if h := up.last(t).Header.Get("X-Opaque-Id"); h == "" {
		t.Fatal("X-Opaque-Id not set upstream")
	}
	if h := up.last(t).Header.Get("X-Forwarded-For"); h != "127.0.0.1" {
		t.Fatalf("X-Forwarded-For upstream = %q", h)
	}
	// Basic works too, with the current password only.
	r = call(t, "GET", n.url+"/aaa/x", "", basic("testuser:test321")...)
	mustStatus(t, r, 200, "Basic with the current password")
	r = call(t, "GET", n.url+"/aaa/x", "", basic("testuser:test123")...)
	mustStatus(t, r, 401, "Basic with the old password")

	// Logout
	r = call(t, "POST", n.url+"/logout?token="+token, "")
	mustStatus(t, r, 200, "logout")
	r = call(t, "GET", n.url+"/aaa/_search?q=*:*&token="+token, "")
	mustStatus(t, r, 401, "token after logout")

	// Delete User: its Basic credentials and tokens stop working.
	r = call(t, "POST", n.url+"/login", `{"username":"testuser","password":"test321"}`)
	mustStatus(t, r, 200, "login again")
	token2, _ := r.json(t)["token"].(string)
	r = call(t, "DELETE", n.url+"/_auth/account", `{
    "authenticator" : "index",
    "username" : "testuser"
}`, su...)
	mustStatus(t, r, 200, "delete user")
	r = call(t, "GET", n.url+"/aaa/x?token="+token2, "")
	mustStatus(t, r, 401, "token of a deleted user")
	r = call(t, "GET", n.url+"/aaa/x", "", basic("testuser:test321")...)
	mustStatus(t, r, 401, "Basic of a deleted user")
	// Re-creating the user does not resurrect the old token.
	r = call(t, "PUT", n.url+"/_auth/account", `{"username":"testuser","password":"test321","roles":["admin"]}`, su...)
	mustStatus(t, r, 200, "re-create user")
	r = call(t, "GET", n.url+"/aaa/x?token="+token2, "")
	mustStatus(t, r, 401, "old token after re-creation")

	// The constraint list and the generated policy show what is enforced.
	r = call(t, "GET", n.url+"/security/constraint/", "", su...)
	mustStatus(t, r, 200, "list constraints")
	if !strings.Contains(string(r.Body), aaaID) {
		t.Fatalf("constraint list lacks %s: %s", aaaID, r.Body)
	}
	r = call(t, "GET", n.url+"/security/constraint/_policy", "", su...)
	mustStatus(t, r, 200, "generated policy")
	if !strings.Contains(string(r.Body), aaaID) || !strings.Contains(string(r.Body), "package ") {
		t.Fatalf("generated policy does not show constraint %s:\n%s", aaaID, r.Body)
	}
	r = call(t, "DELETE", n.url+"/security/constraint/"+aaaID, "", su...)
	mustStatus(t, r, 200, "delete constraint")
	r = call(t, "GET", n.url+"/aaa/x", "", basic("testuser:test321")...)
	mustStatus(t, r, 403, "after the constraint was deleted")
	r = call(t, "DELETE", n.url+"/security/constraint/"+aaaID, "", su...)
	mustStatus(t, r, 404, "delete a deleted constraint")
}

// TestUnauthenticated checks Elasticsearch's 401 shape and that the seed's
// management commands without credentials are refused (deny by default).
func TestUnauthenticated(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up)
	r := call(t, "GET", n.url+"/_cluster/settings/", "")
	mustStatus(t, r, 401, "no credentials")
	if got := r.Header.Values("WWW-Authenticate"); strings.Join(got, "|") != `Basic realm="security", charset="UTF-8"|Bearer realm="security"|ApiKey` {
		t.Fatalf("WWW-Authenticate = %q", got)
	}
	want := `{"error":{"root_cause":[{"type":"security_exception","reason":"missing authentication credentials for REST request [/_cluster/settings]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}],"type":"security_exception","reason":"missing authentication credentials for REST request [/_cluster/settings]","header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}},"status":401}`
	if string(r.Body) != want {
		t.Fatalf("401 body\n got %s\nwant %s", r.Body, want)
	}
	r = call(t, "PUT", n.url+"/_auth/account", `{"username":"x","password":"secret1","roles":["admin"]}`)
	mustStatus(t, r, 401, "create account without credentials")
	r = call(t, "GET", n.url+"/", "", basic("elastic:wrong-password")...)
	mustStatus(t, r, 401, "wrong password")
	if !strings.Contains(string(r.Body), "unable to authenticate user [elastic] for REST request [/]") {
		t.Fatalf("401 reason: %s", r.Body)
	}
	r = call(t, "GET", n.url+"/?token=not-a-token", "")
	mustStatus(t, r, 401, "malformed token")
	r = call(t, "GET", n.url+"/", "", "Authorization", "Digest abc")
	mustStatus(t, r, 401, "unsupported scheme")
	if len(up.seen()) != 0 {
		t.Fatalf("unauthenticated requests reached the upstream: %+v", up.seen())
	}
	// Health needs no credentials.
	r = call(t, "GET", n.url+"/_portcullis/health", "")
	mustStatus(t, r, 200, "health")
}

// TestManagementErrors: bad input answers 400/404/409 with a reason, never
// a 500.
func TestManagementErrors(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up)
	su := basic(elasticAuth)
	cases := []struct {
		method, path, body string
		status             int
		reason             string
	}{
		{"PUT", "/_auth/account", ``, 400, "request body is required"},
		{"PUT", "/_auth/account", `{`, 400, "failed to parse request body"},
		{"PUT", "/_auth/account", `[]`, 400, "failed to parse request body"},
		{"PUT", "/_auth/account", `{"username":"a"}`, 400, "field [password] is required"},
		{"PUT", "/_auth/account", `{"password":"secret1"}`, 400, "field [username] is required"},
		{"PUT", "/_auth/account", `{"username":"a","password":"short"}`, 400, "at least [6] characters"},
		{"PUT", "/_auth/account", `{"username":"a","password":"secret1","roles":"admin"}`, 400, "field [roles] must be of type array"},
		{"PUT", "/_auth/account", `{"username":"a","password":"secret1","colour":"red"}`, 400, "unknown field [colour]"},
		{"PUT", "/_auth/account", `{"username":"a","username":"b","password":"secret1"}`, 400, "duplicate field [username]"},
		{"PUT", "/_auth/account", `{"authenticator":"ldap","username":"a","password":"secret1"}`, 400, "unknown authenticator"},
		{"PUT", "/_auth/account", `{"username":"elastic","password":"secret1"}`, 409, "already exists"},
		{"POST", "/_auth/account", `{"username":"nobody","roles":["x"]}`, 404, "account [nobody] not found"},
		{"POST", "/_auth/account", `{"username":"elastic"}`, 400, "nothing to update"},
		{"DELETE", "/_auth/account", `{"username":"nobody"}`, 404, "not found"},
		{"GET", "/_auth/account", ``, 405, "Incorrect HTTP method"},
		{"POST", "/security/constraint/", `{"paths":[],"methods":["get"],"roles":["a"]}`, 400, "invalid constraint"},
		{"POST", "/security/constraint/", `{"paths":["aaa"],"methods":["get"],"roles":["a"]}`, 400, "invalid constraint"},
		{"POST", "/security/constraint/", `{"paths":["/aaa"],"methods":["fetch"],"roles":["a"]}`, 400, "invalid constraint"},
		{"POST", "/security/constraint/", `{"paths":["/aaa"],"methods":["get"]}`, 400, "invalid constraint"},
		{"GET", "/security/constraint/nope", ``, 404, "constraint [nope] not found"},
		{"DELETE", "/security/constraint/nope", ``, 404, "constraint [nope] not found"},
		{"POST", "/login", `{"username":"elastic"}`, 400, "required"},
		{"POST", "/login", `not json`, 400, "failed to parse request body"},
		{"POST", "/login", `{"username":"nobody","password":"whatever"}`, 401, "unable to authenticate user [nobody]"},
		{"POST", "/logout", ``, 400, "logout needs the login token"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			hdr := su
			if c.path == "/login" {
				hdr = nil
			}
			r := call(t, c.method, n.url+c.path, c.body, hdr...)
			if r.Status != c.status || !strings.Contains(string(r.Body), c.reason) {
				t.Fatalf("got %d %s, want %d containing %q", r.Status, r.Body, c.status, c.reason)
			}
		})
	}
	// A user without manage_security may not manage.
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"u1","password":"secret1","roles":["admin"]}`, su...), 200, "create u1")
	r := call(t, "PUT", n.url+"/_auth/account", `{"username":"u2","password":"secret1","roles":["superuser"]}`, basic("u1:secret1")...)
	mustStatus(t, r, 403, "u1 creates an account")
	if !strings.Contains(string(r.Body), "action [cluster:admin/xpack/security/user/put] is unauthorized for user [u1] with effective roles [admin]") {
		t.Fatalf("403 reason: %s", r.Body)
	}
}

// TestPathTricks: dot segments, encoded slashes and duplicate slashes never
// reach a path the policy did not allow; what is forwarded is the path
// that was checked.
func TestPathTricks(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up)
	su := basic(elasticAuth)
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"alice","password":"secret1","roles":["reader"]}`, su...), 200, "create alice")
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/aaa"],"methods":["GET"],"roles":["reader"]}`, su...), 200, "constraint")
	alice := basic("alice:secret1")

	denied := []string{
		"/aaa/../bbb", "/aaa/%2e%2e/bbb", "/aaa/%2E%2E/bbb", "/aaa/.%2e/bbb", "/aaa%2F..%2Fbbb",
		"/aaa%2fbbb", "/aaab", "/AAA", "/bbb//aaa", "/aaa/../../aaa/../bbb", "/%2faaa",
	}
	for _, p := range denied {
		r := rawCall(t, n.url, "GET", p, alice...)
		if r.Status != 403 && r.Status != 400 {
			t.Errorf("GET %s: status %d, want 403 or 400; body %s", p, r.Status, r.Body)
		}
	}
	if s := up.seen(); len(s) != 0 {
		t.Fatalf("denied paths reached the upstream: %+v", s)
	}
	allowed := map[string]string{
		"/aaa":                   "/aaa",
		"//aaa":                  "/aaa",
		"/aaa//x///y/":           "/aaa/x/y",
		"/aaa/./x":               "/aaa/x",
		"/bbb/../aaa/x":          "/aaa/x",
		"/%61aa/_search?q=a%20b": "/aaa/_search?q=a%20b",
		"/aaa/_doc/a%2Fb":        "/aaa/_doc/a%2Fb",
	}
	for in, want := range allowed {
		r := rawCall(t, n.url, "GET", in, alice...)
		if r.Status != 200 {
			t.Errorf("GET %s: status %d; body %s", in, r.Status, r.Body)
			continue
		}
		if got := up.last(t).URI; got != want {
			t.Errorf("GET %s forwarded as %q, want %q", in, got, want)
		}
	}
	for _, s := range up.seen() {
		if s.URI != "/aaa" && !strings.HasPrefix(s.URI, "/aaa/") {
			t.Errorf("upstream reached outside /aaa: %q", s.URI)
		}
	}
}

// TestTokenTTL: a token is refused once its TTL passed.
func TestTokenTTL(t *testing.T) {
	up := newUpstream(t)
	n := startNode(t, up, withTokenTTL(time.Second))
	su := basic(elasticAuth)
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"bob","password":"secret1","roles":["r"]}`, su...), 200, "create bob")
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/"],"methods":["*"],"roles":["r"]}`, su...), 200, "constraint")
	r := call(t, "POST", n.url+"/login", `{"username":"bob","password":"secret1"}`)
	mustStatus(t, r, 200, "login")
	tok := r.json(t)["token"].(string)
	mustStatus(t, call(t, "GET", n.url+"/x?token="+tok, ""), 200, "fresh token")
	time.Sleep(1200 * time.Millisecond)
	mustStatus(t, call(t, "GET", n.url+"/x?token="+tok, ""), 401, "expired token")
}

// TestBootstrapRandomPassword: without PORTCULLIS_BOOTSTRAP_PASSWORD the
// first start prints a random password for elastic, once; it works, and a
// second replica on the same cluster prints nothing.
func TestBootstrapRandomPassword(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	a := startNodeEnv(t, up, nil, withNATSListen(natsAddr))
	var out string
	i := -1
	for start := time.Now(); i < 0 && time.Since(start) < 10*time.Second; time.Sleep(10 * time.Millisecond) {
		out = a.out.String()
		i = strings.Index(out, "with the password:")
	}
	if i < 0 {
		t.Fatalf("no password printed: %q", out)
	}
	pw := strings.Fields(out[i+len("with the password:"):])[0]
	if len(pw) < 20 {
		t.Fatalf("printed password %q is too short", pw)
	}
	mustStatus(t, call(t, "GET", a.url+"/_cluster/health", "", basic("elastic:"+pw)...), 200, "elastic with the printed password")
	b := startNodeEnv(t, up, nil, withNATSURL("nats://"+natsAddr))
	if strings.Contains(b.out.String(), "password") {
		t.Fatalf("second replica printed a password: %q", b.out.String())
	}
	mustStatus(t, call(t, "GET", b.url+"/_cluster/health", "", basic("elastic:"+pw)...), 200, "elastic on the second replica")
	// The bootstrap is in the audit trail, once.
	changes := changesIn(t, connectJS(t, "nats://"+natsAddr, nats.UserInfo("portcullis", "nats-secret")), 1)
	if len(changes) != 1 || changes[0].Path != "/_security/user/elastic" || changes[0].Principal != systemPrincipal ||
		changes[0].ESAction != "cluster:admin/xpack/security/user/put" || strings.Contains(changes[0].Reason, pw) {
		t.Fatalf("bootstrap recorded %+v, want one security_config_change creating elastic", changes)
	}
}

// TestAnonymousAccess: Elasticsearch's anonymous user, both answers of
// authz_exception, and the anonymous_access_denied outcome.
func TestAnonymousAccess(t *testing.T) {
	for _, authzException := range []bool{true, false} {
		t.Run(fmt.Sprintf("authz_exception=%v", authzException), func(t *testing.T) {
			up := newUpstream(t)
			n := startNode(t, up, func(c *Config) {
				c.Authc.Anonymous = AnonymousConfig{Username: "anonymous_user", Roles: stringList{"reader_role"}, AuthzException: authzException}
			})
			mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/public"],"methods":["get"],"roles":["reader_role"]}`, basic(elasticAuth)...), 200, "constraint")
			mustStatus(t, call(t, "GET", n.url+"/public/_search", ""), 200, "anonymous read of /public")
			r := call(t, "GET", n.url+"/private/_search", "")
			if authzException {
				mustStatus(t, r, 403, "anonymous read of /private")
				if !strings.Contains(string(r.Body), "is unauthorized for user [anonymous_user] with effective roles [reader_role]") || r.Header.Get("WWW-Authenticate") != "" {
					t.Fatalf("403 answer: %v %s", r.Header, r.Body)
				}
			} else {
				mustStatus(t, r, 401, "anonymous read of /private")
				if !strings.Contains(string(r.Body), "action [indices:data/read/search] requires authentication") || len(r.Header.Values("WWW-Authenticate")) != 3 {
					t.Fatalf("401 answer: %v %s", r.Header, r.Body)
				}
			}
			// Management stays closed to the anonymous user.
			r = call(t, "PUT", n.url+"/_auth/account", `{"username":"x","password":"secret1"}`)
			if r.Status != 403 && r.Status != 401 {
				t.Fatalf("anonymous account creation: %d", r.Status)
			}
			// The anonymous user has no account to change, and none may be
			// created under its name.
			mustStatus(t, call(t, "PUT", n.url+"/_security/user/anonymous_user", `{"password":"secret1","roles":["superuser"]}`, basic(elasticAuth)...), 400, "account named as the anonymous user")
			r = call(t, "POST", n.url+"/_security/user/anonymous_user/_password", `{"password":"attacker-pw"}`)
			if r.Status != 403 && r.Status != 401 {
				t.Fatalf("anonymous password change: %d %s", r.Status, r.Body)
			}
			// Wrong credentials are still a 401, not the anonymous user.
			mustStatus(t, call(t, "GET", n.url+"/public/_search", "", basic("elastic:wrong")...), 401, "wrong password")

			ctx := context.Background()
			s, err := n.app.js.Stream(ctx, events.StreamAuth)
			if err != nil {
				t.Fatal(err)
			}
			var msgErr error
			for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
				var m *jetstream.RawStreamMsg
				if m, msgErr = s.GetLastMsgForSubject(ctx, events.AuthSubject(events.ActionAnonymousAccessDenied)); msgErr == nil {
					if !strings.Contains(string(m.Data), `"user":"anonymous_user"`) {
						t.Fatalf("anonymous_access_denied event: %s", m.Data)
					}
					return
				}
			}
			t.Fatalf("no anonymous_access_denied outcome published: %v", msgErr)
		})
	}
}
