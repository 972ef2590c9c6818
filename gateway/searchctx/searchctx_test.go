package searchctx

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Ids and answers captured from Elasticsearch 8.19.7 (scripts/elasticsearch):
// a scroll over two shards and one over one shard, a PIT over two shards,
// and what the node answered once they were cleared or closed.
const (
	scroll2 = "FGluY2x1ZGVfY29udGV4dF91dWlkDnF1ZXJ5VGhlbkZldGNoAhZJcVdnaW81alFoVzlYU09xMEFpYmtRAAAAAAAAAAQWQ3FXNDRIcGFTcGVxd1RjSGVXVTFwZxZJcVdnaW81alFoVzlYU09xMEFpYmtRAAAAAAAAAAUWQ3FXNDRIcGFTcGVxd1RjSGVXVTFwZw=="
	scroll1 = "FGluY2x1ZGVfY29udGV4dF91dWlkDXF1ZXJ5QW5kRmV0Y2gBFm5aMDVHSHZtVEJlcGFyV0VwTmdGRWcAAAAAAAAA8hZDcVc0NEhwYVNwZXF3VGNIZVdVMXBn"
	pit2    = "8M6bBAIKY3R4cHJvYmUtMRZ0RWpadlZETFFGU20zRFV0SEJpdFBRAAEWQ3FXNDRIcGFTcGVxd1RjSGVXVTFwZwABAAAAAAAAAAsWSXFXZ2lvNWpRaFc5WFNPcTBBaWJrUQAKY3R4cHJvYmUtMRZ0RWpadlZETFFGU20zRFV0SEJpdFBRAQEWQ3FXNDRIcGFTcGVxd1RjSGVXVTFwZwABAAAAAAAAAAwWSXFXZ2lvNWpRaFc5WFNPcTBBaWJrUQABFnRFalp2VkRMUUZTbTNEVXRIQml0UFEAAA=="

	missingScroll2 = `{"error":{"root_cause":[{"type":"search_context_missing_exception","reason":"No search context found for id [4]"},{"type":"search_context_missing_exception","reason":"No search context found for id [5]"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":-1,"index":null,"reason":{"type":"search_context_missing_exception","reason":"No search context found for id [4]"}},{"shard":-1,"index":null,"reason":{"type":"search_context_missing_exception","reason":"No search context found for id [5]"}}],"caused_by":{"type":"search_context_missing_exception","reason":"No search context found for id [5]"}},"status":404}`
	missingScroll1 = `{"error":{"root_cause":[{"type":"search_context_missing_exception","reason":"No search context found for id [242]"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":-1,"index":null,"reason":{"type":"search_context_missing_exception","reason":"No search context found for id [242]"}}],"caused_by":{"type":"search_context_missing_exception","reason":"No search context found for id [242]"}},"status":404}`
	missingPIT2    = `{"error":{"root_cause":[{"type":"search_context_missing_exception","reason":"No search context found for id [11]"},{"type":"search_context_missing_exception","reason":"No search context found for id [12]"}],"type":"search_phase_execution_exception","reason":"all shards failed","phase":"query","grouped":true,"failed_shards":[{"shard":0,"index":"ctxprobe-1","node":"CqW44HpaSpeqwTcHeWU1pg","reason":{"type":"search_context_missing_exception","reason":"No search context found for id [11]"}},{"shard":1,"index":"ctxprobe-1","node":"CqW44HpaSpeqwTcHeWU1pg","reason":{"type":"search_context_missing_exception","reason":"No search context found for id [12]"}}]},"status":404}`
	unparsable     = `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Cannot parse scroll id"}],"type":"illegal_argument_exception","reason":"Cannot parse scroll id","caused_by":{"type":"e_o_f_exception","reason":null}},"status":400}`
)

func TestParseScroll(t *testing.T) {
	tests := []struct {
		name      string
		id        string
		want      []ScrollContext
		truncated bool
		err       bool
	}{
		{name: "two shards", id: scroll2, want: []ScrollContext{
			{SessionID: "IqWgio5jQhW9XSOq0AibkQ", ID: 4, Node: "CqW44HpaSpeqwTcHeWU1pg"},
			{SessionID: "IqWgio5jQhW9XSOq0AibkQ", ID: 5, Node: "CqW44HpaSpeqwTcHeWU1pg"}}},
		{name: "one shard, query and fetch, unpadded", id: scroll1, want: []ScrollContext{
			{SessionID: "nZ05GHvmTBeparWEpNgFEg", ID: 242, Node: "CqW44HpaSpeqwTcHeWU1pg"}}},
		{name: "without session ids, remote node", id: enc("\x0equeryThenFetch\x01" + "\x00\x00\x00\x00\x00\x00\x00\x07" + "\x06rc:n01"),
			want: []ScrollContext{{ID: 7, Node: "n01", ClusterAlias: "rc"}}},
		{name: "garbage decodes short", id: "garbage", err: true, truncated: true},
		{name: "marker alone", id: "FGluY2x1ZGVfY29udGV4dF91dWlk", err: true, truncated: true},
		{name: "trailing bytes", id: enc("\x0equeryThenFetch\x00\x00"), err: true},
		{name: "standard alphabet", id: strings.ReplaceAll(scroll2, "_", "/") + "+", err: true},
		{name: "unknown type", id: enc("\x03abc\x00"), err: true},
		{name: "count beyond the bytes", id: enc("\x0equeryThenFetch\x7f"), err: true, truncated: true},
		{name: "empty", id: "", err: true, truncated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseScroll(tt.id)
			if tt.err {
				if !errors.Is(err, ErrMalformed) || IsTruncated(err) != tt.truncated {
					t.Fatalf("error = %v (truncated %v), want ErrMalformed (truncated %v)", err, IsTruncated(err), tt.truncated)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func enc(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestParsePIT(t *testing.T) {
	got, err := ParsePIT(pit2)
	if err != nil {
		t.Fatal(err)
	}
	want := []PITShard{
		{Index: "ctxprobe-1", IndexUUID: "tEjZvVDLQFSm3DUtHBitPQ", Shard: 0, Node: "CqW44HpaSpeqwTcHeWU1pg", HasContext: true, ID: 11, SessionID: "IqWgio5jQhW9XSOq0AibkQ"},
		{Index: "ctxprobe-1", IndexUUID: "tEjZvVDLQFSm3DUtHBitPQ", Shard: 1, Node: "CqW44HpaSpeqwTcHeWU1pg", HasContext: true, ID: 12, SessionID: "IqWgio5jQhW9XSOq0AibkQ"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	// An 8.15 id: node and context are not optional.
	old := enc("\x83\xf1\xe8\x03" + "\x01" + "\x01i\x01u\x02" + "\x01n" + "\x00" + "\x00\x00\x00\x00\x00\x00\x00\x09\x01s\x00")
	got, err = ParsePIT(old)
	if err != nil {
		t.Fatal(err)
	}
	if want := []PITShard{{Index: "i", IndexUUID: "u", Shard: 2, Node: "n", HasContext: true, ID: 9, SessionID: "s"}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("8.15 id: got %+v", got)
	}
	// A partial PIT: a shard without node or context.
	partial := enc("\xf0\xce\x9b\x04" + "\x01" + "\x01i\x01u\x00" + "\x00" + "\x00" + "\x00")
	got, err = ParsePIT(partial)
	if err != nil || len(got) != 1 || got[0].HasContext || got[0].Node != "" {
		t.Fatalf("partial: %+v %v", got, err)
	}
	for _, bad := range []string{"garbage", "", "!!", enc("\xf0\xce\x9b\x04\x05"), enc("\xff\xff\xff\xff\xff")} {
		if _, err := ParsePIT(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParsePIT(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestAnswersAreElasticsearchs(t *testing.T) {
	c2, _ := ParseScroll(scroll2)
	c1, _ := ParseScroll(scroll1)
	p2, _ := ParsePIT(pit2)
	for _, tt := range []struct{ name, got, want string }{
		{"missing scroll, two shards", string(MissingScroll(c2)), missingScroll2},
		{"missing scroll, one shard", string(MissingScroll(c1)), missingScroll1},
		{"missing pit", string(MissingPIT(p2)), missingPIT2},
		{"missing pit, shards in another order", string(MissingPIT([]PITShard{p2[1], p2[0]})), missingPIT2},
		{"unparsable scroll", string(UnparsableScroll(true)), unparsable},
		{"missing async", string(MissingAsync("FmNvbnRleHQ=")), `{"error":{"root_cause":[{"type":"resource_not_found_exception","reason":"FmNvbnRleHQ="}],"type":"resource_not_found_exception","reason":"FmNvbnRleHQ="},"status":404}`},
		{"invalid pit", string(UnparsablePIT(`a"<b>`)), `{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"invalid id: [a\"<b>]"}],"type":"illegal_argument_exception","reason":"invalid id: [a\"<b>]"},"status":400}`},
	} {
		if tt.got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, tt.got, tt.want)
		}
		if !json.Valid([]byte(tt.got)) {
			t.Errorf("%s: not JSON", tt.name)
		}
	}
	if !json.Valid(UnparsableScroll(false)) {
		t.Error("unparsable scroll (not truncated): not JSON")
	}
}

func TestFindString(t *testing.T) {
	tests := []struct {
		name, in, key, want string
		scan                Scan
	}{
		{name: "scroll first", in: `{"_scroll_id":"S1","took":3,"hits":{"hits":[`, key: "_scroll_id", want: "S1", scan: Found},
		{name: "after other members", in: `{"took":3,"timed_out":false,"a":[1,{"b":"}"}],"x":null,"pit_id":"P\u003d"}`, key: "pit_id", want: "P=", scan: Found},
		{name: "nested member does not count", in: `{"hits":{"hits":[{"_source":{"_scroll_id":"EVIL"}}]},"took":1}`, key: "_scroll_id", scan: Absent},
		{name: "nested member, prefix cut", in: `{"hits":{"hits":[{"_source":{"_scroll_id":"EVIL"}`, key: "_scroll_id", scan: More},
		{name: "value not a string", in: `{"id":12}`, key: "id", scan: Absent},
		{name: "object ends", in: ` { "a" : "b" } `, key: "id", scan: Absent},
		{name: "empty object", in: `{}`, key: "id", scan: Absent},
		{name: "not an object", in: `["id","x"]`, key: "id", scan: Absent},
		{name: "yaml", in: "---\nid: x\n", key: "id", scan: Absent},
		{name: "empty prefix", in: "", key: "id", scan: More},
		{name: "cut in the key", in: `{"i`, key: "id", scan: More},
		{name: "cut in the value", in: `{"id":"FmR`, key: "id", scan: More},
		{name: "cut after colon", in: `{"id":`, key: "id", scan: More},
		{name: "cut in an escape", in: `{"id":"a\`, key: "id", scan: More},
		{name: "escaped key", in: `{"\u0069d":"x"}`, key: "id", want: "x", scan: Found},
		{name: "control character", in: "{\"id\":\"a\x01\"}", key: "id", scan: Absent},
		{name: "missing comma", in: `{"a":1 "id":"x"}`, key: "id", scan: Absent},
		{name: "deep nesting", in: `{"a":` + strings.Repeat("[", 300) + `1` + strings.Repeat("]", 300) + `,"id":"x"}`, key: "id", scan: Absent},
		{name: "cut in a number", in: `{"took":12`, key: "id", scan: More},
		{name: "async answer", in: `{"id":"FmRldE8zREhMR","is_partial":true,"is_running":true,"response":{"id":"no"}}`, key: "id", want: "FmRldE8zREhMR", scan: Found},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, scan := FindString([]byte(tt.in), tt.key)
			if got != tt.want || scan != tt.scan {
				t.Fatalf("got %q %v, want %q %v", got, scan, tt.want, tt.scan)
			}
		})
	}
}

func TestParseKeepAlive(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"1m", time.Minute, true}, {"30s", 30 * time.Second, true}, {"500ms", 500 * time.Millisecond, true},
		{"5d", 120 * time.Hour, true}, {"2h", 2 * time.Hour, true}, {" 10M ", 10 * time.Minute, true},
		{"1000micros", time.Millisecond, true}, {"7nanos", 7, true}, {"1 m", time.Minute, true},
		{"", 0, false}, {"1", 0, false}, {"1.5m", 0, false}, {"-1m", 0, false}, {"0s", 0, false},
		{"m", 0, false}, {"1w", 0, false}, {"99999999999999999d", 0, false}, {"+1m", time.Minute, true},
	}
	for _, tt := range tests {
		got, ok := ParseKeepAlive(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseKeepAlive(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}
