package projector

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

// natsEnv is a real nats-server embedded in the test process, with the two
// streams the projector reads.
type natsEnv struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func startNATS(tb testing.TB) *natsEnv {
	tb.Helper()
	srv := eventstest.StartServer(tb)
	e := &natsEnv{srv: srv}
	e.nc, e.js = e.connect(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, cfg := range []jetstream.StreamConfig{
		{Name: events.StreamState, Subjects: []string{events.SubjectState}, Storage: jetstream.FileStorage,
			DenyDelete: true, DenyPurge: true},
		{Name: events.StreamTokens, Subjects: []string{events.SubjectTokens}, Storage: jetstream.FileStorage,
			MaxAge: events.TokenStreamMaxAge(24 * time.Hour)},
	} {
		if _, err := e.js.CreateStream(ctx, cfg); err != nil {
			tb.Fatal(err)
		}
	}
	return e
}

func (e *natsEnv) connect(tb testing.TB) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	return eventstest.Connect(tb, e.srv)
}

// publish appends ev on subject as a command would and returns its stream
// sequence.
func (e *natsEnv) publish(tb testing.TB, subject string, ev events.Event) uint64 {
	tb.Helper()
	raw, err := ev.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := e.js.Publish(ctx, subject, raw, jetstream.WithMsgID(ev.ID))
	if err != nil {
		tb.Fatal(err)
	}
	return ack.Sequence
}

func (e *natsEnv) state(tb testing.TB, subject string, ev events.Event) uint64 {
	return e.publish(tb, subject, ev)
}

func (e *natsEnv) token(tb testing.TB, ev events.Event) uint64 {
	return e.publish(tb, events.TokensSubject(ev.Type), ev)
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// running starts p.Run and stops it at the end of the test, requiring a
// clean nil return.
func running(tb testing.TB, p *Projector) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				tb.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Error("Run did not return after cancel")
		}
	})
}

func newProjector(tb testing.TB, js jetstream.JetStream, cfg Config, opts ...Option) *Projector {
	tb.Helper()
	cfg.JS = js
	p, err := New(cfg, append([]Option{WithLogger(quietLogger())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func waitFor(tb testing.TB, p *Projector, stream string, seq uint64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitFor(ctx, stream, seq); err != nil {
		tb.Fatal(err)
	}
}

// eventually polls cond; only for effects that have no event to wait on
// (the sweeper's timer).
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := New(Config{SweepInterval: -1, CatchUpWait: -time.Second, ClockSkew: -1})
	if !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, key := range []string{"projector.js", "projector.sweep_interval", "projector.catch_up_wait", "projector.clock_skew"} {
		if !contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
	e := startNATS(t)
	p, err := New(Config{JS: e.js})
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.SweepInterval != DefaultSweepInterval || p.cfg.CatchUpWait != DefaultCatchUpWait {
		t.Errorf("defaults not set: %+v", p.cfg)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestReplayFromStart(t *testing.T) {
	e := startNATS(t)
	exp := time.Now().Add(time.Hour)
	e.state(t, accountSubject("alice"), accountCreated(t, "alice", "u1", "h1", "reader"))
	e.state(t, accountSubject("bob"), accountCreated(t, "bob", "u2", "h2", "writer"))
	e.state(t, accountSubject("bob"), accountUpdated(t, "bob", "u2", nil, &[]string{"admin"}))
	e.state(t, constraintSubject("c1"), constraintCreated(t, "c1", []string{"/logs"}, []string{"GET"}, []string{"reader"}))
	e.state(t, accountSubject("carol"), newEvent(t, "portcullis.account.created.v7", "carol", map[string]string{}))
	lastState := e.state(t, accountSubject("alice"), accountUpdated(t, "alice", "WRONG", nil, nil)) // skipped
	e.token(t, tokenIssuedEv(t, "tok-a", "alice", "u1", 1, exp))
	e.token(t, tokenIssuedEv(t, "tok-b", "bob", "u2", 1, exp))
	lastTokens := e.token(t, tokenRevokedEv(t, "tok-b"))

	var changes atomic.Int32
	var seen Change
	var mu sync.Mutex
	p := newProjector(t, e.js, Config{}, WithOnChange(func(c Change) {
		changes.Add(1)
		mu.Lock()
		seen |= c
		mu.Unlock()
	}))
	if p.Ready() {
		t.Fatal("ready before Run")
	}
	running(t, p)
	waitFor(t, p, events.StreamState, lastState)
	waitFor(t, p, events.StreamTokens, lastTokens)
	if !p.Ready() {
		t.Fatal("not ready after replay")
	}
	m := p.Model()
	if a, ok := m.Account("bob"); !ok || !reflect.DeepEqual(a.Roles, []string{"admin"}) {
		t.Errorf("bob: %+v", a)
	}
	if _, _, ok := m.ResolveToken(tokenHash("tok-a"), time.Now()); !ok {
		t.Error("tok-a does not resolve")
	}
	if _, _, ok := m.ResolveToken(tokenHash("tok-b"), time.Now()); ok {
		t.Error("revoked tok-b resolves")
	}
	if got := m.Constraints(); len(got) != 1 || got[0].ID != "c1" {
		t.Errorf("constraints %+v", got)
	}
	if got := m.SubjectSeq(accountSubject("alice")); got != lastState {
		t.Errorf("alice subject seq %d, want %d (the skipped event counts)", got, lastState)
	}
	if m.Applied(events.StreamState) != lastState || m.Applied(events.StreamTokens) != lastTokens {
		t.Errorf("applied %d %d", m.Applied(events.StreamState), m.Applied(events.StreamTokens))
	}
	// The replay is reported once, when ready, not per batch.
	mu.Lock()
	defer mu.Unlock()
	if changes.Load() != 1 || seen != ChangeAccount|ChangeConstraint|ChangeToken {
		t.Errorf("OnChange called %d times with %v", changes.Load(), seen)
	}
}

func TestReadyOnEmptyStreams(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{})
	running(t, p)
	eventually(t, "ready", p.Ready)
	if !p.Ready() {
		t.Fatal("not ready on empty streams")
	}
}

// TestReadyWaitsForOnChange holds the OnChange of the replay and checks
// that the projector is not ready (health 503) until the policy it feeds
// has been rebuilt.
func TestReadyWaitsForOnChange(t *testing.T) {
	e := startNATS(t)
	seq := e.state(t, constraintSubject("c1"), constraintCreated(t, "c1", []string{"/"}, nil, nil))
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	p := newProjector(t, e.js, Config{}, WithOnChange(func(Change) {
		once.Do(func() { close(entered) })
		<-release
	}))
	running(t, p)
	<-entered
	if p.Ready() {
		t.Error("ready while OnChange of the replay runs")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if err := p.WaitFor(ctx, events.StreamState, seq); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor returned %v before OnChange finished", err)
	}
	cancel()
	close(release)
	waitFor(t, p, events.StreamState, seq)
	if !p.Ready() {
		t.Error("not ready")
	}
}

func TestReadYourWrites(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{})
	running(t, p)
	eventually(t, "ready", p.Ready)
	exp := time.Now().Add(time.Hour)
	for i := range 50 {
		name := fmt.Sprint("user-", i)
		uid := fmt.Sprint("uid-", i)
		seq := e.state(t, accountSubject(name), accountCreated(t, name, uid, "h"))
		waitFor(t, p, events.StreamState, seq)
		if _, ok := p.Model().Account(name); !ok {
			t.Fatalf("%s not visible after WaitFor(%d)", name, seq)
		}
		if got := p.Model().SubjectSeq(accountSubject(name)); got != seq {
			t.Fatalf("subject seq %d, want %d", got, seq)
		}
		tseq := e.token(t, tokenIssuedEv(t, "tok-"+name, name, uid, 1, exp))
		waitFor(t, p, events.StreamTokens, tseq)
		if _, _, ok := p.Model().ResolveToken(tokenHash("tok-"+name), time.Now()); !ok {
			t.Fatalf("token of %s not visible after WaitFor(%d)", name, tseq)
		}
	}
}

func TestRevocationThroughStream(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{})
	running(t, p)
	exp := time.Now().Add(time.Hour)
	now := time.Now()
	sub := accountSubject("alice")
	m := p.Model()

	waitFor(t, p, events.StreamState, e.state(t, sub, accountCreated(t, "alice", "u1", "h1", "reader")))
	waitFor(t, p, events.StreamTokens, e.token(t, tokenIssuedEv(t, "tok-1", "alice", "u1", 1, exp)))

	// Role change: the token still resolves, with the new roles.
	waitFor(t, p, events.StreamState, e.state(t, sub, accountUpdated(t, "alice", "u1", nil, &[]string{"admin"})))
	a, _, ok := m.ResolveToken(tokenHash("tok-1"), now)
	if !ok || !reflect.DeepEqual(a.Roles, []string{"admin"}) {
		t.Fatalf("after role change: %+v %v", a, ok)
	}

	// Password change: it no longer does.
	waitFor(t, p, events.StreamState, e.state(t, sub, accountUpdated(t, "alice", "u1", ptr("h2"), nil)))
	if _, _, ok := m.ResolveToken(tokenHash("tok-1"), now); ok {
		t.Fatal("token resolves after password change")
	}
	waitFor(t, p, events.StreamTokens, e.token(t, tokenIssuedEv(t, "tok-2", "alice", "u1", 2, exp)))
	if _, _, ok := m.ResolveToken(tokenHash("tok-2"), now); !ok {
		t.Fatal("new token does not resolve")
	}

	// Deletion and re-creation of the same name: no resurrection.
	waitFor(t, p, events.StreamState, e.state(t, sub, accountDeleted(t, "alice", "u1")))
	waitFor(t, p, events.StreamState, e.state(t, sub, accountCreated(t, "alice", "u2", "h3", "reader")))
	for _, tok := range []string{"tok-1", "tok-2"} {
		if _, _, ok := m.ResolveToken(tokenHash(tok), now); ok {
			t.Errorf("%s of the deleted account resolves", tok)
		}
	}
	if a, ok := m.Account("alice"); !ok || a.UID != "u2" {
		t.Fatalf("re-created alice: %+v", a)
	}
}

func TestTwoProjectorsConverge(t *testing.T) {
	e := startNATS(t)
	_, js2 := e.connect(t)
	p1 := newProjector(t, e.js, Config{})
	p2 := newProjector(t, js2, Config{})
	running(t, p1)
	running(t, p2)
	exp := time.Now().Add(time.Hour)
	var lastState, lastTokens uint64
	for i := range 100 {
		name := fmt.Sprint("u", i%10)
		uid := fmt.Sprint("uid", i%10, "-", i/10)
		switch {
		case i < 10:
			lastState = e.state(t, accountSubject(name), accountCreated(t, name, uid, "h"))
		case i%10 == 3:
			lastState = e.state(t, constraintSubject(fmt.Sprint("c", i)), constraintCreated(t, fmt.Sprint("c", i), nil, nil, nil))
		default:
			lastTokens = e.token(t, tokenIssuedEv(t, fmt.Sprint("t", i), name, fmt.Sprint("uid", i%10, "-0"), 1, exp))
		}
	}
	for _, p := range []*Projector{p1, p2} {
		waitFor(t, p, events.StreamState, lastState)
		waitFor(t, p, events.StreamTokens, lastTokens)
	}
	a1, c1, t1 := p1.Model().Counts()
	a2, c2, t2 := p2.Model().Counts()
	if a1 != a2 || c1 != c2 || t1 != t2 || a1 != 10 || c1 != 9 || t1 != 81 {
		t.Fatalf("diverged: %d/%d/%d vs %d/%d/%d", a1, c1, t1, a2, c2, t2)
	}
	if !reflect.DeepEqual(p1.Model().Constraints(), p2.Model().Constraints()) {
		t.Fatal("constraints differ")
	}
	for i := range 100 {
		h := tokenHash(fmt.Sprint("t", i))
		_, _, ok1 := p1.Model().ResolveToken(h, time.Now())
		_, _, ok2 := p2.Model().ResolveToken(h, time.Now())
		if ok1 != ok2 {
			t.Fatalf("token t%d: %v vs %v", i, ok1, ok2)
		}
	}
}

// TestWaitForLatest has one replica issue a token and another, which has
// not waited for it, catch up on demand as the gateway does for an unknown
// token.
func TestWaitForLatest(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{CatchUpWait: 2 * time.Second})
	running(t, p)
	seq := e.state(t, accountSubject("alice"), accountCreated(t, "alice", "u1", "h"))
	waitFor(t, p, events.StreamState, seq)

	// Many concurrent unknown tokens: all of them see the published token
	// (or none, if it was not acknowledged before they asked).
	tseq := e.token(t, tokenIssuedEv(t, "fresh", "alice", "u1", 1, time.Now().Add(time.Hour)))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			if err := p.WaitForLatest(context.Background(), events.StreamTokens); err != nil {
				t.Error(err)
				return
			}
			if p.Model().Applied(events.StreamTokens) < tseq {
				t.Error("WaitForLatest returned before the latest event was applied")
			}
			if _, _, ok := p.Model().ResolveToken(tokenHash("fresh"), time.Now()); !ok {
				t.Error("fresh token unknown after WaitForLatest")
			}
		})
	}
	wg.Wait()

	if err := p.WaitForLatest(context.Background(), "PORTCULLIS_AUTH"); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("unknown stream: %v", err)
	}
}

// TestWaitForLatestBounded runs WaitForLatest on a projector that is not
// running: it must give up after CatchUpWait with ErrBehind.
func TestWaitForLatestBounded(t *testing.T) {
	e := startNATS(t)
	e.token(t, tokenIssuedEv(t, "x", "alice", "u1", 1, time.Now().Add(time.Hour)))
	p := newProjector(t, e.js, Config{CatchUpWait: 30 * time.Millisecond})
	start := time.Now()
	err := p.WaitForLatest(context.Background(), events.StreamTokens)
	if !errors.Is(err, ErrBehind) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want ErrBehind after the deadline", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %s", d)
	}
	// An empty stream needs no waiting.
	if err := p.WaitForLatest(context.Background(), events.StreamState); err != nil {
		t.Errorf("empty stream: %v", err)
	}
}

func TestSweeperDropsExpiredTokens(t *testing.T) {
	e := startNATS(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	p := newProjector(t, e.js, Config{SweepInterval: 5 * time.Millisecond, ClockSkew: time.Minute}, WithClock(now))
	running(t, p)
	waitFor(t, p, events.StreamState, e.state(t, accountSubject("alice"), accountCreated(t, "alice", "u1", "h")))
	exp := now().Add(time.Hour)
	var last uint64
	for i := range 10 {
		last = e.token(t, tokenIssuedEv(t, fmt.Sprint("t", i), "alice", "u1", 1, exp.Add(time.Duration(i)*time.Hour)))
	}
	waitFor(t, p, events.StreamTokens, last)
	if _, _, n := p.Model().Counts(); n != 10 {
		t.Fatalf("%d tokens", n)
	}
	// Within the skew after expiry, t0 is kept.
	clock.Store(exp.Add(30 * time.Second).UnixNano())
	time.Sleep(50 * time.Millisecond) // several sweeps
	if _, _, n := p.Model().Counts(); n != 10 {
		t.Fatalf("swept within the clock skew: %d tokens", n)
	}
	clock.Store(exp.Add(3*time.Hour + 2*time.Minute).UnixNano())
	eventually(t, "sweep of 4 expired tokens", func() bool {
		_, _, n := p.Model().Counts()
		return n == 6
	})
}

// TestSweeperDropsRetiredAPIKeys: an expired or invalidated API key stays
// (the get API key API lists it) until its retention has passed, counted
// for an expired key from its expiration plus the allowed skew; then it is
// dropped and OnChange hears of an API key change.
func TestSweeperDropsRetiredAPIKeys(t *testing.T) {
	e := startNATS(t)
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	var keyChanges atomic.Int32
	p := newProjector(t, e.js, Config{SweepInterval: 5 * time.Millisecond, APIKeyRetention: time.Hour, APIKeyClockSkew: time.Minute},
		WithClock(now), WithOnChange(func(c Change) {
			if c&ChangeAPIKey != 0 {
				keyChanges.Add(1)
			}
		}))
	running(t, p)
	expires := start.Add(10 * time.Minute)
	for _, id := range []string{"expires", "invalidated", "lasts"} {
		ev := events.APIKeyCreated{ID: id, Username: "app", SecretHash: "sha256$salt$00", Creation: start, Expiration: expires}
		if id == "lasts" {
			ev.Expiration = start.Add(24 * time.Hour)
		}
		e.state(t, apiKeySubject(id), newEvent(t, events.TypeAPIKeyCreated, id, ev))
	}
	waitFor(t, p, events.StreamState, e.state(t, apiKeySubject("invalidated"), apiKeyInvalidated(t, "invalidated", start)))
	keys := func() int { return len(p.Model().APIKeys()) }
	before := keyChanges.Load()

	// The invalidated key's hour has passed; the expired key's hour plus
	// the skew has not.
	clock.Store(expires.Add(time.Hour).UnixNano())
	eventually(t, "sweep of the invalidated key", func() bool { return keys() == 2 })
	time.Sleep(50 * time.Millisecond) // several sweeps
	if _, ok := p.Model().APIKey("expires"); !ok {
		t.Fatal("the expired key was swept within its retention plus the skew")
	}
	clock.Store(expires.Add(time.Hour + time.Minute).UnixNano())
	eventually(t, "sweep of the expired key", func() bool { return keys() == 1 })
	if _, ok := p.Model().APIKey("lasts"); !ok {
		t.Fatal("the live key was swept")
	}
	if keyChanges.Load() == before {
		t.Error("OnChange did not hear of the swept keys")
	}
}

func TestRunLifecycle(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	eventually(t, "ready", p.Ready)
	if err := p.Run(ctx); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Run: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run on cancel: %v", err)
	}
	// Waiters learn that nothing more will be applied.
	if err := p.WaitFor(context.Background(), events.StreamState, 99); !errors.Is(err, ErrStopped) {
		t.Errorf("WaitFor after stop: %v", err)
	}
	if err := p.WaitFor(context.Background(), "nope", 1); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("unknown stream: %v", err)
	}
}

func TestRunMissingStream(t *testing.T) {
	e := startNATS(t)
	ctx := context.Background()
	if err := e.js.DeleteStream(ctx, events.StreamTokens); err != nil {
		t.Fatal(err)
	}
	p := newProjector(t, e.js, Config{})
	if err := p.Run(ctx); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("got %v, want ErrStreamNotFound", err)
	}
}

func TestRunEndsWhenConnectionCloses(t *testing.T) {
	e := startNATS(t)
	nc, js := e.connect(t)
	p := newProjector(t, js, Config{})
	errc := make(chan error, 1)
	go func() { errc <- p.Run(context.Background()) }()
	eventually(t, "ready", p.Ready)
	nc.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrConsumerClosed) {
			t.Fatalf("got %v, want ErrConsumerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the connection closed")
	}
}

// TestReopenAfterConsumerEnds ends a consumer under the projector, as a
// failure the client library does not recover from would, and checks that
// Run starts a new one after the last sequence applied: nothing is lost or
// applied twice.
func TestReopenAfterConsumerEnds(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{})
	running(t, p)
	exp := time.Now().Add(time.Hour)
	waitFor(t, p, events.StreamState, e.state(t, accountSubject("alice"), accountCreated(t, "alice", "u1", "h")))
	waitFor(t, p, events.StreamTokens, e.token(t, tokenIssuedEv(t, "t1", "alice", "u1", 1, exp)))

	p.streamMu.Lock()
	r := p.readers[streamTokens]
	p.streamMu.Unlock()
	// Ready can come while the catch-up consumer still reads: wait for the
	// ordered consumer that takes over from it.
	eventually(t, "ordered consumer open", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.cc != nil
	})
	r.mu.Lock()
	r.cc.Stop() // not r.stop(): the reader was not asked to stop
	r.mu.Unlock()

	waitFor(t, p, events.StreamTokens, e.token(t, tokenIssuedEv(t, "t2", "alice", "u1", 1, exp)))
	if _, _, n := p.Model().Counts(); n != 2 {
		t.Fatalf("%d tokens, want 2", n)
	}
	for _, tok := range []string{"t1", "t2"} {
		if _, _, ok := p.Model().ResolveToken(tokenHash(tok), time.Now()); !ok {
			t.Errorf("%s does not resolve", tok)
		}
	}
}

// TestHeldBatchIsPublished drives the writer directly: once ready, an
// event followed by more pending messages is held back for a batch, and
// published by flush if the batch never completes (the pending messages
// were deleted before delivery).
func TestHeldBatchIsPublished(t *testing.T) {
	e := startNATS(t)
	var calls []Change
	p := newProjector(t, e.js, Config{}, WithOnChange(func(c Change) { calls = append(calls, c) }))
	ctx := context.Background()
	p.applyMu.Lock()
	p.w = writer{p: p, caught: [numStreams]bool{true, true}}
	p.w.finish(ctx)
	if !p.Ready() {
		t.Fatal("not ready with both streams caught up")
	}
	rec, err := decodeEvent(accountCreated(t, "alice", "u1", "h"))
	if err != nil {
		t.Fatal(err)
	}
	p.w.apply(ctx, delivery{stream: streamState, seq: 1, pending: 5, subject: accountSubject("alice"), rec: rec})
	p.applyMu.Unlock()

	if p.Model().Applied(events.StreamState) != 1 {
		t.Fatal("not applied")
	}
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := p.WaitFor(short, events.StreamState, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held event published early: %v", err)
	}
	select {
	case <-p.heldC:
	default:
		t.Fatal("Run was not told about the held batch")
	}
	p.flush(ctx)
	waitFor(t, p, events.StreamState, 1)
	if len(calls) != 1 || calls[0] != ChangeAccount {
		t.Fatalf("OnChange calls %v", calls)
	}
}
