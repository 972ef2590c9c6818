package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/auditor/auditortest"
)

// TestSearchContextsRealElasticsearch: scroll and point-in-time ids are
// their creator's, through either of two replicas in front of a real node.
// alice and bob hold the same read role; bob (and the superuser, and
// alice's own API key, which Elasticsearch counts as another owner) cannot
// continue, clear, search or close what alice opened, and get the answers
// Elasticsearch gives for a context that does not exist; alice can, on
// the replica that bound the id and on the other one at once.
func TestSearchContextsRealElasticsearch(t *testing.T) {
	es := auditortest.ESURL(t)
	natsAddr := freeAddr(t)
	a := startNode(t, nil, withUpstreamURL(es), withNATSListen(natsAddr))
	b := startNode(t, nil, withUpstreamURL(es), withNATSURL("nats://"+natsAddr))
	su := append(basic(elasticAuth), "Content-Type", "application/json")
	idx := fmt.Sprintf("pc-ctx-%d", rand.Uint32())
	t.Cleanup(func() { call(t, "DELETE", es+"/"+idx, "") })
	mustStatus(t, call(t, "PUT", es+"/"+idx, `{"settings":{"number_of_shards":2,"number_of_replicas":0}}`, "Content-Type", "application/json"), 200, "create index")
	var bulk strings.Builder
	for i := range 20 {
		fmt.Fprintf(&bulk, "{\"index\":{\"_id\":\"%d\"}}\n{\"n\":%d}\n", i, i)
	}
	mustStatus(t, call(t, "POST", es+"/"+idx+"/_bulk?refresh=true", bulk.String(), "Content-Type", "application/x-ndjson"), 200, "seed")

	mustStatus(t, call(t, "PUT", a.url+"/_security/role/ctx_reader",
		`{"cluster":["manage_own_api_key"],"indices":[{"names":["pc-ctx-*"],"privileges":["read"]}]}`, su...), 200, "role")
	for _, u := range []string{"alice", "bob"} {
		mustStatus(t, call(t, "PUT", a.url+"/_security/user/"+u, `{"password":"`+u+`-password","roles":["ctx_reader"]}`, su...), 200, "user "+u)
	}
	alice := append(basic("alice:alice-password"), "Content-Type", "application/json")
	bob := append(basic("bob:bob-password"), "Content-Type", "application/json")
	r := call(t, "POST", b.url+"/_security/api_key", `{"name":"alice-key"}`, alice...)
	mustStatus(t, r, 200, "alice's key")
	aliceKey := []string{"Authorization", "ApiKey " + r.json(t)["encoded"].(string), "Content-Type", "application/json"}

	// alice opens a scroll on A and goes on with it on A and B.
	r = call(t, "POST", a.url+"/"+idx+"/_search?scroll=1m", `{"size":3,"sort":["_doc"]}`, alice...)
	mustStatus(t, r, 200, "open scroll")
	scrollID := r.json(t)["_scroll_id"].(string)
	next := fmt.Sprintf(`{"scroll":"1m","scroll_id":%q}`, scrollID)
	seen := 3
	for _, n := range []*node{b, a, b} {
		r = call(t, "POST", n.url+"/_search/scroll", next, alice...)
		mustStatus(t, r, 200, "alice continues")
		seen += len(r.json(t)["hits"].(map[string]any)["hits"].([]any))
	}
	if seen != 12 {
		t.Fatalf("alice read %d documents over four pages, want 12", seen)
	}

	// bob, the superuser and alice's API key are refused on both
	// replicas, as Elasticsearch refuses another user's scroll.
	for _, who := range []struct {
		name string
		hdr  []string
	}{{"bob", bob}, {"the superuser", su}, {"alice's API key", aliceKey}} {
		for _, n := range []*node{a, b} {
			r = call(t, "POST", n.url+"/_search/scroll", next, who.hdr...)
			missingContext(t, r, who.name+" continues alice's scroll")
			r = call(t, "GET", n.url+"/_search/scroll/"+scrollID+"?scroll=1m", "", who.hdr...)
			missingContext(t, r, who.name+" continues alice's scroll by path")
			r = call(t, "DELETE", n.url+"/_search/scroll", fmt.Sprintf(`{"scroll_id":[%q]}`, scrollID), who.hdr...)
			if r.Status != 404 || string(r.Body) != `{"succeeded":true,"num_freed":0}` {
				t.Fatalf("%s clears alice's scroll: %d %s", who.name, r.Status, r.Body)
			}
		}
	}
	// Nothing of it reached the scroll: alice's next page is the fifth.
	r = call(t, "POST", a.url+"/_search/scroll", next, alice...)
	mustStatus(t, r, 200, "alice after the others tried")
	if hits := r.json(t)["hits"].(map[string]any)["hits"].([]any); len(hits) != 3 {
		t.Fatalf("alice's fifth page has %d hits", len(hits))
	}

	// bob's own scroll and alice's in one clear: only bob's is freed.
	r = call(t, "POST", b.url+"/"+idx+"/_search?scroll=1m", `{"size":1}`, bob...)
	mustStatus(t, r, 200, "bob's scroll")
	bobScroll := r.json(t)["_scroll_id"].(string)
	r = call(t, "DELETE", a.url+"/_search/scroll", fmt.Sprintf(`{"scroll_id":[%q,%q]}`, scrollID, bobScroll), bob...)
	mustStatus(t, r, 200, "bob clears his scroll and alice's")
	if freed := r.json(t)["num_freed"].(float64); freed != 2 {
		// bob's scroll has a context on each of the two shards.
		t.Fatalf("bob freed %v contexts, want his own 2", freed)
	}
	mustStatus(t, call(t, "POST", b.url+"/_search/scroll", next, alice...), 200, "alice's scroll survives bob's clear")
	missingContext(t, call(t, "POST", b.url+"/_search/scroll", fmt.Sprintf(`{"scroll_id":%q}`, bobScroll), bob...), "bob's cleared scroll")

	// A made-up id is refused without reaching Elasticsearch.
	r = call(t, "POST", a.url+"/_search/scroll", `{"scroll_id":"garbage"}`, alice...)
	if r.Status != 400 || !strings.Contains(string(r.Body), `"reason":"Cannot parse scroll id"`) {
		t.Fatalf("unparsable scroll id: %d %s", r.Status, r.Body)
	}

	// alice clears her scroll on B; it is gone on A too.
	r = call(t, "DELETE", b.url+"/_search/scroll/"+scrollID, "", alice...)
	mustStatus(t, r, 200, "alice clears her scroll")
	missingContext(t, call(t, "POST", a.url+"/_search/scroll", next, alice...), "alice's cleared scroll")

	// Clearing every scroll is a cluster privilege, as in Elasticsearch.
	r = call(t, "DELETE", a.url+"/_search/scroll/_all", "", bob...)
	if r.Status != 403 || !strings.Contains(string(r.Body), "cluster:admin/indices/scroll/clear_all") {
		t.Fatalf("bob clears all scrolls: %d %s", r.Status, r.Body)
	}

	// A point in time opened by alice on B.
	r = call(t, "POST", b.url+"/"+idx+"/_pit?keep_alive=1m", "", alice...)
	mustStatus(t, r, 200, "open pit")
	pitID := r.json(t)["id"].(string)
	search := fmt.Sprintf(`{"size":1,"pit":{"id":%q,"keep_alive":"1m"}}`, pitID)
	for _, n := range []*node{a, b} {
		r = call(t, "POST", n.url+"/_search", search, alice...)
		mustStatus(t, r, 200, "alice searches her pit")
		if r.json(t)["pit_id"] == nil {
			t.Fatalf("no pit_id in %s", r.Body)
		}
		r = call(t, "POST", n.url+"/_search", search, bob...)
		missingContext(t, r, "bob searches alice's pit")
		if !strings.Contains(string(r.Body), `"index":"`+idx+`"`) {
			t.Fatalf("bob's refusal does not name the PIT's shards as Elasticsearch does: %s", r.Body)
		}
		r = call(t, "DELETE", n.url+"/_pit", fmt.Sprintf(`{"id":%q}`, pitID), bob...)
		if r.Status != 404 || string(r.Body) != `{"succeeded":false,"num_freed":0}` {
			t.Fatalf("bob closes alice's pit: %d %s", r.Status, r.Body)
		}
	}
	r = call(t, "DELETE", a.url+"/_pit", fmt.Sprintf(`{"id":%q}`, pitID), alice...)
	mustStatus(t, r, 200, "alice closes her pit")
	if r.json(t)["num_freed"].(float64) != 2 {
		t.Fatalf("alice's close freed %s", r.Body)
	}
	missingContext(t, call(t, "POST", b.url+"/_search", search, alice...), "alice's closed pit")
}

// missingContext checks r is Elasticsearch's answer for a search context
// that does not exist.
func missingContext(t *testing.T, r reply, what string) {
	t.Helper()
	var body struct {
		Error struct {
			RootCause []struct{ Type, Reason string } `json:"root_cause"`
			Type      string                          `json:"type"`
		} `json:"error"`
		Status int `json:"status"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
	if r.Status != 404 || body.Status != 404 || body.Error.Type != "search_phase_execution_exception" || len(body.Error.RootCause) == 0 ||
		body.Error.RootCause[0].Type != "search_context_missing_exception" ||
		!strings.HasPrefix(body.Error.RootCause[0].Reason, "No search context found for id [") {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}
