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

func TestParseFailure(t *testing.T) {
	at := t0.Add(1500 * time.Millisecond)
	native := events.AuthOutcome{Principal: "alice", AccountUID: "uid-a", AccountEpoch: 3, Realms: []events.RealmAttempt{
		{Realm: "default_native", Type: "native", Reason: events.RealmReasonWrongPassword}}}
	tests := []struct {
		name string
		raw  []byte
		want Failure
		ok   bool
	}{
		{"a wrong password in the file realm", encodeOutcome(t, events.ActionAuthenticationFailed, at, wrong("alice")), Failure{User: "alice", At: at}, true},
		{"a wrong password of a native account", encodeOutcome(t, events.ActionAuthenticationFailed, at, native),
			Failure{User: "alice", AccountUID: "uid-a", AccountEpoch: 3, At: at}, true},
		{"unknown user only", encodeOutcome(t, events.ActionAuthenticationFailed, at, events.AuthOutcome{Principal: "alice",
			Realms: []events.RealmAttempt{{Realm: "default_native", Reason: "unknown user"}}}), Failure{}, false},
		{"a refusal of a locked user", encodeOutcome(t, events.ActionAuthenticationFailed, at, events.AuthOutcome{Principal: "alice",
			Realms: []events.RealmAttempt{{Realm: "default_native", Reason: events.RealmReasonWrongPassword}, {Realm: events.RealmLockout, Reason: "account locked until 2026-12-06T08:15:00Z"}}}), Failure{}, false},
		{"no principal", encodeOutcome(t, events.ActionAuthenticationFailed, at, wrong("")), Failure{}, false},
		{"another action", encodeOutcome(t, events.ActionAccessDenied, at, wrong("alice")), Failure{}, false},
		{"not JSON", []byte("{"), Failure{}, false},
		{"data not an outcome", []byte(`{"specversion":"1.0","id":"x","source":"s","type":"portcullis.auth.authentication_failed.v1","time":"2026-12-06T08:00:01.5Z","data":[1]}`), Failure{}, false},
		{"no time", bytes.Replace(encodeOutcome(t, events.ActionAuthenticationFailed, at, wrong("alice")), []byte(`"time":"2026-12-06T08:00:01.5Z"`), []byte(`"time":"0001-01-01T00:00:00Z"`), 1), Failure{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseFailure(tt.raw)
			if ok != tt.ok || ok && (got.User != tt.want.User || got.AccountUID != tt.want.AccountUID || got.AccountEpoch != tt.want.AccountEpoch || !got.At.Equal(tt.want.At)) {
				t.Fatalf("ParseFailure = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzParseFailure: AUTH messages are untrusted input to the lockout;
// ParseFailure never panics and names a user only with a time.
func FuzzParseFailure(f *testing.F) {
	f.Add(encodeOutcome(f, events.ActionAuthenticationFailed, t0, wrong("alice")))
	f.Add([]byte(`{"type":"portcullis.auth.authentication_failed.v1","time":"2026-12-06T08:00:00Z","data":{"principal":"a","realms":[{"reason":"invalid password"}]}}`))
	f.Add([]byte(`{"data":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := ParseFailure(raw)
		if ok && (got.User == "" || got.At.IsZero()) {
			t.Fatalf("ok with %+v", got)
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
	cfg := Config{Threshold: 3, Window: time.Minute, Duration: time.Hour}
	follow := func() *Tracker {
		tr := newTracker(t, cfg)
		rctx, rcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { tr.Run(rctx, js, slog.New(slog.DiscardHandler)); close(done) }()
		t.Cleanup(func() {
			rcancel()
			<-done
		})
		return tr
	}
	live := follow()
	now := time.Now()
	// alice is a native account: the outcomes name its incarnation and
	// password epoch.
	alice := events.AuthOutcome{Principal: "alice", AccountUID: "uid-a", AccountEpoch: 7,
		Realms: []events.RealmAttempt{{Realm: "default_native", Type: "native", Reason: events.RealmReasonWrongPassword}}}
	// Two wrong passwords on one replica, packed in one message; another
	// kind of failure in between; the third on another replica. bob's
	// three are dated an hour ahead: a clock far off, or forged.
	unknown := events.AuthOutcome{Principal: "alice", Realms: []events.RealmAttempt{{Realm: "default_native", Reason: "unknown user"}}}
	publish(encodeOutcome(t, events.ActionAuthenticationFailed, now, alice),
		encodeOutcome(t, events.ActionAuthenticationFailed, now, unknown),
		encodeOutcome(t, events.ActionAuthenticationFailed, now.Add(time.Second), alice))
	for i := range 3 {
		publish(encodeOutcome(t, events.ActionAuthenticationFailed, now.Add(time.Hour+time.Duration(i)), wrong("bob")))
	}
	counted := func() int { // alice's failures folded so far
		live.mu.Lock()
		defer live.mu.Unlock()
		if h := live.failures[key{name: "alice", native: true}]; h != nil {
			return len(h.at)
		}
		return 0
	}
	for deadline := time.Now().Add(10 * time.Second); counted() < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of alice's two wrong passwords folded", counted())
		}
	}
	if _, ok := live.Locked("alice", "uid-a", 7, time.Now()); ok {
		t.Fatal("locked after two wrong passwords")
	}
	publish(encodeOutcome(t, events.ActionAuthenticationFailed, now.Add(2*time.Second), alice))
	waitLocked(t, live, "alice", "uid-a", 7)
	if _, ok := live.Locked("bob", "", 0, now.Add(time.Hour+time.Second)); ok {
		t.Error("failures dated an hour ahead locked bob")
	}
	if l, _ := live.Locked("alice", "uid-a", 7, time.Now()); !l.Until.Equal(now.Add(2 * time.Second).Add(time.Hour).Truncate(time.Millisecond)) {
		t.Errorf("lock until %s, want an hour after the third failure", l.Until)
	}
	if _, ok := live.Locked("alice", "uid-a", 8, time.Now()); ok {
		t.Error("the lock holds after a password change")
	}
	// A replica that starts now reads the recent failures and agrees.
	waitLocked(t, follow(), "alice", "uid-a", 7)
}

func waitLocked(t *testing.T, tr *Tracker, user, uid string, epoch uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := tr.Locked(user, uid, epoch, time.Now()); ok {
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
		tr.Run(rctx, js, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn})))
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
	waitLocked(t, tr, "alice", "", 0)
}

// lines counts what is logged to it.
type lines struct{ n atomic.Int32 }

func (l *lines) Write(p []byte) (int, error) {
	l.n.Add(int32(bytes.Count(p, []byte("\n"))))
	return len(p), nil
}
