package canon

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

const upperHex = "0123456789ABCDEF"

// literal marks the bytes a canonical segment carries as themselves: the
// RFC 3986 pchar set without '+' and ';' (see the package comment). Every
// other byte is written as %XX.
var literal = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range []byte("-._~!$&'()*,:=@") {
		t[c] = true
	}
	return t
}()

// pathBufSize bounds the stack buffer Path builds the result in; longer paths
// still work, at the cost of one more allocation.
const pathBufSize = 256

// Path returns the canonical form of raw, the request-target's path as it was
// on the wire (the bytes before '?', not decoded). The result is what the
// policy checks and exactly what is forwarded upstream.
//
// Rules, in order:
//   - raw must start with '/'; raw control bytes, '#' and '?' are rejected;
//   - raw is split on '/' before anything is decoded, and empty segments
//     (duplicate and trailing slashes) are dropped;
//   - each segment is percent-decoded exactly once; a malformed escape, a
//     decoded segment that is not valid UTF-8 or that contains a control
//     character (C0, DEL, C1) is rejected;
//   - a decoded "." is dropped and a decoded ".." removes the previous
//     segment, so %2e%2E is a dot segment too; ".." above the root is
//     rejected;
//   - a decoded '/' or '\' stays inside its segment: /a%2Fb is the single
//     segment "a/b", never the two segments "a" and "b";
//   - each segment is re-encoded: the literal set (A-Z a-z 0-9 - . _ ~ ! $ &
//     ' ( ) * , : = @) as itself, every other byte as upper-case %XX.
//
// The root is "/". Path is idempotent: Path(Path(x)) == Path(x). Errors wrap
// [ErrBadPath].
func Path(raw []byte) (string, error) {
	var buf [pathBufSize]byte
	out, err := appendPath(buf[:0], raw)
	if err != nil {
		return "", err
	}
	return string(out), nil
}

// appendPath appends the canonical form of raw to dst.
func appendPath(dst, raw []byte) ([]byte, error) {
	if len(raw) == 0 || raw[0] != '/' {
		return dst, ErrPathNotAbsolute
	}
	base := len(dst)
	var scratch [128]byte
	rest := raw[1:]
	for len(rest) > 0 {
		var seg []byte
		if j := bytes.IndexByte(rest, '/'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			seg, rest = rest, nil
		}
		if len(seg) == 0 {
			continue
		}
		dec := seg
		plain := true
		for _, c := range seg {
			if !literal[c] {
				plain = false
				break
			}
		}
		if !plain {
			var err error
			if dec, err = decodeSegment(scratch[:0], seg); err != nil {
				return dst, err
			}
		}
		switch {
		case len(dec) == 1 && dec[0] == '.':
			continue
		case len(dec) == 2 && dec[0] == '.' && dec[1] == '.':
			if len(dst) == base {
				return dst, ErrPathEscapesRoot
			}
			dst = dst[:base+bytes.LastIndexByte(dst[base:], '/')]
			continue
		}
		dst = append(dst, '/')
		if plain {
			dst = append(dst, seg...)
		} else {
			dst = appendEscaped(dst, dec)
		}
	}
	if len(dst) == base {
		dst = append(dst, '/')
	}
	return dst, nil
}

// decodeSegment appends the percent-decoded seg to dst and checks that the
// result is valid UTF-8 without control characters.
func decodeSegment(dst, seg []byte) ([]byte, error) {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c == '%':
			if i+2 >= len(seg) {
				return dst, ErrPathEncoding
			}
			hi, lo := unhex(seg[i+1]), unhex(seg[i+2])
			if hi > 15 || lo > 15 {
				return dst, ErrPathEncoding
			}
			c = hi<<4 | lo
			i += 2
		case c < 0x20 || c == 0x7f:
			return dst, ErrPathControl
		case c == '#' || c == '?':
			// Neither can be part of a path on the wire: '?' starts the
			// query, '#' a fragment (and makes Elasticsearch ignore the
			// whole query string).
			return dst, ErrPathCharacter
		}
		dst = append(dst, c)
	}
	return dst, checkText(dst, ErrPathControl, ErrPathUTF8)
}

// checkText reports whether b is valid UTF-8 without C0, DEL or C1 control
// characters.
func checkText(b []byte, errControl, errUTF8 error) error {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return errControl
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return errUTF8
		}
		if r <= 0x9f { // C1 controls U+0080..U+009F
			return errControl
		}
		i += size
	}
	return nil
}

// appendEscaped appends the canonical encoding of the decoded segment seg.
func appendEscaped(dst, seg []byte) []byte {
	for _, c := range seg {
		if literal[c] {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', upperHex[c>>4], upperHex[c&15])
		}
	}
	return dst
}

// unhex returns the value of a hex digit, or 0xff.
func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10
	}
	return 0xff
}

// Segments returns the decoded segments of a canonical path, as returned by
// [Path]: nil for the root, and for "/idx/_doc/a%2Fb" the three segments
// "idx", "_doc" and "a/b". A classifier matches routes and reads index names
// and ids from these; because route literals are [a-z0-9_], a decoded segment
// equals a route literal exactly when the forwarded raw token does.
//
// For a string that is not canonical the result is unspecified (escapes that
// do not decode are kept as they are), but Segments never panics.
func Segments(canonical string) []string {
	n := 0
	for s := range strings.SplitSeq(canonical, "/") {
		if s != "" {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return AppendSegments(make([]string, 0, n), canonical)
}

// AppendSegments appends the segments of canonical, as Segments returns
// them, to dst: a caller with a buffer of its own (a path has few
// segments) splits a path without allocating.
func AppendSegments(dst []string, canonical string) []string {
	for s := range strings.SplitSeq(canonical, "/") {
		if s != "" {
			dst = append(dst, unescape(s))
		}
	}
	return dst
}

// unescape percent-decodes s, keeping malformed escapes as they are.
func unescape(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			if hi, lo := unhex(s[i+1]), unhex(s[i+2]); hi <= 15 && lo <= 15 {
				c = hi<<4 | lo
				i += 2
			}
		}
		b = append(b, c)
	}
	return string(b)
}
