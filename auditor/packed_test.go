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
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

// TestPackedMessages: outcomes as the gateway's emitter publishes them,
// several to a message, through an Elasticsearch outage: every event gets
// exactly one document, and a message is acknowledged only once all of its
// events are written.
func TestPackedMessages(t *testing.T) {
	const n = 600
	o := startOutage(t, 50)
	em, err := events.NewEmitter(events.EmitterConfig{JS: o.js, Source: "test-gw", Linger: 100 * time.Millisecond, Batch: 256})
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
	msgs := eventstest.StreamMsgs(t, o.js, events.StreamAuth)
	if msgs >= n/10 {
		t.Fatalf("%d messages for %d outcomes: not packed", msgs, n)
	}
	var ids []string
	for m := range eventstest.Messages(t, o.js, events.StreamAuth) {
		for line := range events.SplitEvents(m.Data) {
			ev, err := events.Decode(line)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, ev.ID)
		}
	}
	o.recoverAndCheck(t, n, msgs, ids)
}

// TestPackedDeadLetter: of a message of three events whose second
// Elasticsearch rejects for good, the first and third are written and the
// second dead-lettered alone, with its place in the message; the message is
// acknowledged.
func TestPackedDeadLetter(t *testing.T) {
	es, js, prefix := userNameLong(t)

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

	a := startDefault(t, js, es.url, prefix)
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
