package secret

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestPasswordRoundTrip(t *testing.T) {
	h, err := HashPassword("test123")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(h, "test123") || !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", h)
	}
	if err := VerifyPassword(h, "test123"); err != nil {
		t.Fatalf("verify right password: %v", err)
	}
	if err := VerifyPassword(h, "test321"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("verify wrong password: got %v, want ErrMismatch", err)
	}
	h2, _ := HashPassword("test123")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
}

func TestVerifyPasswordRejectsBadHashes(t *testing.T) {
	for _, h := range []string{
		"", "test123", "$2a$10$abcdefghijklmnopqrstuv", "$argon2id$v=19$m=0,t=2,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5",
		"$argon2id$v=18$m=19456,t=2,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5", "$argon2id$v=19$m=19456,t=2,p=1$!!$a2V5",
		"$argon2id$v=19$m=99999999,t=2,p=1$c2FsdA$a2V5a2V5a2V5a2V5a2V5",
	} {
		if err := VerifyPassword(h, "x"); !errors.Is(err, ErrBadHash) {
			t.Errorf("VerifyPassword(%q) = %v, want ErrBadHash", h, err)
		}
	}
}

func TestToken(t *testing.T) {
	tok, d, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != TokenLen {
		t.Fatalf("token length %d, want %d", len(tok), TokenLen)
	}
	if TokenDigest(tok) != d {
		t.Fatal("digest of token differs from the one returned")
	}
	back, err := ParseHexDigest(HexDigest(d))
	if err != nil || back != d {
		t.Fatalf("hex digest round trip: %v", err)
	}
	if _, err := ParseHexDigest("zz"); err == nil {
		t.Fatal("short digest accepted")
	}
}

func TestKeyed(t *testing.T) {
	k1, _ := NewKeyed()
	k2, _ := NewKeyed()
	if k1.Sum("a", "b") != k1.Sum("a", "b") {
		t.Fatal("keyed digest not deterministic")
	}
	if k1.Sum("a", "b") == k2.Sum("a", "b") {
		t.Fatal("two keys give the same digest")
	}
	// The separator keeps ("ab","c") and ("a","bc") apart.
	if k1.Sum("ab", "c") == k1.Sum("a", "bc") {
		t.Fatal("user/password boundary is ambiguous")
	}
}

// TestKeyedIsHMAC: Sum is HMAC-SHA256(key, user || 0 || password), whatever
// the lengths and the order of calls (the pooled buffer is reused, grown,
// and dropped when too large).
func TestKeyedIsHMAC(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	k := newKeyed(key)
	long := strings.Repeat("p", 5000)
	for _, c := range []struct{ user, password string }{
		{"", ""}, {"alice", "secret"}, {"alice", long}, {"bob", "x"}, {long, long}, {"élodie", "mot de passe"}, {"a", ""},
	} {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(c.user + "\x00" + c.password))
		var want [32]byte
		copy(want[:], mac.Sum(nil))
		if got := k.Sum(c.user, c.password); got != want {
			t.Errorf("Sum(%.10q, %.10q) = %x, want %x", c.user, c.password, got, want)
		}
	}
}

func TestAPIKeyHash(t *testing.T) {
	id, key, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(id) != APIKeyIDLen || len(key) != APIKeySecretLen {
		t.Fatalf("id %d, key %d characters", len(id), len(key))
	}
	h1, err := HashAPIKey(key)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := HashAPIKey(key)
	if h1 == h2 {
		t.Fatal("same hash twice: not salted")
	}
	if strings.Contains(h1, key) || !strings.HasPrefix(h1, "sha256$") {
		t.Fatalf("hash %q", h1)
	}
	if !VerifyAPIKey(h1, key) || !VerifyAPIKey(h2, key) {
		t.Fatal("the secret does not verify")
	}
	for _, bad := range []struct{ hash, key string }{
		{h1, key + "x"}, {h1, ""}, {"", key}, {key, key}, {"sha256$$" + strings.Repeat("0", 64), key},
		{strings.Replace(h1, "sha256", "md5", 1), key}, {h1[:len(h1)-1], key},
	} {
		if VerifyAPIKey(bad.hash, bad.key) {
			t.Errorf("VerifyAPIKey(%q, %q) = true", bad.hash, bad.key)
		}
	}
}
