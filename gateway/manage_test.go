package gateway

import (
	"strings"
	"testing"
)

func TestDecodeStrict(t *testing.T) {
	cases := []struct {
		in, err string
	}{
		{`{"username":"a","password":"secret1"}`, ""},
		{` {"username":"a"} `, ""},
		{``, "request body is required"},
		{`{"username":"a"`, "unexpected end of JSON"},
		{`{"username":"a","username":"b"}`, "duplicate field [username]"},
		{`{"roles":[{"a":1,"a":2}]}`, "duplicate field [a]"},
		{`{"username":1}`, "field [username] must be of type string"},
		{`{"roles":"x"}`, "field [roles] must be of type array"},
		{`{"nope":1}`, "unknown field [nope]"},
		{`{"username":"a"} {}`, "unexpected data after the JSON object"},
		{"{\"username\":\"\xff\"}", "not valid UTF-8"},
		{`null`, ""},
	}
	for _, c := range cases {
		var req accountRequest
		err := decodeStrict([]byte(c.in), &req)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("decodeStrict(%q) = %v", c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("decodeStrict(%q) = %v, want %q", c.in, err, c.err)
		}
	}
}

// FuzzDecodeStrict: management bodies are untrusted input. Whatever comes,
// decodeStrict answers a client error or a value, never panics, and never
// echoes a string value of the body in its reason (a password may be there).
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"username":"a","password":"secret1","roles":["x"]}`, `{"a":1,"a":2}`, `[`, `{"roles":[[[]]]}`, `{"username":"\u0000"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req accountRequest
		err := decodeStrict(b, &req)
		if err == nil {
			return
		}
		ce, ok := err.(*clientError)
		if !ok || ce.status != 400 {
			t.Fatalf("decodeStrict error %T %v is not a 400 client error", err, err)
		}
		if req.Password != nil && len(*req.Password) >= 4 && strings.Contains(ce.reason, *req.Password) {
			t.Fatalf("reason %q echoes the password", ce.reason)
		}
	})
}
