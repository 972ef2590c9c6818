package projector_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/projector"
)

func mustEvent(typ, subject string, data any) events.Event {
	ev, err := events.New("example", typ, subject, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), data)
	if err != nil {
		panic(err)
	}
	return ev
}

// A password change moves the credential epoch; a role change does not.
func ExampleFoldAccount() {
	newHash, roles := "$argon2id$new", []string{"admin"}
	var acc *projector.Account
	for _, ev := range []events.Event{
		mustEvent(events.TypeAccountCreated, "alice", events.AccountCreated{UID: "u1", Username: "alice", PasswordHash: "$argon2id$old", Roles: []string{"reader"}}),
		mustEvent(events.TypeAccountUpdated, "alice", events.AccountUpdated{UID: "u1", Username: "alice", Roles: &roles}),
		mustEvent(events.TypeAccountUpdated, "alice", events.AccountUpdated{UID: "u1", Username: "alice", PasswordHash: &newHash}),
		mustEvent(events.TypeAccountCreated, "alice", events.AccountCreated{UID: "u2", Username: "alice"}),
	} {
		next, err := projector.FoldAccount(acc, ev)
		if err != nil {
			fmt.Println("skipped:", err)
			continue
		}
		acc = next
		fmt.Println(acc.Username, acc.Roles, "epoch", acc.Epoch)
	}
	// Output:
	// alice [reader] epoch 1
	// alice [admin] epoch 1
	// alice [admin] epoch 2
	// skipped: event inconsistent with projected state: account "alice" created while it exists (uid u1)
}

// A token resolves while its account keeps the incarnation and epoch it
// was issued for.
func ExampleModel_ResolveToken() {
	m := projector.NewModel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	key := sha256.Sum256([]byte("the token")) // the gateway keeps only this
	hash := hex.EncodeToString(key[:])
	apply := func(stream string, seq uint64, subject string, ev events.Event) {
		if _, err := m.Apply(stream, seq, subject, ev); err != nil {
			fmt.Println(err)
		}
	}
	alice := events.StateSubject(events.AggregateAccount, "alice")
	apply(events.StreamState, 1, alice, mustEvent(events.TypeAccountCreated, "alice",
		events.AccountCreated{UID: "u1", Username: "alice", PasswordHash: "h1", Roles: []string{"reader"}}))
	apply(events.StreamTokens, 1, events.TokensSubject(events.TypeTokenIssued), mustEvent(events.TypeTokenIssued, hash,
		events.TokenIssued{TokenHash: hash, Username: "alice", AccountUID: "u1", Epoch: 1, ExpiresAt: now.Add(time.Hour)}))

	acc, _, ok := m.ResolveToken(key, now)
	fmt.Println(ok, acc.Roles)

	newHash := "h2"
	apply(events.StreamState, 2, alice, mustEvent(events.TypeAccountUpdated, "alice",
		events.AccountUpdated{UID: "u1", Username: "alice", PasswordHash: &newHash}))
	_, _, ok = m.ResolveToken(key, now)
	fmt.Println(ok, m.SubjectSeq(alice))
	// Output:
	// true [reader]
	// false 2
}
