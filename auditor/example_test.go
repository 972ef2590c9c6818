package auditor_test

import (
	"fmt"
	"time"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/events"
)

func ExampleIndexName() {
	t := time.Date(2026, 11, 23, 22, 10, 15, 0, time.UTC)
	fmt.Println(auditor.IndexName(auditor.DefaultIndexPrefix, t))
	// Output: .security-audit-2026.11.23
}

func ExampleDocument() {
	o := events.AuthOutcome{
		Action: events.ActionAuthenticationFailed, Outcome: "failure",
		Principal: "alice",
		Realms:    []events.RealmAttempt{{Realm: "default_native", Type: "native", Reason: "wrong password"}},
		Method:    "POST", Path: "/_security/user/user1", SourceIP: "192.0.2.10", Status: 401,
	}
	ev, _ := events.New("gw-1", events.AuthType(o.Action), "", time.Date(2026, 11, 23, 22, 10, 15, 0, time.UTC), o)
	ev.ID = "0194f3a0-0000-7000-8000-000000000001"
	doc, _ := auditor.Document(ev, o)
	fmt.Println(string(doc))
	// Output: {"@timestamp":"2026-11-23T22:10:15.000Z","event":{"id":"0194f3a0-0000-7000-8000-000000000001","kind":"event","action":"authentication_failed","outcome":"failure","category":["authentication"],"type":["start"],"dataset":"portcullis.audit","module":"portcullis"},"ecs":{"version":"8.11.0"},"user":{"name":"alice"},"realms":[{"name":"default_native","type":"native","reason":"wrong password"}],"origin":{"type":"rest","address":"192.0.2.10"},"source":{"ip":"192.0.2.10","address":"192.0.2.10"},"url":{"path":"/_security/user/user1","original":"/_security/user/user1"},"request":{"method":"POST"},"http":{"request":{"method":"POST"},"response":{"status_code":401}},"node":{"id":"gw-1"},"observer":{"name":"gw-1","product":"portcullis"},"related":{"user":["alice"],"ip":["192.0.2.10"]}}
}
