package classify

import (
	"bytes"
	"unicode/utf8"
)

// query holds the few parameters the classifier reads, found the way
// Elasticsearch's RestUtils.decodeQueryString finds them: '&' and ';' both
// separate, names and values are percent-decoded with '+' as a space, and
// the last occurrence wins.
type query struct {
	source, sourceContentType, scrollID, scroll, opType, keepAlive string
	hasSource, hasSourceType                                       bool
}

// parseQuery reads the parameters of interest from a raw query string.
func parseQuery(raw []byte) (query, error) {
	var q query
	if bytes.IndexByte(raw, '#') >= 0 {
		return q, ErrQuery
	}
	for p := raw; len(p) > 0; {
		var pair []byte
		if i := bytes.IndexAny(p, "&;"); i >= 0 {
			pair, p = p[:i], p[i+1:]
		} else {
			pair, p = p, nil
		}
		// Elasticsearch skips leading '=' of a pair.
		for len(pair) > 0 && pair[0] == '=' {
			pair = pair[1:]
		}
		if len(pair) == 0 {
			continue
		}
		rawKey, rawVal := pair, []byte(nil)
		if i := bytes.IndexByte(pair, '='); i >= 0 {
			rawKey, rawVal = pair[:i], pair[i+1:]
		}
		key, err := decodeQuery(rawKey)
		if err != nil {
			return q, err
		}
		var dst *string
		switch key {
		case "source":
			dst, q.hasSource = &q.source, true
		case "source_content_type":
			dst, q.hasSourceType = &q.sourceContentType, true
		case "scroll_id":
			dst = &q.scrollID
		case "scroll":
			dst = &q.scroll
		case "op_type":
			dst = &q.opType
		case "keep_alive":
			dst = &q.keepAlive
		default:
			continue
		}
		if *dst, err = decodeQuery(rawVal); err != nil {
			return q, err
		}
	}
	return q, nil
}

// decodeQuery percent-decodes a query component, '+' as space. Malformed
// escapes and invalid UTF-8 are errors (Elasticsearch rejects the former
// and would read the latter differently).
func decodeQuery(b []byte) (string, error) {
	if bytes.IndexByte(b, '%') < 0 && bytes.IndexByte(b, '+') < 0 {
		if !utf8.Valid(b) {
			return "", ErrQuery
		}
		return string(b), nil
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(b) {
				return "", ErrQuery
			}
			hi, lo := unhex(b[i+1]), unhex(b[i+2])
			if hi > 15 || lo > 15 {
				return "", ErrQuery
			}
			c = hi<<4 | lo
			i += 2
		}
		out = append(out, c)
	}
	if !utf8.Valid(out) {
		return "", ErrQuery
	}
	return string(out), nil
}
