// Package policy owns Portcullis's authorization decisions: it compiles the
// Rego policy (the files of package rego, or of Config.Dir) together with a
// module generated from the projected constraints and roles, and evaluates it
// for every request the gateway forwards.
//
// An Engine holds one prepared OPA query behind an atomic pointer. Changes
// (SetConstraints, SetRoles, Reload) compile a complete new query off the request path
// and swap it in; Decide only loads the pointer and evaluates, so decisions
// never wait for a compilation and never see half of a change.
//
// Constraints are not scanned per request. They compile into documents keyed
// by literal path prefix, method and role (see generate.go and
// docs/policy.md), so a decision does a few map lookups per path segment and
// user role, whatever the number of constraints. Only constraints whose paths
// contain a glob are matched one by one, and only those filed under a prefix
// of the request path. When the policy's decisions provably depend on
// nothing but the roles, method, path, kind and privilege, a bounded cache
// keyed by those serves repeated requests (cache.go).
//
// What this package must never do:
//
//   - I/O on the decision path. Decide reads memory only; the policy is
//     compiled without the builtins that reach the network or the runtime
//     environment (see deniedBuiltins), so a user's Rego cannot add any.
//   - Allow on error. Every error path of Decide returns a Decision whose
//     Allow is false, and callers deny whenever the error is non-nil. A
//     builtin error in a rule (a deny rule calling to_number on a path) is
//     an evaluation error, not an undefined rule.
//   - Import another Portcullis package than rego, which holds nothing but
//     the embedded policy files. The gateway and cmd/portcullis depend on
//     policy, never the reverse.
package policy
