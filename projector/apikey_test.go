package projector

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/valyala/fastjson"
)

func apiKeyCreated(tb testing.TB, id, owner string, descriptors string) events.Event {
	p := events.APIKeyCreated{ID: id, Name: "k-" + id, Username: owner, Realm: "default_native",
		SecretHash: "sha256$salt$00", Creation: t0, Expiration: t0.Add(time.Hour)}
	if descriptors != "" {
		p.RoleDescriptors = []byte(descriptors)
	}
	return newEvent(tb, events.TypeAPIKeyCreated, id, p)
}

func apiKeyInvalidated(tb testing.TB, id string, at time.Time) events.Event {
	return newEvent(tb, events.TypeAPIKeyInvalidated, id, events.APIKeyInvalidated{ID: id, Time: at})
}

func apiKeySubject(id string) string { return events.StateSubject(events.AggregateAPIKey, id) }

func TestFoldAPIKey(t *testing.T) {
	desc := `{"w":{"cluster":["monitor"],"indices":[{"names":["b-*"],"privileges":["write"]}]},"r":{"indices":[{"names":["a-*"],"privileges":["read"],"allow_restricted_indices":true}]}}`
	k1 := &APIKey{ID: "k1", Name: "k-k1", Username: "app", Realm: "default_native", SecretHash: "sha256$salt$00",
		Creation: t0, Expiration: t0.Add(time.Hour)}
	k1d := *k1
	k1d.RoleDescriptors = []byte(desc)
	k1d.Roles = []Role{
		{Name: "r", Indices: []events.IndexPrivileges{{Names: []string{"a-*"}, Privileges: []string{"read"}, AllowRestrictedIndices: true}}},
		{Name: "w", Cluster: []string{"monitor"}, Indices: []events.IndexPrivileges{{Names: []string{"b-*"}, Privileges: []string{"write"}}}},
	}
	k1s := *k1
	k1s.Snapshot = true
	k1s.LimitedBy = []Role{{Name: "owner_role", Cluster: []string{"manage_own_api_key"}, Indices: []events.IndexPrivileges{{Names: []string{"a-*"}, Privileges: []string{"read"}}}}}
	k1s.LimitedByBuiltin = []string{"superuser"}
	withSnapshot := func(limited string, builtin []string) events.Event {
		p := events.APIKeyCreated{ID: "k1", Name: "k-k1", Username: "app", Realm: "default_native",
			SecretHash: "sha256$salt$00", Creation: t0, Expiration: t0.Add(time.Hour), LimitedBy: []byte(limited), LimitedByBuiltin: builtin}
		return newEvent(t, events.TypeAPIKeyCreated, "k1", p)
	}
	k1empty := *k1
	k1empty.Snapshot, k1empty.LimitedBy = true, []Role{}
	k1inv := *k1
	k1inv.Invalidated, k1inv.Invalidation = true, t0.Add(time.Minute)
	tests := []struct {
		name    string
		cur     *APIKey
		ev      events.Event
		want    *APIKey
		wantErr error
	}{
		{name: "created", ev: apiKeyCreated(t, "k1", "app", ""), want: k1},
		{name: "created with descriptors", ev: apiKeyCreated(t, "k1", "app", desc), want: &k1d},
		{name: "created with the owner's snapshot", ev: withSnapshot(`{"owner_role":{"cluster":["manage_own_api_key"],"indices":[{"names":["a-*"],"privileges":["read"]}]}}`, []string{"superuser"}), want: &k1s},
		{name: "created by an owner without roles", ev: withSnapshot(`{}`, []string{}), want: &k1empty},
		{name: "snapshot not an object", ev: withSnapshot(`{"r":[1]}`, nil), wantErr: ErrMalformed},
		{name: "created twice", cur: k1, ev: apiKeyCreated(t, "k1", "app", ""), want: k1, wantErr: ErrInconsistent},
		{name: "created without owner", ev: apiKeyCreated(t, "k1", "", ""), wantErr: ErrMalformed},
		{name: "descriptor not an object", ev: apiKeyCreated(t, "k1", "app", `{"r":[1]}`), wantErr: ErrMalformed},
		{name: "invalidated", cur: k1, ev: apiKeyInvalidated(t, "k1", t0.Add(time.Minute)), want: &k1inv},
		{name: "invalidated twice keeps the first time", cur: &k1inv, ev: apiKeyInvalidated(t, "k1", t0.Add(time.Hour)), want: &k1inv},
		{name: "invalidated while missing (swept)", ev: apiKeyInvalidated(t, "k1", t0)},
		{name: "invalidated as another", cur: k1, ev: apiKeyInvalidated(t, "k2", t0), want: k1, wantErr: ErrInconsistent},
		{name: "other type skipped", cur: k1, ev: roleDeleted(t, "r"), want: k1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FoldAPIKey(tt.cur, tt.ev)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestModelAPIKeys(t *testing.T) {
	f := newFeed(t)
	m := f.m
	for _, id := range []string{"k2", "k1"} {
		if ch, err := f.state(apiKeySubject(id), apiKeyCreated(t, id, "app", "")); err != nil || ch != ChangeAPIKey {
			t.Fatal(ch, err)
		}
	}
	if got := m.APIKeys(); len(got) != 2 || got[0].ID != "k1" || got[1].ID != "k2" {
		t.Fatalf("keys %+v", got)
	}
	f.mustState(apiKeySubject("k1"), apiKeyInvalidated(t, "k1", t0))
	if k, ok := m.APIKey("k1"); !ok || !k.Invalidated {
		t.Fatalf("k1 %+v %v", k, ok)
	}
	if ch, err := f.state(apiKeySubject("k9"), apiKeyCreated(t, "k1", "app", "")); !errors.Is(err, ErrInconsistent) || ch != ChangeNone {
		t.Fatalf("mismatched subject: %v %v", ch, err)
	}
	if _, ok := m.APIKey("k9"); ok {
		t.Fatal("key on a mismatched subject stored")
	}
}

// TestDecodeAPIKeyMatchesEncodingJSON: the fast decoder reads what
// json.Marshal of the payloads writes.
func TestDecodeAPIKeyMatchesEncodingJSON(t *testing.T) {
	for _, ev := range []events.Event{
		apiKeyCreated(t, "k1", "app", `{"r":{"cluster":["monitor"]}}`),
		newEvent(t, events.TypeAPIKeyCreated, "k2", events.APIKeyCreated{ID: "k2", Username: "u", SecretHash: "h", Creation: t0, Metadata: []byte(`{"a":[1]}`)}),
		apiKeyInvalidated(t, "k1", t0),
	} {
		raw, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		var p fastjson.Parser
		r, err := decodeMessage(&p, nil, raw)
		if err != nil {
			t.Fatal(err)
		}
		want := reflect.New(reflect.TypeOf(r.payload).Elem()).Interface()
		if err := ev.DecodeData(want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.payload, want) {
			t.Errorf("%s: fast %+v, encoding/json %+v", ev.Type, r.payload, want)
		}
	}
}

func TestAPIKeyRetired(t *testing.T) {
	const week = 7 * 24 * time.Hour
	exp := &APIKey{ID: "k", Expiration: t0}
	never := &APIKey{ID: "k"}
	inv := &APIKey{ID: "k", Invalidated: true, Invalidation: t0}
	invLater := &APIKey{ID: "k", Invalidated: true, Invalidation: t0, Expiration: t0.Add(30 * 24 * time.Hour)}
	tests := []struct {
		name string
		k    *APIKey
		now  time.Time
		keep time.Duration
		want bool
		skew time.Duration
	}{
		{"live key", &APIKey{ID: "k", Expiration: t0.Add(time.Hour)}, t0, week, false, 0},
		{"never expires", never, t0.Add(100 * week), week, false, 0},
		{"expired, within retention", exp, t0.Add(week - time.Nanosecond), week, false, 0},
		{"expired, retention reached", exp, t0.Add(week), week, true, 0},
		{"expired, no retention", exp, t0, 0, true, 0},
		{"expired just now, no retention", exp, t0.Add(-time.Nanosecond), 0, false, 0},
		{"invalidated, within retention", inv, t0.Add(week - time.Nanosecond), week, false, 0},
		{"invalidated, retention reached", inv, t0.Add(week), week, true, 0},
		{"invalidated before expiry: retention counts from the invalidation", invLater, t0.Add(week), week, true, 0},
		{"invalidated key that never expires", &APIKey{ID: "k", Invalidated: true, Invalidation: t0}, t0.Add(2 * week), week, true, 0},
		{"expired, retention reached, within the skew", exp, t0.Add(week), week, false, time.Minute},
		{"invalidated: the skew does not count", inv, t0.Add(week), week, true, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := apiKeyRetired(tt.k, tt.now, tt.keep, tt.skew); got != tt.want {
				t.Errorf("apiKeyRetired = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestModelSweepAPIKeys(t *testing.T) {
	f := newFeed(t)
	m := f.m
	// apiKeyCreated keys expire an hour after t0.
	for _, id := range []string{"expired", "invalidated"} {
		f.mustState(apiKeySubject(id), apiKeyCreated(t, id, "app", ""))
	}
	f.mustState(apiKeySubject("invalidated"), apiKeyInvalidated(t, "invalidated", t0.Add(-time.Hour)))
	for id, exp := range map[string]time.Time{"never": {}, "live": t0.Add(48 * time.Hour)} {
		p := events.APIKeyCreated{ID: id, Username: "app", SecretHash: "sha256$salt$00", Creation: t0, Expiration: exp}
		f.mustState(apiKeySubject(id), newEvent(t, events.TypeAPIKeyCreated, id, p))
	}

	if n := m.SweepAPIKeys(t0.Add(time.Hour), 24*time.Hour, 0); n != 0 {
		t.Fatalf("swept %d keys within their retention", n)
	}
	if n := m.SweepAPIKeys(t0.Add(25*time.Hour), 24*time.Hour, 0); n != 2 {
		t.Fatalf("swept %d keys, want expired and invalidated", n)
	}
	var ids []string
	for _, k := range m.APIKeys() {
		ids = append(ids, k.ID)
	}
	if !reflect.DeepEqual(ids, []string{"live", "never"}) {
		t.Fatalf("kept %v, want live and never", ids)
	}
	for _, id := range []string{"expired", "invalidated"} {
		if _, ok := m.APIKey(id); ok {
			t.Errorf("%s still resolves", id)
		}
		if seq := m.SubjectSeq(apiKeySubject(id)); seq != 0 {
			t.Errorf("%s: subject sequence %d kept", id, seq)
		}
	}
	if m.SubjectSeq(apiKeySubject("never")) == 0 {
		t.Error("a kept key lost its subject sequence")
	}
	// Another replica, whose sweep is behind, invalidates a key swept
	// here: nothing to change, and not an error.
	if ch, err := f.state(apiKeySubject("expired"), apiKeyInvalidated(t, "expired", t0.Add(25*time.Hour))); err != nil || ch != ChangeNone {
		t.Fatalf("invalidation of a swept key: %v %v", ch, err)
	}
	if _, ok := m.APIKey("expired"); ok {
		t.Error("invalidation brought a swept key back")
	}
	if seq := m.SubjectSeq(apiKeySubject("expired")); seq != 0 {
		t.Errorf("invalidation of a swept key recorded its subject sequence %d again", seq)
	}
}

// TestAPIKeyExpired: the one expiry rule of authentication, active_only
// and the sweep, at its boundaries.
func TestAPIKeyExpired(t *testing.T) {
	k := &APIKey{Expiration: t0}
	for _, c := range []struct {
		now  time.Time
		skew time.Duration
		want bool
	}{
		{t0.Add(-time.Nanosecond), 0, false},
		{t0, 0, true},
		{t0.Add(time.Minute - time.Nanosecond), time.Minute, false},
		{t0.Add(time.Minute), time.Minute, true},
	} {
		if got := k.Expired(c.now, c.skew); got != c.want {
			t.Errorf("Expired(%s, %s) = %v", c.now.Sub(t0), c.skew, got)
		}
	}
	if (&APIKey{}).Expired(t0.AddDate(100, 0, 0), 0) {
		t.Error("a key without an expiration expired")
	}
}
