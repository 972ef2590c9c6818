package auditor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/auditor/auditortest"
	"github.com/portcullis/portcullis/events"
)

// seedQuery is the query of the seed article, verbatim.
const seedQuery = `{"query":{"bool":{"must":[{"term":{"event.action":"authentication_failed"}},{"range":{"@timestamp":{"gte":"now-1h"}}}]}}}`

type hit struct {
	Index  string `json:"_index"`
	ID     string `json:"_id"`
	Source struct {
		Timestamp string `json:"@timestamp"`
		Event     struct {
			Action  string `json:"action"`
			Outcome string `json:"outcome"`
		} `json:"event"`
		User struct {
			Name string `json:"name"`
		} `json:"user"`
		Realms []struct {
			Name   string `json:"name"`
			Reason string `json:"reason"`
		} `json:"realms"`
		Origin struct {
			Address string `json:"address"`
		} `json:"origin"`
		Source struct {
			IP string `json:"ip"`
		} `json:"source"`
		URL struct {
			Path string `json:"path"`
		} `json:"url"`
		Request struct {
			Method string `json:"method"`
			ID     string `json:"id"`
		} `json:"request"`
	} `json:"_source"`
}

type searchResult struct {
	Hits struct {
		Total struct {
			Value int `json:"value"`
		} `json:"total"`
		Hits []hit `json:"hits"`
	} `json:"hits"`
}

// TestSeedQueryFindsFailures: authentication failures published to the AUTH
// stream come out of the seed's query, as written, with the user name, the
// realms tried and why each failed, the source address, path and method.
// An outcome the default configuration does not audit (access_granted)
// produces no document.
func TestSeedQueryFindsFailures(t *testing.T) {
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, js := nenv.connect(t)
	prefix := es.testPrefix(t)
	run := runID()

	users := []string{"alice-" + run, "bob-" + run, "carol-" + run}
	var outcomes []events.AuthOutcome
	for i, u := range users {
		outcomes = append(outcomes, failure(u, fmt.Sprintf("req-%s-%d", run, i)))
	}
	failedIDs := publish(t, js, outcomes...)
	granted := events.AuthOutcome{Action: events.ActionAccessGranted, Outcome: "success", User: "dave-" + run,
		Method: "GET", Path: "/logs/_search", SourceIP: "192.0.2.45", ESAction: "indices:data/read/search"}
	denied := granted
	denied.Action, denied.Outcome, denied.Reason = events.ActionAccessDenied, "failure", "no grant"
	publish(t, js, granted, granted, denied)

	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(t, es.url, nil), IndexPrefix: prefix, FlushInterval: 100 * time.Millisecond,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, a)
	waitFor(t, 30*time.Second, "3 failures and 1 denial indexed", func() bool {
		return lag(t, a) == 0 && es.count(t, prefix, "") == 4
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := es.count(t, prefix, `{"term":{"event.action":"access_granted"}}`); n != 0 {
		t.Fatalf("%d access_granted documents; access_granted is not audited by default", n)
	}

	// The seed's request, exactly as written.
	status, body := es.do(t, "GET", "/.security-audit-*/_search", seedQuery)
	if status != 200 {
		t.Fatalf("seed query: %d %s", status, body)
	}
	var exact searchResult
	if err := json.Unmarshal(body, &exact); err != nil {
		t.Fatal(err)
	}
	if exact.Hits.Total.Value < len(users) {
		t.Fatalf("seed query found %d documents, want at least %d:\n%s", exact.Hits.Total.Value, len(users), pretty(body))
	}
	// The same query, with room for every hit (other tests may have written
	// to .security-audit-* in the last hour), to look at ours.
	status, body = es.do(t, "GET", "/.security-audit-*/_search?size=10000", seedQuery)
	if status != 200 {
		t.Fatalf("seed query: %d %s", status, body)
	}
	var all searchResult
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	var ours []hit
	for _, h := range all.Hits.Hits {
		if strings.HasPrefix(h.Index, prefix) {
			ours = append(ours, h)
		}
	}
	if len(exact.Hits.Hits) == exact.Hits.Total.Value { // the seed saw every hit: ours among them
		n := 0
		for _, h := range exact.Hits.Hits {
			if strings.HasPrefix(h.Index, prefix) {
				n++
			}
		}
		if n != len(users) {
			t.Fatalf("the seed's query returned %d of our %d failures", n, len(users))
		}
	}
	if len(ours) != len(users) {
		t.Fatalf("seed query returned %d of our documents, want %d", len(ours), len(users))
	}
	for _, h := range ours {
		s := h.Source
		if !slices.Contains(failedIDs, h.ID) {
			t.Errorf("document _id %s is not a published event id", h.ID)
		}
		if !slices.Contains(users, s.User.Name) {
			t.Errorf("user.name = %q", s.User.Name)
		}
		if s.Event.Action != "authentication_failed" || s.Event.Outcome != "failure" {
			t.Errorf("event = %+v", s.Event)
		}
		if len(s.Realms) != 2 || s.Realms[0].Name != "token" || s.Realms[0].Reason != "no token" ||
			s.Realms[1].Name != "default_native" || s.Realms[1].Reason != "wrong password" {
			t.Errorf("realms = %+v", s.Realms)
		}
		if s.Source.IP != "192.0.2.44" || s.Origin.Address != "192.0.2.44" {
			t.Errorf("source.ip = %q, origin.address = %q", s.Source.IP, s.Origin.Address)
		}
		if s.URL.Path != "/logs/_search" || s.Request.Method != "POST" {
			t.Errorf("url.path = %q, request.method = %q", s.URL.Path, s.Request.Method)
		}
		if want := auditor.IndexName(prefix, mustTime(t, s.Timestamp)); h.Index != want {
			t.Errorf("index %s, want %s (by event time)", h.Index, want)
		}
	}
	// Kibana aggregates without scripted fields: terms on the keyword fields.
	var agg struct {
		Aggregations map[string]struct {
			Buckets []struct {
				Key      any `json:"key"`
				DocCount int `json:"doc_count"`
			} `json:"buckets"`
		} `json:"aggregations"`
	}
	es.mustJSON(t, "POST", "/"+prefix+"*/_search", `{"size":0,"query":{"term":{"event.action":"authentication_failed"}},
		"aggs":{"users":{"terms":{"field":"user.name"}},"sources":{"terms":{"field":"source.ip"}},
		"reasons":{"terms":{"field":"realms.reason"}},"over_time":{"date_histogram":{"field":"@timestamp","fixed_interval":"1m"}}}}`, &agg)
	if n := len(agg.Aggregations["users"].Buckets); n != len(users) {
		t.Errorf("terms on user.name: %d buckets, want %d", n, len(users))
	}
	if b := agg.Aggregations["sources"].Buckets; len(b) != 1 || b[0].Key != "192.0.2.44" || b[0].DocCount != len(users) {
		t.Errorf("terms on source.ip: %+v", b)
	}
	if n := len(agg.Aggregations["reasons"].Buckets); n != 2 {
		t.Errorf("terms on realms.reason: %d buckets, want 2", n)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// TestAllActions: "_all" audits every action, access_granted and login
// included.
func TestAllActions(t *testing.T) {
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, js := nenv.connect(t)
	prefix := es.testPrefix(t)
	publish(t, js,
		events.AuthOutcome{Action: events.ActionAccessGranted, Outcome: "success", User: "u"},
		events.AuthOutcome{Action: events.ActionLogin, Outcome: "success", User: "u"},
		failure("v", "r1"))
	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(t, es.url, nil), IndexPrefix: prefix, Actions: []string{auditor.AllActions},
		FlushInterval: 100 * time.Millisecond,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	start(t, a)
	waitFor(t, 30*time.Second, "3 documents", func() bool { return lag(t, a) == 0 && es.count(t, prefix, "") == 3 })
}

// TestElasticsearchOutage: Elasticsearch goes away, 1,000 authentication
// failures happen, Elasticsearch comes back: exactly 1,000 documents arrive,
// none lost, none duplicated.
//
// "Elasticsearch stopped" is simulated with a TCP proxy between the
// auditor's client and the node, switched off (listener and every open
// connection closed, so connects are refused exactly as from a stopped
// node) and on again on the same port. The node itself is shared by every
// test and every developer process on the machine and takes tens of seconds
// to restart, so the test must not stop it; to the auditor the two are
// indistinguishable.
func TestElasticsearchOutage(t *testing.T) {
	const n = 1000
	o := startOutage(t, 200)
	run := runID()
	outcomes := make([]events.AuthOutcome, n)
	for i := range outcomes {
		outcomes[i] = failure(fmt.Sprintf("outage-%s-%d", run, i%17), fmt.Sprintf("req-%s-%d", run, i))
	}
	ids := publish(t, o.js, outcomes...)
	o.recoverAndCheck(t, n, n, ids)
}

// outageEnv is an auditor writing to Elasticsearch through a proxy that is
// down: started, its consumer in place.
type outageEnv struct {
	es     esEnv
	js     jetstream.JetStream
	prefix string
	proxy  *auditortest.Proxy
	a      *auditor.Auditor
	stop   func() error
}

func startOutage(t *testing.T, batchSize int) *outageEnv {
	t.Helper()
	o := &outageEnv{es: esEnv{url: auditortest.ESURL(t)}}
	_, o.js = startNATS(t).connect(t)
	o.prefix = o.es.testPrefix(t)
	o.proxy = auditortest.NewProxy(t, o.es.url)
	var err error
	o.a, err = auditor.New(auditor.Config{
		JS: o.js, ES: newClient(t, o.proxy.URL(), nil), IndexPrefix: o.prefix,
		BatchSize: batchSize, FlushInterval: 100 * time.Millisecond, MaxBackoff: time.Second,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	o.stop = start(t, o.a)
	waitFor(t, 30*time.Second, "the auditor's consumer", func() bool { return lag(t, o.a) == 0 })
	o.proxy.Down()
	return o
}

// recoverAndCheck, with n events in msgs messages published during the
// outage: nothing is written while Elasticsearch is down and every message
// waits in the stream; once it is back every event of ids has exactly one
// document, and there is nothing else.
func (o *outageEnv) recoverAndCheck(t *testing.T, n int, msgs uint64, ids []string) {
	t.Helper()
	waitFor(t, 30*time.Second, "failed attempts while Elasticsearch is down", func() bool { return o.a.Stats().Retried > 0 })
	time.Sleep(1500 * time.Millisecond) // a few backoff rounds against a dead node
	if got := o.es.count(t, o.prefix, ""); got != 0 {
		t.Fatalf("%d documents written while Elasticsearch was unreachable", got)
	}
	if l := lag(t, o.a); l != msgs {
		t.Fatalf("lag during the outage = %d, want %d: every message waits in the stream", l, msgs)
	}
	if err := o.proxy.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the documents after the outage", func() bool {
		return lag(t, o.a) == 0 && o.es.count(t, o.prefix, "") >= n
	})
	if err := o.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := o.es.count(t, o.prefix, ""); got != n {
		t.Fatalf("%d documents, want exactly %d", got, n)
	}
	if got := o.es.countIDs(t, o.prefix, ids); got != n {
		t.Fatalf("%d of the %d published events have their document", got, n)
	}
	st := o.a.Stats()
	t.Logf("outage: %+v", st)
	// A message of several events is redelivered whole when one of them
	// must be retried: its events already written meet 409 again, so
	// duplicates may count an event more than once.
	resolved := st.Indexed + st.Duplicates
	if st.DeadLettered != 0 || st.Indexed > uint64(n) || resolved < uint64(n) || msgs == uint64(n) && resolved != uint64(n) {
		t.Fatalf("stats %+v: want %d indexed or duplicate (each event once with a message per event), none dead-lettered", st, n)
	}
}

// crashTransport lets the first `pass` bulk requests through; every later
// one reaches Elasticsearch (its documents are written) but the answer
// never comes back until release is closed, and then as an error: the
// auditor "dies" after Elasticsearch wrote a batch and before it could
// acknowledge it, the worst moment for duplicates.
type crashTransport struct {
	base    http.RoundTripper
	pass    int32
	bulks   atomic.Int32
	blocked chan struct{}
	release chan struct{}
	once    sync.Once
}

func (c *crashTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(req.URL.Path, "/_bulk") || c.bulks.Add(1) <= c.pass {
		return c.base.RoundTrip(req)
	}
	res, err := c.base.RoundTrip(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
	c.once.Do(func() { close(c.blocked) })
	<-c.release
	return nil, errors.New("crash: the answer never arrived")
}

// TestCrashMidBatch: an auditor killed in the middle of a batch (its NATS
// connection gone and its context cancelled while a bulk request Elasticsearch
// already executed is in flight), then a fresh auditor on the same durable
// consumer: every event has exactly one document.
func TestCrashMidBatch(t *testing.T) {
	const n = 500
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, pubJS := nenv.connect(t)
	prefix := es.testPrefix(t)
	run := runID()
	outcomes := make([]events.AuthOutcome, n)
	for i := range outcomes {
		outcomes[i] = failure(fmt.Sprintf("crash-%s-%d", run, i%7), fmt.Sprintf("req-%s-%d", run, i))
	}
	ids := publish(t, pubJS, outcomes...)

	cfg := auditor.Config{
		// Bulk requests of some 60 documents: several per run.
		IndexPrefix: prefix, Durable: "crash-test", FlushBytes: 64 << 10,
		BatchSize: 100, FlushInterval: 100 * time.Millisecond, MaxBackoff: time.Second,
		RequestTimeout: time.Second, AckWait: 3 * time.Second,
	}
	ct := &crashTransport{base: http.DefaultTransport, pass: 1, blocked: make(chan struct{}), release: make(chan struct{})}
	ncA, jsA := nenv.connect(t)
	cfgA := cfg
	cfgA.JS, cfgA.ES = jsA, newClient(t, es.url, ct)
	a, err := auditor.New(cfgA, auditor.WithLogger(testLogger(t).With("auditor", "A")))
	if err != nil {
		t.Fatal(err)
	}
	ctxA, cancelA := context.WithCancel(context.Background())
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	select {
	case <-ct.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("auditor A never reached its second bulk request")
	}
	// The crash: the process's connection dies with it (no ack can leave),
	// then everything it was doing is abandoned.
	ncA.Close()
	cancelA()
	close(ct.release)
	select {
	case err := <-doneA:
		t.Logf("auditor A after the crash: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("auditor A did not end")
	}
	before := es.count(t, prefix, "")
	t.Logf("after the crash: %d documents written, %+v", before, a.Stats())
	c, err := pubJS.Consumer(context.Background(), events.StreamAuth, cfg.Durable)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if before == 0 || info.NumPending+uint64(info.NumAckPending) == 0 {
		t.Fatalf("%d documents written, %d events unacknowledged: the crash did not land mid-stream",
			before, info.NumPending+uint64(info.NumAckPending))
	}

	_, jsB := nenv.connect(t)
	cfgB := cfg
	cfgB.JS, cfgB.ES = jsB, newClient(t, es.url, nil)
	b, err := auditor.New(cfgB, auditor.WithLogger(testLogger(t).With("auditor", "B")))
	if err != nil {
		t.Fatal(err)
	}
	stopB := start(t, b)
	waitFor(t, 60*time.Second, "every event after the restart", func() bool {
		return lag(t, b) == 0 && es.count(t, prefix, "") >= n
	})
	if err := stopB(); err != nil {
		t.Fatalf("Run B: %v", err)
	}
	if got := es.count(t, prefix, ""); got != n {
		t.Fatalf("%d documents, want exactly %d", got, n)
	}
	if got := es.countIDs(t, prefix, ids); got != n {
		t.Fatalf("%d of the %d published events have their document", got, n)
	}
	st := b.Stats()
	t.Logf("auditor B: %+v", st)
	if st.Duplicates == 0 {
		t.Fatal("auditor B met no document written but unacknowledged by A: the crash was not mid-batch")
	}
}

// TestDeadLetter: a document Elasticsearch rejects for good (here a field
// the index's mapping types incompatibly: a test template maps user.name as
// long), an undecodable message and an event of an unknown type each land
// on the dead-letter subject with the reason, and the auditor keeps going.
func TestDeadLetter(t *testing.T) {
	es, js, prefix := userNameLong(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rejected := publish(t, js, failure("alice", "r1"))[0] // "alice" is not a long
	if _, err := js.Publish(ctx, events.AuthSubject(events.ActionAuthenticationFailed), []byte("not an event\x00")); err != nil {
		t.Fatal(err)
	}
	v2, _ := events.New("test-gw", "portcullis.auth.authentication_failed.v2", "", time.Now(), failure("x", "r2"))
	raw, _ := v2.Encode()
	if _, err := js.Publish(ctx, events.AuthSubject(events.ActionAuthenticationFailed), raw); err != nil {
		t.Fatal(err)
	}
	good := publish(t, js, failure("12345", "r3"), failure("67890", "r4"))

	a := startDefault(t, js, es.url, prefix)
	waitFor(t, 30*time.Second, "the good documents and 3 dead letters", func() bool {
		return lag(t, a) == 0 && a.Stats().DeadLettered == 3
	})
	if got := es.countIDs(t, prefix, good); got != 2 || es.count(t, prefix, "") != 2 {
		t.Fatalf("%d good documents, want 2 (and nothing else)", got)
	}

	s, err := js.Stream(ctx, auditor.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	var dls []auditor.DeadLetter
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if m.Subject != auditor.DefaultDeadLetterSubject {
			t.Errorf("dead letter on %q", m.Subject)
		}
		var dl auditor.DeadLetter
		if err := json.Unmarshal(m.Data, &dl); err != nil {
			t.Fatal(err)
		}
		dls = append(dls, dl)
		t.Logf("dead letter %d: %s", seq, m.Data)
	}
	slices.SortFunc(dls, func(a, b auditor.DeadLetter) int { return int(a.StreamSequence) - int(b.StreamSequence) })
	if dl := dls[0]; dl.EventID != rejected || dl.Status != 400 || !strings.Contains(dl.ErrorType, "parsing_exception") ||
		!strings.Contains(dl.Reason, "user.name") || dl.Index == "" || len(dl.Event) == 0 {
		t.Errorf("mapping rejection: %+v", dl)
	}
	var orig events.Event
	if err := json.Unmarshal(dls[0].Event, &orig); err != nil || orig.ID != rejected {
		t.Errorf("the dead letter does not carry the original event: %v %+v", err, orig)
	}
	if dl := dls[1]; !strings.HasPrefix(dl.Reason, "undecodable event") || string(dl.Data) != "not an event\x00" {
		t.Errorf("undecodable message: %+v", dl)
	}
	if dl := dls[2]; !strings.Contains(dl.Reason, "unknown event type") || dl.EventID != v2.ID {
		t.Errorf("unknown type: %+v", dl)
	}
}

// TestShutdownDrains: cancelling Run writes and acknowledges what is in
// flight before Run returns nil.
func TestShutdownDrains(t *testing.T) {
	const n = 200
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, js := nenv.connect(t)
	prefix := es.testPrefix(t)
	outcomes := make([]events.AuthOutcome, n)
	for i := range outcomes {
		outcomes[i] = failure("drain", fmt.Sprint(i))
	}
	publish(t, js, outcomes...)
	// Bulk requests never fill, the pull loop never flushes when idle and
	// the flush interval never passes: only the drain can write these
	// documents.
	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(t, es.url, nil), IndexPrefix: prefix, BatchSize: 5000, FlushIdle: -1, FlushInterval: time.Minute,
		AckWait: 5 * time.Minute,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitFor(t, 30*time.Second, "every event delivered", func() bool {
		c, err := js.Consumer(ctx, events.StreamAuth, auditor.DefaultDurable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == n
	})
	time.Sleep(200 * time.Millisecond) // let the pull loop hand them to the bulk indexer
	if got := es.count(t, prefix, ""); got != 0 {
		t.Fatalf("%d documents before the drain; the test's premise is wrong", got)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := es.count(t, prefix, ""); got != n {
		t.Fatalf("%d documents after the drain, want %d", got, n)
	}
	waitFor(t, 10*time.Second, "every message acknowledged", func() bool { return lag(t, a) == 0 })
}

// TestSharedDurable: two auditors started together on one durable consumer
// share the stream: every event has exactly one document.
func TestSharedDurable(t *testing.T) {
	const n = 600
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, pubJS := nenv.connect(t)
	prefix := es.testPrefix(t)
	outcomes := make([]events.AuthOutcome, n)
	for i := range outcomes {
		outcomes[i] = failure(fmt.Sprint("shared-", i%5), fmt.Sprint(i))
	}
	ids := publish(t, pubJS, outcomes...)
	var auditors []*auditor.Auditor
	for _, name := range []string{"A", "B"} {
		_, js := nenv.connect(t)
		a, err := auditor.New(auditor.Config{
			JS: js, ES: newClient(t, es.url, nil), IndexPrefix: prefix, BatchSize: 50, FlushInterval: 50 * time.Millisecond,
		}, auditor.WithLogger(testLogger(t).With("auditor", name)))
		if err != nil {
			t.Fatal(err)
		}
		auditors = append(auditors, a)
	}
	var stops []func() error
	for _, a := range auditors {
		stops = append(stops, start(t, a))
	}
	waitFor(t, 30*time.Second, "every event", func() bool {
		return lag(t, auditors[0]) == 0 && es.count(t, prefix, "") >= n
	})
	var total uint64
	for i, stop := range stops {
		if err := stop(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		st := auditors[i].Stats()
		t.Logf("auditor %d: %+v", i, st)
		total += st.Indexed
	}
	if got := es.countIDs(t, prefix, ids); got != n || es.count(t, prefix, "") != n || total != n {
		t.Fatalf("%d documents of %d events (%d indexed in all), want exactly %d", got, n, total, n)
	}
}
