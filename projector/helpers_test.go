package projector

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

// t0 is the time every test starts from.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newEvent(tb testing.TB, typ, subject string, data any) events.Event {
	tb.Helper()
	ev, err := events.New("test-node", typ, subject, t0, data)
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

func tokenHash(token string) [32]byte { return sha256.Sum256([]byte(token)) }

func tokenHex(token string) string {
	h := tokenHash(token)
	return hex.EncodeToString(h[:])
}

func ptr[T any](v T) *T { return &v }

func accountCreated(tb testing.TB, username, uid, pwHash string, roles ...string) events.Event {
	return newEvent(tb, events.TypeAccountCreated, username, events.AccountCreated{
		UID: uid, Username: username, PasswordHash: pwHash, Roles: roles})
}

func accountUpdated(tb testing.TB, username, uid string, pwHash *string, roles *[]string) events.Event {
	return newEvent(tb, events.TypeAccountUpdated, username, events.AccountUpdated{
		UID: uid, Username: username, PasswordHash: pwHash, Roles: roles})
}

func accountDeleted(tb testing.TB, username, uid string) events.Event {
	return newEvent(tb, events.TypeAccountDeleted, username, events.AccountDeleted{UID: uid, Username: username})
}

func constraintCreated(tb testing.TB, id string, paths, methods, roles []string) events.Event {
	return newEvent(tb, events.TypeConstraintCreated, id, events.ConstraintCreated{
		ID: id, Paths: paths, Methods: methods, Roles: roles})
}

func constraintDeleted(tb testing.TB, id string) events.Event {
	return newEvent(tb, events.TypeConstraintDeleted, id, events.ConstraintDeleted{ID: id})
}

func rolePut(tb testing.TB, name string, cluster []string, indices ...events.IndexPrivileges) events.Event {
	return newEvent(tb, events.TypeRolePut, name, events.RolePut{Name: name, Cluster: cluster, Indices: indices})
}

func roleDeleted(tb testing.TB, name string) events.Event {
	return newEvent(tb, events.TypeRoleDeleted, name, events.RoleDeleted{Name: name})
}

func roleSubject(name string) string { return events.StateSubject(events.AggregateRole, name) }

func tokenIssuedEv(tb testing.TB, token, username, uid string, epoch uint64, expires time.Time) events.Event {
	h := tokenHex(token)
	return newEvent(tb, events.TypeTokenIssued, h, events.TokenIssued{
		TokenHash: h, Username: username, AccountUID: uid, Epoch: epoch, IssuedAt: t0, ExpiresAt: expires})
}

func tokenRevokedEv(tb testing.TB, token string) events.Event {
	h := tokenHex(token)
	return newEvent(tb, events.TypeTokenRevoked, h, events.TokenRevoked{TokenHash: h, Reason: "logout"})
}

func accountSubject(username string) string {
	return events.StateSubject(events.AggregateAccount, username)
}

func constraintSubject(id string) string {
	return events.StateSubject(events.AggregateConstraint, id)
}

// feed applies events to a model with increasing sequences, as a stream
// would deliver them.
type feed struct {
	tb  testing.TB
	m   *Model
	seq map[string]uint64
}

func newFeed(tb testing.TB) *feed {
	return &feed{tb: tb, m: NewModel(), seq: map[string]uint64{}}
}

// state applies a STATE event on subject; it returns the change and error.
func (f *feed) state(subject string, ev events.Event) (Change, error) {
	f.seq[events.StreamState]++
	return f.m.Apply(events.StreamState, f.seq[events.StreamState], subject, ev)
}

func (f *feed) token(ev events.Event) (Change, error) {
	f.seq[events.StreamTokens]++
	return f.m.Apply(events.StreamTokens, f.seq[events.StreamTokens], events.TokensSubject(ev.Type), ev)
}

func (f *feed) mustState(subject string, ev events.Event) {
	f.tb.Helper()
	if _, err := f.state(subject, ev); err != nil {
		f.tb.Fatal(err)
	}
}

func (f *feed) mustToken(ev events.Event) {
	f.tb.Helper()
	if _, err := f.token(ev); err != nil {
		f.tb.Fatal(err)
	}
}
