package events

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// eventually polls cond until it holds, failing the test after a
// generous minute.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// authIDs reads the AUTH stream and counts its events by id, checking
// that each message's Portcullis-Events header is its number of events and
// its Nats-Msg-Id its first event's id.
func authIDs(t *testing.T, js jetstream.JetStream) (events int, ids map[string]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, StreamAuth, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := authMsgs(t, js)
	ids = map[string]int{}
	for msgs := uint64(0); msgs < want; {
		batch, err := c.Fetch(int(min(500, want-msgs)), jetstream.FetchMaxWait(30*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			msgs++
			n := 0
			for line := range SplitEvents(m.Data()) {
				ev, err := Decode(line)
				if err != nil {
					t.Fatalf("message %s: event %d: %v", m.Subject(), n, err)
				}
				if n == 0 && ev.ID != m.Headers().Get(jetstream.MsgIDHeader) {
					t.Fatalf("message %s: Nats-Msg-Id %q, first event %q", m.Subject(), m.Headers().Get(jetstream.MsgIDHeader), ev.ID)
				}
				ids[ev.ID]++
				n++
			}
			if h := m.Headers().Get(HeaderEvents); h != strconv.Itoa(n) {
				t.Fatalf("message %s: %s %q, %d events", m.Subject(), HeaderEvents, h, n)
			}
			events += n
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return events, ids
}

func segments(t *testing.T, dir string) int {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+spoolSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return len(m)
}

// natsFixture is a server with the streams and a connection that reconnects
// forever; restart brings the server back on the same port and store.
type natsFixture struct {
	t    *testing.T
	dir  string
	port int
	srv  interface {
		Shutdown()
		WaitForShutdown()
	}
	js jetstream.JetStream
}

func newNATSFixture(t *testing.T) *natsFixture {
	f := &natsFixture{t: t, dir: t.TempDir()}
	srv := startServer(t, f.dir, -1)
	f.srv, f.port = srv, srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { f.srv.Shutdown() })
	nc, err := nats.Connect(srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f.js, _ = jetstream.New(nc)
	if err := EnsureStreams(context.Background(), f.js, StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *natsFixture) stop() {
	f.srv.Shutdown()
	f.srv.WaitForShutdown()
}

func (f *natsFixture) restart() { f.srv = startServer(f.t, f.dir, f.port) }

func emitN(t *testing.T, em *Emitter, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if err := em.Emit(time.Now(), AuthOutcome{Action: ActionAccessGranted, Outcome: "success", Principal: "u"}); err != nil {
			t.Fatalf("emit %d: %v", i, err)
		}
	}
}

// checkExactlyOnce: the stream holds want outcomes, each id once.
func checkExactlyOnce(t *testing.T, js jetstream.JetStream, want int) {
	t.Helper()
	msgs, ids := authIDs(t, js)
	if msgs != want || len(ids) != want {
		t.Fatalf("AUTH holds %d events, %d distinct ids; want %d of each", msgs, len(ids), want)
	}
}

// With NATS down, Emit keeps succeeding past the queue's size: the outcomes
// go to disk; with NATS back, every one is published once and the spool
// files are removed.
func TestEmitterSpoolsThroughAnOutage(t *testing.T) {
	f := newNATSFixture(t)
	spoolDir := filepath.Join(t.TempDir(), "spool", "auth")
	em, err := NewEmitter(EmitterConfig{JS: f.js, Source: "test", QueueSize: 100, Batch: 16,
		SpoolDir: spoolDir, SpoolSegmentBytes: 16 << 10, SpoolAfter: 200 * time.Millisecond, AckTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- em.Run(ctx) }()

	emitN(t, em, 50)
	eventually(t, "50 published", func() bool { return em.Published() == 50 })
	f.stop()
	emitN(t, em, 2000) // 20 times the queue
	eventually(t, "the queue emptied into the spool", func() bool { return em.Pending() == 0 && em.Spooled() == 2000 })
	if em.Published() != 50 {
		t.Fatalf("%d published with NATS down", em.Published())
	}
	if segments(t, spoolDir) < 2 || em.SpoolBytes() == 0 {
		t.Fatalf("%d segments, %d bytes spooled", segments(t, spoolDir), em.SpoolBytes())
	}
	f.restart()
	eventually(t, "everything published and the spool emptied", func() bool {
		return em.Published() >= 2050 && em.SpoolBytes() == 0 && segments(t, spoolDir) == 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkExactlyOnce(t, f.js, 2050)
}

// Outcomes spooled by a process that stopped during an outage (and the
// queue it flushed to disk at shutdown) are published by the next one,
// whose spool's last file ends in a record cut short by a crash.
func TestEmitterDrainsSpoolOfEarlierRun(t *testing.T) {
	f := newNATSFixture(t)
	spoolDir := filepath.Join(t.TempDir(), "spool")
	cfg := EmitterConfig{JS: f.js, Source: "test", QueueSize: 50, Batch: 8, SpoolDir: spoolDir,
		SpoolSegmentBytes: 8 << 10, SpoolAfter: 100 * time.Millisecond, AckTimeout: time.Second}
	f.stop()
	em1, err := NewEmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { done1 <- em1.Run(ctx1) }()
	emitN(t, em1, 300)
	cancel1() // shutdown with outcomes queued: they go to the spool
	if err := <-done1; err != nil {
		t.Fatalf("first Run: %v", err)
	}
	if em1.Published() != 0 || em1.Spooled() != 300 || em1.Pending() != 0 {
		t.Fatalf("first run: %d published, %d spooled, %d pending; want 0, 300, 0", em1.Published(), em1.Spooled(), em1.Pending())
	}
	// A crash mid-write leaves half a record at the end of the last file.
	m, _ := filepath.Glob(filepath.Join(spoolDir, "*"+spoolSuffix))
	last, err := os.OpenFile(m[len(m)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	rec := appendRecord(nil, "portcullis.auth.login", "torn", []byte("{}"))
	if _, err := last.Write(rec[:len(rec)-3]); err != nil {
		t.Fatal(err)
	}
	last.Close()

	f.restart()
	em2, err := NewEmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- em2.Run(ctx2) }()
	eventually(t, "the earlier run's outcomes published", func() bool {
		return em2.Published() >= 300 && segments(t, spoolDir) == 0
	})
	cancel2()
	if err := <-done2; err != nil {
		t.Fatalf("second Run: %v", err)
	}
	checkExactlyOnce(t, f.js, 300)
}

// A full queue and a full spool: Emit fails, and the gateway denies.
func TestEmitterFullSpoolRefuses(t *testing.T) {
	f := newNATSFixture(t)
	em, err := NewEmitter(EmitterConfig{JS: f.js, Source: "test", QueueSize: 2,
		SpoolDir: t.TempDir(), SpoolMaxBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer em.Close()
	var n int
	for ; n < 1000; n++ {
		if err := em.Emit(time.Now(), AuthOutcome{Action: ActionLogin}); err != nil {
			if !errors.Is(err, ErrEmitterFull) || !errors.Is(err, ErrSpoolFull) {
				t.Fatalf("Emit = %v, want ErrEmitterFull (spool full)", err)
			}
			break
		}
	}
	if n == 1000 || uint64(n) != 2+em.Spooled() || em.Spooled() == 0 {
		t.Fatalf("%d emitted, %d spooled, before the spool filled", n, em.Spooled())
	}
	if em.SpoolBytes() > 4<<10 {
		t.Fatalf("spool holds %d bytes, bound 4096", em.SpoolBytes())
	}
}
