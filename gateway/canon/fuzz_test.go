package canon

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// The fuzzers are seeded from the table tests and assert the invariants:
// no panic, canonical output, agreement with Elasticsearch's parsing, and
// errors that are one of the fixed reasons (so never carry a secret).

func FuzzPath(f *testing.F) {
	for _, tc := range pathCases {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Path(raw)
		if err != nil {
			checkError(t, err, ErrBadPath)
			if _, ok := referenceSegments(string(raw)); ok {
				t.Fatalf("Path(%q) = %v; reference accepts it", raw, err)
			}
			return
		}
		checkCanonical(t, string(raw), p)
		ref, ok := referenceSegments(string(raw))
		if !ok {
			t.Fatalf("Path(%q) = %q; reference rejects it", raw, p)
		}
		if got := Segments(p); !slices.Equal(got, ref) {
			t.Fatalf("Segments(Path(%q)) = %q; reference %q", raw, got, ref)
		}
		if got := AppendSegments([]string{"kept"}, p); !slices.Equal(got, append([]string{"kept"}, ref...)) {
			t.Fatalf("AppendSegments(Path(%q)) = %q; reference %q after kept", raw, got, ref)
		}
	})
}

func FuzzTakeParam(f *testing.F) {
	for _, tc := range takeParamCases {
		f.Add([]byte(tc.raw), tc.param)
	}
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		orig := bytes.Clone(raw)
		rest, value, found, err := TakeParam(raw, name)
		if !bytes.Equal(raw, orig) {
			t.Fatalf("TakeParam modified its input")
		}
		if err != nil {
			checkError(t, err, ErrBadQuery)
			return
		}
		if !found && (value != "" || !bytes.Equal(rest, raw)) {
			t.Fatalf("TakeParam(%q, %q) = %q, %q without finding it", raw, name, rest, value)
		}
		if found && !utf8.ValidString(value) {
			t.Fatalf("TakeParam(%q, %q) value %q is not UTF-8", raw, name, value)
		}
		checkTakeParam(t, raw, name, rest, value, found)
	})
}

func FuzzParseAuthorization(f *testing.F) {
	for _, tc := range authorizationCases {
		f.Add([]byte(tc.h))
	}
	f.Fuzz(func(t *testing.T, h []byte) {
		scheme, cred, err := ParseAuthorization(h)
		if err != nil {
			if scheme != "" || cred != "" {
				t.Fatalf("ParseAuthorization(%q) returned values with error %v", h, err)
			}
			var r *reason
			if !asReason(err, &r) {
				t.Fatalf("error %q is not a fixed reason", err)
			}
			checkError(t, err, r.kind)
			return
		}
		raw, rest, ok := bytes.Cut(h, []byte{' '})
		if !ok || string(rest) != cred || cred == "" {
			t.Fatalf("ParseAuthorization(%q) credentials = %q", h, cred)
		}
		for _, known := range []string{SchemeBasic, SchemeBearer, SchemeAPIKey} {
			if strings.EqualFold(string(raw), known) {
				if scheme != known {
					t.Fatalf("ParseAuthorization(%q) scheme = %q; want %q", h, scheme, known)
				}
				if strings.ContainsFunc(cred, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
					t.Fatalf("ParseAuthorization(%q) credentials %q have invisible bytes", h, cred)
				}
				return
			}
		}
		if scheme != string(raw) {
			t.Fatalf("ParseAuthorization(%q) scheme = %q", h, scheme)
		}
	})
}

func FuzzParseBasic(f *testing.F) {
	for _, tc := range basicCases {
		f.Add(tc.cred)
	}
	f.Fuzz(func(t *testing.T, cred string) {
		u, p, err := ParseBasic(cred)
		if err != nil {
			checkError(t, err, ErrBadCredentials)
			checkDecoder(t, cred)
			return
		}
		if u == "" || strings.Contains(u, ":") || hasControl(u) || !utf8.ValidString(u+p) {
			t.Fatalf("ParseBasic(%q) = %q, %q", cred, u, p)
		}
		checkRoundTrip(t, cred, u+":"+p)
	})
}

func FuzzParseAPIKey(f *testing.F) {
	for _, tc := range apiKeyCases {
		f.Add(tc.cred)
	}
	f.Fuzz(func(t *testing.T, cred string) {
		id, secret, err := ParseAPIKey(cred)
		if err != nil {
			checkError(t, err, ErrBadCredentials)
			checkDecoder(t, cred)
			return
		}
		if id == "" || secret == "" || strings.Contains(id, ":") || hasControl(id) || !utf8.ValidString(id+secret) {
			t.Fatalf("ParseAPIKey(%q) = %q, %q", cred, id, secret)
		}
		checkRoundTrip(t, cred, id+":"+secret)
	})
}

// checkRoundTrip asserts that cred is the base64 of plain, padded or not:
// the only encodings the strict decoder accepts.
func checkRoundTrip(t *testing.T, cred, plain string) {
	t.Helper()
	if cred != base64.StdEncoding.EncodeToString([]byte(plain)) &&
		cred != base64.RawStdEncoding.EncodeToString([]byte(plain)) {
		t.Fatalf("%q was accepted as the encoding of %q", cred, plain)
	}
}

// checkDecoder asserts that decodeBase64 accepts exactly what strict
// encoding/base64 accepts, minus the line breaks it skips.
func checkDecoder(t *testing.T, cred string) {
	t.Helper()
	enc := base64.StdEncoding.Strict()
	if len(cred)%4 != 0 {
		enc = base64.RawStdEncoding.Strict()
	}
	want, wantErr := enc.DecodeString(cred)
	if strings.ContainsAny(cred, "\r\n") {
		wantErr = base64.CorruptInputError(0)
	}
	got, err := decodeBase64(nil, cred)
	if (err != nil) != (wantErr != nil) || err == nil && !bytes.Equal(got, want) {
		t.Fatalf("decodeBase64(%q) = %x, %v; encoding/base64: %x, %v", cred, got, err, want, wantErr)
	}
}

func asReason(err error, r **reason) bool {
	x, ok := err.(*reason)
	*r = x
	return ok
}
