package auditor

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// fateMsg records what was done with a message.
type fateMsg struct {
	jetstream.Msg // only the methods below are called
	mu            sync.Mutex
	acks, naks    int
	delay         time.Duration
}

func (m *fateMsg) Ack() error { m.mu.Lock(); m.acks++; m.mu.Unlock(); return nil }
func (m *fateMsg) NakWithDelay(d time.Duration) error {
	m.mu.Lock()
	m.naks++
	m.delay = d
	m.mu.Unlock()
	return nil
}

// A message of several events is acknowledged once, after its last event
// is settled, if none is to be retried; else handed back once, after the
// longest delay any of its events asked for.
func TestPackedSettle(t *testing.T) {
	type fate struct {
		retry bool
		delay time.Duration
	}
	for _, tt := range []struct {
		name      string
		fates     []fate
		acks      int
		naks      int
		wantDelay time.Duration
	}{
		{"all written", []fate{{}, {}, {}}, 1, 0, 0},
		{"one to retry", []fate{{}, {true, time.Second}, {}}, 0, 1, time.Second},
		{"the longest delay", []fate{{true, time.Second}, {true, 4 * time.Second}, {true, 2 * time.Second}}, 0, 1, 4 * time.Second},
		{"the last to retry", []fate{{}, {}, {true, 250 * time.Millisecond}}, 0, 1, 250 * time.Millisecond},
		{"one event", []fate{{}}, 1, 0, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &Auditor{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			m := &fateMsg{}
			pk := &packed{msg: m, left: len(tt.fates)}
			for i, f := range tt.fates {
				ref := msgRef{msg: m, pk: pk, index: i, of: len(tt.fates)}
				if f.retry {
					a.nak(ref, f.delay)
				} else {
					a.ack(ref)
				}
				if i < len(tt.fates)-1 && (m.acks != 0 || m.naks != 0) {
					t.Fatalf("message settled after %d of %d events", i+1, len(tt.fates))
				}
			}
			if m.acks != tt.acks || m.naks != tt.naks || m.delay != tt.wantDelay {
				t.Fatalf("acks %d, naks %d (delay %s); want %d, %d (%s)", m.acks, m.naks, m.delay, tt.acks, tt.naks, tt.wantDelay)
			}
		})
	}
}

// Events settled from several goroutines at once (bulk workers): the
// message is settled exactly once.
func TestPackedSettleConcurrent(t *testing.T) {
	a := &Auditor{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for range 100 {
		m := &fateMsg{}
		const n = 64
		pk := &packed{msg: m, left: n}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ref := msgRef{msg: m, pk: pk, index: i, of: n}
				if i == 17 {
					a.nak(ref, time.Second)
				} else {
					a.ack(ref)
				}
			})
		}
		wg.Wait()
		if m.acks != 0 || m.naks != 1 || m.delay != time.Second {
			t.Fatalf("acks %d, naks %d (delay %s); want one nak of 1s", m.acks, m.naks, m.delay)
		}
	}
}
