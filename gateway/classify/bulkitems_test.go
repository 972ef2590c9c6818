package classify

import (
	"errors"
	"strings"
	"testing"
)

func TestBulkItems(t *testing.T) {
	type item struct {
		text, op, index, id string
		hasID               bool
	}
	tests := []struct {
		name string
		body string
		want []item
		err  error
	}{
		{"empty", "", nil, nil},
		{"blank lines only", "\n \n\r\n", nil, nil},
		{"every op", "{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n" +
			"{\"create\":{\"_index\":\"b\"}}\n{}\n" +
			"{\"update\":{\"_id\":\"u\"}}\n{\"doc\":{}}\n" +
			"{\"delete\":{\"_index\":\"d\",\"_id\":\"x\"}}\n",
			[]item{
				{"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n", "index", "a", "1", true},
				{"{\"create\":{\"_index\":\"b\"}}\n{}\n", "create", "b", "", false},
				{"{\"update\":{\"_id\":\"u\"}}\n{\"doc\":{}}\n", "update", "", "u", true},
				{"{\"delete\":{\"_index\":\"d\",\"_id\":\"x\"}}\n", "delete", "d", "x", true},
			}, nil},
		{"op_type create is a create", "{\"index\":{\"op_type\":\"create\",\"_index\":\"a\"}}\n{}\n",
			[]item{{"{\"index\":{\"op_type\":\"create\",\"_index\":\"a\"}}\n{}\n", "create", "a", "", false}}, nil},
		{"crlf and blank lines between items kept out", "\r\n{\"delete\":{\"_index\":\"a\"}}\r\n\n{\"index\":{}}\r\n{\"x\":\"y\"}\r\n",
			[]item{{"{\"delete\":{\"_index\":\"a\"}}\r\n", "delete", "a", "", false}, {"{\"index\":{}}\r\n{\"x\":\"y\"}\r\n", "index", "", "", false}}, nil},
		{"escaped id and index", "{\"index\":{\"\\u005fid\":\"a\\\"b\\u00e9\",\"_index\":\"\\u0061\"}}\n{}\n",
			[]item{{"{\"index\":{\"\\u005fid\":\"a\\\"b\\u00e9\",\"_index\":\"\\u0061\"}}\n{}\n", "index", "a", "a\"bé", true}}, nil},
		{"numeric id", "{\"index\":{\"_id\":12}}\n{}\n", []item{{"{\"index\":{\"_id\":12}}\n{}\n", "index", "", "12", true}}, nil},
		{"null id", "{\"index\":{\"_id\":null}}\n{}\n", []item{{"{\"index\":{\"_id\":null}}\n{}\n", "index", "", "", false}}, nil},
		{"blank source line", "{\"index\":{}}\n\n", []item{{"{\"index\":{}}\n\n", "index", "", "", false}}, nil},
		{"no final newline", "{\"delete\":{}}", nil, ErrBulkNewline},
		{"source without newline", "{\"index\":{}}\n{}", nil, ErrBulkNewline},
		{"missing source", "{\"index\":{}}\n", nil, ErrBulkNewline},
		{"unknown op", "{\"upsert\":{}}\n{}\n", nil, ErrBulkAction},
		{"unknown meta", "{\"index\":{\"_type\":\"t\"}}\n{}\n", nil, ErrBulkAction},
		{"duplicate key", "{\"index\":{\"_id\":\"1\",\"_id\":\"2\"}}\n{}\n", nil, ErrDuplicateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := BulkItems([]byte(tt.body))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d items, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if tt.body[g.Start:g.End] != w.text || g.Op != w.op || g.Index != w.index || g.ID != w.id || g.HasID != w.hasID {
					t.Errorf("item %d = %q %+v, want %+v", i, tt.body[g.Start:g.End], g, w)
				}
			}
		})
	}
}

// FuzzBulkItems: BulkItems agrees with Classify on every body (the same
// bodies accepted, one item per KindItem target with the matching op), and
// the items cut out and joined again are the same items.
func FuzzBulkItems(f *testing.F) {
	f.Add("{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n{\"delete\":{\"_index\":\"b\"}}\n")
	f.Add("{\"create\":{}}\r\n{}\n\n{\"update\":{\"_index\":\"\\u0061\",\"retry_on_conflict\":3}}\n{\"doc\":{}}\n")
	f.Add("{\"index\":{\"op_type\":\"create\",\"_source\":{\"includes\":[\"a\"]},\"_id\":7}}\n{}\n")
	f.Add("\n\n{\"delete\":{\"_id\":null}}\n \n")
	f.Fuzz(func(t *testing.T, body string) {
		res, cerr := Classify(Request{Method: "POST", Path: "/def/_bulk", Body: []byte(body), ContentType: "application/x-ndjson"})
		items, err := BulkItems([]byte(body))
		if (err == nil) != (cerr == nil) {
			t.Fatalf("BulkItems err %v, Classify err %v", err, cerr)
		}
		if err != nil {
			return
		}
		if blank([]byte(body)) {
			if len(items) != 0 {
				t.Fatalf("items in a blank body: %+v", items)
			}
			return
		}
		if len(items) != len(res.Targets) {
			t.Fatalf("%d items, %d targets", len(items), len(res.Targets))
		}
		var joined strings.Builder
		prevEnd := 0
		for i, it := range items {
			tg := res.Targets[i]
			if it.Start < prevEnd || it.End <= it.Start || it.End > len(body) || body[it.End-1] != '\n' {
				t.Fatalf("item %d spans [%d,%d) after %d in %d bytes", i, it.Start, it.End, prevEnd, len(body))
			}
			if !blank([]byte(body[prevEnd:it.Start])) {
				t.Fatalf("non-blank bytes between items: %q", body[prevEnd:it.Start])
			}
			prevEnd = it.End
			if opName(tg.Action) != it.Op || tg.Item != i {
				t.Fatalf("item %d op %q, target %+v", i, it.Op, tg)
			}
			if it.Index != "" && (len(tg.Indices) != 1 || tg.Indices[0] != it.Index) {
				t.Fatalf("item %d index %q, target %+v", i, it.Index, tg)
			}
			joined.WriteString(body[it.Start:it.End])
		}
		if !blank([]byte(body[prevEnd:])) {
			t.Fatalf("non-blank bytes after the last item: %q", body[prevEnd:])
		}
		again, err := BulkItems([]byte(joined.String()))
		if err != nil || len(again) != len(items) {
			t.Fatalf("rejoined items: %d, %v", len(again), err)
		}
		for i := range again {
			a, b := again[i], items[i]
			if a.Op != b.Op || a.Index != b.Index || a.ID != b.ID || a.HasID != b.HasID || a.End-a.Start != b.End-b.Start {
				t.Fatalf("rejoined item %d = %+v, was %+v", i, a, b)
			}
		}
	})
}

func TestMsearchItems(t *testing.T) {
	type item struct {
		text   string
		header string
		blank  bool
	}
	tests := []struct {
		name string
		body string
		want []item
		err  error
	}{
		{"empty", "", nil, nil},
		{"two searches", "{\"index\":\"a\"}\n{\"query\":{}}\n{}\n{}\n",
			[]item{{"{\"index\":\"a\"}\n{\"query\":{}}\n", "{\"index\":\"a\"}\n", false}, {"{}\n{}\n", "{}\n", false}}, nil},
		{"leading empty line skipped", "\n{\"index\":\"a\"}\n{}\n", []item{{"{\"index\":\"a\"}\n{}\n", "{\"index\":\"a\"}\n", false}}, nil},
		{"blank header in the middle", "{}\n{}\n\n{}\n", []item{{"{}\n{}\n", "{}\n", false}, {"\n{}\n", "\n", true}}, nil},
		{"empty body line", "{}\n\n", []item{{"{}\n\n", "{}\n", false}}, nil},
		{"last body line unterminated", "{}\n{\"size\":0}", nil, ErrMsearchNewline},
		{"trailing blank unterminated", "{}\n{}\n ", nil, ErrMsearchNewline},
		{"header without body", "{}\n{}\n{\"index\":\"b\"}\n", nil, ErrMsearchNoBody},
		{"crlf", "{}\r\n{}\r\n", []item{{"{}\r\n{}\r\n", "{}\r\n", false}}, nil},
		{"bad header", "{\"nope\":1}\n{}\n", nil, ErrMsearchHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := MsearchItems([]byte(tt.body))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d items, want %d: %+v", len(got), len(tt.want), got)
			}
			for i, w := range tt.want {
				g := got[i]
				if tt.body[g.Start:g.End] != w.text || tt.body[g.Start:g.HeaderEnd] != w.header || g.BlankHeader != w.blank {
					t.Errorf("item %d = %q (header %q) %+v, want %+v", i, tt.body[g.Start:g.End], tt.body[g.Start:g.HeaderEnd], g, w)
				}
			}
		})
	}
}

// FuzzMsearchItems: MsearchItems accepts what Classify accepts, with one
// item per search; the items joined again, blank headers given "{}", are
// the same searches.
func FuzzMsearchItems(f *testing.F) {
	f.Add("{\"index\":\"a\"}\n{\"query\":{\"terms\":{\"f\":{\"index\":\"l\",\"id\":\"1\",\"path\":\"p\"}}}}\n{}\n{}\n")
	f.Add("\n\n{}\n \n{\"index\":[\"x\",\"y\"]}\n{}\n")
	f.Add("{}\r\n{}\r\n{\"index\":\"b\"}\n")
	f.Fuzz(func(t *testing.T, body string) {
		res, cerr := Classify(Request{Method: "POST", Path: "/def/_msearch", Body: []byte(body), ContentType: "application/x-ndjson"})
		items, err := MsearchItems([]byte(body))
		if cerr != nil {
			return
		}
		if errors.Is(err, ErrMsearchNewline) || errors.Is(err, ErrMsearchNoBody) {
			return
		}
		if err != nil {
			t.Fatalf("Classify accepted what MsearchItems refused: %v", err)
		}
		searches := 0
		for _, tg := range res.Targets {
			if tg.Kind != KindItem || tg.Item >= len(items) || tg.Item < searches-1 {
				t.Fatalf("target %+v with %d items", tg, len(items))
			}
			if tg.Action == actionSearch && tg.Item == searches {
				searches++
			}
		}
		if blank([]byte(body)) {
			return
		}
		if searches != len(items) {
			t.Fatalf("%d items, %d searches", len(items), searches)
		}
		var joined strings.Builder
		for i, it := range items {
			if it.Start > it.HeaderEnd || it.HeaderEnd > it.End || it.End > len(body) || i > 0 && it.Start < items[i-1].End {
				t.Fatalf("item %d spans %+v in %d bytes", i, it, len(body))
			}
			if it.BlankHeader {
				joined.WriteString("{}\n")
				joined.WriteString(body[it.HeaderEnd:it.End])
			} else {
				joined.WriteString(body[it.Start:it.End])
			}
			if body[it.End-1] != '\n' || body[it.HeaderEnd-1] != '\n' {
				t.Fatalf("unterminated item %d", i)
			}
		}
		again, err := Classify(Request{Method: "POST", Path: "/def/_msearch", Body: []byte(joined.String()), ContentType: "application/x-ndjson"})
		if err != nil {
			t.Fatalf("rejoined body refused: %v", err)
		}
		if len(again.Targets) != len(res.Targets) {
			t.Fatalf("rejoined: %d targets, was %d", len(again.Targets), len(res.Targets))
		}
		for i := range again.Targets {
			a, b := again.Targets[i], res.Targets[i]
			if a.Action != b.Action || a.Item != b.Item || strings.Join(a.Indices, ",") != strings.Join(b.Indices, ",") {
				t.Fatalf("rejoined target %d = %+v, was %+v", i, a, b)
			}
		}
	})
}
