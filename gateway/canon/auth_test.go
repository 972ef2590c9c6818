package canon

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

var authorizationCases = []struct {
	name, h             string
	scheme, credentials string
	err                 error
}{
	{name: "basic", h: "Basic dXNlcjpwYXNz", scheme: "Basic", credentials: "dXNlcjpwYXNz"},
	{name: "basic lower case", h: "basic dXNlcjpwYXNz", scheme: "Basic", credentials: "dXNlcjpwYXNz"},
	{name: "basic upper case", h: "BASIC dXNlcjpwYXNz", scheme: "Basic", credentials: "dXNlcjpwYXNz"},
	{name: "bearer", h: "bearer " + strings.Repeat("A", 43), scheme: "Bearer", credentials: strings.Repeat("A", 43)},
	{name: "api key", h: "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==", scheme: "ApiKey",
		credentials: "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw=="},
	{name: "api key any case", h: "APIKEY abc", scheme: "ApiKey", credentials: "abc"},
	{name: "other scheme as given", h: "Negotiate YIIC", scheme: "Negotiate", credentials: "YIIC"},
	{name: "other scheme with parameters", h: `Digest username="a", realm="b"`, scheme: "Digest", credentials: `username="a", realm="b"`},

	{name: "empty", h: "", err: ErrAuthorizationEmpty},
	{name: "scheme only", h: "Basic", err: ErrCredentialsEmpty},
	{name: "scheme and space", h: "Basic ", err: ErrCredentialsEmpty},
	{name: "two spaces", h: "Basic  dXNlcjpwYXNz", err: ErrAuthorizationSyntax},
	{name: "space and tab", h: "Bearer \tabc", err: ErrAuthorizationSyntax},
	{name: "space inside", h: "Basic dXNl cjpwYXNz", err: ErrAuthorizationSyntax},
	{name: "trailing space", h: "Bearer abc ", err: ErrAuthorizationSyntax},
	{name: "control", h: "Basic abc\x00", err: ErrAuthorizationSyntax},
	{name: "non-ASCII", h: "Bearer abc\xc3\xa9", err: ErrAuthorizationSyntax},
	{name: "control in other scheme", h: "Foo a\x01b", err: ErrAuthorizationSyntax},
	{name: "leading space", h: " Basic abc", err: ErrAuthorizationScheme},
	{name: "tab separator", h: "Basic\tabc", err: ErrAuthorizationScheme},
	{name: "bad scheme", h: "Bas(ic abc", err: ErrAuthorizationScheme},
}

func TestParseAuthorization(t *testing.T) {
	for _, tc := range authorizationCases {
		t.Run(tc.name, func(t *testing.T) {
			scheme, cred, err := ParseAuthorization([]byte(tc.h))
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("ParseAuthorization(%q) = %q, %q, %v; want %v", tc.h, scheme, cred, err, tc.err)
				}
				checkError(t, err, err.(*reason).kind)
				return
			}
			if err != nil || scheme != tc.scheme || cred != tc.credentials {
				t.Fatalf("ParseAuthorization(%q) = %q, %q, %v; want %q, %q", tc.h, scheme, cred, err, tc.scheme, tc.credentials)
			}
		})
	}
}

var basicCases = []struct {
	name, cred         string
	username, password string
	err                error
}{
	{name: "simple", cred: b64("user:pass"), username: "user", password: "pass"},
	{name: "colon in password", cred: b64("user:pa:ss:"), username: "user", password: "pa:ss:"},
	{name: "empty password", cred: b64("user:"), username: "user", password: ""},
	{name: "unpadded", cred: "YWI6Yw", username: "ab", password: "c"},
	{name: "one padding byte", cred: b64("ab:cd"), username: "ab", password: "cd"},
	{name: "UTF-8", cred: b64("jürgen:passwörd ✓"), username: "jürgen", password: "passwörd ✓"},
	{name: "spaces kept", cred: b64(" u : p "), username: " u ", password: " p "},
	{name: "control in password allowed", cred: b64("u:\x00\x01"), username: "u", password: "\x00\x01"},

	{name: "empty", cred: "", err: ErrCredentialsEmpty},
	{name: "no separator", cred: b64("userpass"), err: ErrCredentialsSeparator},
	{name: "empty username", cred: b64(":pass"), err: ErrUsernameEmpty},
	{name: "control in username", cred: b64("us\x01er:p"), err: ErrUsernameInvalid},
	{name: "C1 in username", cred: b64("us\u0085er:p"), err: ErrUsernameInvalid},
	{name: "invalid UTF-8", cred: b64("us\xffer:p"), err: ErrCredentialsUTF8},
	{name: "invalid UTF-8 password", cred: b64("user:\xc3"), err: ErrCredentialsUTF8},
	{name: "not base64", cred: "not base64!", err: ErrCredentialsEncoding},
	{name: "base64url alphabet", cred: "dXNlcjpw-_Nz", err: ErrCredentialsEncoding},
	{name: "partial padding", cred: "YWI6Yw=", err: ErrCredentialsEncoding},
	{name: "too much padding", cred: "YWI6Yw===", err: ErrCredentialsEncoding},
	{name: "padding inside", cred: "YQ==YWI6", err: ErrCredentialsEncoding},
	{name: "only padding", cred: "====", err: ErrCredentialsEncoding},
	{name: "nonzero trailing bits", cred: "YWI6Yx==", err: ErrCredentialsEncoding},
	{name: "impossible length", cred: "YWI6Y", err: ErrCredentialsEncoding},
	{name: "newline", cred: "YWI6\nYw==", err: ErrCredentialsEncoding},
}

func TestParseBasic(t *testing.T) {
	for _, tc := range basicCases {
		t.Run(tc.name, func(t *testing.T) {
			u, p, err := ParseBasic(tc.cred)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || u != "" || p != "" {
					t.Fatalf("ParseBasic(%q) = %q, %q, %v; want %v", tc.cred, u, p, err, tc.err)
				}
				checkError(t, err, ErrBadCredentials)
				return
			}
			if err != nil || u != tc.username || p != tc.password {
				t.Fatalf("ParseBasic(%q) = %q, %q, %v; want %q, %q", tc.cred, u, p, err, tc.username, tc.password)
			}
		})
	}
}

var apiKeyCases = []struct {
	name, cred string
	id, secret string
	err        error
}{
	// The example from Elasticsearch's create API key documentation.
	{name: "documented", cred: "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
		id: "VuaCfGcBCdbkQm-e5aOx", secret: "ui2lp2axTNmsyakw9tvNnw"},
	{name: "unpadded", cred: "aWQ6c2VjcmV0", id: "id", secret: "secret"},
	{name: "colon in secret", cred: b64("id:se:cret"), id: "id", secret: "se:cret"},

	{name: "raw key instead of encoded", cred: "VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw", err: ErrCredentialsEncoding},
	{name: "empty", cred: "", err: ErrCredentialsEmpty},
	{name: "no separator", cred: b64("idsecret"), err: ErrCredentialsSeparator},
	{name: "empty id", cred: b64(":secret"), err: ErrAPIKeyIDEmpty},
	{name: "empty secret", cred: b64("id:"), err: ErrAPIKeySecretEmpty},
	{name: "control in id", cred: b64("i\nd:secret"), err: ErrAPIKeyIDInvalid},
	{name: "invalid UTF-8", cred: b64("id:\xff"), err: ErrCredentialsUTF8},
}

func TestParseAPIKey(t *testing.T) {
	for _, tc := range apiKeyCases {
		t.Run(tc.name, func(t *testing.T) {
			id, secret, err := ParseAPIKey(tc.cred)
			if tc.err != nil {
				if !errors.Is(err, tc.err) || id != "" || secret != "" {
					t.Fatalf("ParseAPIKey(%q) = %q, %q, %v; want %v", tc.cred, id, secret, err, tc.err)
				}
				checkError(t, err, ErrBadCredentials)
				return
			}
			if err != nil || id != tc.id || secret != tc.secret {
				t.Fatalf("ParseAPIKey(%q) = %q, %q, %v; want %q, %q", tc.cred, id, secret, err, tc.id, tc.secret)
			}
		})
	}
}

// TestDecodeBase64 compares the decoder with encoding/base64 in strict mode.
func TestDecodeBase64(t *testing.T) {
	for n := range 64 {
		b := make([]byte, n)
		for range 50 {
			_, _ = rand.Read(b)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding} {
				s := enc.EncodeToString(b)
				got, err := decodeBase64(nil, s)
				if err != nil || string(got) != string(b) {
					t.Fatalf("decodeBase64(%q) = %x, %v; want %x", s, got, err, b)
				}
			}
		}
	}
}

func TestValidToken(t *testing.T) {
	var b [32]byte
	for range 1000 {
		_, _ = rand.Read(b[:])
		if tok := base64.RawURLEncoding.EncodeToString(b[:]); !ValidToken(tok) {
			t.Fatalf("ValidToken(%q) = false", tok)
		}
	}
	good := base64.RawURLEncoding.EncodeToString(make([]byte, 32)) // 43 'A's
	for _, tok := range []string{
		"",
		good[:42],
		good + "A",
		good[:42] + "=",
		good[:41] + "==",
		good[:42] + "B", // unused low bits set: not the encoding of 32 bytes
		good[:42] + "+",
		good[:42] + "/",
		good[:42] + ".",
		"Bearer " + good[:36],
		base64.StdEncoding.EncodeToString(make([]byte, 32)),
	} {
		if ValidToken(tok) {
			t.Errorf("ValidToken(%q) = true", tok)
		}
	}
}

func BenchmarkParseAuthorization(b *testing.B) {
	h := []byte("Basic " + b64("elastic:changeme"))
	b.ReportAllocs()
	for b.Loop() {
		_, cred, err := ParseAuthorization(h)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := ParseBasic(cred); err != nil {
			b.Fatal(err)
		}
	}
}
