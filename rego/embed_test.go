package rego

import (
	"io/fs"
	"testing"
)

func TestFS(t *testing.T) {
	for _, name := range []string{"authz.rego", "roles.rego", "authz_test.rego"} {
		if b, err := fs.ReadFile(FS, name); err != nil || len(b) == 0 {
			t.Errorf("FS lacks %s: %v", name, err)
		}
	}
}
