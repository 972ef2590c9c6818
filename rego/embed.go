// Package rego holds Portcullis's default authorization policy, the Rego
// files users edit in git: authz.rego (package portcullis.authz, the decision
// the gateway queries), roles.rego (package portcullis.roles, the built-in
// roles) and their OPA unit tests (*_test.rego).
//
// The files are embedded into the binary as FS; package policy compiles them
// unless its Config.Dir names a directory to use instead. `opa test rego/`
// and `portcullis policy test rego/` run the tests. The input document and
// the decision are described in docs/policy.md.
package rego

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FS holds every .rego file of this directory, tests included.
//
//go:embed *.rego
var FS embed.FS

// WriteFiles writes the files of FS into dir (which must exist): the start
// of a policy directory of one's own (policy.dir), tests included.
func WriteFiles(dir string) error {
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		return fmt.Errorf("rego: %w", err)
	}
	for _, ent := range entries {
		b, err := FS.ReadFile(ent.Name())
		if err != nil {
			return fmt.Errorf("rego: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, ent.Name()), b, 0o600); err != nil {
			return fmt.Errorf("rego: %w", err)
		}
	}
	return nil
}
