package ldaprealm

import "errors"

// Errors of Authenticate.
var (
	// ErrUnknownUser: no template names an entry of the directory ("not
	// mine": the next realm of the chain may know the user).
	ErrUnknownUser = errors.New("unknown user")
	// ErrMismatch: the password is wrong, or empty (refused without asking
	// the directory).
	ErrMismatch = errors.New("invalid credentials")
	// ErrUnavailable wraps every failure to reach or query the directory:
	// the realm could not decide.
	ErrUnavailable = errors.New("ldap realm unavailable")
)
