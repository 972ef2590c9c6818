package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/portcullis/portcullis/auditor/auditortest"
)

// TestProxyRealElasticsearch: through the gateway, with a user whose
// constraints allow it, the everyday Elasticsearch API works against a real
// node: index creation, single and bulk indexing, search, scroll, msearch,
// mget, count, HEAD, gzip bodies, a response over 20 MB, and the official Go
// client (whose product check needs X-Elastic-Product on 2xx).
func TestProxyRealElasticsearch(t *testing.T) {
	es := auditortest.ESURL(t)
	n := startNode(t, nil, withUpstreamURL(es))
	su := basic(elasticAuth)
	idx := fmt.Sprintf("pc-e2e-%d", rand.Uint32())
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"app","password":"app-secret","roles":["app"]}`, su...), 200, "create app")
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/pc-e2e-*","/_bulk","/_msearch","/_mget","/_search/scroll"],"methods":["*"],"roles":["app"]}`, su...), 200, "constraint")
	app := basic("app:app-secret")
	json := func(hdr ...string) []string {
		return append(append([]string{}, app...), append([]string{"Content-Type", "application/json"}, hdr...)...)
	}
	t.Cleanup(func() { call(t, "DELETE", es+"/"+idx, "") })

	mustStatus(t, call(t, "PUT", n.url+"/"+idx, `{"settings":{"number_of_shards":1,"number_of_replicas":0}}`, json()...), 200, "create index")
	mustStatus(t, call(t, "PUT", n.url+"/"+idx+"/_doc/1?refresh=true", `{"n":1,"msg":"hello"}`, json()...), 201, "index a document")

	var bulk strings.Builder
	for i := 2; i <= 101; i++ {
		fmt.Fprintf(&bulk, "{\"index\":{\"_index\":%q,\"_id\":\"%d\"}}\n{\"n\":%d,\"msg\":\"bulk\"}\n", idx, i, i)
	}
	r := call(t, "POST", n.url+"/_bulk?refresh=true", bulk.String(), append(app, "Content-Type", "application/x-ndjson")...)
	mustStatus(t, r, 200, "bulk")
	if r.json(t)["errors"] != false {
		t.Fatalf("bulk errors: %.500s", r.Body)
	}

	r = call(t, "GET", n.url+"/"+idx+"/_search?q=msg:bulk&size=0", "", app...)
	mustStatus(t, r, 200, "search")
	if total := r.json(t)["hits"].(map[string]any)["total"].(map[string]any)["value"]; total != float64(100) {
		t.Fatalf("search total %v, want 100", total)
	}
	if r.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatal("X-Elastic-Product missing on a 2xx through the gateway")
	}

	r = call(t, "POST", n.url+"/"+idx+"/_search?scroll=1m", `{"size":10,"sort":["_doc"]}`, json()...)
	mustStatus(t, r, 200, "scroll start")
	scrollID := r.json(t)["_scroll_id"].(string)
	r = call(t, "POST", n.url+"/_search/scroll", fmt.Sprintf(`{"scroll":"1m","scroll_id":%q}`, scrollID), json()...)
	mustStatus(t, r, 200, "scroll next")
	if hits := r.json(t)["hits"].(map[string]any)["hits"].([]any); len(hits) != 10 {
		t.Fatalf("scroll page has %d hits, want 10", len(hits))
	}

	r = call(t, "POST", n.url+"/_msearch", fmt.Sprintf("{\"index\":%q}\n{\"query\":{\"term\":{\"n\":1}}}\n{\"index\":%q}\n{\"size\":0}\n", idx, idx), append(app, "Content-Type", "application/x-ndjson")...)
	mustStatus(t, r, 200, "msearch")
	if resps := r.json(t)["responses"].([]any); len(resps) != 2 {
		t.Fatalf("msearch answered %d responses", len(resps))
	}

	r = call(t, "POST", n.url+"/_mget", fmt.Sprintf(`{"docs":[{"_index":%q,"_id":"1"},{"_index":%q,"_id":"nope"}]}`, idx, idx), json()...)
	mustStatus(t, r, 200, "mget")
	docs := r.json(t)["docs"].([]any)
	if docs[0].(map[string]any)["found"] != true || docs[1].(map[string]any)["found"] != false {
		t.Fatalf("mget: %s", r.Body)
	}

	r = call(t, "GET", n.url+"/"+idx+"/_count", "", app...)
	mustStatus(t, r, 200, "count")
	if r.json(t)["count"] != float64(101) {
		t.Fatalf("count: %s", r.Body)
	}

	mustStatus(t, call(t, "HEAD", n.url+"/"+idx, "", app...), 200, "HEAD existing index")
	mustStatus(t, call(t, "HEAD", n.url+"/"+idx+"-missing", "", app...), 404, "HEAD missing index")

	// gzip: a compressed request body, and a compressed answer passed through.
	var zbody bytes.Buffer
	zw := gzip.NewWriter(&zbody)
	zw.Write([]byte(`{"query":{"term":{"n":1}}}`))
	zw.Close()
	req, _ := http.NewRequest("POST", n.url+"/"+idx+"/_search", bytes.NewReader(zbody.Bytes()))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Accept-Encoding", "gzip")
	req.SetBasicAuth("app", "app-secret")
	resp, err := http.DefaultTransport.RoundTrip(req) // no transparent decompression
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatalf("answer is not gzip (status %d, Content-Encoding %q): %v", resp.StatusCode, resp.Header.Get("Content-Encoding"), err)
	}
	plain, _ := io.ReadAll(zr)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(plain, []byte(`"hello"`)) {
		t.Fatalf("gzip search: %d %.300s", resp.StatusCode, plain)
	}

	// A response over 20 MB: 24 documents of 1 MB each, bulk-indexed (a
	// 24 MB request) and read back in one search.
	big := strings.Repeat("x", 1<<20)
	bulk.Reset()
	for i := 0; i < 24; i++ {
		fmt.Fprintf(&bulk, "{\"index\":{\"_index\":%q,\"_id\":\"big-%d\"}}\n{\"big\":%q}\n", idx, i, big)
	}
	r = call(t, "POST", n.url+"/_bulk?refresh=true", bulk.String(), append(app, "Content-Type", "application/x-ndjson")...)
	mustStatus(t, r, 200, "bulk of 24 MB")
	req, _ = http.NewRequest("POST", n.url+"/"+idx+"/_search", strings.NewReader(`{"size":24,"query":{"exists":{"field":"big"}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth("app", "app-secret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || got < 20<<20 {
		t.Fatalf("big search: status %d, %d bytes, err %v", resp.StatusCode, got, err)
	}

	// The official Go client, unchanged, through the gateway.
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{n.url}, Username: "app", Password: "app-secret"})
	if err != nil {
		t.Fatal(err)
	}
	cres, err := client.Count(client.Count.WithContext(context.Background()), client.Count.WithIndex(idx))
	if err != nil {
		t.Fatalf("go-elasticsearch through the gateway: %v", err)
	}
	defer cres.Body.Close()
	var cnt struct{ Count int }
	if err := jsonDecode(cres.Body, &cnt); err != nil || cres.StatusCode != 200 || cnt.Count != 125 {
		t.Fatalf("client count: status %d, count %d, err %v", cres.StatusCode, cnt.Count, err)
	}
	// And its 403 is an error the client parses.
	denied, err := client.Indices.Create("other-index")
	if err != nil {
		t.Fatal(err)
	}
	denied.Body.Close()
	if denied.StatusCode != 403 {
		t.Fatalf("create other-index: status %d, want 403", denied.StatusCode)
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

// TestAuditFailuresInElasticsearch: failed logins and requests with bad
// credentials through the gateway become audit documents that the query of
// shared/seeds/000 finds as written, with the user name, the realms tried and
// why each failed, the source address, the path and the method.
func TestAuditFailuresInElasticsearch(t *testing.T) {
	es := auditortest.ESURL(t)
	n := startNode(t, nil, withUpstreamURL(es), withAudit(es))
	user := fmt.Sprintf("ghost-%d", rand.Uint32())
	mustStatus(t, call(t, "POST", n.url+"/login", fmt.Sprintf(`{"username":%q,"password":"wrong-pw"}`, user)), 401, "failed login")
	mustStatus(t, call(t, "GET", n.url+"/secret/_search?q=x", "", basic(user+":also-wrong")...), 401, "bad Basic")
	mustStatus(t, call(t, "GET", n.url+"/_cluster/health", "", basic(elasticAuth)...), 200, "granted (not audited by default)")

	query := fmt.Sprintf(`{"query":{"bool":{"must":[{"term":{"event.action":"authentication_failed"}},{"range":{"@timestamp":{"gte":"now-1h"}}},{"term":{"user.name":%q}}]}},"sort":["@timestamp"]}`, user)
	var hits []any
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		call(t, "POST", es+"/.security-audit-*/_refresh", "")
		r := call(t, "POST", es+"/.security-audit-*/_search", query, "Content-Type", "application/json")
		if r.Status == 200 {
			hits = r.json(t)["hits"].(map[string]any)["hits"].([]any)
			if len(hits) >= 2 {
				break
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(hits) != 2 {
		t.Fatalf("found %d authentication_failed documents for %s, want 2", len(hits), user)
	}
	wantPaths := []string{"/login", "/secret/_search"}
	wantMethods := []string{"POST", "GET"}
	for i, h := range hits {
		src, _ := json.Marshal(h.(map[string]any)["_source"])
		doc := string(src)
		for _, want := range []string{
			`"name":"` + user + `"`, `"realms":[{`, `"default_native"`, `"reason":"unknown user"`,
			`"ip":"127.0.0.1"`, `"path":"` + wantPaths[i] + `"`, `"method":"` + wantMethods[i] + `"`,
		} {
			if !strings.Contains(doc, want) {
				t.Errorf("audit document %d lacks %s: %s", i, want, doc)
			}
		}
		for _, secret := range []string{"wrong-pw", "also-wrong"} {
			if strings.Contains(doc, secret) {
				t.Errorf("audit document %d holds a password: %s", i, doc)
			}
		}
	}
	// The seed's query, exactly as written, finds them too.
	r := call(t, "GET", es+"/.security-audit-*/_search", `{"query":{"bool":{"must":[{"term":{"event.action":"authentication_failed"}},{"range":{"@timestamp":{"gte":"now-1h"}}}]}}}`, "Content-Type", "application/json")
	mustStatus(t, r, 200, "seed query")
	if total := r.json(t)["hits"].(map[string]any)["total"].(map[string]any)["value"].(float64); total < 2 {
		t.Fatalf("seed query total %v", total)
	}

	// The metrics show what the auditor wrote and that it has caught up.
	var metrics string
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		m := call(t, "GET", n.url+"/_portcullis/metrics", "")
		mustStatus(t, m, 200, "metrics, without credentials")
		if metrics = string(m.Body); strings.Contains(metrics, "\nportcullis_auditor_lag 0\n") {
			break
		}
	}
	for _, want := range []string{"\nportcullis_auditor_lag 0\n", "\nportcullis_auditor_dead_lettered_total 0\n", `portcullis_outcomes_total{action="authentication_failed"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q:\n%s", strings.TrimSpace(want), metrics)
		}
	}
	if !regexp.MustCompile(`\nportcullis_auditor_indexed_total [1-9]`).MatchString(metrics) {
		t.Errorf("metrics count no audit document indexed:\n%s", metrics)
	}
}

// TestRoleIndexPrivileges: a role with index privileges lets a user search
// logs-* but not write to it, nor read another index — including through
// _bulk, _msearch, _mget and /_search — against a real node.
func TestRoleIndexPrivileges(t *testing.T) {
	es := auditortest.ESURL(t)
	n := startNode(t, nil, withUpstreamURL(es))
	su := basic(elasticAuth)
	run := rand.Uint32()
	logs, other := fmt.Sprintf("logs-pc-%d", run), fmt.Sprintf("other-pc-%d", run)
	t.Cleanup(func() { call(t, "DELETE", es+"/"+logs+","+other, "") })
	for _, idx := range []string{logs, other} {
		mustStatus(t, call(t, "PUT", es+"/"+idx+"/_doc/1?refresh=true", `{"msg":"hello"}`, "Content-Type", "application/json"), 201, "seed "+idx)
	}
	mustStatus(t, call(t, "PUT", n.url+"/_security/role/logs_reader", `{"cluster":["monitor"],"indices":[{"names":["logs-*"],"privileges":["read"]}]}`, su...), 200, "role")
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/lena", `{"password":"lena-secret","roles":["logs_reader"]}`, su...), 200, "user")
	lena := append(basic("lena:lena-secret"), "Content-Type", "application/json")
	nd := append(basic("lena:lena-secret"), "Content-Type", "application/x-ndjson")

	cases := []struct {
		name, method, path, body string
		hdr                      []string
		want                     int
	}{
		{"search logs", "GET", "/" + logs + "/_search", "", lena, 200},
		{"search logs-*", "POST", "/logs-*/_search", `{"query":{"match_all":{}}}`, lena, 200},
		{"count logs", "GET", "/" + logs + "/_count", "", lena, 200},
		{"get doc", "GET", "/" + logs + "/_doc/1", "", lena, 200},
		{"cluster health (monitor)", "GET", "/_cluster/health", "", lena, 200},
		{"index into logs", "PUT", "/" + logs + "/_doc/2", `{"msg":"x"}`, lena, 403},
		{"delete logs", "DELETE", "/" + logs, "", lena, 403},
		{"search other", "GET", "/" + other + "/_search", "", lena, 403},
		{"search all (narrowed to logs-*)", "GET", "/_search", "", lena, 200},
		{"bulk into logs", "POST", "/_bulk", "{\"index\":{\"_index\":\"" + logs + "\"}}\n{\"a\":1}\n", nd, 403},
		// A search or doc of another index fails alone (a 200 with its
		// error in place), as in Elasticsearch.
		{"msearch other", "POST", "/_msearch", "{\"index\":\"" + logs + "\"}\n{}\n{\"index\":\"" + other + "\"}\n{}\n", nd, 200},
		{"msearch logs", "POST", "/_msearch", "{\"index\":\"" + logs + "\"}\n{}\n", nd, 200},
		{"mget other", "POST", "/_mget", `{"docs":[{"_index":"` + other + `","_id":"1"}]}`, lena, 200},
		{"mget logs", "POST", "/_mget", `{"docs":[{"_index":"` + logs + `","_id":"1"}]}`, lena, 200},
		{"cluster settings", "PUT", "/_cluster/settings", `{"persistent":{}}`, lena, 403},
	}
	for _, c := range cases {
		r := call(t, c.method, n.url+c.path, c.body, c.hdr...)
		if r.Status != c.want {
			t.Errorf("%s: %s %s → %d %.300s, want %d", c.name, c.method, c.path, r.Status, r.Body, c.want)
		}
		if c.want == 403 && !strings.Contains(string(r.Body), "is unauthorized for user [lena] with effective roles [logs_reader]") {
			t.Errorf("%s: 403 reason %s", c.name, r.Body)
		}
		if strings.Contains(c.name, "other") && c.want == 200 && !strings.Contains(string(r.Body), `"reason":"action [indices:data/read/`) {
			t.Errorf("%s: no refused item in %s", c.name, r.Body)
		}
	}
	// Nothing was written to logs.
	r := call(t, "GET", es+"/"+logs+"/_count", "")
	if !strings.Contains(string(r.Body), `"count":1`) {
		t.Fatalf("logs was written to: %s", r.Body)
	}

	// A writer of logs-*: in a _bulk, the item to another index fails
	// alone with Elasticsearch's 403 item, the logs item is indexed.
	mustStatus(t, call(t, "PUT", n.url+"/_security/role/logs_writer", `{"indices":[{"names":["logs-*"],"privileges":["write"]}]}`, su...), 200, "role")
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/walt", `{"password":"walt-secret","roles":["logs_writer"]}`, su...), 200, "user")
	r = call(t, "POST", n.url+"/_bulk?refresh=true", "{\"index\":{\"_index\":\""+other+"\",\"_id\":\"9\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\""+logs+"\",\"_id\":\"9\"}}\n{\"a\":1}\n",
		append(basic("walt:walt-secret"), "Content-Type", "application/x-ndjson")...)
	mustStatus(t, r, 200, "mixed bulk")
	var bulk struct {
		Errors bool              `json:"errors"`
		Items  []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(r.Body, &bulk); err != nil || !bulk.Errors || len(bulk.Items) != 2 {
		t.Fatalf("mixed bulk: %s", r.Body)
	}
	want := `{"index":{"_index":"` + other + `","_id":"9","status":403,"error":{"type":"security_exception","reason":"action [indices:data/write/bulk[s]] is unauthorized for user [walt] with effective roles [logs_writer] on indices [` + other + `], this action is granted by the index privileges [create_doc,create,delete,index,write,all]"}}}`
	if string(bulk.Items[0]) != want || !strings.Contains(string(bulk.Items[1]), `"status":201`) {
		t.Fatalf("mixed bulk items\n got %s\nwant %s", r.Body, want)
	}
	if r := call(t, "GET", es+"/"+logs+"/_count", ""); !strings.Contains(string(r.Body), `"count":2`) {
		t.Fatalf("logs item not indexed: %s", r.Body)
	}
	if r := call(t, "GET", es+"/"+other+"/_count", ""); !strings.Contains(string(r.Body), `"count":1`) {
		t.Fatalf("other was written to: %s", r.Body)
	}
}
