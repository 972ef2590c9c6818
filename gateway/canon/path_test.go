package canon

import (
	"errors"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// pathCases are the table cases; the fuzzer is seeded from them.
var pathCases = []struct {
	name string
	raw  string
	want string
	err  error
}{
	{name: "root", raw: "/", want: "/"},
	{name: "plain", raw: "/index/_search", want: "/index/_search"},
	{name: "wildcard index unchanged", raw: "/logs-*/_search", want: "/logs-*/_search"},
	{name: "multi target unchanged", raw: "/a,b/_search", want: "/a,b/_search"},
	{name: "remote target unchanged", raw: "/remote:idx/_search", want: "/remote:idx/_search"},
	{name: "all literal bytes", raw: "/AZaz09-._~!$&'()*,:=@", want: "/AZaz09-._~!$&'()*,:=@"},

	{name: "parent", raw: "/aaa/../bbb", want: "/bbb"},
	{name: "encoded parent", raw: "/aaa/%2e%2e/bbb", want: "/bbb"},
	{name: "mixed case encoded parent", raw: "/aaa/%2e%2E/bbb", want: "/bbb"},
	{name: "half encoded parent", raw: "/aaa/.%2e/bbb", want: "/bbb"},
	{name: "current", raw: "/aaa/./bbb", want: "/aaa/bbb"},
	{name: "encoded current", raw: "/aaa/%2E/bbb", want: "/aaa/bbb"},
	{name: "parents", raw: "/a/b/c/../../d", want: "/a/d"},
	{name: "parent to root", raw: "/a/..", want: "/"},
	{name: "current at root", raw: "/./", want: "/"},
	{name: "trailing current", raw: "/a/.", want: "/a"},
	{name: "three dots are a name", raw: "/a/.../b", want: "/a/.../b"},
	{name: "dot dot slash is one segment", raw: "/a/..%2Fb", want: "/a/..%2Fb"},
	{name: "parent above root", raw: "/..", err: ErrPathEscapesRoot},
	{name: "encoded parent above root", raw: "/%2e%2e", err: ErrPathEscapesRoot},
	{name: "parent above root later", raw: "/a/../../b", err: ErrPathEscapesRoot},

	{name: "duplicate and trailing slashes", raw: "//aaa///b/", want: "/aaa/b"},
	{name: "only slashes", raw: "///", want: "/"},
	{name: "empty index segment", raw: "//_search", want: "/_search"},

	// %2F decodes to a '/' inside the segment: "aaa/bbb" is one segment, an
	// Elasticsearch document id or date-math expression, never the path
	// /aaa/bbb. A constraint on /aaa must NOT cover it: its first segment is
	// "aaa/bbb", not "aaa" (see TestPathSegmentBoundary).
	{name: "encoded slash stays in segment", raw: "/aaa%2Fbbb", want: "/aaa%2Fbbb"},
	{name: "lower-case escape normalised", raw: "/aaa%2fbbb", want: "/aaa%2Fbbb"},
	{name: "encoded backslash stays in segment", raw: "/aaa%5Cbbb", want: "/aaa%5Cbbb"},
	{name: "raw backslash is data", raw: `/aaa\bbb`, want: "/aaa%5Cbbb"},
	{name: "unreserved decoded", raw: "/%61aa", want: "/aaa"},
	{name: "decoded once", raw: "/a%252F", want: "/a%252F"},
	{name: "encoded comma", raw: "/a%2Cb/_search", want: "/a,b/_search"},
	{name: "encoded star", raw: "/%2A/_search", want: "/*/_search"},
	{name: "date math", raw: "/%3Clogs-%7Bnow%2Fd%7D%3E/_search", want: "/%3Clogs-%7Bnow%2Fd%7D%3E/_search"},
	{name: "raw date math", raw: "/<logs-{now%2Fd}>/_search", want: "/%3Clogs-%7Bnow%2Fd%7D%3E/_search"},
	// Elasticsearch would take the raw token _se%61rch for an index name;
	// the gateway forwards /_search and the policy checks /_search: what is
	// checked is what is sent.
	{name: "encoded route literal", raw: "/_se%61rch", want: "/_search"},

	// '+' stays '+' in the decoded segment (Elasticsearch's path decoding);
	// it is forwarded as %2B so that es.rest.url_plus_as_space cannot turn
	// it into a space.
	{name: "plus kept", raw: "/idx/_doc/a+b", want: "/idx/_doc/a%2Bb"},
	{name: "encoded plus", raw: "/idx/_doc/a%2bb", want: "/idx/_doc/a%2Bb"},
	{name: "semicolon encoded", raw: "/a;b", want: "/a%3Bb"},
	{name: "raw space encoded", raw: "/a b", want: "/a%20b"},
	{name: "encoded hash", raw: "/a%23b", want: "/a%23b"},
	{name: "encoded question mark", raw: "/a%3Fb", want: "/a%3Fb"},
	{name: "encoded percent", raw: "/100%25", want: "/100%25"},

	{name: "non-ASCII raw", raw: "/índice/_doc/日本", want: "/%C3%ADndice/_doc/%E6%97%A5%E6%9C%AC"},
	{name: "non-ASCII lower-case escapes", raw: "/%c3%adndice", want: "/%C3%ADndice"},
	{name: "emoji", raw: "/%F0%9F%98%80", want: "/%F0%9F%98%80"},
	{name: "replacement character is text", raw: "/%EF%BF%BD", want: "/%EF%BF%BD"},

	{name: "empty", raw: "", err: ErrPathNotAbsolute},
	{name: "relative", raw: "aaa", err: ErrPathNotAbsolute},
	{name: "asterisk form", raw: "*", err: ErrPathNotAbsolute},
	{name: "encoded NUL", raw: "/a%00", err: ErrPathControl},
	{name: "raw NUL", raw: "/a\x00", err: ErrPathControl},
	{name: "raw newline", raw: "/a\nb", err: ErrPathControl},
	{name: "encoded CR", raw: "/a%0D", err: ErrPathControl},
	{name: "encoded DEL", raw: "/a%7f", err: ErrPathControl},
	{name: "raw DEL", raw: "/a\x7f", err: ErrPathControl},
	{name: "C1 control NEL", raw: "/a%C2%85", err: ErrPathControl},
	{name: "raw tab", raw: "/a\tb", err: ErrPathControl},
	{name: "bad hex", raw: "/a%zz", err: ErrPathEncoding},
	{name: "truncated escape", raw: "/a%2", err: ErrPathEncoding},
	{name: "lone percent", raw: "/a%", err: ErrPathEncoding},
	{name: "double percent", raw: "/a%%41", err: ErrPathEncoding},
	{name: "escape split by slash", raw: "/a%2/F", err: ErrPathEncoding},
	{name: "invalid UTF-8 byte", raw: "/a%ff", err: ErrPathUTF8},
	{name: "raw invalid UTF-8", raw: "/a\x80", err: ErrPathUTF8},
	{name: "overlong slash", raw: "/a%C0%AFb", err: ErrPathUTF8},
	{name: "overlong dot", raw: "/%C0%AE%C0%AE", err: ErrPathUTF8},
	{name: "surrogate", raw: "/%ED%A0%80", err: ErrPathUTF8},
	{name: "truncated UTF-8", raw: "/%E6%97", err: ErrPathUTF8},
	{name: "raw hash", raw: "/a#b", err: ErrPathCharacter},
	{name: "raw question mark", raw: "/a?b", err: ErrPathCharacter},
}

func TestPath(t *testing.T) {
	for _, tc := range pathCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Path([]byte(tc.raw))
			if tc.err != nil {
				if !errors.Is(err, tc.err) || !errors.Is(err, ErrBadPath) {
					t.Fatalf("Path(%q) = %q, %v; want error %v", tc.raw, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Path(%q) = %q, %v; want %q", tc.raw, got, err, tc.want)
			}
			checkCanonical(t, tc.raw, got)
		})
	}
}

func TestSegments(t *testing.T) {
	for _, tc := range []struct {
		canonical string
		want      []string
	}{
		{"/", nil},
		{"/index/_search", []string{"index", "_search"}},
		{"/aaa%2Fbbb", []string{"aaa/bbb"}},
		{"/a%252F", []string{"a%2F"}},
		{"/idx/_doc/a%2Bb", []string{"idx", "_doc", "a+b"}},
		{"/%C3%ADndice/%E6%97%A5%E6%9C%AC", []string{"índice", "日本"}},
		{"/%3Clogs-%7Bnow%2Fd%7D%3E/_search", []string{"<logs-{now/d}>", "_search"}},
		// Not canonical: unspecified, but no panic and no lost bytes.
		{"a//%zz/%", []string{"a", "%zz", "%"}},
	} {
		if got := Segments(tc.canonical); !slices.Equal(got, tc.want) {
			t.Errorf("Segments(%q) = %q; want %q", tc.canonical, got, tc.want)
		}
	}
}

// TestPathSegmentBoundary shows why policy matching works on segments of
// the canonical path: an encoded slash cannot extend a prefix grant.
func TestPathSegmentBoundary(t *testing.T) {
	covers := func(prefix, path string) bool {
		p, s := Segments(prefix), Segments(path)
		return len(s) >= len(p) && slices.Equal(s[:len(p)], p)
	}
	for _, tc := range []struct {
		prefix, raw string
		want        bool
	}{
		{"/aaa", "/aaa", true},
		{"/aaa", "/aaa/bbb", true},
		{"/aaa", "//aaa//bbb/", true},
		{"/aaa", "/aaa%2Fbbb", false}, // one segment "aaa/bbb"
		{"/aaa", "/aaab", false},
		{"/aaa", "/aaa/../bbb", false},
		{"/aaa", "/aaa/%2e%2e/bbb", false},
		{"/aaa", "/bbb/../aaa/x", true},
	} {
		p, err := Path([]byte(tc.raw))
		if err != nil {
			t.Fatalf("Path(%q): %v", tc.raw, err)
		}
		if got := covers(tc.prefix, p); got != tc.want {
			t.Errorf("%q covers %q (canonical %q) = %v; want %v", tc.prefix, tc.raw, p, got, tc.want)
		}
	}
}

// TestPathProperties checks the invariants on random paths built from the
// pieces that matter, against a reference built on net/url.
func TestPathProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const n = 200_000
	accepted := 0
	for range n {
		raw := randomPath(r)
		got, err := Path([]byte(raw))
		if err != nil {
			checkError(t, err, ErrBadPath)
			if _, ok := referenceSegments(raw); ok {
				t.Fatalf("Path(%q) = %v; reference accepts it", raw, err)
			}
			continue
		}
		checkCanonical(t, raw, got)
		ref, ok := referenceSegments(raw)
		if !ok {
			t.Fatalf("Path(%q) = %q; reference rejects it", raw, got)
		}
		if seg := Segments(got); !slices.Equal(seg, ref) {
			t.Fatalf("Segments(Path(%q)) = %q; reference %q", raw, seg, ref)
		}
		accepted++
	}
	if accepted < n/10 || accepted > n*9/10 {
		t.Fatalf("%d of %d random paths accepted: generator is lopsided", accepted, n)
	}
}

var pathPieces = []string{
	"/", "/", "/", "//", ".", "..", "%2e", "%2E", "%2e%2e", "%2f", "%2F", "%5C", `\`,
	"%25", "%252F", "%", "%%", "%zz", "%2", "a", "Z", "_search", "+", "%2B", ";",
	" ", "*", ",", "é", "%C3%A9", "%c3", "%ff", "\xc3", "\x00", "%00", "%0a",
	"%7F", "%C2%85", "#", "?", "~", "<", "%3C", "日", "%E6%97%A5",
}

func randomPath(r *rand.Rand) string {
	var b strings.Builder
	if r.IntN(20) != 0 {
		b.WriteByte('/')
	}
	for range r.IntN(10) {
		b.WriteString(pathPieces[r.IntN(len(pathPieces))])
	}
	return b.String()
}

// referenceSegments is a slow, obviously-correct model of Path's decoding:
// split, url.PathUnescape each segment, validate, resolve dot segments.
func referenceSegments(raw string) ([]string, bool) {
	if !strings.HasPrefix(raw, "/") || strings.ContainsAny(raw, "#?") {
		return nil, false
	}
	var out []string
	for _, s := range strings.Split(raw[1:], "/") {
		if s == "" {
			continue
		}
		if strings.Contains(s, "%%") {
			return nil, false
		}
		d, err := url.PathUnescape(s)
		if err != nil || !utf8.ValidString(d) {
			return nil, false
		}
		for _, r := range d {
			if r < 0x20 || 0x7f <= r && r <= 0x9f {
				return nil, false
			}
		}
		switch d {
		case ".":
		case "..":
			if len(out) == 0 {
				return nil, false
			}
			out = out[:len(out)-1]
		default:
			out = append(out, d)
		}
	}
	return out, true
}

// checkCanonical asserts the invariants of a canonical path p.
func checkCanonical(t testing.TB, raw, p string) {
	t.Helper()
	if !strings.HasPrefix(p, "/") || (p != "/" && strings.HasSuffix(p, "/")) {
		t.Fatalf("Path(%q) = %q: bad slashes", raw, p)
	}
	for _, bad := range []string{"//", "/./", "/../"} {
		if strings.Contains(p, bad) {
			t.Fatalf("Path(%q) = %q contains %q", raw, p, bad)
		}
	}
	if strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/..") {
		t.Fatalf("Path(%q) = %q ends in a dot segment", raw, p)
	}
	for i := range len(p) {
		if c := p[i]; c <= ' ' || c >= 0x7f || c == '+' || c == ';' || c == '#' || c == '?' || c == '\\' {
			t.Fatalf("Path(%q) = %q has raw byte %#x", raw, p, c)
		}
	}
	again, err := Path([]byte(p))
	if err != nil || again != p {
		t.Fatalf("Path(Path(%q)) = %q, %v; want %q", raw, again, err, p)
	}
	segs := Segments(p)
	var joined []byte
	for _, s := range segs {
		if s == "" || s == "." || s == ".." {
			t.Fatalf("Segments(%q) has segment %q", p, s)
		}
		joined = appendEscaped(append(joined, '/'), []byte(s))
	}
	if len(joined) == 0 {
		joined = []byte("/")
	}
	if string(joined) != p {
		t.Fatalf("joined Segments(%q) = %q", p, joined)
	}
	// What Elasticsearch reads: split on '/', decode each token with its
	// decoder, with '+' as '+' (default) or as space (url_plus_as_space).
	for _, plusAsSpace := range []bool{false, true} {
		var es []string
		for _, tok := range strings.Split(p, "/")[1:] {
			if tok == "" {
				continue
			}
			d, err := esDecode(tok, plusAsSpace)
			if err != nil {
				t.Fatalf("Elasticsearch cannot decode %q of %q: %v", tok, p, err)
			}
			es = append(es, d)
		}
		if !slices.Equal(es, segs) {
			t.Fatalf("Elasticsearch decodes %q to %q; policy sees %q", p, es, segs)
		}
	}
}

// esDecode is RestUtils.decodeComponent of Elasticsearch 8: '%%' is '%',
// a malformed escape an error, the bytes are read as UTF-8 (malformed input
// replaced), and a token without '%' (or '+') is returned unchanged.
func esDecode(s string, plusAsSpace bool) (string, error) {
	if !strings.Contains(s, "%") && !(plusAsSpace && strings.Contains(s, "+")) {
		return s, nil
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '+' && plusAsSpace:
			c = ' '
		case c == '%':
			if i+1 >= len(s) {
				return "", errors.New("unterminated escape")
			}
			if s[i+1] == '%' {
				i++
				break
			}
			if i+2 >= len(s) {
				return "", errors.New("partial escape")
			}
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi > 15 || lo > 15 {
				return "", errors.New("invalid escape")
			}
			c = hi<<4 | lo
			i += 2
		}
		b = append(b, c)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

// checkError asserts that err wraps kind and says nothing but one of the
// fixed reasons: no input, and so no secret, can be in it.
func checkError(t testing.TB, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error %v does not wrap %v", err, kind)
	}
	r, ok := err.(*reason)
	if !ok || !slices.Contains(allReasons, err) || err.Error() != r.msg {
		t.Fatalf("error %q is not one of the fixed reasons", err)
	}
}

var allReasons = []error{
	ErrPathNotAbsolute, ErrPathEncoding, ErrPathControl, ErrPathCharacter, ErrPathUTF8, ErrPathEscapesRoot,
	ErrQueryEncoding, ErrQueryCharacter, ErrQueryUTF8, ErrQueryName,
	ErrAuthorizationEmpty, ErrAuthorizationScheme, ErrAuthorizationSyntax, ErrCredentialsEmpty,
	ErrCredentialsEncoding, ErrCredentialsUTF8, ErrCredentialsSeparator, ErrUsernameEmpty,
	ErrUsernameInvalid, ErrAPIKeyIDEmpty, ErrAPIKeyIDInvalid, ErrAPIKeySecretEmpty,
}

func TestPathAllocs(t *testing.T) {
	for raw, max := range map[string]float64{
		"/index/_search":                1,
		"/logs-2024.01.01/_doc/a%2Fb":   1,
		"//a/./b/../%2e%2e/c%C3%A9/":    1,
		"/" + strings.Repeat("x/", 200): 2, // past the stack buffer
	} {
		raw := []byte(raw)
		if n := testing.AllocsPerRun(100, func() { _, _ = Path(raw) }); n > max {
			t.Errorf("Path(%q): %v allocs; want <= %v", raw, n, max)
		}
	}
	bad := []byte("/a/%zz")
	if n := testing.AllocsPerRun(100, func() { _, _ = Path(bad) }); n != 0 {
		t.Errorf("rejecting a path: %v allocs; want 0", n)
	}
}

func BenchmarkPath(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{
		{"search", "/index/_search"},
		{"doc_id_escaped", "/logs-2024.01.01/_doc/abc%2Fdef"},
		{"dot_segments", "//a/./b/../%2e%2e/c%C3%A9/_search/"},
		{"long", "/" + strings.Repeat("segment/", 40)},
	} {
		raw := bc.raw
		b.Run(bc.name, func(b *testing.B) {
			raw := []byte(raw)
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Path(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
