package searchctx

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrMalformed is wrapped by every error of ParseScroll and ParsePIT: the
// id is not one Elasticsearch could have made.
var ErrMalformed = errors.New("malformed search context id")

// errEOF is a read beyond the end of the decoded bytes; Elasticsearch
// reports it as an EOFException.
var errEOF = fmt.Errorf("%w: truncated", ErrMalformed)

// IsTruncated reports whether err is a parse that ran out of bytes
// (Elasticsearch's EOFException), as opposed to bytes it could not read.
func IsTruncated(err error) bool { return errors.Is(err, errEOF) }

// maxIDLen bounds the ids decoded: a scroll or PIT id names one context
// per shard, a few dozen bytes each.
const maxIDLen = 1 << 20

// ScrollContext is one shard context a scroll id names.
type ScrollContext struct {
	// SessionID is the node's search session ("" in ids made before
	// include_context_uuid).
	SessionID string
	// ID is the context's number on its node, which Elasticsearch quotes
	// in "No search context found for id [<ID>]".
	ID int64
	// Node is the node id; ClusterAlias is set for a remote cluster's.
	Node, ClusterAlias string
}

// Scroll id types (ParsedScrollId).
const (
	scrollQueryThenFetch = "queryThenFetch"
	scrollQueryAndFetch  = "queryAndFetch"
	includeContextUUID   = "include_context_uuid"
)

// ParseScroll decodes a scroll id as Elasticsearch 8's
// TransportSearchHelper.parseScrollId does: base64url, then an optional
// "include_context_uuid" marker, the search type, and per shard context
// the session id, the context number and the node ("alias:node" for a
// remote cluster). Every byte must be read. Errors wrap ErrMalformed.
func ParseScroll(id string) ([]ScrollContext, error) {
	b, err := decodeBase64URL(id)
	if err != nil {
		return nil, err
	}
	r := reader{b: b}
	first, err := r.string()
	if err != nil {
		return nil, err
	}
	withUUID := first == includeContextUUID
	typ := first
	if withUUID {
		if typ, err = r.string(); err != nil {
			return nil, err
		}
	}
	if typ != scrollQueryThenFetch && typ != scrollQueryAndFetch {
		// Elasticsearch reads any type here and fails later; no id it
		// makes has another.
		return nil, fmt.Errorf("%w: scroll type %q", ErrMalformed, typ)
	}
	n, err := r.arraySize()
	if err != nil {
		return nil, err
	}
	out := make([]ScrollContext, 0, n)
	for range n {
		var c ScrollContext
		if withUUID {
			if c.SessionID, err = r.string(); err != nil {
				return nil, err
			}
		}
		if c.ID, err = r.long(); err != nil {
			return nil, err
		}
		target, err := r.string()
		if err != nil {
			return nil, err
		}
		if alias, node, ok := strings.Cut(target, ":"); ok {
			c.ClusterAlias, c.Node = alias, node
		} else {
			c.Node = target
		}
		out = append(out, c)
	}
	if r.left() > 0 {
		return nil, fmt.Errorf("%w: not all bytes were read", ErrMalformed)
	}
	return out, nil
}

// PITShard is one shard a point-in-time id names.
type PITShard struct {
	Index     string
	IndexUUID string
	Shard     int
	// Node is "" for a shard the PIT could not open (partial PIT).
	Node, ClusterAlias string
	// HasContext is false for a shard without a context (partial PIT);
	// ID and SessionID are then zero.
	HasContext bool
	ID         int64
	SessionID  string
}

// transportV8_16_0 is the transport version from which a PIT id's node and
// context are optional (TransportVersions.V_8_16_0).
const transportV8_16_0 = 8_772_0_01

// ParsePIT decodes the shards of a point-in-time id as Elasticsearch 8's
// SearchContextId.decode reads them: base64url, the transport version,
// then per shard its ShardId (index name, index UUID, number) and its
// SearchContextIdForNode (node, cluster alias, context: optional from
// 8.16). The alias filters that follow are not read (they may hold
// queries); a PIT id is never trusted for more than naming its shards.
// Errors wrap ErrMalformed.
func ParsePIT(id string) ([]PITShard, error) {
	b, err := decodeBase64URL(id)
	if err != nil {
		return nil, err
	}
	r := reader{b: b}
	version, err := r.vint()
	if err != nil {
		return nil, err
	}
	optional := version >= transportV8_16_0
	n, err := r.arraySize()
	if err != nil {
		return nil, err
	}
	out := make([]PITShard, 0, n)
	for range n {
		var s PITShard
		if s.Index, err = r.string(); err != nil {
			return nil, err
		}
		if s.IndexUUID, err = r.string(); err != nil {
			return nil, err
		}
		shard, err := r.vint()
		if err != nil {
			return nil, err
		}
		s.Shard = int(shard)
		if optional {
			s.Node, _, err = r.optionalString()
		} else {
			s.Node, err = r.string()
		}
		if err != nil {
			return nil, err
		}
		if s.ClusterAlias, _, err = r.optionalString(); err != nil {
			return nil, err
		}
		s.HasContext = true
		if optional {
			if s.HasContext, err = r.boolean(); err != nil {
				return nil, err
			}
		}
		if s.HasContext {
			if s.ID, err = r.long(); err != nil {
				return nil, err
			}
			if s.SessionID, err = r.string(); err != nil {
				return nil, err
			}
			if _, _, err = r.optionalString(); err != nil { // searcher id
				return nil, err
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// decodeBase64URL decodes as Java's Base64.getUrlDecoder(): the URL-safe
// alphabet, padding accepted but not required.
func decodeBase64URL(id string) ([]byte, error) {
	if len(id) > maxIDLen {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(id))
	}
	s := id
	for i := 0; i < 2 && strings.HasSuffix(s, "="); i++ {
		s = s[:len(s)-1]
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return b, nil
}

// reader reads Elasticsearch's StreamInput encoding.
type reader struct {
	b []byte
	i int
}

func (r *reader) left() int { return len(r.b) - r.i }

func (r *reader) byte() (byte, error) {
	if r.i >= len(r.b) {
		return 0, errEOF
	}
	c := r.b[r.i]
	r.i++
	return c, nil
}

// vint is StreamInput.readVInt: up to five 7-bit groups, low first.
func (r *reader) vint() (uint32, error) {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		if shift == 28 && c&0xf0 != 0 {
			return 0, fmt.Errorf("%w: invalid vInt", ErrMalformed)
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: invalid vInt", ErrMalformed)
}

// arraySize is StreamInput.readArraySize: a non-negative vint no larger
// than the bytes left (every element takes one at least).
func (r *reader) arraySize() (int, error) {
	n, err := r.vint()
	if err != nil {
		return 0, err
	}
	if int32(n) < 0 {
		return 0, fmt.Errorf("%w: negative array size", ErrMalformed)
	}
	if int(n) > r.left() {
		return 0, errEOF
	}
	return int(n), nil
}

func (r *reader) long() (int64, error) {
	if r.left() < 8 {
		r.i = len(r.b)
		return 0, errEOF
	}
	v := binary.BigEndian.Uint64(r.b[r.i:])
	r.i += 8
	return int64(v), nil
}

func (r *reader) boolean() (bool, error) {
	c, err := r.byte()
	if err != nil {
		return false, err
	}
	switch c {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, fmt.Errorf("%w: invalid boolean %d", ErrMalformed, c)
}

// string is StreamInput.readString: a vint count of UTF-16 units, each
// written as one to three bytes of (modified) UTF-8.
func (r *reader) string() (string, error) {
	n, err := r.arraySize()
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(n)
	for range n {
		c, err := r.byte()
		if err != nil {
			return "", err
		}
		var u rune
		switch c >> 4 {
		case 0, 1, 2, 3, 4, 5, 6, 7:
			u = rune(c)
		case 12, 13:
			c2, err := r.byte()
			if err != nil {
				return "", err
			}
			u = rune(c&0x1f)<<6 | rune(c2&0x3f)
		case 14:
			c2, err := r.byte()
			if err != nil {
				return "", err
			}
			c3, err := r.byte()
			if err != nil {
				return "", err
			}
			u = rune(c&0x0f)<<12 | rune(c2&0x3f)<<6 | rune(c3&0x3f)
		default:
			return "", fmt.Errorf("%w: invalid string", ErrMalformed)
		}
		if !utf8.ValidRune(u) {
			u = utf8.RuneError // a lone surrogate: ids never hold one
		}
		sb.WriteRune(u)
	}
	return sb.String(), nil
}

func (r *reader) optionalString() (string, bool, error) {
	ok, err := r.boolean()
	if err != nil || !ok {
		return "", false, err
	}
	s, err := r.string()
	return s, true, err
}
