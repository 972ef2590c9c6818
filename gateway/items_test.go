package gateway

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/classify"
)

// detailedError is Elasticsearch's rendering of a failed search or get:
// the security_exception with its root causes.
func detailedError(reason string) string {
	return `{"root_cause":[{"type":"security_exception","reason":"` + reason + `"}],"type":"security_exception","reason":"` + reason + `"}`
}

// TestMsearchAndMgetItemsFailAlone: a role may read logs-* only; the
// searches of an _msearch and the docs of an _mget naming another index
// fail alone, as in Elasticsearch, and the others are answered.
func TestMsearchAndMgetItemsFailAlone(t *testing.T) {
	fx := newBulkFixture(t)
	admin := basic("admin", "admin-pw")
	for _, idx := range []string{fx.logsA, fx.secretB} {
		resp := do(t, "PUT", fx.es+"/"+idx+"/_doc/1?refresh=true", strings.NewReader(`{"msg":"hello","user":"u1"}`), "", "Content-Type", "application/json")
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("seed %s: %d", idx, resp.StatusCode)
		}
	}
	fx.must(t, 200, "PUT", "/_security/role/logs_reader", admin, `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["read"]}]}`)
	fx.must(t, 200, "PUT", "/_security/user/lena", admin, `{"password":"lena-pw","roles":["logs_reader"]}`)
	lena := basic("lena", "lena-pw")
	denied := func(action, indices string) string {
		return "action [" + action + "] is unauthorized for user [lena] with effective roles [logs_reader] on indices [" + indices + "], this action is granted by the index privileges [read,all]"
	}
	searchDenied := func(indices string) string {
		return `{"error":` + detailedError(denied("indices:data/read/search", indices)) + `,"status":403}`
	}
	nd := []string{"Content-Type", "application/x-ndjson"}

	t.Run("msearch", func(t *testing.T) {
		body := `{"index":"` + fx.logsA + `"}` + "\n" + `{"query":{"match_all":{}}}` + "\n" +
			`{"index":"` + fx.secretB + `"}` + "\n" + `{"query":{"match_all":{}}}` + "\n" +
			`{"index":["` + fx.logsA + `","` + fx.secretB + `"]}` + "\n{}\n" +
			`{"index":"` + fx.logsA + `"}` + "\n" + `{"query":{"terms":{"user":{"index":"` + fx.secretB + `","id":"1","path":"user"}}}}` + "\n" +
			"\n{}\n" // a blank header: the path's index
		before := fx.hits.Load()
		status, _, b := fx.call(t, "POST", "/"+fx.logsA+"/_msearch", lena, body, nd...)
		if status != 200 || fx.hits.Load()-before != 1 {
			t.Fatalf("msearch: %d %s (%d requests upstream)", status, b, fx.hits.Load()-before)
		}
		var r struct {
			Took      *int              `json:"took"`
			Responses []json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(b, &r); err != nil || r.Took == nil || len(r.Responses) != 5 {
			t.Fatalf("msearch response %s: %v", b, err)
		}
		lookupDenied := `{"error":` + detailedError("action [indices:data/read/get] is unauthorized for user [lena] with effective roles [logs_reader] on indices ["+fx.secretB+"], this action is granted by the index privileges [read,all]") + `,"status":403}`
		for i, want := range []string{"", searchDenied(fx.secretB), searchDenied(fx.secretB), lookupDenied, ""} {
			got := string(r.Responses[i])
			if want != "" && got != want {
				t.Errorf("response %d\n got %s\nwant %s", i, got, want)
			}
			if want == "" && (!strings.Contains(got, `"status":200`) || !strings.Contains(got, `"value":1`)) {
				t.Errorf("response %d: %s", i, got)
			}
		}
		// Every search refused: no upstream call.
		before = fx.hits.Load()
		status, _, b = fx.call(t, "POST", "/_msearch", lena, `{"index":"`+fx.secretB+`"}`+"\n{}\n", nd...)
		if want := `{"took":0,"responses":[` + searchDenied(fx.secretB) + `]}`; status != 200 || string(b) != want || fx.hits.Load() != before {
			t.Errorf("all refused msearch: %d\n got %s\nwant %s", status, b, want)
		}
	})

	t.Run("mget", func(t *testing.T) {
		mgetDenied := func(id string) string {
			return `{"_index":"` + fx.secretB + `","_id":"` + id + `","error":` + detailedError(denied("indices:data/read/mget[shard]", fx.secretB)) + `}`
		}
		before := fx.hits.Load()
		status, _, b := fx.call(t, "POST", "/"+fx.logsA+"/_mget", lena,
			`{"docs":[{"_index":"`+fx.secretB+`","_id":"1"},{"_id":"1"},{"_index":"`+fx.logsA+`","_id":"2"}]}`, "Content-Type", "application/json")
		if status != 200 || fx.hits.Load()-before != 1 {
			t.Fatalf("mget: %d %s", status, b)
		}
		var r struct {
			Docs []json.RawMessage `json:"docs"`
		}
		if err := json.Unmarshal(b, &r); err != nil || len(r.Docs) != 3 {
			t.Fatalf("mget response %s: %v", b, err)
		}
		if string(r.Docs[0]) != mgetDenied("1") || !strings.Contains(string(r.Docs[1]), `"found":true`) || !strings.Contains(string(r.Docs[2]), `"found":false`) {
			t.Errorf("mget docs %s\nwant first %s", b, mgetDenied("1"))
		}
		// ids on a refused path index: every doc refused, no upstream call.
		before = fx.hits.Load()
		status, _, b = fx.call(t, "POST", "/"+fx.secretB+"/_mget", lena, `{"ids":["1",2]}`, "Content-Type", "application/json")
		if want := `{"docs":[` + mgetDenied("1") + "," + mgetDenied("2") + `]}`; status != 200 || string(b) != want || fx.hits.Load() != before {
			t.Errorf("all refused mget: %d\n got %s\nwant %s", status, b, want)
		}
		// A doc without an index is Elasticsearch's validation failure.
		status, _, b = fx.call(t, "POST", "/_mget", lena, `{"docs":[{"_index":"`+fx.secretB+`","_id":"1"},{"_id":"1"}]}`, "Content-Type", "application/json")
		if status != 400 || !strings.Contains(string(b), `"reason":"Validation Failed: 1: index is missing for doc 1;"`) {
			t.Errorf("mget without index: %d %s", status, b)
		}
	})

	t.Run("no read privilege anywhere", func(t *testing.T) {
		fx.must(t, 200, "PUT", "/_security/role/logs_writer", admin, `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["write"]}]}`)
		fx.must(t, 200, "PUT", "/_security/user/wendy", admin, `{"password":"wendy-pw","roles":["logs_writer"]}`)
		status, _, b := fx.call(t, "POST", "/_msearch", basic("wendy", "wendy-pw"), `{"index":"`+fx.logsA+`"}`+"\n{}\n", nd...)
		reason := "action [indices:data/read/msearch] is unauthorized for user [wendy] with effective roles [logs_writer], this action is granted by the index privileges [read,all]"
		if status != 403 || !strings.Contains(string(b), `"reason":"`+reason+`"`) {
			t.Errorf("msearch without read: %d %s", status, b)
		}
	})
}

// FuzzCutMget: every _mget body Classify accepts is cut into as many docs
// as it counts, and the body forwarded with some docs refused classifies
// as the other docs, in order, on the same indices.
func FuzzCutMget(f *testing.F) {
	f.Add(`{"docs":[{"_index":"a","_id":"1"},{"_id":2,"routing":"r"}]}`, uint64(1))
	f.Add(`{"ids":["1","2","3"],"docs":[{"_index":"b","_id":"x"}]}`, uint64(5))
	f.Add(`{"docs":[],"ids":[]}`, uint64(0))
	f.Add(` { "docs" : [ { "_index" : "\u0061" , "_id" : "1" , "_source" : false } ] } `, uint64(1))
	f.Fuzz(func(t *testing.T, body string, mask uint64) {
		res, err := classify.Classify(classify.Request{Method: "POST", Path: "/def/_mget", Body: []byte(body), ContentType: "application/json"})
		if err != nil || itemized(res, []byte(body)) == nil {
			return
		}
		mb, err := cutMget([]byte(body), res)
		if err != nil {
			t.Fatalf("cutMget refused what Classify accepted: %v", err)
		}
		if mb.count() != itemCount(res) {
			t.Fatalf("%d docs, %d items", mb.count(), itemCount(res))
		}
		refused := map[int]*itemRefusal{}
		var kept []classify.Target
		for _, tg := range res.Targets {
			if mask&(1<<(tg.Item%64)) != 0 {
				refused[tg.Item] = &itemRefusal{item: tg.Item, reason: "r", status: 403}
			} else {
				kept = append(kept, tg)
			}
		}
		fwd := mb.forward(refused)
		again, err := classify.Classify(classify.Request{Method: "POST", Path: "/def/_mget", Body: fwd, ContentType: "application/json"})
		if err != nil {
			t.Fatalf("forwarded body %s refused: %v", fwd, err)
		}
		if len(again.Targets) != len(kept) {
			t.Fatalf("forwarded %s: %d targets, want %d", fwd, len(again.Targets), len(kept))
		}
		for i, tg := range again.Targets {
			if tg.Action != kept[i].Action || strings.Join(tg.Indices, ",") != strings.Join(kept[i].Indices, ",") {
				t.Fatalf("forwarded target %d = %+v, want %+v", i, tg, kept[i])
			}
		}
		for i := range refused {
			if !json.Valid(mb.render(i, refused[i])) {
				t.Fatalf("invalid rendering of doc %d", i)
			}
		}
	})
}
