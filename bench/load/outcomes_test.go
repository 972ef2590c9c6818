package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

// TestOutcomeCounterSettles checks that the counter counts the events of
// packed messages, and that the base taken before a load waits for
// outcomes still on their way (an emitter lingering) instead of leaving
// them to be counted as the load's.
func TestOutcomeCounterSettles(t *testing.T) {
	srv := eventstest.StartServerWith(t, natsserver.Options{Users: []*natsserver.User{{Username: natsUser, Password: natsPassword}}})
	_, js := eventstest.ConnectWith(t, srv.ClientURL(), nats.UserInfo(natsUser, natsPassword))
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	publish := func(n int) error {
		m := nats.NewMsg(events.AuthSubject(events.ActionAccessGranted))
		m.Header.Set(events.HeaderEvents, strconv.Itoa(n))
		m.Data = []byte(strings.Repeat("{}\n", n))
		_, err := js.PublishMsg(ctx, m)
		return err
	}
	for _, n := range []int{3, 1} {
		if err := publish(n); err != nil {
			t.Fatal(err)
		}
	}

	// Two outcomes still on their way when the count starts: well within
	// the quiet time, which is long here so that a slow machine cannot
	// make them late.
	c := &outcomeCounter{name: "test", natsAddr: strings.TrimPrefix(srv.ClientURL(), "nats://"), quiet: time.Second}
	defer c.close()
	late := make(chan error, 1)
	go func() {
		time.Sleep(100 * time.Millisecond)
		late <- publish(2)
	}()
	n, err := c.settled(ctx)
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 || c.messages != 3 {
		t.Errorf("settled at %d outcomes in %d messages, want 6 in 3", n, c.messages)
	}
	if err := publish(4); err != nil {
		t.Fatal(err)
	}
	if n, err := c.waitOutcomes(ctx, 10); err != nil || n != 10 {
		t.Errorf("waitOutcomes: %d, %v; want 10", n, err)
	}

	// The last access_granted outcome: the last event of the subject's
	// last message, whatever came on other subjects after it.
	if _, err := js.Publish(ctx, events.AuthSubject(events.ActionAccessGranted), []byte(`{"id":"a"}`+"\n"+`{"id":"b"}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, events.AuthSubject(events.ActionAccessDenied), []byte(`{"id":"c"}`)); err != nil {
		t.Fatal(err)
	}
	if doc, err := c.lastGranted(ctx); err != nil || doc["id"] != "b" {
		t.Errorf("lastGranted: %v, %v; want the event with id b", doc, err)
	}
}

// TestSameOutcome checks what the floor's outcome may differ from
// Portcullis's in: ids, times, request ids and the revision's digits, not
// any other field nor the revision's length.
func TestSameOutcome(t *testing.T) {
	doc := func(id, time, reqID, rev, rule string) map[string]any {
		return map[string]any{"id": id, "time": time, "subject": reqID, "source": "bench", "type": "portcullis.auth.access_granted.v1",
			"data": map[string]any{"request_id": reqID, "policy_revision": rev, "rule": rule, "roles": []any{"bench_reader"}}}
	}
	a := doc("1", "t1", "bench-1", "0123456789abcdef", "role_privileges")
	if err := sameOutcome(a, doc("22", "t2.5", "bench-zz", "fedcba9876543210", "role_privileges")); err != nil {
		t.Errorf("same outcome refused: %v", err)
	}
	if err := sameOutcome(a, doc("1", "t1", "bench-1", "0123456789abcdef", "other")); err == nil {
		t.Error("another rule accepted")
	}
	if err := sameOutcome(a, doc("1", "t1", "bench-1", "0123456789abcde", "role_privileges")); err == nil {
		t.Error("a shorter revision accepted")
	}
	more := doc("1", "t1", "bench-1", "0123456789abcdef", "role_privileges")
	more["data"].(map[string]any)["reason"] = "why"
	if err := sameOutcome(a, more); err == nil {
		t.Error("an outcome with a field more accepted")
	}
	if a["data"].(map[string]any)["request_id"] != "bench-1" || a["subject"] != "bench-1" {
		t.Error("sameOutcome changed its argument")
	}
}
