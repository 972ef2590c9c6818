package embedded

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// TestOptions checks that a server started with Options keeps its
// JetStream store under dataDir/jetstream (where serve, its tools and the
// benchmarks look for it) and takes messages up to MaxPayload.
func TestOptions(t *testing.T) {
	dir := t.TempDir()
	opts := Options("node-a", dir)
	opts.DontListen = true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	if _, err := os.Stat(filepath.Join(dir, "jetstream")); err != nil {
		t.Errorf("store: %v", err)
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if srv.Name() != "node-a" || !srv.JetStreamEnabled() || nc.MaxPayload() != MaxPayload {
		t.Errorf("server %q, JetStream %v, max payload %d", srv.Name(), srv.JetStreamEnabled(), nc.MaxPayload())
	}
}
