package auditor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/auditor/auditortest"
	"github.com/portcullis/portcullis/events"
)

// TestPackedMessages: outcomes as the gateway's emitter publishes them,
// several to a message, through an Elasticsearch outage: every event gets
// exactly one document, and a message is acknowledged only once all of its
// events are written.
func TestPackedMessages(t *testing.T) {
	const n = 600
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, js := nenv.connect(t)
	prefix := es.testPrefix(t)
	proxy := auditortest.NewProxy(t, es.url)

	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(t, proxy.URL(), nil), IndexPrefix: prefix,
		BatchSize: 50, FlushInterval: 100 * time.Millisecond, MaxBackoff: time.Second,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	stop := start(t, a)
	waitFor(t, 30*time.Second, "the auditor's consumer", func() bool { return lag(t, a) == 0 })
	proxy.Down()

	em, err := events.NewEmitter(events.EmitterConfig{JS: js, Source: "test-gw", Linger: 100 * time.Millisecond, Batch: 256})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- em.Run(ctx) }()
	run := runID()
	for i := range n {
		if err := em.Emit(time.Now(), failure(fmt.Sprintf("packed-%s-%d", run, i%13), fmt.Sprintf("req-%s-%d", run, i))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 30*time.Second, "the outcomes published", func() bool { return em.Published() == n })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	msgs := streamMsgs(t, js)
	if msgs >= n/10 {
		t.Fatalf("%d messages for %d outcomes: not packed", msgs, n)
	}
	waitFor(t, 30*time.Second, "failed attempts while Elasticsearch is down", func() bool { return a.Stats().Retried > 0 })
	if l := lag(t, a); l != msgs {
		t.Fatalf("lag during the outage = %d, want %d: every message waits in the stream", l, msgs)
	}

	if err := proxy.Up(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the documents after the outage", func() bool {
		return lag(t, a) == 0 && es.count(t, prefix, "") >= n
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := es.count(t, prefix, ""); got != n {
		t.Fatalf("%d documents, want exactly %d", got, n)
	}
	if got := es.count(t, prefix, `{"prefix":{"request.id":"req-`+run+`-"}}`); got != n {
		t.Fatalf("%d documents of this run's requests, want %d", got, n)
	}
	if st := a.Stats(); st.Indexed+st.Duplicates != n || st.DeadLettered != 0 {
		t.Fatalf("stats %+v: want %d indexed or duplicate, none dead-lettered", st, n)
	}
}

// TestPackedDeadLetter: of a message of three events whose second
// Elasticsearch rejects for good, the first and third are written and the
// second dead-lettered alone, with its place in the message; the message is
// acknowledged.
func TestPackedDeadLetter(t *testing.T) {
	es := esEnv{url: auditortest.ESURL(t)}
	nenv := startNATS(t)
	_, js := nenv.connect(t)
	prefix := es.testPrefix(t)
	conflict := "portcullis-audit-test-conflict-" + runID()
	es.mustJSON(t, "PUT", "/_index_template/"+conflict, `{"index_patterns":["`+prefix+`*"],"priority":10000,
		"template":{"settings":{"number_of_shards":1,"number_of_replicas":0},
		"mappings":{"properties":{"user":{"properties":{"name":{"type":"long"}}}}}}}`, nil)
	t.Cleanup(func() { es.do(t, "DELETE", "/_index_template/"+conflict, "") })

	var lines []string
	var ids []string
	for _, user := range []string{"12345", "alice", "67890"} { // "alice" is not a long
		ev, err := events.New("test-gw", events.AuthType(events.ActionAuthenticationFailed), "", time.Now(), failure(user, "r-"+user))
		if err != nil {
			t.Fatal(err)
		}
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
		ids = append(ids, ev.ID)
	}
	m := nats.NewMsg(events.AuthSubject(events.ActionAuthenticationFailed))
	m.Data = []byte(strings.Join(lines, "\n"))
	m.Header.Set(events.HeaderEvents, strconv.Itoa(len(lines)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(ids[0])); err != nil {
		t.Fatal(err)
	}

	a, err := auditor.New(auditor.Config{
		JS: js, ES: newClient(t, es.url, nil), IndexPrefix: prefix, FlushInterval: 100 * time.Millisecond,
	}, auditor.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	start(t, a)
	waitFor(t, 30*time.Second, "two documents, a dead letter and the message acknowledged", func() bool {
		return lag(t, a) == 0 && a.Stats().DeadLettered == 1
	})
	if got := es.countIDs(t, prefix, []string{ids[0], ids[2]}); got != 2 || es.count(t, prefix, "") != 2 {
		t.Fatalf("%d of the two good documents, want both (and nothing else)", got)
	}
	s, err := js.Stream(ctx, auditor.DeadLetterStream)
	if err != nil {
		t.Fatal(err)
	}
	dm, err := s.GetMsg(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	var dl auditor.DeadLetter
	if err := json.Unmarshal(dm.Data, &dl); err != nil {
		t.Fatal(err)
	}
	if dl.EventID != ids[1] || dl.EventIndex != 1 || dl.Events != 3 || dl.StreamSequence != 1 || dl.Status != 400 {
		t.Fatalf("dead letter %s", dm.Data)
	}
	var orig events.Event
	if err := json.Unmarshal(dl.Event, &orig); err != nil || orig.ID != ids[1] {
		t.Fatalf("the dead letter carries %s, want the rejected event alone: %v", dl.Event, err)
	}
	if got := dm.Header.Get(jetstream.MsgIDHeader); got != events.StreamAuth+":1:1" {
		t.Fatalf("dead letter Nats-Msg-Id %q", got)
	}
}

// streamMsgs is the number of messages in the AUTH stream.
func streamMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), events.StreamAuth)
	if err != nil {
		t.Fatal(err)
	}
	si, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return si.State.Msgs
}
