package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/auditor/auditortest"
)

// TestSeed000 walks shared/seeds/000 claim by claim through the gateway in
// front of a real Elasticsearch, with the auditor on: Basic (curl -u and the
// explicit header) and the article's API key succeed; the key's id or raw
// secret instead of encoded, no credentials, a wrong password, an expired
// and an invalidated key are 401s with Elasticsearch's exact bodies and
// headers; GET /_security/api_key?id= shows expiration and invalidated; the
// anonymous user answers 403 or 401 as authz_exception says; and the
// article's audit query finds this test's authentication_failed documents.
func TestSeed000(t *testing.T) {
	es := auditortest.ESURL(t)
	n := startNode(t, nil, withUpstreamURL(es), withAudit(es))
	run := rand.Uint32()
	idx := fmt.Sprintf("app-data-seed000-%d", run)
	// Failed requests go to a path of their own, to find their audit
	// documents among other tests'.
	failPath := fmt.Sprintf("/pc-seed000-%d/_search", run)
	t.Cleanup(func() { call(t, "DELETE", es+"/"+idx, "") })
	mustStatus(t, call(t, "PUT", es+"/"+idx+"/_doc/1?refresh=true", `{"msg":"hello"}`, "Content-Type", "application/json"), 201, "seed "+idx)

	const wwwAuth = `Basic realm="security", charset="UTF-8"|Bearer realm="security"|ApiKey`
	const hdrJSON = `"header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}`
	checkWWW := func(r reply, what string) {
		t.Helper()
		if got := strings.Join(r.Header.Values("WWW-Authenticate"), "|"); got != wwwAuth {
			t.Errorf("%s: WWW-Authenticate = %q, want %q", what, got, wwwAuth)
		}
	}
	exact401 := func(reason string) string {
		e := fmt.Sprintf(`{"type":"security_exception","reason":%s,%s}`, jsonString(reason), hdrJSON)
		return `{"error":{"root_cause":[` + e + `],` + strings.TrimPrefix(e, "{") + `,"status":401}`
	}

	// Basic: curl -u elastic:pw, and the explicit header.
	// (The dev node answers GET / with a 405, so the cluster health stands
	// in for the article's root URL.)
	r := call(t, "GET", n.url+"/_cluster/health", "", basic(elasticAuth)...)
	mustStatus(t, r, 200, "curl -u elastic:pw")
	if !strings.Contains(string(r.Body), `"cluster_name"`) {
		t.Fatalf("GET /_cluster/health did not reach Elasticsearch: %s", r.Body)
	}
	explicit := "Basic " + base64.StdEncoding.EncodeToString([]byte(elasticAuth))
	mustStatus(t, call(t, "GET", n.url+"/_cluster/health", "", "Authorization", explicit), 200, "explicit Authorization: Basic")
	mustStatus(t, call(t, "GET", n.url+"/"+idx+"/_search", "", "Authorization", explicit), 200, "Basic search")

	// The article's API key.
	su := append(basic(elasticAuth), "Content-Type", "application/json")
	r = call(t, "POST", n.url+"/_security/api_key",
		`{"name":"my-app-key","expiration":"30d","role_descriptors":{"my-app-role":{"cluster":["monitor"],"indices":[{"names":["app-data-*"],"privileges":["read","write"]}]}}}`, su...)
	mustStatus(t, r, 200, "create the article's key")
	created := r.json(t)
	id, _ := created["id"].(string)
	secret, _ := created["api_key"].(string)
	encoded, _ := created["encoded"].(string)
	if id == "" || secret == "" || encoded != base64.StdEncoding.EncodeToString([]byte(id+":"+secret)) || created["name"] != "my-app-key" {
		t.Fatalf("create answer lacks id, api_key or encoded: %s", r.Body)
	}
	exp, ok := created["expiration"].(float64)
	if want := time.Now().Add(30 * 24 * time.Hour).UnixMilli(); !ok || exp < float64(want-60_000) || exp > float64(want+60_000) {
		t.Fatalf("expiration %v, want about %d (30d)", created["expiration"], want)
	}
	r = call(t, "GET", n.url+"/"+idx+"/_search", "", "Authorization", "ApiKey "+encoded)
	mustStatus(t, r, 200, "Authorization: ApiKey <encoded>")
	if !strings.Contains(string(r.Body), `"hello"`) {
		t.Fatalf("search with the key: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", n.url+"/_cluster/health", "", "Authorization", "ApiKey "+encoded), 200, "key's cluster monitor")

	// The subtle mistake: the id or the raw api_key instead of encoded.
	for _, wrong := range []struct{ what, val string }{{"id", id}, {"api_key", secret}} {
		r = call(t, "GET", n.url+failPath, "", "Authorization", "ApiKey "+wrong.val)
		mustStatus(t, r, 401, "ApiKey <"+wrong.what+">")
		if !strings.Contains(string(r.Body), "unable to authenticate") {
			t.Errorf("ApiKey <%s>: body lacks \"unable to authenticate\": %s", wrong.what, r.Body)
		}
		checkWWW(r, "ApiKey <"+wrong.what+">")
		t.Logf("ApiKey <%s> → %d %s", wrong.what, r.Status, r.Body)
	}

	// No credentials: §3.1 exactly.
	r = call(t, "GET", n.url+failPath, "")
	mustStatus(t, r, 401, "no credentials")
	checkWWW(r, "no credentials")
	if want := exact401("missing authentication credentials for REST request [" + failPath + "]"); string(r.Body) != want {
		t.Errorf("no credentials body\n got %s\nwant %s", r.Body, want)
	}
	if r.Header.Get("X-Elastic-Product") != "" {
		t.Errorf("X-Elastic-Product on a 401: %v", r.Header)
	}
	// The reason names the URI with its query.
	r = call(t, "GET", n.url+failPath+"?q=msg:hello", "")
	mustStatus(t, r, 401, "no credentials, with a query")
	if want := exact401("missing authentication credentials for REST request [" + failPath + "?q=msg:hello]"); string(r.Body) != want {
		t.Errorf("no credentials (query) body\n got %s\nwant %s", r.Body, want)
	}

	// Wrong password.
	r = call(t, "GET", n.url+failPath, "", basic("elastic:wrong-password")...)
	mustStatus(t, r, 401, "wrong password")
	checkWWW(r, "wrong password")
	if want := exact401("unable to authenticate user [elastic] for REST request [" + failPath + "]"); string(r.Body) != want {
		t.Errorf("wrong password body\n got %s\nwant %s", r.Body, want)
	}

	keyFailure := func(auth, why string) {
		t.Helper()
		r := call(t, "GET", n.url+failPath, "", "Authorization", auth)
		e := fmt.Sprintf(`{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":%s,%s}`, jsonString("API key: "+why), hdrJSON)
		want := `{"error":{"root_cause":[` + e + `],` + strings.TrimPrefix(e, "{") + `,"status":401}`
		if r.Status != 401 || string(r.Body) != want {
			t.Errorf("%s: %d\n got %s\nwant %s", why, r.Status, r.Body, want)
		}
		checkWWW(r, why)
	}

	// An expired key.
	r = call(t, "POST", n.url+"/_security/api_key", `{"name":"seed000-short","expiration":"1s"}`, su...)
	mustStatus(t, r, 200, "create 1s key")
	short := r.json(t)
	time.Sleep(1500 * time.Millisecond)
	keyFailure("ApiKey "+short["encoded"].(string), "api key is expired")
	r = call(t, "GET", n.url+"/_security/api_key?id="+short["id"].(string), "", su...)
	mustStatus(t, r, 200, "get the expired key")
	if k := oneKey(t, r); k["expiration"].(float64) > float64(time.Now().UnixMilli()) || k["invalidated"] != false {
		t.Errorf("expired key: %s", r.Body)
	}

	// GET /_security/api_key?id= shows expiration and invalidated.
	r = call(t, "GET", n.url+"/_security/api_key?id="+id, "", su...)
	mustStatus(t, r, 200, "get the key")
	k := oneKey(t, r)
	if k["id"] != id || k["name"] != "my-app-key" || k["expiration"] != created["expiration"] || k["invalidated"] != false {
		t.Fatalf("get the key before invalidation: %s", r.Body)
	}

	// Invalidation through the invalidate API key endpoint.
	r = call(t, "DELETE", n.url+"/_security/api_key", `{"ids":["`+id+`"]}`, su...)
	mustStatus(t, r, 200, "invalidate")
	if got, _ := r.json(t)["invalidated_api_keys"].([]any); len(got) != 1 || got[0] != id {
		t.Fatalf("invalidate: %s", r.Body)
	}
	keyFailure("ApiKey "+encoded, "api key has been invalidated")
	r = call(t, "GET", n.url+"/_security/api_key?id="+id, "", su...)
	mustStatus(t, r, 200, "get the invalidated key")
	if k := oneKey(t, r); k["invalidated"] != true || k["expiration"] != created["expiration"] {
		t.Fatalf("get the key after invalidation: %s", r.Body)
	}

	// Anonymous access, both values of authz_exception.
	for _, authzException := range []bool{true, false} {
		t.Run(fmt.Sprintf("anonymous/authz_exception=%v", authzException), func(t *testing.T) {
			an := startNode(t, nil, withUpstreamURL(es), func(c *Config) {
				c.Authc.Anonymous = AnonymousConfig{Username: "anonymous_user", Roles: stringList{"reader_role"}, AuthzException: authzException}
			})
			mustStatus(t, call(t, "PUT", an.url+"/_security/role/reader_role", `{"indices":[{"names":["app-data-*"],"privileges":["read"]}]}`, su...), 200, "reader_role")
			r := call(t, "GET", an.url+"/"+idx+"/_search", "")
			mustStatus(t, r, 200, "anonymous search of "+idx)
			r = call(t, "GET", an.url+failPath, "")
			if authzException {
				mustStatus(t, r, 403, "anonymous search of another index")
				if !strings.Contains(string(r.Body), "is unauthorized for user [anonymous_user] with effective roles [reader_role]") || len(r.Header.Values("WWW-Authenticate")) != 0 {
					t.Fatalf("403 answer: %v %s", r.Header, r.Body)
				}
			} else {
				mustStatus(t, r, 401, "anonymous search of another index")
				checkWWW(r, "anonymous 401")
				if !strings.Contains(string(r.Body), "action [indices:data/read/search] requires authentication") {
					t.Fatalf("401 answer: %s", r.Body)
				}
			}
			// Wrong credentials are a 401 whatever anonymous access says.
			mustStatus(t, call(t, "GET", an.url+"/"+idx+"/_search", "", basic("elastic:wrong")...), 401, "wrong password with anonymous access")
		})
	}

	// The article's audit query, exactly as written, then narrowed to this
	// test's failures (by their path).
	const seedQuery = `{
  "query": {
    "bool": {
      "must": [
        { "term": { "event.action": "authentication_failed" }},
        { "range": { "@timestamp": { "gte": "now-1h" }}}
      ]
    }
  }
}`
	mine := fmt.Sprintf(`{"size":100,"query":{"bool":{"must":[{"term":{"event.action":"authentication_failed"}},{"range":{"@timestamp":{"gte":"now-1h"}}},{"term":{"url.path":%q}}]}},"sort":["@timestamp"]}`, failPath)
	// ApiKey <id>, ApiKey <api_key>, no credentials (twice), wrong
	// password, expired, invalidated
	const wantMine = 7
	var hits []any
	var total float64
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		call(t, "POST", es+"/.security-audit-*/_refresh", "")
		r := call(t, "GET", es+"/.security-audit-*/_search", seedQuery, "Content-Type", "application/json")
		if r.Status != 200 {
			continue
		}
		total = r.json(t)["hits"].(map[string]any)["total"].(map[string]any)["value"].(float64)
		r = call(t, "POST", es+"/.security-audit-*/_search", mine, "Content-Type", "application/json")
		if r.Status == 200 {
			hits = r.json(t)["hits"].(map[string]any)["hits"].([]any)
			if len(hits) >= wantMine {
				break
			}
		}
	}
	if total < wantMine || len(hits) < wantMine {
		t.Fatalf("the seed's audit query found %v documents, %d of them this test's; want at least %d", total, len(hits), wantMine)
	}
	var sawElastic bool
	reasons := map[string]int{}
	for _, h := range hits {
		if ev, ok := h.(map[string]any)["_source"].(map[string]any)["event"].(map[string]any); ok {
			reasons[fmt.Sprint(ev["reason"])]++
		}
		src, _ := json.Marshal(h.(map[string]any)["_source"])
		doc := string(src)
		t.Logf("audit: %s", doc)
		if strings.Contains(doc, `"name":"elastic"`) && strings.Contains(doc, `"realms":[{`) {
			sawElastic = true
		}
		for _, s := range []string{"wrong-password", secret} {
			if strings.Contains(doc, s) {
				t.Errorf("audit document holds a credential: %s", doc)
			}
		}
	}
	for reason, want := range map[string]int{
		"missing authentication credentials for REST request [" + failPath + "]":                                1,
		"missing authentication credentials for REST request [" + failPath + "?q=msg:hello]":                    1,
		"unable to authenticate user [elastic] for REST request [" + failPath + "]":                             1,
		"unable to authenticate with provided credentials and anonymous access is not allowed for this request": 4,
	} {
		if reasons[reason] != want {
			t.Errorf("%d audit documents with reason %q, want %d (all: %v)", reasons[reason], reason, want, reasons)
		}
	}
	if !sawElastic {
		t.Errorf("no authentication_failed document for user elastic with its realms")
	}
}

func oneKey(t *testing.T, r reply) map[string]any {
	t.Helper()
	keys, _ := r.json(t)["api_keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("want one key: %s", r.Body)
	}
	return keys[0].(map[string]any)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
