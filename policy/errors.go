package policy

import "errors"

// Sentinel errors. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrInvalidConstraint marks a constraint that ValidateConstraint or
	// SetConstraints rejects. Its message is safe to show to the API client
	// that submitted the constraint.
	ErrInvalidConstraint = errors.New("invalid constraint")

	// ErrInvalidRole marks a role that ValidateRole or SetRoles rejects.
	// Its message is safe to show to the API client that submitted the
	// role.
	ErrInvalidRole = errors.New("invalid role")

	// ErrCompile marks a policy that failed to load, parse or compile. The
	// engine keeps evaluating with the policy it had before.
	ErrCompile = errors.New("policy compilation failed")

	// ErrEval marks an evaluation that failed or produced no well-formed
	// decision. The request must be denied.
	ErrEval = errors.New("policy evaluation failed")

	// ErrNilInput is returned by Decide when called without an input.
	ErrNilInput = errors.New("policy input is nil")
)
