package main

import (
	"context"
	"sync"
	"time"

	"github.com/portcullis/portcullis/gateway"
)

// AppendMetrics appends the lockout's counts, and the auditor's counts and
// its consumer's lag, to the gateway's metrics (gateway.MetricsSource):
// each when this process runs it.
func (a *app) AppendMetrics(ctx context.Context, b []byte) []byte {
	if a.lockouts != nil {
		st := a.lockouts.Stats()
		b = gateway.AppendMetric(b, "portcullis_lockout_locks", "gauge", "Users locked out by repeated wrong passwords (a lock that ended counts until the next sweep, within a minute).", st.Locks)
		b = gateway.AppendMetric(b, "portcullis_lockout_set_total", "counter", "Locks this process set, those of the failures it read at start included.", st.Set)
		b = gateway.AppendMetric(b, "portcullis_lockout_failures_total", "counter", "Wrong passwords this process's lockout read from the AUTH stream (every replica's), those read at start included.", st.Failures)
	}
	if a.auditor == nil {
		return b
	}
	st := a.auditor.Stats()
	b = gateway.AppendMetric(b, "portcullis_auditor_indexed_total", "counter", "Audit documents this process's auditor created in Elasticsearch.", st.Indexed)
	b = gateway.AppendMetric(b, "portcullis_auditor_duplicates_total", "counter", "Redelivered events whose audit document already existed.", st.Duplicates)
	b = gateway.AppendMetric(b, "portcullis_auditor_dead_lettered_total", "counter", "Events Elasticsearch refused for good, sent to the dead-letter subject.", st.DeadLettered)
	b = gateway.AppendMetric(b, "portcullis_auditor_retried_total", "counter", "Deliveries handed back to NATS because Elasticsearch was unreachable or overloaded.", st.Retried)
	if lag, ok := a.lag.get(ctx, a); ok {
		b = gateway.AppendMetric(b, "portcullis_auditor_lag", "gauge", "Outcomes in the AUTH stream the auditors have not yet written (the shared consumer's pending and unacknowledged).", lag)
	}
	return b
}

// lagCache asks NATS for the auditor's lag at most once a second, however
// often the (unauthenticated) metrics are scraped, and logs a failure to
// learn it once until it is learnt again.
type lagCache struct {
	mu     sync.Mutex
	at     time.Time // of the last request to NATS; zero before the first
	lag    uint64
	failed bool // the last request failed
}

func (c *lagCache) get(ctx context.Context, a *app) (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.at) >= time.Second {
		c.at = now
		// The lag is the shared consumer's, the same on every replica;
		// asking NATS for it must not hold a scrape long.
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		lag, err := a.auditor.Lag(lctx)
		cancel()
		if err != nil && !c.failed {
			a.log.WarnContext(ctx, "metrics_auditor_lag", "error", err)
		}
		c.lag, c.failed = lag, err != nil
	}
	return c.lag, !c.failed
}
