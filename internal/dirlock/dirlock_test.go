//go:build unix

package dirlock

import (
	"errors"
	"os/exec"
	"testing"
)

// TestLock: a second lock on a directory fails with ErrInUse while the
// first is held, from this process (flock locks are per open file) and
// from another one, and succeeds once it is released.
func TestLock(t *testing.T) {
	dir := t.TempDir()
	f, err := Lock(dir, "LOCK")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(dir, "LOCK"); !errors.Is(err, ErrInUse) {
		t.Fatalf("second lock: %v, want ErrInUse", err)
	}
	if flock, err := exec.LookPath("flock"); err == nil {
		// util-linux flock(1), non-blocking, fails while the lock is held.
		if err := exec.Command(flock, "-n", dir+"/LOCK", "true").Run(); err == nil {
			t.Fatal("another process took the lock while it was held")
		}
	}
	f.Close()
	g, err := Lock(dir, "LOCK")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	g.Close()
	if _, err := Lock(dir+"/missing", "LOCK"); err == nil || errors.Is(err, ErrInUse) {
		t.Fatalf("lock in a missing directory: %v", err)
	}
}
