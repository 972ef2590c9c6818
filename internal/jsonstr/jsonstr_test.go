package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// reference is encoding/json's encoding of s without HTML escaping.
func reference(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

// marshal is json.Marshal's encoding of s (HTML escaping on).
func marshal(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// jackson is what Jackson writes for s: encoding/json's escapes of the
// string with invalid UTF-8 decoded to U+FFFD, with U+2028 and U+2029 as
// they are (for the table's strings, which hold no backslash before a u).
func jackson(t *testing.T, s string) string {
	r := reference(t, validUTF8(s))
	return strings.NewReplacer(`\u2028`, "\u2028", `\u2029`, "\u2029").Replace(r)
}

var cases = []string{
	"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r\f\b", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "a<b>c&d, sixteen bytes<", "é ü 日本", "line\u2028sep\u2029", "bad \xff utf8 \xc3", "long run of sixteen bytes, then \"",
	strings.Repeat("x", 7) + "\n" + strings.Repeat("y", 9),
}

func TestAppend(t *testing.T) {
	for _, s := range cases {
		if got, want := string(Append(nil, s)), reference(t, s); got != want {
			t.Errorf("Append(%q) = %s, want %s", s, got, want)
		}
		ref := reference(t, s)
		if got, want := string(AppendContent([]byte("x"), s)), "x"+ref[1:len(ref)-1]; got != want {
			t.Errorf("AppendContent(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(AppendJackson(nil, s)), jackson(t, s); got != want {
			t.Errorf("AppendJackson(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(AppendHTML(nil, s)), marshal(t, s); got != want {
			t.Errorf("AppendHTML(%q) = %s, want %s", s, got, want)
		}
	}
}

// FuzzAppend: byte for byte encoding/json (with and without HTML
// escaping, and Jackson's variant), and
// always valid JSON that decodes to s with invalid UTF-8 replaced.
func FuzzAppend(f *testing.F) {
	for _, s := range cases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(Append(nil, s)), reference(t, s); got != want {
			t.Fatalf("Append(%q) = %s, want %s", s, got, want)
		}
		if got, want := string(AppendHTML(nil, s)), marshal(t, s); got != want {
			t.Fatalf("AppendHTML(%q) = %s, want %s", s, got, want)
		}
		j := AppendJackson(nil, s)
		var back string
		if err := json.Unmarshal(j, &back); err != nil || back != validUTF8(s) || !utf8.Valid(j) {
			t.Fatalf("AppendJackson(%q) = %s: decodes to %q (%v)", s, j, back, err)
		}
	})
}

// validUTF8 is s with each byte that is not part of valid UTF-8 replaced by
// U+FFFD, as Java decodes it.
func validUTF8(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
