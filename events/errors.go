package events

import "errors"

var (
	// ErrMalformed is returned for an envelope that is not a Portcullis
	// CloudEvent (wrong specversion, no id or type).
	ErrMalformed = errors.New("malformed event")
)

// ErrConflict is returned by Append when the aggregate changed since the
// caller read it (optimistic concurrency): for a create, the aggregate exists.
var ErrConflict = errors.New("aggregate changed concurrently")

// ErrEmitterFull is returned by Emitter.Emit when the bounded queue of
// outcomes waiting for NATS is full. A gateway that cannot record an outcome
// denies the request.
var ErrEmitterFull = errors.New("outcome queue full")
