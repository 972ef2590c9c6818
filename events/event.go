package events

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"
)

// SpecVersion is the CloudEvents version of the envelope.
const SpecVersion = "1.0"

// Event is a CloudEvents 1.0 envelope in structured JSON mode. Data holds the
// type's payload, still encoded, so that an event of an unknown type can be
// carried (and skipped) without loss.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype,omitempty"`
	Data            json.RawMessage `json:"data,omitempty"`
}

// New builds an event of type typ about subject (the aggregate id) with data
// encoded as JSON. The id is a UUIDv7: unique and sortable by creation time.
func New(source, typ, subject string, now time.Time, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s data: %w", typ, err)
	}
	return Event{
		SpecVersion:     SpecVersion,
		ID:              NewID(now),
		Source:          source,
		Type:            typ,
		Subject:         subject,
		Time:            now.UTC().Truncate(time.Millisecond),
		DataContentType: "application/json",
		Data:            raw,
	}, nil
}

// Decode parses an envelope. It checks the fields every consumer relies on;
// the payload is left to DecodeData.
func Decode(b []byte) (Event, error) {
	var ev Event
	if err := json.Unmarshal(b, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	if ev.SpecVersion != SpecVersion {
		return Event{}, fmt.Errorf("decode event %q: %w: specversion %q", ev.ID, ErrMalformed, ev.SpecVersion)
	}
	if ev.ID == "" || ev.Type == "" {
		return Event{}, fmt.Errorf("decode event: %w: missing id or type", ErrMalformed)
	}
	return ev, nil
}

// Encode returns the envelope as JSON.
func (e Event) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	return b, nil
}

// DecodeData decodes the payload into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data of event %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// idClock is the last id's milliseconds and counter, ms<<12 | counter: one
// word, advanced by compare-and-swap, since every outcome takes an id (no
// lock shared by all requests on the hot path).
var idClock atomic.Uint64

// nextIDClock returns the milliseconds and counter of the next id for
// milliseconds ms: ms with a counter of 0 when ms is past the last id's,
// else the last id's plus one (its counter overflowing into the next
// millisecond).
func nextIDClock(last uint64, ms int64) uint64 {
	if ms > int64(last>>12) {
		return uint64(ms) << 12
	}
	return last + 1 // 0xfff + 1 carries into the milliseconds
}

// NewID returns a UUIDv7 (RFC 9562) for time now: 48 bits of Unix
// milliseconds, then a 12-bit counter that keeps ids from one process strictly
// increasing within a millisecond, then 62 random bits.
func NewID(now time.Time) string {
	ms := now.UnixMilli()
	var clock uint64
	for {
		last := idClock.Load()
		clock = nextIDClock(last, ms)
		if idClock.CompareAndSwap(last, clock) {
			break
		}
	}
	ms, seq := int64(clock>>12), uint16(clock&0x0fff)

	var b [16]byte
	if _, err := rand.Read(b[8:]); err != nil {
		// crypto/rand never fails on supported platforms (Go 1.24+ panics
		// inside Read instead of returning an error).
		panic(fmt.Sprintf("events: crypto/rand: %v", err))
	}
	binary.BigEndian.PutUint64(b[0:8], uint64(ms)<<16)
	b[6] = 0x70 | byte(seq>>8)&0x0f
	b[7] = byte(seq)
	b[8] = 0x80 | b[8]&0x3f
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:36], b[10:16])
	return string(s[:])
}
