// Package lockout locks an account after repeated failed password
// authentications: the lockout projector of DESIGN.md. Every gateway
// replica reads the authentication_failed outcomes of the AUTH stream
// (Run), folds the wrong passwords of each user name into a Tracker, and
// refuses password authentication of a locked user (Locked) until the lock
// ends or the account's password changes.
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
	"maps"
	"sync"
	"sync/atomic"
	"time"
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
	// MaxTracked bounds how many user names with recent failures are
	// followed (an LDAP realm that binds by DN template cannot tell an
	// unknown user from a wrong password, so failures may name anything).
	// Failures of further names are not counted until older ones leave the
	// window. Default 65536.
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

// Lock is a user's lock: it holds until Until while the account's
// password epoch is Epoch (a password change lifts it).
type Lock struct {
	Until time.Time
	Epoch uint64
}

// Holds tells whether l holds for an account at password epoch epoch.
func (l Lock) Holds(epoch uint64) bool { return l.Epoch == epoch }

// Tracker holds the recent failures of each user name and the locks they
// set. Fail and Sweep are its writer (one goroutine: Run); Locked is read
// on every password authentication and takes no lock.
type Tracker struct {
	cfg Config

	mu       sync.Mutex // the writer's; Locked never takes it
	failures map[string]*ring
	full     bool // MaxTracked was reached since the last sweep

	// locks is replaced, never modified: readers load it without a lock.
	// It is nil while no user is locked, the usual case.
	locks atomic.Pointer[map[string]Lock]
}

// ring holds the times of a user's last Threshold failures, oldest first
// once full.
type ring struct {
	at   []time.Time
	next int
}

// New returns a Tracker, or ErrInvalidConfig.
func New(cfg Config) (*Tracker, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Tracker{cfg: cfg, failures: make(map[string]*ring)}, nil
}

// Config returns the configuration in force, defaults filled in.
func (t *Tracker) Config() Config { return t.cfg }

// Locked returns the lock of user that has not ended at now, if any; the
// caller checks that it Holds for the account's password epoch (looked up
// only then: while nobody is locked, Locked is one atomic load).
func (t *Tracker) Locked(user string, now time.Time) (Lock, bool) {
	m := t.locks.Load()
	if m == nil {
		return Lock{}, false
	}
	l, ok := (*m)[user]
	if !ok || !now.Before(l.Until) {
		return Lock{}, false
	}
	return l, true
}

// Fail counts a wrong password of user at time at, the account then being
// at password epoch epoch. It returns the lock this failure sets, if it is
// the Threshold-th within Window; a failure while the user is locked (at
// the same epoch) counts for nothing: the lock already holds.
func (t *Tracker) Fail(user string, epoch uint64, at time.Time) (Lock, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if l, locked := t.Locked(user, at); locked && l.Holds(epoch) {
		return Lock{}, false
	}
	r := t.failures[user]
	if r == nil {
		if len(t.failures) >= t.cfg.MaxTracked {
			t.full = true
			return Lock{}, false
		}
		r = &ring{at: make([]time.Time, 0, t.cfg.Threshold)}
		t.failures[user] = r
	}
	oldest := r.add(at, t.cfg.Threshold)
	if len(r.at) < t.cfg.Threshold || at.Sub(oldest) > t.cfg.Window {
		return Lock{}, false
	}
	l := Lock{Until: at.Add(t.cfg.Duration), Epoch: epoch}
	delete(t.failures, user) // counting starts afresh after the lock
	t.setLock(user, l)
	return l, true
}

// add records a failure at at and returns the oldest of the (up to n)
// failures it keeps.
func (r *ring) add(at time.Time, n int) time.Time {
	if len(r.at) < n {
		r.at = append(r.at, at)
		return r.at[0]
	}
	r.at[r.next] = at
	r.next = (r.next + 1) % n
	return r.at[r.next]
}

// setLock publishes a new lock map with user's lock. Writer only.
func (t *Tracker) setLock(user string, l Lock) {
	next := map[string]Lock{user: l}
	if m := t.locks.Load(); m != nil {
		next = maps.Clone(*m)
		next[user] = l
	}
	t.locks.Store(&next)
}

// Sweep drops the failures that left the window and the locks that ended
// at now. It returns how many users are locked afterwards, and whether
// failures went uncounted since the last sweep because MaxTracked names
// were followed.
func (t *Tracker) Sweep(now time.Time) (locked int, overflowed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for user, r := range t.failures {
		if newest(r.at).Add(t.cfg.Window).Before(now) {
			delete(t.failures, user)
		}
	}
	overflowed, t.full = t.full, false
	m := t.locks.Load()
	if m == nil {
		return 0, overflowed
	}
	next := make(map[string]Lock, len(*m))
	for user, l := range *m {
		if now.Before(l.Until) {
			next[user] = l
		}
	}
	switch {
	case len(next) == 0:
		t.locks.Store(nil)
	case len(next) < len(*m):
		t.locks.Store(&next)
	}
	return len(next), overflowed
}

func newest(at []time.Time) time.Time {
	var n time.Time
	for _, t := range at {
		if t.After(n) {
			n = t
		}
	}
	return n
}
