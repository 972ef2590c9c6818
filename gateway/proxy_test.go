package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func do(t testing.TB, method, url string, body io.Reader, userpass string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if userpass != "" {
		u, p, _ := strings.Cut(userpass, ":")
		req.SetBasicAuth(u, p)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestProxyStreamsLargeBodies: a 48 MiB upload and a 48 MiB download pass
// through intact (the gateway streams both ways; it never holds them whole).
func TestProxyStreamsLargeBodies(t *testing.T) {
	const size = 48 << 20
	var gotSum [32]byte
	var gotLen int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			h := sha256.New()
			n, _ := io.Copy(h, r.Body)
			gotLen = n
			copy(gotSum[:], h.Sum(nil))
			w.Header().Set("X-Elastic-Product", "Elasticsearch")
			fmt.Fprint(w, `{"ok":true}`)
			return
		}
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		for written := 0; written < size; written += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer up.Close()
	tg := newTestGateway(t, up.URL)

	payload := bytes.Repeat([]byte("portcullis-"), size/11)
	// A document body is streamed (a _bulk is read whole: its items are authorized).
	resp := do(t, "POST", tg.url+"/data/_doc", bytes.NewReader(payload), "reader:reader-pw", "Content-Type", "application/json")
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("upload status %d", resp.StatusCode)
	}
	if gotLen != int64(len(payload)) || gotSum != sha256.Sum256(payload) {
		t.Fatalf("upstream got %d bytes (sum match %v), want %d", gotLen, gotSum == sha256.Sum256(payload), len(payload))
	}

	resp = do(t, "GET", tg.url+"/data/_search", nil, "reader:reader-pw")
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, err %v; want %d", n, err, size)
	}
	if resp.Header.Get("X-Elastic-Product") != "Elasticsearch" {
		t.Fatal("X-Elastic-Product not passed through on 2xx")
	}
}

func TestProxyHead(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "123")
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		if r.Method != http.MethodHead {
			w.Write(bytes.Repeat([]byte("x"), 123))
		}
	}))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp := do(t, "HEAD", tg.url+"/data", nil, "reader:reader-pw")
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != 123 {
		t.Fatalf("HEAD: status %d, content-length %d; want 200, 123", resp.StatusCode, resp.ContentLength)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	url := up.URL
	up.Close()
	tg := newTestGateway(t, url)
	resp := do(t, "GET", tg.url+"/data/_search", nil, "reader:reader-pw")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `{"error":{"root_cause":[{"type":"bad_gateway_exception","reason":"elasticsearch is unavailable"}],"type":"bad_gateway_exception","reason":"elasticsearch is unavailable"},"status":502}`
	if resp.StatusCode != 502 || string(b) != want {
		t.Fatalf("got %d %s", resp.StatusCode, b)
	}
}

// TestProxyStripsCredentials: what the gateway consumed never reaches
// Elasticsearch; other cookies and headers do.
func TestProxyStripsCredentials(t *testing.T) {
	var got *http.Request
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(r.Context())
	}))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	resp := do(t, "GET", tg.url+"/data/_search?q=x&token=zzz;pretty", nil, "reader:reader-pw",
		"Cookie", "a=1; eaid=secret-cookie; b=2", "X-Opaque-Id", "my-req-1", "Proxy-Authorization", "Basic eA==")
	resp.Body.Close()
	// The token parameter came with a Basic header: the header wins, the
	// parameter is still consumed.
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got.RequestURI != "/data/_search?q=x&pretty" {
		t.Errorf("forwarded URI %q", got.RequestURI)
	}
	if got.Header.Get("Authorization") != "" || got.Header.Get("Proxy-Authorization") != "" {
		t.Errorf("credentials forwarded: %v", got.Header)
	}
	if c := got.Header.Get("Cookie"); strings.Contains(c, "eaid") || !strings.Contains(c, "a=1") || !strings.Contains(c, "b=2") {
		t.Errorf("forwarded Cookie %q", c)
	}
	if got.Header.Get("X-Opaque-Id") != "my-req-1" {
		t.Errorf("X-Opaque-Id %q", got.Header.Get("X-Opaque-Id"))
	}
	if o := tg.out.last(); o.Action != "access_granted" || o.RequestID != "my-req-1" || o.User != "reader" || o.Rule != "constraint:c1" {
		t.Errorf("outcome %+v", o)
	}
}

// TestOutcomeQueueFullDenies: a request whose outcome cannot be recorded
// is refused (fail closed).
func TestOutcomeQueueFullDenies(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("request reached the upstream although its outcome could not be recorded")
	}))
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	tg.out.full = true
	resp := do(t, "GET", tg.url+"/data/_search", nil, "reader:reader-pw")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
}

// TestHealth: 503 until the projections caught up, then 200; no
// credentials needed either way.
func TestHealth(t *testing.T) {
	up := httptest.NewServer(http.NotFoundHandler())
	defer up.Close()
	tg := newTestGateway(t, up.URL)
	tg.state.notReady.Store(true)
	resp := do(t, "GET", tg.url+"/_portcullis/health", nil, "")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("health before ready: %d, want 503", resp.StatusCode)
	}
	tg.state.notReady.Store(false)
	resp = do(t, "GET", tg.url+"/_portcullis/health", nil, "")
	var body struct {
		Status   string `json:"status"`
		Revision string `json:"policy_revision"`
		Outcomes *struct {
			Queued       *int   `json:"queued"`
			SpooledBytes *int64 `json:"spooled_bytes"`
		} `json:"outcomes"`
	}
	err := json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err != nil {
		t.Fatalf("health when ready: %d, %v; want 200 and JSON", resp.StatusCode, err)
	}
	// The outcome backlog the recorder reports (the test's: 3 queued,
	// 512 bytes spooled).
	if body.Status != "green" || body.Revision == "" || body.Outcomes == nil || body.Outcomes.Queued == nil ||
		*body.Outcomes.Queued != 3 || body.Outcomes.SpooledBytes == nil || *body.Outcomes.SpooledBytes != 512 {
		t.Fatalf("health body %+v", body)
	}
}
