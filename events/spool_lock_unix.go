//go:build unix

package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockDir takes an exclusive lock on dir (its file LOCK), so that two
// processes never spool into, and drain, one directory. The lock goes with
// the file's closing, or with the process.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outcome spool: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("outcome spool: %s is in use by another process", dir)
		}
		return nil, fmt.Errorf("outcome spool: lock %s: %w", dir, err)
	}
	return f, nil
}
