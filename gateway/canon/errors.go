package canon

import "errors"

// Sentinel errors, one per kind of input. Every error this package returns
// wraps exactly one of them, so callers map errors.Is(err, ErrBadPath) and
// errors.Is(err, ErrBadQuery) to 400, and ErrBadAuthorization and
// ErrBadCredentials to 401.
var (
	// ErrBadPath: the request path cannot be canonicalized.
	ErrBadPath = errors.New("invalid path")
	// ErrBadQuery: the query string cannot be parsed the way Elasticsearch
	// would parse it.
	ErrBadQuery = errors.New("invalid query string")
	// ErrBadAuthorization: the Authorization header is malformed.
	ErrBadAuthorization = errors.New("invalid authorization header")
	// ErrBadCredentials: the credentials of a Basic or ApiKey header cannot
	// be decoded.
	ErrBadCredentials = errors.New("invalid credentials")
)

// The specific reasons. Their messages are fixed strings suitable for a
// response body: they never quote the input (a path may be harmless, but a
// header or query value may be a secret).
var (
	// Path.
	ErrPathNotAbsolute error = &reason{"path must start with /", ErrBadPath}
	ErrPathEncoding    error = &reason{"invalid percent-encoding in path", ErrBadPath}
	ErrPathControl     error = &reason{"control character in path", ErrBadPath}
	ErrPathCharacter   error = &reason{"invalid character in path", ErrBadPath}
	ErrPathUTF8        error = &reason{"path segment is not valid UTF-8", ErrBadPath}
	ErrPathEscapesRoot error = &reason{"path escapes the root", ErrBadPath}

	// TakeParam.
	ErrQueryEncoding  error = &reason{"invalid percent-encoding in query string", ErrBadQuery}
	ErrQueryCharacter error = &reason{"invalid character in query string", ErrBadQuery}
	ErrQueryUTF8      error = &reason{"query parameter is not valid UTF-8", ErrBadQuery}
	// ErrQueryName is a programming error: TakeParam takes ASCII names only.
	ErrQueryName error = &reason{"unsupported query parameter name", ErrBadQuery}

	// ParseAuthorization.
	ErrAuthorizationEmpty  error = &reason{"empty authorization header", ErrBadAuthorization}
	ErrAuthorizationScheme error = &reason{"invalid authorization scheme", ErrBadAuthorization}
	ErrAuthorizationSyntax error = &reason{"invalid authorization header syntax", ErrBadAuthorization}

	// ParseBasic, ParseAPIKey (and ParseAuthorization for empty credentials).
	ErrCredentialsEmpty     error = &reason{"empty credentials", ErrBadCredentials}
	ErrCredentialsEncoding  error = &reason{"credentials are not valid base64", ErrBadCredentials}
	ErrCredentialsUTF8      error = &reason{"credentials are not valid UTF-8", ErrBadCredentials}
	ErrCredentialsSeparator error = &reason{"credentials have no ':' separator", ErrBadCredentials}
	ErrUsernameEmpty        error = &reason{"empty username", ErrBadCredentials}
	ErrUsernameInvalid      error = &reason{"username contains control characters", ErrBadCredentials}
	ErrAPIKeyIDEmpty        error = &reason{"empty api key id", ErrBadCredentials}
	ErrAPIKeyIDInvalid      error = &reason{"api key id contains control characters", ErrBadCredentials}
	ErrAPIKeySecretEmpty    error = &reason{"empty api key secret", ErrBadCredentials}
)

// reason is a specific error that wraps one sentinel. Reasons are
// preallocated, so a rejected request costs no allocation.
type reason struct {
	msg  string
	kind error
}

func (r *reason) Error() string { return r.msg }
func (r *reason) Unwrap() error { return r.kind }
