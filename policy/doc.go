// Package policy owns Portcullis's authorization decisions: it compiles the
// Rego policy (the files of package rego, or of Config.Dir) together with a
// module generated from the projected constraints and roles, and evaluates it
// for every request the gateway forwards.
//
// An Engine holds one compiled policy behind an atomic pointer. Changes
// (SetConstraints, SetRoles, Reload) compile a complete new one off the
// request path and swap it in; Decide only loads the pointer and evaluates,
// so decisions never wait for a compilation and never see half of a change.
//
// Constraints are not scanned per request. They compile into documents keyed
// by literal path prefix, method and role (see generate.go and
// docs/policy.md), so a decision does a few map lookups per path segment and
// user role, whatever the number of constraints. Constraints whose paths
// contain a glob are matched by one alternation per prefix, method and role,
// and only those filed under a prefix of the request path. When the policy's
// decisions provably depend on nothing but the roles, method, path, kind,
// privilege and targets, a bounded cache keyed by those serves repeated
// requests (cache.go).
//
// What does not depend on the request is computed once per change, not per
// decision: rules that read no input are evaluated when the policy is
// compiled and compiled as constants (fold.go), and the values of functions
// that read no input are remembered across decisions (memo.go). A decision
// runs OPA's evaluator directly on the compiled query (eval.go), with
// evaluation caches reused across decisions (evalcache.go) and an input
// document holding only the fields the policy reads (input.go). See
// PERFORMANCE.md.
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
