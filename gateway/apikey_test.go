package gateway

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseExpiration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"30d", 30 * 24 * time.Hour, ""},
		{"1h", time.Hour, ""},
		{"90m", 90 * time.Minute, ""},
		{"1s", time.Second, ""},
		{"1500ms", 1500 * time.Millisecond, ""},
		{"7D", 7 * 24 * time.Hour, ""},
		{"0", 0, ""},
		{"2w", 0, "unit is missing or unrecognized"},
		{"10", 0, "unit is missing or unrecognized"},
		{"d", 0, "unit is missing or unrecognized"},
		{"", 0, "unit is missing or unrecognized"},
		{"1.5h", 0, "fractional time values are not supported"},
		{"-1d", 0, "negative durations are not supported"},
		{"99999999999999999d", 0, "too large"},
	}
	for _, tt := range tests {
		got, err := parseExpiration(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("parseExpiration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseExpiration(%q) error %v, want %q", tt.in, err, tt.err)
		}
	}
}

func TestInvalidateAPIKeyRules(t *testing.T) {
	ids := func(s ...string) *[]string { return &s }
	str := func(s string) *string { return &s }
	tests := []struct {
		name string
		req  invalidateAPIKeyRequest
		err  string
	}{
		{"ids", invalidateAPIKeyRequest{IDs: ids("a", "b")}, ""},
		{"v7 id", invalidateAPIKeyRequest{ID: str("a")}, ""},
		{"name", invalidateAPIKeyRequest{Name: "k*"}, ""},
		{"owner", invalidateAPIKeyRequest{Owner: true}, ""},
		{"owner and ids", invalidateAPIKeyRequest{Owner: true, IDs: ids("a")}, ""},
		{"username and realm", invalidateAPIKeyRequest{Username: "u", RealmName: "r"}, ""},
		{"nothing", invalidateAPIKeyRequest{}, "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false;"},
		{"ids and username", invalidateAPIKeyRequest{IDs: ids("a"), Username: "u"}, "username or realm name must not be specified when the api key id(s) or api key name are specified"},
		{"owner and realm", invalidateAPIKeyRequest{Owner: true, RealmName: "r"}, "neither username nor realm-name may be specified when invalidating owned API keys"},
		{"ids and name", invalidateAPIKeyRequest{IDs: ids("a"), Name: "n"}, "only one of [api key id(s), api key name] can be specified"},
		{"empty ids", invalidateAPIKeyRequest{IDs: ids()}, "Field [ids] cannot be an empty array"},
		{"blank id", invalidateAPIKeyRequest{IDs: ids("a", " ")}, "Field [ids] must not contain blank id, but got blank id at index position: [1]"},
		{"id and ids", invalidateAPIKeyRequest{ID: str("a"), IDs: ids("a")}, "Must use either [id] or [ids], not both at the same time"},
		{"two problems", invalidateAPIKeyRequest{IDs: ids("a"), Name: "n", Owner: true, Username: "u"},
			"Validation Failed: 1: username or realm name must not be specified when the api key id(s) or api key name are specified;2: neither username nor realm-name may be specified when invalidating owned API keys;3: only one of"},
	}
	for _, tt := range tests {
		_, err := invalidateAPIKeyRules(tt.req)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.err)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	for _, tt := range []struct {
		pattern, s string
		want       bool
	}{
		{"my-app-key", "my-app-key", true}, {"my-*", "my-app-key", true}, {"*key", "my-app-key", true},
		{"*app*", "my-app-key", true}, {"*", "", true}, {"my-*-key", "my-key", false}, {"my", "my-app-key", false},
		{"a*b*c", "abc", true}, {"a*b*c", "acb", false},
	} {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v", tt.pattern, tt.s, got)
		}
	}
}

// apiKeyCall sends a request with a body and Authorization header and
// decodes a JSON answer.
func apiKeyCall(t *testing.T, method, url, auth, body string) (int, map[string]any, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := do(t, method, url, rd, "", "Authorization", auth, "Content-Type", "application/json")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m, string(b)
}

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// TestAPIKeys: create, use, list and invalidate API keys; a key's
// privileges are its descriptors intersected with the snapshot of its
// owner's roles taken at creation (Elasticsearch's limited_by); each
// failure is Elasticsearch's 401.
func TestAPIKeys(t *testing.T) {
	rc := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(rc.handler))
	defer up.Close()
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	tg := newTestGateway(t, up.URL, func(c *Config) { c.Now = func() time.Time { return time.Unix(0, clock.Load()) } })
	admin := basic("admin", "admin-pw")
	mustStatus := func(want int, method, path, auth, body string) map[string]any {
		t.Helper()
		got, m, raw := apiKeyCall(t, method, tg.url+path, auth, body)
		if got != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, got, raw, want)
		}
		return m
	}
	mustStatus(200, "PUT", "/_security/role/app_role", admin,
		`{"cluster":["manage_own_api_key"],"indices":[{"names":["app-data-*"],"privileges":["read"]}]}`)
	mustStatus(200, "PUT", "/_security/user/app", admin, `{"password":"app-password","roles":["app_role"]}`)
	app := basic("app", "app-password")

	created := mustStatus(200, "POST", "/_security/api_key", app,
		`{"name":"my-app-key","expiration":"30d","metadata":{"team":"a"},"role_descriptors":{"my-app-role":{"cluster":["monitor"],"indices":[{"names":["app-data-*"],"privileges":["read","write"]}]}}}`)
	id, key, encoded := created["id"].(string), created["api_key"].(string), created["encoded"].(string)
	if len(id) != 20 || len(key) != 22 || encoded != base64.StdEncoding.EncodeToString([]byte(id+":"+key)) || created["name"] != "my-app-key" {
		t.Fatalf("create answer %v", created)
	}
	if exp, _ := created["expiration"].(float64); int64(exp) != time.Unix(0, clock.Load()).Add(30*24*time.Hour).UnixMilli() {
		t.Fatalf("expiration %v", created["expiration"])
	}
	apiKey := "ApiKey " + encoded

	// The intersection: the key may read and write, its owner only read.
	mustStatus(200, "GET", "/app-data-x/_search", apiKey, "")
	if o := tg.out.last(); o.APIKeyID != id || o.Realm != "_es_api_key" || o.AuthType != "api_key" || o.User != "app" {
		t.Fatalf("outcome %+v", o)
	}
	m := mustStatus(403, "PUT", "/app-data-x/_doc/1", apiKey, `{"a":1}`)
	if !strings.Contains(m["error"].(map[string]any)["reason"].(string), "is unauthorized for API key id ["+id+"] of user [app] on indices [app-data-x]") {
		t.Fatalf("403 %v", m)
	}
	mustStatus(403, "GET", "/other/_search", apiKey, "")
	// The key may ask who it is, but not change its owner's password.
	who := mustStatus(200, "GET", "/_security/_authenticate", apiKey, "")
	if who["username"] != "app" || who["authentication_type"] != "api_key" || who["api_key"].(map[string]any)["id"] != id {
		t.Fatalf("_authenticate %v", who)
	}
	mustStatus(403, "POST", "/_security/user/_password", apiKey, `{"password":"hijacked"}`)

	// A key whose descriptors grant less than its owner narrows the owner.
	narrow := mustStatus(200, "POST", "/_security/api_key", app, `{"name":"narrow","role_descriptors":{"r":{"indices":[{"names":["app-data-1"],"privileges":["read"]}]}}}`)
	if _, ok := narrow["expiration"]; ok {
		t.Fatalf("expiration without one: %v", narrow)
	}
	narrowKey := "ApiKey " + narrow["encoded"].(string)
	mustStatus(200, "GET", "/app-data-1/_search", narrowKey, "")
	mustStatus(403, "GET", "/app-data-2/_search", narrowKey, "")
	// A key without descriptors has its owner's privileges as they were
	// when it was created.
	plain := mustStatus(200, "PUT", "/_security/api_key", app, `{"name":"plain"}`)
	plainKey := "ApiKey " + plain["encoded"].(string)
	mustStatus(200, "GET", "/app-data-2/_search", plainKey, "")
	mustStatus(403, "PUT", "/app-data-2/_doc/1", plainKey, `{}`)
	// The snapshot: the owner's role grows, the keys do not.
	mustStatus(200, "PUT", "/_security/role/app_role", admin,
		`{"cluster":["manage_own_api_key"],"indices":[{"names":["app-data-*","more-*"],"privileges":["read","write"]}]}`)
	mustStatus(200, "PUT", "/app-data-2/_doc/1", app, `{}`)
	mustStatus(403, "PUT", "/app-data-2/_doc/1", plainKey, `{}`)
	mustStatus(403, "GET", "/more-1/_search", plainKey, "")
	mustStatus(200, "GET", "/app-data-2/_search", plainKey, "")
	// A key created now is limited by the new definition.
	later := mustStatus(200, "POST", "/_security/api_key", app, `{"name":"later"}`)
	mustStatus(200, "GET", "/more-1/_search", "ApiKey "+later["encoded"].(string), "")
	// The role shrinks: the old keys keep what their snapshot holds.
	mustStatus(200, "PUT", "/_security/role/app_role", admin, `{"cluster":["manage_own_api_key"]}`)
	mustStatus(200, "GET", "/app-data-2/_search", plainKey, "")
	mustStatus(403, "GET", "/app-data-2/_search", app, "")

	// Failures: Elasticsearch's 401 with additional_unsuccessful_credentials.
	fail := func(auth, why string) {
		t.Helper()
		m := mustStatus(401, "GET", "/app-data-x/_search", auth, "")
		e := m["error"].(map[string]any)
		if e["reason"] != reasonCredentials || e["additional_unsuccessful_credentials"] != "API key: "+why {
			t.Fatalf("401 %v, want %q", m, why)
		}
		rcause := e["root_cause"].([]any)[0].(map[string]any)
		if rcause["additional_unsuccessful_credentials"] != "API key: "+why {
			t.Fatalf("root cause %v", rcause)
		}
	}
	fail("ApiKey "+base64.StdEncoding.EncodeToString([]byte(id+":"+strings.Repeat("x", 22))), "invalid credentials for API key ["+id+"]")
	fail("ApiKey "+base64.StdEncoding.EncodeToString([]byte("nosuchkeyid:"+key)), "unable to find apikey with id nosuchkeyid")

	// Listing: manage_own_api_key sees its own keys only when it asks for them.
	mustStatus(403, "GET", "/_security/api_key?id="+id, app, "")
	own := mustStatus(200, "GET", "/_security/api_key?owner=true", app, "")
	if n := len(own["api_keys"].([]any)); n != 4 {
		t.Fatalf("owner=true: %d keys", n)
	}
	got := mustStatus(200, "GET", "/_security/api_key?id="+id, admin, "")["api_keys"].([]any)
	if len(got) != 1 {
		t.Fatalf("by id: %v", got)
	}
	k := got[0].(map[string]any)
	if k["invalidated"] != false || k["expiration"] == nil || k["username"] != "app" || k["realm"] != "default_native" || k["type"] != "rest" ||
		k["role_descriptors"].(map[string]any)["my-app-role"] == nil || k["metadata"].(map[string]any)["team"] != "a" {
		t.Fatalf("key %v", k)
	}
	if _, ok := k["limited_by"]; ok {
		t.Fatalf("limited_by without with_limited_by: %v", k)
	}
	lb := mustStatus(200, "GET", "/_security/api_key?with_limited_by=true&id="+id, admin, "")["api_keys"].([]any)[0].(map[string]any)["limited_by"].([]any)
	if role, ok := lb[0].(map[string]any)["app_role"].(map[string]any); !ok || role["cluster"].([]any)[0] != "manage_own_api_key" {
		t.Fatalf("limited_by %v", lb)
	}
	mustStatus(400, "GET", "/_security/api_key?with_limited_by=maybe", admin, "")
	if n := len(mustStatus(200, "GET", "/_security/api_key?name=my-*", admin, "")["api_keys"].([]any)); n != 1 {
		t.Fatalf("name=my-*: %d", n)
	}
	mustStatus(400, "GET", "/_security/api_key?owner=true&username=app", admin, "")

	// Expiry, with the clock.
	short := mustStatus(200, "POST", "/_security/api_key", app, `{"name":"short","expiration":"1s"}`)
	shortKey := "ApiKey " + short["encoded"].(string)
	mustStatus(200, "GET", "/_security/_authenticate", shortKey, "")
	clock.Add(int64(1500 * time.Millisecond))
	fail(shortKey, "api key is expired")
	if n := len(mustStatus(200, "GET", "/_security/api_key?owner=true&active_only=true", app, "")["api_keys"].([]any)); n != 4 {
		t.Fatalf("active_only: %d keys", n)
	}
	// Listed until its retention has passed, then swept, as Elasticsearch
	// deletes it: unknown from then on.
	shortID := short["id"].(string)
	if n := len(mustStatus(200, "GET", "/_security/api_key?id="+shortID, admin, "")["api_keys"].([]any)); n != 1 {
		t.Fatalf("expired key listed %d times within its retention", n)
	}
	tg.state.mu.Lock()
	swept := tg.state.model.SweepAPIKeys(time.Unix(0, clock.Load()), 0, 0)
	tg.state.mu.Unlock()
	if swept != 1 {
		t.Fatalf("swept %d keys, want the expired one", swept)
	}
	if n := len(mustStatus(200, "GET", "/_security/api_key?id="+shortID, admin, "")["api_keys"].([]any)); n != 0 {
		t.Fatalf("swept key still listed")
	}
	fail(shortKey, "unable to find apikey with id "+shortID)
	mustStatus(200, "GET", "/app-data-2/_search", plainKey, "") // the others are untouched

	// Invalidation.
	mustStatus(400, "DELETE", "/_security/api_key", app, `{}`)
	mustStatus(403, "DELETE", "/_security/api_key", app, `{"ids":["`+id+`"]}`)
	inv := mustStatus(200, "DELETE", "/_security/api_key", app, `{"ids":["`+id+`"],"owner":true}`)
	if ids := inv["invalidated_api_keys"].([]any); len(ids) != 1 || ids[0] != id || inv["error_count"] != float64(0) {
		t.Fatalf("invalidate %v", inv)
	}
	fail(apiKey, "api key has been invalidated")
	again := mustStatus(200, "DELETE", "/_security/api_key", admin, `{"ids":["`+id+`"]}`)
	if ids := again["previously_invalidated_api_keys"].([]any); len(ids) != 1 || len(again["invalidated_api_keys"].([]any)) != 0 {
		t.Fatalf("invalidate again %v", again)
	}
	// The owner loses its role: its keys keep their snapshot, as in
	// Elasticsearch.
	mustStatus(200, "PUT", "/_security/user/app", admin, `{"roles":[]}`)
	mustStatus(200, "GET", "/app-data-1/_search", narrowKey, "")
	mustStatus(403, "GET", "/app-data-2/_search", narrowKey, "")
	// The owner is disabled: its keys stop authenticating.
	mustStatus(200, "PUT", "/_security/user/app/_disable", admin, "")
	mustStatus(401, "GET", "/app-data-1/_search", plainKey, "")

	// No secret in outcomes or logs.
	for _, o := range tg.out.list {
		if b, _ := json.Marshal(o); strings.Contains(string(b), key) || strings.Contains(string(b), encoded) {
			t.Fatalf("outcome holds the secret: %s", b)
		}
	}
	if strings.Contains(tg.logs.String(), key) {
		t.Fatal("logs hold the secret")
	}
}

// TestAPIKeyCreateRefuses: Elasticsearch's validation of a create request.
func TestAPIKeyCreateRefuses(t *testing.T) {
	tg := newTestGateway(t, "http://127.0.0.1:1")
	admin := basic("admin", "admin-pw")
	for _, c := range []struct{ body, want string }{
		{`{}`, "Validation Failed: 1: api key name is required;"},
		{`{"name":""}`, "api key name is required"},
		{`{"name":"` + strings.Repeat("n", 257) + `"}`, "may not be more than 256 characters long"},
		{`{"name":"k","expiration":"2w"}`, "failed to parse setting [expiration] with value [2w] as a time value: unit is missing or unrecognized"},
		{`{"name":"k","role_descriptors":{"r":{"cluster":["bogus"]}}}`, "unknown cluster privilege [bogus]"},
		{`{"name":"k","role_descriptors":{"r":{"indices":[{"names":["a"],"privileges":["read"],"query":"{}"}]}}}`, "unknown field [query]"},
		{`{"name":"k","metadata":[]}`, "field [metadata] must be an object"},
		{`{"name":"k","bogus":1}`, "unknown field [bogus]"},
	} {
		got, _, raw := apiKeyCall(t, "POST", tg.url+"/_security/api_key", admin, c.body)
		if got != 400 || !strings.Contains(raw, c.want) {
			t.Errorf("%s: %d %s, want 400 %q", c.body, got, raw, c.want)
		}
	}
	// The reader has no API key privilege.
	if got, _, raw := apiKeyCall(t, "POST", tg.url+"/_security/api_key", basic("reader", "reader-pw"), `{"name":"k"}`); got != 403 {
		t.Errorf("reader: %d %s", got, raw)
	}
	// A role named like a key's descriptor role is refused.
	if got, _, raw := apiKeyCall(t, "PUT", tg.url+"/_security/role/_apikey%2Fx%2Fy", admin, `{"cluster":["all"]}`); got != 400 {
		t.Errorf("role _apikey/x/y: %d %s", got, raw)
	}
}

func TestUserRolesDropsAPIKeyRoles(t *testing.T) {
	in := []string{"a", "b"}
	if got := userRoles(in); &got[0] != &in[0] {
		t.Error("userRoles copied a clean list")
	}
	if got := userRoles([]string{"a", "_apikey/k/r", "b", "_apikey/k/s"}); strings.Join(got, ",") != "a,b" {
		t.Errorf("userRoles = %v", got)
	}
}

// FuzzAPIKeyBodies: create and invalidate bodies are untrusted input. The
// parsers answer a 400 client error or a value, never panic, and an
// accepted expiration is never negative.
func FuzzAPIKeyBodies(f *testing.F) {
	for _, s := range []string{
		`{"name":"my-app-key","expiration":"30d","role_descriptors":{"r":{"cluster":["monitor"],"indices":[{"names":["a-*"],"privileges":["read"]}]}}}`,
		`{"ids":["a"],"owner":true}`, `{"name":"k","expiration":"-1d"}`, `{"role_descriptors":{"":{}}}`, `{"ids":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var cr createAPIKeyRequest
		if decodeStrict(b, &cr) == nil {
			if cr.Expiration != nil {
				if d, err := parseExpiration(*cr.Expiration); err == nil && d < 0 {
					t.Fatalf("negative expiration %v from %q", d, *cr.Expiration)
				} else if err != nil {
					if ce, ok := err.(*clientError); !ok || ce.status != 400 {
						t.Fatalf("expiration error %T %v", err, err)
					}
				}
			}
			if cr.RoleDescriptors != nil {
				if _, err := roleDescriptors(cr.RoleDescriptors); err != nil {
					var ce *clientError
					if !errors.As(err, &ce) || ce.status != 400 {
						t.Fatalf("role descriptors error %T %v", err, err)
					}
				}
			}
		}
		var ir invalidateAPIKeyRequest
		if decodeStrict(b, &ir) == nil {
			if _, err := invalidateAPIKeyRules(ir); err != nil {
				if ce, ok := err.(*clientError); !ok || ce.status != 400 {
					t.Fatalf("invalidate error %T %v", err, err)
				}
			}
		}
	})
}
