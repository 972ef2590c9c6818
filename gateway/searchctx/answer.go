package searchctx

import (
	"bytes"
	"cmp"
	"encoding/json"
	"slices"
	"strconv"
)

// The answers below are Elasticsearch 8.19's, byte for byte as a node
// gives them for contexts that do not exist (checked against a real node:
// a cleared scroll, a closed PIT). The gateway gives them for contexts
// that are not the caller's, so that the caller cannot tell one from the
// other, as with Elasticsearch's own security.

// MissingScroll is the 404 of a scroll continuation whose contexts do not
// exist (SearchContextMissingException per context, in the id's order,
// the last one as the cause).
func MissingScroll(contexts []ScrollContext) []byte {
	b := []byte(`{"error":{"root_cause":[`)
	for i, c := range contexts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMissing(b, c.ID)
	}
	b = append(b, `],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[`...)
	for i, c := range contexts {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"shard":-1,"index":null,"reason":`...)
		b = appendMissing(b, c.ID)
		b = append(b, '}')
	}
	b = append(b, ']')
	if len(contexts) > 0 {
		b = append(b, `,"caused_by":`...)
		b = appendMissing(b, contexts[len(contexts)-1].ID)
	}
	return append(b, `},"status":404}`...)
}

// MissingPIT is the 404 of a search with a point in time whose contexts
// do not exist: one failure per shard, by index and shard number. Shards
// the PIT holds no context for are left out.
func MissingPIT(shards []PITShard) []byte {
	shards = slices.Clone(shards)
	slices.SortStableFunc(shards, func(a, b PITShard) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.Shard, b.Shard))
	})
	shards = slices.DeleteFunc(shards, func(s PITShard) bool { return !s.HasContext })
	b := []byte(`{"error":{"root_cause":[`)
	for i, s := range shards {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendMissing(b, s.ID)
	}
	b = append(b, `],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[`...)
	for i, s := range shards {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"shard":`...)
		b = strconv.AppendInt(b, int64(s.Shard), 10)
		b = append(b, `,"index":`...)
		b = appendString(b, s.Name())
		b = append(b, `,"node":`...)
		b = appendString(b, s.Node)
		b = append(b, `,"reason":`...)
		b = appendMissing(b, s.ID)
		b = append(b, '}')
	}
	return append(b, `]},"status":404}`...)
}

// UnparsableScroll is the 400 of a scroll id Elasticsearch cannot parse.
// The cause is the EOFException of a truncated id (the usual case) or the
// IllegalArgumentException of bytes that are no id.
func UnparsableScroll(truncated bool) []byte {
	cause := `{"type":"illegal_argument_exception","reason":"invalid scroll id"}`
	if truncated {
		cause = `{"type":"e_o_f_exception","reason":null}`
	}
	return []byte(`{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Cannot parse scroll id"}],` +
		`"type":"illegal_argument_exception","reason":"Cannot parse scroll id","caused_by":` + cause + `},"status":400}`)
}

// UnparsablePIT is the 400 of a point-in-time id Elasticsearch cannot
// decode.
func UnparsablePIT(id string) []byte {
	reason := appendString(nil, "invalid id: ["+id+"]")
	b := []byte(`{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":`)
	b = append(b, reason...)
	b = append(b, `}],"type":"illegal_argument_exception","reason":`...)
	b = append(b, reason...)
	return append(b, `},"status":400}`...)
}

// MissingAsync is the 404 of an async search (EQL, SQL, ES|QL) result that
// does not exist: ResourceNotFoundException with the id as its reason.
func MissingAsync(id string) []byte {
	b := []byte(`{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":`)
	b = appendString(b, id)
	b = append(b, `}],"type":"resource_not_found_exception","reason":`...)
	b = appendString(b, id)
	return append(b, `},"status":404}`...)
}

// NoScrollFreed is the 404 answer of a clear scroll that freed nothing.
var NoScrollFreed = []byte(`{"succeeded":true,"num_freed":0}`)

// NoPITFreed is the 404 answer of a close point in time that freed
// nothing.
var NoPITFreed = []byte(`{"succeeded":false,"num_freed":0}`)

func appendMissing(b []byte, id int64) []byte {
	b = append(b, `{"type":"search_context_missing_exception","reason":"No search context found for id [`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, `]"}`...)
}

// Name is the shard's index as an index expression: "alias:index" for a
// remote cluster's.
func (s PITShard) Name() string {
	if s.ClusterAlias != "" {
		return s.ClusterAlias + ":" + s.Index
	}
	return s.Index
}

// appendString appends s as a JSON string, without the HTML escapes
// encoding/json adds by default (Elasticsearch writes none).
func appendString(b []byte, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
