package gateway

import (
	"context"
	"strconv"
	"sync/atomic"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
)

// MetricsSource appends metrics of the rest of the process (the auditor's
// lag, …) to the gateway's, in the Prometheus text format.
type MetricsSource interface {
	AppendMetrics(ctx context.Context, b []byte) []byte
}

// outcomeActions are the actions counted by name; any other is "other".
var outcomeActions = [...]string{
	events.ActionAccessGranted, events.ActionAccessDenied, events.ActionAuthenticationSuccess,
	events.ActionAuthenticationFailed, events.ActionRealmAuthFailed, events.ActionAnonymousAccessDenied,
	events.ActionTamperedRequest, events.ActionLogin, events.ActionLogout, events.ActionSecurityConfigChange,
	"other",
}

// counters are the gateway's own counts, one atomic word each (no lock on
// the request path).
type counters struct {
	outcomes    [len(outcomeActions)]atomic.Uint64
	notRecorded atomic.Uint64
}

// outcome counts one outcome of action, recorded (queued for NATS) or not.
func (c *counters) outcome(action string, recorded bool) {
	if !recorded {
		c.notRecorded.Add(1)
		return
	}
	i := len(outcomeActions) - 1
	for j, a := range outcomeActions[:i] {
		if a == action {
			i = j
			break
		}
	}
	c.outcomes[i].Add(1)
}

// metrics answers GET /_portcullis/metrics: counts and gauges of this
// replica in the Prometheus text format (version 0.0.4), without
// authentication, as the health check: aggregates only, no user, index or
// address.
func (g *Gateway) metrics(ctx *fasthttp.RequestCtx) {
	b := make([]byte, 0, 2048)
	b = appendHelp(b, "portcullis_outcomes_total", "counter", "Auth outcomes this replica's gateway recorded (queued for the AUTH stream), by action.")
	for i, a := range outcomeActions {
		b = append(b, `portcullis_outcomes_total{action="`...)
		b = append(b, a...)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, g.counts.outcomes[i].Load(), 10)
		b = append(b, '\n')
	}
	b = AppendMetric(b, "portcullis_outcomes_not_recorded_total", "counter", "Auth outcomes that could not be queued or spooled: a request whose authorization could not be recorded was refused (503), the others were logged.", g.counts.notRecorded.Load())
	if bl, ok := g.cfg.Outcomes.(Backlog); ok {
		b = AppendMetric(b, "portcullis_outcomes_queued", "gauge", "Auth outcomes in memory, not yet in NATS.", uint64(bl.Pending()))
		b = AppendMetric(b, "portcullis_outcomes_spooled_bytes", "gauge", "Bytes of auth outcomes spooled on disk while NATS is unreachable.", uint64(bl.SpoolBytes()))
	}
	ready := uint64(0)
	if g.cfg.Projection.Ready() {
		ready = 1
	}
	b = AppendMetric(b, "portcullis_projection_ready", "gauge", "1 once the read model has caught up with the streams (health answers 200).", ready)
	b = appendHelp(b, "portcullis_policy_info", "gauge", "The policy revision deciding requests.")
	b = append(b, `portcullis_policy_info{revision="`...)
	b = append(b, g.cfg.Policy.Revision()...) // hex
	b = append(b, "\"} 1\n"...)
	if g.cfg.Metrics != nil {
		b = g.cfg.Metrics.AppendMetrics(ctx, b)
	}
	ctx.Response.Header.SetContentType("text/plain; version=0.0.4; charset=utf-8")
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetBody(b)
}

// appendHelp appends the HELP and TYPE lines of a metric.
func appendHelp(b []byte, name, typ, help string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, help...)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// AppendMetric appends a metric without labels in the Prometheus text
// format, with its HELP and TYPE lines (for a MetricsSource too).
func AppendMetric(b []byte, name, typ, help string, v uint64) []byte {
	b = appendHelp(b, name, typ, help)
	b = append(b, name...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, v, 10)
	return append(b, '\n')
}
