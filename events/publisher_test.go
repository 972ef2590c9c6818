package events

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events/eventstest"
)

func TestAckError(t *testing.T) {
	noResponders := &nats.Msg{Header: nats.Header{"Status": []string{"503"}}}
	var apiErr *jetstream.APIError
	for _, c := range []struct {
		msg  *nats.Msg
		want func(error) bool
	}{
		{&nats.Msg{Data: []byte(`{"stream":"PORTCULLIS_AUTH","seq":12}`)}, func(err error) bool { return err == nil }},
		{&nats.Msg{Data: []byte(`{"stream":"PORTCULLIS_AUTH","seq":12,"duplicate": true}`)}, func(err error) bool { return err == nil }},
		{&nats.Msg{Data: []byte(`{"stream":"A", "domain":"d", "seq":3}`)}, func(err error) bool { return err == nil }},
		{&nats.Msg{Data: []byte(`{"seq":3,"stream":"A"}`)}, func(err error) bool { return err == nil }},
		{noResponders, func(err error) bool { return errors.Is(err, jetstream.ErrNoStreamResponse) }},
		{&nats.Msg{Data: []byte(`{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`)},
			func(err error) bool { return errors.As(err, &apiErr) && apiErr.ErrorCode == 10077 }},
		{&nats.Msg{Data: []byte(`{"stream":"A","error":{"code":400,"err_code":1,"description":"x"}}`)},
			func(err error) bool { return errors.As(err, &apiErr) && apiErr.Code == 400 }},
		{&nats.Msg{Data: []byte(`{"stream":"","seq":1}`)}, func(err error) bool { return errors.Is(err, jetstream.ErrInvalidJSAck) }},
		{&nats.Msg{Data: []byte(`{"stream":"A","seq":1`)}, func(err error) bool { return errors.Is(err, jetstream.ErrInvalidJSAck) }},
		{&nats.Msg{Data: []byte(`{}`)}, func(err error) bool { return errors.Is(err, jetstream.ErrInvalidJSAck) }},
		{&nats.Msg{}, func(err error) bool { return errors.Is(err, jetstream.ErrInvalidJSAck) }},
	} {
		if err := ackError(c.msg); !c.want(err) {
			t.Errorf("ackError(%q, %v) = %v", c.msg.Data, c.msg.Header, err)
		}
	}
}

// publisherFixture is a server with the streams, a connection, and a
// publisher on it.
func publisherFixture(t *testing.T, timeout time.Duration) (jetstream.JetStream, *publisher) {
	t.Helper()
	srv := startServer(t, t.TempDir(), -1)
	t.Cleanup(srv.Shutdown)
	nc, js := connectStreams(t, srv)
	p, err := newPublisher(nc, 8, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.close)
	return js, p
}

// connectStreams connects to srv, closed when the test ends, and creates
// the streams.
func connectStreams(t *testing.T, srv *server.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	if err := EnsureStreams(context.Background(), js, StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func authMsgs(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	return eventstest.StreamMsgs(t, js, StreamAuth)
}

func encoded(t *testing.T, o AuthOutcome) outgoing {
	t.Helper()
	now := time.Now()
	typ, subject := authNames(o.Action)
	id := NewID(now)
	b, ok := appendAuthEvent(nil, "test", id, typ, now.UTC().Truncate(time.Millisecond), &o)
	if !ok {
		t.Fatal("not encoded")
	}
	return outgoing{subject: subject, id: id, buf: &b, n: 1}
}

// A publish again of an acknowledged outcome (same event id) is
// acknowledged as a duplicate and stored once.
func TestPublisherDuplicateIsAcknowledged(t *testing.T) {
	js, p := publisherFixture(t, time.Minute)
	batch := []outgoing{encoded(t, AuthOutcome{Action: ActionLogin}), encoded(t, AuthOutcome{Action: ActionLogout})}
	for round := 0; round < 2; round++ {
		failed, err := p.publish(context.Background(), batch, nil)
		if len(failed) != 0 || err != nil {
			t.Fatalf("round %d: %d failed: %v", round, len(failed), err)
		}
	}
	if n := authMsgs(t, js); n != 2 {
		t.Fatalf("AUTH holds %d, want 2", n)
	}
}

// An ack of a round given up on, arriving during a later round, is not
// taken for the later round's.
func TestPublisherIgnoresLateAcks(t *testing.T) {
	_, p := publisherFixture(t, time.Minute)
	// A round (1) given up on whose ack for slot 0 comes late: the handler
	// had removed it before the round gave up.
	p.mu.Lock()
	p.gen = 1
	p.waiting[p.next] = slot{gen: 1, i: 0}
	tok := p.next
	p.next++
	p.mu.Unlock()
	p.handle(&nats.Msg{Subject: p.prefix + strconv.FormatUint(tok, 36), Data: []byte(`{"stream":"PORTCULLIS_AUTH","seq":1}`)})
	// Round 2 publishes to a subject no stream takes: its own answer is a
	// refusal, which must not be hidden by round 1's ack of slot 0.
	o := encoded(t, AuthOutcome{Action: ActionLogin})
	o.subject = "nowhere.login"
	failed, err := p.publish(context.Background(), []outgoing{o}, nil)
	if len(failed) != 1 || !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("round 2: %d failed, %v; want 1 failed, no stream response", len(failed), err)
	}
}

// Outcomes the stream refuses are retried until it takes them, and only
// then counted published.
func TestEmitterRetriesRefusedOutcomes(t *testing.T) {
	js, _ := publisherFixture(t, time.Minute)
	ctx := context.Background()
	s, err := js.Stream(ctx, StreamAuth)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgs, cfg.Discard = 1, jetstream.DiscardNew
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	logs := make(chan string, 100)
	log := slog.New(chanHandler(logs))
	em, err := NewEmitter(EmitterConfig{JS: js, Source: "test", Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- em.Run(runCtx) }()
	for _, a := range []string{ActionLogin, ActionLogout} {
		if err := em.Emit(time.Now(), AuthOutcome{Action: a}); err != nil {
			t.Fatal(err)
		}
	}
	for msg := range logs {
		if strings.Contains(msg, "auth_outcome_publish_retry") && strings.Contains(msg, "maximum messages") {
			break
		}
	}
	if n := em.Published(); n > 1 {
		t.Fatalf("%d published while the stream refuses the second", n)
	}
	cfg.MaxMsgs = -1
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); em.Published() < 2 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := authMsgs(t, js); n != 2 || em.Published() != 2 {
		t.Fatalf("AUTH holds %d, %d published; want 2", n, em.Published())
	}
}

// chanHandler is a slog handler sending each record's message and
// attributes, as one line, to a channel (dropping when it is full).
type chanHandler chan string

func (h chanHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h chanHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	select {
	case h <- b.String():
	default:
	}
	return nil
}
func (h chanHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h chanHandler) WithGroup(string) slog.Handler      { return h }
