package projector

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/portcullis/portcullis/events"
)

// BenchmarkFold is the projector's cost per event as replay and live
// updates pay it: a message's bytes decoded (decodeMessage, as the reader
// does) and folded into the model (apply), one event per op. token_issued
// issues 65,536 distinct tokens of 100 accounts into a model, then starts
// again on a fresh one (outside the timer); account_updated changes the
// roles of one of 100 accounts.
func BenchmarkFold(b *testing.B) {
	const accounts = 100
	seed := func(b *testing.B) (*Model, [numStreams]uint64) {
		f := newFeed(b)
		for i := range accounts {
			name := fmt.Sprint("user-", i)
			f.mustState(accountSubject(name), accountCreated(b, name, fmt.Sprint("uid-", i), "h", "reader"))
		}
		var seq [numStreams]uint64
		seq[streamState] = f.seq[events.StreamState]
		return f.m, seq
	}
	type msg struct {
		subject string
		raw     []byte
	}
	encode := func(b *testing.B, subject string, ev events.Event) msg {
		raw, err := ev.Encode()
		if err != nil {
			b.Fatal(err)
		}
		return msg{subject: subject, raw: raw}
	}
	for _, bc := range []struct {
		name   string
		stream int
		msgs   func(b *testing.B) []msg
	}{
		{"token_issued", streamTokens, func(b *testing.B) []msg {
			exp := time.Now().Add(time.Hour)
			ms := make([]msg, 1<<16)
			for i := range ms {
				u := i % accounts
				ev := tokenIssuedEv(b, fmt.Sprint("token-", i), fmt.Sprint("user-", u), fmt.Sprint("uid-", u), 1, exp)
				ms[i] = encode(b, events.TokensSubject(ev.Type), ev)
			}
			return ms
		}},
		{"account_updated", streamState, func(b *testing.B) []msg {
			ms := make([]msg, 1024)
			for i := range ms {
				u := i % accounts
				name := fmt.Sprint("user-", u)
				roles := []string{"reader", fmt.Sprint("role-", i)}
				ms[i] = encode(b, accountSubject(name), accountUpdated(b, name, fmt.Sprint("uid-", u), nil, &roles))
			}
			return ms
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m, seq := seed(b)
			ms := bc.msgs(b)
			var (
				p  fastjson.Parser
				in interner
			)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				if i == len(ms) {
					// A token is issued once: start again on a fresh model.
					b.StopTimer()
					m, seq = seed(b)
					i = 0
					b.StartTimer()
				}
				x := ms[i]
				i++
				rec, decErr := decodeMessage(&p, &in, x.raw)
				seq[bc.stream]++
				if _, err := m.apply(bc.stream, seq[bc.stream], x.subject, rec, decErr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkTokenLookup1M is a Bearer request's token lookup with a million
// live tokens of 1,000 accounts in the model, the tokens asked in a random
// order (the hash tables far larger than the CPU caches): serial, and from
// GOMAXPROCS goroutines at once.
func BenchmarkTokenLookup1M(b *testing.B) {
	const accounts, tokens = 1000, 1_000_000
	exp := time.Now().Add(time.Hour)
	m := NewModel()
	var seq [numStreams]uint64
	for i := range accounts {
		name := fmt.Sprint("user-", i)
		seq[streamState]++
		r := record{kind: kindAccountCreated, payload: &events.AccountCreated{
			UID: fmt.Sprintf("0192f3c4-aaaa-7bbb-8ccc-%012d", i), Username: name, PasswordHash: "h"}}
		if _, err := m.apply(streamState, seq[streamState], accountSubject(name), r, nil); err != nil {
			b.Fatal(err)
		}
	}
	hashes := make([][32]byte, tokens)
	for i := range tokens {
		u := i % accounts
		hashes[i] = tokenHash(fmt.Sprint("token-", i))
		p := &tokenIssued{
			Hash:       hashes[i],
			Username:   strings.Clone(fmt.Sprint("user-", u)),
			AccountUID: strings.Clone(fmt.Sprintf("0192f3c4-aaaa-7bbb-8ccc-%012d", u)),
			Epoch:      1,
			ExpiresAt:  exp,
		}
		seq[streamTokens]++
		if _, err := m.apply(streamTokens, seq[streamTokens], "", record{kind: kindTokenIssued, payload: p}, nil); err != nil {
			b.Fatal(err)
		}
	}
	if _, _, n := m.Counts(); n != tokens {
		b.Fatalf("%d tokens", n)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(hashes), func(i, j int) { hashes[i], hashes[j] = hashes[j], hashes[i] })
	now := time.Now()

	b.Run("serial", func(b *testing.B) {
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := m.ResolveToken(hashes[i%tokens], now); !ok {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(tokens)
			for pb.Next() {
				if _, _, ok := m.ResolveToken(hashes[i%tokens], now); !ok {
					b.Error("miss")
					return
				}
				i++
			}
		})
	})
}
