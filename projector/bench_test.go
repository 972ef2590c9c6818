package projector

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/portcullis/portcullis/events"
	"github.com/valyala/fastjson"
)

// BenchmarkReplay measures a replica's start: 10k accounts on STATE and
// 190k tokens on TOKENS, replayed from a real (embedded) nats-server into
// an empty model until both streams are applied. DESIGN budget:
// ≥ 500k events/s. catchup is the projector as it runs; ordered reads the
// backlog with the library's ordered consumer instead, for comparison.
func BenchmarkReplay(b *testing.B) {
	const accounts, tokens = 10_000, 190_000
	e := startNATS(b)
	exp := time.Now().Add(24 * time.Hour)
	published := 0
	pub := func(subject string, ev events.Event) {
		raw, err := ev.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.js.PublishAsync(subject, raw, jetstream.WithMsgID(ev.ID)); err != nil {
			b.Fatal(err)
		}
		if published++; published%1000 == 0 { // stay under the client's async window
			select {
			case <-e.js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				b.Fatal("publish did not complete")
			}
		}
	}
	for i := range accounts {
		name := fmt.Sprint("user-", i)
		pub(accountSubject(name), accountCreated(b, name, fmt.Sprint("uid-", i), "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA", "reader"))
	}
	for i := range tokens {
		u := i % accounts
		ev := tokenIssuedEv(b, fmt.Sprint("token-", i), fmt.Sprint("user-", u), fmt.Sprint("uid-", u), 1, exp)
		pub(events.TokensSubject(ev.Type), ev)
	}
	select {
	case <-e.js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		b.Fatal("publish did not complete")
	}

	for _, bc := range []struct {
		name    string
		ordered bool
	}{{"catchup", false}, {"ordered", true}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			cpu := cpuMeter(b, accounts+tokens)
			defer cpu()
			for b.Loop() {
				p := newProjector(b, e.js, Config{})
				p.orderedOnly = bc.ordered
				ctx, cancel := context.WithCancel(context.Background())
				errc := make(chan error, 1)
				go func() { errc <- p.Run(ctx) }()
				wctx, wcancel := context.WithTimeout(ctx, time.Minute)
				if err := p.WaitFor(wctx, events.StreamState, accounts); err != nil {
					b.Fatal(err)
				}
				if err := p.WaitFor(wctx, events.StreamTokens, tokens); err != nil {
					b.Fatal(err)
				}
				wcancel()
				cancel()
				if err := <-errc; err != nil {
					b.Fatal(err)
				}
				if a, _, t := p.Model().Counts(); a != accounts || t != tokens {
					b.Fatalf("replayed %d accounts, %d tokens", a, t)
				}
			}
			b.ReportMetric(float64(accounts+tokens)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkConsumeBaseline is the ceiling BenchmarkReplay works under:
// the same 200k events consumed with the same ordered consumer and pull
// size, but neither decoded nor applied. The gap between the two is the
// projector's own cost.
func BenchmarkConsumeBaseline(b *testing.B) {
	const n = 200_000
	e := startNATS(b)
	exp := time.Now().Add(24 * time.Hour)
	for i := range n {
		ev := tokenIssuedEv(b, fmt.Sprint("token-", i), fmt.Sprint("user-", i%10_000), fmt.Sprint("uid-", i%10_000), 1, exp)
		raw, err := ev.Encode()
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.js.PublishAsync(events.TokensSubject(ev.Type), raw, jetstream.WithMsgID(ev.ID)); err != nil {
			b.Fatal(err)
		}
		if i%1000 == 999 {
			<-e.js.PublishAsyncComplete()
		}
	}
	<-e.js.PublishAsyncComplete()
	cpu := cpuMeter(b, n)
	defer cpu()
	for b.Loop() {
		c, err := e.js.OrderedConsumer(context.Background(), events.StreamTokens, jetstream.OrderedConsumerConfig{})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan struct{})
		count := 0
		cc, err := c.Consume(func(msg jetstream.Msg) {
			if _, err := msg.Metadata(); err != nil {
				b.Error(err)
			}
			if count++; count == n {
				close(done)
			}
		}, jetstream.PullMaxMessages(pullMaxMessages))
		if err != nil {
			b.Fatal(err)
		}
		<-done
		cc.Stop()
		<-cc.Closed()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}

// cpuMeter reports the CPU the whole process (projector, client and the
// embedded server) used per event, and how many cores it kept busy: on the
// 2-core reference machine, a replay bound by CPU shows ~2 cores.
func cpuMeter(b *testing.B, events int) func() {
	var before syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &before); err != nil {
		b.Fatal(err)
	}
	return func() {
		var after syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &after); err != nil {
			b.Fatal(err)
		}
		cpu := time.Duration(after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano())
		b.ReportMetric(cpu.Seconds()/b.Elapsed().Seconds(), "cores")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(events*b.N), "cpu-ns/event")
	}
}

// BenchmarkTokenMemory measures what a million live tokens of 1000
// accounts cost in memory, per token (DESIGN budget: ≤ 300 bytes): the
// growth of the live heap (heap-B/token), of the heap spans in use
// (inuse-B/token) and of the resident set after a GC and returning free
// memory to the OS (rss-B/token). The tokens reach the model three ways:
// apply (folded records with fresh strings), replay (as the projector's
// reader decodes and applies each JSON message) and snapshot (loaded from
// a snapshot). `make bench-memory` runs it.
func BenchmarkTokenMemory(b *testing.B) {
	const accounts, tokens = 1000, 1_000_000
	exp := t0.Add(time.Hour)
	uid := func(u int) string { return fmt.Sprintf("0192f3c4-aaaa-7bbb-8ccc-%012d", u) }
	withAccounts := func(b *testing.B) *Model {
		m := NewModel()
		for i := range accounts {
			name := fmt.Sprint("user-", i)
			r := record{kind: kindAccountCreated, payload: &events.AccountCreated{UID: uid(i), Username: name, PasswordHash: "h"}}
			if _, err := m.apply(streamState, uint64(i+1), accountSubject(name), r, nil); err != nil {
				b.Fatal(err)
			}
		}
		return m
	}
	apply := func(b *testing.B) *Model {
		m := withAccounts(b)
		for i := range tokens {
			u := i % accounts
			// Fresh strings, as the decoder makes them.
			p := &tokenIssued{Hash: tokenHash(fmt.Sprint("token-", i)), Username: strings.Clone(fmt.Sprint("user-", u)),
				AccountUID: strings.Clone(uid(u)), Epoch: 1, ExpiresAt: exp}
			if _, err := m.apply(streamTokens, uint64(i+1), "", record{kind: kindTokenIssued, payload: p}, nil); err != nil {
				b.Fatal(err)
			}
		}
		return m
	}
	cases := []struct {
		name string
		// prepare runs before the first measurement (what it keeps is
		// not counted); build makes the model.
		prepare func(b *testing.B) any
		build   func(b *testing.B, prepared any) *Model
	}{
		{"apply", nil, func(b *testing.B, _ any) *Model { return apply(b) }},
		{"replay", nil, func(b *testing.B, _ any) *Model {
			m := withAccounts(b)
			var (
				p  fastjson.Parser
				in interner
			)
			for i := range tokens {
				u := i % accounts
				raw, err := tokenIssuedEv(b, fmt.Sprint("token-", i), fmt.Sprint("user-", u), uid(u), 1, exp).Encode()
				if err != nil {
					b.Fatal(err)
				}
				rec, err := decodeMessage(&p, &in, raw)
				if _, err := m.apply(streamTokens, uint64(i+1), "", rec, err); err != nil {
					b.Fatal(err)
				}
			}
			return m
		}},
		{"snapshot", func(b *testing.B) any {
			var buf bytes.Buffer
			if _, err := writeSnapshot(&buf, snapshotOf(apply(b)), 1<<20); err != nil {
				b.Fatal(err)
			}
			return buf.Bytes()
		}, func(b *testing.B, prepared any) *Model {
			m := NewModel()
			if _, err := m.loadSnapshot(bytes.NewReader(prepared.([]byte)), noCheck); err != nil {
				b.Fatal(err)
			}
			return m
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var (
				m        *Model
				prepared any
			)
			for b.Loop() {
				m = nil
				if c.prepare != nil {
					prepared = c.prepare(b)
				}
				before := memNow(b)
				m = c.build(b, prepared)
				after := memNow(b)
				if _, _, n := m.Counts(); n != tokens {
					b.Fatalf("%d tokens", n)
				}
				b.ReportMetric(float64(after.heap-before.heap)/tokens, "heap-B/token")
				b.ReportMetric(float64(after.inuse-before.inuse)/tokens, "inuse-B/token")
				b.ReportMetric(float64(after.rss-before.rss)/tokens, "rss-B/token")
			}
			runtime.KeepAlive(m)
			runtime.KeepAlive(prepared)
		})
	}
}

type memSample struct{ heap, inuse, rss int64 }

// memNow collects garbage, returns free pages to the OS, and reads the
// live heap, the heap spans in use and the resident set.
func memNow(b *testing.B) memSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(statm))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return memSample{heap: int64(ms.HeapAlloc), inuse: int64(ms.HeapInuse), rss: pages * int64(os.Getpagesize())}
}

func benchModel(b *testing.B, n int) (*Model, [][32]byte) {
	f := newFeed(b)
	exp := time.Now().Add(time.Hour)
	hashes := make([][32]byte, n)
	for i := range 100 {
		name := fmt.Sprint("user-", i)
		f.mustState(accountSubject(name), accountCreated(b, name, fmt.Sprint("uid-", i), "h", "reader"))
	}
	for i := range n {
		tok := fmt.Sprint("token-", i)
		f.mustToken(tokenIssuedEv(b, tok, fmt.Sprint("user-", i%100), fmt.Sprint("uid-", i%100), 1, exp))
		hashes[i] = tokenHash(tok)
	}
	return f.m, hashes
}

// BenchmarkResolveToken is the hot path of a Bearer request, from many
// goroutines at once.
func BenchmarkResolveToken(b *testing.B) {
	m, hashes := benchModel(b, 10_000)
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, _, ok := m.ResolveToken(hashes[i%len(hashes)], now); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkAccount is the hot path of a Basic request.
func BenchmarkAccount(b *testing.B) {
	m, _ := benchModel(b, 0)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprint("user-", i)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := m.Account(names[i%len(names)]); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkDecodeMessage is the per-event decoding cost of replay.
func BenchmarkDecodeMessage(b *testing.B) {
	raw, err := tokenIssuedEv(b, "tok", "alice", "0192f3c4-aaaa-7bbb-8ccc-0123456789ab", 1, t0).Encode()
	if err != nil {
		b.Fatal(err)
	}
	var (
		p  fastjson.Parser
		in interner
	)
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := decodeMessage(&p, &in, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyContextOpened is the fold of a context binding at the
// limit of a full table (the purge, the heap, the per-owner count): what a
// replica spends per scroll, PIT or async search opened anywhere. Each
// event expires the oldest binding, so the table stays full.
func BenchmarkApplyContextOpened(b *testing.B) {
	f := newFeed(b)
	const held = 100_000
	f.m.SetContextLimits(held+1, held+1)
	owner := events.ContextOwner{Username: "bench", RealmType: "native"}
	evs := make([]events.Event, held+b.N)
	for i := range evs {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		evs[i] = ctxOpened(b, fmt.Sprint("ctx-", i), events.ContextScroll, owner, at.Add(contextPurgeGrace+time.Duration(held)*time.Millisecond), at.Add(time.Duration(held)*time.Millisecond))
	}
	for _, ev := range evs[:held] {
		f.mustToken(ev)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for _, ev := range evs[held:] {
		f.mustToken(ev)
	}
	b.StopTimer()
	if n := f.m.Contexts(); n > held+1 {
		b.Fatalf("%d bindings held", n)
	}
}

// BenchmarkContextLookup is what a request presenting a context id costs
// the model, from many goroutines at once.
func BenchmarkContextLookup(b *testing.B) {
	f := newFeed(b)
	f.m.SetContextLimits(0, 10_000)
	owner := events.ContextOwner{Username: "bench", RealmType: "native"}
	hashes := make([][32]byte, 10_000)
	for i := range hashes {
		id := fmt.Sprint("ctx-", i)
		f.mustToken(ctxOpened(b, id, events.ContextPIT, owner, t0, t0.Add(time.Hour)))
		hashes[i] = ctxHash(id)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, ok := f.m.Context(hashes[i%len(hashes)], t0); !ok {
				b.Error("miss")
				return
			}
			i++
		}
	})
}

// BenchmarkSnapshotCodec encodes and decodes a snapshot of 1000 accounts
// and a million tokens (from bytes in memory, no NATS), against
// encoding/gob of the same values as the yardstick.
func BenchmarkSnapshotCodec(b *testing.B) {
	const accounts, tokens = 1000, 1_000_000
	m := NewModel()
	exp := t0.Add(time.Hour)
	var seq uint64
	for i := range accounts {
		name := fmt.Sprint("user-", i)
		seq++
		r := record{kind: kindAccountCreated, payload: &events.AccountCreated{UID: fmt.Sprint("uid-", i), Username: name,
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2g", Roles: []string{"reader"}}}
		if _, err := m.apply(streamState, seq, accountSubject(name), r, nil); err != nil {
			b.Fatal(err)
		}
	}
	for i := range tokens {
		u := i % accounts
		p := &tokenIssued{Hash: tokenHash(fmt.Sprint("token-", i)), Username: fmt.Sprint("user-", u),
			AccountUID: fmt.Sprint("uid-", u), Epoch: 1, ExpiresAt: exp.Add(time.Duration(i) * time.Millisecond)}
		if _, err := m.apply(streamTokens, uint64(i+1), "", record{kind: kindTokenIssued, payload: p}, nil); err != nil {
			b.Fatal(err)
		}
	}
	img := snapshotOf(m)
	var buf bytes.Buffer
	if _, err := writeSnapshot(&buf, img, 1<<20); err != nil {
		b.Fatal(err)
	}
	snap := buf.Bytes()
	type gobImage struct {
		Accounts []Account
		Tokens   []Token
	}
	var gi gobImage
	for _, a := range img.accounts {
		gi.Accounts = append(gi.Accounts, *a)
	}
	for _, l := range img.tokens {
		for _, t := range l {
			gi.Tokens = append(gi.Tokens, *t)
		}
	}
	var gbuf bytes.Buffer
	if err := gob.NewEncoder(&gbuf).Encode(gi); err != nil {
		b.Fatal(err)
	}
	gobBytes := gbuf.Bytes()

	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			if _, err := writeSnapshot(io.Discard, img, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(snap)))
		for b.Loop() {
			if _, err := NewModel().loadSnapshot(bytes.NewReader(snap), noCheck); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
	})
	b.Run("gob-encode", func(b *testing.B) {
		b.SetBytes(int64(len(gobBytes)))
		for b.Loop() {
			if err := gob.NewEncoder(io.Discard).Encode(gi); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
	})
	b.Run("gob-decode", func(b *testing.B) {
		b.SetBytes(int64(len(gobBytes)))
		for b.Loop() {
			var out gobImage
			if err := gob.NewDecoder(bytes.NewReader(gobBytes)).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*tokens), "ns/token")
	})
}
