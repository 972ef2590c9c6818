package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/searchctx"
)

// fakeAsyncES stands in for the Elasticsearch APIs the shared test node
// lacks: its distribution (integ-test-zip) has no async-search, EQL or
// ES|QL module, so async ids are exercised against this stub, which
// answers as Elasticsearch 8.19 does (shapes from the reference and the
// Elasticsearch sources). Scroll and PIT are tested against the real node
// (cmd/portcullis TestSearchContextsRealElasticsearch). It records every
// request that reaches it.
type fakeAsyncES struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids map[string]bool
	got []string // "METHOD /path?query" of every request
	hdr []http.Header
	// bigScroll: a search with ?scroll answers a document holding a
	// "_scroll_id" field, then megabytes of hits, and no scroll id of its
	// own.
	bigScroll bool
}

func newFakeAsyncES(t *testing.T) *fakeAsyncES {
	f := &fakeAsyncES{ids: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func newAsyncID() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.URLEncoding.EncodeToString(b)
}

func (f *fakeAsyncES) seen() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *fakeAsyncES) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.got = append(f.got, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	f.hdr = append(f.hdr, r.Header.Clone())
	f.mu.Unlock()
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	last := segs[len(segs)-1]
	exists := func(id string) bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.ids[id]
	}
	open := func() string {
		id := newAsyncID()
		f.mu.Lock()
		f.ids[id] = true
		f.mu.Unlock()
		return id
	}
	missing := func(id string) {
		w.WriteHeader(404)
		w.Write(searchctx.MissingAsync(id))
	}
	switch {
	case r.Method == "POST" && last == "_async_search", r.Method == "POST" && strings.HasSuffix(r.URL.Path, "/_eql/search"):
		fmt.Fprintf(w, `{"id":%q,"is_partial":true,"is_running":true,"start_time_in_millis":1,"expiration_time_in_millis":2,"response":{"id":"nested-not-this","hits":{"hits":[]}}}`, open())
	case r.Method == "POST" && r.URL.Path == "/_query/async":
		id := open()
		w.Header().Set("X-Elasticsearch-Async-Id", id)
		w.Header().Set("X-Elasticsearch-Async-Is-Running", "true")
		fmt.Fprint(w, `{"is_running":true,"columns":[],"values":[]}`)
	case r.Method == "GET" && len(segs) == 3 && segs[1] == "status":
		if !exists(last) {
			missing(last)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"is_running":false,"is_partial":false,"completion_status":200}`, last)
	case r.Method == "GET" && (segs[0] == "_async_search" || segs[0] == "_eql" || segs[0] == "_query"):
		if !exists(last) {
			missing(last)
			return
		}
		fmt.Fprintf(w, `{"id":%q,"is_partial":false,"is_running":false,"response":{"hits":{"hits":[]}}}`, last)
	case r.Method == "DELETE" && (segs[0] == "_async_search" || segs[0] == "_eql" || segs[0] == "_query"):
		if !exists(last) {
			missing(last)
			return
		}
		f.mu.Lock()
		delete(f.ids, last)
		f.mu.Unlock()
		fmt.Fprint(w, `{"acknowledged":true}`)
	case r.Method == "DELETE" && r.URL.Path == "/_search/scroll":
		fmt.Fprint(w, `{"succeeded":true,"num_freed":1}`)
	case strings.HasSuffix(r.URL.Path, "/_search") && r.URL.Query().Get("scroll") != "":
		if f.bigScroll {
			fmt.Fprint(w, `{"took":1,"hits":{"hits":[{"_source":{"_scroll_id":"VICTIM-SCROLL"}}`)
			for range 20000 {
				fmt.Fprint(w, `,{"_source":{"n":"0123456789abcdef0123456789abcdef"}}`)
			}
			fmt.Fprint(w, `]}}`)
			return
		}
		fmt.Fprintf(w, `{"_scroll_id":%q,"took":1,"hits":{"hits":[]}}`, open())
	default:
		fmt.Fprint(w, `{"upstream":true}`)
	}
}

type gwReply struct {
	status int
	body   string
	header http.Header
}

func gwCall(t *testing.T, method, u, userpass, body string) gwReply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	resp := do(t, method, u, rd, userpass, "Content-Type", "application/json", "Accept-Encoding", "gzip")
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return gwReply{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// contextUsers gives tg a role reading logs-* and the users alice and bob
// holding it, carol holding it and monitor.
func contextUsers(t *testing.T, tg *testGateway) {
	t.Helper()
	for path, body := range map[string]string{
		"/_security/role/logs_reader": `{"indices":[{"names":["logs-*"],"privileges":["read"]}]}`,
		"/_security/role/mon":         `{"cluster":["monitor"]}`,
		"/_security/user/alice":       `{"password":"alice-pw","roles":["logs_reader"]}`,
		"/_security/user/bob":         `{"password":"bob-pw","roles":["logs_reader"]}`,
		"/_security/user/carol":       `{"password":"carol-pw","roles":["logs_reader","mon"]}`,
	} {
		if r := gwCall(t, "PUT", tg.url+path, "admin:admin-pw", body); r.status != 200 {
			t.Fatalf("PUT %s: %d %s", path, r.status, r.body)
		}
	}
}

func mustReply(t *testing.T, r gwReply, status int, what string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, r.status, status, r.body)
	}
}

// TestAsyncSearchOwnership: an async search is its submitter's: another
// user with the same role can neither read nor delete it (Elasticsearch's
// 404 resource_not_found_exception, recorded as access_denied, and the
// request never reaches Elasticsearch); the owner reads its status
// without the monitor privilege, a holder of monitor reads anybody's;
// once deleted the id is nobody's.
func TestAsyncSearchOwnership(t *testing.T) {
	es := newFakeAsyncES(t)
	tg := newTestGateway(t, es.srv.URL)
	contextUsers(t, tg)

	r := gwCall(t, "POST", tg.url+"/logs-a/_async_search?wait_for_completion_timeout=0s&keep_alive=2m", "alice:alice-pw", `{"query":{"match_all":{}}}`)
	mustReply(t, r, 200, "alice submits")
	var sub struct{ ID string }
	if err := json.Unmarshal([]byte(r.body), &sub); err != nil || sub.ID == "" {
		t.Fatalf("submit answer %s", r.body)
	}
	if ae := es.hdr[len(es.hdr)-1].Get("Accept-Encoding"); ae == "gzip" {
		t.Fatal("a request whose answer is read for its id went out accepting gzip")
	}
	h := sha256.Sum256([]byte(sub.ID))
	b, ok := tg.state.model.Context(h, time.Now())
	if !ok || b.Kind != events.ContextAsync || b.Owner != (events.ContextOwner{Username: "alice", RealmType: "native"}) {
		t.Fatalf("binding %+v %v", b, ok)
	}
	// keep_alive=2m: bound for twice that and five minutes.
	if d := time.Until(b.ExpiresAt); d < 8*time.Minute || d > 9*time.Minute+time.Second {
		t.Fatalf("binding expires in %s", d)
	}
	if _, ok := tg.state.model.Context(sha256.Sum256([]byte("nested-not-this")), time.Now()); ok {
		t.Fatal("an id nested in the answer was bound")
	}

	mustReply(t, gwCall(t, "GET", tg.url+"/_async_search/"+sub.ID, "alice:alice-pw", ""), 200, "alice reads")
	before := len(es.seen())
	for _, req := range []struct{ method, path string }{
		{"GET", "/_async_search/" + sub.ID}, {"DELETE", "/_async_search/" + sub.ID}, {"GET", "/_eql/search/" + sub.ID},
	} {
		r = gwCall(t, req.method, tg.url+req.path, "bob:bob-pw", "")
		if r.status != 404 || r.body != string(searchctx.MissingAsync(sub.ID)) || r.header.Get("X-Elastic-Product") != "Elasticsearch" {
			t.Fatalf("bob %s %s: %d %s", req.method, req.path, r.status, r.body)
		}
		o := tg.out.last()
		if o.Action != events.ActionAccessDenied || o.User != "bob" || o.Status != 404 || o.ESAction == "" || !strings.Contains(o.Reason, "another user") {
			t.Fatalf("bob's refusal recorded as %+v", o)
		}
	}
	if got := es.seen(); len(got) != before {
		t.Fatalf("bob's requests reached Elasticsearch: %q", got[before:])
	}

	// Status: the owner without monitor, carol with it; bob has neither.
	mustReply(t, gwCall(t, "GET", tg.url+"/_async_search/status/"+sub.ID, "alice:alice-pw", ""), 200, "alice's status")
	if o := tg.out.last(); o.Action != events.ActionAccessGranted || o.Rule != "context_owner" {
		t.Fatalf("alice's status recorded as %+v", o)
	}
	mustReply(t, gwCall(t, "GET", tg.url+"/_async_search/status/"+sub.ID, "carol:carol-pw", ""), 200, "carol's status (monitor)")
	mustReply(t, gwCall(t, "GET", tg.url+"/_async_search/status/"+sub.ID, "bob:bob-pw", ""), 403, "bob's status")

	mustReply(t, gwCall(t, "DELETE", tg.url+"/_async_search/"+sub.ID, "alice:alice-pw", ""), 200, "alice deletes")
	if _, ok := tg.state.model.Context(h, time.Now()); ok {
		t.Fatal("deleted async search still bound")
	}
	before = len(es.seen())
	r = gwCall(t, "GET", tg.url+"/_async_search/"+sub.ID, "alice:alice-pw", "")
	if r.status != 404 || r.body != string(searchctx.MissingAsync(sub.ID)) || len(es.seen()) != before {
		t.Fatalf("alice reads her deleted search: %d %s", r.status, r.body)
	}
	if o := tg.out.last(); !strings.Contains(o.Reason, "not bound") {
		t.Fatalf("reason %q", o.Reason)
	}
}

// TestAsyncIDsOfEQLAndESQL: an EQL search's id (in the body) and an ES|QL
// async query's (in X-Elasticsearch-Async-Id) are bound like an async
// search's.
func TestAsyncIDsOfEQLAndESQL(t *testing.T) {
	es := newFakeAsyncES(t)
	tg := newTestGateway(t, es.srv.URL)
	contextUsers(t, tg)

	r := gwCall(t, "POST", tg.url+"/logs-a/_eql/search", "alice:alice-pw", `{"query":"any where true","wait_for_completion_timeout":"0s"}`)
	mustReply(t, r, 200, "eql search")
	var eql struct{ ID string }
	json.Unmarshal([]byte(r.body), &eql)
	mustReply(t, gwCall(t, "GET", tg.url+"/_eql/search/"+eql.ID, "alice:alice-pw", ""), 200, "alice's eql result")
	mustReply(t, gwCall(t, "GET", tg.url+"/_eql/search/"+eql.ID, "bob:bob-pw", ""), 404, "bob reads alice's eql result")

	// ES|QL is the superuser's (its targets are in the query text).
	r = gwCall(t, "POST", tg.url+"/_query/async", "admin:admin-pw", `{"query":"FROM logs-a"}`)
	mustReply(t, r, 200, "esql async")
	id := r.header.Get("X-Elasticsearch-Async-Id")
	if id == "" {
		t.Fatal("no async id header")
	}
	mustReply(t, gwCall(t, "GET", tg.url+"/_query/async/"+id, "admin:admin-pw", ""), 200, "admin's esql result")
	mustReply(t, gwCall(t, "GET", tg.url+"/_query/async/"+id, "alice:alice-pw", ""), 404, "alice reads admin's esql result")
	mustReply(t, gwCall(t, "DELETE", tg.url+"/_query/async/"+id, "admin:admin-pw", ""), 200, "admin deletes")
}

// TestAnswerIDTopLevelOnly: an id written into a document of the hits is
// never bound (else a user could bind another's scroll to herself by
// indexing it), and an answer read for its id reaches the client intact.
func TestAnswerIDTopLevelOnly(t *testing.T) {
	es := newFakeAsyncES(t)
	es.bigScroll = true
	tg := newTestGateway(t, es.srv.URL)
	contextUsers(t, tg)
	resp := do(t, "POST", tg.url+"/logs-a/_search?scroll=1m", strings.NewReader(`{}`), "alice:alice-pw", "Content-Type", "application/json")
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("search: %d %v", resp.StatusCode, err)
	}
	if !json.Valid(body) || len(body) < 700000 || !bytes.HasPrefix(body, []byte(`{"took":1,"hits":{"hits":[{"_source":{"_scroll_id":"VICTIM-SCROLL"}}`)) {
		t.Fatalf("answer altered: %d bytes, valid %v, begins %.80s", len(body), json.Valid(body), body)
	}
	if _, ok := tg.state.model.Context(sha256.Sum256([]byte("VICTIM-SCROLL")), time.Now()); ok {
		t.Fatal("an id from a document was bound")
	}
	if n := tg.state.model.Contexts(); n != 0 {
		t.Fatalf("%d bindings, want none", n)
	}
}

// TestContextBindLimit: an id the gateway cannot bind (too many bindings)
// is not handed out: the client gets a 503 and Elasticsearch is asked to
// free the context.
func TestContextBindLimit(t *testing.T) {
	es := newFakeAsyncES(t)
	tg := newTestGateway(t, es.srv.URL)
	contextUsers(t, tg)
	tg.state.model.SetContextLimits(10, 1)
	mustReply(t, gwCall(t, "POST", tg.url+"/logs-a/_search?scroll=1m", "alice:alice-pw", `{}`), 200, "first scroll")
	r := gwCall(t, "POST", tg.url+"/logs-a/_search?scroll=1m", "alice:alice-pw", `{}`)
	if r.status != 503 || strings.Contains(r.body, "_scroll_id") {
		t.Fatalf("second scroll: %d %s", r.status, r.body)
	}
	seen := es.seen()
	if last := seen[len(seen)-1]; !strings.HasPrefix(last, `DELETE /_search/scroll {"scroll_id":["`) {
		t.Fatalf("the unbound scroll was not freed: %q", last)
	}
	// Another user still has room.
	mustReply(t, gwCall(t, "POST", tg.url+"/logs-a/_search?scroll=1m", "bob:bob-pw", `{}`), 200, "bob's scroll")
}

// TestClearScrollLimitedToOwn: a clear scroll naming another user's id
// goes on with the caller's ids alone, rewritten as a plain JSON body.
func TestClearScrollLimitedToOwn(t *testing.T) {
	es := newFakeAsyncES(t)
	tg := newTestGateway(t, es.srv.URL)
	contextUsers(t, tg)
	scroll := func(user string) string {
		r := gwCall(t, "POST", tg.url+"/logs-a/_search?scroll=1m", user, `{}`)
		mustReply(t, r, 200, "scroll of "+user)
		var a struct {
			ScrollID string `json:"_scroll_id"`
		}
		json.Unmarshal([]byte(r.body), &a)
		return a.ScrollID
	}
	mine, theirs := scroll("alice:alice-pw"), scroll("bob:bob-pw")
	r := gwCall(t, "DELETE", tg.url+"/_search/scroll/"+url.PathEscape(theirs)+","+url.PathEscape(mine)+"?pretty&scroll_id="+url.QueryEscape(theirs), "alice:alice-pw", "")
	mustReply(t, r, 200, "clear")
	seen := es.seen()
	if want := `DELETE /_search/scroll?pretty {"scroll_id":["` + mine + `"]}`; seen[len(seen)-1] != want {
		t.Fatalf("forwarded %q, want %q", seen[len(seen)-1], want)
	}
	if ct := es.hdr[len(es.hdr)-1].Get("Content-Type"); ct != "application/json" {
		t.Fatalf("rewritten body sent as %q", ct)
	}
	if _, ok := tg.state.model.Context(sha256.Sum256([]byte(theirs)), time.Now()); !ok {
		t.Fatal("bob's binding dropped by alice's clear")
	}
	if _, ok := tg.state.model.Context(sha256.Sum256([]byte(mine)), time.Now()); ok {
		t.Fatal("alice's binding kept after her clear")
	}
	// Only others' ids: nothing reaches Elasticsearch.
	before := len(es.seen())
	r = gwCall(t, "DELETE", tg.url+"/_search/scroll", "alice:alice-pw", `{"scroll_id":"`+theirs+`"}`)
	if r.status != 404 || r.body != `{"succeeded":true,"num_freed":0}` || len(es.seen()) != before {
		t.Fatalf("clear of bob's scroll alone: %d %s", r.status, r.body)
	}
}

func TestContextOwner(t *testing.T) {
	tests := []struct {
		p    principal
		want events.ContextOwner
	}{
		{principal{name: "a", realm: realmNative}, events.ContextOwner{Username: "a", RealmType: "native"}},
		{principal{name: "a", realm: realmToken, byToken: true}, events.ContextOwner{Username: "a", RealmType: "native"}},
		{principal{name: "a", realm: realmFile}, events.ContextOwner{Username: "a", RealmType: "file"}},
		{principal{name: "a", realm: realmLDAP}, events.ContextOwner{Username: "a", RealmType: "ldap", RealmName: realmLDAP}},
		{principal{name: "a", realm: realmAPIKey, apiKeyID: "k1"}, events.ContextOwner{Username: "a", RealmType: realmAPIKey, APIKeyID: "k1"}},
		{principal{name: "_anonymous", realm: realmAnonymous, anonymous: true}, events.ContextOwner{Username: "_anonymous", RealmType: realmAnonymous, RealmName: realmAnonymous}},
	}
	seen := map[events.ContextOwner]bool{}
	for _, tt := range tests {
		got := tt.p.contextOwner()
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v: got %+v, want %+v", tt.p, got, tt.want)
		}
		seen[got] = true
	}
	// A user by password and by login token is one owner; everything else differs.
	if len(seen) != len(tests)-1 {
		t.Errorf("%d distinct owners, want %d", len(seen), len(tests)-1)
	}
}

// TestScrollBindingRenewed: a continuation asking for a keep-alive the
// binding would not outlive renews it, once; one within it publishes
// nothing.
func TestScrollBindingRenewed(t *testing.T) {
	es := newFakeAsyncES(t)
	tg := newTestGateway(t, es.srv.URL)
	contextUsers(t, tg)
	r := gwCall(t, "POST", tg.url+"/logs-a/_search?scroll=1m", "alice:alice-pw", `{}`)
	mustReply(t, r, 200, "open")
	var a struct {
		ScrollID string `json:"_scroll_id"`
	}
	json.Unmarshal([]byte(r.body), &a)
	h := sha256.Sum256([]byte(a.ScrollID))
	tokenEvents := func() uint64 {
		tg.state.mu.Lock()
		defer tg.state.mu.Unlock()
		return tg.state.seq[events.StreamTokens]
	}
	b, _ := tg.state.model.Context(h, time.Now())
	first, events0 := b.ExpiresAt, tokenEvents()
	if d := time.Until(first); d > 7*time.Minute+time.Second || d < 6*time.Minute {
		t.Fatalf("scroll=1m bound for %s, want 7m", d)
	}

	mustReply(t, gwCall(t, "POST", tg.url+"/_search/scroll", "alice:alice-pw", `{"scroll":"1m","scroll_id":"`+a.ScrollID+`"}`), 200, "continue 1m")
	if n := tokenEvents(); n != events0 {
		t.Fatalf("%d events published for a continuation within the binding", n-events0)
	}
	mustReply(t, gwCall(t, "GET", tg.url+"/_search/scroll/"+url.PathEscape(a.ScrollID)+"?scroll=10m", "alice:alice-pw", ""), 200, "continue 10m")
	b, _ = tg.state.model.Context(h, time.Now())
	if n := tokenEvents(); n != events0+1 {
		t.Fatalf("%d events published for a renewal, want 1", n-events0)
	}
	if d := time.Until(b.ExpiresAt); d < 24*time.Minute || d > 25*time.Minute+time.Second {
		t.Fatalf("renewed binding expires in %s, want 25m", d)
	}
}
