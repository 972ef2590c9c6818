package projector

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

var (
	ownerA   = events.ContextOwner{Username: "alice", RealmType: "native"}
	ownerB   = events.ContextOwner{Username: "bob", RealmType: "native"}
	ownerKey = events.ContextOwner{Username: "alice", RealmType: "_es_api_key", APIKeyID: "k1"}
)

func ctxHash(id string) [32]byte { return sha256.Sum256([]byte(id)) }

func ctxOpened(tb testing.TB, id, kind string, owner events.ContextOwner, at, expires time.Time) events.Event {
	h := ctxHash(id)
	return newEvent(tb, events.TypeContextOpened, hex.EncodeToString(h[:]), events.ContextOpened{
		IDHash: hex.EncodeToString(h[:]), Kind: kind, Owner: owner, Time: at, ExpiresAt: expires})
}

func ctxClosed(tb testing.TB, id string, owner events.ContextOwner) events.Event {
	h := ctxHash(id)
	return newEvent(tb, events.TypeContextClosed, hex.EncodeToString(h[:]), events.ContextClosed{
		IDHash: hex.EncodeToString(h[:]), Owner: owner})
}

func TestFoldContext(t *testing.T) {
	exp := t0.Add(time.Hour)
	s1 := &Context{Hash: ctxHash("S1"), Kind: events.ContextScroll, Owner: ownerA, ExpiresAt: exp}
	noKind := ctxOpened(t, "S1", "", ownerA, t0, exp)
	badKind := ctxOpened(t, "S1", "cursor", ownerA, t0, exp)
	noHash := newEvent(t, events.TypeContextOpened, "x", events.ContextOpened{Kind: events.ContextScroll, Owner: ownerA, Time: t0, ExpiresAt: exp})
	notJSON := ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, exp)
	notJSON.Data = json.RawMessage(`{"id_hash":`)
	ownerNotObject := ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, exp)
	ownerNotObject.Data = json.RawMessage(`{"id_hash":"` + hex.EncodeToString(s1.Hash[:]) + `","kind":"scroll","owner":"alice","expires_at":"2026-03-01T13:00:00Z"}`)

	tests := []struct {
		name    string
		cur     *Context
		ev      events.Event
		want    *Context
		wantErr error
	}{
		{name: "opened", ev: ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, exp), want: s1},
		{name: "renewed later", cur: s1, ev: ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, exp.Add(time.Hour)),
			want: &Context{Hash: s1.Hash, Kind: events.ContextScroll, Owner: ownerA, ExpiresAt: exp.Add(time.Hour)}},
		{name: "renewed earlier keeps the later expiry", cur: s1, ev: ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, exp.Add(-time.Minute)), want: s1},
		{name: "another owner cannot take it", cur: s1, ev: ctxOpened(t, "S1", events.ContextScroll, ownerB, t0, exp), want: s1, wantErr: ErrInconsistent},
		{name: "the owner's API key is another owner", cur: s1, ev: ctxOpened(t, "S1", events.ContextScroll, ownerKey, t0, exp), want: s1, wantErr: ErrInconsistent},
		{name: "another kind", cur: s1, ev: ctxOpened(t, "S1", events.ContextPIT, ownerA, t0, exp), want: s1, wantErr: ErrInconsistent},
		{name: "without kind", ev: noKind, wantErr: ErrMalformed},
		{name: "unknown kind", ev: badKind, wantErr: ErrMalformed},
		{name: "without hash", ev: noHash, wantErr: ErrMalformed},
		{name: "without owner", ev: ctxOpened(t, "S1", events.ContextScroll, events.ContextOwner{}, t0, exp), wantErr: ErrMalformed},
		{name: "without expiry", ev: ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, time.Time{}), wantErr: ErrMalformed},
		{name: "not JSON", ev: notJSON, wantErr: ErrMalformed},
		{name: "owner not an object", ev: ownerNotObject, wantErr: ErrMalformed},
		{name: "closed", cur: s1, ev: ctxClosed(t, "S1", ownerA), want: nil},
		{name: "closed while missing", ev: ctxClosed(t, "S1", ownerA), want: nil},
		{name: "closed by another owner", cur: s1, ev: ctxClosed(t, "S1", ownerB), want: s1, wantErr: ErrInconsistent},
		{name: "other types leave it", cur: s1, ev: tokenRevokedEv(t, "x"), want: s1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FoldContext(tt.cur, tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			if tt.cur != nil && got != tt.cur && reflect.DeepEqual(tt.cur, got) {
				t.Fatal("an unchanged binding was copied")
			}
		})
	}
}

func TestModelContexts(t *testing.T) {
	f := newFeed(t)
	f.mustToken(ctxOpened(t, "S1", events.ContextScroll, ownerA, t0, t0.Add(10*time.Minute)))
	if c, ok := f.m.Context(ctxHash("S1"), t0); !ok || c.Owner != ownerA || c.Kind != events.ContextScroll {
		t.Fatalf("S1 = %+v %v", c, ok)
	}
	if _, ok := f.m.Context(ctxHash("S1"), t0.Add(10*time.Minute)); ok {
		t.Fatal("S1 resolves at its expiry")
	}
	if _, ok := f.m.Context(ctxHash("S2"), t0); ok {
		t.Fatal("an unknown id resolves")
	}
	// Another owner's opened event for the same id changes nothing.
	if _, err := f.token(ctxOpened(t, "S1", events.ContextScroll, ownerB, t0, t0.Add(time.Hour))); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("takeover: %v", err)
	}
	if c, _ := f.m.Context(ctxHash("S1"), t0); c.Owner != ownerA || !c.ExpiresAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("after takeover attempt: %+v", c)
	}
	// A renewal moves the expiry.
	f.mustToken(ctxOpened(t, "S1", events.ContextScroll, ownerA, t0.Add(5*time.Minute), t0.Add(20*time.Minute)))
	if _, ok := f.m.Context(ctxHash("S1"), t0.Add(15*time.Minute)); !ok {
		t.Fatal("renewal not applied")
	}
	// Closed by its owner, it is gone.
	f.mustToken(ctxClosed(t, "S1", ownerA))
	if _, ok := f.m.Context(ctxHash("S1"), t0); ok || f.m.Contexts() != 0 {
		t.Fatalf("closed binding still there (%d held)", f.m.Contexts())
	}
	// A closed one may be opened again (Elasticsearch never reuses an id,
	// but the fold need not care).
	f.mustToken(ctxOpened(t, "S1", events.ContextScroll, ownerB, t0, t0.Add(time.Hour)))
	if c, ok := f.m.Context(ctxHash("S1"), t0); !ok || c.Owner != ownerB {
		t.Fatalf("reopened: %+v %v", c, ok)
	}
}

// TestModelContextPurge: an opened event drops the bindings that expired
// before its time (minus the grace), whatever the reader's clock: the
// bindings held are a function of the log.
func TestModelContextPurge(t *testing.T) {
	f := newFeed(t)
	f.mustToken(ctxOpened(t, "old", events.ContextPIT, ownerA, t0, t0.Add(time.Minute)))
	f.mustToken(ctxOpened(t, "mid", events.ContextPIT, ownerA, t0, t0.Add(3*time.Minute)))
	f.mustToken(ctxOpened(t, "new", events.ContextPIT, ownerA, t0, t0.Add(time.Hour)))
	if f.m.Contexts() != 3 {
		t.Fatalf("%d held, want 3", f.m.Contexts())
	}
	// At t0+3m, with a minute of grace, "old" (t0+1m) goes, "mid" (t0+3m) stays.
	f.mustToken(ctxOpened(t, "later", events.ContextAsync, ownerB, t0.Add(3*time.Minute), t0.Add(time.Hour)))
	if f.m.Contexts() != 3 {
		t.Fatalf("%d held after purge, want 3", f.m.Contexts())
	}
	if _, ok := f.m.Context(ctxHash("old"), t0); ok {
		t.Fatal("old not purged")
	}
	if _, ok := f.m.Context(ctxHash("mid"), t0); !ok {
		t.Fatal("mid purged within the grace")
	}
	// A closed event purges nothing.
	f.mustToken(ctxClosed(t, "absent", ownerA))
	if f.m.Contexts() != 3 {
		t.Fatalf("%d held after a close of nothing", f.m.Contexts())
	}
}

func TestModelContextLimits(t *testing.T) {
	f := newFeed(t)
	f.m.SetContextLimits(3, 2)
	exp := t0.Add(time.Hour)
	f.mustToken(ctxOpened(t, "a1", events.ContextScroll, ownerA, t0, exp))
	f.mustToken(ctxOpened(t, "a2", events.ContextScroll, ownerA, t0, exp))
	if _, err := f.token(ctxOpened(t, "a3", events.ContextScroll, ownerA, t0, exp)); !errors.Is(err, ErrContextLimit) {
		t.Fatalf("third of one owner: %v", err)
	}
	// Renewing a binding is not a new one.
	f.mustToken(ctxOpened(t, "a2", events.ContextScroll, ownerA, t0, exp.Add(time.Minute)))
	f.mustToken(ctxOpened(t, "b1", events.ContextScroll, ownerB, t0, exp))
	if _, err := f.token(ctxOpened(t, "k1", events.ContextScroll, ownerKey, t0, exp)); !errors.Is(err, ErrContextLimit) {
		t.Fatalf("beyond the total: %v", err)
	}
	if _, ok := f.m.Context(ctxHash("k1"), t0); ok {
		t.Fatal("a refused binding resolves")
	}
	// Closing frees a place, for the owner and in all.
	f.mustToken(ctxClosed(t, "a1", ownerA))
	f.mustToken(ctxOpened(t, "a3", events.ContextScroll, ownerA, t0, exp))
	// Expiry frees places too, at the next opened event.
	f.mustToken(ctxOpened(t, "k1", events.ContextScroll, ownerKey, exp.Add(2*time.Hour), exp.Add(3*time.Hour)))
	if f.m.Contexts() != 1 {
		t.Fatalf("%d held, want 1 after the purge", f.m.Contexts())
	}
}

// TestModelContextsReplayed: two models fed the same log hold the same
// bindings, whenever they read them.
func TestModelContextsReplayed(t *testing.T) {
	var log []events.Event
	for i := range 200 {
		id := string(rune('a'+i%26)) + string(rune('a'+i/26))
		at := t0.Add(time.Duration(i) * time.Second)
		log = append(log, ctxOpened(t, id, events.ContextScroll, ownerA, at, at.Add(time.Duration(1+i%7)*time.Minute)))
		if i%5 == 0 {
			log = append(log, ctxClosed(t, id, ownerA))
		}
	}
	a, b := newFeed(t), newFeed(t)
	for _, ev := range log {
		a.mustToken(ev)
	}
	for _, ev := range log {
		b.mustToken(ev)
	}
	if a.m.Contexts() != b.m.Contexts() {
		t.Fatalf("held %d and %d", a.m.Contexts(), b.m.Contexts())
	}
	for h, n := range a.m.ctx.nodes {
		if m, ok := b.m.ctx.nodes[h]; !ok || !m.expires.Equal(n.expires) {
			t.Fatalf("binding %x differs", h[:4])
		}
	}
	if a.m.Contexts() == 0 || a.m.Contexts() >= 160 {
		t.Fatalf("%d held: the purge did not run or ran too far", a.m.Contexts())
	}
}
