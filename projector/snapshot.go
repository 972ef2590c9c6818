package projector

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/portcullis/portcullis/events"
)

// A snapshot is the model at a point of both streams, so that a replica
// starts from it and replays only the events after it (DESIGN: snapshots
// bound start-up time).
//
// Taking one must not stop the projection: a revocation waits for the
// apply lock. So the snapshot copies pointers, never values (published
// values are immutable), and holds the apply lock in short turns: once
// for the STATE half (accounts, roles, constraints, API keys, subject
// sequences, dead UIDs: small), then once per token partition. Each
// partition records the TOKENS sequence it was copied at; a replica that
// loads the snapshot replays TOKENS from the lowest of them and skips, in
// each partition, the events its copy already holds. A token event only
// ever touches its own token, so the result is the model a full replay
// gives (TestSnapshotMatchesReplay).
//
// A snapshot holds what the model holds: password hashes (argon2id), API
// key secret hashes and token digests, never a secret.

// snapshotMeta is where a snapshot stands.
type snapshotMeta struct {
	// stateSeq is the last STATE sequence the snapshot holds.
	stateSeq uint64
	// stateCreated and tokensCreated identify the streams the snapshot was
	// taken from: a stream deleted and made again starts its sequences
	// over, and a snapshot of the old one must not be used.
	stateCreated, tokensCreated time.Time
	// tokensLow and tokensHigh are the lowest and the highest TOKENS
	// sequence a token partition was copied at: the snapshot holds every
	// TOKENS event up to tokensLow, some up to tokensHigh.
	tokensLow, tokensHigh uint64
	// taken is when the STATE half was copied.
	taken time.Time
}

// image is the model frozen for a snapshot: pointers to immutable values.
type image struct {
	meta        snapshotMeta
	accounts    []*Account
	roles       []*Role
	constraints []*Constraint
	apiKeys     []*APIKey
	subjects    []subjectSeq
	deadUIDs    []string
	tokens      [snapPartitions][]*Token
	floors      [snapPartitions]uint64 // TOKENS sequence each partition was copied at
	contexts    []*Context             // the search context bindings, copied with partition 0
	ctxFloor    uint64                 // TOKENS sequence they were copied at
}

type subjectSeq struct {
	subject string
	seq     uint64
}

// sizeImage allocates img's lists for the model's sizes now, and a margin,
// so that the freezes, which hold the apply lock, do not allocate (an
// allocation may have to help the garbage collector for milliseconds). Any
// goroutine: it takes the read locks.
func (m *Model) sizeImage(img *image) {
	margin := func(n int) int { return n + n/8 + 16 }
	img.accounts = make([]*Account, 0, margin(int(m.nAccounts.Load())))
	m.rmu.RLock()
	img.roles = make([]*Role, 0, margin(len(m.roles)))
	m.rmu.RUnlock()
	m.cmu.RLock()
	img.constraints = make([]*Constraint, 0, margin(len(m.constraints)))
	m.cmu.RUnlock()
	m.kmu.RLock()
	img.apiKeys = make([]*APIKey, 0, margin(len(m.apiKeys)))
	m.kmu.RUnlock()
	m.smu.RLock()
	img.subjects = make([]subjectSeq, 0, margin(len(m.subjects)))
	m.smu.RUnlock()
	for i := range m.tokens {
		s := &m.tokens[i]
		s.mu.RLock()
		n := len(s.m)
		s.mu.RUnlock()
		img.tokens[i] = make([]*Token, 0, margin(n))
	}
}

// freezeState copies the STATE half of the model into img's lists. Writer
// only (the apply lock is held).
func (m *Model) freezeState(img *image) {
	img.meta.stateSeq = m.applied[streamState].Load()
	for i := range m.accounts {
		for _, a := range m.accounts[i].m {
			img.accounts = append(img.accounts, a)
		}
	}
	for _, r := range m.roles {
		img.roles = append(img.roles, r)
	}
	for _, c := range m.constraints {
		img.constraints = append(img.constraints, c)
	}
	for _, k := range m.apiKeys {
		img.apiKeys = append(img.apiKeys, k)
	}
	for s, seq := range m.subjects {
		img.subjects = append(img.subjects, subjectSeq{s, seq})
	}
	for uid := range m.deadUIDs {
		img.deadUIDs = append(img.deadUIDs, uid)
	}
}

// freezeTokens copies token partition i into img's list. Writer only.
func (m *Model) freezeTokens(img *image, i int) {
	for _, t := range m.tokens[i].m {
		img.tokens[i] = append(img.tokens[i], t)
	}
	img.floors[i] = m.applied[streamTokens].Load()
	if i == 0 {
		// The context bindings (also TOKENS events) in the same turn.
		for j := range m.contexts {
			for _, c := range m.contexts[j].m {
				img.contexts = append(img.contexts, c)
			}
		}
		img.ctxFloor = img.floors[0]
	}
}

// sealTokens sets the meta's TOKENS range from the partitions' floors.
func (img *image) sealTokens() {
	img.meta.tokensLow, img.meta.tokensHigh = img.floors[0], img.floors[0]
	for _, f := range img.floors[1:] {
		img.meta.tokensLow, img.meta.tokensHigh = min(img.meta.tokensLow, f), max(img.meta.tokensHigh, f)
	}
}

// writeSnapshot encodes img to w.
func writeSnapshot(w io.Writer, img *image, flushAt int) (int64, error) {
	sw := newSnapWriter(w, flushAt)
	sw.section(secMeta, func(e *enc) {
		e.uvarint(img.meta.stateSeq)
		e.uvarint(img.meta.tokensLow)
		e.uvarint(img.meta.tokensHigh)
		e.time(img.meta.stateCreated)
		e.time(img.meta.tokensCreated)
		e.time(img.meta.taken)
		e.uvarint(snapPartitions)
	})
	sw.section(secAccounts, func(e *enc) {
		e.uvarint(uint64(len(img.accounts)))
		for _, a := range img.accounts {
			e.str(a.UID)
			e.str(a.Username)
			e.str(a.PasswordHash)
			e.strs(a.Roles)
			e.uvarint(a.Epoch)
			e.str(a.FullName)
			e.str(a.Email)
			e.bytes(a.Metadata)
			e.boolean(a.Disabled)
		}
	})
	sw.section(secRoles, func(e *enc) {
		e.uvarint(uint64(len(img.roles)))
		for _, r := range img.roles {
			encodeRole(e, r)
		}
	})
	sw.section(secConstraints, func(e *enc) {
		e.uvarint(uint64(len(img.constraints)))
		for _, c := range img.constraints {
			e.str(c.ID)
			e.strs(c.Paths)
			e.strs(c.Methods)
			e.strs(c.Roles)
		}
	})
	sw.section(secAPIKeys, func(e *enc) {
		e.uvarint(uint64(len(img.apiKeys)))
		for _, k := range img.apiKeys {
			e.str(k.ID)
			e.str(k.Name)
			e.str(k.Username)
			e.str(k.Realm)
			e.str(k.SecretHash)
			e.time(k.Creation)
			e.time(k.Expiration)
			e.boolean(k.Invalidated)
			e.time(k.Invalidation)
			e.bytes(k.RoleDescriptors)
			if k.Roles == nil {
				e.uvarint(0)
			} else {
				e.uvarint(uint64(len(k.Roles)) + 1)
				for i := range k.Roles {
					encodeRole(e, &k.Roles[i])
				}
			}
			e.bytes(k.Metadata)
		}
	})
	sw.section(secSubjects, func(e *enc) {
		e.uvarint(uint64(len(img.subjects)))
		for _, s := range img.subjects {
			e.str(s.subject)
			e.uvarint(s.seq)
		}
	})
	sw.section(secDeadUIDs, func(e *enc) {
		e.uvarint(uint64(len(img.deadUIDs)))
		for _, uid := range img.deadUIDs {
			e.str(uid)
		}
	})
	// Each partition's tokens in expiry order: the loader allocates them
	// in slabs of snapSlab, and a slab is freed once all its tokens are
	// gone, which is soon after they expire when they expire together.
	for i, l := range img.tokens {
		img.tokens[i] = byExpiry(l)
	}
	// The tokens of one account share its username and UID: each pair is
	// written once and tokens refer to it by index.
	type pair struct{ username, uid string }
	index := make(map[pair]uint64)
	var pairs []pair
	refs := make([][]uint64, snapPartitions)
	for i, l := range img.tokens {
		refs[i] = make([]uint64, len(l))
		for j, t := range l {
			k := pair{t.Username, t.AccountUID}
			n, ok := index[k]
			if !ok {
				n = uint64(len(pairs))
				index[k] = n
				pairs = append(pairs, k)
			}
			refs[i][j] = n
		}
	}
	sw.section(secTokenPairs, func(e *enc) {
		e.uvarint(uint64(len(pairs)))
		for _, p := range pairs {
			e.str(p.username)
			e.str(p.uid)
		}
	})
	var total uint64
	for i, l := range img.tokens {
		sw.section(secTokens, func(e *enc) {
			e.uvarint(uint64(i))
			e.uvarint(img.floors[i])
			e.uvarint(uint64(len(l)))
			for j, t := range l {
				e.b = append(e.b, t.Hash[:]...)
				e.uvarint(refs[i][j])
				e.uvarint(t.Epoch)
				e.time(t.ExpiresAt)
			}
		})
		total += uint64(len(l))
	}
	sw.section(secContexts, func(e *enc) {
		e.uvarint(img.ctxFloor)
		e.uvarint(uint64(len(img.contexts)))
		for _, c := range img.contexts {
			e.b = append(e.b, c.Hash[:]...)
			e.str(c.Kind)
			e.str(c.Owner.Username)
			e.str(c.Owner.RealmType)
			e.str(c.Owner.RealmName)
			e.str(c.Owner.APIKeyID)
			e.time(c.ExpiresAt)
		}
	})
	sw.section(secEnd, func(e *enc) {
		e.uvarint(uint64(len(img.accounts)))
		e.uvarint(total)
	})
	if err := sw.close(); err != nil {
		return sw.n, err
	}
	return sw.n, nil
}

// byExpiry returns l sorted by expiry, keys read once (each token is a
// pointer away).
func byExpiry(l []*Token) []*Token {
	type keyed struct {
		at int64
		t  *Token
	}
	k := make([]keyed, len(l))
	for i, t := range l {
		k[i] = keyed{t.ExpiresAt.UnixNano(), t}
	}
	slices.SortFunc(k, func(a, b keyed) int { return cmp.Compare(a.at, b.at) })
	out := make([]*Token, len(l))
	for i := range k {
		out[i] = k[i].t
	}
	return out
}

func encodeRole(e *enc, r *Role) {
	e.str(r.Name)
	e.strs(r.Cluster)
	if r.Indices == nil {
		e.uvarint(0)
	} else {
		e.uvarint(uint64(len(r.Indices)) + 1)
		for _, ip := range r.Indices {
			e.strs(ip.Names)
			e.strs(ip.Privileges)
			e.boolean(ip.AllowRestrictedIndices)
		}
	}
	e.bytes(r.Metadata)
}

func decodeRole(d *sdec) Role {
	r := Role{Name: d.str(), Cluster: d.strs()}
	if n := d.list(3); n >= 0 {
		r.Indices = make([]events.IndexPrivileges, n)
		for i := range r.Indices {
			r.Indices[i] = events.IndexPrivileges{Names: d.strs(), Privileges: d.strs(), AllowRestrictedIndices: d.boolean()}
		}
	}
	r.Metadata = d.bytes()
	return r
}

// loadSnapshot reads a snapshot into m, which must be empty and have no
// writer yet. check decides, from the meta section, whether the snapshot
// fits the streams before anything else is read. On any error m is left
// empty again.
func (m *Model) loadSnapshot(r io.Reader, check func(snapshotMeta) error) (meta snapshotMeta, err error) {
	defer func() {
		if err != nil {
			m.clear()
		}
	}()
	sr, err := newSnapReader(r)
	if err != nil {
		return meta, err
	}
	d, err := sr.expect(secMeta)
	if err != nil {
		return meta, err
	}
	meta.stateSeq, meta.tokensLow, meta.tokensHigh = d.uvarint(), d.uvarint(), d.uvarint()
	meta.stateCreated, meta.tokensCreated, meta.taken = d.time(), d.time(), d.time()
	if n := d.uvarint(); d.err == nil && n != snapPartitions {
		return meta, snapErr("%d token partitions, this build has %d", n, snapPartitions)
	}
	if err := d.done(); err != nil {
		return meta, err
	}
	if meta.tokensLow > meta.tokensHigh {
		return meta, snapErr("tokens sequences %d > %d", meta.tokensLow, meta.tokensHigh)
	}
	if err := check(meta); err != nil {
		return meta, err
	}

	if d, err = sr.expect(secAccounts); err != nil {
		return meta, err
	}
	nAccounts := d.count(9)
	for range nAccounts {
		a := &Account{UID: d.str(), Username: d.str(), PasswordHash: d.str(), Roles: d.strs(), Epoch: d.uvarint(),
			FullName: d.str(), Email: d.str(), Metadata: d.bytes(), Disabled: d.boolean()}
		if d.err != nil {
			break
		}
		s := m.accountShard(a.Username)
		if _, dup := s.m[a.Username]; dup || a.UID == "" {
			return meta, snapErr("account %q twice or without uid", a.Username)
		}
		s.mu.Lock()
		s.m[a.Username] = a
		s.mu.Unlock()
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	if d, err = sr.expect(secRoles); err != nil {
		return meta, err
	}
	roles := make(map[string]*Role)
	for range d.count(4) {
		r := decodeRole(d)
		roles[r.Name] = &r
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	if d, err = sr.expect(secConstraints); err != nil {
		return meta, err
	}
	constraints := make(map[string]*Constraint)
	for range d.count(4) {
		c := &Constraint{ID: d.str(), Paths: d.strs(), Methods: d.strs(), Roles: d.strs()}
		constraints[c.ID] = c
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	if d, err = sr.expect(secAPIKeys); err != nil {
		return meta, err
	}
	keys := make(map[string]*APIKey)
	for range d.count(12) {
		k := &APIKey{ID: d.str(), Name: d.str(), Username: d.str(), Realm: d.str(), SecretHash: d.str(),
			Creation: d.time(), Expiration: d.time(), Invalidated: d.boolean(), Invalidation: d.time(),
			RoleDescriptors: d.bytes()}
		if n := d.list(4); n >= 0 {
			k.Roles = make([]Role, n)
			for i := range k.Roles {
				k.Roles[i] = decodeRole(d)
			}
		}
		k.Metadata = d.bytes()
		keys[k.ID] = k
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	if d, err = sr.expect(secSubjects); err != nil {
		return meta, err
	}
	n := d.count(2)
	subjects := make(map[string]uint64, n)
	for range n {
		s := d.str()
		subjects[s] = d.uvarint()
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	if d, err = sr.expect(secDeadUIDs); err != nil {
		return meta, err
	}
	n = d.count(1)
	dead := make(map[string]struct{}, n)
	for range n {
		dead[d.str()] = struct{}{}
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	// Token pairs share the strings of their account when it is this
	// incarnation, as a replay would (Model.intern).
	if d, err = sr.expect(secTokenPairs); err != nil {
		return meta, err
	}
	type pair struct{ username, uid string }
	pairs := make([]pair, d.count(2))
	for i := range pairs {
		ub, idb := d.strBytes(), d.strBytes()
		if a := m.accountShard(string(ub)).m[string(ub)]; a != nil && a.UID == string(idb) {
			pairs[i] = pair{a.Username, a.UID}
		} else {
			pairs[i] = pair{string(ub), string(idb)}
		}
	}
	if err := d.done(); err != nil {
		return meta, err
	}

	var floors [snapPartitions]uint64
	var nTokens uint64
	for i := range snapPartitions {
		if d, err = sr.expect(secTokens); err != nil {
			return meta, err
		}
		if p := d.uvarint(); d.err == nil && p != uint64(i) {
			return meta, snapErr("token partition %d where %d was expected", p, i)
		}
		floors[i] = d.uvarint()
		if d.err == nil && (floors[i] < meta.tokensLow || floors[i] > meta.tokensHigh) {
			return meta, snapErr("token partition %d at seq %d, outside %d..%d", i, floors[i], meta.tokensLow, meta.tokensHigh)
		}
		n := d.count(32 + 5)
		s := &m.tokens[i]
		if len(s.m) == 0 {
			s.m = make(map[[32]byte]*Token, n)
		}
		// One allocation per snapSlab tokens instead of one each: a fifth
		// faster. The snapshot holds them in expiry order, so a slab's
		// tokens expire together and it does not outlive them by much.
		var slab []Token
		s.mu.Lock()
		for j := range n {
			if j%snapSlab == 0 {
				slab = make([]Token, min(snapSlab, n-j))
			}
			t := &slab[j%snapSlab]
			t.Hash = d.hash()
			ref := d.uvarint()
			t.Epoch = d.uvarint()
			t.ExpiresAt = d.time()
			if d.err != nil {
				break
			}
			if ref >= uint64(len(pairs)) || int(t.Hash[0]&(shardCount-1)) != i || t.ExpiresAt.IsZero() {
				d.fail("bad token")
				break
			}
			t.Username, t.AccountUID = pairs[ref].username, pairs[ref].uid
			s.m[t.Hash] = t
		}
		s.mu.Unlock()
		if err := d.done(); err != nil {
			return meta, err
		}
		if len(s.m) != n {
			return meta, snapErr("token partition %d: duplicate tokens", i)
		}
		nTokens += uint64(n)
	}

	if d, err = sr.expect(secContexts); err != nil {
		return meta, err
	}
	ctxFloor := d.uvarint()
	if d.err == nil && (ctxFloor < meta.tokensLow || ctxFloor > meta.tokensHigh) {
		return meta, snapErr("context bindings at seq %d, outside %d..%d", ctxFloor, meta.tokensLow, meta.tokensHigh)
	}
	for range d.count(32 + 6) {
		c := &Context{Hash: d.hash(), Kind: d.str()}
		c.Owner = events.ContextOwner{Username: d.str(), RealmType: d.str(), RealmName: d.str(), APIKeyID: d.str()}
		c.ExpiresAt = d.time()
		if d.err != nil {
			break
		}
		if err := m.loadContext(c); err != nil {
			d.fail(err.Error())
			break
		}
	}
	if err := d.done(); err != nil {
		return meta, err
	}
	m.ctxFloor = ctxFloor

	if d, err = sr.expect(secEnd); err != nil {
		return meta, err
	}
	if a, t := d.uvarint(), d.uvarint(); d.err == nil && (a != uint64(nAccounts) || t != nTokens) {
		return meta, snapErr("end counts %d accounts, %d tokens; read %d, %d", a, t, nAccounts, nTokens)
	}
	if err := d.done(); err != nil {
		return meta, err
	}
	// Anything after the end section is not ours; the reader's own
	// check (the object store's digest) runs at its end.
	var extra [1]byte
	if k, err := io.ReadFull(r, extra[:]); k != 0 {
		return meta, snapErr("bytes after the end section")
	} else if err != io.EOF {
		return meta, snapErr("after the end section: %v", err)
	}

	m.rmu.Lock()
	m.roles = roles
	m.rmu.Unlock()
	m.cmu.Lock()
	m.constraints = constraints
	m.sorted.Store(nil)
	m.cmu.Unlock()
	m.kmu.Lock()
	m.apiKeys = keys
	m.kmu.Unlock()
	m.smu.Lock()
	m.subjects = subjects
	m.smu.Unlock()
	m.deadUIDs = dead
	m.floors = floors
	m.nAccounts.Store(int64(nAccounts))
	m.nConstraints.Store(int64(len(constraints)))
	m.nTokens.Store(int64(nTokens))
	m.applied[streamState].Store(meta.stateSeq)
	m.applied[streamTokens].Store(meta.tokensLow)
	return meta, nil
}

// clear empties the model. Only before its writer starts.
func (m *Model) clear() {
	for i := range m.accounts {
		s := &m.accounts[i]
		s.mu.Lock()
		s.m = make(map[string]*Account)
		s.mu.Unlock()
	}
	for i := range m.tokens {
		s := &m.tokens[i]
		s.mu.Lock()
		s.m = make(map[[32]byte]*Token)
		s.mu.Unlock()
	}
	m.cmu.Lock()
	m.constraints = make(map[string]*Constraint)
	m.sorted.Store(nil)
	m.cmu.Unlock()
	m.rmu.Lock()
	m.roles = make(map[string]*Role)
	m.rmu.Unlock()
	m.kmu.Lock()
	m.apiKeys = make(map[string]*APIKey)
	m.kmu.Unlock()
	m.smu.Lock()
	m.subjects = make(map[string]uint64)
	m.smu.Unlock()
	m.deadUIDs = make(map[string]struct{})
	m.floors = [snapPartitions]uint64{}
	m.ctxFloor = 0
	for i := range m.contexts {
		s := &m.contexts[i]
		s.mu.Lock()
		s.m = make(map[[32]byte]*Context)
		s.mu.Unlock()
	}
	m.ctx.nodes = make(map[[32]byte]*contextNode)
	m.ctx.byOwner = make(map[events.ContextOwner]int)
	m.ctx.heap = nil
	for i := range m.applied {
		m.applied[i].Store(0)
	}
	m.nAccounts.Store(0)
	m.nConstraints.Store(0)
	m.nTokens.Store(0)
}

// String names a snapshot's position for log lines.
func (sm snapshotMeta) String() string {
	return fmt.Sprintf("state seq %d, tokens seq %d..%d, taken %s", sm.stateSeq, sm.tokensLow, sm.tokensHigh, sm.taken.Format(time.RFC3339))
}
