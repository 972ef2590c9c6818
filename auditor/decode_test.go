package auditor

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

// referenceDecode is the definition of a message's meaning: encoding/json,
// through events.Decode and DecodeData.
func referenceDecode(raw []byte) (events.Event, events.AuthOutcome, error) {
	ev, err := events.Decode(raw)
	if err != nil {
		return ev, events.AuthOutcome{}, err
	}
	var o events.AuthOutcome
	err = ev.DecodeData(&o)
	ev.Data = nil
	return ev, o, err
}

// checkDecode fails t when the fast decoder accepts raw and reads anything
// but what encoding/json reads.
func checkDecode(t *testing.T, d *decoder, raw []byte) bool {
	t.Helper()
	var ev events.Event
	var o events.AuthOutcome
	if !d.decode(raw, &ev, &o) {
		return false
	}
	wantEv, wantO, err := referenceDecode(raw)
	if err != nil {
		t.Fatalf("fast decoder accepted what encoding/json refuses (%v): %q", err, raw)
	}
	if !reflect.DeepEqual(ev, wantEv) || !reflect.DeepEqual(o, wantO) {
		t.Fatalf("%q\nfast:      %+v %+v\nreference: %+v %+v", raw, ev, o, wantEv, wantO)
	}
	return true
}

// plainOutcome is o with every string that holds more than printable text,
// quotes and HTML characters replaced.
func plainOutcome(o events.AuthOutcome) events.AuthOutcome {
	plain := func(s *string) {
		for _, c := range []byte(*s) {
			if c < 0x20 || c == '\\' || c >= 0x7f {
				*s = `say "<b>&"`
				return
			}
		}
	}
	for _, p := range []*string{&o.Action, &o.Outcome, &o.Reason, &o.Principal, &o.User, &o.Realm, &o.AuthType,
		&o.APIKeyID, &o.AccountUID, &o.Method, &o.Path, &o.Query, &o.RequestID, &o.SourceIP, &o.ESAction, &o.PolicyRevision, &o.Rule} {
		plain(p)
	}
	for _, ss := range [][]string{o.Roles, o.Indices} {
		for i := range ss {
			plain(&ss[i])
		}
	}
	for i := range o.Realms {
		plain(&o.Realms[i].Realm)
		plain(&o.Realms[i].Type)
		plain(&o.Realms[i].Reason)
	}
	return o
}

func encodedEvent(t testing.TB, o events.AuthOutcome, now time.Time) []byte {
	ev, err := events.New("gw-1", events.AuthType(o.Action), o.RequestID, now, o)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ev.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestDecodeFastPath: every event as the gateway encodes it (json.Marshal,
// with its HTML escapes) takes the fast path, and reads as with
// encoding/json.
func TestDecodeFastPath(t *testing.T) {
	var d decoder
	r := rand.New(rand.NewPCG(3, 4))
	for range 5000 {
		// Strings of every kind: equal when the fast path takes them.
		o := randOutcome(r)
		checkDecode(t, &d, encodedEvent(t, o, time.Unix(r.Int64N(4e9), r.Int64N(1e9))))
		// Strings of the kinds outcomes carry: the fast path takes them all.
		o = plainOutcome(o)
		if raw := encodedEvent(t, o, time.Unix(r.Int64N(4e9), r.Int64N(1e9))); !checkDecode(t, &d, raw) {
			t.Fatalf("the fast path declined %s", raw)
		}
	}
	plain := encodedEvent(t, events.AuthOutcome{
		Action: events.ActionAccessDenied, Outcome: "failure", Reason: "no <grant> & no role",
		User: "u", Roles: []string{"a", "b"}, Realms: []events.RealmAttempt{{Realm: "r", Type: "t", Reason: "x"}},
		Query: "a=1&b=2", Indices: []string{}, Status: 403,
	}, time.Now())
	if !strings.Contains(string(plain), `\u0026`) || !checkDecode(t, &d, plain) {
		t.Fatalf("an HTML-escaped event did not take the fast path: %s", plain)
	}
}

// TestDecodeDeclines: forms the fast path leaves to encoding/json.
func TestDecodeDeclines(t *testing.T) {
	var d decoder
	base := `{"specversion":"1.0","id":"e1","source":"gw","type":"portcullis.auth.access_denied.v1","time":"2026-11-23T22:10:15.51Z","data":{"action":"access_denied"}}`
	if !checkDecode(t, &d, []byte(base)) {
		t.Fatal("the base case must take the fast path")
	}
	for name, raw := range map[string]string{
		"not json":                    `not an event`,
		"no data":                     `{"specversion":"1.0","id":"e1","type":"t"}`,
		"data null":                   strings.Replace(base, `{"action":"access_denied"}`, `null`, 1),
		"data string":                 strings.Replace(base, `{"action":"access_denied"}`, `"x"`, 1),
		"unknown key":                 strings.Replace(base, `"source"`, `"extra":1,"source"`, 1),
		"key case":                    strings.Replace(base, `"action":`, `"Action":`, 1),
		"duplicate key":               strings.Replace(base, `"id":"e1"`, `"id":"e1","id":"e2"`, 1),
		"duplicate data key":          strings.Replace(base, `{"action":"access_denied"}`, `{"action":"a","action":"b"}`, 1),
		"escaped time":                strings.Replace(base, `"2026-`, `"\u0032026-`, 1),
		"time null":                   strings.Replace(base, `"2026-11-23T22:10:15.51Z"`, `null`, 1),
		"invalid utf8":                strings.Replace(base, `"gw"`, "\"g\xffw\"", 1),
		"escaped key":                 strings.Replace(base, `"source"`, `"sourc\u0065"`, 1),
		"leading zero float":          strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":0.5`, 1),
		"array of null":               strings.Replace(base, `"action":"access_denied"`, `"action":"x","roles":[null]`, 1),
		"roles null":                  strings.Replace(base, `"action":"access_denied"`, `"action":"x","roles":null`, 1),
		"unterminated":                base[:len(base)-2],
		"two values":                  base + " {}",
		"single quote esc":            strings.Replace(base, `"gw"`, `"g\'w"`, 1),
		"status float":                strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":1.0`, 1),
		"status string":               strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":"401"`, 1),
		"status exponent":             strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":4e2`, 1),
		"status leading 0":            strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":0401`, 1),
		"status plus":                 strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":+401`, 1),
		"status overflow":             strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":99999999999999999999`, 1),
		"status nan":                  strings.Replace(base, `"action":"access_denied"`, `"action":"x","status":NaN`, 1),
		"negative epoch":              strings.Replace(base, `"action":"access_denied"`, `"action":"x","account_epoch":-1`, 1),
		"negative zero epoch":         strings.Replace(base, `"action":"access_denied"`, `"action":"x","account_epoch":-0`, 1),
		"negative zero epoch, spaced": strings.Replace(base, `"action":"access_denied"`, `"action":"x","account_epoch" : -0`, 1),
		"epoch float":                 strings.Replace(base, `"action":"access_denied"`, `"action":"x","account_epoch":1.5`, 1),
		"trailing comma":              strings.Replace(base, `"action":"access_denied"`, `"action":"x",`, 1),
		"bad escape":                  strings.Replace(base, `"gw"`, `"g\qw"`, 1),
		"bad unicode escape":          strings.Replace(base, `"gw"`, `"g\u12G4w"`, 1),
		"roles not strings":           strings.Replace(base, `"action":"access_denied"`, `"action":"x","roles":[1]`, 1),
		"wrong specversion":           strings.Replace(base, `"1.0"`, `"0.3"`, 1),
		"empty id":                    strings.Replace(base, `"e1"`, `""`, 1),
		"control char":                strings.Replace(base, `"gw"`, "\"g\x01w\"", 1),
		"trailing garbage":            base + "x",
	} {
		if checkDecode(t, &d, []byte(raw)) {
			t.Errorf("%s: took the fast path: %s", name, raw)
		}
	}
}

// TestDecodeEscapes: escaped strings read as encoding/json reads them,
// surrogates (paired, lone, reversed) included, on the fast path.
func TestDecodeEscapes(t *testing.T) {
	var d decoder
	base := `{"specversion":"1.0","id":"e1","source":"gw","type":"portcullis.auth.access_denied.v1","time":"2026-11-23T22:10:15.51Z","data":{"action":"access_denied"}}`
	for _, esc := range []string{
		`g\\w`, `\"q\"`, `\/`, `\b\f\n\r\t`, `\u0041\u00e9\u65e5`, `\ud83d\ude00`, `\ud800`, `\ud800\u0041`, `\ude00\ud83d`,
		`\ud800\ud800\udc00`, `\udbff\udfff`, `\u0000`, `\u2028`, `\uFFFD`, `a\u0026b\u003cc\u003e`,
	} {
		raw := strings.Replace(base, `"gw"`, `"`+esc+`"`, 1)
		if !checkDecode(t, &d, []byte(raw)) {
			t.Errorf("%s: declined", esc)
		}
	}
	// Whitespace anywhere JSON allows it.
	spaced := " {\n\t\"specversion\" : \"1.0\" ,\r\"id\":\"e1\", \"type\" :\"t\",\"data\": { \"roles\" : [ \"a\" , \"b\" ] , \"realms\":[ { } ] , \"status\" : -0 } } \n"
	if !checkDecode(t, &d, []byte(spaced)) {
		t.Error("whitespace: declined")
	}
}

// FuzzDecode: whenever the fast decoder accepts a message, encoding/json
// reads the same event and outcome from it.
func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		f.Add(encodedEvent(f, randOutcome(r), time.Unix(r.Int64N(4e9), r.Int64N(1e9))))
	}
	f.Add([]byte(`{"specversion":"1.0","id":"e1","type":"portcullis.auth.x.v1","time":"2026-11-23T22:10:15+02:00","data":{"realms":[{"realm":"a","realm":"b"}],"status":-0}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"\u00e9","type":"t","time":"2026-11-23T22:10:15Z","data":{"query":"a\u0026b","roles":[]}}`))
	var d decoder
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecode(t, &d, raw)
	})
}
