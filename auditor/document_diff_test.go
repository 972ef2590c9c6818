package auditor

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/internal/jsonstr"
)

// Strings the differential tests draw from: everything encoding/json
// escapes or replaces (quotes, backslashes, control characters, invalid
// UTF-8, U+2028/9, HTML characters it leaves alone here), addresses of
// every shape source() distinguishes, token queries redactQuery rewrites.
var diffStrings = []string{
	"", "a", "alice", "POST", "/logs-2026/_search", "pretty", "q=x&token=s3cr3t&access_token=t",
	`say "hi"`, `back\slash`, "tab\tnew\nline\rcr\bbs\fff", "\x00\x01\x1f\x7f", "<script>&amp;</script>",
	"caf\u00e9 \u65e5\u672c", "\u2028\u2029", "bad \xff\xfe utf8", "\xe2\x80", "trunc\xe2", "\ufffd",
	"192.0.2.10", "192.0.2.10:443", "::1", "[2001:db8::7]:51504", "[::ffff:10.0.0.1]", "::ffff:10.0.0.1",
	"not an address", "10.1.2.3:99999", "[::1]", "fe80::1%eth0",
}

func randString(r *rand.Rand) string {
	if r.IntN(4) == 0 {
		// Concatenations cross the boundaries of multi-byte sequences.
		return diffStrings[r.IntN(len(diffStrings))] + diffStrings[r.IntN(len(diffStrings))]
	}
	return diffStrings[r.IntN(len(diffStrings))]
}

func randStrings(r *rand.Rand) []string {
	switch r.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	out := make([]string, 1+r.IntN(3))
	for i := range out {
		out[i] = randString(r)
	}
	return out
}

var diffActions = []string{
	"", events.ActionAuthenticationSuccess, events.ActionAuthenticationFailed, events.ActionRealmAuthFailed,
	events.ActionAnonymousAccessDenied, events.ActionLogin, events.ActionLogout, events.ActionAccessGranted,
	events.ActionAccessDenied, "run_as_denied", "run_as_granted", events.ActionTamperedRequest,
	events.ActionSecurityConfigChange, "some_future_action", `we"ird`,
}

func randOutcome(r *rand.Rand) events.AuthOutcome {
	pick := func() string {
		if r.IntN(2) == 0 {
			return ""
		}
		return randString(r)
	}
	o := events.AuthOutcome{
		Action: diffActions[r.IntN(len(diffActions))], Outcome: []string{"", "success", "failure", "odd"}[r.IntN(4)],
		Reason: pick(), Principal: pick(), User: pick(), Roles: randStrings(r), Realm: pick(),
		AuthType: pick(), APIKeyID: pick(), Method: pick(), Path: pick(), Query: pick(), RequestID: pick(),
		SourceIP: pick(), ESAction: pick(), Indices: randStrings(r), PolicyRevision: pick(), Rule: pick(),
		Status:     []int{0, 200, 401, 403, -1, 1 << 40}[r.IntN(6)],
		AccountUID: pick(), AccountEpoch: []uint64{0, 1, 7, 1 << 40}[r.IntN(4)],
	}
	if r.IntN(2) == 0 {
		for range r.IntN(3) {
			o.Realms = append(o.Realms, events.RealmAttempt{Realm: pick(), Type: pick(), Reason: pick()})
		}
	}
	return o
}

func randEvent(r *rand.Rand, o events.AuthOutcome) events.Event {
	zones := []*time.Location{time.UTC, time.FixedZone("", 10*3600), time.FixedZone("", -(3*3600 + 1800))}
	t := time.Unix(r.Int64N(4_000_000_000), r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
	typ := events.AuthType(o.Action)
	if r.IntN(3) == 0 {
		typ = events.AuthType(diffActions[r.IntN(len(diffActions))])
	}
	src := "gw-1"
	if r.IntN(3) == 0 {
		src = randString(r)
	}
	return events.Event{SpecVersion: events.SpecVersion, ID: "0194f3a0-0000-7000-8000-00000000000" + string(rune('0'+r.IntN(10))),
		Source: src, Type: typ, Time: t}
}

// TestAppendDocumentMatchesReference: the hand-written encoder writes
// exactly the bytes of the reflection-based reference, on outcomes of every
// shape and strings of every kind of escaping.
func TestAppendDocumentMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		o := randOutcome(r)
		ev := randEvent(r, o)
		want, wantErr := referenceDocument(ev, o)
		got, gotErr := Document(ev, o)
		if (wantErr == nil) != (gotErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("case %d: %+v %+v\n got: %s (%v)\nwant: %s (%v)", i, ev, o, got, gotErr, want, wantErr)
		}
	}
}

// FuzzDocument: the hand-written encoder and the reference agree on any
// outcome.
func FuzzDocument(f *testing.F) {
	f.Add("authentication_failed", "failure", "unable to authenticate user [alice]", "alice", "", "", "token|token|no token;default_native|native|wrong password",
		"POST", "/_search", "pretty&token=x", "req-1", "192.0.2.1:80", "", "", "", "", 401, "gw-1", int64(1_790_000_000_000))
	f.Add("access_denied", "failure", "no grant", "", "bob", "r1,r2", "",
		"GET", "/a/_search", "", "", "[::1]:1", "indices:data/read/search", "a,b", "7", "deny", 403, "", int64(-5))
	f.Add("", "", "\x00\"\\\u2028\xff", "\xe2", "\x80", ",", ";|", "", "", "?", "", "::ffff:1.2.3.4", "", ",", "", "", 0, "\t", int64(0))
	f.Fuzz(func(t *testing.T, action, outc, reason, principal, user, roles, realms, method, path, query, reqID, srcIP,
		esAction, indices, rev, rule string, status int, source string, ms int64) {
		split := func(s, sep string) []string {
			if s == "" {
				return nil
			}
			return strings.Split(s, sep)
		}
		o := events.AuthOutcome{
			Action: action, Outcome: outc, Reason: reason, Principal: principal, User: user, Roles: split(roles, ","),
			Realm: rev, AuthType: rule, APIKeyID: reqID, Method: method, Path: path, Query: query, RequestID: reqID,
			SourceIP: srcIP, ESAction: esAction, Indices: split(indices, ","), PolicyRevision: rev, Rule: rule, Status: status,
		}
		for _, r := range split(realms, ";") {
			p := append(strings.SplitN(r, "|", 3), "", "")
			o.Realms = append(o.Realms, events.RealmAttempt{Realm: p[0], Type: p[1], Reason: p[2]})
		}
		ev := events.Event{SpecVersion: events.SpecVersion, ID: reqID, Source: source, Type: events.AuthType(action),
			Time: time.UnixMilli(ms)}
		want, wantErr := referenceDocument(ev, o)
		got, gotErr := Document(ev, o)
		if (wantErr == nil) != (gotErr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("%+v %+v\n got: %s (%v)\nwant: %s (%v)", ev, o, got, gotErr, want, wantErr)
		}
	})
}

// TestAppendStringMatchesEncodingJSON: strings of every length around the
// eight-byte steps, with every kind of byte at every position, escape as
// encoding/json escapes them (SetEscapeHTML(false)).
func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	specials := []string{"\x00", "\x1f", " ", "\"", "\\", "<", "&", "\x7f", "\x80", "\xff", "\xc3\xa9", "\xe2\x80\xa8",
		"\xe2\x80\xa9", "\xe2\x80", "\xf0\x9f\x98\x80", "\xed\xa0\x80"}
	for n := range 20 {
		for pos := range n + 1 {
			for _, sp := range specials {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos)
				var want bytes.Buffer
				enc := json.NewEncoder(&want)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(s); err != nil {
					t.Fatal(err)
				}
				if got := jsonstr.Append(nil, s); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
					t.Fatalf("jsonstr.Append(%q) = %s, want %s", s, got, want.Bytes())
				}
			}
		}
	}
}
