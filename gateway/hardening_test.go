package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawRequest sends exactly the given bytes and reads the answer.
func rawRequest(t *testing.T, base, raw string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read answer: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

type recorder struct {
	mu  sync.Mutex
	got []*http.Request
}

func (rc *recorder) handler(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.got = append(rc.got, r.Clone(r.Context()))
	rc.mu.Unlock()
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
}

func (rc *recorder) last(t *testing.T) *http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.got) == 0 {
		t.Fatal("nothing reached the upstream")
	}
	return rc.got[len(rc.got)-1]
}

// TestHeaderNamesAnyCase: header names are case-insensitive; credentials
// and hop-by-hop headers are found and removed whatever their case, and the
// client cannot plant a second X-Opaque-Id or X-Forwarded-For.
func TestHeaderNamesAnyCase(t *testing.T) {
	rc := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(rc.handler))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp, body := rawRequest(t, tg.url, "GET /data/x HTTP/1.1\r\nHost: x\r\n"+
		"authorization: Basic cmVhZGVyOnJlYWRlci1wdw==\r\n"+ // reader:reader-pw
		"AUTHORIZATION: Basic ZWxhc3RpYzpTRUNSRVQ=\r\n"+
		"proxy-authorization: Basic eA==\r\n"+
		"connection: x-foo\r\nx-foo: 1\r\n"+
		"x-forwarded-for: 6.6.6.6\r\nx-opaque-id: mine\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("lower-case authorization: %d %s", resp.StatusCode, body)
	}
	got := rc.last(t)
	for _, h := range []string{"Authorization", "Proxy-Authorization", "X-Foo"} {
		if v := got.Header.Values(h); len(v) != 0 {
			t.Errorf("%s forwarded: %q", h, v)
		}
	}
	if v := got.Header.Values("X-Opaque-Id"); len(v) != 1 || v[0] != "mine" {
		t.Errorf("X-Opaque-Id upstream %q", v)
	}
	if v := got.Header.Values("X-Forwarded-For"); len(v) != 1 || v[0] != "6.6.6.6, 127.0.0.1" {
		t.Errorf("X-Forwarded-For upstream %q", v)
	}
}

// TestMalformedRequestLogsNoSecret: fasthttp's parse errors answer in
// Elasticsearch's shape and never log the request's credentials.
func TestMalformedRequestLogsNoSecret(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp, body := rawRequest(t, tg.url, "GET /data/x?token=TOKEN-SECRET HTTP/1.1\r\nHost: x\r\n"+
		"Authorization: Basic UEFTU1dPUkQtU0VDUkVU\r\nCookie: eaid=COOKIE-SECRET\r\nbroken header line\r\n\r\n")
	if resp.StatusCode != 400 || !strings.Contains(body, `"type":"illegal_argument_exception"`) {
		t.Fatalf("malformed request: %d %s", resp.StatusCode, body)
	}
	time.Sleep(50 * time.Millisecond)
	logs := tg.logs.String()
	for _, s := range []string{"TOKEN-SECRET", "UEFTU1dPUkQtU0VDUkVU", "COOKIE-SECRET"} {
		if strings.Contains(logs, s) {
			t.Fatalf("log holds %s:\n%s", s, logs)
		}
	}
}

func TestRejectsLowerCaseMethod(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Error("reached upstream") }))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp, body := rawRequest(t, tg.url, "get /data/x HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cmVhZGVyOnJlYWRlci1wdw==\r\n\r\n")
	if resp.StatusCode != 400 {
		t.Fatalf("lower-case method: %d %s", resp.StatusCode, body)
	}
}

// TestDeepJSONRefused: a deeply nested body is refused at once, without
// authentication, and costs no memory to speak of.
func TestDeepJSONRefused(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	deep := strings.Repeat("[", 10000)
	resp := do(t, "POST", tg.url+"/login", strings.NewReader(`{"username":`+deep), "")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "nested deeper than") {
		t.Fatalf("deep JSON: %d %s", resp.StatusCode, b)
	}
	resp = do(t, "POST", tg.url+"/login", strings.NewReader(`{"username":"`+strings.Repeat("a", 20<<10)+`"}`), "")
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Fatalf("20 KiB login body: %d, want 413", resp.StatusCode)
	}
}

// TestUpstreamTimeout: an Elasticsearch that never answers is a 502 after
// UpstreamTimeout, not a hung request.
func TestUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer up.Close()
	defer close(release)
	tg := newTestGateway(t, up.URL, func(c *Config) { c.UpstreamTimeout = 300 * time.Millisecond })
	start := time.Now()
	resp := do(t, "GET", tg.url+"/data/x", nil, "reader:reader-pw")
	resp.Body.Close()
	if resp.StatusCode != 502 || time.Since(start) > 5*time.Second {
		t.Fatalf("hung upstream: %d after %s", resp.StatusCode, time.Since(start))
	}
}

// TestPasswordFloodBounded: concurrent wrong passwords run a bounded number
// of slow hashes at once; every request gets an answer (401, or 503 when
// the gateway is saturated), none a 200.
func TestPasswordFloodBounded(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	var wg sync.WaitGroup
	codes := make(chan int, 64)
	for i := 0; i < 64; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			resp := do(t, "GET", tg.url+"/data/x", nil, fmt.Sprintf("reader:wrong-%d", i))
			resp.Body.Close()
			codes <- resp.StatusCode
		}(i)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != 401 && c != 503 {
			t.Fatalf("status %d under a flood of wrong passwords", c)
		}
	}
	if cap(tg.g.hashSlots) < 2 || len(tg.g.hashSlots) != 0 {
		t.Fatalf("hash slots %d/%d after the flood", len(tg.g.hashSlots), cap(tg.g.hashSlots))
	}
}

// TestBodyNamedIndices: an index named in a body (_bulk item, _msearch
// header, _mget doc, terms lookup) is authorized like one named in the path,
// so a constraint on /data does not reach /secret through a body.
func TestBodyNamedIndices(t *testing.T) {
	rc := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(rc.handler))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	cases := []struct {
		path, ctype, body string
		want              int
	}{
		{"/data/_bulk", "application/x-ndjson", "{\"index\":{\"_id\":\"1\"}}\n{\"a\":1}\n", 200},
		{"/data/_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"data\"}}\n{\"a\":1}\n", 200},
		// An item fails alone (bulk_test.go): here the only one.
		{"/data/_bulk", "application/x-ndjson", "{\"index\":{\"_index\":\"secret\"}}\n{\"a\":1}\n", 200},
		{"/data/_msearch", "application/x-ndjson", "{}\n{\"query\":{\"match_all\":{}}}\n", 200},
		{"/data/_msearch", "application/x-ndjson", "{\"index\":\"secret\"}\n{\"query\":{\"match_all\":{}}}\n", 200},
		{"/data/_mget", "application/json", `{"docs":[{"_index":"secret","_id":"1"}]}`, 200},
		{"/data/_search", "application/json", `{"query":{"terms":{"user":{"index":"secret","id":"1","path":"f"}}}}`, 403},
		{"/data/_search", "application/json", `{"query":{"match_all":{}}}`, 200},
		{"/data/_bulk", "application/x-ndjson", "not json\n", 400},
		{"/data/_search", "application/json", `{"query":{},"query":{}}`, 400},
	}
	for _, c := range cases {
		resp := do(t, "POST", tg.url+c.path, strings.NewReader(c.body), "reader:reader-pw", "Content-Type", c.ctype)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("POST %s %q: %d %s, want %d", c.path, c.body, resp.StatusCode, b, c.want)
		}
		if c.want == 403 && !strings.Contains(string(b), "named in the request body") {
			t.Errorf("403 reason: %s", b)
		}
		if c.want == 200 && strings.Contains(c.body, "secret") && !strings.Contains(string(b), `"type":"security_exception","reason":"action [`) {
			t.Errorf("item naming secret not refused: %s", b)
		}
	}
	// What was allowed reached Elasticsearch byte for byte.
	if got := rc.last(t); got.URL.Path != "/data/_search" {
		t.Errorf("last forwarded %s", got.URL.Path)
	}
}

// TestRealmFailuresRecorded: a refused Basic credential records one
// realm_authentication_failed per realm tried, then authentication_failed
// listing them all.
func TestRealmFailuresRecorded(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp := do(t, "GET", tg.url+"/data/x", nil, "reader:wrong-password")
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	tg.out.mu.Lock()
	defer tg.out.mu.Unlock()
	var actions []string
	for _, o := range tg.out.list {
		actions = append(actions, o.Action)
	}
	if strings.Join(actions, ",") != "realm_authentication_failed,authentication_failed" {
		t.Fatalf("outcomes %v", actions)
	}
	if r := tg.out.list[0]; r.Realm != "default_native" || r.Reason != "invalid password" || r.Principal != "reader" {
		t.Fatalf("realm outcome %+v", r)
	}
}
