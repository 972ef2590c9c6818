// Package dirlock takes exclusive, advisory locks on directories, so that
// two processes never work in one: the outcome spool, and the embedded
// NATS server's store, which nats-server itself does not lock.
package dirlock

import (
	"errors"
	"os"
)

var (
	// ErrInUse means another process holds the lock.
	ErrInUse = errors.New("in use by another process")
	// ErrNoLocks means the file system takes no locks (some NFS, CIFS and
	// FUSE mounts): the caller decides whether to go on without one.
	ErrNoLocks = errors.New("the file system takes no locks")
)

// Lock takes an exclusive lock on dir through its file name (created if
// need be), without waiting: ErrInUse when another process holds it. The
// lock goes with the file's closing, or with the process. On a file
// system without locks: ErrNoLocks; on systems without flock it takes none
// and returns a nil file.
func Lock(dir, name string) (*os.File, error) { return lock(dir, name) }
