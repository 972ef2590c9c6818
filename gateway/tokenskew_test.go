package gateway

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestTokenClockSkew: a login token authenticates until its expiration,
// and past it for TokenClockSkew more (replicas whose clocks drift), never
// longer.
func TestTokenClockSkew(t *testing.T) {
	start := time.Now()
	for _, c := range []struct {
		skew    time.Duration
		elapsed time.Duration // since the login, with a one-minute TTL
		want    int
	}{
		{0, 50 * time.Second, http.StatusOK},
		{0, 70 * time.Second, http.StatusUnauthorized},
		{30 * time.Second, 70 * time.Second, http.StatusOK},
		{30 * time.Second, 100 * time.Second, http.StatusUnauthorized},
	} {
		var offset atomic.Int64
		tg := newTestGateway(t, "http://127.0.0.1:1", func(cfg *Config) {
			cfg.TokenTTL, cfg.TokenClockSkew = time.Minute, c.skew
			cfg.Now = func() time.Time { return start.Add(time.Duration(offset.Load())) }
		})
		resp := do(t, http.MethodPost, tg.url+"/login", strings.NewReader(`{"username":"reader","password":"reader-pw"}`), "")
		var login struct{ Token string }
		if err := json.NewDecoder(resp.Body).Decode(&login); err != nil || login.Token == "" {
			t.Fatalf("login: %d, %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		offset.Store(int64(c.elapsed))
		// A management call the reader may make: answered by the gateway,
		// no upstream needed.
		resp = do(t, http.MethodGet, tg.url+"/_security/_authenticate?token="+login.Token, nil, "")
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("skew %v, %v after login: status %d, want %d", c.skew, c.elapsed, resp.StatusCode, c.want)
		}
	}
}
