package gateway

import (
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/internal/jsonstr"
)

// _bulk items: see items.go. Elasticsearch authorizes each bulk shard
// request (bulk[s]) on its index, then each item's implied action on it
// (AuthorizationService.authorizeBulkItems), and renders a refused item as
// an aborted one: {"<op>":{"_index","_id","status":403,"error":{…}}}.

// bulkShardAction is the action Elasticsearch authorizes on each shard's
// index before the items' own actions.
const bulkShardAction = "indices:data/write/bulk[s]"

// bulkBody is a _bulk body cut into its items.
type bulkBody struct {
	plain []byte
	items []classify.BulkItem
	res   classify.Result
}

func cutBulk(plain []byte, res classify.Result) (multiBody, error) {
	items, err := classify.BulkItems(plain)
	if err != nil {
		return nil, err
	}
	return &bulkBody{plain: plain, items: items, res: res}, nil
}

func (b *bulkBody) count() int { return len(b.items) }

// invalid: Elasticsearch's validation failure for items with no index
// (none in the action line, none in the path).
func (b *bulkBody) invalid() string {
	var s strings.Builder
	n := 0
	for _, t := range b.res.Targets {
		if len(t.Indices) == 0 {
			n++
			if n == 1 {
				s.WriteString("Validation Failed: ")
			}
			s.WriteString(strconv.Itoa(n) + ": index is missing;")
		}
	}
	return s.String()
}

// forward is the allowed items' lines, byte for byte.
func (b *bulkBody) forward(refused map[int]*itemRefusal) []byte {
	out := make([]byte, 0, len(b.plain))
	for i, it := range b.items {
		if _, ok := refused[i]; !ok {
			out = append(out, b.plain[it.Start:it.End]...)
		}
	}
	return out
}

func (b *bulkBody) render(i int, rf *itemRefusal) []byte {
	index := ""
	if len(rf.indices) > 0 {
		index = rf.indices[0]
	}
	return bulkRefusalItem(b.items[i], index, rf)
}

// bulkRefusalItem renders a refused item as Elasticsearch renders an
// aborted one (BulkItemResponse with a Failure):
// {"<op>":{"_index":…,"_id":…,"status":403,"error":{"type":"security_exception","reason":…}}}.
func bulkRefusalItem(it classify.BulkItem, index string, rf *itemRefusal) []byte {
	b := make([]byte, 0, 160+len(rf.reason))
	b = append(b, `{"`...)
	b = append(b, it.Op...)
	b = append(b, `":{"_index":`...)
	b = jsonstr.AppendJackson(b, index)
	b = append(b, `,"_id":`...)
	if it.HasID {
		b = jsonstr.AppendJackson(b, it.ID)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(rf.status), 10)
	b = append(b, `,"error":`...)
	b = appendSecurityError(b, rf, false)
	return append(b, "}}"...)
}
