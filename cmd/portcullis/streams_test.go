package main

import (
	"context"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
)

// TestAuthStreamLimits: nats.auth_max_age and nats.auth_max_bytes size the
// AUTH stream, and a restart with other values applies them.
func TestAuthStreamLimits(t *testing.T) {
	dir := t.TempDir()
	limits := func(age time.Duration, size int) nodeOpt {
		return func(c *Config) { c.NATS.AuthMaxAge, c.NATS.AuthMaxBytes = age, size }
	}
	for _, c := range []struct {
		age  time.Duration
		size int
	}{{48 * time.Hour, 2 << 20}, {72 * time.Hour, 3 << 20}} {
		n := startNode(t, newUpstream(t), withDataDir(dir), limits(c.age, c.size))
		s, err := n.app.js.Stream(context.Background(), events.StreamAuth)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := s.CachedInfo().Config; cfg.MaxAge != c.age || cfg.MaxBytes != int64(c.size) {
			t.Errorf("AUTH stream max age %v, max bytes %d; want %v, %d", cfg.MaxAge, cfg.MaxBytes, c.age, c.size)
		}
		n.stop()
	}
}
