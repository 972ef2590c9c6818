package projector

import (
	"fmt"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/portcullis/portcullis/events"
)

// Change tells which kinds of state an Apply (or a batch of them) changed.
// It is a bit set.
type Change uint8

// Change bits.
const (
	ChangeAccount Change = 1 << iota
	ChangeConstraint
	ChangeToken
	ChangeRole
	ChangeAPIKey
	ChangeContext

	// ChangeNone is the empty set: nothing changed (a duplicate, an
	// unknown type, an event that was skipped).
	ChangeNone Change = 0
)

// String lists the bits, "none" for the empty set.
func (c Change) String() string {
	if c == ChangeNone {
		return "none"
	}
	var parts []string
	for _, b := range [...]struct {
		bit  Change
		name string
	}{{ChangeAccount, "account"}, {ChangeConstraint, "constraint"}, {ChangeToken, "token"}, {ChangeRole, "role"}, {ChangeAPIKey, "apikey"}, {ChangeContext, "context"}} {
		if c&b.bit != 0 {
			parts = append(parts, b.name)
		}
	}
	return strings.Join(parts, "|")
}

// shardCount splits the account and token maps so that requests on
// different keys never contend on one lock (DESIGN: no lock shared by all
// requests). A power of two.
const shardCount = 64

// Stream indexes into the per-stream arrays.
const (
	streamState = iota
	streamTokens
	numStreams
)

var streamNames = [numStreams]string{events.StreamState, events.StreamTokens}

func streamIndex(stream string) (int, bool) {
	switch stream {
	case events.StreamState:
		return streamState, true
	case events.StreamTokens:
		return streamTokens, true
	}
	return 0, false
}

// accountShard and tokenShard are padded to 64 bytes, one cache line, so
// that readers taking RLock on neighbouring shards do not contend on the
// line holding both mutexes.
type accountShard struct {
	mu sync.RWMutex
	m  map[string]*Account // guarded by mu; written only by the writer
	_  [64 - 24 - 8]byte
}

type tokenShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*Token // guarded by mu; written only by the writer
	_  [64 - 24 - 8]byte
}

// Model is the read model: accounts by username, tokens by hash,
// constraints by id, and the stream sequences applied. It is safe for any
// number of concurrent readers while ONE writer calls Apply and Sweep (see
// the package comment).
type Model struct {
	seed     maphash.Seed
	accounts [shardCount]accountShard
	tokens   [shardCount]tokenShard
	contexts [shardCount]contextShard

	cmu         sync.RWMutex
	constraints map[string]*Constraint // guarded by cmu
	// sorted caches Constraints(); nil when stale. Stored only while cmu
	// is held (read or write), so a stale list is never stored after the
	// writer cleared it.
	sorted atomic.Pointer[[]Constraint]

	rmu   sync.RWMutex
	roles map[string]*Role // guarded by rmu; written only by the writer

	kmu     sync.RWMutex
	apiKeys map[string]*APIKey // guarded by kmu; written only by the writer

	smu      sync.RWMutex
	subjects map[string]uint64 // guarded by smu

	applied                          [numStreams]atomic.Uint64
	nAccounts, nConstraints, nTokens atomic.Int64

	// Owned by the writer, no lock.
	//
	// deadUIDs holds the UID of every deleted account incarnation: a token
	// naming one is revoked for good and can be swept, while a token naming
	// a UID not seen yet may just be ahead of STATE (the two streams are
	// consumed independently) and is kept until it expires.
	deadUIDs map[string]struct{}
	victims  [][32]byte
	renamed  []*Token
	ctx      contextTable
	// floors is, per token shard, the TOKENS sequence a loaded snapshot
	// holds that shard up to: events at or below it are in it already
	// (see snapshot.go). Zero without a snapshot.
	floors [snapPartitions]uint64
	// ctxFloor is the TOKENS sequence the context bindings of a loaded
	// snapshot are at: context events at or below it are in it already.
	ctxFloor uint64
}

// reserveTokens sizes the empty token maps for about n tokens, so that a
// replay does not grow them step by step. Writer only.
func (m *Model) reserveTokens(n int) {
	per := n/shardCount + 1
	for i := range m.tokens {
		if len(m.tokens[i].m) == 0 {
			m.tokens[i].m = make(map[[32]byte]*Token, per)
		}
	}
}

// NewModel returns an empty model.
func NewModel() *Model {
	m := &Model{
		seed:        maphash.MakeSeed(),
		constraints: make(map[string]*Constraint),
		roles:       make(map[string]*Role),
		apiKeys:     make(map[string]*APIKey),
		subjects:    make(map[string]uint64),
		deadUIDs:    make(map[string]struct{}),
	}
	for i := range m.accounts {
		m.accounts[i].m = make(map[string]*Account)
	}
	for i := range m.tokens {
		m.tokens[i].m = make(map[[32]byte]*Token)
	}
	for i := range m.contexts {
		m.contexts[i].m = make(map[[32]byte]*Context)
	}
	m.ctx.nodes = make(map[[32]byte]*contextNode)
	m.ctx.byOwner = make(map[events.ContextOwner]int)
	m.SetContextLimits(0, 0)
	return m
}

func (m *Model) accountShard(username string) *accountShard {
	return &m.accounts[maphash.String(m.seed, username)&(shardCount-1)]
}

// tokenShard picks a shard by the first byte of the hash: a SHA-256 is
// uniform already.
func (m *Model) tokenShard(hash *[32]byte) *tokenShard {
	return &m.tokens[hash[0]&(shardCount-1)]
}

// Account returns the account named username. The *Account is shared and
// must not be modified. It does not allocate.
func (m *Model) Account(username string) (*Account, bool) {
	s := m.accountShard(username)
	s.mu.RLock()
	a := s.m[username]
	s.mu.RUnlock()
	return a, a != nil
}

// ResolveToken returns the token with that hash and its account, if the
// token exists, has not expired (now < ExpiresAt) and the account it was
// issued for still exists at the same incarnation (UID) and credential
// epoch. Roles come from the account, so a role change applies to the
// token at once; a password change or a deletion makes it unresolvable.
// Callers that allow clock skew pass now minus the skew. It does not
// allocate.
func (m *Model) ResolveToken(hash [32]byte, now time.Time) (*Account, *Token, bool) {
	s := m.tokenShard(&hash)
	s.mu.RLock()
	t := s.m[hash]
	s.mu.RUnlock()
	if t == nil || !now.Before(t.ExpiresAt) {
		return nil, nil, false
	}
	a, ok := m.Account(t.Username)
	if !ok || a.UID != t.AccountUID || a.Epoch != t.Epoch || a.Disabled {
		return nil, nil, false
	}
	return a, t, true
}

// Accounts returns every account sorted by username. The accounts are
// shared and must not be modified.
func (m *Model) Accounts() []*Account {
	var out []*Account
	for i := range m.accounts {
		s := &m.accounts[i]
		s.mu.RLock()
		for _, a := range s.m {
			out = append(out, a)
		}
		s.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b *Account) int { return strings.Compare(a.Username, b.Username) })
	return out
}

// Constraints returns every constraint sorted by ID. The slice is the
// caller's; the Paths, Methods and Roles slices in it are shared and must
// not be modified.
func (m *Model) Constraints() []Constraint {
	if p := m.sorted.Load(); p != nil {
		return slices.Clone(*p)
	}
	m.cmu.RLock()
	defer m.cmu.RUnlock()
	list := make([]Constraint, 0, len(m.constraints))
	for _, c := range m.constraints {
		list = append(list, *c)
	}
	slices.SortFunc(list, func(a, b Constraint) int { return strings.Compare(a.ID, b.ID) })
	m.sorted.Store(&list)
	return slices.Clone(list)
}

// ConstraintByID returns the constraint with that id.
func (m *Model) ConstraintByID(id string) (Constraint, bool) {
	m.cmu.RLock()
	c := m.constraints[id]
	m.cmu.RUnlock()
	if c == nil {
		return Constraint{}, false
	}
	return *c, true
}

// Role returns the role named name. The *Role is shared and must not be
// modified.
func (m *Model) Role(name string) (*Role, bool) {
	m.rmu.RLock()
	r := m.roles[name]
	m.rmu.RUnlock()
	return r, r != nil
}

// Roles returns every role sorted by name. The roles are shared and must
// not be modified.
func (m *Model) Roles() []*Role {
	m.rmu.RLock()
	out := make([]*Role, 0, len(m.roles))
	for _, r := range m.roles {
		out = append(out, r)
	}
	m.rmu.RUnlock()
	slices.SortFunc(out, func(a, b *Role) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// APIKey returns the API key with that id, invalidated and expired ones
// included. The *APIKey is shared and must not be modified.
func (m *Model) APIKey(id string) (*APIKey, bool) {
	m.kmu.RLock()
	k := m.apiKeys[id]
	m.kmu.RUnlock()
	return k, k != nil
}

// APIKeys returns every API key sorted by creation, then id. The keys are
// shared and must not be modified.
func (m *Model) APIKeys() []*APIKey {
	m.kmu.RLock()
	out := make([]*APIKey, 0, len(m.apiKeys))
	for _, k := range m.apiKeys {
		out = append(out, k)
	}
	m.kmu.RUnlock()
	slices.SortFunc(out, func(a, b *APIKey) int {
		if c := a.Creation.Compare(b.Creation); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// SubjectSeq returns the stream sequence of the last event applied on a
// STATE subject, 0 if none was. It counts every event on the subject, also
// the ones that were skipped (unknown type, inconsistent) and the deletion
// of the aggregate (a tombstone), because it is what a command sends as
// Nats-Expected-Last-Subject-Sequence and the stream counts them all.
func (m *Model) SubjectSeq(subject string) uint64 {
	m.smu.RLock()
	seq := m.subjects[subject]
	m.smu.RUnlock()
	return seq
}

// Counts returns how many accounts, constraints and tokens the model holds.
// Tokens include expired and revoked ones not swept yet.
func (m *Model) Counts() (accounts, constraints, tokens int) {
	return int(m.nAccounts.Load()), int(m.nConstraints.Load()), int(m.nTokens.Load())
}

// Applied returns the sequence of the last event applied from stream, 0
// for none or an unknown stream.
func (m *Model) Applied(stream string) uint64 {
	i, ok := streamIndex(stream)
	if !ok {
		return 0
	}
	return m.applied[i].Load()
}

// Apply folds one event, read from stream at sequence seq on subject, into
// the model and reports what it changed. A sequence at or below
// Applied(stream) was applied already and is ignored, so a redelivery is
// harmless. The sequence counts as applied whatever the outcome: an
// unknown type is skipped with ChangeNone and no error; an event that
// cannot be decoded or does not fit the state returns ErrMalformed or
// ErrInconsistent, changes nothing, and the caller logs and goes on.
//
// Account and constraint events are keyed by their STATE subject
// (events.StateSubject), which must match the payload: the subject is what
// optimistic concurrency guards. Apply is the writer's: never call it
// concurrently with itself or Sweep.
func (m *Model) Apply(stream string, seq uint64, subject string, ev events.Event) (Change, error) {
	si, ok := streamIndex(stream)
	if !ok {
		return ChangeNone, fmt.Errorf("apply %s seq %d: %w", stream, seq, ErrUnknownStream)
	}
	if seq <= m.applied[si].Load() {
		return ChangeNone, nil
	}
	r, err := decodeEvent(ev)
	return m.apply(si, seq, subject, r, err)
}

// apply is Apply on an event decoded already; decErr is the decoding
// error, if any, so that the sequence is recorded either way.
func (m *Model) apply(si int, seq uint64, subject string, r record, decErr error) (Change, error) {
	if seq <= m.applied[si].Load() {
		return ChangeNone, nil
	}
	// The data is written before the sequence is published: whoever sees
	// Applied >= seq sees the event's effect.
	defer m.applied[si].Store(seq)
	// forget: the event is a swept API key's (see FoldAPIKey), whose
	// subject sequence went with it and is not recorded again.
	forget := false
	if si == streamState && subject != "" {
		// The subject's sequence is also published after the data: a
		// command reads SubjectSeq first and the aggregate second, so if it
		// sees the new sequence it sees the new aggregate too, and can never
		// send an expected sequence that is current with a decision taken on
		// a stale aggregate (two concurrent creates would both succeed).
		defer func() {
			m.smu.Lock()
			if forget {
				delete(m.subjects, subject)
			} else {
				m.subjects[subject] = seq
			}
			m.smu.Unlock()
		}()
	}
	if decErr != nil {
		return ChangeNone, fmt.Errorf("apply %s seq %d: %w", streamNames[si], seq, decErr)
	}
	var (
		change Change
		err    error
	)
	switch {
	case r.kind == kindUnknown:
		return ChangeNone, nil
	case si == streamState && r.kind.isAccount():
		change, err = m.applyAccount(subject, r)
	case si == streamState && r.kind.isConstraint():
		change, err = m.applyConstraint(subject, r)
	case si == streamState && r.kind.isRole():
		change, err = m.applyRole(subject, r)
	case si == streamState && r.kind.isAPIKey():
		change, err = m.applyAPIKey(subject, r)
		if id, kerr := stateKey(subject, events.AggregateAPIKey); kerr == nil && err == nil && m.apiKeys[id] == nil {
			forget = true
		}
	case si == streamTokens && r.kind.isToken():
		change, err = m.applyToken(seq, r)
	case si == streamTokens && r.kind.isContext():
		if seq <= m.ctxFloor {
			break // in the loaded snapshot already
		}
		change, err = m.applyContext(r)
	default:
		err = fmt.Errorf("%w: not a %s event", ErrInconsistent, streamNames[si])
	}
	if err != nil {
		if r.id == "" { // decodeMessage spares it; the caller logs it
			return ChangeNone, fmt.Errorf("apply %s seq %d (%s): %w", streamNames[si], seq, r.typ, err)
		}
		return ChangeNone, fmt.Errorf("apply %s seq %d (event %s, %s): %w", streamNames[si], seq, r.id, r.typ, err)
	}
	return change, nil
}

// stateKey returns the aggregate id of a STATE subject of kind agg.
func stateKey(subject, agg string) (string, error) {
	a, id, ok := events.ParseStateSubject(subject)
	if !ok || a != agg {
		return "", fmt.Errorf("%w: subject %q is not a %s subject", ErrInconsistent, subject, agg)
	}
	return id, nil
}

func (m *Model) applyAccount(subject string, r record) (Change, error) {
	username, err := stateKey(subject, events.AggregateAccount)
	if err != nil {
		return ChangeNone, err
	}
	s := m.accountShard(username)
	cur := s.m[username] // the writer reads without the lock
	next, err := foldAccount(cur, r)
	if err != nil {
		return ChangeNone, err
	}
	if next == cur {
		return ChangeNone, nil
	}
	if next != nil && next.Username != username {
		return ChangeNone, fmt.Errorf("%w: account %q on the subject of %q", ErrInconsistent, next.Username, username)
	}
	if cur == nil {
		if _, dead := m.deadUIDs[next.UID]; dead {
			// A reused UID would bring the deleted incarnation's tokens
			// back to life.
			return ChangeNone, fmt.Errorf("%w: account %q created with the uid of a deleted account", ErrInconsistent, username)
		}
	}
	s.mu.Lock()
	if next == nil {
		delete(s.m, username)
	} else {
		s.m[username] = next
	}
	s.mu.Unlock()
	switch {
	case cur == nil:
		m.nAccounts.Add(1)
	case next == nil:
		m.nAccounts.Add(-1)
		m.deadUIDs[cur.UID] = struct{}{}
	}
	return ChangeAccount, nil
}

func (m *Model) applyConstraint(subject string, r record) (Change, error) {
	id, err := stateKey(subject, events.AggregateConstraint)
	if err != nil {
		return ChangeNone, err
	}
	cur := m.constraints[id]
	next, err := foldConstraint(cur, r)
	if err != nil {
		return ChangeNone, err
	}
	if next == cur {
		return ChangeNone, nil
	}
	if next != nil && next.ID != id {
		return ChangeNone, fmt.Errorf("%w: constraint %q on the subject of %q", ErrInconsistent, next.ID, id)
	}
	m.cmu.Lock()
	if next == nil {
		delete(m.constraints, id)
	} else {
		m.constraints[id] = next
	}
	m.sorted.Store(nil)
	m.cmu.Unlock()
	switch {
	case cur == nil:
		m.nConstraints.Add(1)
	case next == nil:
		m.nConstraints.Add(-1)
	}
	return ChangeConstraint, nil
}

func (m *Model) applyRole(subject string, r record) (Change, error) {
	name, err := stateKey(subject, events.AggregateRole)
	if err != nil {
		return ChangeNone, err
	}
	cur := m.roles[name] // the writer reads without the lock
	next, err := foldRole(cur, r)
	if err != nil {
		return ChangeNone, err
	}
	if next == cur {
		return ChangeNone, nil
	}
	if next != nil && next.Name != name {
		return ChangeNone, fmt.Errorf("%w: role %q on the subject of %q", ErrInconsistent, next.Name, name)
	}
	m.rmu.Lock()
	if next == nil {
		delete(m.roles, name)
	} else {
		m.roles[name] = next
	}
	m.rmu.Unlock()
	return ChangeRole, nil
}

func (m *Model) applyAPIKey(subject string, r record) (Change, error) {
	id, err := stateKey(subject, events.AggregateAPIKey)
	if err != nil {
		return ChangeNone, err
	}
	cur := m.apiKeys[id] // the writer reads without the lock
	next, err := foldAPIKey(cur, r)
	if err != nil {
		return ChangeNone, err
	}
	if next == cur {
		return ChangeNone, nil
	}
	if next.ID != id {
		return ChangeNone, fmt.Errorf("%w: api key %q on the subject of %q", ErrInconsistent, next.ID, id)
	}
	m.kmu.Lock()
	m.apiKeys[id] = next
	m.kmu.Unlock()
	return ChangeAPIKey, nil
}

func (m *Model) applyToken(seq uint64, r record) (Change, error) {
	var hash [32]byte
	switch p := r.payload.(type) {
	case *tokenIssued:
		hash = p.Hash
	case *tokenRevoked:
		hash = p.hash
	}
	if seq <= m.floors[hash[0]&(shardCount-1)] {
		return ChangeNone, nil // in the snapshot the shard was loaded from
	}
	s := m.tokenShard(&hash)
	cur := s.m[hash]
	next, err := foldToken(cur, r)
	if err != nil {
		return ChangeNone, err
	}
	if next == cur {
		return ChangeNone, nil
	}
	if next != nil {
		m.intern(next)
	}
	s.mu.Lock()
	if next == nil {
		delete(s.m, hash)
	} else {
		s.m[hash] = next
	}
	s.mu.Unlock()
	switch {
	case cur == nil:
		m.nTokens.Add(1)
	case next == nil:
		m.nTokens.Add(-1)
	}
	return ChangeToken, nil
}

// intern points an unpublished token's strings at its account's, so that a
// million tokens of one user hold one copy of the username and UID
// (DESIGN: ≤ 300 bytes per token). A token whose account is not applied
// yet keeps its own copies until a sweep interns it.
func (m *Model) intern(t *Token) bool {
	a := m.accountShard(t.Username).m[t.Username]
	if a == nil || a.UID != t.AccountUID {
		return false
	}
	t.Username, t.AccountUID = a.Username, a.UID
	return true
}

func sameString(a, b string) bool {
	return len(a) == len(b) && unsafe.StringData(a) == unsafe.StringData(b)
}

// Sweep drops the tokens that can never resolve again and returns how many
// it dropped: expired ones (now >= ExpiresAt; pass now minus the allowed
// clock skew), ones issued before their account's current password (an
// older epoch) and ones of a deleted account incarnation. A token whose
// account is not known yet is kept (until it expires): TOKENS may be
// applied ahead of STATE. Sweep also interns the strings of tokens that
// were applied before their account. It is a write: call it from the
// writer.
func (m *Model) Sweep(now time.Time) int {
	n := 0
	for i := range m.tokens {
		n += m.sweepShard(i, now)
	}
	return n
}

// sweepShard sweeps one token shard, so that the Projector can interleave
// a sweep of millions of tokens with applying events.
func (m *Model) sweepShard(i int, now time.Time) int {
	s := &m.tokens[i]
	m.victims, m.renamed = m.victims[:0], m.renamed[:0]
	for h, t := range s.m { // the writer reads without the lock
		if m.dead(t, now) {
			m.victims = append(m.victims, h)
			continue
		}
		if a := m.accountShard(t.Username).m[t.Username]; a != nil && a.UID == t.AccountUID && !sameString(t.AccountUID, a.UID) {
			c := *t // published tokens are immutable: replace, never write
			c.Username, c.AccountUID = a.Username, a.UID
			m.renamed = append(m.renamed, &c)
		}
	}
	if len(m.victims) == 0 && len(m.renamed) == 0 {
		return 0
	}
	s.mu.Lock()
	for _, h := range m.victims {
		delete(s.m, h)
	}
	for _, t := range m.renamed {
		s.m[t.Hash] = t
	}
	s.mu.Unlock()
	m.nTokens.Add(-int64(len(m.victims)))
	clear(m.renamed) // drop the references until the next sweep
	return len(m.victims)
}

// SweepAPIKeys drops the API keys whose retention has passed at now and
// returns how many it dropped: an invalidated key retention after its
// invalidation, an expired one retention after its expiration plus skew
// (the allowed clock skew, while which a gateway still accepts it). This is Elasticsearch's
// xpack.security.authc.api_key.delete.retention_period: until then the
// get API key API still lists the key, afterwards it is gone, and
// authentication with it fails as with an unknown key. The key's STATE
// subject sequence goes with it: no command writes to a key it cannot
// find. It is a write: call it from the writer.
func (m *Model) SweepAPIKeys(now time.Time, retention, skew time.Duration) int {
	var gone []string
	for id, k := range m.apiKeys { // the writer reads without the lock
		if apiKeyRetired(k, now, retention, skew) {
			gone = append(gone, id)
		}
	}
	if len(gone) == 0 {
		return 0
	}
	m.kmu.Lock()
	for _, id := range gone {
		delete(m.apiKeys, id)
	}
	m.kmu.Unlock()
	m.smu.Lock()
	for _, id := range gone {
		delete(m.subjects, events.StateSubject(events.AggregateAPIKey, id))
	}
	m.smu.Unlock()
	return len(gone)
}

// apiKeyRetired tells whether k's retention has passed at now: it was
// invalidated at least retention before now, or it expired (with skew)
// at least that long before.
func apiKeyRetired(k *APIKey, now time.Time, retention, skew time.Duration) bool {
	cutoff := now.Add(-retention)
	switch {
	case k.Invalidated && !k.Invalidation.After(cutoff):
		return true
	case k.Expired(cutoff, skew):
		return true
	}
	return false
}

// dead tells whether t can never resolve again.
func (m *Model) dead(t *Token, now time.Time) bool {
	if !now.Before(t.ExpiresAt) {
		return true
	}
	if a := m.accountShard(t.Username).m[t.Username]; a != nil && a.UID == t.AccountUID {
		// Epochs only grow: an older one is revoked for good. A newer one
		// is a password change this replica has not applied yet.
		return t.Epoch < a.Epoch
	}
	_, deleted := m.deadUIDs[t.AccountUID]
	return deleted
}
