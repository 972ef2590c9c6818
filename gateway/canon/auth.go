package canon

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// The schemes ParseAuthorization recognizes, in their normalized spelling.
const (
	SchemeBasic  = "Basic"
	SchemeBearer = "Bearer"
	SchemeAPIKey = "ApiKey"
)

// ParseAuthorization splits an Authorization header value into its scheme
// and credentials.
//
// The scheme is matched case-insensitively and normalized to [SchemeBasic],
// [SchemeBearer] or [SchemeAPIKey]; any other scheme is returned as given (a
// valid RFC 9110 token), for the caller to reject. Exactly one space separates
// scheme and credentials, as in Elasticsearch's "Basic " / "Bearer " /
// "ApiKey " prefixes (Elasticsearch also trims whitespace after the prefix;
// the gateway is the header's final consumer and accepts only the canonical
// form). Credentials of the three known schemes are visible ASCII without
// spaces; for other schemes they must only be free of control characters.
// Empty credentials are an error.
//
// Errors wrap [ErrBadAuthorization] or [ErrBadCredentials] and never quote
// the header.
func ParseAuthorization(h []byte) (scheme, credentials string, err error) {
	if len(h) == 0 {
		return "", "", ErrAuthorizationEmpty
	}
	s, c, _ := bytes.Cut(h, []byte{' '})
	if !isToken(s) {
		return "", "", ErrAuthorizationScheme
	}
	if len(c) == 0 {
		return "", "", ErrCredentialsEmpty
	}
	known := true
	switch {
	case asciiEqualFold(s, SchemeBasic):
		scheme = SchemeBasic
	case asciiEqualFold(s, SchemeBearer):
		scheme = SchemeBearer
	case asciiEqualFold(s, SchemeAPIKey):
		scheme = SchemeAPIKey
	default:
		known = false
	}
	if c[0] == ' ' || c[0] == '\t' {
		return "", "", ErrAuthorizationSyntax
	}
	for _, b := range c {
		visible := ' ' < b && b < 0x7f
		if known && !visible || b < ' ' && b != '\t' || b == 0x7f {
			return "", "", ErrAuthorizationSyntax
		}
	}
	if !known {
		scheme = string(s)
	}
	return scheme, string(c), nil
}

// isToken reports whether s is a non-empty RFC 9110 token.
func isToken(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for _, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// asciiEqualFold compares b and s ignoring ASCII case.
func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// ParseBasic decodes the credentials of a Basic header: standard base64
// (padding optional, but all or nothing) of "username:password" in UTF-8.
// The split is at the first ':', so a password may contain ':'. The username
// must be non-empty and free of control characters; the password may be
// empty (the realm rejects it). Errors wrap [ErrBadCredentials] and never
// contain any part of cred.
func ParseBasic(cred string) (username, password string, err error) {
	user, secret, err := splitCredentials(cred)
	if err != nil {
		return "", "", err
	}
	if user == "" {
		return "", "", ErrUsernameEmpty
	}
	if hasControl(user) {
		return "", "", ErrUsernameInvalid
	}
	return user, secret, nil
}

// ParseAPIKey decodes the credentials of an ApiKey header: standard base64
// of "id:api_key" in UTF-8, split at the first ':' as Elasticsearch's
// ApiKeyService does. Both parts must be non-empty and the id free of control
// characters. Errors wrap [ErrBadCredentials] and never contain any part of
// cred.
func ParseAPIKey(cred string) (id, secret string, err error) {
	id, secret, err = splitCredentials(cred)
	if err != nil {
		return "", "", err
	}
	switch {
	case id == "":
		return "", "", ErrAPIKeyIDEmpty
	case hasControl(id):
		return "", "", ErrAPIKeyIDInvalid
	case secret == "":
		return "", "", ErrAPIKeySecretEmpty
	}
	return id, secret, nil
}

// splitCredentials decodes base64 "a:b" and splits it at the first ':'. Both
// results share one allocation.
func splitCredentials(cred string) (a, b string, err error) {
	if cred == "" {
		return "", "", ErrCredentialsEmpty
	}
	var buf [192]byte
	dec, err := decodeBase64(buf[:0], cred)
	if err != nil {
		return "", "", err
	}
	if !utf8.Valid(dec) {
		return "", "", ErrCredentialsUTF8
	}
	i := bytes.IndexByte(dec, ':')
	if i < 0 {
		return "", "", ErrCredentialsSeparator
	}
	s := string(dec)
	return s[:i], s[i+1:], nil
}

// hasControl reports whether s contains a C0, DEL or C1 control character.
// s is valid UTF-8.
func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || 0x7f <= r && r <= 0x9f {
			return true
		}
	}
	return false
}

const (
	stdAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

func decodeTable(alphabet string) (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := range len(alphabet) {
		t[alphabet[i]] = byte(i)
	}
	return t
}

var (
	stdDecode = decodeTable(stdAlphabet)
	urlDecode = decodeTable(urlAlphabet)
)

// decodeBase64 appends the standard-base64 decoding of s to dst. It is
// strict where encoding/base64 is lenient: no '\r' or '\n' anywhere, padding
// complete or absent, and unused trailing bits zero, so every byte string has
// exactly one accepted encoding with and one without padding.
func decodeBase64(dst []byte, s string) ([]byte, error) {
	if len(s)%4 == 0 && len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
		if s[len(s)-1] == '=' {
			s = s[:len(s)-1]
		}
	}
	if len(s)%4 == 1 {
		return dst, ErrCredentialsEncoding
	}
	var v uint32
	for i := range len(s) {
		d := stdDecode[s[i]]
		if d == 0xff {
			return dst, ErrCredentialsEncoding
		}
		v = v<<6 | uint32(d)
		if i%4 == 3 {
			dst = append(dst, byte(v>>16), byte(v>>8), byte(v))
			v = 0
		}
	}
	switch len(s) % 4 {
	case 2: // 12 bits: one byte, 4 unused bits
		if v&0xf != 0 {
			return dst, ErrCredentialsEncoding
		}
		dst = append(dst, byte(v>>4))
	case 3: // 18 bits: two bytes, 2 unused bits
		if v&0x3 != 0 {
			return dst, ErrCredentialsEncoding
		}
		dst = append(dst, byte(v>>10), byte(v>>2))
	}
	return dst, nil
}

// TokenLen is the length of a login token: 32 random bytes as unpadded
// base64url.
const TokenLen = 43

// ValidToken reports whether tok has the shape of a login token: TokenLen
// characters of the base64url alphabet whose last character carries no
// unused bits (the only encoding of its 32 bytes). Checking the shape first
// keeps garbage out of the digest and the token cache lookup.
func ValidToken(tok string) bool {
	if len(tok) != TokenLen {
		return false
	}
	for i := range len(tok) {
		if urlDecode[tok[i]] == 0xff {
			return false
		}
	}
	// 43 characters are 258 bits for 256: the last character's two low bits
	// are unused and must be zero.
	return urlDecode[tok[TokenLen-1]]&3 == 0
}
