package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/bench/upstream"
)

// machine is what the report says of where it ran.
type machine struct {
	cpus           int
	model          string
	memory         string
	loadavg        string
	serverCPUs     string
	upstreamCPUs   string
	clientCPUs     string
	serverCPUCount int
	goVersion      string
	nice           int
	when           time.Time
}

func describeMachine(o options) machine {
	m := machine{cpus: onlineCPUs(), serverCPUs: o.serverCPUs, upstreamCPUs: o.upstreamCPUs, clientCPUs: o.clientCPUs,
		goVersion: runtime.Version(), nice: o.nice, when: time.Now().UTC(), model: "unknown", memory: "unknown"}
	m.serverCPUCount = cpuListLen(o.serverCPUs)
	if m.serverCPUCount == 0 {
		m.serverCPUCount = m.cpus
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == "MemTotal" {
				var kb int64
				fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
				m.memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.loadavg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func (m machine) summary() string {
	pin := "not pinned"
	if m.serverCPUs != "" || m.clientCPUs != "" {
		pin = fmt.Sprintf("servers on CPU %s, load generator on CPU %s", orAll(m.serverCPUs), orAll(m.clientCPUs))
		if m.upstreamCPUs != "" {
			pin += fmt.Sprintf(", upstream on CPU %s", m.upstreamCPUs)
		}
	}
	if m.nice != 0 {
		pin += fmt.Sprintf(", nice %d", m.nice)
	}
	return fmt.Sprintf("%d CPUs (%s), %s memory, load average %s at start, %s, %s", m.cpus, m.model, m.memory, m.loadavg, pin, m.goVersion)
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}

// cpuList lists the CPUs of a taskset list such as "0", "0,2", "0-3";
// malformed parts are left out.
func cpuList(list string) []int {
	var out []int
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		var a, b int
		if _, err := fmt.Sscan(lo, &a); err != nil {
			continue
		}
		b = a
		if isRange {
			if _, err := fmt.Sscan(hi, &b); err != nil || b < a {
				continue
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out
}

func cpuListLen(list string) int { return len(cpuList(list)) }

// cpuBusy returns the busy time (all but idle and iowait) of cpus so far,
// from /proc/stat.
func cpuBusy(cpus []int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, c := range cpus {
		want[fmt.Sprintf("cpu%d", c)] = true
	}
	var ticks int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || !want[f[0]] {
			continue
		}
		for i, v := range f[1:] {
			if i == 3 || i == 4 { // idle, iowait
				continue
			}
			var n int64
			fmt.Sscan(v, &n)
			ticks += n
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

func nginxVersion(bin string) string {
	out, err := exec.Command(bin, "-v").CombinedOutput()
	if err != nil {
		return ""
	}
	_, v, _ := strings.Cut(strings.TrimSpace(string(out)), "nginx/")
	return v
}

// run1 is one measurement of one target.
type run1 struct {
	s   *sample
	lat latency
	cpu time.Duration // server CPU per answered request
	gen float64       // load generator's CPU use, as a share of its CPUs
	// busy is the share of the server CPUs the harness's servers used in
	// the window (the target and the upstream).
	busy float64
	// drain is how long Portcullis took after the window to have every
	// outcome in the AUTH stream.
	drain time.Duration
	// foreignServer and foreignClient are the shares of the server CPUs and
	// of the load generator's CPUs that processes other than the harness's
	// kept busy during the run: other work on a shared machine.
	foreignServer, foreignClient float64
}

// rate is the requests answered in the window per second, the drain time
// added to the window: a throughput with every outcome published.
func (r run1) rate() float64 {
	return float64(r.s.ok) / (r.s.elapsed + r.drain).Seconds()
}

type targetResult struct {
	label    string
	closed   []run1
	open     []run1
	openRate float64
	// Targets that record outcomes: the outcomes in the AUTH stream during
	// the run, the messages that carried them, the requests answered 200.
	published, messages uint64
	answered            int
}

func (t *targetResult) maxRate() float64 {
	xs := make([]float64, len(t.closed))
	for i, r := range t.closed {
		xs[i] = r.rate()
	}
	return median(xs)
}

type results struct {
	machine  machine
	opts     options
	workload workload
	order    []string
	byTarget map[string]*targetResult
	openRate float64
}

// openLoopRate is the open-loop rate: a fraction of Portcullis's maximum
// (of the last target's when Portcullis is not measured).
func (r *results) openLoopRate() float64 {
	return r.opts.openFraction * r.byTarget[r.openLoopBase()].maxRate()
}

func (r *results) openLoopBase() string {
	if _, ok := r.byTarget["portcullis"]; ok {
		return "portcullis"
	}
	return r.order[len(r.order)-1]
}

// openRateOf names the target whose maximum sets the open-loop rate.
func (r *results) openRateOf() string {
	if name := r.openLoopBase(); name != "portcullis" {
		return r.byTarget[name].label
	}
	return "Portcullis"
}

func medianOf(rs []run1, f func(run1) time.Duration) time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = f(r)
	}
	return medianDuration(ds)
}

func medianF(rs []run1, f func(run1) float64) float64 {
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	return median(xs)
}

// foreign is the median other load of rs, on the server and on the
// generator CPUs.
func foreign(rs []run1) string {
	if len(rs) == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f%% / %.0f%%", 100*medianF(rs, func(x run1) float64 { return x.foreignServer }),
		100*medianF(rs, func(x run1) float64 { return x.foreignClient }))
}

func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond)) }

// ratio is a comparison the issue sets a target for, or (met nil) one
// that explains another.
type ratio struct {
	name     string
	perRound []float64
	unit     string
	target   string
	met      func(float64) bool
}

func (r *results) ratios() []ratio {
	var out []ratio
	pc, okP := r.byTarget["portcullis"]
	bp, okB := r.byTarget["bareproxy"]
	ng, okN := r.byTarget["nginx"]
	perRound := func(a, b *targetResult) []float64 {
		xs := make([]float64, len(a.closed))
		for i := range a.closed {
			xs[i] = a.closed[i].rate() / b.closed[i].rate()
		}
		return xs
	}
	if okP && okB {
		out = append(out, ratio{name: "Portcullis / bare proxy throughput", perRound: perRound(pc, bp), unit: "×", target: "≥ 0.80",
			met: func(x float64) bool { return x >= 0.80 }})
	}
	if okP && okN {
		out = append(out, ratio{name: "Portcullis / nginx auth_basic throughput", perRound: perRound(pc, ng), unit: "×", target: "≥ 3",
			met: func(x float64) bool { return x >= 3 }})
	}
	// The same ratios from the CPU each target and its upstream spend per
	// request: what the throughputs would compare as on an otherwise idle
	// server CPU, and much less disturbed by other load than the rates.
	perRoundCPU := func(a, b *targetResult) []float64 {
		xs := make([]float64, len(a.closed))
		for i := range a.closed {
			xs[i] = float64(b.closed[i].cpu) / float64(a.closed[i].cpu)
		}
		return xs
	}
	if okP && okB {
		out = append(out, ratio{name: "the same, from server CPU per request (bare proxy's / Portcullis's)", perRound: perRoundCPU(pc, bp), unit: "×", target: "≥ 0.80",
			met: func(x float64) bool { return x >= 0.80 }})
	}
	if okP && okN {
		out = append(out, ratio{name: "the same, from server CPU per request (nginx's / Portcullis's)", perRound: perRoundCPU(pc, ng), unit: "×", target: "≥ 3",
			met: func(x float64) bool { return x >= 3 }})
	}
	if okP && okB {
		xs := make([]float64, len(pc.open))
		for i := range pc.open {
			xs[i] = float64(pc.open[i].lat.p99-bp.open[i].lat.p99) / float64(time.Millisecond)
		}
		out = append(out, ratio{name: fmt.Sprintf("added p99 at %.0f req/s (Portcullis − bare proxy)", r.openRate), perRound: xs, unit: " ms", target: "≤ 1 ms",
			met: func(x float64) bool { return x <= 1 }})
	}
	// Where Portcullis's cost goes: the outcome proxy is the bare proxy
	// with every outcome recorded, and nothing else.
	op, okO := r.byTarget["outcomeproxy"]
	if okO && okB {
		out = append(out,
			ratio{name: "outcome proxy / bare proxy throughput (what recording every outcome costs)", perRound: perRound(op, bp), unit: "×", target: "—"},
			ratio{name: "the same, from server CPU per request (bare proxy's / outcome proxy's)", perRound: perRoundCPU(op, bp), unit: "×", target: "—"})
		xs := make([]float64, len(op.open))
		for i := range op.open {
			xs[i] = float64(op.open[i].lat.p99-bp.open[i].lat.p99) / float64(time.Millisecond)
		}
		out = append(out, ratio{name: fmt.Sprintf("added p99 at %.0f req/s (outcome proxy − bare proxy)", r.openRate), perRound: xs, unit: " ms", target: "—"})
	}
	if okO && okP && splitComparable(r.opts) {
		out = append(out,
			ratio{name: "Portcullis / outcome proxy throughput (the gateway's own work)", perRound: perRound(pc, op), unit: "×", target: "—"},
			ratio{name: "the same, from server CPU per request (outcome proxy's / Portcullis's)", perRound: perRoundCPU(pc, op), unit: "×", target: "—"})
	}
	return out
}

func (r *results) markdown() string {
	var b strings.Builder
	o, m := r.opts, r.machine
	fmt.Fprintf(&b, "## Load harness run, %s\n\n", m.when.Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "- machine: %s\n", m.summary())
	fmt.Fprintf(&b, "- request: `%s %s` with a %d-byte JSON body and Basic credentials; answer: %d bytes of `_search` JSON\n",
		r.workload.method, r.workload.path, len(r.workload.body), len(upstream.SearchBody))
	fmt.Fprintf(&b, "- closed loop: %d kept-alive connections, %v measured after %v of warm-up, per target and round; %d round(s), targets interleaved; medians shown\n",
		o.conns, o.duration, o.warmup, o.rounds)
	fmt.Fprintf(&b, "- open loop: requests due at a fixed rate (%.0f%% of %s's maximum), latency counted from when each was due; at most %d in flight\n",
		o.openFraction*100, r.openRateOf(), max(o.conns, 64))
	var fs, fc []float64
	for _, name := range r.order {
		for _, x := range append(slices.Clone(r.byTarget[name].closed), r.byTarget[name].open...) {
			fs, fc = append(fs, x.foreignServer), append(fc, x.foreignClient)
		}
	}
	if ms, mc := median(fs), median(fc); ms > 0.1 || mc > 0.1 {
		fmt.Fprintf(&b, "- **measured under contention**: other processes used a median %.0f%% of the server CPUs and %.0f%% of the generator's during the measurements\n", 100*ms, 100*mc)
	}
	for _, name := range r.order {
		if t := r.byTarget[name]; t.answered > 0 {
			fmt.Fprintf(&b, "- %s published %d outcomes to the AUTH stream (in %d messages) for %d requests answered 200 during the run\n", t.label, t.published, t.messages, t.answered)
		}
	}
	b.WriteString("\n| target | max req/s | p50 | p99 | server CPU / req | generator CPU | other load on server / generator CPUs | open-loop rate | p50 | p99 | max | server CPU / req | server CPUs busy | other load |\n")
	b.WriteString("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, name := range r.order {
		t := r.byTarget[name]
		gen := medianF(t.closed, func(x run1) float64 { return x.gen })
		genS := fmt.Sprintf("%.0f%%", gen*100)
		if gen > 0.9 {
			genS += " (client-bound)"
		}
		fmt.Fprintf(&b, "| %s | %.0f | %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %.0f%% | %s |\n", t.label, t.maxRate(),
			us(medianOf(t.closed, func(x run1) time.Duration { return x.lat.p50 })),
			us(medianOf(t.closed, func(x run1) time.Duration { return x.lat.p99 })),
			us(medianOf(t.closed, func(x run1) time.Duration { return x.cpu })),
			genS, foreign(t.closed), t.openRate,
			us(medianOf(t.open, func(x run1) time.Duration { return x.lat.p50 })),
			us(medianOf(t.open, func(x run1) time.Duration { return x.lat.p99 })),
			us(medianOf(t.open, func(x run1) time.Duration { return x.lat.max })),
			us(medianOf(t.open, func(x run1) time.Duration { return x.cpu })),
			100*medianF(t.open, func(x run1) float64 { return x.busy }),
			foreign(t.open))
	}
	if rs := r.ratios(); len(rs) > 0 {
		b.WriteString("\n| comparison | median | per round | target | met |\n| --- | ---: | --- | --- | --- |\n")
		for _, x := range rs {
			med := median(x.perRound)
			rounds := make([]string, len(x.perRound))
			for i, v := range x.perRound {
				rounds[i] = fmt.Sprintf("%.2f", v)
			}
			met := "—"
			switch {
			case x.met == nil:
			case x.met(med):
				met = "yes"
			default:
				met = "no"
			}
			fmt.Fprintf(&b, "| %s | %.2f%s | %s | %s | %s |\n", x.name, med, x.unit, strings.Join(rounds, ", "), x.target, met)
		}
	}
	b.WriteString("\nOther load: the share of the server CPUs and of the generator's CPUs that other processes of the machine used during the measurement " +
		"(/proc/stat less the harness's own processes); anything but a few percent means the numbers were measured under contention, " +
		"which hits fixed-rate (open-loop) latencies hardest.\n")
	b.WriteString("\nServer CPUs busy (open loop): the share of the server CPUs the target and the upstream used at the fixed rate; " +
		"a request costs more CPU at a fixed rate than in the closed loop (fewer requests per wake-up), and near 100% the servers queue.\n")
	b.WriteString("\nServer CPU / req: CPU time of the target's processes and of the upstream, per answered request (from /proc, 10 ms ticks). " +
		"Generator CPU: the load generator's share of its CPUs; near 100% the generator, not the target, bounds the throughput.\n")
	return b.String()
}
