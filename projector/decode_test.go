package projector

import (
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/valyala/fastjson"
)

// randString returns strings that exercise JSON escaping: quotes,
// backslashes, control characters, non-ASCII, and the characters a subject
// token may not hold.
func randString(r *rand.Rand) string {
	const alphabet = "abcXYZ019 ._*>\"\\/\n\t\u0001é€𝄞"
	runes := []rune(alphabet)
	n := r.IntN(12)
	out := make([]rune, n)
	for i := range out {
		out[i] = runes[r.IntN(len(runes))]
	}
	return string(out)
}

func randStrings(r *rand.Rand) []string {
	switch r.IntN(3) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+r.IntN(4))
	for i := range out {
		out[i] = randString(r)
	}
	return out
}

func randOwner(r *rand.Rand) events.ContextOwner {
	return events.ContextOwner{Username: randString(r), RealmType: randString(r), RealmName: randString(r), APIKeyID: randString(r)}
}

func randTime(r *rand.Rand) time.Time {
	return time.Unix(r.Int64N(4e9), r.Int64N(1e9)).UTC()
}

// TestDecodeMatchesEncodingJSON decodes random events with the fast
// decoder and with events.Decode + encoding/json, and requires the same
// result: the fast path must not change what the log means.
func TestDecodeMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var (
		p  fastjson.Parser
		in interner
	)
	for i := range 2000 {
		var (
			typ  string
			data any
		)
		switch i % 11 {
		case 0:
			typ, data = events.TypeAccountCreated, events.AccountCreated{UID: randString(r), Username: randString(r),
				PasswordHash: randString(r), Roles: randStrings(r), Authenticator: randString(r)}
		case 1:
			u := events.AccountUpdated{UID: randString(r), Username: randString(r)}
			if r.IntN(2) == 0 {
				u.PasswordHash = ptr(randString(r))
			}
			if r.IntN(2) == 0 {
				roles := randStrings(r)
				if roles == nil {
					roles = []string{}
				}
				u.Roles = &roles
			}
			typ, data = events.TypeAccountUpdated, u
		case 2:
			typ, data = events.TypeAccountDeleted, events.AccountDeleted{UID: randString(r), Username: randString(r)}
		case 3:
			typ, data = events.TypeConstraintCreated, events.ConstraintCreated{ID: randString(r), Paths: randStrings(r),
				Methods: randStrings(r), Roles: randStrings(r), Authenticator: randString(r)}
		case 4:
			typ, data = events.TypeConstraintDeleted, events.ConstraintDeleted{ID: randString(r)}
		case 5:
			var h [32]byte
			for j := range h {
				h[j] = byte(r.IntN(256))
			}
			typ, data = events.TypeTokenIssued, events.TokenIssued{TokenHash: hex.EncodeToString(h[:]),
				Username: randString(r), AccountUID: randString(r), Epoch: r.Uint64(),
				IssuedAt: randTime(r), ExpiresAt: randTime(r)}
		case 6:
			var h [32]byte
			for j := range h {
				h[j] = byte(r.IntN(256))
			}
			typ, data = events.TypeTokenRevoked, events.TokenRevoked{TokenHash: hex.EncodeToString(h[:]), Reason: randString(r)}
		case 7:
			p := events.RolePut{Name: randString(r), Cluster: randStrings(r)}
			switch r.IntN(3) {
			case 0:
				p.Indices = []events.IndexPrivileges{}
			case 1:
				for range 1 + r.IntN(3) {
					p.Indices = append(p.Indices, events.IndexPrivileges{Names: randStrings(r), Privileges: randStrings(r),
						AllowRestrictedIndices: r.IntN(2) == 0})
				}
			}
			if r.IntN(2) == 0 {
				p.Metadata = []byte(`{"k":["v",1,{"n":null}]}`)
			}
			typ, data = events.TypeRolePut, p
		case 8:
			typ, data = events.TypeRoleDeleted, events.RoleDeleted{Name: randString(r)}
		case 9:
			var h [32]byte
			for j := range h {
				h[j] = byte(r.IntN(256))
			}
			typ, data = events.TypeContextOpened, events.ContextOpened{IDHash: hex.EncodeToString(h[:]), Kind: randString(r),
				Owner: randOwner(r), Time: randTime(r), ExpiresAt: randTime(r)}
		case 10:
			var h [32]byte
			for j := range h {
				h[j] = byte(r.IntN(256))
			}
			typ, data = events.TypeContextClosed, events.ContextClosed{IDHash: hex.EncodeToString(h[:]), Owner: randOwner(r)}
		}
		ev, err := events.New(randString(r), typ, randString(r), randTime(r), data)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		fast, err := decodeMessage(&p, &in, raw)
		if err != nil {
			t.Fatalf("fast decode of %s: %v", raw, err)
		}
		slow, err := events.Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		if eventID(raw) != slow.ID || fast.typ != slow.Type || fast.kind != kindOf(slow.Type) {
			t.Fatalf("envelope: got %q %q, want %q %q", eventID(raw), fast.typ, slow.ID, slow.Type)
		}
		want := reflect.New(reflect.TypeOf(data))
		if err := slow.DecodeData(want.Interface()); err != nil {
			t.Fatal(err)
		}
		// The Apply path decodes the payload of an already decoded envelope.
		viaApply, err := decodeEvent(slow)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range []any{fast.payload, viaApply.payload} {
			switch g := got.(type) {
			case *tokenIssued:
				w := want.Interface().(*events.TokenIssued)
				if hex.EncodeToString(g.Hash[:]) != w.TokenHash || g.Username != w.Username ||
					g.AccountUID != w.AccountUID || g.Epoch != w.Epoch || !g.ExpiresAt.Equal(w.ExpiresAt) {
					t.Fatalf("token issued: got %+v, want %+v", g, w)
				}
			case *tokenRevoked:
				w := want.Interface().(*events.TokenRevoked)
				if hex.EncodeToString(g.hash[:]) != w.TokenHash {
					t.Fatalf("token revoked: got %x, want %s", g.hash, w.TokenHash)
				}
			case *contextOpened:
				w := want.Interface().(*events.ContextOpened)
				if hex.EncodeToString(g.hash[:]) != w.IDHash || g.kind != w.Kind || g.owner != w.Owner ||
					!g.time.Equal(w.Time) || !g.expiresAt.Equal(w.ExpiresAt) {
					t.Fatalf("context opened: got %+v, want %+v", g, w)
				}
			case *contextClosed:
				w := want.Interface().(*events.ContextClosed)
				if hex.EncodeToString(g.hash[:]) != w.IDHash || g.owner != w.Owner {
					t.Fatalf("context closed: got %+v, want %+v", g, w)
				}
			default:
				if !reflect.DeepEqual(got, want.Interface()) {
					t.Fatalf("payload of %s:\n got %#v\nwant %#v", raw, got, want.Interface())
				}
			}
		}
	}
}

func TestDecodeMessageRejects(t *testing.T) {
	h := tokenHex("x")
	tests := []struct {
		name string
		raw  string
	}{
		{"not json", `{"specversion":`},
		{"not an object", `[1,2]`},
		{"wrong specversion", `{"specversion":"0.3","id":"1","type":"t"}`},
		{"missing id", `{"specversion":"1.0","type":"t"}`},
		{"missing type", `{"specversion":"1.0","id":"1"}`},
		{"id not a string", `{"specversion":"1.0","id":1,"type":"t"}`},
		{"known type without data", `{"specversion":"1.0","id":"1","type":"` + events.TypeTokenRevoked + `"}`},
		{"data not an object", `{"specversion":"1.0","id":"1","type":"` + events.TypeTokenRevoked + `","data":"x"}`},
		{"roles not strings", `{"specversion":"1.0","id":"1","type":"` + events.TypeAccountCreated + `","data":{"uid":"u","username":"a","roles":[1]}}`},
		{"roles not an array", `{"specversion":"1.0","id":"1","type":"` + events.TypeAccountCreated + `","data":{"uid":"u","username":"a","roles":"admin"}}`},
		{"indices not an array", `{"specversion":"1.0","id":"1","type":"` + events.TypeRolePut + `","data":{"name":"r","indices":{}}}`},
		{"indices not objects", `{"specversion":"1.0","id":"1","type":"` + events.TypeRolePut + `","data":{"name":"r","indices":["x"]}}`},
		{"allow_restricted_indices a string", `{"specversion":"1.0","id":"1","type":"` + events.TypeRolePut + `","data":{"name":"r","indices":[{"allow_restricted_indices":"yes"}]}}`},
		{"role metadata not an object", `{"specversion":"1.0","id":"1","type":"` + events.TypeRolePut + `","data":{"name":"r","metadata":[]}}`},
		{"epoch a string", `{"specversion":"1.0","id":"1","type":"` + events.TypeTokenIssued + `","data":{"token_hash":"` + h + `","epoch":"1"}}`},
		{"context owner not an object", `{"specversion":"1.0","id":"1","type":"` + events.TypeContextOpened + `","data":{"id_hash":"` + h + `","owner":[]}}`},
		{"context owner name a number", `{"specversion":"1.0","id":"1","type":"` + events.TypeContextClosed + `","data":{"id_hash":"` + h + `","owner":{"username":1}}}`},
		{"context hash short", `{"specversion":"1.0","id":"1","type":"` + events.TypeContextClosed + `","data":{"id_hash":"abc"}}`},
		{"epoch a fraction", `{"specversion":"1.0","id":"1","type":"` + events.TypeTokenIssued + `","data":{"token_hash":"` + h + `","epoch":1.5}}`},
	}
	var (
		p  fastjson.Parser
		in interner
	)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeMessage(&p, &in, []byte(tt.raw)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestDecodeMessageUnknownType(t *testing.T) {
	var (
		p  fastjson.Parser
		in interner
	)
	r, err := decodeMessage(&p, &in, []byte(`{"specversion":"1.0","id":"1","type":"portcullis.serviceaccount.created.v1","data":{"anything":[1,{}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.kind != kindUnknown || r.typ != "portcullis.serviceaccount.created.v1" || r.payload != nil {
		t.Fatalf("got %+v", r)
	}
}

// FuzzDecodeMessage feeds the fast decoder arbitrary bytes seeded with real
// events: it must never panic, and it fails only with ErrMalformed.
func FuzzDecodeMessage(f *testing.F) {
	for _, ev := range []events.Event{
		accountCreated(f, "alice", "u1", "h", "reader"),
		accountUpdated(f, "alice", "u1", ptr("h2"), &[]string{"a"}),
		accountDeleted(f, "alice", "u1"),
		constraintCreated(f, "c1", []string{"/a"}, []string{"GET"}, []string{"r"}),
		constraintDeleted(f, "c1"),
		rolePut(f, "r1", []string{"monitor"}, events.IndexPrivileges{Names: []string{"logs-*"}, Privileges: []string{"read"}}),
		roleDeleted(f, "r1"),
		tokenIssuedEv(f, "t", "alice", "u1", 1, t0),
		tokenRevokedEv(f, "t"),
		ctxOpened(f, "S1", events.ContextScroll, ownerA, t0, t0.Add(time.Hour)),
		ctxClosed(f, "S1", ownerKey),
	} {
		raw, err := ev.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	var (
		p  fastjson.Parser
		in interner
	)
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := decodeMessage(&p, &in, raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if r.kind != kindUnknown && r.payload == nil {
			t.Fatalf("known kind %v without payload", r.kind)
		}
	})
}
