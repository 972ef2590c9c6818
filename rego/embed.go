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

import "embed"

// FS holds every .rego file of this directory, tests included.
//
//go:embed *.rego
var FS embed.FS
