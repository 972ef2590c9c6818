package events

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// encodeAuthEvent is what Emit encoded before appendAuthEvent, the
// reference: the envelope of New, with id, through Encode.
func encodeAuthEvent(t testing.TB, source, id string, now time.Time, o AuthOutcome) []byte {
	t.Helper()
	ev, err := New(source, AuthType(o.Action), o.RequestID, now, o)
	if err != nil {
		t.Fatal(err)
	}
	ev.ID = id
	b, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkAuthEvent compares appendAuthEvent's bytes with the reference's, and
// what encoding/json decodes from both.
func checkAuthEvent(t testing.TB, source string, now time.Time, o AuthOutcome) {
	t.Helper()
	id := NewID(now)
	want := encodeAuthEvent(t, source, id, now, o)
	typ, subject := authNames(o.Action)
	if typ != AuthType(o.Action) || subject != AuthSubject(o.Action) {
		t.Fatalf("authNames(%q) = %q, %q, want %q, %q", o.Action, typ, subject, AuthType(o.Action), AuthSubject(o.Action))
	}
	got, ok := appendAuthEvent([]byte("prefix"), source, id, typ, now.UTC().Truncate(time.Millisecond), &o)
	if !ok || !bytes.HasPrefix(got, []byte("prefix")) {
		t.Fatalf("appendAuthEvent: ok %v, %q", ok, got)
	}
	got = got[len("prefix"):]
	if !bytes.Equal(got, want) {
		t.Fatalf("appendAuthEvent of %+v:\n got %s\nwant %s", o, got, want)
	}
	var gotEv, wantEv map[string]any
	if err := json.Unmarshal(got, &gotEv); err != nil {
		t.Fatalf("appendAuthEvent wrote invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal(want, &wantEv); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotEv, wantEv) {
		t.Fatalf("decoded:\n got %v\nwant %v", gotEv, wantEv)
	}
	ev, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	var back AuthOutcome
	if err := ev.DecodeData(&back); err != nil {
		t.Fatal(err)
	}
	var wantBack AuthOutcome
	if err := json.Unmarshal(mustMarshal(t, o), &wantBack); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, wantBack) {
		t.Fatalf("payload decodes to %+v, want %+v", back, wantBack)
	}
}

func mustMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// everyField is an outcome with every field set (by reflection, so that a
// field added to AuthOutcome and not to appendAuthOutcome fails the test).
func everyField(t testing.TB) AuthOutcome {
	var o AuthOutcome
	v := reflect.ValueOf(&o).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		name := v.Type().Field(i).Name
		switch f.Kind() {
		case reflect.String:
			f.SetString(name + " <&> \"é\"")
		case reflect.Int:
			f.SetInt(int64(403 + i))
		case reflect.Uint64:
			f.SetUint(uint64(1<<40 + i))
		case reflect.Slice:
			switch f.Type().Elem().Kind() {
			case reflect.String:
				f.Set(reflect.ValueOf([]string{name + "1", name + "2<"}))
			case reflect.Struct:
				f.Set(reflect.ValueOf([]RealmAttempt{{Realm: "native", Type: "native", Reason: "bad password"}, {Realm: "file1"}}))
			default:
				t.Fatalf("AuthOutcome.%s: a slice of %s: teach appendAuthOutcome and this test", name, f.Type().Elem())
			}
		default:
			t.Fatalf("AuthOutcome.%s: a %s: teach appendAuthOutcome and this test", name, f.Kind())
		}
	}
	return o
}

func TestAppendAuthEventIsEncode(t *testing.T) {
	base := time.Date(2026, 11, 23, 16, 47, 35, 123456789, time.UTC)
	paris := time.FixedZone("CET", 3600)
	times := []time.Time{
		base, base.Truncate(time.Second), base.Truncate(100 * time.Millisecond),
		base.Truncate(10 * time.Millisecond).Add(100 * time.Millisecond), base.In(paris),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	outcomes := []AuthOutcome{
		{},
		{Action: ActionAccessGranted, Outcome: "success", User: "bench", Roles: []string{"bench_reader"}, Realm: "native1",
			AuthType: "realm", Method: "POST", Path: "/bench-logs/_search", RequestID: "node-1a", SourceIP: "127.0.0.1",
			ESAction: "indices:data/read/search", Indices: []string{"bench-logs"}, PolicyRevision: "abc123", Rule: "role:bench_reader"},
		{Action: ActionAuthenticationFailed, Outcome: "failure", Principal: "bad\xffname\u2028", Reason: "<b>&\x00\n",
			Realms: []RealmAttempt{{Realm: "native1", Type: "native", Reason: "unknown user"}, {}}, Status: 401},
		{Action: "an.unknown action", Roles: []string{}, Indices: []string{""}, Realms: []RealmAttempt{}, Status: -1},
		everyField(t),
	}
	for _, now := range times {
		for _, o := range outcomes {
			checkAuthEvent(t, "node <1>", now, o)
		}
	}
}

// TestEmitRefusesWhatMarshalRefuses: a time json.Marshal cannot encode
// fails Emit as it did, and nothing is queued.
func TestEmitRefusesWhatMarshalRefuses(t *testing.T) {
	em, err := NewEmitter(EmitterConfig{JS: noJS{}, Source: "test", QueueSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := em.Emit(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), AuthOutcome{Action: ActionLogin}); err == nil || !strings.Contains(err.Error(), "year") {
		t.Fatalf("Emit in the year 10000 = %v, want json's year error", err)
	}
	if em.Pending() != 0 {
		t.Fatalf("%d queued", em.Pending())
	}
	if err := em.Emit(time.Now(), AuthOutcome{Action: ActionLogin}); err != nil {
		t.Fatal(err)
	}
	o := <-em.queue
	if o.subject != "portcullis.auth.login" {
		t.Fatalf("subject %q", o.subject)
	}
	ev, err := Decode(*o.buf)
	if err != nil || ev.ID != o.id || ev.Type != "portcullis.auth.login.v1" || ev.Source != "test" {
		t.Fatalf("queued %s (%v), id %s", *o.buf, err, o.id)
	}
}

// noJS stands for a JetStream that is never called.
type noJS struct{ jetstream.JetStream }

func FuzzAppendAuthEvent(f *testing.F) {
	f.Add("access_granted", "success", "bench", "/bench-logs/_search", "q=1&b=<2>", "node-1", "role:x", int64(1763916455123), 200, 2)
	f.Add("authentication_failed", "failure", "bad\xff\u2029", "", "", "", "", int64(0), 0, 0)
	f.Add("", "", "", "", "", "", "", int64(-62135596800000), -5, 1)
	f.Fuzz(func(t *testing.T, action, outcome, user, path, query, requestID, rule string, ms int64, status, n int) {
		now := time.UnixMilli(ms)
		if y := now.Year(); y < 0 || y > 9999 {
			t.Skip()
		}
		o := AuthOutcome{Action: action, Outcome: outcome, User: user, Principal: user, Path: path, Query: query,
			RequestID: requestID, Rule: rule, Reason: query + path, Status: status}
		for i := range n % 4 {
			o.Roles = append(o.Roles, rule+strconv.Itoa(i))
			o.Indices = append(o.Indices, path)
			o.Realms = append(o.Realms, RealmAttempt{Realm: user, Type: rule[:min(i, len(rule))], Reason: query})
		}
		checkAuthEvent(t, requestID+"src", now, o)
	})
}

func BenchmarkEncodeAuthEvent(b *testing.B) {
	o := AuthOutcome{Action: ActionAccessGranted, Outcome: "success", User: "bench", Roles: []string{"bench_reader"}, Realm: "native1",
		AuthType: "realm", Method: "POST", Path: "/bench-logs/_search", RequestID: "node-1a", SourceIP: "127.0.0.1",
		ESAction: "indices:data/read/search", Indices: []string{"bench-logs"}, PolicyRevision: "0123456789abcdef", Rule: "role:bench_reader"}
	now := time.Now()
	b.Run("reflect", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ev, _ := New("bench", AuthType(o.Action), o.RequestID, now, o)
			if _, err := ev.Encode(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 1024)
		for b.Loop() {
			typ, _ := authNames(o.Action)
			buf, _ = appendAuthEvent(buf[:0], "bench", NewID(now), typ, now.UTC().Truncate(time.Millisecond), &o)
		}
	})
}
