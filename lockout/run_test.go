package lockout

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

func encodeOutcome(tb testing.TB, action string, at time.Time, o events.AuthOutcome) []byte {
	tb.Helper()
	o.Action = action
	ev, err := events.New("node-1", events.AuthType(action), o.RequestID, at, o)
	if err != nil {
		tb.Fatal(err)
	}
	raw, err := ev.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}

func wrong(user string) events.AuthOutcome {
	return events.AuthOutcome{Outcome: "failure", Principal: user, Realms: []events.RealmAttempt{
		{Realm: "default_native", Type: "native", Reason: "unknown user"},
		{Realm: "default_file", Type: "file", Reason: events.RealmReasonWrongPassword},
	}}
}

func TestWrongPassword(t *testing.T) {
	at := t0.Add(1500 * time.Millisecond)
	tests := []struct {
		name string
		raw  []byte
		want bool
	}{
		{"a wrong password in one realm", encodeOutcome(t, events.ActionAuthenticationFailed, at, wrong("alice")), true},
		{"unknown user only", encodeOutcome(t, events.ActionAuthenticationFailed, at, events.AuthOutcome{Principal: "alice",
			Realms: []events.RealmAttempt{{Realm: "default_native", Reason: "unknown user"}}}), false},
		{"a refusal of a locked account", encodeOutcome(t, events.ActionAuthenticationFailed, at, events.AuthOutcome{Principal: "alice",
			Realms: []events.RealmAttempt{{Realm: "_lockout", Reason: "account locked until 2026-12-06T08:15:00Z"}}}), false},
		{"no principal", encodeOutcome(t, events.ActionAuthenticationFailed, at, wrong("")), false},
		{"another action", encodeOutcome(t, events.ActionAccessDenied, at, wrong("alice")), false},
		{"not JSON", []byte("{"), false},
		{"data not an outcome", []byte(`{"specversion":"1.0","id":"x","source":"s","type":"portcullis.auth.authentication_failed.v1","time":"2026-12-06T08:00:01.5Z","data":[1]}`), false},
		{"no time", bytes.Replace(encodeOutcome(t, events.ActionAuthenticationFailed, at, wrong("alice")), []byte(`"time":"2026-12-06T08:00:01.5Z"`), []byte(`"time":"0001-01-01T00:00:00Z"`), 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			user, got, ok := WrongPassword(tt.raw)
			if ok != tt.want {
				t.Fatalf("ok = %v, want %v (%s)", ok, tt.want, tt.raw)
			}
			if ok && (user != "alice" || !got.Equal(at)) {
				t.Errorf("user %q at %s, want alice at %s", user, got, at)
			}
		})
	}
}

// FuzzWrongPassword: AUTH messages are untrusted input to the lockout;
// WrongPassword never panics and names a user only with a time.
func FuzzWrongPassword(f *testing.F) {
	f.Add(encodeOutcome(f, events.ActionAuthenticationFailed, t0, wrong("alice")))
	f.Add([]byte(`{"type":"portcullis.auth.authentication_failed.v1","time":"2026-12-06T08:00:00Z","data":{"principal":"a","realms":[{"reason":"invalid password"}]}}`))
	f.Add([]byte(`{"data":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		user, at, ok := WrongPassword(raw)
		if ok && (user == "" || at.IsZero()) {
			t.Fatalf("ok with user %q at %s", user, at)
		}
	})
}

// TestRun: failures published on the AUTH stream, by any replica and
// packed several to a message, lock the account on a tracker that follows
// the stream, and on one that starts afterwards and reads the recent past.
func TestRun(t *testing.T) {
	srv := eventstest.StartServer(t)
	_, js := eventstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := events.EnsureStreams(ctx, js, events.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	subject := events.AuthSubject(events.ActionAuthenticationFailed)
	publish := func(outcomes ...[]byte) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Header.Set(events.HeaderEvents, fmt.Sprint(len(outcomes)))
		m.Data = bytes.Join(outcomes, []byte("\n"))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	epochs := func(user string) uint64 {
		if user == "alice" {
			return 7
		}
		return 0
	}
	cfg := Config{Threshold: 3, Window: time.Minute, Duration: time.Hour}
	follow := func() *Tracker {
		tr := newTracker(t, cfg)
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { tr.Run(rctx, js, epochs, slog.New(slog.DiscardHandler)); close(done) }()
		t.Cleanup(func() {
			rcancel()
			<-done
		})
		return tr
	}
	live := follow()
	now := time.Now()
	// Two wrong passwords on one replica, packed in one message; another
	// kind of failure in between; the third on another replica.
	unknown := events.AuthOutcome{Principal: "alice", Realms: []events.RealmAttempt{{Realm: "default_native", Reason: "unknown user"}}}
	publish(encodeOutcome(t, events.ActionAuthenticationFailed, now, wrong("alice")),
		encodeOutcome(t, events.ActionAuthenticationFailed, now, unknown),
		encodeOutcome(t, events.ActionAuthenticationFailed, now.Add(time.Second), wrong("alice")))
	time.Sleep(50 * time.Millisecond)
	if _, ok := live.Locked("alice", time.Now()); ok {
		t.Fatal("locked after two wrong passwords")
	}
	publish(encodeOutcome(t, events.ActionAuthenticationFailed, now.Add(2*time.Second), wrong("alice")))
	waitLocked(t, live, "alice", 7)
	if l, _ := live.Locked("alice", time.Now()); !l.Until.Equal(now.Add(2 * time.Second).Add(time.Hour).Truncate(time.Millisecond)) {
		t.Errorf("lock until %s, want an hour after the third failure", l.Until)
	}
	if l, _ := live.Locked("alice", time.Now()); !l.Holds(7) || l.Holds(8) {
		t.Errorf("lock %+v: taken at epoch 7, lifted by a password change", l)
	}
	// A replica that starts now reads the recent failures and agrees.
	waitLocked(t, follow(), "alice", 7)
}

func waitLocked(t *testing.T, tr *Tracker, user string, epoch uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l, ok := tr.Locked(user, time.Now()); ok && l.Holds(epoch) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not locked", user)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunRetries: a tracker that cannot follow the stream yet (here: it
// does not exist) keeps trying, and counts the failures once it can.
func TestRunRetries(t *testing.T) {
	defer func(first time.Duration) { retryFirst = first }(retryFirst)
	retryFirst = 10 * time.Millisecond
	srv := eventstest.StartServer(t)
	_, js := eventstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs lines // only warnings: that it failed to follow
	tr := newTracker(t, Config{Threshold: 2})
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		tr.Run(rctx, js, func(string) uint64 { return 0 }, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
		close(done)
	}()
	defer func() { rcancel(); <-done }()
	for logs.n.Load() < 2 { // failed, and failed again after a pause
		if ctx.Err() != nil {
			t.Fatal("no failure to follow logged")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := events.EnsureStreams(ctx, js, events.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 2 {
		raw := encodeOutcome(t, events.ActionAuthenticationFailed, now.Add(time.Duration(i)*time.Second), wrong("alice"))
		if _, err := js.Publish(ctx, events.AuthSubject(events.ActionAuthenticationFailed), raw); err != nil {
			t.Fatal(err)
		}
	}
	waitLocked(t, tr, "alice", 0)
}

// lines counts what is logged to it.
type lines struct{ n atomic.Int32 }

func (l *lines) Write(p []byte) (int, error) {
	l.n.Add(int32(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}
