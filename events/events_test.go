package events

import (
	"errors"
	"strings"
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
