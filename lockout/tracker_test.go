package lockout

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)

func newTracker(t *testing.T, cfg Config) *Tracker {
	t.Helper()
	tr, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestNewRefuses(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Threshold: 3, Window: -time.Second},
		{Threshold: 3, Duration: -time.Second},
		{Threshold: 3, MaxTracked: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	tr := newTracker(t, Config{Threshold: 3})
	if c := tr.cfg; c.Window != DefaultWindow || c.Duration != DefaultDuration || c.MaxTracked != DefaultMaxTracked {
		t.Errorf("defaults %+v", c)
	}
}

// TestFail: the fold of failures into locks, by the failures' own times.
func TestFail(t *testing.T) {
	cfg := Config{Threshold: 3, Window: time.Minute, Duration: 10 * time.Minute}
	type failure struct {
		user  string
		epoch uint64
		after time.Duration // since t0
	}
	tests := []struct {
		name      string
		failures  []failure
		wantLocks []int // indexes of the failures that set a lock
		// the lock of "u" (account "uid-u" at checkEpoch) at t0+check
		check      time.Duration
		checkEpoch uint64
		wantLocked bool
	}{
		{name: "below the threshold", failures: []failure{{"u", 1, 0}, {"u", 1, time.Second}},
			check: 2 * time.Second, checkEpoch: 1},
		{name: "threshold within the window", failures: []failure{{"u", 1, 0}, {"u", 1, 30 * time.Second}, {"u", 1, time.Minute}},
			wantLocks: []int{2}, check: time.Minute, checkEpoch: 1, wantLocked: true},
		{name: "spread wider than the window", failures: []failure{{"u", 1, 0}, {"u", 1, 31 * time.Second}, {"u", 1, 61 * time.Second}},
			check: 61 * time.Second, checkEpoch: 1},
		{name: "a later failure completes a window", failures: []failure{{"u", 1, 0}, {"u", 1, 31 * time.Second}, {"u", 1, 61 * time.Second}, {"u", 1, 62 * time.Second}},
			wantLocks: []int{3}, check: 62 * time.Second, checkEpoch: 1, wantLocked: true},
		{name: "the lock ends after its duration", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}},
			wantLocks: []int{2}, check: 10*time.Minute + 2, checkEpoch: 1},
		{name: "the lock holds until its end", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}},
			wantLocks: []int{2}, check: 10*time.Minute + 1, checkEpoch: 1, wantLocked: true},
		{name: "a password change lifts it", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}},
			wantLocks: []int{2}, check: time.Minute, checkEpoch: 2},
		{name: "failures while locked do not extend it", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}, {"u", 1, 9 * time.Minute}, {"u", 1, 9*time.Minute + 1}, {"u", 1, 9*time.Minute + 2}},
			wantLocks: []int{2}, check: 10*time.Minute + 2, checkEpoch: 1},
		{name: "counting starts afresh after a lock", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}, {"u", 1, 11 * time.Minute}, {"u", 1, 11*time.Minute + 1}},
			wantLocks: []int{2}, check: 11*time.Minute + 1, checkEpoch: 1},
		{name: "locked again after the end", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}, {"u", 1, 11 * time.Minute}, {"u", 1, 11*time.Minute + 1}, {"u", 1, 11*time.Minute + 2}},
			wantLocks: []int{2, 5}, check: 20 * time.Minute, checkEpoch: 1, wantLocked: true},
		{name: "after a password change, failures count again", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}, {"u", 2, 3}, {"u", 2, 4}, {"u", 2, 5}},
			wantLocks: []int{2, 5}, check: 6, checkEpoch: 2, wantLocked: true},
		{name: "failures of the old password do not count for the new one", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 2, 2}, {"u", 2, 3}},
			check: 4, checkEpoch: 2},
		{name: "users are counted apart", failures: []failure{{"u", 1, 0}, {"v", 1, 1}, {"u", 1, 2}, {"v", 1, 3}},
			check: 4, checkEpoch: 1},
		{name: "a late failure of the old password does not clear the new count", failures: []failure{{"u", 2, 20 * time.Second}, {"u", 1, 10 * time.Second}, {"u", 2, 21 * time.Second}, {"u", 2, 22 * time.Second}},
			wantLocks: []int{3}, check: 23 * time.Second, checkEpoch: 2, wantLocked: true},
		// Failures published late (a spool, a clock behind) count by their
		// own times, wherever they arrive.
		{name: "late: one far behind does not complete a window", failures: []failure{{"u", 1, 0}, {"u", 1, -10 * time.Minute}, {"u", 1, time.Second}},
			check: 2 * time.Second, checkEpoch: 1},
		{name: "late: one inside the window completes it", failures: []failure{{"u", 1, 0}, {"u", 1, 20 * time.Second}, {"u", 1, 10 * time.Second}},
			wantLocks: []int{2}, check: 21 * time.Second, checkEpoch: 1, wantLocked: true},
		{name: "late: old ones neither lock nor clear a count", failures: []failure{{"u", 1, -time.Hour}, {"u", 1, -time.Hour + 1}, {"u", 1, -time.Hour + 2}, {"u", 1, 0}, {"u", 1, 10 * time.Second}, {"u", 1, 20 * time.Second}},
			wantLocks: []int{2, 5}, check: 21 * time.Second, checkEpoch: 1, wantLocked: true},
		{name: "late: one older than the lock counts for nothing", failures: []failure{{"u", 1, 0}, {"u", 1, 1}, {"u", 1, 2}, {"u", 1, -time.Second}},
			wantLocks: []int{2}, check: 3, checkEpoch: 1, wantLocked: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(t, cfg)
			var locks []int
			for i, f := range tt.failures {
				at := t0.Add(f.after)
				l, ok := tr.Fail(Failure{User: f.user, AccountUID: "uid-u", AccountEpoch: f.epoch, At: at})
				if ok {
					locks = append(locks, i)
					// From the latest failure of the window: this one, or a
					// later one when this one arrived late.
					if l.At.Before(at) || !l.Until.Equal(l.At.Add(cfg.Duration)) || !l.Holds("uid-u", f.epoch) {
						t.Errorf("failure %d at %s: lock %+v, want %s long from it or later, at epoch %d", i, at, l, cfg.Duration, f.epoch)
					}
				}
			}
			if fmt.Sprint(locks) != fmt.Sprint(tt.wantLocks) && !(len(locks) == 0 && len(tt.wantLocks) == 0) {
				t.Errorf("locks set by failures %v, want %v", locks, tt.wantLocks)
			}
			if _, got := tr.Locked("u", "uid-u", tt.checkEpoch, t0.Add(tt.check)); got != tt.wantLocked {
				t.Errorf("locked at +%s = %v, want %v", tt.check, got, tt.wantLocked)
			}
		})
	}
}

// TestNames: a native account is its exact name ("Bob" and "bob" are two
// accounts, counted and locked apart); a user of another realm is its name
// without case (an LDAP directory binds "Lena" as "lena").
func TestNames(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 3, Window: time.Minute})
	for i := range 6 { // alternating: neither resets the other's count
		name, uid := "bob", "uid-bob"
		if i%2 == 1 {
			name, uid = "Bob", "uid-Bob"
		}
		tr.Fail(Failure{User: name, AccountUID: uid, AccountEpoch: 1, At: t0.Add(time.Duration(i) * time.Second)})
	}
	for _, c := range []struct{ name, uid string }{{"bob", "uid-bob"}, {"Bob", "uid-Bob"}} {
		if _, ok := tr.Locked(c.name, c.uid, 1, t0.Add(6*time.Second)); !ok {
			t.Errorf("%s not locked after three wrong passwords", c.name)
		}
	}
	for _, name := range []string{"lena", "Lena", " LENA  "} {
		fail(tr, name, t0)
	}
	// Spellings an LDAP directory binds as the same entry.
	for _, name := range []string{"lena", "lEnA", "lena ", "  lena", "ｌｅｎａ", "LENA\t"} {
		if _, ok := tr.Locked(name, "", 0, t0); !ok {
			t.Errorf("%q: not locked after three wrong passwords of its name spelt otherwise", name)
		}
	}
	if _, ok := tr.Locked("le na", "", 0, t0); ok {
		t.Error("a space inside the name is not insignificant")
	}
	if _, ok := tr.Locked("lena", "uid-lena", 1, t0); ok {
		t.Error("a native account lena is locked by the failures of another realm's user")
	}
}

// TestRecreatedAccount: an account deleted and created again (a new UID,
// at epoch 1 again) is counted afresh, and the old one's lock is not its.
func TestRecreatedAccount(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 3, Window: time.Minute})
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tr.Fail(Failure{User: "u", AccountUID: "old", AccountEpoch: 1, At: at(0)})
	tr.Fail(Failure{User: "u", AccountUID: "old", AccountEpoch: 1, At: at(1)})
	tr.Fail(Failure{User: "u", AccountUID: "new", AccountEpoch: 1, At: at(2)})
	if _, ok := tr.Locked("u", "new", 1, at(3)); ok {
		t.Fatal("the new account locked by the old one's failures")
	}
	tr.Fail(Failure{User: "u", AccountUID: "new", AccountEpoch: 1, At: at(3)})
	if _, ok := tr.Fail(Failure{User: "u", AccountUID: "new", AccountEpoch: 1, At: at(4)}); !ok {
		t.Fatal("the new account's three wrong passwords did not lock it")
	}
	if _, ok := tr.Locked("u", "old", 1, at(5)); ok {
		t.Fatal("the new account's lock holds for the old one")
	}
}

// TestLockHoldsForItsAccount: a lock is the account's it was set on.
func TestLockHoldsForItsAccount(t *testing.T) {
	l := Lock{UID: "u1", Epoch: 2}
	for _, c := range []struct {
		uid   string
		epoch uint64
		want  bool
	}{{"u1", 2, true}, {"u1", 3, false}, {"u2", 2, false}, {"", 0, false}} {
		if got := l.Holds(c.uid, c.epoch); got != c.want {
			t.Errorf("Holds(%q, %d) = %v", c.uid, c.epoch, got)
		}
	}
	if !(Lock{}).Holds("", 0) {
		t.Error("a lock of a user of another realm does not hold for it")
	}
}

func fail(tr *Tracker, user string, at time.Time) (Lock, bool) {
	return tr.Fail(Failure{User: user, At: at})
}

func TestSweep(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 2, Window: time.Minute, Duration: 5 * time.Minute, MaxTracked: 3})
	fail(tr, "a", t0)
	fail(tr, "a", t0.Add(time.Second)) // locked until t0+5m1s
	fail(tr, "b", t0)
	fail(tr, "c", t0)
	fail(tr, "d", t0) // a fourth name (with a's lock) within the window: not counted
	if n, over := tr.Sweep(t0.Add(time.Second)); n != 1 || !over {
		t.Fatalf("sweep: %d locked, overflowed %v", n, over)
	}
	if _, over := tr.Sweep(t0.Add(time.Second)); over {
		t.Fatal("overflow reported twice")
	}
	// b and c leave the window: d can be counted now.
	tr.Sweep(t0.Add(2 * time.Minute))
	if len(tr.failures) != 0 {
		t.Fatalf("failures kept past the window: %v", tr.failures)
	}
	fail(tr, "d", t0.Add(2*time.Minute))
	if _, ok := fail(tr, "d", t0.Add(2*time.Minute+time.Second)); !ok {
		t.Fatal("d not locked once room was made")
	}
	if n, _ := tr.Sweep(t0.Add(5*time.Minute + time.Second)); n != 1 {
		t.Fatalf("%d locks after a's ended, want d's", n)
	}
	if _, ok := tr.lockOf(key{name: "a"}, t0.Add(time.Minute)); ok {
		t.Fatal("a's swept lock still answers") // the map no longer holds it, whatever the time
	}
	if n, _ := tr.Sweep(t0.Add(time.Hour)); n != 0 || tr.nLocks.Load() != 0 {
		t.Fatalf("%d locks (%d counted) after every one ended", n, tr.nLocks.Load())
	}
}

// TestLocksAreBounded: locks count against MaxTracked, so that failures of
// ever new names (an LDAP realm that cannot tell an unknown user) cannot
// grow them without end.
func TestLocksAreBounded(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 1, MaxTracked: 10})
	for i := range 1000 {
		fail(tr, fmt.Sprint("user-", i), t0)
	}
	if n := tr.nLocks.Load(); n != 10 {
		t.Fatalf("%d locks, want MaxTracked", n)
	}
	// Native accounts are always counted: a flood of other names does not
	// stop their lockout.
	if _, ok := tr.Fail(Failure{User: "reader", AccountUID: "uid-r", AccountEpoch: 1, At: t0}); !ok {
		t.Fatal("a native account's wrong password not counted once the names of other realms filled MaxTracked")
	}
}

// TestLockedWithoutLocksAllocatesNothing: Locked runs on every password
// authentication.
func TestLockedWithoutLocksAllocatesNothing(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 2})
	if n := testing.AllocsPerRun(100, func() { tr.Locked("b", "", 0, t0) }); n != 0 {
		t.Errorf("no lock: %v allocations", n)
	}
	fail(tr, "a", t0)
	fail(tr, "a", t0)
	if n := testing.AllocsPerRun(100, func() { tr.Locked("b", "uid-b", 1, t0) }); n != 0 {
		t.Errorf("another's lock: %v allocations", n)
	}
}

// BenchmarkSetLocks: 20,000 users locked one after another (a flood of
// wrong passwords for ever new names); each lock copies one shard's locks,
// not all of them.
func BenchmarkSetLocks(b *testing.B) {
	names := make([]string, 20_000)
	for i := range names {
		names[i] = fmt.Sprint("user-", i)
	}
	for b.Loop() {
		tr, err := New(Config{Threshold: 1, MaxTracked: len(names)})
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range names {
			if _, ok := fail(tr, n, t0); !ok {
				b.Fatal("not locked")
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(names)), "ns/lock")
}
