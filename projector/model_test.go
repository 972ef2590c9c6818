package projector

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/portcullis/portcullis/events"
)

func TestShardSize(t *testing.T) {
	if s := unsafe.Sizeof(accountShard{}); s != 64 {
		t.Errorf("accountShard is %d bytes, want one cache line", s)
	}
	if s := unsafe.Sizeof(tokenShard{}); s != 64 {
		t.Errorf("tokenShard is %d bytes, want one cache line", s)
	}
}

func TestModelAccountLifecycle(t *testing.T) {
	f := newFeed(t)
	m := f.m
	sub := accountSubject("alice")
	exp := t0.Add(time.Hour)

	if ch, err := f.state(sub, accountCreated(t, "alice", "u1", "h1", "reader")); err != nil || ch != ChangeAccount {
		t.Fatalf("create: %v %v", ch, err)
	}
	f.mustToken(tokenIssuedEv(t, "tok-1", "alice", "u1", 1, exp))
	f.mustToken(tokenIssuedEv(t, "tok-2", "alice", "u1", 1, exp))

	a, tok, ok := m.ResolveToken(tokenHash("tok-1"), t0)
	if !ok || a.Username != "alice" || tok.Epoch != 1 || !reflect.DeepEqual(a.Roles, []string{"reader"}) {
		t.Fatalf("resolve: %+v %+v %v", a, tok, ok)
	}
	if _, _, ok := m.ResolveToken(tokenHash("tok-1"), exp); ok {
		t.Error("resolved at ExpiresAt")
	}
	if _, _, ok := m.ResolveToken(tokenHash("unknown"), t0); ok {
		t.Error("resolved an unknown token")
	}

	// A role change applies to existing tokens.
	f.mustState(sub, accountUpdated(t, "alice", "u1", nil, &[]string{"admin"}))
	a, _, ok = m.ResolveToken(tokenHash("tok-1"), t0)
	if !ok || !reflect.DeepEqual(a.Roles, []string{"admin"}) {
		t.Fatalf("after role change: %+v %v", a, ok)
	}

	// Logout revokes one token.
	f.mustToken(tokenRevokedEv(t, "tok-2"))
	if _, _, ok := m.ResolveToken(tokenHash("tok-2"), t0); ok {
		t.Error("revoked token resolves")
	}

	// A password change revokes the others.
	f.mustState(sub, accountUpdated(t, "alice", "u1", ptr("h2"), nil))
	if _, _, ok := m.ResolveToken(tokenHash("tok-1"), t0); ok {
		t.Error("token resolves after password change")
	}
	f.mustToken(tokenIssuedEv(t, "tok-3", "alice", "u1", 2, exp))
	if _, _, ok := m.ResolveToken(tokenHash("tok-3"), t0); !ok {
		t.Error("token of the new epoch does not resolve")
	}

	// Deletion, then re-creation under the same name: old tokens stay dead.
	f.mustState(sub, accountDeleted(t, "alice", "u1"))
	if _, ok := m.Account("alice"); ok {
		t.Error("deleted account found")
	}
	f.mustState(sub, accountCreated(t, "alice", "u2", "h3"))
	if _, _, ok := m.ResolveToken(tokenHash("tok-3"), t0); ok {
		t.Error("token of the deleted incarnation resolves for the new one")
	}
	if a, ok := m.Account("alice"); !ok || a.UID != "u2" || a.Epoch != 1 {
		t.Errorf("re-created: %+v", a)
	}
	if n := m.Sweep(t0); n != 2 {
		t.Errorf("swept %d, want 2 (tok-1 at an old epoch, tok-3 of a deleted uid)", n)
	}
	if acc, cons, toks := m.Counts(); acc != 1 || cons != 0 || toks != 0 {
		t.Errorf("counts %d %d %d", acc, cons, toks)
	}
}

func TestModelRejectsReusedUID(t *testing.T) {
	f := newFeed(t)
	sub := accountSubject("alice")
	f.mustState(sub, accountCreated(t, "alice", "u1", "h1"))
	f.mustToken(tokenIssuedEv(t, "tok", "alice", "u1", 1, t0.Add(time.Hour)))
	f.mustState(sub, accountDeleted(t, "alice", "u1"))
	if _, err := f.state(sub, accountCreated(t, "alice", "u1", "h1")); !errors.Is(err, ErrInconsistent) {
		t.Fatalf("re-creation with the deleted uid: %v, want ErrInconsistent", err)
	}
	if _, _, ok := f.m.ResolveToken(tokenHash("tok"), t0); ok {
		t.Error("token of the deleted account resolves")
	}
}

func TestModelSubjectMustMatch(t *testing.T) {
	tests := []struct {
		name    string
		subject string
		ev      events.Event
	}{
		{"account on another account's subject", accountSubject("bob"), accountCreated(t, "alice", "u1", "h")},
		{"account on a constraint subject", constraintSubject("alice"), accountCreated(t, "alice", "u1", "h")},
		{"constraint on an account subject", accountSubject("c1"), constraintCreated(t, "c1", nil, nil, nil)},
		{"constraint on another id", constraintSubject("c2"), constraintCreated(t, "c1", nil, nil, nil)},
		{"not a state subject", "portcullis.state", accountCreated(t, "alice", "u1", "h")},
		{"token event on STATE", accountSubject("alice"), tokenRevokedEv(t, "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFeed(t)
			ch, err := f.state(tt.subject, tt.ev)
			if !errors.Is(err, ErrInconsistent) || ch != ChangeNone {
				t.Fatalf("got %v %v, want ErrInconsistent", ch, err)
			}
			if a, c, _ := f.m.Counts(); a+c != 0 {
				t.Errorf("state changed: %d accounts, %d constraints", a, c)
			}
			if f.m.Applied(events.StreamState) != 1 {
				t.Error("sequence not recorded")
			}
		})
	}
	t.Run("account event on TOKENS", func(t *testing.T) {
		f := newFeed(t)
		if _, err := f.token(accountCreated(t, "alice", "u1", "h")); !errors.Is(err, ErrInconsistent) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestModelSubjectSeq(t *testing.T) {
	m := NewModel()
	alice, bob := accountSubject("alice"), accountSubject("bob")
	steps := []struct {
		seq     uint64
		subject string
		ev      events.Event
		wantErr error
	}{
		{1, alice, accountCreated(t, "alice", "u1", "h"), nil},
		{2, bob, accountCreated(t, "bob", "u2", "h"), nil},
		{3, alice, accountUpdated(t, "alice", "u1", ptr("h2"), nil), nil},
		{5, alice, accountUpdated(t, "alice", "WRONG", ptr("h3"), nil), ErrInconsistent}, // skipped, still counted
		{6, bob, accountDeleted(t, "bob", "u2"), nil},                                    // tombstone
		{7, alice, newEvent(t, "portcullis.account.renamed.v1", "alice", map[string]string{}), nil},
	}
	for _, s := range steps {
		if _, err := m.Apply(events.StreamState, s.seq, s.subject, s.ev); !errors.Is(err, s.wantErr) || (err == nil) != (s.wantErr == nil) {
			t.Fatalf("seq %d: %v, want %v", s.seq, err, s.wantErr)
		}
	}
	if got := m.SubjectSeq(alice); got != 7 {
		t.Errorf("alice at %d, want 7", got)
	}
	if got := m.SubjectSeq(bob); got != 6 {
		t.Errorf("bob (deleted) at %d, want 6", got)
	}
	if got := m.SubjectSeq(accountSubject("carol")); got != 0 {
		t.Errorf("carol at %d, want 0", got)
	}
	if got := m.Applied(events.StreamState); got != 7 {
		t.Errorf("applied %d", got)
	}

	// A redelivered sequence is ignored.
	if ch, err := m.Apply(events.StreamState, 3, alice, accountDeleted(t, "alice", "u1")); err != nil || ch != ChangeNone {
		t.Fatalf("redelivery: %v %v", ch, err)
	}
	if _, ok := m.Account("alice"); !ok {
		t.Fatal("redelivered event applied")
	}
	if _, err := m.Apply("PORTCULLIS_AUTH", 1, "", accountDeleted(t, "alice", "u1")); !errors.Is(err, ErrUnknownStream) {
		t.Errorf("unknown stream: %v", err)
	}
	if m.Applied("nope") != 0 {
		t.Error("applied of unknown stream")
	}
}

func TestModelConstraints(t *testing.T) {
	f := newFeed(t)
	m := f.m
	for _, id := range []string{"c3", "c1", "c2"} {
		if ch, err := f.state(constraintSubject(id), constraintCreated(t, id, []string{"/" + id}, []string{"GET"}, []string{"r"})); err != nil || ch != ChangeConstraint {
			t.Fatal(ch, err)
		}
	}
	got := m.Constraints()
	if len(got) != 3 || got[0].ID != "c1" || got[1].ID != "c2" || got[2].ID != "c3" {
		t.Fatalf("constraints %+v", got)
	}
	got[0].ID = "mutated"
	if again := m.Constraints(); again[0].ID != "c1" {
		t.Fatal("Constraints returned the cache itself")
	}
	f.mustState(constraintSubject("c2"), constraintDeleted(t, "c2"))
	if got := m.Constraints(); len(got) != 2 || got[1].ID != "c3" {
		t.Fatalf("after delete: %+v", got)
	}
	if c, ok := m.ConstraintByID("c3"); !ok || !reflect.DeepEqual(c.Paths, []string{"/c3"}) {
		t.Fatalf("by id: %+v %v", c, ok)
	}
	if _, ok := m.ConstraintByID("c2"); ok {
		t.Fatal("deleted constraint found")
	}
	if _, cons, _ := m.Counts(); cons != 2 {
		t.Fatalf("count %d", cons)
	}
}

func TestModelRoles(t *testing.T) {
	f := newFeed(t)
	m := f.m
	for _, name := range []string{"r3", "r1", "r2"} {
		if ch, err := f.state(roleSubject(name), rolePut(t, name, []string{"monitor"})); err != nil || ch != ChangeRole {
			t.Fatal(ch, err)
		}
	}
	if ch, err := f.state(roleSubject("r1"), rolePut(t, "r1", []string{"manage_security"})); err != nil || ch != ChangeRole {
		t.Fatal(ch, err)
	}
	got := m.Roles()
	if len(got) != 3 || got[0].Name != "r1" || got[1].Name != "r2" || got[2].Name != "r3" {
		t.Fatalf("roles %+v", got)
	}
	if r, ok := m.Role("r1"); !ok || !reflect.DeepEqual(r.Cluster, []string{"manage_security"}) {
		t.Fatalf("r1 %+v %v", r, ok)
	}
	f.mustState(roleSubject("r2"), roleDeleted(t, "r2"))
	if _, ok := m.Role("r2"); ok {
		t.Fatal("deleted role found")
	}
	if got := m.Roles(); len(got) != 2 {
		t.Fatalf("after delete: %+v", got)
	}
	// A role put on another role's subject changes nothing.
	if ch, err := f.state(roleSubject("r9"), rolePut(t, "r1", nil)); !errors.Is(err, ErrInconsistent) || ch != ChangeNone {
		t.Fatalf("mismatched subject: %v %v", ch, err)
	}
	if r, _ := m.Role("r1"); !reflect.DeepEqual(r.Cluster, []string{"manage_security"}) {
		t.Fatalf("r1 changed: %+v", r)
	}
}

func TestModelTokenBeforeAccount(t *testing.T) {
	// TOKENS and STATE are consumed independently: a token may be applied
	// before the account it belongs to. It must survive sweeps until the
	// account arrives, and then resolve with interned strings.
	f := newFeed(t)
	m := f.m
	exp := t0.Add(time.Hour)
	f.mustToken(tokenIssuedEv(t, "early", "alice", "u1", 1, exp))
	if n := m.Sweep(t0); n != 0 {
		t.Fatalf("swept %d tokens of an account not applied yet", n)
	}
	f.mustState(accountSubject("alice"), accountCreated(t, "alice", "u1", "h"))
	a, tok, ok := m.ResolveToken(tokenHash("early"), t0)
	if !ok {
		t.Fatal("token does not resolve once its account is there")
	}
	if sameString(tok.Username, a.Username) {
		t.Fatal("interned before a sweep: test is not testing anything")
	}
	if n := m.Sweep(t0); n != 0 {
		t.Fatalf("swept %d", n)
	}
	_, tok2, ok := m.ResolveToken(tokenHash("early"), t0)
	if !ok || !sameString(tok2.Username, a.Username) || !sameString(tok2.AccountUID, a.UID) {
		t.Fatal("sweep did not intern the token's strings")
	}
	if tok == tok2 || tok.Username == "" {
		t.Fatal("sweep wrote through a published token")
	}
	// Once expired it goes.
	if n := m.Sweep(exp); n != 1 {
		t.Fatalf("swept %d at expiry, want 1", n)
	}
}

func TestModelSweep(t *testing.T) {
	f := newFeed(t)
	m := f.m
	f.mustState(accountSubject("alice"), accountCreated(t, "alice", "u1", "h"))
	f.mustState(accountSubject("bob"), accountCreated(t, "bob", "u2", "h"))
	for i := range 100 {
		f.mustToken(tokenIssuedEv(t, fmt.Sprint("a", i), "alice", "u1", 1, t0.Add(time.Duration(i)*time.Minute)))
		f.mustToken(tokenIssuedEv(t, fmt.Sprint("b", i), "bob", "u2", 1, t0.Add(time.Hour)))
	}
	if _, _, n := m.Counts(); n != 200 {
		t.Fatalf("%d tokens", n)
	}
	// Tokens a0..a49 expire by t0+50m (a50 expires exactly then: !now.Before).
	if n := m.Sweep(t0.Add(50 * time.Minute)); n != 51 {
		t.Fatalf("swept %d, want 51", n)
	}
	// Bob's password change revokes his 100.
	f.mustState(accountSubject("bob"), accountUpdated(t, "bob", "u2", ptr("h2"), nil))
	if n := m.Sweep(t0); n != 100 {
		t.Fatalf("swept %d, want 100", n)
	}
	if _, _, n := m.Counts(); n != 49 {
		t.Fatalf("%d tokens left, want 49", n)
	}
	if _, _, ok := m.ResolveToken(tokenHash("a99"), t0.Add(98*time.Minute)); !ok {
		t.Fatal("live token gone")
	}
}

// TestModelZeroAlloc enforces the hot-path budget: Account and
// ResolveToken hits allocate nothing.
func TestModelZeroAlloc(t *testing.T) {
	f := newFeed(t)
	f.mustState(accountSubject("alice"), accountCreated(t, "alice", "u1", "h", "reader"))
	f.mustToken(tokenIssuedEv(t, "tok", "alice", "u1", 1, t0.Add(time.Hour)))
	hash := tokenHash("tok")
	var sink bool
	if n := testing.AllocsPerRun(1000, func() {
		_, _, ok := f.m.ResolveToken(hash, t0)
		sink = sink || ok
	}); n != 0 {
		t.Errorf("ResolveToken: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		_, ok := f.m.Account("alice")
		sink = sink || ok
	}); n != 0 {
		t.Errorf("Account: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() {
		_, _, ok := f.m.ResolveToken(tokenHash("missing"), t0)
		sink = sink || ok
	}); n != 0 {
		t.Errorf("ResolveToken miss: %v allocs", n)
	}
	if !sink {
		t.Fatal("nothing resolved")
	}
}

// TestModelConcurrentReaders runs readers against the writer; with -race
// it checks the locking discipline.
func TestModelConcurrentReaders(t *testing.T) {
	f := newFeed(t)
	m := f.m
	exp := t0.Add(time.Hour)
	f.mustState(accountSubject("alice"), accountCreated(t, "alice", "u1", "h"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if a, tok, ok := m.ResolveToken(tokenHash("t5"), t0); ok && (a.UID != tok.AccountUID || a.Epoch != tok.Epoch) {
					t.Error("inconsistent resolve")
					return
				}
				m.Account("alice")
				m.Constraints()
				m.ConstraintByID("c1")
				m.SubjectSeq(accountSubject("alice"))
				m.Counts()
			}
		})
	}
	for i := range 200 {
		f.mustToken(tokenIssuedEv(t, fmt.Sprint("t", i), "alice", "u1", uint64(1+i/50), exp))
		if i%50 == 49 {
			f.mustState(accountSubject("alice"), accountUpdated(t, "alice", "u1", ptr(fmt.Sprint("h", i)), nil))
		}
		if i%20 == 0 {
			id := fmt.Sprint("c", i)
			f.mustState(constraintSubject(id), constraintCreated(t, id, nil, nil, nil))
		}
		if i%30 == 0 {
			m.Sweep(t0)
		}
	}
	close(stop)
	wg.Wait()
}
