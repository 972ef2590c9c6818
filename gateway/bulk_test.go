package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/auditor/auditortest"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/internal/jsonstr"
)

func TestBulkRefusalItem(t *testing.T) {
	const reason = "action [indices:data/write/bulk[s]] is unauthorized for user [u] with effective roles [r] on indices [s], this action is granted by the index privileges [create_doc,create,delete,index,write,all]"
	tests := []struct {
		item   classify.BulkItem
		index  string
		status int
		reason string
		want   string
	}{
		{classify.BulkItem{Op: "index", ID: "1", HasID: true}, "s", 403, reason,
			`{"index":{"_index":"s","_id":"1","status":403,"error":{"type":"security_exception","reason":"` + reason + `"}}}`},
		{classify.BulkItem{Op: "create"}, "s", 403, reason,
			`{"create":{"_index":"s","_id":null,"status":403,"error":{"type":"security_exception","reason":"` + reason + `"}}}`},
		{classify.BulkItem{Op: "update", ID: "a\"b\\c\n\x01é", HasID: true}, "s", 403, "r",
			`{"update":{"_index":"s","_id":"a\"b\\c\n\u0001é","status":403,"error":{"type":"security_exception","reason":"r"}}}`},
		{classify.BulkItem{Op: "delete", ID: "", HasID: true}, "idx", 401, "action [indices:data/write/delete] requires authentication",
			`{"delete":{"_index":"idx","_id":"","status":401,"error":{"type":"security_exception","reason":"action [indices:data/write/delete] requires authentication",` +
				`"header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}}}`},
	}
	for _, tt := range tests {
		got := string(bulkRefusalItem(tt.item, tt.index, &itemRefusal{status: tt.status, reason: tt.reason}))
		if got != tt.want {
			t.Errorf("bulkRefusalItem(%+v)\n got %s\nwant %s", tt.item, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("invalid JSON %s", got)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for in, want := range map[string]string{
		"":             `""`,
		"plain":        `"plain"`,
		"q\"b\\s/":     `"q\"b\\s/"`,
		"\b\t\n\f\r":   `"\b\t\n\f\r"`,
		"\x00\x1f\x7f": `"\u0000\u001f` + "\x7f" + `"`,
		"héllo\u2028":  "\"héllo\u2028\"",
		"bad\xffutf8":  "\"bad\uFFFDutf8\"",
		"<&>":          `"<&>"`,
	} {
		got := string(jsonstr.AppendJackson(nil, in))
		if got != want {
			t.Errorf("jsonstr.AppendJackson(%q) = %s, want %s", in, got, want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("jsonstr.AppendJackson(%q) = %s: %v", in, got, err)
		}
	}
}

func TestMergeResponse(t *testing.T) {
	ri := func(pos int, op string) renderedItem {
		return renderedItem{pos: pos, json: []byte(`{"` + op + `":{"_index":"s","_id":null,"status":403}}`)}
	}
	ok := func(op string, n int) string {
		return fmt.Sprintf(`{"%s":{"_index":"l","_id":"%d","status":201}}`, op, n)
	}
	tests := []struct {
		name     string
		upstream string
		shape    *responseShape
		nilUp    bool
		total    int
		refused  []renderedItem
		want     string
		err      string
	}{
		{name: "refused in the middle", total: 3, refused: []renderedItem{ri(1, "index")},
			upstream: `{"errors":false,"took":4,"items":[` + ok("index", 0) + `,` + ok("create", 2) + `]}`,
			want:     `{"errors":true,"took":4,"items":[` + ok("index", 0) + `,{"index":{"_index":"s","_id":null,"status":403}},` + ok("create", 2) + `]}`},
		{name: "refused first and last, every op", total: 5, refused: []renderedItem{ri(0, "create"), ri(2, "update"), ri(4, "delete")},
			upstream: `{"errors":false,"took":1,"items":[` + ok("index", 1) + `,` + ok("delete", 3) + `]}`,
			want: `{"errors":true,"took":1,"items":[{"create":{"_index":"s","_id":null,"status":403}},` + ok("index", 1) +
				`,{"update":{"_index":"s","_id":null,"status":403}},` + ok("delete", 3) + `,{"delete":{"_index":"s","_id":null,"status":403}}]}`},
		{name: "other members kept in order, items byte for byte", total: 2, refused: []renderedItem{ri(0, "index")},
			upstream: "{\n  \"errors\" : true,\n  \"took\" : 7,\n  \"ingest_took\" : 2,\n  \"items\" : [ {\n    \"index\" : { \"status\" : 429 }\n  } ]\n}\n",
			want:     `{"errors":true,"took":7,"ingest_took":2,"items":[{"index":{"_index":"s","_id":null,"status":403}},{` + "\n    \"index\" : { \"status\" : 429 }\n  }" + `]}`},
		{name: "items before errors", total: 2, refused: []renderedItem{ri(1, "index")},
			upstream: `{"items":[` + ok("index", 0) + `],"took":3,"errors":false}`,
			want:     `{"items":[` + ok("index", 0) + `,{"index":{"_index":"s","_id":null,"status":403}}],"took":3,"errors":true}`},
		{name: "every item refused, no upstream", nilUp: true, total: 2, refused: []renderedItem{ri(0, "index"), ri(1, "delete")},
			want: `{"errors":true,"took":0,"items":[{"index":{"_index":"s","_id":null,"status":403}},{"delete":{"_index":"s","_id":null,"status":403}}]}`},
		{name: "no upstream but items forwarded", nilUp: true, total: 2, refused: []renderedItem{ri(0, "index")}, err: "no response"},
		{name: "fewer items than forwarded", total: 3, refused: []renderedItem{ri(1, "index")},
			upstream: `{"errors":false,"took":1,"items":[` + ok("index", 0) + `]}`, err: "forwarded"},
		{name: "more items than forwarded", total: 2, refused: []renderedItem{ri(1, "index")},
			upstream: `{"errors":false,"took":1,"items":[` + ok("index", 0) + `,` + ok("index", 2) + `]}`, err: "more entries"},
		{name: "no items", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"errors":false,"took":1}`, err: "no items"},
		{name: "no errors", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"took":1,"items":[{}]}`, err: "no items"},
		{name: "duplicate items", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"errors":false,"items":[{}],"items":[{}]}`, err: "duplicate items"},
		{name: "items not an array", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"errors":false,"items":{}}`, err: "not an array"},
		{name: "msearch", shape: &msearchShape, total: 3, refused: []renderedItem{{pos: 0, json: []byte(`{"error":{},"status":403}`)}},
			upstream: `{"took":5,"responses":[{"hits":{},"status":200},{"error":{"type":"x"},"status":404}]}`,
			want:     `{"took":5,"responses":[{"error":{},"status":403},{"hits":{},"status":200},{"error":{"type":"x"},"status":404}]}`},
		{name: "msearch has no errors member to set", shape: &msearchShape, total: 2, refused: []renderedItem{{pos: 1, json: []byte(`{}`)}},
			upstream: `{"took":5,"errors":false,"responses":[{}]}`, want: `{"took":5,"errors":false,"responses":[{},{}]}`},
		{name: "msearch all refused", shape: &msearchShape, nilUp: true, total: 1, refused: []renderedItem{{pos: 0, json: []byte(`{"status":403}`)}},
			want: `{"took":0,"responses":[{"status":403}]}`},
		{name: "mget", shape: &mgetShape, total: 2, refused: []renderedItem{{pos: 1, json: []byte(`{"_index":"s","_id":"2","error":{}}`)}},
			upstream: `{"docs":[{"_index":"l","_id":"1","found":true}]}`, want: `{"docs":[{"_index":"l","_id":"1","found":true},{"_index":"s","_id":"2","error":{}}]}`},
		{name: "mget all refused", shape: &mgetShape, nilUp: true, total: 1, refused: []renderedItem{{pos: 0, json: []byte(`{}`)}}, want: `{"docs":[{}]}`},
		{name: "mget without docs", shape: &mgetShape, total: 2, refused: []renderedItem{{pos: 1, json: []byte(`{}`)}}, upstream: `{"items":[{}]}`, err: "no docs"},
		{name: "an error document", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"error":{"type":"x"},"status":400}`, err: "no items"},
		{name: "not an object", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `[]`, err: "not a JSON object"},
		{name: "trailing data", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"errors":false,"items":[{}]} {}`, err: "after the object"},
		{name: "truncated", total: 2, refused: []renderedItem{ri(1, "index")}, upstream: `{"errors":false,"items":[{}`, err: "merge response"},
		{name: "refused out of order", total: 3, refused: []renderedItem{ri(2, "index"), ri(1, "index")}, upstream: `{"errors":false,"items":[{}]}`, err: "out of order"},
		{name: "refused beyond total", total: 1, refused: []renderedItem{ri(1, "index")}, upstream: `{"errors":false,"items":[{}]}`, err: "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var up []byte
			if !tt.nilUp {
				up = []byte(tt.upstream)
			}
			shape := bulkShape
			if tt.shape != nil {
				shape = *tt.shape
			}
			got, err := mergeResponse(up, shape, tt.total, tt.refused)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q (out %s)", err, tt.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// FuzzMergeBulkResponse: whatever Elasticsearch answers, the merge never
// panics, and what it returns is a bulk response with every item at its
// place: the refused ones as rendered, errors true.
func FuzzMergeResponse(f *testing.F) {
	f.Add(`{"errors":false,"took":4,"items":[{"index":{"status":201}},{"create":{"status":201}}]}`, uint8(3), uint64(2))
	f.Add(`{"took":1,"errors":true,"ingest_took":0,"items":[]}`, uint8(2), uint64(3))
	f.Add(`{"errors":false,"items":[{"a":[1,2,{"b":null}]}]}`, uint8(2), uint64(1))
	f.Add(`{"errors":false,"items":[1]}`, uint8(1), uint64(0))
	f.Fuzz(func(t *testing.T, upstream string, total uint8, mask uint64) {
		n := int(total % 64)
		var refused []renderedItem
		for i := 0; i < n; i++ {
			if mask&(1<<i) != 0 {
				refused = append(refused, renderedItem{pos: i, json: []byte(fmt.Sprintf(`{"index":{"_index":"s","_id":"%d","status":403}}`, i))})
			}
		}
		out, err := mergeResponse([]byte(upstream), bulkShape, n, refused)
		if err != nil {
			return
		}
		var m struct {
			Errors bool              `json:"errors"`
			Items  []json.RawMessage `json:"items"`
		}
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("merged %q into invalid JSON %q: %v", upstream, out, err)
		}
		if !m.Errors || len(m.Items) != n {
			t.Fatalf("merged %q: errors %v, %d items, want %d", upstream, m.Errors, len(m.Items), n)
		}
		for _, rf := range refused {
			if !bytes.Equal(m.Items[rf.pos], rf.json) {
				t.Fatalf("item %d = %s, want %s", rf.pos, m.Items[rf.pos], rf.json)
			}
		}
	})
}

// bulkFixture is a gateway in front of the real Elasticsearch node, with
// a counter of the requests that reach it, and unique index names.
type bulkFixture struct {
	tg                    *testGateway
	es                    string
	hits                  atomic.Int64
	logsA, logsC, secretB string
	pattern               string
}

func newBulkFixture(t *testing.T, mutate ...func(*Config)) *bulkFixture {
	t.Helper()
	fx := &bulkFixture{es: auditortest.ESURL(t)}
	target, err := url.Parse(fx.es)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.hits.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(up.Close)
	fx.tg = newTestGateway(t, up.URL, mutate...)
	run := rand.Uint32()
	fx.pattern = fmt.Sprintf("logs-pcb-%d-*", run)
	fx.logsA, fx.logsC = fmt.Sprintf("logs-pcb-%d-a", run), fmt.Sprintf("logs-pcb-%d-c", run)
	fx.secretB = fmt.Sprintf("secret-pcb-%d-b", run)
	t.Cleanup(func() {
		resp := do(t, "DELETE", fx.es+"/"+fx.logsA+","+fx.logsC+","+fx.secretB+"?ignore_unavailable=true", nil, "")
		resp.Body.Close()
	})
	return fx
}

// call sends a request through the gateway and returns status, headers
// and the body.
func (fx *bulkFixture) call(t *testing.T, method, path, auth, body string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := do(t, method, fx.tg.url+path, rd, "", append([]string{"Authorization", auth}, hdr...)...)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (fx *bulkFixture) must(t *testing.T, want int, method, path, auth, body string) []byte {
	t.Helper()
	got, _, b := fx.call(t, method, path, auth, body, "Content-Type", "application/json")
	if got != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, want)
	}
	return b
}

// bulkResponse is the part of a bulk response the tests check; items are
// kept raw to compare refused ones byte for byte.
type bulkResponse struct {
	Errors bool              `json:"errors"`
	Took   *int              `json:"took"`
	Items  []json.RawMessage `json:"items"`
}

func parseBulk(t *testing.T, b []byte) bulkResponse {
	t.Helper()
	var r bulkResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bulk response %s: %v", b, err)
	}
	return r
}

// itemStatus is the status of a raw bulk response item under op.
func itemStatus(t *testing.T, raw json.RawMessage, op string) int {
	t.Helper()
	var m map[string]struct {
		Status int `json:"status"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("item %s: %v", raw, err)
	}
	it, ok := m[op]
	if !ok || len(m) != 1 {
		t.Fatalf("item %s is not a %q item", raw, op)
	}
	return it.Status
}

// refusedItem is Elasticsearch's aborted item.
func refusedItem(op, index, id, reason string) string {
	idJSON := "null"
	if id != "" {
		idJSON = `"` + id + `"`
	}
	return `{"` + op + `":{"_index":"` + index + `","_id":` + idJSON + `,"status":403,"error":{"type":"security_exception","reason":"` + reason + `"}}}`
}

const grantedByBulk = ", this action is granted by the index privileges [create_doc,create,delete,index,write,all]"

// TestBulkItemsFailAlone: a role may write logs-* only; a _bulk mixing
// items to logs and to another index writes the logs items and answers a
// 403 item at the place of each other one, as Elasticsearch does.
func TestBulkItemsFailAlone(t *testing.T) {
	fx := newBulkFixture(t)
	admin := basic("admin", "admin-pw")
	fx.must(t, 200, "PUT", "/_security/role/logs_writer", admin, `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["write"]}]}`)
	fx.must(t, 200, "PUT", "/_security/user/wendy", admin, `{"password":"wendy-pw","roles":["logs_writer"]}`)
	wendy := basic("wendy", "wendy-pw")
	denied := func(index string) string {
		return "action [indices:data/write/bulk[s]] is unauthorized for user [wendy] with effective roles [logs_writer] on indices [" + index + "]" + grantedByBulk
	}

	body := `{"index":{"_index":"` + fx.logsA + `","_id":"1"}}` + "\n" + `{"msg":"a"}` + "\n" +
		`{"index":{"_index":"` + fx.secretB + `","_id":"2"}}` + "\n" + `{"msg":"b"}` + "\n" +
		`{"create":{"_index":"` + fx.logsA + `"}}` + "\n" + `{"msg":"c"}` + "\n" +
		`{"delete":{"_index":"` + fx.secretB + `","_id":"3"}}` + "\n" +
		`{"update":{"_index":"` + fx.secretB + `","_id":"4"}}` + "\n" + `{"doc":{"msg":"d"}}` + "\n" +
		`{"create":{"_index":"` + fx.secretB + `"}}` + "\n" + `{"msg":"no id"}` + "\n" +
		`{"update":{"_index":"` + fx.logsA + `","_id":"1"}}` + "\n" + `{"doc":{"msg":"e"}}` + "\n"
	before := fx.hits.Load()
	status, hdr, b := fx.call(t, "POST", "/_bulk?refresh=true", wendy, body, "Content-Type", "application/x-ndjson", "X-Opaque-Id", "bulk-mixed")
	if status != 200 {
		t.Fatalf("bulk: %d %s", status, b)
	}
	if got := fx.hits.Load() - before; got != 1 {
		t.Errorf("%d requests reached Elasticsearch, want 1", got)
	}
	if hdr.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Errorf("X-Elastic-Product missing: %v", hdr)
	}
	r := parseBulk(t, b)
	if !r.Errors || r.Took == nil || len(r.Items) != 7 {
		t.Fatalf("bulk response %s", b)
	}
	for i, want := range []struct {
		op     string
		status int
	}{{"index", 201}, {"index", 403}, {"create", 201}, {"delete", 403}, {"update", 403}, {"create", 403}, {"update", 200}} {
		if got := itemStatus(t, r.Items[i], want.op); got != want.status {
			t.Errorf("item %d: %s, want %s %d", i, r.Items[i], want.op, want.status)
		}
	}
	for i, want := range map[int]string{
		1: refusedItem("index", fx.secretB, "2", denied(fx.secretB)),
		3: refusedItem("delete", fx.secretB, "3", denied(fx.secretB)),
		4: refusedItem("update", fx.secretB, "4", denied(fx.secretB)),
		5: refusedItem("create", fx.secretB, "", denied(fx.secretB)),
	} {
		if string(r.Items[i]) != want {
			t.Errorf("item %d\n got %s\nwant %s", i, r.Items[i], want)
		}
	}

	// The logs items were written; nothing reached the other index.
	doc := map[string]any{}
	resp := do(t, "GET", fx.es+"/"+fx.logsA+"/_doc/1", nil, "")
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc["found"] != true || doc["_source"].(map[string]any)["msg"] != "e" {
		t.Errorf("logs doc 1: %v %v", doc, err)
	}
	resp.Body.Close()
	if got := esCount(t, fx.es, fx.logsA); got != 2 {
		t.Errorf("%s holds %d documents, want 2", fx.logsA, got)
	}
	resp = do(t, "HEAD", fx.es+"/"+fx.secretB, nil, "")
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("%s exists (HEAD %d)", fx.secretB, resp.StatusCode)
	}

	// Each refused item is an access_denied outcome; the request an
	// access_granted one.
	var deniedN, granted int
	fx.tg.out.mu.Lock()
	for _, o := range fx.tg.out.list {
		if o.RequestID != "bulk-mixed" {
			continue
		}
		switch {
		case o.Action == events.ActionAccessDenied && o.ESAction == bulkShardAction && len(o.Indices) == 1 && o.Indices[0] == fx.secretB && o.Status == 403 && o.User == "wendy":
			deniedN++
		case o.Action == events.ActionAccessGranted && o.ESAction == "indices:data/write/bulk":
			granted++
		default:
			t.Errorf("unexpected outcome %+v", o)
		}
	}
	fx.tg.out.mu.Unlock()
	if deniedN != 4 || granted != 1 {
		t.Errorf("%d access_denied and %d access_granted outcomes, want 4 and 1", deniedN, granted)
	}

	t.Run("gzip", func(t *testing.T) {
		var zb bytes.Buffer
		zw := gzip.NewWriter(&zb)
		_, _ = zw.Write([]byte(`{"index":{"_index":"` + fx.secretB + `","_id":"12"}}` + "\n" + `{"msg":"z"}` + "\n" +
			`{"index":{"_index":"` + fx.logsA + `","_id":"11"}}` + "\n" + `{"msg":"z"}` + "\n"))
		_ = zw.Close()
		resp := do(t, "POST", fx.tg.url+"/_bulk?refresh=true", bytes.NewReader(zb.Bytes()), "wendy:wendy-pw",
			"Content-Type", "application/x-ndjson", "Content-Encoding", "gzip", "Accept-Encoding", "gzip")
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("gzip bulk: %d %v %q", resp.StatusCode, resp.Header, b)
		}
		r := parseBulk(t, b)
		if !r.Errors || len(r.Items) != 2 || string(r.Items[0]) != refusedItem("index", fx.secretB, "12", denied(fx.secretB)) || itemStatus(t, r.Items[1], "index") != 201 {
			t.Fatalf("gzip bulk response %s", b)
		}
		if got := esCount(t, fx.es, fx.logsA); got != 3 {
			t.Errorf("%s holds %d documents, want 3", fx.logsA, got)
		}
	})

	t.Run("every item refused", func(t *testing.T) {
		before := fx.hits.Load()
		status, hdr, b := fx.call(t, "POST", "/"+fx.secretB+"/_bulk", wendy,
			`{"index":{"_id":"x"}}`+"\n{}\n"+`{"delete":{"_index":"`+fx.secretB+`","_id":"y"}}`+"\n", "Content-Type", "application/x-ndjson")
		if status != 200 || fx.hits.Load() != before {
			t.Fatalf("all refused: %d %s, %d requests reached Elasticsearch", status, b, fx.hits.Load()-before)
		}
		want := `{"errors":true,"took":0,"items":[` + refusedItem("index", fx.secretB, "x", denied(fx.secretB)) + "," +
			refusedItem("delete", fx.secretB, "y", denied(fx.secretB)) + `]}`
		if string(b) != want || hdr.Get("X-Elastic-Product") != "Elasticsearch" {
			t.Fatalf("\n got %s\nwant %s", b, want)
		}
	})

	t.Run("filter_path", func(t *testing.T) {
		// Nothing refused: the request goes as it came, filter included.
		_, _, b := fx.call(t, "POST", "/_bulk?filter_path=errors", wendy,
			`{"index":{"_index":"`+fx.logsA+`","_id":"f1"}}`+"\n{}\n", "Content-Type", "application/x-ndjson")
		if string(b) != `{"errors":false}` {
			t.Errorf("filtered bulk %s", b)
		}
		// Items refused: the filter is dropped, the answer has it all.
		status, _, b := fx.call(t, "POST", "/_bulk?filter_path=errors", wendy,
			`{"index":{"_index":"`+fx.logsA+`","_id":"f2"}}`+"\n{}\n"+`{"index":{"_index":"`+fx.secretB+`","_id":"f3"}}`+"\n{}\n",
			"Content-Type", "application/x-ndjson")
		r := parseBulk(t, b)
		if status != 200 || !r.Errors || len(r.Items) != 2 || itemStatus(t, r.Items[0], "index") != 201 || itemStatus(t, r.Items[1], "index") != 403 {
			t.Errorf("filtered bulk with a refused item: %d %s", status, b)
		}
	})

	t.Run("item without index", func(t *testing.T) {
		before := fx.hits.Load()
		status, _, b := fx.call(t, "POST", "/_bulk", wendy,
			`{"index":{"_index":"`+fx.secretB+`"}}`+"\n{}\n"+`{"index":{}}`+"\n{}\n", "Content-Type", "application/x-ndjson")
		if status != 400 || !strings.Contains(string(b), `"type":"action_request_validation_exception","reason":"Validation Failed: 1: index is missing;"`) || fx.hits.Load() != before {
			t.Errorf("item without index: %d %s", status, b)
		}
	})

	t.Run("no write privilege anywhere", func(t *testing.T) {
		fx.must(t, 200, "PUT", "/_security/role/logs_reader", admin, `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["read"]}]}`)
		fx.must(t, 200, "PUT", "/_security/user/lena", admin, `{"password":"lena-pw","roles":["logs_reader"]}`)
		status, _, b := fx.call(t, "POST", "/_bulk", basic("lena", "lena-pw"),
			`{"index":{"_index":"`+fx.logsA+`"}}`+"\n{}\n", "Content-Type", "application/x-ndjson")
		want := `{"error":{"root_cause":[{"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized for user [lena] with effective roles [logs_reader]` + grantedByBulk + `"}],` +
			`"type":"security_exception","reason":"action [indices:data/write/bulk] is unauthorized for user [lena] with effective roles [logs_reader]` + grantedByBulk + `"},"status":403}`
		if status != 403 || string(b) != want {
			t.Errorf("bulk without a write privilege: %d\n got %s\nwant %s", status, b, want)
		}
	})

	t.Run("create_doc cannot overwrite", func(t *testing.T) {
		fx.must(t, 200, "PUT", "/_security/role/logs_creator", admin, `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["create_doc"]}]}`)
		fx.must(t, 200, "PUT", "/_security/user/cora", admin, `{"password":"cora-pw","roles":["logs_creator"]}`)
		status, _, b := fx.call(t, "POST", "/_bulk", basic("cora", "cora-pw"),
			`{"index":{"_index":"`+fx.logsC+`","_id":"1"}}`+"\n{}\n"+`{"create":{"_index":"`+fx.logsC+`","_id":"2"}}`+"\n{}\n",
			"Content-Type", "application/x-ndjson")
		r := parseBulk(t, b)
		want := refusedItem("index", fx.logsC, "1", "action [indices:data/write/index:op_type/index] is unauthorized for user [cora] with effective roles [logs_creator] on indices ["+fx.logsC+"], this action is granted by the index privileges [create,index,write,all]")
		if status != 200 || len(r.Items) != 2 || string(r.Items[0]) != want || itemStatus(t, r.Items[1], "create") != 201 {
			t.Errorf("create_doc bulk: %d %s\nwant item 0 %s", status, b, want)
		}
	})

	t.Run("constraint grant", func(t *testing.T) {
		fx.must(t, 200, "POST", "/security/constraint/", admin, `{"paths":["/_bulk","/`+fx.logsA+`"],"methods":["post"],"roles":["cwriter"]}`)
		fx.must(t, 200, "PUT", "/_security/user/cw", admin, `{"password":"cw-password","roles":["cwriter"]}`)
		status, _, b := fx.call(t, "POST", "/_bulk?refresh=true", basic("cw", "cw-password"),
			`{"index":{"_index":"`+fx.secretB+`","_id":"21"}}`+"\n{}\n"+`{"index":{"_index":"`+fx.logsA+`","_id":"22"}}`+"\n{}\n",
			"Content-Type", "application/x-ndjson")
		r := parseBulk(t, b)
		want := refusedItem("index", fx.secretB, "21", "action [indices:data/write/bulk[s]] is unauthorized for user [cw] with effective roles [cwriter] on indices ["+fx.secretB+"]"+grantedByBulk)
		if status != 200 || len(r.Items) != 2 || string(r.Items[0]) != want || itemStatus(t, r.Items[1], "index") != 201 {
			t.Fatalf("constraint bulk: %d %s\nwant item 0 %s", status, b, want)
		}
		before := fx.hits.Load()
		status, _, b = fx.call(t, "POST", "/_bulk", basic("cw", "cw-password"), `{"delete":{"_index":"`+fx.secretB+`","_id":"21"}}`+"\n", "Content-Type", "application/x-ndjson")
		if r := parseBulk(t, b); status != 200 || len(r.Items) != 1 || itemStatus(t, r.Items[0], "delete") != 403 || fx.hits.Load() != before {
			t.Errorf("constraint bulk, all refused: %d %s", status, b)
		}
		resp := do(t, "HEAD", fx.es+"/"+fx.secretB, nil, "")
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("%s exists (HEAD %d)", fx.secretB, resp.StatusCode)
		}
	})

	t.Run("api key narrower than its owner", func(t *testing.T) {
		fx.must(t, 200, "PUT", "/_security/role/logs_writer", admin, `{"cluster":["manage_own_api_key"],"indices":[{"names":["`+fx.pattern+`"],"privileges":["write"]}]}`)
		var key struct{ ID, Encoded string }
		if err := json.Unmarshal(fx.must(t, 200, "POST", "/_security/api_key", wendy,
			`{"name":"only-a","role_descriptors":{"a":{"indices":[{"names":["`+fx.logsA+`"],"privileges":["write"]}]}}}`), &key); err != nil {
			t.Fatal(err)
		}
		status, _, b := fx.call(t, "POST", "/_bulk", "ApiKey "+key.Encoded,
			`{"index":{"_index":"`+fx.logsC+`","_id":"k1"}}`+"\n{}\n"+`{"index":{"_index":"`+fx.logsA+`","_id":"k2"}}`+"\n{}\n",
			"Content-Type", "application/x-ndjson")
		r := parseBulk(t, b)
		want := refusedItem("index", fx.logsC, "k1", "action [indices:data/write/bulk[s]] is unauthorized for API key id ["+key.ID+"] of user [wendy] on indices ["+fx.logsC+"]"+grantedByBulk)
		if status != 200 || len(r.Items) != 2 || string(r.Items[0]) != want || itemStatus(t, r.Items[1], "index") != 201 {
			t.Errorf("api key bulk: %d %s\nwant item 0 %s", status, b, want)
		}
	})
}

// TestBulkItemsAnonymous: the anonymous user's refused items are 401 items
// when authz_exception is false, as Elasticsearch's authenticationRequired
// renders them, and anonymous_access_denied outcomes.
func TestBulkItemsAnonymous(t *testing.T) {
	fx := newBulkFixture(t, func(c *Config) { c.Anonymous = &Anonymous{Roles: []string{"logs_writer"}} })
	fx.must(t, 200, "PUT", "/_security/role/logs_writer", basic("admin", "admin-pw"), `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["write"]}]}`)
	resp := do(t, "POST", fx.tg.url+"/_bulk", strings.NewReader(`{"delete":{"_index":"`+fx.secretB+`","_id":"1"}}`+"\n"+`{"index":{"_index":"`+fx.logsA+`","_id":"1"}}`+"\n{}\n"),
		"", "Content-Type", "application/x-ndjson", "X-Opaque-Id", "anon-bulk")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := parseBulk(t, b)
	want := `{"delete":{"_index":"` + fx.secretB + `","_id":"1","status":401,"error":{"type":"security_exception","reason":"action [indices:data/write/bulk[s]] requires authentication",` +
		`"header":{"WWW-Authenticate":["Basic realm=\"security\", charset=\"UTF-8\"","Bearer realm=\"security\"","ApiKey"]}}}}`
	if resp.StatusCode != 200 || len(r.Items) != 2 || string(r.Items[0]) != want || itemStatus(t, r.Items[1], "index") != 201 {
		t.Fatalf("anonymous bulk: %d %s\nwant item 0 %s", resp.StatusCode, b, want)
	}
	fx.tg.out.mu.Lock()
	defer fx.tg.out.mu.Unlock()
	var denied int
	for _, o := range fx.tg.out.list {
		if o.RequestID == "anon-bulk" && o.Action == events.ActionAnonymousAccessDenied && o.Status == 401 && o.User == "_anonymous" {
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d anonymous_access_denied outcomes, want 1", denied)
	}
}

// TestForbiddenGrantedBy: a 403 ends with the privileges that grant the
// action, as Elasticsearch's does.
func TestForbiddenGrantedBy(t *testing.T) {
	fx := newBulkFixture(t)
	admin := basic("admin", "admin-pw")
	fx.must(t, 200, "PUT", "/_security/role/logs_writer", admin, `{"indices":[{"names":["`+fx.pattern+`"],"privileges":["write"]}]}`)
	fx.must(t, 200, "PUT", "/_security/user/wendy", admin, `{"password":"wendy-pw","roles":["logs_writer"]}`)
	wendy := basic("wendy", "wendy-pw")
	forbidden := func(reason string) string {
		return `{"error":{"root_cause":[{"type":"security_exception","reason":"` + reason + `"}],"type":"security_exception","reason":"` + reason + `"},"status":403}`
	}
	tests := []struct {
		method, path, reason string
	}{
		{"GET", "/" + fx.secretB + "/_search", "action [indices:data/read/search] is unauthorized for user [wendy] with effective roles [logs_writer] on indices [" + fx.secretB + "], this action is granted by the index privileges [read,all]"},
		{"GET", "/_cluster/health", "action [cluster:monitor/health] is unauthorized for user [wendy] with effective roles [logs_writer], this action is granted by the cluster privileges [monitor,manage,all]"},
		{"PUT", "/" + fx.secretB, "action [indices:admin/create] is unauthorized for user [wendy] with effective roles [logs_writer] on indices [" + fx.secretB + "], this action is granted by the index privileges [create_index,manage,all]"},
	}
	for _, tt := range tests {
		status, _, b := fx.call(t, tt.method, tt.path, wendy, "")
		if status != 403 || string(b) != forbidden(tt.reason) {
			t.Errorf("%s %s: %d\n got %s\nwant %s", tt.method, tt.path, status, b, forbidden(tt.reason))
		}
	}
}

// esCount counts the documents of index straight from Elasticsearch.
func esCount(t *testing.T, es, index string) int {
	t.Helper()
	resp := do(t, "GET", es+"/"+index+"/_count", nil, "")
	defer resp.Body.Close()
	var c struct {
		Count int `json:"count"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatalf("count %s: %v", index, err)
	}
	return c.Count
}
