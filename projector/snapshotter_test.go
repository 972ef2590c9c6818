package projector

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/portcullis/portcullis/events"
)

// logRecorder is a slog handler that keeps the messages and their errors,
// to tell which way a start went.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			line += " " + a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	return nil
}

// has returns the first line starting with msg.
func (l *logRecorder) has(msg string) (string, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.HasPrefix(line, msg) {
			return line, true
		}
	}
	return "", false
}

func snapshotStore(tb testing.TB, e *natsEnv) jetstream.ObjectStore {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := events.EnsureSnapshots(ctx, e.js, events.StreamsConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	return store
}

// publishLog publishes a generated log and returns the last sequence of
// each stream.
func publishLog(tb testing.TB, e *natsEnv, log []logEvent) (state, tokens uint64) {
	tb.Helper()
	for _, ev := range log {
		seq := e.publish(tb, ev.subject, ev.ev)
		if ev.stream == events.StreamState {
			state = seq
		} else {
			tokens = seq
		}
	}
	return state, tokens
}

// lastSeqs returns the last sequence of STATE and TOKENS.
func lastSeqs(tb testing.TB, e *natsEnv) (state, tokens uint64) {
	tb.Helper()
	var last [numStreams]uint64
	for i, name := range streamNames {
		s, err := e.js.Stream(context.Background(), name)
		if err != nil {
			tb.Fatal(err)
		}
		last[i] = s.CachedInfo().State.LastSeq
	}
	return last[streamState], last[streamTokens]
}

// startedProjector runs a projector with a recording logger until it is
// ready.
func startedProjector(tb testing.TB, e *natsEnv, cfg Config) (*Projector, *logRecorder) {
	tb.Helper()
	rec := &logRecorder{}
	cfg.JS = e.js
	p, err := New(cfg, WithLogger(slog.New(rec)))
	if err != nil {
		tb.Fatal(err)
	}
	running(tb, p)
	eventually(tb, "ready", p.Ready)
	return p, rec
}

// TestSnapshotStart: a replica starts from the snapshot another one wrote
// and replays only the tail, and ends with the model of a full replay.
func TestSnapshotStart(t *testing.T) {
	e := startNATS(t)
	store := snapshotStore(t, e)
	g := newLogGen(t, 11)
	publishLog(t, e, g.log(300))

	a, _ := startedProjector(t, e, Config{Snapshots: store, SnapshotEvery: 1 << 30})
	st, err := a.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Skipped || st.Bytes == 0 || st.StateSeq != a.Model().Applied(events.StreamState) {
		t.Fatalf("snapshot %+v", st)
	}
	// The same model again: the store holds it already.
	if again, err := a.Snapshot(context.Background()); err != nil || !again.Skipped {
		t.Fatalf("second snapshot %+v, %v", again, err)
	}
	state, tokens := publishLog(t, e, g.log(200))
	waitFor(t, a, events.StreamState, state)
	waitFor(t, a, events.StreamTokens, tokens)

	b, rec := startedProjector(t, e, Config{Snapshots: store, SnapshotEvery: 1 << 30})
	if _, ok := rec.has("projector_snapshot_loaded"); !ok {
		t.Fatalf("snapshot not loaded; log %v", rec.lines)
	}
	if s := b.Started(); !s.FromSnapshot || s.StateSeq != st.StateSeq || s.TokensSeq != st.TokensSeq || s.Ready == 0 {
		t.Fatalf("started %+v, snapshot %+v", s, st)
	}
	waitFor(t, b, events.StreamState, state)
	waitFor(t, b, events.StreamTokens, tokens)
	diffDumps(t, dumpModel(a.Model()), dumpModel(b.Model()))

	full, _ := startedProjector(t, e, Config{})
	waitFor(t, full, events.StreamState, state)
	waitFor(t, full, events.StreamTokens, tokens)
	diffDumps(t, dumpModel(full.Model()), dumpModel(b.Model()))
}

// TestSnapshotUnusableFallsBack: a snapshot that is corrupt, of an unknown
// format or of other streams is logged and the projector replays the
// streams in full.
func TestSnapshotUnusableFallsBack(t *testing.T) {
	ctx := context.Background()
	put := func(store jetstream.ObjectStore, b []byte) {
		t.Helper()
		if _, err := store.Put(ctx, jetstream.ObjectMeta{Name: SnapshotObject}, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// spoil changes the stored snapshot, written from the log.
		spoil func(t *testing.T, e *natsEnv, store jetstream.ObjectStore, good []byte)
		want  string
	}{
		{"flipped bit", func(t *testing.T, _ *natsEnv, store jetstream.ObjectStore, good []byte) {
			b := bytes.Clone(good)
			b[len(b)/2] ^= 0x10
			put(store, b)
		}, "checksum mismatch"},
		{"truncated", func(t *testing.T, _ *natsEnv, store jetstream.ObjectStore, good []byte) {
			put(store, good[:len(good)-7])
		}, "unusable snapshot"},
		{"not a snapshot", func(t *testing.T, _ *natsEnv, store jetstream.ObjectStore, _ []byte) {
			put(store, []byte(`{"accounts":[]}`))
		}, "not a snapshot"},
		{"newer format", func(t *testing.T, _ *natsEnv, store jetstream.ObjectStore, good []byte) {
			b := bytes.Clone(good)
			b[len(snapMagic)] = snapVersion + 1
			put(store, b)
		}, "format version"},
		{"other streams", func(t *testing.T, e *natsEnv, _ jetstream.ObjectStore, _ []byte) {
			// TOKENS made again: same name, sequences started over.
			info, err := e.js.Stream(ctx, events.StreamTokens)
			if err != nil {
				t.Fatal(err)
			}
			cfg := info.CachedInfo().Config
			if err := e.js.DeleteStream(ctx, events.StreamTokens); err != nil {
				t.Fatal(err)
			}
			if _, err := e.js.CreateStream(ctx, cfg); err != nil {
				t.Fatal(err)
			}
			g := newLogGen(t, 77)
			for _, ev := range g.log(300) {
				if ev.stream == events.StreamTokens {
					e.publish(t, ev.subject, ev.ev)
				}
			}
		}, "other streams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startNATS(t)
			store := snapshotStore(t, e)
			publishLog(t, e, newLogGen(t, 12).log(300))
			// The replica writing the snapshot stops before it is spoiled:
			// one whose stream is deleted under it fails, as it should.
			var obj []byte
			t.Run("write", func(t *testing.T) {
				a, _ := startedProjector(t, e, Config{Snapshots: store, SnapshotEvery: 1 << 30})
				if _, err := a.Snapshot(ctx); err != nil {
					t.Fatal(err)
				}
				var err error
				if obj, err = store.GetBytes(ctx, SnapshotObject); err != nil {
					t.Fatal(err)
				}
			})
			if obj == nil {
				t.FailNow()
			}
			tt.spoil(t, e, store, obj)
			state, tokens := lastSeqs(t, e)

			b, rec := startedProjector(t, e, Config{Snapshots: store, SnapshotEvery: 1 << 30})
			line, ok := rec.has("projector_snapshot_unusable")
			if !ok || !strings.Contains(line, tt.want) {
				t.Fatalf("no projector_snapshot_unusable with %q; log %v", tt.want, rec.lines)
			}
			if _, ok := rec.has("projector_snapshot_loaded"); ok || b.Started().FromSnapshot {
				t.Fatal("the spoiled snapshot was loaded")
			}
			full, _ := startedProjector(t, e, Config{})
			for _, p := range []*Projector{b, full} {
				waitFor(t, p, events.StreamState, state)
				waitFor(t, p, events.StreamTokens, tokens)
			}
			diffDumps(t, dumpModel(full.Model()), dumpModel(b.Model()))
		})
	}
}

// TestSnapshotDue: Run writes a snapshot by itself once enough events were
// applied since the last one: here right after a long replay.
func TestSnapshotDue(t *testing.T) {
	e := startNATS(t)
	store := snapshotStore(t, e)
	state, tokens := publishLog(t, e, newLogGen(t, 13).log(60))
	p, _ := startedProjector(t, e, Config{Snapshots: store, SnapshotEvery: 20, SnapshotInterval: 10 * time.Millisecond})
	waitFor(t, p, events.StreamState, state)
	waitFor(t, p, events.StreamTokens, tokens)
	eventually(t, "a snapshot of the whole log", func() bool {
		info, err := store.GetInfo(context.Background(), SnapshotObject)
		return err == nil && covers(info.Metadata, snapshotMeta{stateSeq: state, tokensLow: tokens})
	})
}

func TestSnapshotErrors(t *testing.T) {
	e := startNATS(t)
	p := newProjector(t, e.js, Config{Snapshots: snapshotStore(t, e)})
	if _, err := p.Snapshot(context.Background()); !errors.Is(err, ErrNotReady) {
		t.Errorf("before Run: %v", err)
	}
	q := newProjector(t, e.js, Config{})
	if _, err := q.Snapshot(context.Background()); !errors.Is(err, ErrNoSnapshots) {
		t.Errorf("without a store: %v", err)
	}
}

func slogOf(h slog.Handler) *slog.Logger { return slog.New(h) }
