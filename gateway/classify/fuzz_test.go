package classify

import (
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/canon"
)

// checkInvariants holds for every classification, whatever the input.
func checkInvariants(t *testing.T, res Result, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if res.Unknown || res.MethodNotAllowed {
		if res.Action != "" || len(res.Targets) != 0 {
			t.Fatalf("unknown request with action: %+v", res)
		}
		return
	}
	if res.API == "" || res.Action == "" {
		t.Fatalf("known request without API/action: %+v", res)
	}
	if res.Cluster && len(res.Targets) != 0 {
		t.Fatalf("cluster action with targets: %+v", res)
	}
	for _, tg := range res.Targets {
		if tg.Action == "" {
			t.Fatalf("target without action: %+v", res)
		}
	}
}

func FuzzClassify(f *testing.F) {
	for i := range routes {
		r := &routes[i]
		m, _, _ := strings.Cut(r.methods, ",")
		f.Add(m, concrete(r.path), "", "{}", "application/json")
	}
	f.Add("POST", "/_bulk", "", "{\"index\":{\"_index\":\"a\"}}\n{}\n", "application/x-ndjson")
	f.Add("POST", "/_msearch", "", "{\"index\":[\"a\"]}\n{}\n", "application/x-ndjson")
	f.Add("POST", "/_reindex", "", `{"source":{"index":"a"},"dest":{"index":"b"}}`, "application/json")
	f.Add("POST", "/_aliases", "", `{"actions":[{"add":{"index":"a","alias":"b"}}]}`, "application/json")
	f.Add("GET", "/_search", "source=%7B%7D;source_content_type=application/json", "", "")
	f.Fuzz(func(t *testing.T, method, rawPath, query, body, ctype string) {
		path, err := canon.Path([]byte(rawPath))
		if err != nil {
			return
		}
		req := Request{Method: method, Path: path, Query: []byte(query), Body: []byte(body), ContentType: ctype}
		res, err := Classify(req)
		checkInvariants(t, res, err)
		// Classifiers are pooled: another request in between (the
		// classifier it used is the next one's) changes nothing.
		other := fuzzOther[len(path)%len(fuzzOther)]
		if _, err := Classify(other); err != nil {
			t.Fatalf("Classify(%+v): %v", other, err)
		}
		again, err2 := Classify(req)
		if !reflect.DeepEqual(again, res) || (err == nil) != (err2 == nil) {
			t.Fatalf("Classify twice: %+v, %v; then %+v, %v", res, err, again, err2)
		}
	})
}

// fuzzOther are requests classified between two classifications of the
// same one, filling every part of a classifier.
var fuzzOther = []Request{
	{Method: "POST", Path: "/_bulk", Body: []byte("{\"index\":{\"_index\":\"a\"}}\n{}\n{\"delete\":{\"_index\":\"b\",\"_id\":\"1\"}}\n"), ContentType: "application/x-ndjson"},
	{Method: "POST", Path: "/logs-%2A,metrics/_search", Query: []byte("scroll=1m"), Body: []byte(`{"pit":{"id":"abc","keep_alive":"1m"}}`), ContentType: "application/json"},
	{Method: "POST", Path: "/_search/scroll", Body: []byte(`{"scroll_id":"xyz","scroll":"2m"}`), ContentType: "application/json"},
	{Method: "GET", Path: "/a/b/c/d/e/f/g/h/i/j"},
}

func FuzzBulk(f *testing.F) {
	f.Add("{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n{\"delete\":{\"_index\":\"b\"}}\n")
	f.Add("{\"create\":{}}\r\n{}\n\n{\"update\":{\"_index\":\"\\u0061\",\"retry_on_conflict\":3}}\n{\"doc\":{}}\n")
	f.Add("{\"index\":{\"op_type\":\"create\",\"_source\":{\"includes\":[\"a\"]}}}\n{}\n")
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range []string{"/_bulk", "/def/_bulk"} {
			res, err := Classify(Request{Method: "POST", Path: p, Body: []byte(body), ContentType: "application/x-ndjson"})
			checkInvariants(t, res, err)
			if err != nil {
				continue
			}
			for i, tg := range res.Targets {
				if tg.Kind != KindItem || tg.Item != i || len(tg.Indices) > 1 {
					t.Fatalf("bad bulk target %d: %+v", i, tg)
				}
				switch tg.Action {
				case actionOpIndex, actionOpCreate, actionUpdate, actionDelete:
				default:
					t.Fatalf("bad bulk action %q", tg.Action)
				}
				if p == "/def/_bulk" && len(tg.Indices) == 0 {
					t.Fatalf("item without index despite a default")
				}
			}
		}
	})
}

func FuzzIndexExpression(f *testing.F) {
	for _, s := range []string{"a,-b,c*,-d", "_all", "remote:e*", "<logs-{now/d{yyyy.MM.dd|+12:00}}>", "<x,y>", ",,", "-", "*:-*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		list := SplitList(s)
		if strings.Join(list, ",") != strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ',' }), ",") {
			t.Fatalf("split %q = %q", s, list)
		}
		for _, e := range ParseList(list) {
			if e.Raw == "" || strings.Contains(e.Raw, ",") {
				t.Fatalf("bad element %+v", e)
			}
			if e.DateMath && e.Malformed {
				t.Fatalf("date math and malformed: %+v", e)
			}
			if !strings.HasSuffix(e.Raw, e.Name) {
				t.Fatalf("name %q not a suffix of %q", e.Name, e.Raw)
			}
		}
	})
}
