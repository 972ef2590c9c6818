package events

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func startServer(t *testing.T, dir string, port int) *server.Server {
	t.Helper()
	return startServerOpts(t, &server.Options{StoreDir: dir, Port: port})
}

// startServerOpts starts a JetStream server on loopback with opts.
func startServerOpts(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.JetStream, opts.Host, opts.NoLog, opts.NoSigs = true, "127.0.0.1", true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	return srv
}

func TestEmitterPublishesEverythingThroughAnOutage(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, -1)
	url := srv.ClientURL()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if err := EnsureStreams(ctx, js, StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	// Idempotent: a second replica ensures the same streams.
	if err := EnsureStreams(ctx, js, StreamsConfig{}); err != nil {
		t.Fatalf("second EnsureStreams: %v", err)
	}
	em, err := NewEmitter(EmitterConfig{JS: js, Source: "test", QueueSize: 10000, Batch: 64})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- em.Run(runCtx) }()

	emit := func(n int) {
		for i := 0; i < n; i++ {
			if err := em.Emit(time.Now(), AuthOutcome{Action: ActionAuthenticationFailed, Outcome: "failure", Principal: "u"}); err != nil {
				t.Fatalf("emit: %v", err)
			}
		}
	}
	emit(500)
	// Outage: the server goes away while outcomes keep coming, then returns
	// on the same port and store.
	addr := srv.Addr()
	srv.Shutdown()
	srv.WaitForShutdown()
	emit(500)
	srv = startServer(t, dir, addr.(*net.TCPAddr).Port)
	defer srv.Shutdown()

	deadline := time.Now().Add(20 * time.Second)
	for em.Published() < 1000 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkExactlyOnce(t, js, 1000)
}

func TestEmitterFullQueueRefuses(t *testing.T) {
	srv := startServer(t, t.TempDir(), -1)
	defer srv.Shutdown()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	em, _ := NewEmitter(EmitterConfig{JS: js, Source: "test", QueueSize: 2})
	for i := 0; i < 2; i++ {
		if err := em.Emit(time.Now(), AuthOutcome{Action: ActionLogin}); err != nil {
			t.Fatal(err)
		}
	}
	if err := em.Emit(time.Now(), AuthOutcome{Action: ActionLogin}); !errors.Is(err, ErrEmitterFull) {
		t.Fatalf("third Emit = %v, want ErrEmitterFull", err)
	}
}

func TestAppendOptimisticConcurrency(t *testing.T) {
	srv := startServer(t, t.TempDir(), -1)
	defer srv.Shutdown()
	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if err := EnsureStreams(ctx, js, StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	subject := StateSubject(AggregateAccount, "bob")
	ev1, _ := New("a", TypeAccountCreated, "bob", time.Now(), AccountCreated{Username: "bob"})
	ev2, _ := New("b", TypeAccountCreated, "bob", time.Now(), AccountCreated{Username: "bob"})
	seq, err := Log{JS: js}.Append(ctx, subject, ev1, &Expect{LastSubjectSeq: 0})
	if err != nil || seq == 0 {
		t.Fatalf("first create: %d %v", seq, err)
	}
	if _, err := Append(ctx, js, subject, ev2, &Expect{LastSubjectSeq: 0}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create = %v, want ErrConflict", err)
	}
	// A retried publish of the same event id is stored once.
	if _, err := Append(ctx, js, subject, ev1, nil); err != nil {
		t.Fatal(err)
	}
	s, _ := js.Stream(ctx, StreamState)
	si, _ := s.Info(ctx)
	if si.State.Msgs != 1 {
		t.Fatalf("STATE holds %d messages, want 1", si.State.Msgs)
	}
	// STATE is append-only.
	if err := s.Purge(ctx); err == nil {
		t.Fatal("purge of STATE allowed")
	}
}
