package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/portcullis/portcullis/auditor/auditortest"
)

// TestAPIKeysRealElasticsearch is the API key scenario of seed 000 against
// a real Elasticsearch behind two replicas: a user with index read on
// app-data-* and manage_own_api_key creates the article's key; the key
// reads (its descriptors and its owner's roles both allow) but cannot write
// (its owner lacks write: the intersection); GET /_security/api_key?id=
// shows expiration and invalidated; an expired key, an invalidated key (on
// the other replica within milliseconds) and a wrong secret get Elasticsearch's 401s; the
// official Go client authenticates with Config.APIKey.
func TestAPIKeysRealElasticsearch(t *testing.T) {
	es := auditortest.ESURL(t)
	natsAddr := freeAddr(t)
	a := startNode(t, nil, withUpstreamURL(es), withNATSListen(natsAddr))
	b := startNode(t, nil, withUpstreamURL(es), withNATSURL("nats://"+natsAddr))
	su := basic(elasticAuth)
	idx := fmt.Sprintf("app-data-pc-%d", rand.Uint32())
	t.Cleanup(func() { call(t, "DELETE", es+"/"+idx, "") })
	mustStatus(t, call(t, "PUT", es+"/"+idx+"/_doc/1?refresh=true", `{"msg":"hello"}`, "Content-Type", "application/json"), 201, "seed")

	mustStatus(t, call(t, "PUT", a.url+"/_security/role/app_reader",
		`{"cluster":["manage_own_api_key"],"indices":[{"names":["app-data-*"],"privileges":["read"]}]}`, su...), 200, "role")
	mustStatus(t, call(t, "PUT", a.url+"/_security/user/app", `{"password":"app-password","roles":["app_reader"]}`, su...), 200, "user")
	app := append(basic("app:app-password"), "Content-Type", "application/json")

	// The article's key.
	r := call(t, "POST", a.url+"/_security/api_key",
		`{"name":"my-app-key","expiration":"30d","role_descriptors":{"my-app-role":{"cluster":["monitor"],"indices":[{"names":["app-data-*"],"privileges":["read","write"]}]}}}`, app...)
	mustStatus(t, r, 200, "create key")
	created := r.json(t)
	id, secret, encoded := created["id"].(string), created["api_key"].(string), created["encoded"].(string)
	if encoded != base64.StdEncoding.EncodeToString([]byte(id+":"+secret)) || created["expiration"] == nil {
		t.Fatalf("create answer %s", r.Body)
	}
	key := []string{"Authorization", "ApiKey " + encoded, "Content-Type", "application/json"}

	r = call(t, "GET", a.url+"/"+idx+"/_search", "", key...)
	mustStatus(t, r, 200, "search with the key")
	if !strings.Contains(string(r.Body), `"hello"`) {
		t.Fatalf("search: %s", r.Body)
	}
	r = call(t, "PUT", a.url+"/"+idx+"/_doc/2", `{"msg":"x"}`, key...)
	if r.Status != 403 || !strings.Contains(string(r.Body), "is unauthorized for API key id ["+id+"] of user [app] on indices ["+idx+"]") {
		t.Fatalf("write with the key: %d %s (the owner has no write)", r.Status, r.Body)
	}
	mustStatus(t, call(t, "GET", b.url+"/"+idx+"/_search", "", key...), 200, "search with the key on B")

	// GET /_security/api_key?id= (as the article's admin, and as the owner).
	r = call(t, "GET", a.url+"/_security/api_key?id="+id, "", su...)
	mustStatus(t, r, 200, "get key")
	keys := r.json(t)["api_keys"].([]any)
	if len(keys) != 1 {
		t.Fatalf("get key: %s", r.Body)
	}
	k := keys[0].(map[string]any)
	if k["id"] != id || k["name"] != "my-app-key" || k["invalidated"] != false || k["expiration"] != created["expiration"] || k["username"] != "app" {
		t.Fatalf("get key: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", a.url+"/_security/api_key?owner=true", "", app...), 200, "get own keys")
	mustStatus(t, call(t, "GET", a.url+"/_security/api_key?id="+id, "", app...), 403, "get by id without manage_api_key")

	unauthorized := func(n *node, auth, why string) {
		t.Helper()
		r := call(t, "GET", n.url+"/"+idx+"/_search", "", "Authorization", auth)
		want := `{"error":{"root_cause":[{"type":"security_exception","reason":"unable to authenticate with provided credentials and anonymous access is not allowed for this request","additional_unsuccessful_credentials":"API key: ` + why + `",`
		if r.Status != 401 || !strings.HasPrefix(string(r.Body), want) || len(r.Header.Values("WWW-Authenticate")) != 3 {
			t.Fatalf("%s: %d %s %v", why, r.Status, r.Body, r.Header)
		}
	}

	// A wrong secret.
	unauthorized(a, "ApiKey "+base64.StdEncoding.EncodeToString([]byte(id+":"+strings.Repeat("A", 22))), "invalid credentials for API key ["+id+"]")

	// An expired key.
	r = call(t, "POST", a.url+"/_security/api_key", `{"name":"short","expiration":"1s"}`, app...)
	mustStatus(t, r, 200, "create 1s key")
	short := "ApiKey " + r.json(t)["encoded"].(string)
	time.Sleep(1500 * time.Millisecond)
	unauthorized(a, short, "api key is expired")

	// The official Go client, with Config.APIKey, creates, uses and
	// invalidates a key.
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{a.url}, APIKey: encoded})
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Search(client.Search.WithContext(context.Background()), client.Search.WithIndex(idx))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("go-elasticsearch search with an API key: %v %v", res, err)
	}
	res.Body.Close()
	owner, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{a.url}, Username: "app", Password: "app-password"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = owner.Security.CreateAPIKey(strings.NewReader(`{"name":"client-key"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("go-elasticsearch create key: %v %v", res, err)
	}
	var ck struct{ ID, Encoded string }
	if err := jsonDecode(res.Body, &ck); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = owner.Security.InvalidateAPIKey(strings.NewReader(`{"ids":["` + ck.ID + `"],"owner":true}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("go-elasticsearch invalidate key: %v %v", res, err)
	}
	res.Body.Close()
	unauthorized(a, "ApiKey "+ck.Encoded, "api key has been invalidated")

	// Invalidation on A is effective on B at once.
	r = call(t, "DELETE", a.url+"/_security/api_key", `{"ids":["`+id+`"],"owner":true}`, app...)
	mustStatus(t, r, 200, "invalidate")
	if got := r.json(t)["invalidated_api_keys"].([]any); len(got) != 1 || got[0] != id {
		t.Fatalf("invalidate: %s", r.Body)
	}
	unauthorized(a, "ApiKey "+encoded, "api key has been invalidated")
	// B applies the event as it streams in: within milliseconds, as a
	// logout (TestTwoReplicas).
	start := time.Now()
	for call(t, "GET", b.url+"/"+idx+"/_search", "", "Authorization", "ApiKey "+encoded).Status != 401 {
		if time.Since(start) > 2*time.Second {
			t.Fatalf("key still accepted on B %s after its invalidation on A", time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("invalidation on A refused on B after %s", time.Since(start))
	unauthorized(b, "ApiKey "+encoded, "api key has been invalidated")
	r = call(t, "GET", b.url+"/_security/api_key?id="+id, "", su...)
	if k := r.json(t)["api_keys"].([]any)[0].(map[string]any); k["invalidated"] != true || k["invalidation"] == nil {
		t.Fatalf("get invalidated key on B: %s", r.Body)
	}

	// The secret never reached a log.
	for _, n := range []*node{a, b} {
		if strings.Contains(n.out.String(), secret) {
			t.Fatal("a log holds the API key secret")
		}
	}
}
