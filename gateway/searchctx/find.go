package searchctx

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Scan is what FindString learned from a prefix of an answer.
type Scan uint8

const (
	// More: the prefix ends before the member or the object.
	More Scan = iota
	// Found: the member is there, a string.
	Found
	// Absent: the object ended without the member, the member is not a
	// string, or the answer is not a JSON object: it holds no id.
	Absent
)

// FindString looks for the top-level member key of the JSON object that
// begins b, a prefix of an answer, and returns its string value. Only
// members of the outermost object count: a document in the hits that has
// a "_scroll_id" field is skipped whole, so that an answer can never bind
// an id someone wrote into a document. It reads b only as far as needed
// and never panics; Elasticsearch writes the ids first, so a few hundred
// bytes usually decide.
func FindString(b []byte, key string) (string, Scan) {
	s := scanner{b: b}
	s.ws()
	c, ok := s.peek()
	if !ok {
		return "", More
	}
	if c != '{' {
		return "", Absent
	}
	s.i++
	for first := true; ; first = false {
		s.ws()
		c, ok := s.peek()
		if !ok {
			return "", More
		}
		if c == '}' {
			return "", Absent
		}
		if !first {
			if c != ',' {
				return "", Absent
			}
			s.i++
			s.ws()
		}
		k, st := s.str()
		if st != Found {
			return "", st
		}
		s.ws()
		if c, ok := s.peek(); !ok {
			return "", More
		} else if c != ':' {
			return "", Absent
		}
		s.i++
		s.ws()
		if k == key {
			c, ok := s.peek()
			if !ok {
				return "", More
			}
			if c != '"' {
				return "", Absent
			}
			return s.str()
		}
		if st := s.skip(0); st != Found {
			return "", st
		}
	}
}

// maxDepth bounds the nesting FindString skips through.
const maxDepth = 256

type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	return s.b[s.i], true
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

// str reads a string token at s.i and returns it unescaped.
func (s *scanner) str() (string, Scan) {
	if c, ok := s.peek(); !ok {
		return "", More
	} else if c != '"' {
		return "", Absent
	}
	start := s.i
	escaped := false
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '\\':
			escaped = true
			j++
		case c == '"':
			s.i = j + 1
			tok := s.b[start:s.i]
			if !escaped {
				return string(tok[1 : len(tok)-1]), Found
			}
			var v string
			if err := json.Unmarshal(tok, &v); err != nil {
				return "", Absent
			}
			return v, Found
		case c < 0x20:
			return "", Absent
		}
	}
	return "", More
}

// skip passes one value of any type; Found means it was read whole.
func (s *scanner) skip(depth int) Scan {
	if depth > maxDepth {
		return Absent
	}
	c, ok := s.peek()
	if !ok {
		return More
	}
	switch c {
	case '"':
		_, st := s.str()
		return st
	case '{', '[':
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		s.i++
		for first := true; ; first = false {
			s.ws()
			c, ok := s.peek()
			if !ok {
				return More
			}
			if c == end {
				s.i++
				return Found
			}
			if !first {
				if c != ',' {
					return Absent
				}
				s.i++
				s.ws()
			}
			if end == '}' {
				if _, st := s.str(); st != Found {
					return st
				}
				s.ws()
				if c, ok := s.peek(); !ok {
					return More
				} else if c != ':' {
					return Absent
				}
				s.i++
				s.ws()
			}
			if st := s.skip(depth + 1); st != Found {
				return st
			}
		}
	}
	// A number or a literal: up to the next delimiter.
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\r', '\n':
			if s.i == start {
				return Absent
			}
			return Found
		}
		s.i++
	}
	return More
}

// ParseKeepAlive reads a keep-alive as Elasticsearch's
// TimeValue.parseTimeValue does: a whole number followed by one of nanos,
// micros, ms, s, m, h, d (case-insensitive, spaces around allowed). It
// reports false for anything else, including zero, negative and
// fractional values: the caller then assumes a default, and Elasticsearch
// refuses the request if it cannot read it either.
func ParseKeepAlive(v string) (time.Duration, bool) {
	v = strings.ToLower(strings.TrimSpace(v))
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
		if err != nil || n <= 0 || n > int64(1<<62)/int64(u.unit) {
			return 0, false
		}
		return time.Duration(n) * u.unit, true
	}
	return 0, false
}
