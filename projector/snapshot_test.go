package projector

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

// logEvent is one event of a generated log, with the stream it is on.
type logEvent struct {
	stream  string
	subject string
	ev      events.Event
	seq     uint64
}

// logGen makes random event logs that look like a gateway's: accounts
// created, changed, deleted and created again; roles, constraints and API
// keys; tokens issued (also for unknown users and old epochs) and
// revoked; and some events that do not fit (skipped by the model) or of
// unknown types.
type logGen struct {
	tb       testing.TB
	r        *rand.Rand
	now      time.Time
	seq      map[string]uint64
	accounts map[string]string // live username → uid
	names    []string
	roles    []string
	cons     []string
	keys     []string
	tokens   []string
	n        int
}

func newLogGen(tb testing.TB, seed uint64) *logGen {
	return &logGen{tb: tb, r: rand.New(rand.NewPCG(seed, 7)), now: t0, seq: map[string]uint64{},
		accounts: map[string]string{}, names: []string{"alice", "bob", "carol", "dave", "erin", "frank"}}
}

func (g *logGen) fresh(prefix string) string {
	g.n++
	return fmt.Sprintf("%s-%d", prefix, g.n)
}

func (g *logGen) pick(l []string) string { return l[g.r.IntN(len(l))] }

func (g *logGen) ev(typ, subject string, data any) events.Event {
	ev, err := events.New("gen", typ, subject, g.now, data)
	if err != nil {
		g.tb.Fatal(err)
	}
	return ev
}

// next returns the next event of the log.
func (g *logGen) next() logEvent {
	g.now = g.now.Add(time.Duration(g.r.IntN(1000)) * time.Millisecond)
	state := func(subject string, ev events.Event) logEvent {
		g.seq[events.StreamState]++
		return logEvent{stream: events.StreamState, subject: subject, ev: ev, seq: g.seq[events.StreamState]}
	}
	token := func(ev events.Event) logEvent {
		g.seq[events.StreamTokens]++
		return logEvent{stream: events.StreamTokens, subject: events.TokensSubject(ev.Type), ev: ev, seq: g.seq[events.StreamTokens]}
	}
	name := g.pick(g.names)
	uid, live := g.accounts[name]
	switch k := g.r.IntN(100); {
	case k < 12: // create (or a create over a live account: skipped)
		if !live || g.r.IntN(8) == 0 {
			uid = g.fresh("uid")
			if !live {
				g.accounts[name] = uid
			}
		}
		return state(accountSubject(name), g.ev(events.TypeAccountCreated, name, events.AccountCreated{
			UID: uid, Username: name, PasswordHash: "$argon2id$" + g.fresh("h"), Roles: randStrings(g.r),
			FullName: randString(g.r), Email: randString(g.r), Disabled: g.r.IntN(5) == 0,
			Metadata: []byte(`{"n":` + fmt.Sprint(g.r.IntN(9)) + `}`)}))
	case k < 22: // update: password, roles, enabled
		if !live {
			uid = "nobody"
		}
		p := events.AccountUpdated{UID: uid, Username: name}
		if g.r.IntN(2) == 0 {
			h := "$argon2id$" + g.fresh("h")
			p.PasswordHash = &h
		}
		if g.r.IntN(2) == 0 {
			roles := randStrings(g.r)
			p.Roles = &roles
		}
		if g.r.IntN(3) == 0 {
			e := g.r.IntN(2) == 0
			p.Enabled = &e
		}
		return state(accountSubject(name), g.ev(events.TypeAccountUpdated, name, p))
	case k < 26: // delete
		if live {
			delete(g.accounts, name)
		} else {
			uid = "nobody"
		}
		return state(accountSubject(name), g.ev(events.TypeAccountDeleted, name, events.AccountDeleted{UID: uid, Username: name}))
	case k < 30:
		role := g.fresh("role")
		if len(g.roles) > 0 && g.r.IntN(2) == 0 {
			role = g.pick(g.roles)
		}
		if g.r.IntN(4) == 0 {
			return state(roleSubject(role), g.ev(events.TypeRoleDeleted, role, events.RoleDeleted{Name: role}))
		}
		g.roles = append(g.roles, role)
		return state(roleSubject(role), g.ev(events.TypeRolePut, role, events.RolePut{Name: role, Cluster: randStrings(g.r),
			Indices: []events.IndexPrivileges{{Names: randStrings(g.r), Privileges: []string{"read"}, AllowRestrictedIndices: g.r.IntN(2) == 0}}}))
	case k < 33:
		id := g.fresh("c")
		if len(g.cons) > 0 && g.r.IntN(2) == 0 {
			id = g.pick(g.cons)
			return state(constraintSubject(id), g.ev(events.TypeConstraintDeleted, id, events.ConstraintDeleted{ID: id}))
		}
		g.cons = append(g.cons, id)
		return state(constraintSubject(id), g.ev(events.TypeConstraintCreated, id, events.ConstraintCreated{
			ID: id, Paths: randStrings(g.r), Methods: []string{"GET"}, Roles: randStrings(g.r)}))
	case k < 38:
		if len(g.keys) > 0 && g.r.IntN(3) == 0 {
			id := g.pick(g.keys)
			return state(apiKeySubject(id), g.ev(events.TypeAPIKeyInvalidated, id, events.APIKeyInvalidated{ID: id, Time: g.now}))
		}
		id := g.fresh("key")
		g.keys = append(g.keys, id)
		p := events.APIKeyCreated{ID: id, Name: randString(g.r), Username: name, Realm: "default_native",
			SecretHash: "sha256$s$" + id, Creation: g.now}
		if g.r.IntN(2) == 0 {
			p.Expiration = g.now.Add(time.Hour)
		}
		if g.r.IntN(2) == 0 {
			p.RoleDescriptors = []byte(`{"r1":{"cluster":["monitor"],"indices":[{"names":["a-*"],"privileges":["read"]}]},"r0":{}}`)
		}
		return state(apiKeySubject(id), g.ev(events.TypeAPIKeyCreated, id, p))
	case k < 39:
		return state(accountSubject(name), g.ev("portcullis.account.renamed.v9", name, map[string]string{"x": "y"}))
	case k < 78:
		tok := g.fresh("tok")
		g.tokens = append(g.tokens, tok)
		if !live {
			uid = g.fresh("uid") // a token ahead of its account, or of a dead one
		}
		epoch := uint64(1 + g.r.IntN(2))
		return token(g.ev(events.TypeTokenIssued, tokenHex(tok), events.TokenIssued{TokenHash: tokenHex(tok),
			Username: name, AccountUID: uid, Epoch: epoch, IssuedAt: g.now, ExpiresAt: g.now.Add(time.Duration(1+g.r.IntN(3600)) * time.Second)}))
	default:
		tok := g.fresh("tok")
		if len(g.tokens) > 0 && g.r.IntN(4) != 0 {
			tok = g.pick(g.tokens)
		}
		return token(g.ev(events.TypeTokenRevoked, tokenHex(tok), events.TokenRevoked{TokenHash: tokenHex(tok), Reason: "logout"}))
	}
}

func (g *logGen) log(n int) []logEvent {
	out := make([]logEvent, n)
	for i := range out {
		out[i] = g.next()
	}
	return out
}

// applyLog applies log to m and returns each event's outcome: its change,
// or the error that made the model skip it.
func applyLog(tb testing.TB, m *Model, log []logEvent) []string {
	tb.Helper()
	out := make([]string, len(log))
	for i, e := range log {
		// Events that do not fit are skipped, as the projector does.
		ch, err := m.Apply(e.stream, e.seq, e.subject, e.ev)
		if err != nil && !errors.Is(err, ErrInconsistent) && !errors.Is(err, ErrMalformed) {
			tb.Fatal(err)
		}
		out[i] = fmt.Sprintf("%s %d %v %v", e.stream, e.seq, ch, err)
	}
	return out
}

// dumpModel renders everything a model holds, sorted, for comparing two.
func dumpModel(m *Model) string {
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "zero"
		}
		return fmt.Sprint(t.UnixNano())
	}
	add("0 applied %d %d", m.applied[streamState].Load(), m.applied[streamTokens].Load())
	a, c, t := m.Counts()
	add("0 counts %d %d %d", a, c, t)
	for _, acc := range m.Accounts() {
		add("1 account %q %q %q %#v %d %q %q %#v %v", acc.UID, acc.Username, acc.PasswordHash, acc.Roles, acc.Epoch,
			acc.FullName, acc.Email, acc.Metadata, acc.Disabled)
	}
	for i := range m.tokens {
		for _, tok := range m.tokens[i].m {
			add("2 token %s %q %q %d %s", hex.EncodeToString(tok.Hash[:]), tok.Username, tok.AccountUID, tok.Epoch, ts(tok.ExpiresAt))
		}
	}
	for _, r := range m.Roles() {
		add("3 role %#v", *r)
	}
	for _, c := range m.Constraints() {
		add("4 constraint %#v", c)
	}
	for _, k := range m.APIKeys() {
		add("5 key %q %q %q %q %q %s %s %v %s %#v %#v %#v", k.ID, k.Name, k.Username, k.Realm, k.SecretHash,
			ts(k.Creation), ts(k.Expiration), k.Invalidated, ts(k.Invalidation), k.RoleDescriptors, k.Roles, k.Metadata)
	}
	for s, seq := range m.subjects {
		add("6 subject %s %d", s, seq)
	}
	for uid := range m.deadUIDs {
		add("7 dead %s", uid)
	}
	for i := range m.contexts {
		for _, c := range m.contexts[i].m {
			add("8 context %s %s %+v %s", hex.EncodeToString(c.Hash[:]), c.Kind, c.Owner, ts(c.ExpiresAt))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

func diffDumps(tb testing.TB, want, got string) {
	tb.Helper()
	if want == got {
		return
	}
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range min(len(w), len(g)) {
		if w[i] != g[i] {
			tb.Fatalf("models differ at line %d:\n want %s\n  got %s", i, w[i], g[i])
		}
	}
	tb.Fatalf("models differ: %d lines, want %d", len(g), len(w))
}

func noCheck(snapshotMeta) error { return nil }

// TestSnapshotMatchesReplay is the property that makes snapshots safe:
// over random logs, a model loaded from a snapshot and fed the whole log
// again (the model skips what the snapshot holds) equals the model of a
// full replay. The snapshot is taken as the projector takes it: the STATE
// half at one point, then the token partitions one at a time while events
// go on being applied in between.
func TestSnapshotMatchesReplay(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newLogGen(t, seed)
			log := g.log(50 + g.r.IntN(400))
			full := NewModel()
			img := &image{meta: snapshotMeta{taken: t0}}
			freezeAt := g.r.IntN(len(log) + 1)
			order := g.r.Perm(snapPartitions)
			frozen := 0
			var outcomes []string
			for i := 0; i <= len(log); i++ {
				if i == freezeAt {
					full.freezeState(img)
				}
				for i >= freezeAt && frozen < snapPartitions && (i == len(log) || g.r.IntN(3) == 0) {
					full.freezeTokens(img, order[frozen])
					frozen++
				}
				if i < len(log) {
					outcomes = append(outcomes, applyLog(t, full, log[i:i+1])...)
				}
			}
			img.sealTokens()
			var buf bytes.Buffer
			if _, err := writeSnapshot(&buf, img, 512); err != nil {
				t.Fatal(err)
			}
			loaded := NewModel()
			meta, err := loaded.loadSnapshot(&buf, noCheck)
			if err != nil {
				t.Fatal(err)
			}
			if meta.stateSeq != img.meta.stateSeq || meta.tokensLow != img.meta.tokensLow || meta.tokensHigh != img.meta.tokensHigh {
				t.Fatalf("meta %+v, wrote %+v", meta, img.meta)
			}
			// Each event the snapshot holds is skipped without a word;
			// each one after it does what it did in the full replay.
			got := applyLog(t, loaded, log)
			for i, e := range log {
				held := e.seq <= img.meta.stateSeq
				if e.stream == events.StreamTokens {
					held = e.seq <= img.floors[tokenPartition(e.ev)]
				}
				want := outcomes[i]
				if held {
					want = fmt.Sprintf("%s %d %v %v", e.stream, e.seq, ChangeNone, nil)
				}
				if got[i] != want {
					t.Fatalf("event %d (%s): %s, want %s", i, e.ev.Type, got[i], want)
				}
			}
			diffDumps(t, dumpModel(full), dumpModel(loaded))
		})
	}
}

// tokenPartition is the partition of a token event's hash.
func tokenPartition(ev events.Event) int {
	b, err := hex.DecodeString(ev.Subject)
	if err != nil || len(b) == 0 {
		panic("token event without a hash subject")
	}
	return int(b[0] & (snapPartitions - 1))
}

// TestSnapshotRoundTrip: a snapshot of a model loads back into the same
// model, token strings shared with their accounts as a replay shares them.
func TestSnapshotRoundTrip(t *testing.T) {
	g := newLogGen(t, 99)
	m := NewModel()
	_ = applyLog(t, m, g.log(800))
	img := snapshotOf(m)
	var buf bytes.Buffer
	if _, err := writeSnapshot(&buf, img, 1<<20); err != nil {
		t.Fatal(err)
	}
	loaded := NewModel()
	if _, err := loaded.loadSnapshot(&buf, noCheck); err != nil {
		t.Fatal(err)
	}
	diffDumps(t, dumpModel(m), dumpModel(loaded))
	shared := 0
	for i := range loaded.tokens {
		for _, tok := range loaded.tokens[i].m {
			if a, ok := loaded.Account(tok.Username); ok && a.UID == tok.AccountUID {
				if !sameString(a.UID, tok.AccountUID) || !sameString(a.Username, tok.Username) {
					t.Fatalf("token of %s does not share its account's strings", tok.Username)
				}
				shared++
			}
		}
	}
	if shared == 0 {
		t.Fatal("no token of a live account in the generated log")
	}
}

// snapshotOf freezes the whole model at once.
func snapshotOf(m *Model) *image {
	img := &image{meta: snapshotMeta{taken: t0, stateCreated: t0, tokensCreated: t0.Add(time.Second)}}
	m.freezeState(img)
	for i := range snapPartitions {
		m.freezeTokens(img, i)
	}
	img.sealTokens()
	return img
}

func encodedSnapshot(tb testing.TB, seed uint64, n int) []byte {
	g := newLogGen(tb, seed)
	m := NewModel()
	_ = applyLog(tb, m, g.log(n))
	var buf bytes.Buffer
	if _, err := writeSnapshot(&buf, snapshotOf(m), 1<<20); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func requireEmpty(tb testing.TB, m *Model) {
	tb.Helper()
	if a, c, t := m.Counts(); a+c+t != 0 || m.Applied(events.StreamState) != 0 || m.Applied(events.StreamTokens) != 0 ||
		len(m.Roles()) != 0 || len(m.APIKeys()) != 0 || len(m.subjects) != 0 || len(m.deadUIDs) != 0 || m.floors != [snapPartitions]uint64{} {
		tb.Fatalf("model not empty after a failed load: %s", dumpModel(m))
	}
	for i := range m.tokens {
		if len(m.tokens[i].m) != 0 || len(m.accounts[i].m) != 0 {
			tb.Fatal("maps not empty after a failed load")
		}
	}
}

// TestSnapshotCorruption: every single-bit flip and every truncation of a
// snapshot is refused, and leaves the model empty (the projector then
// replays the streams).
func TestSnapshotCorruption(t *testing.T) {
	good := encodedSnapshot(t, 5, 120)
	for i := range len(good) {
		for _, bit := range []byte{0x01, 0x80} {
			b := bytes.Clone(good)
			b[i] ^= bit
			m := NewModel()
			if _, err := m.loadSnapshot(bytes.NewReader(b), noCheck); !errors.Is(err, errSnapshot) {
				t.Fatalf("bit %#x of byte %d flipped: %v", bit, i, err)
			}
			requireEmpty(t, m)
		}
	}
	for n := range len(good) {
		m := NewModel()
		if _, err := m.loadSnapshot(bytes.NewReader(good[:n]), noCheck); !errors.Is(err, errSnapshot) {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
		requireEmpty(t, m)
	}
	m := NewModel()
	if _, err := m.loadSnapshot(bytes.NewReader(append(bytes.Clone(good), 0)), noCheck); !errors.Is(err, errSnapshot) {
		t.Fatalf("a byte after the end: %v", err)
	}
	requireEmpty(t, m)
}

func TestSnapshotRefusals(t *testing.T) {
	good := encodedSnapshot(t, 6, 100)
	future := bytes.Clone(good)
	binary.LittleEndian.PutUint16(future[len(snapMagic):], snapVersion+1)
	tests := []struct {
		name  string
		b     []byte
		check func(snapshotMeta) error
		want  string
	}{
		{"empty", nil, noCheck, "header"},
		{"not a snapshot", []byte("{\"json\": true}"), noCheck, "not a snapshot"},
		{"newer format", future, noCheck, fmt.Sprintf("format version %d", snapVersion+1)},
		{"check refuses", good, func(snapshotMeta) error { return snapErr("other streams") }, "other streams"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewModel()
			_, err := m.loadSnapshot(bytes.NewReader(tt.b), tt.check)
			if !errors.Is(err, errSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			requireEmpty(t, m)
		})
	}
}

func TestFits(t *testing.T) {
	created := t0.Add(-time.Hour)
	pos := [numStreams]position{
		{last: 100, first: 1, msgs: 100, end: 100, created: created},
		{last: 500, first: 300, msgs: 200, end: 500, created: created.Add(time.Second)},
	}
	ok := snapshotMeta{stateSeq: 90, tokensLow: 200, tokensHigh: 260, stateCreated: created, tokensCreated: created.Add(time.Second)}
	tests := []struct {
		name string
		edit func(*snapshotMeta)
		want string // "" fits
	}{
		{"fits", func(*snapshotMeta) {}, ""},
		{"tokens aged out after the snapshot", func(m *snapshotMeta) { m.tokensLow, m.tokensHigh = 10, 20 }, ""},
		{"at the end of both", func(m *snapshotMeta) { m.stateSeq, m.tokensLow, m.tokensHigh = 100, 500, 500 }, ""},
		{"state stream made again", func(m *snapshotMeta) { m.stateCreated = created.Add(time.Minute) }, "other streams"},
		{"tokens stream made again", func(m *snapshotMeta) { m.tokensCreated = created }, "other streams"},
		{"ahead of STATE", func(m *snapshotMeta) { m.stateSeq = 101 }, "STATE seq 101"},
		{"ahead of TOKENS", func(m *snapshotMeta) { m.tokensHigh = 501 }, "TOKENS seq 501"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := ok
			tt.edit(&m)
			err := fits(m, pos)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, errSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	purged := pos
	purged[streamState].first = 95
	if err := fits(ok, purged); !errors.Is(err, errSnapshot) {
		t.Fatalf("STATE events missing after the snapshot: %v", err)
	}
}

func TestCovers(t *testing.T) {
	meta := snapshotMeta{stateSeq: 10, tokensLow: 20}
	md := func(format, state, tokens string) map[string]string {
		return map[string]string{metaFormat: format, metaStateSeq: state, metaTokensLow: tokens}
	}
	v := fmt.Sprint(snapVersion)
	tests := []struct {
		md   map[string]string
		want bool
	}{
		{md(v, "10", "20"), true},
		{md(v, "11", "25"), true},
		{md(v, "9", "25"), false},
		{md(v, "11", "19"), false},
		{md(fmt.Sprint(snapVersion+1), "11", "25"), false},
		{md(v, "x", "25"), false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := covers(tt.md, meta); got != tt.want {
			t.Errorf("covers(%v) = %v", tt.md, got)
		}
	}
}

// reframe turns fuzz input into a snapshot whose sections carry valid
// checksums, so that the fuzzer reaches the section decoders: the input is
// the header, then sections of kind, length and payload, without CRC.
func reframe(b []byte) []byte {
	head := len(snapMagic) + 2
	if len(b) < head {
		return b
	}
	out := bytes.Clone(b[:head])
	for rest := b[head:]; len(rest) >= 5; {
		n := int(binary.LittleEndian.Uint32(rest[1:5]))
		if n > len(rest)-5 {
			n = len(rest) - 5
		}
		sec := make([]byte, 5, 9+n)
		sec[0] = rest[0]
		binary.LittleEndian.PutUint32(sec[1:], uint32(n))
		sec = append(sec, rest[5:5+n]...)
		sec = binary.LittleEndian.AppendUint32(sec, crc32.Checksum(sec, crcTable))
		out = append(out, sec...)
		rest = rest[5+n:]
	}
	return out
}

// unframe strips the checksums of a valid snapshot: a seed for reframe.
func unframe(b []byte) []byte {
	head := len(snapMagic) + 2
	out := bytes.Clone(b[:head])
	for rest := b[head:]; len(rest) >= 9; {
		n := int(binary.LittleEndian.Uint32(rest[1:5]))
		out = append(out, rest[:5+n]...)
		rest = rest[9+n:]
	}
	return out
}

// FuzzLoadSnapshot feeds the loader arbitrary sections: it must never
// panic, and a refused snapshot leaves the model empty.
func FuzzLoadSnapshot(f *testing.F) {
	for seed := range uint64(4) {
		f.Add(unframe(encodedSnapshot(f, seed, 60)))
	}
	f.Add([]byte(snapMagic + "\x01\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := NewModel()
		if _, err := m.loadSnapshot(bytes.NewReader(reframe(b)), noCheck); err != nil {
			if !errors.Is(err, errSnapshot) {
				t.Fatalf("error not marked unusable: %v", err)
			}
			requireEmpty(t, m)
			return
		}
		a, _, tokens := m.Counts()
		na, nt := 0, 0
		for i := range m.tokens {
			na += len(m.accounts[i].m)
			nt += len(m.tokens[i].m)
		}
		if a != na || tokens != nt {
			t.Fatalf("counts %d %d, maps hold %d %d", a, tokens, na, nt)
		}
	})
}

// TestSnapshotContexts: the search context bindings travel in the
// snapshot; context events the snapshot holds are skipped on the tail, and
// the later ones (a close, a renewal, a new binding) apply, so the loaded
// model equals the full replay's.
func TestSnapshotContexts(t *testing.T) {
	keyOwner := events.ContextOwner{Username: "carol", RealmType: "_es_api_key", APIKeyID: "k1"}
	ldapOwner := events.ContextOwner{Username: "dave", RealmType: "ldap", RealmName: "ldap1"}
	before := []events.Event{
		ctxOpened(t, "A", events.ContextScroll, ownerA, t0, t0.Add(time.Hour)),
		ctxOpened(t, "B", events.ContextPIT, keyOwner, t0, t0.Add(time.Hour)),
		ctxOpened(t, "C", events.ContextAsync, ldapOwner, t0, t0.Add(time.Hour)),
		ctxClosed(t, "B", keyOwner),
	}
	after := []events.Event{
		ctxOpened(t, "D", events.ContextScroll, ownerA, t0.Add(time.Minute), t0.Add(2*time.Hour)),
		ctxClosed(t, "A", ownerA),
		ctxOpened(t, "C", events.ContextAsync, ldapOwner, t0.Add(time.Minute), t0.Add(3*time.Hour)), // renewal
	}
	var log []logEvent
	for i, ev := range append(append([]events.Event{}, before...), after...) {
		log = append(log, logEvent{stream: events.StreamTokens, seq: uint64(i + 1), subject: events.TokensSubject(ev.Type), ev: ev})
	}
	full := NewModel()
	applyLog(t, full, log[:len(before)])
	img := &image{meta: snapshotMeta{taken: t0}}
	full.freezeState(img)
	for i := range snapPartitions {
		full.freezeTokens(img, i)
	}
	img.sealTokens()
	applyLog(t, full, log[len(before):])

	var buf bytes.Buffer
	if _, err := writeSnapshot(&buf, img, 512); err != nil {
		t.Fatal(err)
	}
	loaded := NewModel()
	if _, err := loaded.loadSnapshot(bytes.NewReader(buf.Bytes()), noCheck); err != nil {
		t.Fatal(err)
	}
	if n := loaded.Contexts(); n != 2 {
		t.Fatalf("snapshot holds %d bindings, want 2 (A and C)", n)
	}
	got := applyLog(t, loaded, log)
	for i := range before {
		if want := fmt.Sprintf("%s %d %v %v", events.StreamTokens, i+1, ChangeNone, nil); got[i] != want {
			t.Fatalf("event %d held by the snapshot: %s, want %s", i, got[i], want)
		}
	}
	diffDumps(t, dumpModel(full), dumpModel(loaded))
	for id, want := range map[string]bool{"A": false, "B": false, "C": true, "D": true} {
		if _, ok := loaded.Context(ctxHash(id), t0.Add(30*time.Minute)); ok != want {
			t.Errorf("binding %s after snapshot and tail: %v, want %v", id, ok, want)
		}
	}
	if c, _ := loaded.Context(ctxHash("C"), t0); !c.ExpiresAt.Equal(t0.Add(3*time.Hour)) || c.Owner != ldapOwner {
		t.Errorf("renewed binding C: %+v", c)
	}

	// A binding that does not hold is refused with the snapshot.
	bad := NewModel()
	img.contexts = append(img.contexts, &Context{Hash: ctxHash("E"), Kind: "cursor", Owner: ownerA, ExpiresAt: t0.Add(time.Hour)})
	buf.Reset()
	if _, err := writeSnapshot(&buf, img, 512); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.loadSnapshot(&buf, noCheck); !errors.Is(err, errSnapshot) || bad.Contexts() != 0 {
		t.Fatalf("a binding of an unknown kind: %v, %d bindings left", err, bad.Contexts())
	}
}
