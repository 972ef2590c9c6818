package auditor

import (
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

// benchMessage is an authentication failure as the gateway publishes it.
func benchMessage(b *testing.B) []byte {
	return encodedEvent(b, events.AuthOutcome{
		Action: events.ActionAuthenticationFailed, Outcome: "failure",
		Reason:    "unable to authenticate user [user-7] for REST request [/logs-app/_search]",
		Principal: "user-7",
		Realms: []events.RealmAttempt{
			{Realm: "token", Type: "token", Reason: "no token"},
			{Realm: "default_native", Type: "native", Reason: "wrong password"},
		},
		Method: "POST", Path: "/logs-app/_search", Query: "pretty&size=10", RequestID: "req-7",
		SourceIP: "192.0.2.44:51234", Status: 401,
	}, time.Now())
}

// BenchmarkMessageToDocument: the auditor's CPU per event between NATS and
// the bulk indexer, message bytes to document bytes: the fast path
// (fastjson, appendDocument) against the reference (encoding/json both
// ways).
func BenchmarkMessageToDocument(b *testing.B) {
	raw := benchMessage(b)
	b.Run("fast", func(b *testing.B) {
		var d decoder
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			var ev events.Event
			var o events.AuthOutcome
			if !d.decode(raw, &ev, &o) {
				b.Fatal("slow path")
			}
			if _, err := appendDocument(make([]byte, 0, docSizeHint), ev, o); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(raw)))
		for b.Loop() {
			ev, err := events.Decode(raw)
			if err != nil {
				b.Fatal(err)
			}
			var o events.AuthOutcome
			if err := ev.DecodeData(&o); err != nil {
				b.Fatal(err)
			}
			if _, err := referenceDocument(ev, o); err != nil {
				b.Fatal(err)
			}
		}
	})
}
