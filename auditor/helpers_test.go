package auditor_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/auditor/auditortest"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

// natsEnv is an embedded nats-server with the Portcullis streams.
type natsEnv struct {
	srv *server.Server
}

func startNATS(tb testing.TB) *natsEnv {
	tb.Helper()
	srv := eventstest.StartServer(tb)
	e := &natsEnv{srv: srv}
	_, js := e.connect(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, events.StreamsConfig{}); err != nil {
		tb.Fatal(err)
	}
	return e
}

// connect opens a connection of its own (an auditor "process"); it is
// closed when the test ends, or earlier by the test.
func (e *natsEnv) connect(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	return eventstest.Connect(tb, e.srv)
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// esEnv is the real Elasticsearch node, through plain HTTP, for the test's
// own checks.
type esEnv struct {
	url string
}

func (e esEnv) do(tb testing.TB, method, path, body string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, e.url+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e esEnv) mustJSON(tb testing.TB, method, path, body string, into any) {
	tb.Helper()
	status, b := e.do(tb, method, path, body)
	if status/100 != 2 {
		tb.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			tb.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

// testPrefix is an index prefix unique to the test run, under
// .security-audit- so that the seed's wildcard covers it. Its indices and
// template are deleted when the test ends (by exact name: Elasticsearch 8
// refuses wildcard deletes).
func (e esEnv) testPrefix(tb testing.TB) string {
	tb.Helper()
	id := runID()
	prefix := ".security-audit-test-" + id + "-"
	tb.Cleanup(func() {
		var indices []struct {
			Index string `json:"index"`
		}
		e.mustJSON(tb, "GET", "/_cat/indices/"+prefix+"*?format=json&h=index&expand_wildcards=all", "", &indices)
		for _, ix := range indices {
			e.do(tb, "DELETE", "/"+ix.Index, "")
		}
		e.do(tb, "DELETE", "/_index_template/portcullis-audit-security-audit-test-"+id, "")
	})
	return prefix
}

// count refreshes the test's indices and counts the documents matching
// query (all when query is "").
func (e esEnv) count(tb testing.TB, prefix, query string) int {
	tb.Helper()
	e.do(tb, "POST", "/"+prefix+"*/_refresh", "")
	body := ""
	if query != "" {
		body = `{"query":` + query + `}`
	}
	var res struct {
		Count int `json:"count"`
	}
	e.mustJSON(tb, "POST", "/"+prefix+"*/_count", body, &res)
	return res.Count
}

// countIDs counts the documents among ids (the published event ids).
func (e esEnv) countIDs(tb testing.TB, prefix string, ids []string) int {
	tb.Helper()
	q, _ := json.Marshal(map[string]any{"ids": map[string]any{"values": ids}})
	return e.count(tb, prefix, string(q))
}

func newClient(tb testing.TB, url string, transport http.RoundTripper) *elasticsearch.Client {
	tb.Helper()
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}, Transport: transport})
	if err != nil {
		tb.Fatal(err)
	}
	return es
}

// testLogger logs to the test's output.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// start runs a.Run in a goroutine; the returned stop cancels it and
// returns Run's result. The test's cleanup stops it too.
func start(tb testing.TB, a *auditor.Auditor) (stop func() error) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var result error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case result = <-done:
			case <-time.After(60 * time.Second):
				tb.Fatal("auditor did not stop within 60s")
			}
		}
		return result
	}
	tb.Cleanup(func() { _ = stop() })
	return stop
}

// failure is an authentication_failed outcome as the gateway publishes it
// for a wrong password.
func failure(user, requestID string) events.AuthOutcome {
	return events.AuthOutcome{
		Action: events.ActionAuthenticationFailed, Outcome: "failure",
		Reason:    "unable to authenticate user [" + user + "]",
		Principal: user,
		Realms: []events.RealmAttempt{
			{Realm: "token", Type: "token", Reason: "no token"},
			{Realm: "default_native", Type: "native", Reason: "wrong password"},
		},
		Method: "POST", Path: "/logs/_search", Query: "pretty", RequestID: requestID,
		SourceIP: "192.0.2.44", Status: 401,
	}
}

// publish appends outcomes to the AUTH stream and returns their event ids.
func publish(tb testing.TB, js jetstream.JetStream, outcomes ...events.AuthOutcome) []string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ids := make([]string, 0, len(outcomes))
	futures := make([]jetstream.PubAckFuture, 0, len(outcomes))
	for _, o := range outcomes {
		ev, err := events.New("test-gw", events.AuthType(o.Action), o.RequestID, time.Now(), o)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := ev.Encode()
		if err != nil {
			tb.Fatal(err)
		}
		f, err := js.PublishAsync(events.AuthSubject(o.Action), b, jetstream.WithMsgID(ev.ID))
		if err != nil {
			tb.Fatal(err)
		}
		futures = append(futures, f)
		ids = append(ids, ev.ID)
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			tb.Fatalf("publish: %v", err)
		case <-ctx.Done():
			tb.Fatal("publish: no ack")
		}
	}
	return ids
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func lag(tb testing.TB, a *auditor.Auditor) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := a.Lag(ctx)
	if err != nil {
		return 1 << 62 // consumer not there yet
	}
	return n
}

func pretty(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// userNameLong is Elasticsearch, NATS and a test index prefix whose
// indices map user.name as long (a test template), so that an outcome of a
// user named by letters is a document Elasticsearch rejects for good.
func userNameLong(t *testing.T) (esEnv, jetstream.JetStream, string) {
	t.Helper()
	es := esEnv{url: auditortest.ESURL(t)}
	_, js := startNATS(t).connect(t)
	prefix := es.testPrefix(t)
	conflict := "portcullis-audit-test-conflict-" + runID()
	es.mustJSON(t, "PUT", "/_index_template/"+conflict, `{"index_patterns":["`+prefix+`*"],"priority":10000,
		"template":{"settings":{"number_of_shards":1,"number_of_replicas":0},
		"mappings":{"properties":{"user":{"properties":{"name":{"type":"long"}}}}}}}`, nil)
	t.Cleanup(func() { es.do(t, "DELETE", "/_index_template/"+conflict, "") })
	return es, js, prefix
}

// startDefault starts an auditor of the default configuration (a short
// flush interval) writing to url under prefix.
func startDefault(t *testing.T, js jetstream.JetStream, url, prefix string) *auditor.Auditor {
	t.Helper()
	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(t, url, nil), IndexPrefix: prefix, FlushInterval: 100 * time.Millisecond,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	start(t, a)
	return a
}
