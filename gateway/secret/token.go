package secret

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"sync"
)

// TokenLen is the length of a login token: 32 random bytes, unpadded
// base64url.
const TokenLen = 43

// NewToken returns a new login token and its digest. Only the digest may be
// stored or published.
func NewToken() (token string, digest [32]byte, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", digest, fmt.Errorf("new token: %w", err)
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, TokenDigest(token), nil
}

// TokenDigest is the SHA-256 of a token: what events and the read model
// carry. Tokens are 256-bit random values, so an unsalted fast digest is
// safe (there is nothing to brute-force).
func TokenDigest(token string) [32]byte { return sha256.Sum256([]byte(token)) }

// HexDigest formats a digest as events carry it.
func HexDigest(d [32]byte) string { return hex.EncodeToString(d[:]) }

// ParseHexDigest parses what HexDigest wrote.
func ParseHexDigest(s string) ([32]byte, error) {
	var d [32]byte
	if len(s) != 64 {
		return d, fmt.Errorf("parse digest: length %d", len(s))
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("parse digest: %w", err)
	}
	return d, nil
}

// Keyed computes HMAC-SHA256 digests of credentials under a per-process
// random key: the cache key of a verified Basic credential. The key never
// leaves the process, so a cache entry reveals nothing about the password.
type Keyed struct {
	pool sync.Pool // of *keyedState
}

// keyedState is an HMAC with a buffer for its message, so that a Sum does
// not allocate (it runs on every Basic request).
type keyedState struct {
	h   hash.Hash
	buf []byte
}

// maxPooledKeyedBuf bounds the buffer kept in the pool: a huge credential
// is hashed, but its buffer is not kept.
const maxPooledKeyedBuf = 1 << 10

// NewKeyed returns a Keyed with a fresh random key.
func NewKeyed() (*Keyed, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("keyed digest: %w", err)
	}
	return newKeyed(key), nil
}

func newKeyed(key []byte) *Keyed {
	k := &Keyed{}
	k.pool.New = func() any { return &keyedState{h: hmac.New(sha256.New, key), buf: make([]byte, 0, 128)} }
	return k
}

// Sum returns HMAC(key, user || 0 || password).
func (k *Keyed) Sum(user, password string) [32]byte {
	s := k.pool.Get().(*keyedState)
	s.h.Reset()
	s.buf = append(append(append(s.buf[:0], user...), 0), password...)
	s.h.Write(s.buf)
	clear(s.buf) // the password does not stay in the pool
	var out [32]byte
	copy(out[:], s.h.Sum(s.buf[:0]))
	if cap(s.buf) <= maxPooledKeyedBuf {
		k.pool.Put(s)
	}
	return out
}
