package auditor

import (
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/portcullis/portcullis/events"
)

// Decoding a message with encoding/json (events.Decode, then DecodeData:
// reflection, a validation pass per level, a RawMessage copy) was the
// largest share of the auditor's CPU per event. decoder reads the envelope
// and the outcome in one pass over the bytes instead, straight into the
// structs, but only a message of the shape the gateway writes: an object
// whose every key is a field's name as its struct tag spells it, present
// once, with a value of that field's JSON type (no null). It reads that
// shape exactly as encoding/json does — strict JSON, escapes unquoted as
// encoding/json unquotes them, an empty array as an empty slice — and for
// anything else (an unknown or differently cased key, a duplicate, invalid
// UTF-8, which encoding/json would coerce, a syntax error) it reports false
// and the caller decodes with encoding/json, which stays the definition of
// what a message means and of every error a dead letter carries. A
// differential fuzz test holds the decoder to that definition.

// decoder is owned by one goroutine (the pull loop).
type decoder struct {
	b []byte // the message
	i int    // the read position in b
	// arena holds the bytes of every string decoded from one message: no
	// allocation per field. Unquoted strings are never longer than the
	// message, so it never grows while a message is decoded; it is reused
	// by the next one, so the strings decode sets are valid until then.
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
// Their strings are valid until the next call.
func (d *decoder) decode(raw []byte, ev *events.Event, o *events.AuthOutcome) bool {
	if !utf8.Valid(raw) {
		return false
	}
	d.b, d.i = raw, 0
	if cap(d.arena) < len(raw) {
		d.arena = make([]byte, 0, max(len(raw), 2048))
	}
	d.arena = d.arena[:0]
	defer func() { d.b = nil }()
	var seen uint32
	var timeText []byte
	data := false
	ok := d.object(func(key []byte) bool {
		var bit uint32
		ok := false
		switch string(key) {
		case "specversion":
			bit, ok = seenSpec, d.str(&ev.SpecVersion)
		case "id":
			bit, ok = seenID, d.str(&ev.ID)
		case "source":
			bit, ok = seenSource, d.str(&ev.Source)
		case "type":
			bit, ok = seenType, d.str(&ev.Type)
		case "subject":
			bit, ok = seenSubject, d.str(&ev.Subject)
		case "datacontenttype":
			bit, ok = seenContentType, d.str(&ev.DataContentType)
		case "time":
			// time.Time.UnmarshalJSON parses the quoted text as it is,
			// escapes and all: an escaped time is the slow path's (where
			// it fails).
			var escaped bool
			bit = seenTime
			timeText, escaped, ok = d.rawStr()
			ok = ok && !escaped
		case "data":
			bit, data = seenData, true
			ok = d.outcome(o)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
	if !ok || !d.end() || !data || ev.SpecVersion != events.SpecVersion || ev.ID == "" || ev.Type == "" {
		// What events.Decode refuses (and a message without a payload,
		// which DecodeData refuses) is the slow path's to report.
		return false
	}
	if timeText != nil && ev.Time.UnmarshalText(timeText) != nil {
		return false
	}
	return true
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
	seenAccountUID
	seenAccountEpoch
)

func (d *decoder) outcome(o *events.AuthOutcome) bool {
	var seen uint32
	return d.object(func(key []byte) bool {
		var bit uint32
		ok := false
		switch string(key) {
		case "action":
			bit, ok = seenAction, d.str(&o.Action)
		case "outcome":
			bit, ok = seenOutcome, d.str(&o.Outcome)
		case "reason":
			bit, ok = seenReason, d.str(&o.Reason)
		case "principal":
			bit, ok = seenPrincipal, d.str(&o.Principal)
		case "user":
			bit, ok = seenUser, d.str(&o.User)
		case "roles":
			bit, ok = seenRoles, d.strs(&o.Roles)
		case "realm":
			bit, ok = seenRealm, d.str(&o.Realm)
		case "authentication_type":
			bit, ok = seenAuthType, d.str(&o.AuthType)
		case "apikey_id":
			bit, ok = seenAPIKeyID, d.str(&o.APIKeyID)
		case "realms":
			bit, ok = seenRealms, d.realms(&o.Realms)
		case "method":
			bit, ok = seenMethod, d.str(&o.Method)
		case "path":
			bit, ok = seenPath, d.str(&o.Path)
		case "query":
			bit, ok = seenQuery, d.str(&o.Query)
		case "request_id":
			bit, ok = seenRequestID, d.str(&o.RequestID)
		case "source_ip":
			bit, ok = seenSourceIP, d.str(&o.SourceIP)
		case "es_action":
			bit, ok = seenESAction, d.str(&o.ESAction)
		case "indices":
			bit, ok = seenIndices, d.strs(&o.Indices)
		case "policy_revision":
			bit, ok = seenPolicyRevision, d.str(&o.PolicyRevision)
		case "rule":
			bit, ok = seenRule, d.str(&o.Rule)
		case "status":
			bit, ok = seenStatus, d.integer(&o.Status)
		case "account_uid":
			bit, ok = seenAccountUID, d.str(&o.AccountUID)
		case "account_epoch":
			// Through an int: a sign (even of -0) or a number past its
			// range is left to encoding/json, which refuses the one and
			// reads the other.
			var n int
			bit, ok = seenAccountEpoch, d.i < len(d.b) && d.b[d.i] != '-' && d.integer(&n)
			o.AccountEpoch = uint64(n)
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	})
}

func (d *decoder) realms(dst *[]events.RealmAttempt) bool {
	out := []events.RealmAttempt{} // [] is an empty slice, not nil
	ok := d.array(func() bool {
		var r events.RealmAttempt
		var seen uint32
		if !d.object(func(key []byte) bool {
			var bit uint32
			ok := false
			switch string(key) {
			case "realm":
				bit, ok = 1, d.str(&r.Realm)
			case "type":
				bit, ok = 2, d.str(&r.Type)
			case "reason":
				bit, ok = 4, d.str(&r.Reason)
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			return true
		}) {
			return false
		}
		out = append(out, r)
		return true
	})
	*dst = out
	return ok
}

func (d *decoder) strs(dst *[]string) bool {
	out := []string{}
	ok := d.array(func() bool {
		var s string
		if !d.str(&s) {
			return false
		}
		out = append(out, s)
		return true
	})
	*dst = out
	return ok
}

// ws skips JSON whitespace.
func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// next skips whitespace and consumes c if it comes next.
func (d *decoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (d *decoder) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// object reads an object, calling member for each key (read up to its ':'
// included) to read the value; member reports false to stop.
func (d *decoder) object(member func(key []byte) bool) bool {
	if !d.next('{') {
		return false
	}
	if d.next('}') {
		return true
	}
	for {
		d.ws()
		key, escaped, ok := d.rawStr()
		if !ok || escaped || !d.next(':') {
			return false // an escaped key is the slow path's: it may fold to a field's name
		}
		d.ws()
		if !member(key) {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next('}')
	}
}

// array reads an array, calling elem to read each element.
func (d *decoder) array(elem func() bool) bool {
	if !d.next('[') {
		return false
	}
	if d.next(']') {
		return true
	}
	for {
		d.ws()
		if !elem() {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next(']')
	}
}

// rawStr reads a string and returns its bytes as they are in the message,
// without the quotes, and whether they hold an escape (checked for
// validity here). A control character refuses it, as encoding/json does.
func (d *decoder) rawStr() (text []byte, escaped, ok bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false, false
	}
	start := d.i + 1
	for i := start; i < len(d.b); {
		c := d.b[i]
		switch {
		case c == '"':
			d.i = i + 1
			return d.b[start:i], escaped, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			escaped = true
			if i+1 >= len(d.b) {
				return nil, false, false
			}
			switch d.b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if getu4(d.b[i:]) < 0 {
					return nil, false, false
				}
				i += 6
			default:
				return nil, false, false
			}
		default:
			i++
		}
	}
	return nil, false, false
}

// str reads a string into dst, unquoted.
func (d *decoder) str(dst *string) bool {
	text, escaped, ok := d.rawStr()
	if !ok {
		return false
	}
	if len(text) == 0 {
		*dst = ""
		return true
	}
	start := len(d.arena)
	if escaped {
		d.arena = unquote(d.arena, text)
	} else {
		d.arena = append(d.arena, text...)
	}
	if len(d.arena) == start {
		*dst = ""
		return true
	}
	*dst = unsafe.String(&d.arena[start], len(d.arena)-start)
	return true
}

// unquote appends the string text (valid: rawStr checked it) unescaped
// exactly as encoding/json's unquoteBytes does it: \uXXXX surrogate pairs
// combined, a surrogate that does not pair up as U+FFFD. (Invalid UTF-8,
// which it coerces, never gets here.)
func unquote(dst, text []byte) []byte {
	for i := 0; i < len(text); {
		c := text[i]
		if c != '\\' {
			dst = append(dst, c)
			i++
			continue
		}
		switch text[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := getu4(text[i:])
			i += 6
			if utf16.IsSurrogate(r) {
				if dec := utf16.DecodeRune(r, getu4(text[i:])); dec != utf8.RuneError {
					dst = utf8.AppendRune(dst, dec)
					i += 6
					continue
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, text[i+1])
		}
		i += 2
	}
	return dst
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// integer reads a number into dst if it is an integer in JSON's grammar
// (-?(0|[1-9][0-9]*)) that fits an int, as encoding/json reads an int.
func (d *decoder) integer(dst *int) bool {
	i := d.i
	neg := i < len(d.b) && d.b[i] == '-'
	if neg {
		i++
	}
	start := i
	for i < len(d.b) && '0' <= d.b[i] && d.b[i] <= '9' {
		i++
	}
	digits := d.b[start:i]
	if len(digits) == 0 || len(digits) > 1 && digits[0] == '0' {
		return false
	}
	if i < len(d.b) {
		switch d.b[i] {
		case '.', 'e', 'E':
			return false // a number, not an integer: encoding/json refuses it into an int
		}
	}
	// Accumulate negatively: the range of int is wider below zero.
	const minInt = -1 << (strconvIntSize - 1)
	var n int
	for _, c := range digits {
		if n < minInt/10 {
			return false
		}
		n *= 10
		v := int(c - '0')
		if n < minInt+v {
			return false
		}
		n -= v
	}
	if !neg {
		if n == minInt {
			return false
		}
		n = -n
	}
	*dst = n
	d.i = i
	return true
}

// strconvIntSize is the size of an int in bits.
const strconvIntSize = 32 << (^uint(0) >> 63)
