package rego

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestFS(t *testing.T) {
	for _, name := range []string{"authz.rego", "roles.rego", "authz_test.rego"} {
		if b, err := fs.ReadFile(FS, name); err != nil || len(b) == 0 {
			t.Errorf("FS lacks %s: %v", name, err)
		}
	}
}

// TestWriteFiles: every file of FS, byte for byte; a missing directory is
// an error.
func TestWriteFiles(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := fs.ReadDir(FS, ".")
	for _, ent := range entries {
		want, _ := FS.ReadFile(ent.Name())
		if got, err := os.ReadFile(filepath.Join(dir, ent.Name())); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %v, %d bytes, want %d", ent.Name(), err, len(got), len(want))
		}
	}
	if err := WriteFiles(filepath.Join(dir, "missing")); err == nil {
		t.Error("WriteFiles into a missing directory succeeded")
	}
}
