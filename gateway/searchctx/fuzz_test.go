package searchctx

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzParseScroll: any string, seeded with real ids, parses or fails with
// ErrMalformed, never panics; what parses gives an answer that is JSON.
func FuzzParseScroll(f *testing.F) {
	for _, s := range []string{scroll1, scroll2, pit2, "garbage", "", "FGluY2x1ZGVfY29udGV4dF91dWlk", enc("\x0equeryThenFetch\x01\x00\x00\x00\x00\x00\x00\x00\x07\x06rc:n01")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		cs, err := ParseScroll(id)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !json.Valid(MissingScroll(cs)) {
			t.Fatalf("answer for %q is not JSON", id)
		}
	})
}

// FuzzParsePIT is FuzzParseScroll for point-in-time ids.
func FuzzParsePIT(f *testing.F) {
	for _, s := range []string{pit2, scroll2, "garbage", "", enc("\xf0\xce\x9b\x04\x01\x01i\x01u\x00\x00\x00\x00")} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		ss, err := ParsePIT(id)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !json.Valid(MissingPIT(ss)) || !json.Valid(UnparsablePIT(id)) {
			t.Fatalf("answer for %q is not JSON", id)
		}
	})
}

// FuzzFindString: on any bytes FindString never panics; a value it finds
// in a complete document is the one encoding/json reads for the key when
// the document is an object (first occurrence: Elasticsearch writes each
// key once); and a longer prefix never changes a decided answer.
func FuzzFindString(f *testing.F) {
	for _, s := range []string{
		`{"_scroll_id":"S1","took":3,"hits":{"hits":[]}}`,
		`{"took":3,"pit_id":"P\u003d","x":[1,{"y":"}"}]}`,
		`{"hits":{"hits":[{"_source":{"id":"EVIL"}}]},"id":"ok"}`,
		`{"id":12}`, `[]`, ``, `{"a":"\"","id":"x"}`,
	} {
		f.Add([]byte(s), "id")
		f.Add([]byte(s), "_scroll_id")
	}
	f.Fuzz(func(t *testing.T, b []byte, key string) {
		v, scan := FindString(b, key)
		if scan == Found && json.Valid(b) {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err == nil && !strings.Contains(string(b), `\`) {
				var want string
				if raw, ok := m[key]; ok && json.Unmarshal(raw, &want) == nil && want != v && strings.Count(string(b), `"`+key+`"`) == 1 {
					t.Fatalf("found %q for %q, encoding/json reads %q", v, key, want)
				}
			}
		}
		for cut := 0; cut < len(b); cut++ {
			pv, ps := FindString(b[:cut], key)
			if ps != More && (ps != scan || pv != v) {
				t.Fatalf("prefix of %d bytes decided %q %v, whole %q %v", cut, pv, ps, v, scan)
			}
		}
	})
}

// FuzzParseKeepAlive: never panics, and what it accepts is positive.
func FuzzParseKeepAlive(f *testing.F) {
	for _, s := range []string{"1m", "30s", "5d", "500ms", "1.5m", "-1", "", "99999999999999999999d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d, ok := ParseKeepAlive(s); ok && d <= 0 {
			t.Fatalf("ParseKeepAlive(%q) = %v", s, d)
		}
	})
}
