package auditor_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/events"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

var t0 = time.Date(2026, 11, 23, 22, 10, 15, 510_000_000, time.UTC)

// event builds the envelope of an outcome with a fixed id and time, so that
// documents are reproducible.
func event(t *testing.T, id string, o events.AuthOutcome) events.Event {
	t.Helper()
	ev, err := events.New("gw-1", events.AuthType(o.Action), o.RequestID, t0, o)
	if err != nil {
		t.Fatal(err)
	}
	ev.ID = id
	return ev
}

// documentCases are the golden cases: one per kind of outcome the gateway
// publishes, plus the edge cases of the document's derived fields.
var documentCases = []struct {
	name string
	id   string
	o    events.AuthOutcome
}{
	{"authentication_failed", "0194f3a0-0000-7000-8000-000000000001", events.AuthOutcome{
		Action: events.ActionAuthenticationFailed, Outcome: "failure", Reason: "unable to authenticate user [alice]",
		Principal: "alice",
		Realms: []events.RealmAttempt{
			{Realm: "token", Type: "token", Reason: "unknown token"},
			{Realm: "default_native", Type: "native", Reason: "wrong password"},
		},
		Method: "POST", Path: "/_security/user/user1", Query: "pretty", RequestID: "POv8p_qeTl2tb5xoFl0HIg",
		SourceIP: "192.0.2.10", Status: 401,
	}},
	{"access_denied", "0194f3a0-0000-7000-8000-000000000002", events.AuthOutcome{
		Action: events.ActionAccessDenied, Outcome: "failure", Reason: "no grant covers indices:data/read/search on [logs-2026]",
		User: "user1", Roles: []string{"test_role", "viewer"}, Realm: "default_native", AuthType: "REALM",
		Method: "GET", Path: "/logs-2026/_search", RequestID: "yKOgWn2CRQCKYgZRz3phJw", SourceIP: "::1",
		ESAction: "indices:data/read/search", Indices: []string{"logs-2026"},
		PolicyRevision: "sha256:9f2c", Rule: "default_deny", Status: 403,
	}},
	{"access_granted_apikey", "0194f3a0-0000-7000-8000-000000000003", events.AuthOutcome{
		Action: events.ActionAccessGranted, Outcome: "success",
		User: "svc", Roles: []string{"writer"}, Realm: "_es_api_key", AuthType: "API_KEY", APIKeyID: "VuaCfGcBCdbkQm-e5aOx",
		Method: "POST", Path: "/_bulk", RequestID: "r3", SourceIP: "[2001:db8::7]:51504",
		ESAction: "indices:data/write/bulk", Indices: []string{"a", "b"},
		PolicyRevision: "git:4b825dc", Rule: "role:writer", Status: 200,
	}},
	{"anonymous_access_denied", "0194f3a0-0000-7000-8000-000000000004", events.AuthOutcome{
		Action: events.ActionAnonymousAccessDenied, Outcome: "failure", Reason: "missing authentication credentials",
		Method: "POST", Path: "/twitter/_async_search", Query: "pretty", RequestID: "TqA9OisyQ8WTl1ivJUV1AA",
		SourceIP: "10.1.2.3:50543", Status: 401,
	}},
	{"security_config_change", "0194f3a0-0000-7000-8000-000000000005", events.AuthOutcome{
		Action: events.ActionSecurityConfigChange, Outcome: "success", Reason: "put_user",
		User: "elastic", Roles: []string{"superuser"}, Realm: "default_native", AuthType: "REALM",
		Method: "PUT", Path: "/_auth/account", RequestID: "r5", SourceIP: "127.0.0.1",
		ESAction: "cluster:admin/xpack/security/user/put", Status: 200,
	}},
	{"token_query_redacted", "0194f3a0-0000-7000-8000-000000000006", events.AuthOutcome{
		// The gateway strips the token parameter before it publishes; the
		// document still must not carry one if it ever slips through.
		Action: events.ActionAuthenticationFailed, Outcome: "failure",
		Realms: []events.RealmAttempt{{Realm: "token", Type: "token", Reason: "unknown token"}},
		Method: "GET", Path: "/_search", Query: "q=x&token=s3cr3t&TOKEN=t2&access_token=t3&tokens=keep",
		SourceIP: "not an address", Status: 401,
	}},
	{"minimal", "0194f3a0-0000-7000-8000-000000000007", events.AuthOutcome{
		Action: "some_future_action",
	}},
}

func TestDocumentGolden(t *testing.T) {
	for _, tc := range documentCases {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := auditor.Document(event(t, tc.id, tc.o), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, doc, "", "  "); err != nil {
				t.Fatalf("document is not JSON: %v\n%s", err, doc)
			}
			pretty.WriteByte('\n')
			golden := filepath.Join("testdata", "documents", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("document differs from %s (go test -update rewrites it):\n got: %s\nwant: %s", golden, pretty.Bytes(), want)
			}
			if strings.Contains(string(doc), "s3cr3t") || strings.Contains(string(doc), "=t2") || strings.Contains(string(doc), "=t3") {
				t.Errorf("a token reached the document: %s", doc)
			}
		})
	}
}

func TestDocumentDeterministic(t *testing.T) {
	tc := documentCases[0]
	ev := event(t, tc.id, tc.o)
	a, _ := auditor.Document(ev, tc.o)
	b, _ := auditor.Document(ev, tc.o)
	if !bytes.Equal(a, b) {
		t.Fatal("Document is not deterministic: a redelivery would write different bytes")
	}
}

func TestDocumentInvalid(t *testing.T) {
	o := events.AuthOutcome{Action: events.ActionAuthenticationFailed}
	ev := event(t, "id-1", o)
	noID := ev
	noID.ID = ""
	noTime := ev
	noTime.Time = time.Time{}
	for name, ev := range map[string]events.Event{"no id": noID, "no time": noTime} {
		if _, err := auditor.Document(ev, o); !errors.Is(err, auditor.ErrInvalidEvent) {
			t.Errorf("%s: err = %v, want ErrInvalidEvent", name, err)
		}
	}
}

func TestDocumentActionFromType(t *testing.T) {
	o := events.AuthOutcome{Outcome: "failure"} // no action in the payload
	ev := event(t, "id-2", o)
	ev.Type = events.AuthType(events.ActionTamperedRequest)
	doc, err := auditor.Document(ev, o)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Event struct {
			Action   string   `json:"action"`
			Category []string `json:"category"`
		} `json:"event"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if d.Event.Action != events.ActionTamperedRequest || d.Event.Category[0] != "intrusion_detection" {
		t.Fatalf("event = %+v", d.Event)
	}
}

func TestIndexName(t *testing.T) {
	plus10 := time.FixedZone("UTC+10", 10*3600)
	tests := []struct {
		prefix string
		t      time.Time
		want   string
	}{
		{".security-audit-", t0, ".security-audit-2026.11.23"},
		{".security-audit-", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), ".security-audit-2026.01.02"},
		// 08:30 on the 24th at UTC+10 is 22:30 on the 23rd UTC.
		{".security-audit-", time.Date(2026, 11, 24, 8, 30, 0, 0, plus10), ".security-audit-2026.11.23"},
		{"audit-", time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "audit-2026.12.31"},
	}
	for _, tt := range tests {
		if got := auditor.IndexName(tt.prefix, tt.t); got != tt.want {
			t.Errorf("IndexName(%q, %s) = %q, want %q", tt.prefix, tt.t, got, tt.want)
		}
	}
}

// mappedFields returns every leaf field of the template's mappings, by path,
// with its type.
func mappedFields(t *testing.T) map[string]string {
	t.Helper()
	var tmpl struct {
		IndexPatterns []string `json:"index_patterns"`
		Template      struct {
			Settings struct {
				Index map[string]any `json:"index"`
			} `json:"settings"`
			Mappings struct {
				Dynamic    any             `json:"dynamic"`
				Properties json.RawMessage `json:"properties"`
			} `json:"mappings"`
		} `json:"template"`
	}
	if err := json.Unmarshal(auditor.Template(), &tmpl); err != nil {
		t.Fatalf("Template() is not valid JSON: %v", err)
	}
	if len(tmpl.IndexPatterns) != 1 || tmpl.IndexPatterns[0] != ".security-audit-*" {
		t.Fatalf("index_patterns = %v", tmpl.IndexPatterns)
	}
	if tmpl.Template.Settings.Index["hidden"] == true {
		t.Fatal("audit indices must not be hidden: .security-audit-* would not match them")
	}
	fields := map[string]string{}
	var walk func(prefix string, props json.RawMessage)
	walk = func(prefix string, props json.RawMessage) {
		var m map[string]struct {
			Type       string          `json:"type"`
			Properties json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(props, &m); err != nil {
			t.Fatalf("properties of %q: %v", prefix, err)
		}
		for name, f := range m {
			if f.Properties != nil {
				walk(prefix+name+".", f.Properties)
				continue
			}
			fields[prefix+name] = f.Type
		}
	}
	walk("", tmpl.Template.Mappings.Properties)
	return fields
}

// leaves returns the path of every leaf value of a JSON document, objects
// inside arrays included.
func leaves(v any, prefix string, out map[string][]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			leaves(c, prefix+k+".", out)
		}
	case []any:
		for _, c := range x {
			leaves(c, prefix, out)
		}
	default:
		p := strings.TrimSuffix(prefix, ".")
		out[p] = append(out[p], x)
	}
}

// TestTemplateCoversDocument: every field any golden document carries is
// mapped explicitly, with a type its values fit.
func TestTemplateCoversDocument(t *testing.T) {
	fields := mappedFields(t)
	seen := map[string]bool{}
	for _, tc := range documentCases {
		doc, err := auditor.Document(event(t, tc.id, tc.o), tc.o)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(doc, &v); err != nil {
			t.Fatal(err)
		}
		got := map[string][]any{}
		leaves(v, "", got)
		for path, values := range got {
			seen[path] = true
			typ, ok := fields[path]
			if !ok {
				t.Errorf("%s: field %q is not in the index template", tc.name, path)
				continue
			}
			for _, val := range values {
				switch typ {
				case "keyword", "ip":
					if _, ok := val.(string); !ok {
						t.Errorf("%s: %s is %T, mapped %s", tc.name, path, val, typ)
					}
				case "date":
					s, _ := val.(string)
					if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
						t.Errorf("%s: %s = %v is not a date", tc.name, path, val)
					}
				case "long":
					if _, ok := val.(float64); !ok {
						t.Errorf("%s: %s is %T, mapped long", tc.name, path, val)
					}
				default:
					t.Errorf("%s: %s has unexpected mapping type %q", tc.name, path, typ)
				}
			}
		}
	}
	// And the reverse: the template maps nothing the document never writes.
	var unused []string
	for f := range fields {
		if !seen[f] {
			unused = append(unused, f)
		}
	}
	sort.Strings(unused)
	if len(unused) > 0 {
		t.Errorf("mapped but never written by any golden document: %v", unused)
	}
}
