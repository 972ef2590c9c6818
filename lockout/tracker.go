// Package lockout locks an account after repeated failed password
// authentications: the lockout projector of DESIGN.md. Every gateway
// replica reads the authentication_failed outcomes of the AUTH stream
// (Run) and folds the wrong passwords of each user name into a Tracker;
// the gateway refuses password authentication of a user whose lock
// (Locked) Holds for the account its name names, until the lock ends or the
// account's password changes.
//
// The locks are a function of the AUTH stream alone (each failure counts
// at the time its event carries), so every replica, and a replica that
// starts later, computes the same locks from the same failures, wherever
// they happened. A replica starting reads the failures of the last
// Window+Duration, which is all a lock can depend on.
//
// Elasticsearch has no lockout. It is off unless Config.Threshold is set:
// a client that keeps retrying an old password locks its account for every
// client of it, which an operator must choose knowingly.
package lockout

import (
	"errors"
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Defaults of Config.
const (
	DefaultWindow     = 5 * time.Minute
	DefaultDuration   = 15 * time.Minute
	DefaultMaxTracked = 65536
)

// Config says when a user is locked: Threshold wrong passwords within
// Window lock it for Duration.
type Config struct {
	// Threshold is how many wrong passwords within Window lock a user.
	// Required (at least 1).
	Threshold int
	// Window is the span the failures must fall in. Default 5m.
	Window time.Duration
	// Duration is how long a lock lasts, from the failure that set it.
	// Default 15m.
	Duration time.Duration
	// MaxTracked bounds how many user names of other realms than the
	// native one are followed, locked or with recent failures (names the
	// gateway cannot enumerate: an LDAP directory's users, under whatever
	// spellings it binds). Failures of further such names are not counted
	// until older ones leave the window or their lock ends; a native
	// account's always are. Default 65536.
	MaxTracked int
}

// ErrInvalidConfig is returned by New for a configuration it refuses.
var ErrInvalidConfig = errors.New("lockout: invalid configuration")

func (c *Config) setDefaults() {
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.MaxTracked == 0 {
		c.MaxTracked = DefaultMaxTracked
	}
}

func (c Config) validate() error {
	var errs []error
	if c.Threshold < 1 {
		errs = append(errs, fmt.Errorf("threshold: %d is less than 1", c.Threshold))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("window: %s is negative", c.Window))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("duration: %s is negative", c.Duration))
	}
	if c.MaxTracked < 0 {
		errs = append(errs, fmt.Errorf("max_tracked: %d is negative", c.MaxTracked))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

// Lock is a user's lock: it holds from At (the failure that set it) until
// Until for the account it was set on: the native account incarnation UID
// at password epoch Epoch, or, both empty, a user of another realm. A new
// password or a new account of the name is not locked by the old one's
// failures.
type Lock struct {
	At, Until time.Time
	UID       string
	Epoch     uint64
}

// Holds tells whether l holds for the account the user name now names
// (uid and epoch of its native account, or empty).
func (l Lock) Holds(uid string, epoch uint64) bool { return l.UID == uid && l.Epoch == epoch }

// Failure is one wrong password, as an authentication_failed outcome on
// the AUTH stream tells it (ParseFailure).
type Failure struct {
	User string
	// AccountUID and AccountEpoch name the native account tried, empty
	// for a user of another realm.
	AccountUID   string
	AccountEpoch uint64
	At           time.Time
}

const shards = 64

// key names whose failures a history counts and whose a lock is. A native
// account is its exact name (the native realm tells "Bob" from "bob"); a
// user of another realm is the name as a directory compares it (see
// foldName), since an LDAP directory binds "Lena", " lena " and "ｌｅｎａ"
// alike and they must share their count and their lock.
type key struct {
	name   string
	native bool
}

func keyOf(user, uid string) key {
	if uid != "" {
		return key{name: user, native: true}
	}
	return key{name: foldName(user)}
}

// foldName approximates how an LDAP directory matches a name (RFC 4518's
// string preparation): compatibility forms (NFKC: full-width letters),
// case, and leading, trailing and repeated spaces do not count.
func foldName(user string) string {
	s := cases.Fold().String(norm.NFKC.String(user))
	return strings.Join(strings.Fields(s), " ")
}

// Tracker holds the recent failures of each user and the locks they set.
// Fail and Sweep write it, taking turns under mu (in Run, the consumer's
// handler folds and Run's loop sweeps); Any and Locked are read on every
// password authentication and take no lock.
type Tracker struct {
	cfg  Config
	seed maphash.Seed

	mu       sync.Mutex // Fail's and Sweep's; Any and Locked never take it
	failures map[key]*history
	full     bool // MaxTracked was reached since the last sweep

	// locks, split in shards so that setting one copies 1/64 of them:
	// each shard's map is replaced, never modified, and read without a
	// lock. nLocks counts them all; while it is 0, the usual case, Any is
	// false and nobody needs to ask Locked.
	locks  [shards]atomic.Pointer[map[key]Lock]
	nLocks atomic.Int64
	set    atomic.Uint64 // locks set since New
	folded atomic.Uint64 // failures Fail was given since New
}

// Stats are a Tracker's counts, for metrics.
type Stats struct {
	// Locks held: in force, or ended less than a sweep ago.
	Locks uint64
	// Set is how many locks were set since the Tracker was made, those
	// of the failures read at start included.
	Set uint64
	// Failures is how many wrong passwords were folded (counted or not:
	// during a lock, late, or beyond MaxTracked), those read at start
	// included.
	Failures uint64
}

// Stats returns the counts of t.
func (t *Tracker) Stats() Stats {
	return Stats{Locks: uint64(max(t.nLocks.Load(), 0)), Set: t.set.Load(), Failures: t.folded.Load()}
}

// history is a user's recent failures, of one account (identity).
type history struct {
	uid   string
	epoch uint64
	at    []time.Time // ascending, at most Threshold, within Window of the last
}

// New returns a Tracker, or ErrInvalidConfig.
func New(cfg Config) (*Tracker, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Tracker{cfg: cfg, seed: maphash.MakeSeed(), failures: make(map[key]*history)}, nil
}

func (t *Tracker) shard(k key) *atomic.Pointer[map[key]Lock] {
	return &t.locks[maphash.Comparable(t.seed, k)%shards]
}

// Any tells whether some user may be locked: while not, the caller need
// not look up the account to ask Locked.
func (t *Tracker) Any() bool { return t.nLocks.Load() != 0 }

// Locked returns user's lock in force at now, if it Holds for the account
// the name now names: its native account's incarnation uid and password
// epoch, or "" and 0 for a user of another realm.
func (t *Tracker) Locked(user, uid string, epoch uint64, now time.Time) (Lock, bool) {
	if !t.Any() {
		return Lock{}, false
	}
	l, ok := t.lockOf(keyOf(user, uid), now)
	if !ok || !l.Holds(uid, epoch) {
		return Lock{}, false
	}
	return l, true
}

func (t *Tracker) lockOf(k key, now time.Time) (Lock, bool) {
	m := t.shard(k).Load()
	if m == nil {
		return Lock{}, false
	}
	l, ok := (*m)[k]
	if !ok || !now.Before(l.Until) {
		return Lock{}, false
	}
	return l, true
}

// Fail folds a wrong password into its account's count and returns the
// lock it sets, if it is the Threshold-th within Window. It depends on the
// failures folded before it, not on the clock, so replicas folding the
// same stream agree. Failures count by their own times: one that arrives
// late (from an outcome spool) still counts if it falls within the window
// of the latest failures of its account; one while the account is locked,
// or older than its lock, counts for nothing; one of another account (a
// new password, a new account of the name) starts the count afresh if it
// is newer than the count, and counts for nothing if it is older.
func (t *Tracker) Fail(f Failure) (Lock, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.folded.Add(1)
	k := keyOf(f.User, f.AccountUID)
	if l, ok := t.lockOf(k, f.At); ok && (l.Holds(f.AccountUID, f.AccountEpoch) || f.At.Before(l.At)) {
		return Lock{}, false
	}
	h := t.failures[k]
	if h == nil {
		// A native account is always counted (accounts are few and known);
		// names of other realms may be anything, and are bounded.
		if !k.native && len(t.failures)+int(t.nLocks.Load()) >= t.cfg.MaxTracked {
			t.full = true
			return Lock{}, false
		}
		h = &history{uid: f.AccountUID, epoch: f.AccountEpoch, at: make([]time.Time, 0, t.cfg.Threshold)}
		t.failures[k] = h
	}
	if h.uid != f.AccountUID || h.epoch != f.AccountEpoch {
		if len(h.at) > 0 && f.At.Before(h.at[len(h.at)-1]) {
			return Lock{}, false // the older account's, arriving late
		}
		h.uid, h.epoch, h.at = f.AccountUID, f.AccountEpoch, h.at[:0]
	}
	h.add(f.At, t.cfg.Threshold, t.cfg.Window)
	if len(h.at) < t.cfg.Threshold {
		return Lock{}, false
	}
	last := h.at[len(h.at)-1]
	l := Lock{At: last, Until: last.Add(t.cfg.Duration), UID: f.AccountUID, Epoch: f.AccountEpoch}
	delete(t.failures, k) // counting starts afresh after the lock
	t.setLock(k, l)
	return l, true
}

// add inserts at in order and keeps the last n failures within window of
// the last one.
func (h *history) add(at time.Time, n int, window time.Duration) {
	i, _ := slices.BinarySearchFunc(h.at, at, time.Time.Compare)
	h.at = slices.Insert(h.at, i, at)
	from := h.at[len(h.at)-1].Add(-window)
	drop := 0
	for drop < len(h.at) && h.at[drop].Before(from) {
		drop++
	}
	drop = max(drop, len(h.at)-n)
	h.at = slices.Delete(h.at, 0, drop)
}

// setLock publishes k's lock: a new map for its shard. Under mu.
func (t *Tracker) setLock(k key, l Lock) {
	sh := t.shard(k)
	next := map[key]Lock{k: l}
	existed := false
	if m := sh.Load(); m != nil {
		_, existed = (*m)[k]
		next = maps.Clone(*m)
		next[k] = l
	}
	sh.Store(&next)
	if !existed {
		t.nLocks.Add(1)
	}
	t.set.Add(1)
}

// Sweep drops the failures that left the window and the locks that ended
// at now. It returns how many users are locked afterwards, and whether
// failures went uncounted since the last sweep because MaxTracked names
// were followed.
func (t *Tracker) Sweep(now time.Time) (locked int, overflowed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, h := range t.failures {
		if h.at[len(h.at)-1].Add(t.cfg.Window).Before(now) {
			delete(t.failures, k)
		}
	}
	overflowed, t.full = t.full, false
	for i := range t.locks {
		m := t.locks[i].Load()
		if m == nil {
			continue
		}
		next := make(map[key]Lock, len(*m))
		for k, l := range *m {
			if now.Before(l.Until) {
				next[k] = l
			}
		}
		locked += len(next)
		if len(next) == len(*m) {
			continue
		}
		t.nLocks.Add(int64(len(next) - len(*m)))
		if len(next) == 0 {
			t.locks[i].Store(nil)
		} else {
			t.locks[i].Store(&next)
		}
	}
	return locked, overflowed
}
