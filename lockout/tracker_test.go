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
	if c := tr.Config(); c.Window != DefaultWindow || c.Duration != DefaultDuration || c.MaxTracked != DefaultMaxTracked {
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
		// the lock of "u" at epoch 1 checked at t0+check
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
		{name: "users are counted apart", failures: []failure{{"u", 1, 0}, {"v", 1, 1}, {"u", 1, 2}, {"v", 1, 3}},
			check: 4, checkEpoch: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTracker(t, cfg)
			var locks []int
			for i, f := range tt.failures {
				at := t0.Add(f.after)
				l, ok := tr.Fail(f.user, f.epoch, at)
				if ok {
					locks = append(locks, i)
					if want := at.Add(cfg.Duration); !l.Until.Equal(want) || l.Epoch != f.epoch {
						t.Errorf("failure %d: lock %+v, want until %s at epoch %d", i, l, want, f.epoch)
					}
				}
			}
			if fmt.Sprint(locks) != fmt.Sprint(tt.wantLocks) && !(len(locks) == 0 && len(tt.wantLocks) == 0) {
				t.Errorf("locks set by failures %v, want %v", locks, tt.wantLocks)
			}
			l, got := tr.Locked("u", t0.Add(tt.check))
			if got = got && l.Holds(tt.checkEpoch); got != tt.wantLocked {
				t.Errorf("locked at +%s = %v, want %v", tt.check, got, tt.wantLocked)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 2, Window: time.Minute, Duration: 5 * time.Minute, MaxTracked: 2})
	tr.Fail("a", 0, t0)
	tr.Fail("a", 0, t0.Add(time.Second)) // locked until t0+5m1s
	tr.Fail("b", 0, t0)
	tr.Fail("c", 0, t0)
	tr.Fail("d", 0, t0) // a third name within the window: not counted
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
	tr.Fail("d", 0, t0.Add(2*time.Minute))
	if _, ok := tr.Fail("d", 0, t0.Add(2*time.Minute+time.Second)); !ok {
		t.Fatal("d not locked once room was made")
	}
	if n, _ := tr.Sweep(t0.Add(5*time.Minute + time.Second)); n != 1 {
		t.Fatalf("%d locks after a's ended, want d's", n)
	}
	if _, ok := tr.Locked("a", t0.Add(time.Minute)); ok {
		t.Fatal("a swept lock still answers") // the map no longer holds it, whatever the time
	}
	if n, _ := tr.Sweep(t0.Add(time.Hour)); n != 0 || tr.locks.Load() != nil {
		t.Fatalf("%d locks after every one ended", n)
	}
}

// TestLockedWithoutLocksAllocatesNothing: Locked runs on every password
// authentication.
func TestLockedWithoutLocksAllocatesNothing(t *testing.T) {
	tr := newTracker(t, Config{Threshold: 2})
	tr.Fail("a", 0, t0)
	tr.Fail("a", 0, t0)
	if n := testing.AllocsPerRun(100, func() { tr.Locked("b", t0) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
