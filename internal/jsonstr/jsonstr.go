// Package jsonstr writes JSON strings without reflection, for the encoders
// that build JSON by appending (audit documents, Elasticsearch-shaped
// answers, events): escaped as encoding/json escapes them (Append, or
// AppendHTML as json.Marshal does), or as Elasticsearch's Jackson does
// (AppendJackson).
package jsonstr

import (
	"math/bits"
	"unicode/utf8"
)

// Append appends s as a JSON string, escaped exactly as encoding/json does
// with SetEscapeHTML(false).
func Append(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendContent(b, s, modeJSON)
	return append(b, '"')
}

// AppendContent is Append without the quotes.
func AppendContent(b []byte, s string) []byte { return appendContent(b, s, modeJSON) }

// AppendHTML appends s as a JSON string escaped exactly as json.Marshal
// escapes it: as Append, and '<', '>' and '&' as \u003c, \u003e and
// \u0026 (encoding/json's default HTML escaping).
func AppendHTML(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendContent(b, s, modeHTML)
	return append(b, '"')
}

// AppendJackson appends s as a JSON string the way Elasticsearch's Jackson
// writes one: as Append, but U+2028 and U+2029 as they are, and invalid
// UTF-8 as the character U+FFFD rather than its escape.
func AppendJackson(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendContent(b, s, modeJackson)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// The escapes of appendContent.
const (
	modeJSON    = iota // encoding/json with SetEscapeHTML(false)
	modeHTML           // encoding/json's default: modeJSON, and <, >, & escaped
	modeJackson        // Elasticsearch's Jackson
)

// appendContent writes s escaped: '"' and '\\' escaped, control characters
// as \b \f \n \r \t or \u00XX, in modeHTML '<', '>' and '&' as \u00XX;
// everything else as is, but, as encoding/json (modeJSON, modeHTML),
// invalid UTF-8 as the escape \ufffd and U+2028 and U+2029 as \u2028 and
// \u2029, or, as Jackson (a Java string holds no invalid UTF-8: it was
// decoded to U+FFFD), invalid UTF-8 as U+FFFD itself.
func appendContent(b []byte, s string, mode int) []byte {
	jsonLike, html := mode != modeJackson, mode == modeHTML
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) {
			// Eight bytes at a time over what is copied as is.
			x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
				uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
			m := attention(x)
			if html {
				m |= attentionHTML(x)
			}
			if m == 0 {
				i += 8
				continue
			}
			i += bits.TrailingZeros64(m) >> 3
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!html || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			if jsonLike {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, "\uFFFD"...)
			}
			i++
			start = i
			continue
		}
		if jsonLike && (r == '\u2028' || r == '\u2029') {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// attention flags (top bit of the byte) the bytes of the little-endian word
// x that appendContent cannot copy as they are: below 0x20, '"', '\\',
// and 0x80 and above (UTF-8 to check). A flag can also land above a
// flagged byte (a borrow carries), never below: the lowest flag is exact.
func attention(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	ctrl := (x - 0x20*ones) &^ x
	q := x ^ '"'*ones
	bs := x ^ '\\'*ones
	return (ctrl | (q-ones)&^q | (bs-ones)&^bs | x) & highs
}

// attentionHTML flags, as attention does, the bytes '<', '>' and '&' of x.
func attentionHTML(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	lt := x ^ '<'*ones
	gt := x ^ '>'*ones
	amp := x ^ '&'*ones
	return ((lt-ones)&^lt | (gt-ones)&^gt | (amp-ones)&^amp) & highs
}
