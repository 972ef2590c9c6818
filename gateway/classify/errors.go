package classify

import "errors"

// ErrBadRequest is wrapped by every error [Classify] returns: the request is
// malformed in a way Elasticsearch would also reject (or that the classifier
// refuses to interpret), so the caller answers 400 with the error's message.
// Messages are fixed strings: they never quote the input, which may carry a
// secret.
var ErrBadRequest = errors.New("bad request")

// The specific reasons, each wrapping [ErrBadRequest].
var (
	ErrContentType    error = &reason{"unsupported Content-Type for request body", ErrBadRequest}
	ErrCompatibleWith error = &reason{"only compatible-with=8 is supported", ErrBadRequest}
	ErrSourceType     error = &reason{"source and source_content_type parameters are required together", ErrBadRequest}
	ErrQuery          error = &reason{"invalid query string", ErrBadRequest}
	ErrJSON           error = &reason{"request body is not valid JSON", ErrBadRequest}
	ErrDuplicateKey   error = &reason{"duplicate key in request body", ErrBadRequest}
	ErrTooDeep        error = &reason{"request body nests too deeply", ErrBadRequest}
	ErrBulkAction     error = &reason{"malformed action/metadata line in bulk request", ErrBadRequest}
	ErrBulkNewline    error = &reason{"the bulk request must be terminated by a newline [\\n]", ErrBadRequest}
	ErrMsearchHeader  error = &reason{"malformed header line in multi search request", ErrBadRequest}
	ErrBodyShape      error = &reason{"unexpected structure in request body", ErrBadRequest}
	ErrOpType         error = &reason{"invalid op_type", ErrBadRequest}
)

// reason is a specific error wrapping one sentinel; preallocated, so a
// rejected request costs no allocation.
type reason struct {
	msg  string
	wrap error
}

func (r *reason) Error() string { return r.msg }
func (r *reason) Unwrap() error { return r.wrap }
