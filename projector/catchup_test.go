package projector

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/portcullis/portcullis/events"
)

func TestAckSeqs(t *testing.T) {
	tests := []struct {
		reply              string
		seq, dseq, pending uint64
		ok                 bool
	}{
		{"$JS.ACK.PORTCULLIS_TOKENS.c1.1.42.7.1700000000000000000.3", 42, 7, 3, true},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_TOKENS.c1.1.42.7.1700000000000000000.0", 42, 7, 0, true},
		{"$JS.ACK.hub.ACCHASH.PORTCULLIS_TOKENS.c1.1.42.7.1700000000000000000.0.rnd", 42, 7, 0, true},
		{"$JS.ACK._.ACCHASH.S.c.2.18446744073709551615.1.0.9.x", 18446744073709551615, 1, 9, true},
		{"$JS.ACK.S.c.1.18446744073709551616.1.0.0", 0, 0, 0, false}, // overflow
		{"$JS.ACK.S.c.1.-1.1.0.0", 0, 0, 0, false},
		{"$JS.ACK.S.c.1..1.0.0", 0, 0, 0, false},
		{"$JS.ACK.S.c.1.4x.1.0.0", 0, 0, 0, false},
		{"$JS.ACK.S.c.1.4.1.0", 0, 0, 0, false},            // 8 tokens
		{"$JS.ACK.d.a.S.c.1.4.1.0.0.x.y.z", 4, 1, 0, true}, // later tokens are the library's business
		{"$JS.ACK.S.c.1.4.1.0.0.x", 0, 0, 0, false},        // 10 tokens: neither form
		{"$JS.NAK.S.c.1.4.1.0.0", 0, 0, 0, false},
		{"_INBOX.abc", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		seq, dseq, pending, ok := ackSeqs(tt.reply)
		if ok != tt.ok || ok && (seq != tt.seq || dseq != tt.dseq || pending != tt.pending) {
			t.Errorf("ackSeqs(%q) = %d %d %d %v, want %d %d %d %v", tt.reply, seq, dseq, pending, ok, tt.seq, tt.dseq, tt.pending, tt.ok)
		}
	}
}

func TestAckSeqsZeroAlloc(t *testing.T) {
	reply := "$JS.ACK.PORTCULLIS_TOKENS.c1.1.42.7.1700000000000000000.3"
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = ackSeqs(reply) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// FuzzAckSeqs: the reply subject comes from the server; it must never
// make the parser panic, and what it accepts it reads as the library does.
func FuzzAckSeqs(f *testing.F) {
	f.Add("$JS.ACK.PORTCULLIS_TOKENS.c1.1.42.7.1700000000000000000.3")
	f.Add("$JS.ACK.hub.ACCHASH.PORTCULLIS_TOKENS.c1.1.42.7.1700000000000000000.0.rnd")
	f.Add("$JS.ACK..........")
	f.Fuzz(func(t *testing.T, reply string) {
		seq, dseq, pending, ok := ackSeqs(reply)
		if !ok {
			return
		}
		tok := strings.Split(reply, ".")
		base := 2
		if len(tok) >= 11 {
			base = 4
		}
		for i, v := range []uint64{seq, dseq, pending} {
			want, err := strconv.ParseUint(tok[base+[]int{3, 4, 6}[i]], 10, 64)
			if err != nil || v != want {
				t.Fatalf("ackSeqs(%q) = %d %d %d", reply, seq, dseq, pending)
			}
		}
	})
}

// fetchFixture is a projector whose TOKENS reader runs a catch-up fed by
// hand.
func fetchFixture(t *testing.T, target uint64) (*Projector, *reader, *fetch) {
	t.Helper()
	e := startNATS(t)
	p := newProjector(t, e.js, Config{})
	p.w = writer{p: p, targets: [numStreams]uint64{0, target}, caught: [numStreams]bool{true, false}}
	r := &reader{p: p, i: streamTokens}
	f := &fetch{r: r, ctx: context.Background(), target: target, done: make(chan struct{}), nc: e.nc,
		next: "$JS.API.CONSUMER.MSG.NEXT.none.none", inbox: "_INBOX.none", requested: 2 * catchUpBatch}
	r.fetch = f
	return p, r, f
}

func tokenMsg(t *testing.T, tok string, seq, dseq, pending uint64) *nats.Msg {
	t.Helper()
	ev := tokenIssuedEv(t, tok, "alice", "u1", 1, time.Now().Add(time.Hour))
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return &nats.Msg{Subject: events.TokensSubject(ev.Type), Data: raw,
		Reply: fmt.Sprintf("$JS.ACK.%s.c.1.%d.%d.0.%d", events.StreamTokens, seq, dseq, pending)}
}

func statusMsg(code, desc string) *nats.Msg {
	m := nats.NewMsg("_INBOX.none")
	m.Header.Set("Status", code)
	m.Header.Set("Description", desc)
	return m
}

// TestFetchHandle: the catch-up applies messages in delivery order, ends
// at its target, and stops on anything unexpected (a gap, a status),
// leaving the last sequence applied for the ordered consumer to go on
// from.
func TestFetchHandle(t *testing.T) {
	t.Run("to the target", func(t *testing.T) {
		p, r, f := fetchFixture(t, 3)
		f.handle(tokenMsg(t, "t1", 1, 1, 2))
		f.handle(statusMsg("409", "Batch Completed")) // informational
		f.handle(tokenMsg(t, "t2", 2, 2, 1))
		f.handle(tokenMsg(t, "t3", 3, 3, 0))
		<-f.done
		if f.why != "" || r.last != 3 || !p.Ready() {
			t.Fatalf("why %q last %d ready %v", f.why, r.last, p.Ready())
		}
		if _, _, n := p.Model().Counts(); n != 3 {
			t.Fatalf("%d tokens", n)
		}
		f.handle(tokenMsg(t, "t4", 4, 4, 0)) // after the end: not applied
		if r.last != 3 {
			t.Fatal("a message was applied after the catch-up ended")
		}
	})
	t.Run("stream ends before the target", func(t *testing.T) {
		_, r, f := fetchFixture(t, 10)
		f.handle(tokenMsg(t, "t1", 4, 1, 0)) // messages aged out: nothing pending
		<-f.done
		if f.why != "" || r.last != 4 {
			t.Fatalf("why %q last %d", f.why, r.last)
		}
	})
	for _, tt := range []struct {
		name string
		msgs func(t *testing.T) []*nats.Msg
		why  string
		last uint64
	}{
		{"gap in deliveries", func(t *testing.T) []*nats.Msg {
			return []*nats.Msg{tokenMsg(t, "t1", 1, 1, 5), tokenMsg(t, "t3", 3, 3, 4)}
		}, "gap", 1},
		{"request expired", func(t *testing.T) []*nats.Msg {
			return []*nats.Msg{tokenMsg(t, "t1", 1, 1, 5), statusMsg("408", "Request Timeout")}
		}, "status", 1},
		{"consumer deleted", func(t *testing.T) []*nats.Msg {
			return []*nats.Msg{statusMsg("409", "Consumer Deleted")}
		}, "status", 0},
		{"not a JetStream reply", func(t *testing.T) []*nats.Msg {
			m := tokenMsg(t, "t1", 1, 1, 5)
			m.Reply = "_INBOX.x"
			return []*nats.Msg{m}
		}, "reply subject", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, r, f := fetchFixture(t, 10)
			for _, m := range tt.msgs(t) {
				f.handle(m)
			}
			<-f.done
			if f.why != tt.why || r.last != tt.last || r.fetch != nil {
				t.Fatalf("why %q (%v) last %d, want %q %d", f.why, f.err, r.last, tt.why, tt.last)
			}
		})
	}
}

// TestCatchUpHandsOver: with a backlog larger than two pull requests, the
// catch-up reads it all, and the ordered consumer then delivers what is
// published after.
func TestCatchUpHandsOver(t *testing.T) {
	e := startNATS(t)
	exp := time.Now().Add(time.Hour)
	const n = 2*catchUpBatch + 500
	for i := range n {
		ev := tokenIssuedEv(t, fmt.Sprint("tok-", i), "alice", "u1", 1, exp)
		raw, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.js.PublishAsync(events.TokensSubject(ev.Type), raw); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		t.Fatal("publish did not complete")
	}
	rec := &logRecorder{}
	p := newProjector(t, e.js, Config{}, WithLogger(slogOf(rec)))
	running(t, p)
	waitFor(t, p, events.StreamTokens, n)
	if _, ok := rec.has("projector_catch_up_stopped"); ok {
		t.Fatalf("catch-up stopped early: %v", rec.lines)
	}
	seq := e.token(t, tokenIssuedEv(t, "after", "alice", "u1", 1, exp))
	waitFor(t, p, events.StreamTokens, seq)
	if _, _, c := p.Model().Counts(); c != n+1 {
		t.Fatalf("%d tokens, want %d", c, n+1)
	}
	if s := p.Started(); s.Events < n || s.FromSnapshot {
		t.Fatalf("started %+v", s)
	}
}
