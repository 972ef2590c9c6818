package auditor

import (
	"bytes"
	"encoding/binary"
	"unicode/utf8"
	"unsafe"

	"github.com/valyala/fastjson"

	"github.com/portcullis/portcullis/events"
)

// Decoding a message with encoding/json (events.Decode, then DecodeData:
// reflection, two passes, a RawMessage copy) was the largest share of the
// auditor's CPU per event. decoder parses the envelope and the outcome in
// one fastjson pass instead, but only a message in the form the gateway
// writes: every key spelled as the struct tags spell it and present once,
// every value of its field's JSON type, strings without anything whose
// decoding differs between the two parsers (invalid UTF-8, lone surrogates,
// escapes in the time). For anything else it reports false and the caller
// decodes with encoding/json, which stays the definition of what a message
// means (and of every error message a dead letter carries). A differential
// fuzz test holds the fast path to that definition.

// decoder is owned by one goroutine (the pull loop): its parser is reused.
type decoder struct {
	p fastjson.Parser
	// escapes: the message has a backslash, so its strings need the
	// checks of str.
	escapes bool
	// arena holds the bytes of every string decoded from one message: one
	// allocation instead of one per field.
	arena []byte
}

// Bits of the keys seen, to refuse duplicates (encoding/json merges a
// repeated key into what it decoded before: not worth reproducing).
const (
	seenSpec uint32 = 1 << iota
	seenID
	seenSource
	seenType
	seenSubject
	seenTime
	seenContentType
	seenData
)

// decode fills ev (every field but Data) and o from raw and reports
// whether it could; when it reports false, ev and o are to be discarded.
func (d *decoder) decode(raw []byte, ev *events.Event, o *events.AuthOutcome) bool {
	// What fastjson's parser accepts and encoding/json does not: a control
	// character inside a string (the gateway's compact JSON has none
	// anywhere, not even as whitespace: refused outright), a number of
	// another grammar (the only number read is the status: checked
	// there), a bad escape (kept as text: str refuses it). Every key is
	// known and every value read with its type, or the message is
	// refused. encoding/json replaces invalid UTF-8 with U+FFFD, fastjson
	// keeps it: refused too.
	if hasControl(raw) || !utf8.Valid(raw) {
		return false
	}
	d.escapes = bytes.IndexByte(raw, '\\') >= 0
	// Unescaped strings are never longer than the message: the arena never
	// grows, so the strings made from it stay valid.
	d.arena = make([]byte, 0, len(raw))
	v, err := d.p.ParseBytes(raw)
	if err != nil {
		return false
	}
	obj, err := v.Object()
	if err != nil {
		return false
	}
	ok := true
	var seen uint32
	var data *fastjson.Value
	var timeText []byte
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		var bit uint32
		switch string(k) {
		case "specversion":
			bit, ok = seenSpec, d.str(v, &ev.SpecVersion)
		case "id":
			bit, ok = seenID, d.str(v, &ev.ID)
		case "source":
			bit, ok = seenSource, d.str(v, &ev.Source)
		case "type":
			bit, ok = seenType, d.str(v, &ev.Type)
		case "subject":
			bit, ok = seenSubject, d.str(v, &ev.Subject)
		case "datacontenttype":
			bit, ok = seenContentType, d.str(v, &ev.DataContentType)
		case "time":
			bit = seenTime
			timeText, err = v.StringBytes()
			ok = err == nil
		case "data":
			bit, data = seenData, v
		default:
			ok = false
		}
		if seen&bit != 0 {
			ok = false
		}
		seen |= bit
	})
	// What events.Decode refuses, and a payload that is not an object
	// (null, which DecodeData accepts, included), are the slow path's to
	// report.
	if !ok || data == nil || data.Type() != fastjson.TypeObject ||
		ev.SpecVersion != events.SpecVersion || ev.ID == "" || ev.Type == "" {
		return false
	}
	if timeText != nil {
		// time.Time.UnmarshalJSON parses the quoted text as it is, escapes
		// and all (an escaped digit fails there): accept only a time whose
		// text appears literally, unescaped, as the envelope's member.
		if d.escapes && !literalMember(raw, "time", timeText) {
			return false
		}
		if ev.Time.UnmarshalText(timeText) != nil {
			return false
		}
	}
	return d.decodeOutcome(data, o)
}

// hasControl reports whether b holds a byte below 0x20, eight bytes at a
// time: x - 0x20 in a byte borrows (sets its top bit) exactly when the
// byte is below 0x20, or when a lower byte borrowed; a byte with its top
// bit set already is masked out by ^x. Any bit left means some byte is below
// 0x20 (the lowest flagged one is).
func hasControl(b []byte) bool {
	const highs, below = 0x8080808080808080, 0x20 * 0x0101010101010101
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		if (x-below)&^x&highs != 0 {
			return true
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}

// literalMember reports whether raw holds "key":"value" verbatim.
func literalMember(raw []byte, key string, value []byte) bool {
	m := make([]byte, 0, len(key)+len(value)+5)
	m = append(m, '"')
	m = append(m, key...)
	m = append(m, `":"`...)
	m = append(m, value...)
	m = append(m, '"')
	return bytes.Contains(raw, m)
}

// Bits of the outcome keys seen.
const (
	seenAction uint32 = 1 << iota
	seenOutcome
	seenReason
	seenPrincipal
	seenUser
	seenRoles
	seenRealm
	seenAuthType
	seenAPIKeyID
	seenRealms
	seenMethod
	seenPath
	seenQuery
	seenRequestID
	seenSourceIP
	seenESAction
	seenIndices
	seenPolicyRevision
	seenRule
	seenStatus
)

func (d *decoder) decodeOutcome(v *fastjson.Value, o *events.AuthOutcome) bool {
	obj, _ := v.Object()
	ok := true
	var seen uint32
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if !ok {
			return
		}
		var bit uint32
		switch string(k) {
		case "action":
			bit, ok = seenAction, d.str(v, &o.Action)
		case "outcome":
			bit, ok = seenOutcome, d.str(v, &o.Outcome)
		case "reason":
			bit, ok = seenReason, d.str(v, &o.Reason)
		case "principal":
			bit, ok = seenPrincipal, d.str(v, &o.Principal)
		case "user":
			bit, ok = seenUser, d.str(v, &o.User)
		case "roles":
			bit, ok = seenRoles, d.strs(v, &o.Roles)
		case "realm":
			bit, ok = seenRealm, d.str(v, &o.Realm)
		case "authentication_type":
			bit, ok = seenAuthType, d.str(v, &o.AuthType)
		case "apikey_id":
			bit, ok = seenAPIKeyID, d.str(v, &o.APIKeyID)
		case "realms":
			bit, ok = seenRealms, d.realms(v, &o.Realms)
		case "method":
			bit, ok = seenMethod, d.str(v, &o.Method)
		case "path":
			bit, ok = seenPath, d.str(v, &o.Path)
		case "query":
			bit, ok = seenQuery, d.str(v, &o.Query)
		case "request_id":
			bit, ok = seenRequestID, d.str(v, &o.RequestID)
		case "source_ip":
			bit, ok = seenSourceIP, d.str(v, &o.SourceIP)
		case "es_action":
			bit, ok = seenESAction, d.str(v, &o.ESAction)
		case "indices":
			bit, ok = seenIndices, d.strs(v, &o.Indices)
		case "policy_revision":
			bit, ok = seenPolicyRevision, d.str(v, &o.PolicyRevision)
		case "rule":
			bit, ok = seenRule, d.str(v, &o.Rule)
		case "status":
			bit = seenStatus
			ok = integer(v, &o.Status)
		default:
			ok = false
		}
		if seen&bit != 0 {
			ok = false
		}
		seen |= bit
	})
	return ok
}

func (d *decoder) realms(v *fastjson.Value, dst *[]events.RealmAttempt) bool {
	arr, err := v.Array()
	if err != nil {
		return false
	}
	out := make([]events.RealmAttempt, len(arr))
	for i, e := range arr {
		obj, err := e.Object()
		if err != nil {
			return false
		}
		ok := true
		var seen uint32
		r := &out[i]
		obj.Visit(func(k []byte, v *fastjson.Value) {
			if !ok {
				return
			}
			var bit uint32
			switch string(k) {
			case "realm":
				bit, ok = 1, d.str(v, &r.Realm)
			case "type":
				bit, ok = 2, d.str(v, &r.Type)
			case "reason":
				bit, ok = 4, d.str(v, &r.Reason)
			default:
				ok = false
			}
			if seen&bit != 0 {
				ok = false
			}
			seen |= bit
		})
		if !ok {
			return false
		}
	}
	*dst = out
	return true
}

func (d *decoder) strs(v *fastjson.Value, dst *[]string) bool {
	arr, err := v.Array()
	if err != nil {
		return false
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		if !d.str(e, &out[i]) {
			return false
		}
	}
	*dst = out
	return true
}

// integer sets dst to the number v, if v is an integer in JSON's grammar
// (-?(0|[1-9][0-9]*)) that fits an int, as encoding/json reads into an int.
func integer(v *fastjson.Value, dst *int) bool {
	if v.Type() != fastjson.TypeNumber {
		return false
	}
	var buf [24]byte
	t := v.MarshalTo(buf[:0])
	if len(t) > 0 && t[0] == '-' {
		t = t[1:]
	}
	if len(t) == 0 || len(t) > 1 && t[0] == '0' {
		return false
	}
	for _, c := range t {
		if c < '0' || c > '9' {
			return false
		}
	}
	n, err := v.Int()
	if err != nil {
		return false
	}
	*dst = n
	return true
}

// replacement is U+FFFD in UTF-8.
var replacement = []byte("\uFFFD")

// str sets dst to the string v, if v is a string both parsers read alike.
// In a message with escapes, that excludes a string with U+FFFD or a
// backslash after unescaping: fastjson turns a lone surrogate into U+FFFD
// differently from encoding/json, and keeps a bad escape as text.
func (d *decoder) str(v *fastjson.Value, dst *string) bool {
	b, err := v.StringBytes()
	if err != nil || d.escapes && (bytes.IndexByte(b, '\\') >= 0 || bytes.Contains(b, replacement)) {
		return false
	}
	if len(b) == 0 {
		*dst = ""
		return true
	}
	if len(d.arena)+len(b) > cap(d.arena) {
		*dst = string(b) // cannot happen (see decode); never grow the arena
		return true
	}
	start := len(d.arena)
	d.arena = append(d.arena, b...)
	*dst = unsafe.String(&d.arena[start], len(b))
	return true
}
