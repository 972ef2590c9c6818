package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
)

// API key lengths, as Elasticsearch makes them: a 20-character id and a
// 22-character secret (128 random bits), both base64url.
const (
	APIKeyIDLen     = 20
	APIKeySecretLen = 22
)

// apiKeyHashScheme prefixes a stored API key secret hash.
const apiKeyHashScheme = "sha256"

// NewAPIKey returns a new API key id (15 random bytes) and secret (16
// random bytes), unpadded base64url.
func NewAPIKey() (id, key string, err error) {
	var b [15 + 16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("new api key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:15]), base64.RawURLEncoding.EncodeToString(b[15:]), nil
}

// HashAPIKey returns "sha256$<salt>$<hex>": the SHA-256 of a random 16-byte
// salt followed by the secret. A fast salted hash is enough for a secret of
// 128 random bits (Elasticsearch 8.18 made the same choice, ssha256), and it
// keeps an API key request off the slow-hash budget.
func HashAPIKey(key string) (string, error) {
	var salt [16]byte
	if _, err := rand.Read(salt[:]); err != nil {
		return "", fmt.Errorf("hash api key: %w", err)
	}
	s := base64.RawURLEncoding.EncodeToString(salt[:])
	sum := apiKeySum(s, key)
	return apiKeyHashScheme + "$" + s + "$" + hex.EncodeToString(sum[:]), nil
}

// VerifyAPIKey reports whether key is the secret of hash (HashAPIKey's
// format), in constant time. A hash of another format never matches.
func VerifyAPIKey(hash, key string) bool {
	scheme, rest, ok := strings.Cut(hash, "$")
	if !ok || scheme != apiKeyHashScheme {
		return false
	}
	salt, hexSum, ok := strings.Cut(rest, "$")
	if !ok || salt == "" {
		return false
	}
	var want [32]byte
	if len(hexSum) != 2*len(want) {
		return false
	}
	if _, err := hex.Decode(want[:], []byte(hexSum)); err != nil {
		return false
	}
	got := apiKeySum(salt, key)
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

func apiKeySum(salt, key string) [32]byte {
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte(key))
	var out [32]byte
	h.Sum(out[:0])
	return out
}
