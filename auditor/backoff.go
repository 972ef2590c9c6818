package auditor

import (
	"sync"
	"sync/atomic"
	"time"
)

// backoff is the auditor's shared view of Elasticsearch's health. Every
// transient failure (transport error, 429, 5xx) reports to it; it answers
// with the delay before the failed documents are retried, and holds back
// new work for that long, so an outage costs one failed bulk request per
// worker per delay instead of a hot loop. Failures inside the current delay
// window do not escalate it: one failed bulk of 1,000 items is one failure.
type backoff struct {
	initial, max time.Duration

	// failing is cur > 0, readable without the lock: success, called for
	// every document written, takes the lock only after a failure.
	failing atomic.Bool

	mu    sync.Mutex
	cur   time.Duration // 0 while healthy
	until time.Time     // no new work before this instant
}

func newBackoff(initial, max time.Duration) *backoff {
	return &backoff{initial: initial, max: max}
}

// failure records a transient failure at now and returns the retry delay,
// and whether this failure opened a new window (worth one log line).
func (b *backoff) failure(now time.Time) (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur > 0 && now.Before(b.until) {
		return b.cur, false
	}
	if b.cur == 0 {
		b.cur = b.initial
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	b.failing.Store(true)
	b.until = now.Add(b.cur)
	return b.cur, true
}

// success records that Elasticsearch accepted a document; it reports
// whether the auditor was backing off until now (worth one log line).
func (b *backoff) success() bool {
	if !b.failing.Load() {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	was := b.cur > 0
	b.cur, b.until = 0, time.Time{}
	b.failing.Store(false)
	return was
}

// hold returns how long new work must still wait at now (0: go ahead).
func (b *backoff) hold(now time.Time) time.Duration {
	if !b.failing.Load() {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if d := b.until.Sub(now); d > 0 {
		return d
	}
	return 0
}
