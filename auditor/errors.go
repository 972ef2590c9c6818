package auditor

import "errors"

var (
	// ErrInvalidConfig is wrapped by every problem New finds in a Config.
	ErrInvalidConfig = errors.New("invalid auditor config")

	// ErrInvalidEvent is returned by Document for an event that cannot
	// become an audit document (no id, no time). The auditor sends such an
	// event to the dead-letter subject.
	ErrInvalidEvent = errors.New("event cannot be audited")
)
