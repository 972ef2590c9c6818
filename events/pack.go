package events

import (
	"bytes"
	"iter"
)

// HeaderEvents is the header of an AUTH message that gives the number of
// events it carries.
const HeaderEvents = "Portcullis-Events"

// SplitEvents yields the events of an AUTH message: its data holds one or
// more encoded events, one per line (an encoded event holds no newline).
// Empty lines are skipped. A message of one event is that event's
// encoding, as on the other streams.
func SplitEvents(data []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if len(line) == 0 {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

// CountEvents is the number of events SplitEvents yields from data.
func CountEvents(data []byte) int {
	n := 0
	for range SplitEvents(data) {
		n++
	}
	return n
}
