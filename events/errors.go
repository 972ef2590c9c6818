package events

import "errors"

var (
	// ErrMalformed is returned for an envelope that is not a Portcullis
	// CloudEvent (wrong specversion, no id or type).
	ErrMalformed = errors.New("malformed event")
)
