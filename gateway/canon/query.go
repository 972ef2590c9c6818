package canon

import (
	"bytes"
	"unicode/utf8"
)

// TakeParam removes every occurrence of the parameter name from rawQuery (the
// raw query string, without '?') and returns what remains together with the
// decoded value of the last occurrence. It is how the gateway consumes a
// credential parameter (?token=) so that it never reaches Elasticsearch.
//
// Parameters are found the way Elasticsearch's RestUtils.decodeQueryString
// finds them, so that nothing Elasticsearch would read as name can slip
// through:
//   - '&' and ';' both separate parameters;
//   - a parameter's name is percent-decoded ('+' is a space) before it is
//     compared, so %74oken is token;
//   - leading '=' characters of a pair are skipped, so "=token=x" is the
//     parameter token with value "x";
//   - a pair without '=' is the parameter with the empty value;
//   - the last occurrence wins.
//
// When name occurs, rest holds the other parameters byte-for-byte unchanged,
// in their order, joined by '&' (empty pairs dropped) in a newly allocated
// slice; when it does not, rest is rawQuery itself and nothing is allocated.
//
// name is a constant such as "token" and must be non-empty ASCII: only for
// ASCII is byte equality after decoding exactly Elasticsearch's string
// equality (it reads raw non-ASCII bytes and invalid UTF-8 differently), so
// any other name is refused with [ErrQueryName] rather than matched
// approximately.
//
// Errors wrap [ErrBadQuery]: a raw '#' (a fragment; Elasticsearch would
// ignore the rest of the query string), a malformed escape in any parameter
// name (Elasticsearch rejects those too) or in a value of name, or a value of
// name that is not valid UTF-8.
func TakeParam(rawQuery []byte, name string) (rest []byte, value string, found bool, err error) {
	if bytes.IndexByte(rawQuery, '#') >= 0 {
		return nil, "", false, ErrQueryCharacter
	}
	if !isASCII(name) {
		return nil, "", false, ErrQueryName
	}
	var scratch [64]byte
	last := scratch[:0]
	for p := rawQuery; len(p) > 0; {
		var pair []byte
		pair, p = nextPair(p)
		key, val, ok := splitPair(pair)
		if !ok {
			continue
		}
		match, err := keyIs(key, name)
		if err != nil {
			return nil, "", false, err
		}
		if !match {
			continue
		}
		if last, err = decodeQueryValue(last[:0], val); err != nil {
			return nil, "", false, err
		}
		found = true
	}
	if !found {
		return rawQuery, "", false, nil
	}
	rest = make([]byte, 0, len(rawQuery))
	for p := rawQuery; len(p) > 0; {
		var pair []byte
		pair, p = nextPair(p)
		if len(pair) == 0 {
			continue
		}
		if key, _, ok := splitPair(pair); ok {
			if match, _ := keyIs(key, name); match {
				continue
			}
		}
		if len(rest) > 0 {
			rest = append(rest, '&')
		}
		rest = append(rest, pair...)
	}
	return rest, string(last), true, nil
}

// nextPair splits off the first parameter of q at '&' or ';'.
func nextPair(q []byte) (pair, rest []byte) {
	for i, c := range q {
		if c == '&' || c == ';' {
			return q[:i], q[i+1:]
		}
	}
	return q, nil
}

// splitPair splits a parameter into its raw name and raw value the way
// Elasticsearch does; ok is false when the pair names no parameter.
func splitPair(pair []byte) (key, val []byte, ok bool) {
	i := 0
	for i < len(pair) && pair[i] == '=' {
		i++
	}
	pair = pair[i:]
	if len(pair) == 0 {
		return nil, nil, false
	}
	if j := bytes.IndexByte(pair, '='); j >= 0 {
		return pair[:j], pair[j+1:], true
	}
	return pair, nil, true
}

// keyIs reports whether the raw parameter name key decodes to name. Every
// escape in key is checked, also after a mismatch.
func keyIs(key []byte, name string) (bool, error) {
	eq := true
	n := 0
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(key) {
				return false, ErrQueryEncoding
			}
			hi, lo := unhex(key[i+1]), unhex(key[i+2])
			if hi > 15 || lo > 15 {
				return false, ErrQueryEncoding
			}
			c = hi<<4 | lo
			i += 2
		}
		if eq && n < len(name) && name[n] == c {
			n++
		} else {
			eq = false
		}
	}
	return eq && n == len(name), nil
}

// decodeQueryValue appends the decoded query value v to dst: '+' is a space,
// %XX a byte, and the result must be valid UTF-8.
func decodeQueryValue(dst, v []byte) ([]byte, error) {
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(v) {
				return dst, ErrQueryEncoding
			}
			hi, lo := unhex(v[i+1]), unhex(v[i+2])
			if hi > 15 || lo > 15 {
				return dst, ErrQueryEncoding
			}
			c = hi<<4 | lo
			i += 2
		}
		dst = append(dst, c)
	}
	if !utf8.Valid(dst) {
		return dst, ErrQueryUTF8
	}
	return dst, nil
}

// isASCII reports whether s is a non-empty ASCII string.
func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return s != ""
}
