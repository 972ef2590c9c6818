package projector

import "errors"

// Sentinel errors. Every error the package returns wraps one of them (or a
// context error) with %w, so callers test with errors.Is.
var (
	// ErrInconsistent is returned by a fold for an event that does not fit
	// the state it is applied to: an account or constraint created twice,
	// updated or deleted while missing, a UID or id that does not match,
	// an event on a subject of another aggregate. The state is left
	// unchanged; the caller logs the event and skips it.
	ErrInconsistent = errors.New("event inconsistent with projected state")

	// ErrMalformed is returned for an envelope or payload that cannot be
	// decoded, or that lacks a field the fold needs (an account without UID,
	// a token hash that is not 64 hex digits). The caller logs and skips.
	ErrMalformed = errors.New("malformed event")

	// ErrContextLimit is returned for a context opened beyond the limits of
	// bindings the model holds (in all, per owner). The binding is not
	// made; the gateway that published it finds none and answers 503, so
	// the context cannot be used by anybody.
	ErrContextLimit = errors.New("too many search context bindings")

	// ErrUnknownStream is returned for a stream the projector does not fold
	// (anything but events.StreamState and events.StreamTokens).
	ErrUnknownStream = errors.New("unknown stream")

	// ErrInvalidConfig is returned by New when the Config is invalid; it is
	// joined with one error per problem, each naming its key.
	ErrInvalidConfig = errors.New("invalid projector config")

	// ErrAlreadyStarted is returned by a second call of Run: a Projector runs
	// once.
	ErrAlreadyStarted = errors.New("projector already started")

	// ErrStopped is returned by WaitFor and WaitForLatest once Run has
	// returned: the sequence they wait for will never be applied.
	ErrStopped = errors.New("projector stopped")

	// ErrConsumerClosed is returned by Run when a stream's consumer ends
	// without Run being cancelled (the NATS connection was closed).
	ErrConsumerClosed = errors.New("stream consumer closed")

	// ErrNoSnapshots is returned by Snapshot when Config.Snapshots is not
	// set.
	ErrNoSnapshots = errors.New("no snapshot store configured")

	// ErrNotReady is returned by Snapshot before the projector is ready.
	ErrNotReady = errors.New("projector not ready")

	// ErrBehind is returned by WaitForLatest when the projection did not
	// reach the stream's last sequence within Config.CatchUpWait.
	ErrBehind = errors.New("projection behind stream")
)
