package gateway

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

type extraMetrics struct{}

func (extraMetrics) AppendMetrics(_ context.Context, b []byte) []byte {
	return AppendMetric(b, "portcullis_test_extra", "gauge", "A metric of the rest of the process.", 7)
}

// TestMetrics: GET /_portcullis/metrics answers without credentials, in the
// Prometheus text format, with the outcomes this replica recorded by
// action, its backlog, readiness and policy revision, and the rest of the
// process's metrics; it names no user.
func TestMetrics(t *testing.T) {
	tg := newTestGateway(t, "http://127.0.0.1:1", func(c *Config) { c.Metrics = extraMetrics{} })
	for _, c := range []struct {
		path, user string
		want       int
	}{
		{"/_security/_authenticate", "reader:reader-pw", 200},
		{"/_security/_authenticate", "admin:admin-pw", 200},
		{"/_security/user", "reader:reader-pw", 403},
		{"/_security/_authenticate", "reader:wrong", 401},
	} {
		resp := do(t, http.MethodGet, tg.url+c.path, nil, c.user)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Fatalf("%s as %s: %d, want %d", c.path, c.user, resp.StatusCode, c.want)
		}
	}
	resp := do(t, http.MethodGet, tg.url+"/_portcullis/metrics", nil, "")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	m := string(body)
	for _, want := range []string{
		"# TYPE portcullis_outcomes_total counter\n",
		`portcullis_outcomes_total{action="access_granted"} 2` + "\n",
		`portcullis_outcomes_total{action="access_denied"} 1` + "\n",
		`portcullis_outcomes_total{action="authentication_failed"} 1` + "\n",
		`portcullis_outcomes_total{action="realm_authentication_failed"} 1` + "\n",
		`portcullis_outcomes_total{action="other"} 0` + "\n",
		"portcullis_outcomes_not_recorded_total 0\n",
		"portcullis_outcomes_queued 3\n", // the test recorder's fixed backlog
		"portcullis_outcomes_spooled_bytes 512\n",
		"portcullis_projection_ready 1\n",
		`portcullis_policy_info{revision="` + tg.g.cfg.Policy.Revision() + `"} 1` + "\n",
		"# TYPE portcullis_test_extra gauge\nportcullis_test_extra 7\n",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	for _, name := range []string{"reader", "admin"} {
		if strings.Contains(m, name) {
			t.Errorf("metrics name the user %s:\n%s", name, m)
		}
	}
	// An outcome that could not be recorded is counted, and its request refused.
	tg.out.mu.Lock()
	tg.out.full = true
	tg.out.mu.Unlock()
	resp = do(t, http.MethodGet, tg.url+"/_security/_authenticate", nil, "reader:reader-pw")
	resp.Body.Close()
	resp = do(t, http.MethodGet, tg.url+"/_portcullis/metrics", nil, "")
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "portcullis_outcomes_not_recorded_total 1\n") {
		t.Errorf("a refused outcome is not counted:\n%s", body)
	}
	// Other methods are not the metrics endpoint.
	resp = do(t, http.MethodPost, tg.url+"/_portcullis/metrics", nil, "")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST /_portcullis/metrics without credentials: %d, want 401", resp.StatusCode)
	}
}
