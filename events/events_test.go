package events

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 123456789, time.UTC)
	ev, err := New("node-a", TypeAccountCreated, "bob", now, AccountCreated{UID: "u1", Username: "bob", PasswordHash: "$argon2id$x", Roles: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"specversion":"1.0"`, `"type":"portcullis.account.created.v1"`, `"time":"2026-11-23T12:00:00.123Z"`, `"datacontenttype":"application/json"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("encoded envelope lacks %s: %s", want, b)
		}
	}
	back, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	var data AccountCreated
	if err := back.DecodeData(&data); err != nil {
		t.Fatal(err)
	}
	if back.ID != ev.ID || data.Username != "bob" || data.Roles[0] != "r" {
		t.Fatalf("round trip lost data: %+v %+v", back, data)
	}
}

func TestDecodeRejects(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"specversion":"0.3","id":"x","type":"t"}`, `{"specversion":"1.0","type":"t"}`, `{"specversion":"1.0","id":"x"}`} {
		if _, err := Decode([]byte(in)); err == nil {
			t.Errorf("Decode(%q) succeeded", in)
		} else if in != `` && in != `[]` && !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode(%q) = %v, want ErrMalformed", in, err)
		}
	}
}

func TestNewIDSortableAndUnique(t *testing.T) {
	now := time.Now()
	prev := ""
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := NewID(now) // same millisecond: the counter keeps order
		if len(id) != 36 || id[14] != '7' {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if id <= prev || seen[id] {
			t.Fatalf("id %s not after %s", id, prev)
		}
		seen[id], prev = true, id
	}
}

// TestNewIDConcurrent: ids taken at once by many goroutines, in one
// millisecond and across a counter's overflow, are all distinct, and each
// goroutine's are increasing.
func TestNewIDConcurrent(t *testing.T) {
	now := time.Now()
	const workers, each = 8, 3000 // 24,000 ids: the 12-bit counter overflows
	ids := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				ids[w] = append(ids[w], NewID(now))
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, list := range ids {
		for i, id := range list {
			if seen[id] || i > 0 && id <= list[i-1] {
				t.Fatalf("id %s repeated or not after %s", id, list[max(i-1, 0)])
			}
			seen[id] = true
		}
	}
}

func TestNextIDClock(t *testing.T) {
	for _, c := range []struct {
		last uint64
		ms   int64
		want uint64
	}{
		{0, 1000, 1000 << 12},                // first id
		{1000<<12 | 5, 1001, 1001 << 12},     // a later millisecond: counter 0
		{1000<<12 | 5, 1000, 1000<<12 | 6},   // the same: counter + 1
		{1000<<12 | 5, 999, 1000<<12 | 6},    // a clock gone back: still after the last
		{1000<<12 | 0xfff, 1000, 1001 << 12}, // counter overflow: the next millisecond
		{1001 << 12, 1000, 1001<<12 | 1},     // after an overflow, the clock behind
	} {
		if got := nextIDClock(c.last, c.ms); got != c.want {
			t.Errorf("nextIDClock(%d<<12|%d, %d) = %d<<12|%d, want %d<<12|%d", c.last>>12, c.last&0xfff, c.ms, got>>12, got&0xfff, c.want>>12, c.want&0xfff)
		}
	}
}

func TestSubjects(t *testing.T) {
	for _, name := range []string{"testuser", "a.b", "x*y", "x>y", "with space", "ünï", ""} {
		s := StateSubject(AggregateAccount, name)
		tok := strings.TrimPrefix(s, "portcullis.state.account.")
		if strings.ContainsAny(tok, ".*> \t") {
			t.Errorf("subject token %q of %q has a forbidden character", tok, name)
		}
		agg, id, ok := ParseStateSubject(s)
		if !ok || agg != AggregateAccount || id != name {
			t.Errorf("ParseStateSubject(%q) = %q %q %v", s, agg, id, ok)
		}
	}
	if _, _, ok := ParseStateSubject("portcullis.token.abc"); ok {
		t.Error("token subject parsed as state")
	}
	for typ, want := range map[string]string{
		TypeTokenIssued:   "portcullis.token.issued",
		TypeTokenRevoked:  "portcullis.token.revoked",
		TypeContextOpened: "portcullis.token.context.opened",
		TypeContextClosed: "portcullis.token.context.closed",
	} {
		if got := TokensSubject(typ); got != want {
			t.Errorf("TokensSubject(%q) = %q, want %q", typ, got, want)
		}
	}
	for _, typ := range TokenTypes {
		if s := TokensSubject(typ); !strings.HasPrefix(s, "portcullis.token.") || strings.ContainsAny(s, "*> \t") {
			t.Errorf("TokensSubject(%q) = %q: not a subject of the TOKENS stream", typ, s)
		}
	}
	if AuthSubject(ActionLogin) != "portcullis.auth.login" || AuthType(ActionLogin) != "portcullis.auth.login.v1" {
		t.Error("auth subject or type")
	}
}
