package main

import (
	"strings"
	"testing"
	"time"
)

// TestReportSplitsCost checks the report's comparisons for a run of the
// bare proxy, the outcome proxy and Portcullis: the targets' ratios with
// their verdicts, and the split through the outcome proxy with none.
func TestReportSplitsCost(t *testing.T) {
	// One round each: ok requests in one second, server CPU per request,
	// open-loop p99.
	run := func(ok int, cpu, p99 time.Duration) run1 {
		return run1{s: &sample{ok: ok, elapsed: time.Second}, cpu: cpu, lat: latency{p99: p99}}
	}
	res := &results{
		opts:     options{openFraction: 0.5, rounds: 1},
		order:    []string{"bareproxy", "outcomeproxy", "portcullis"},
		openRate: 10_000,
		byTarget: map[string]*targetResult{
			"bareproxy": {label: "bare", closed: []run1{run(30_000, 30*time.Microsecond, 0)},
				open: []run1{run(10_000, 0, 2*time.Millisecond)}},
			"outcomeproxy": {label: "outcome", closed: []run1{run(24_000, 37500*time.Nanosecond, 0)},
				open: []run1{run(10_000, 0, 2500*time.Microsecond)}, published: 100, messages: 5, answered: 100},
			"portcullis": {label: "gateway", closed: []run1{run(18_000, 50*time.Microsecond, 0)},
				open: []run1{run(10_000, 0, 2800*time.Microsecond)}, published: 90, messages: 4, answered: 90},
		},
	}
	report := res.markdown()
	for _, want := range []string{
		"| Portcullis / bare proxy throughput | 0.60× | 0.60 | ≥ 0.80 | no |",
		"| the same, from server CPU per request (bare proxy's / Portcullis's) | 0.60× | 0.60 | ≥ 0.80 | no |",
		"| added p99 at 10000 req/s (Portcullis − bare proxy) | 0.80 ms | 0.80 | ≤ 1 ms | yes |",
		"| outcome proxy / bare proxy throughput (what recording every outcome costs) | 0.80× | 0.80 | — | — |",
		"| added p99 at 10000 req/s (outcome proxy − bare proxy) | 0.50 ms | 0.50 | — | — |",
		"| the same, from server CPU per request (bare proxy's / outcome proxy's) | 0.80× | 0.80 | — | — |",
		"| Portcullis / outcome proxy throughput (the gateway's own work) | 0.75× | 0.75 | — | — |",
		"| the same, from server CPU per request (outcome proxy's / Portcullis's) | 0.75× | 0.75 | — | — |",
		"requests due at a fixed rate (50% of Portcullis's maximum)",
		"- outcome published 100 outcomes to the AUTH stream (in 5 messages) for 100 requests answered 200 during the run",
		"- gateway published 90 outcomes to the AUTH stream (in 4 messages) for 90 requests answered 200 during the run",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	// With Portcullis on NATS of its own, or in another environment, the
	// split is not comparable.
	for _, o := range []options{{natsServer: "bin/nats-server"}, {portcullisEnv: []string{"GOGC=400"}}} {
		o.openFraction, o.rounds = 0.5, 1
		res.opts = o
		if report := res.markdown(); strings.Contains(report, "Portcullis / outcome proxy") ||
			!strings.Contains(report, "outcome proxy / bare proxy throughput") {
			t.Errorf("split with %+v:\n%s", o, report)
		}
	}
}

// TestNATSCPUsNeedsNATSServer checks that -nats-cpus alone is refused: the
// embedded NATS runs in Portcullis's process, on its CPUs.
func TestNATSCPUsNeedsNATSServer(t *testing.T) {
	if _, err := parseFlags([]string{"-nats-cpus", "1"}); err == nil || !strings.Contains(err.Error(), "-nats-cpus needs -nats-server") {
		t.Errorf("-nats-cpus alone: %v", err)
	}
	if o, err := parseFlags([]string{"-nats-cpus", "1", "-nats-server", "bin/nats-server"}); err != nil || o.natsCPUs != "1" {
		t.Errorf("-nats-cpus with -nats-server: %+v, %v", o, err)
	}
}
