package canon

import (
	"bytes"
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
)

var takeParamCases = []struct {
	name  string
	raw   string
	param string
	rest  string
	value string
	found bool
	err   error
}{
	{name: "middle", raw: "a=1&token=x&b=2", param: "token", rest: "a=1&b=2", value: "x", found: true},
	{name: "only", raw: "token=x", param: "token", rest: "", value: "x", found: true},
	{name: "semicolon separator", raw: "a=1;token=x", param: "token", rest: "a=1", value: "x", found: true},
	{name: "semicolons kept pairs joined by ampersand", raw: "a=1;token=x;b=2", param: "token", rest: "a=1&b=2", value: "x", found: true},
	{name: "last wins, all removed", raw: "token=x&a=1&token=y", param: "token", rest: "a=1", value: "y", found: true},
	{name: "encoded name", raw: "%74oken=x&a=1", param: "token", rest: "a=1", value: "x", found: true},
	{name: "encoded name lower hex", raw: "a=1&tok%65n=x", param: "token", rest: "a=1", value: "x", found: true},
	// Elasticsearch skips '=' at the start of a pair: "=token=x" is token=x.
	{name: "leading equals", raw: "=token=x&a=1", param: "token", rest: "a=1", value: "x", found: true},
	{name: "leading equals no value", raw: "==token", param: "token", rest: "", value: "", found: true},
	{name: "no value", raw: "token&a=1", param: "token", rest: "a=1", value: "", found: true},
	{name: "empty value", raw: "token=", param: "token", rest: "", value: "", found: true},
	{name: "plus is space in value", raw: "token=a+b%20c", param: "token", rest: "", value: "a b c", found: true},
	{name: "equals in value", raw: "token=a=b", param: "token", rest: "", value: "a=b", found: true},
	{name: "encoded separators in value", raw: "token=a%26b%3Bc", param: "token", rest: "", value: "a&b;c", found: true},
	{name: "empty pairs dropped", raw: "a=1&&token=x;;b=2&", param: "token", rest: "a=1&b=2", value: "x", found: true},
	{name: "others byte for byte", raw: "q=a+b%2C%zz&token=x&f=%E6%97%A5", param: "token", rest: "q=a+b%2C%zz&f=%E6%97%A5", value: "x", found: true},
	{name: "non-ASCII value", raw: "token=%C3%A9", param: "token", rest: "", value: "é", found: true},

	{name: "absent", raw: "a=1&b=2", param: "token", rest: "a=1&b=2"},
	{name: "absent kept as is", raw: "a=1;;b=2&", param: "token", rest: "a=1;;b=2&"},
	{name: "empty query", raw: "", param: "token", rest: ""},
	{name: "prefix is not the name", raw: "tokens=x&xtoken=y", param: "token", rest: "tokens=x&xtoken=y"},
	{name: "case sensitive", raw: "TOKEN=x", param: "token", rest: "TOKEN=x"},
	{name: "plus in name is space", raw: "to+ken=x", param: "token", rest: "to+ken=x"},
	{name: "encoded equals in name", raw: "token%3Dx=1", param: "token", rest: "token%3Dx=1"},
	{name: "name in a value", raw: "q=a%26token%3Dx&a=b=token", param: "token", rest: "q=a%26token%3Dx&a=b=token"},

	{name: "fragment", raw: "token=x#y", param: "token", err: ErrQueryCharacter},
	{name: "bad escape in value", raw: "token=%zz", param: "token", err: ErrQueryEncoding},
	{name: "truncated escape in value", raw: "a=1&token=ab%", param: "token", err: ErrQueryEncoding},
	{name: "double percent in value", raw: "token=%%41", param: "token", err: ErrQueryEncoding},
	{name: "bad escape in an earlier occurrence", raw: "token=%z&token=x", param: "token", err: ErrQueryEncoding},
	// A malformed name might be the parameter; Elasticsearch rejects it too.
	{name: "bad escape in another name", raw: "a%zz=1&token=x", param: "token", err: ErrQueryEncoding},
	{name: "double percent in a name", raw: "to%%ken=x", param: "token", err: ErrQueryEncoding},
	{name: "invalid UTF-8 value", raw: "token=%ff", param: "token", err: ErrQueryUTF8},
	{name: "empty name", raw: "a=1", param: "", err: ErrQueryName},
	{name: "non-ASCII name", raw: "%C3%A9=1", param: "é", err: ErrQueryName},
}

func TestTakeParam(t *testing.T) {
	for _, tc := range takeParamCases {
		t.Run(tc.name, func(t *testing.T) {
			rest, value, found, err := TakeParam([]byte(tc.raw), tc.param)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrBadQuery) {
					t.Fatalf("TakeParam(%q) error = %v; want %v", tc.raw, err, tc.err)
				}
				return
			}
			if err != nil || string(rest) != tc.rest || value != tc.value || found != tc.found {
				t.Fatalf("TakeParam(%q) = %q, %q, %v, %v; want %q, %q, %v",
					tc.raw, rest, value, found, err, tc.rest, tc.value, tc.found)
			}
			checkTakeParam(t, []byte(tc.raw), tc.param, rest, value, found)
		})
	}
}

func TestTakeParamAliasing(t *testing.T) {
	raw := []byte("a=1&token=x&b=2")
	orig := bytes.Clone(raw)
	rest, _, _, _ := TakeParam(raw, "token")
	rest[0] = 'z'
	if !bytes.Equal(raw, orig) {
		t.Fatalf("TakeParam changed its input: %q", raw)
	}
	raw = []byte("a=1")
	if rest, _, _, _ := TakeParam(raw, "token"); &rest[0] != &raw[0] {
		t.Fatal("TakeParam copied a query without the parameter")
	}
}

// TestTakeParamES checks TakeParam against a port of Elasticsearch's query
// parser on random queries.
func TestTakeParamES(t *testing.T) {
	pieces := []string{"token", "token", "a", "=", "=", "&", "&", ";", "%74", "+", "x",
		"%2B", "%3D", "%26", "é", "%C3%A9", "to", "ken"}
	bad := []string{"%zz", "%%", "%ff", "%", "#"}
	r := rand.New(rand.NewPCG(3, 4))
	const n = 200_000
	found := 0
	for range n {
		var b strings.Builder
		for range r.IntN(10) {
			if r.IntN(20) == 0 {
				b.WriteString(bad[r.IntN(len(bad))])
			} else {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		raw := []byte(b.String())
		rest, value, ok, err := TakeParam(raw, "token")
		if err != nil {
			checkError(t, err, ErrBadQuery)
			continue
		}
		checkTakeParam(t, raw, "token", rest, value, ok)
		if ok {
			found++
		}
	}
	if found < n/40 {
		t.Fatalf("the parameter was found in only %d of %d random queries", found, n)
	}
}

// checkTakeParam asserts, when Elasticsearch can parse raw, that it reads
// value for name from raw, and from rest exactly the other parameters.
func checkTakeParam(t testing.TB, raw []byte, name string, rest []byte, value string, found bool) {
	t.Helper()
	if again, _, f, err := TakeParam(rest, name); err != nil || f || !bytes.Equal(again, rest) {
		t.Fatalf("TakeParam(%q) left %q, which still has %q (err %v)", raw, rest, name, err)
	}
	before, err := esParams(string(raw))
	if err != nil {
		return // Elasticsearch would answer 400 anyway
	}
	after, err := esParams(string(rest))
	if err != nil {
		t.Fatalf("rest %q of %q does not parse in Elasticsearch: %v", rest, raw, err)
	}
	v, ok := before[name]
	if ok != found || (found && v != value) {
		t.Fatalf("TakeParam(%q) = %q, %v; Elasticsearch reads %q, %v", raw, value, found, v, ok)
	}
	delete(before, name)
	if !maps.Equal(before, after) {
		t.Fatalf("TakeParam(%q) rest %q: Elasticsearch reads %v; want %v", raw, rest, after, before)
	}
}

// esParams is RestUtils.decodeQueryString of Elasticsearch 8 (last value
// wins), with its decoder (plus as space, '%%' as '%').
func esParams(s string) (map[string]string, error) {
	if i := strings.IndexByte(s, '#'); i >= 0 {
		s = s[:i]
	}
	params := map[string]string{}
	var name *string
	pos := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '=' && name == nil:
			if pos != i {
				n, err := esDecode(s[pos:i], true)
				if err != nil {
					return nil, err
				}
				name = &n
			}
			pos = i + 1
		case c == '&' || c == ';':
			if name == nil && pos != i {
				n, err := esDecode(s[pos:i], true)
				if err != nil {
					return nil, err
				}
				params[n] = ""
			} else if name != nil {
				v, err := esDecode(s[pos:i], true)
				if err != nil {
					return nil, err
				}
				params[*name] = v
				name = nil
			}
			pos = i + 1
		}
	}
	if pos != len(s) {
		d, err := esDecode(s[pos:], true)
		if err != nil {
			return nil, err
		}
		if name == nil {
			params[d] = ""
		} else {
			params[*name] = d
		}
	} else if name != nil {
		params[*name] = ""
	}
	return params, nil
}

func TestTakeParamAllocs(t *testing.T) {
	absent := []byte("pretty=true&size=10&q=user:kimchy")
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = TakeParam(absent, "token") }); n != 0 {
		t.Errorf("TakeParam without the parameter: %v allocs; want 0", n)
	}
	present := []byte("size=10&token=" + strings.Repeat("A", 43) + "&pretty")
	if n := testing.AllocsPerRun(100, func() { _, _, _, _ = TakeParam(present, "token") }); n > 2 {
		t.Errorf("TakeParam with the parameter: %v allocs; want <= 2", n)
	}
}

func BenchmarkTakeParam(b *testing.B) {
	for name, raw := range map[string]string{
		"absent":  "pretty=true&size=10&q=user:kimchy",
		"present": "size=10&token=" + strings.Repeat("A", 43) + "&pretty=true",
		"empty":   "",
	} {
		b.Run(name, func(b *testing.B) {
			raw := []byte(raw)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, err := TakeParam(raw, "token"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
