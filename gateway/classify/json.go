package classify

import (
	"bytes"
	"unicode/utf8"
)

// maxDepth bounds JSON nesting (Jackson's default StreamReadConstraints
// allow 1000); deeper input is rejected, so recursion is bounded.
const maxDepth = 1000

// parser is a strict, allocation-light JSON reader over one value. It is
// stricter than Elasticsearch's Jackson setup where that is lenient:
// comments, NaN/Infinity, leading zeros, raw control characters in strings,
// invalid UTF-8 and duplicate keys (Elasticsearch rejects those too) are all
// errors. Keys are compared after unescaping ("\u005findex" is "_index") and
// case-sensitively.
type parser struct {
	b     []byte
	i     int
	depth int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (p *parser) ws() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *parser) peek() byte {
	p.ws()
	if p.i >= len(p.b) {
		return 0
	}
	return p.b[p.i]
}

// end reports an error unless only whitespace remains.
func (p *parser) end() error {
	p.ws()
	if p.i != len(p.b) {
		return ErrJSON
	}
	return nil
}

// keySet detects duplicate keys within one object: a short linear list,
// then a map for large objects.
type keySet struct {
	small [16][]byte
	n     int
	big   map[string]struct{}
}

func (k *keySet) add(key []byte) bool {
	if k.big != nil {
		if _, dup := k.big[string(key)]; dup {
			return false
		}
		k.big[string(key)] = struct{}{}
		return true
	}
	for _, s := range k.small[:k.n] {
		if bytes.Equal(s, key) {
			return false
		}
	}
	if k.n < len(k.small) {
		k.small[k.n] = key
		k.n++
		return true
	}
	k.big = make(map[string]struct{}, 2*len(k.small))
	for _, s := range k.small {
		k.big[string(s)] = struct{}{}
	}
	k.big[string(key)] = struct{}{}
	return true
}

// objectIter iterates over the members of an object without closures, so
// the hot paths (bulk action lines, msearch headers) do not allocate.
type objectIter struct {
	seen  keySet
	first bool
}

// openObject consumes '{' and prepares it.
func (p *parser) openObject(it *objectIter) error {
	if p.peek() != '{' {
		return ErrBodyShape
	}
	if p.depth++; p.depth > maxDepth {
		return ErrTooDeep
	}
	p.i++
	it.first = true
	return nil
}

// nextKey returns the next key with the parser positioned at its value
// (which the caller must consume), or ok=false after the closing '}'.
// Duplicate keys are an error.
func (p *parser) nextKey(it *objectIter) (key []byte, ok bool, err error) {
	c := p.peek()
	if it.first {
		it.first = false
		if c == '}' {
			p.i++
			p.depth--
			return nil, false, nil
		}
	} else {
		switch c {
		case ',':
			p.i++
			c = p.peek()
		case '}':
			p.i++
			p.depth--
			return nil, false, nil
		default:
			return nil, false, ErrJSON
		}
	}
	if c != '"' {
		return nil, false, ErrJSON
	}
	if key, err = p.str(); err != nil {
		return nil, false, err
	}
	if !it.seen.add(key) {
		return nil, false, ErrDuplicateKey
	}
	if p.peek() != ':' {
		return nil, false, ErrJSON
	}
	p.i++
	return key, true, nil
}

// object reads an object, calling fn for every key with the parser
// positioned at the value; fn must consume the value (p.skip() when not
// interested). Duplicate keys are an error.
func (p *parser) object(fn func(key []byte) error) error {
	var it objectIter
	if err := p.openObject(&it); err != nil {
		return err
	}
	for {
		key, ok, err := p.nextKey(&it)
		if err != nil || !ok {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
	}
}

// skipObject validates and consumes an object without closures.
func (p *parser) skipObject() error {
	var it objectIter
	if err := p.openObject(&it); err != nil {
		return err
	}
	for {
		_, ok, err := p.nextKey(&it)
		if err != nil || !ok {
			return err
		}
		if err := p.skip(); err != nil {
			return err
		}
	}
}

// array reads an array, calling fn with the parser positioned at each
// element; fn must consume it.
func (p *parser) array(fn func() error) error {
	if p.peek() != '[' {
		return ErrBodyShape
	}
	if p.depth++; p.depth > maxDepth {
		return ErrTooDeep
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		p.depth--
		return nil
	}
	for {
		if err := fn(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return nil
		default:
			return ErrJSON
		}
	}
}

// skipArray validates and consumes an array without closures.
func (p *parser) skipArray() error {
	if p.peek() != '[' {
		return ErrBodyShape
	}
	if p.depth++; p.depth > maxDepth {
		return ErrTooDeep
	}
	p.i++
	if p.peek() == ']' {
		p.i++
		p.depth--
		return nil
	}
	for {
		if err := p.skip(); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			p.depth--
			return nil
		default:
			return ErrJSON
		}
	}
}

// skip validates and consumes one value of any type.
func (p *parser) skip() error {
	switch c := p.peek(); c {
	case '{':
		return p.skipObject()
	case '[':
		return p.skipArray()
	case '"':
		_, err := p.str()
		return err
	case 't':
		return p.lit("true")
	case 'f':
		return p.lit("false")
	case 'n':
		return p.lit("null")
	default:
		if c == '-' || ('0' <= c && c <= '9') {
			return p.num()
		}
		return ErrJSON
	}
}

func (p *parser) lit(s string) error {
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return ErrJSON
	}
	p.i += len(s)
	return nil
}

// num consumes a number in JSON's grammar.
func (p *parser) num() error {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return ErrJSON
	}
	if i < len(b) && b[i] == '.' {
		i++
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == s {
			return ErrJSON
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		s := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == s {
			return ErrJSON
		}
	}
	p.i = i
	return nil
}

// str consumes a string and returns its decoded content: a sub-slice of
// the input when it has no escapes, else a new slice.
func (p *parser) str() ([]byte, error) {
	if p.peek() != '"' {
		return nil, ErrBodyShape
	}
	b := p.b
	start := p.i + 1
	i := start
	ascii := true
	for i < len(b) {
		c := b[i]
		if c == '"' {
			s := b[start:i]
			if !ascii && !utf8.Valid(s) {
				return nil, ErrJSON
			}
			p.i = i + 1
			return s, nil
		}
		if c == '\\' {
			return p.strEscaped(start)
		}
		if c < 0x20 {
			return nil, ErrJSON
		}
		if c >= utf8.RuneSelf {
			ascii = false
		}
		i++
	}
	return nil, ErrJSON
}

func (p *parser) strEscaped(start int) ([]byte, error) {
	b := p.b
	out := make([]byte, 0, 32)
	for i := start; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return nil, ErrJSON
			}
			p.i = i + 1
			return out, nil
		case c < 0x20:
			return nil, ErrJSON
		case c != '\\':
			out = append(out, c)
			i++
			continue
		}
		if i+1 >= len(b) {
			return nil, ErrJSON
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(b, i)
			if !ok {
				return nil, ErrJSON
			}
			i += 4
			if utf16Surrogate(r) {
				// A high surrogate must be followed by an escaped low one;
				// a lone surrogate is rejected (Jackson rejects it too).
				if r >= 0xDC00 || i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
					return nil, ErrJSON
				}
				r2, ok := hex4(b, i+2)
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return nil, ErrJSON
				}
				i += 6
				r = 0x10000 + (r-0xD800)<<10 + (r2 - 0xDC00)
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, ErrJSON
		}
	}
	return nil, ErrJSON
}

func utf16Surrogate(r rune) bool { return 0xD800 <= r && r <= 0xDFFF }

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		v := unhex(c)
		if v > 15 {
			return 0, false
		}
		r = r<<4 | rune(v)
	}
	return r, true
}

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

// stringValue reads a JSON string value.
func (p *parser) stringValue() (string, error) {
	s, err := p.str()
	if err != nil {
		return "", err
	}
	return string(s), nil
}

// stringList reads a string or an array of strings. A string is split as
// an Elasticsearch comma list when split is set; array elements are taken
// whole, as Elasticsearch takes them.
func (p *parser) stringList(split bool) ([]string, error) {
	if p.peek() == '"' {
		s, err := p.stringValue()
		if err != nil {
			return nil, err
		}
		if split {
			return SplitList(s), nil
		}
		return []string{s}, nil
	}
	var out []string
	err := p.array(func() error {
		s, err := p.stringValue()
		if err != nil {
			return err
		}
		out = append(out, s)
		return nil
	})
	if out == nil && err == nil {
		out = []string{}
	}
	return out, err
}

// validJSON checks that b holds exactly one strict JSON value.
func validJSON(b []byte) error {
	p := parser{b: b}
	if err := p.skip(); err != nil {
		return err
	}
	return p.end()
}
