package main

import (
	"context"
	"time"

	"github.com/portcullis/portcullis/gateway"
)

// AppendMetrics appends the auditor's counts and its consumer's lag to the
// gateway's metrics (gateway.MetricsSource); nothing when this process
// runs no auditor.
func (a *app) AppendMetrics(ctx context.Context, b []byte) []byte {
	if a.auditor == nil {
		return b
	}
	st := a.auditor.Stats()
	b = gateway.AppendMetric(b, "portcullis_auditor_indexed_total", "counter", "Audit documents this process's auditor created in Elasticsearch.", st.Indexed)
	b = gateway.AppendMetric(b, "portcullis_auditor_duplicates_total", "counter", "Redelivered events whose audit document already existed.", st.Duplicates)
	b = gateway.AppendMetric(b, "portcullis_auditor_dead_lettered_total", "counter", "Events Elasticsearch refused for good, sent to the dead-letter subject.", st.DeadLettered)
	b = gateway.AppendMetric(b, "portcullis_auditor_retried_total", "counter", "Deliveries handed back to NATS because Elasticsearch was unreachable or overloaded.", st.Retried)
	// The lag is the shared consumer's, the same on every replica; asking
	// NATS for it must not hold a scrape long.
	lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if lag, err := a.auditor.Lag(lctx); err == nil {
		b = gateway.AppendMetric(b, "portcullis_auditor_lag", "gauge", "Outcomes in the AUTH stream the auditors have not yet written (the shared consumer's pending and unacknowledged).", lag)
	} else {
		a.log.WarnContext(ctx, "metrics_auditor_lag", "error", err)
	}
	return b
}
