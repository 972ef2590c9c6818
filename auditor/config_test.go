package auditor

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/nats-io/nats.go/jetstream"
)

func TestConfigValidate(t *testing.T) {
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{"http://127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	var js jetstream.JetStream = fakeJS{}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"defaults", Config{JS: js, ES: es}, nil},
		{"all actions", Config{JS: js, ES: es, Actions: []string{"_all"}}, nil},
		{"missing clients", Config{}, []string{"JS: required", "ES: required"}},
		{"bad action", Config{JS: js, ES: es, Actions: []string{"access.denied", "x>"}}, []string{`"access.denied"`, `"x>"`}},
		{"bad durable", Config{JS: js, ES: es, Durable: "a.b"}, []string{"Durable"}},
		{"bad prefix", Config{JS: js, ES: es, IndexPrefix: "Audit*"}, []string{"IndexPrefix"}},
		{"wildcard dead letter", Config{JS: js, ES: es, DeadLetterSubject: "dl.>"}, []string{"DeadLetterSubject"}},
		{"dead letter in AUTH", Config{JS: js, ES: es, DeadLetterSubject: "portcullis.auth.dl"}, []string{"AUTH stream"}},
		{"short ack wait", Config{JS: js, ES: es, AckWait: time.Second}, []string{"AckWait"}},
		{"tiny backoff", Config{JS: js, ES: es, MaxBackoff: time.Millisecond}, []string{"MaxBackoff"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("New: %v, want ErrInvalidConfig", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestFilterSubjects(t *testing.T) {
	tests := []struct {
		actions []string
		want    []string
	}{
		{nil, []string{
			"portcullis.auth.access_denied", "portcullis.auth.anonymous_access_denied",
			"portcullis.auth.authentication_failed", "portcullis.auth.run_as_denied",
			"portcullis.auth.security_config_change", "portcullis.auth.tampered_request",
		}},
		{[]string{"login", "login", "access_granted"}, []string{"portcullis.auth.access_granted", "portcullis.auth.login"}},
		{[]string{"login", "_all"}, []string{"portcullis.auth.>"}},
	}
	for _, tt := range tests {
		got := Config{Actions: tt.actions}.withDefaults().filterSubjects()
		if !slices.Equal(got, tt.want) {
			t.Errorf("filterSubjects(%v) = %v, want %v", tt.actions, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(250*time.Millisecond, 2*time.Second)
	t0 := time.Unix(1000, 0)
	if d := b.hold(t0); d != 0 {
		t.Fatalf("healthy hold = %s", d)
	}
	steps := []struct {
		at        time.Duration
		wantDelay time.Duration
		wantFirst bool
	}{
		{0, 250 * time.Millisecond, true},
		{100 * time.Millisecond, 250 * time.Millisecond, false}, // same window: one failed bulk is one failure
		{300 * time.Millisecond, 500 * time.Millisecond, true},
		{900 * time.Millisecond, time.Second, true},
		{2 * time.Second, 2 * time.Second, true},
		{5 * time.Second, 2 * time.Second, true}, // capped
	}
	for _, s := range steps {
		d, first := b.failure(t0.Add(s.at))
		if d != s.wantDelay || first != s.wantFirst {
			t.Fatalf("failure at +%s = %s,%v; want %s,%v", s.at, d, first, s.wantDelay, s.wantFirst)
		}
	}
	if d := b.hold(t0.Add(5*time.Second + 500*time.Millisecond)); d != 1500*time.Millisecond {
		t.Fatalf("hold = %s, want 1.5s", d)
	}
	if !b.success() {
		t.Fatal("success after failures should report recovery")
	}
	if b.success() {
		t.Fatal("second success should not report recovery")
	}
	if d, _ := b.failure(t0.Add(time.Minute)); d != 250*time.Millisecond {
		t.Fatalf("after recovery the delay restarts: %s", d)
	}
}

func TestPermanent(t *testing.T) {
	for status, want := range map[int]bool{
		400: true, 413: true, 422: true,
		401: false, 403: false, 404: false, 408: false, 409: false, 429: false,
		500: false, 502: false, 503: false, 504: false,
	} {
		if got := permanent(status); got != want {
			t.Errorf("permanent(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestTemplateName(t *testing.T) {
	for prefix, want := range map[string]string{
		".security-audit-":          "portcullis-audit",
		".security-audit-test-a1b-": "portcullis-audit-security-audit-test-a1b",
		"audit_Ä-":                  "portcullis-audit-audit__",
	} {
		if got := templateName(prefix); got != want {
			t.Errorf("templateName(%q) = %q, want %q", prefix, got, want)
		}
	}
}

// fakeJS satisfies jetstream.JetStream for validation tests that never
// reach NATS.
type fakeJS struct{ jetstream.JetStream }
