package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// TestSpoolOfEarlierRunPublished: outcomes an earlier process left in the
// spool under the data dir (NATS was unreachable when it stopped) are
// published to PORTCULLIS_AUTH by the next start.
func TestSpoolOfEarlierRunPublished(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool", "auth")

	// The earlier process: its queue (of one) full, every other outcome
	// goes to the spool. Its NATS is never published to.
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats not ready")
	}
	defer srv.Shutdown()
	js := connectJS(t, srv.ClientURL())
	em, err := events.NewEmitter(events.EmitterConfig{JS: js, Source: "earlier", QueueSize: 1, SpoolDir: spoolDir,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	const spooled = 20
	for i := 0; i < spooled+1; i++ {
		if err := em.Emit(time.Now(), events.AuthOutcome{Action: events.ActionTamperedRequest, Outcome: "failure"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := em.Close(); err != nil {
		t.Fatal(err)
	}
	if em.Spooled() != spooled {
		t.Fatalf("%d spooled, want %d", em.Spooled(), spooled)
	}

	n := startNode(t, newUpstream(t), withDataDir(dir))
	if st, err := os.Stat(spoolDir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("spool dir: %v, %v", st, err)
	}
	ctx := context.Background()
	subject := "portcullis.auth." + events.ActionTamperedRequest
	var got uint64
	for deadline := time.Now().Add(time.Minute); got != spooled; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("AUTH holds %d spooled outcomes, want %d", got, spooled)
		}
		s, err := n.app.js.Stream(ctx, events.StreamAuth)
		if err != nil {
			t.Fatal(err)
		}
		info, err := s.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			t.Fatal(err)
		}
		got = info.State.Subjects[subject]
	}
	for deadline := time.Now().Add(time.Minute); n.app.emitter.SpoolBytes() != 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("spool holds %d bytes after its outcomes were published", n.app.emitter.SpoolBytes())
		}
	}
}
