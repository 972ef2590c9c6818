package gateway

import (
	"strconv"

	"github.com/portcullis/portcullis/gateway/classify"
)

// _msearch searches: see items.go. Elasticsearch authorizes each search
// (indices:data/read/search) on its indices, and renders a failed one in
// "responses" as {"error":{"root_cause":[…],"type","reason"},"status":403}.

// msearchBody is an _msearch body cut into its searches.
type msearchBody struct {
	plain []byte
	items []classify.MsearchItem
}

func cutMsearch(plain []byte, _ classify.Result) (multiBody, error) {
	items, err := classify.MsearchItems(plain)
	if err != nil {
		return nil, err
	}
	return &msearchBody{plain: plain, items: items}, nil
}

func (b *msearchBody) count() int { return len(b.items) }

func (b *msearchBody) invalid() string { return "" }

// forward is the allowed searches' lines, byte for byte, but a blank header
// line, which is written "{}" (the same defaults): at the start of the body
// Elasticsearch would skip an empty line.
func (b *msearchBody) forward(refused map[int]*itemRefusal) []byte {
	out := make([]byte, 0, len(b.plain))
	for i, it := range b.items {
		if _, ok := refused[i]; ok {
			continue
		}
		if it.BlankHeader {
			out = append(out, "{}\n"...)
			out = append(out, b.plain[it.HeaderEnd:it.End]...)
			continue
		}
		out = append(out, b.plain[it.Start:it.End]...)
	}
	return out
}

func (b *msearchBody) render(_ int, rf *itemRefusal) []byte {
	out := make([]byte, 0, 64+2*len(rf.reason))
	out = append(out, `{"error":`...)
	out = appendSecurityError(out, rf, true)
	out = append(out, `,"status":`...)
	out = strconv.AppendInt(out, int64(rf.status), 10)
	return append(out, '}')
}
