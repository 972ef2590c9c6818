package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestPprofListen: debug.pprof_listen serves the runtime profiles on its
// own loopback address, not on the gateway's, and stops with the process.
func TestPprofListen(t *testing.T) {
	up := newUpstream(t)
	addr := freeAddr(t)
	n := startNode(t, up, func(c *Config) { c.Debug.PprofListen = addr })
	get := func(url string) (int, string, error) {
		c := http.Client{Timeout: 10 * time.Second}
		r, err := c.Get(url)
		if err != nil {
			return 0, "", err
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		return r.StatusCode, string(b), err
	}
	st, body, err := get("http://" + addr + "/debug/pprof/")
	if err != nil || st != 200 || !strings.Contains(body, "heap") {
		t.Fatalf("GET /debug/pprof/: %d %.200q %v", st, body, err)
	}
	if st, body, err = get("http://" + addr + "/debug/pprof/heap?debug=1"); err != nil || st != 200 || !strings.Contains(body, "heap profile") {
		t.Fatalf("GET /debug/pprof/heap: %d %.200q %v", st, body, err)
	}
	// Not on the gateway: there /debug/pprof/ is a path like any other,
	// refused without credentials.
	if r := call(t, "GET", n.url+"/debug/pprof/", ""); r.Status != 401 {
		t.Fatalf("gateway /debug/pprof/: %d, want 401", r.Status)
	}
	n.stop()
	if _, _, err := get("http://" + addr + "/debug/pprof/"); err == nil {
		t.Fatal("pprof still served after the process stopped")
	}
}
