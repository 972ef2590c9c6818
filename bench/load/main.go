// Command load is Portcullis's load harness (make bench-load): in one run,
// on loopback, it measures requests per second and latency percentiles of
// the same _search request sent to
//
//   - upstream: a fasthttp server answering like Elasticsearch
//     (bench/upstream), alone;
//   - bare proxy: a fasthttp reverse proxy that does nothing else
//     (bench/bareproxy), the floor;
//   - outcome proxy: the bare proxy recording one outcome per request into
//     the AUTH stream of an embedded JetStream with Portcullis's own
//     emitter (bench/outcomeproxy): the floor of a proxy that publishes
//     every outcome, which splits Portcullis's cost into the outcome
//     stream's and the gateway's own;
//   - nginx: Debian's nginx with auth_basic (an apr1 htpasswd), installed
//     with apt-get when missing;
//   - portcullis: `portcullis serve` with its embedded NATS JetStream, a
//     native user's Basic credentials, a role granting read on the index,
//     every outcome published to the AUTH stream (counted afterwards);
//
// the four proxies in front of the same upstream. Each target gets a
// closed-loop run (N kept-alive connections, each sending as soon as it is
// answered: the maximum throughput), then an open-loop run at a fixed rate,
// half of Portcullis's maximum (latency at half load, measured from when
// each request was due). Rounds interleave the targets so that drift in a
// shared machine's load hits them alike; medians are reported. With two
// CPUs or more, the servers are pinned to -server-cpus and the load
// generator to -client-cpus (taskset).
//
// It prints a markdown report with the ratios the issue sets targets for,
// and writes it to -out.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/portcullis/portcullis/bench/bareproxy"
	"github.com/portcullis/portcullis/bench/outcomeproxy"
	"github.com/portcullis/portcullis/bench/upstream"
)

type options struct {
	duration, warmup time.Duration
	conns, rounds    int
	openFraction     float64
	portcullis       string
	serverCPUs       string
	clientCPUs       string
	upstreamCPUs     string
	out              string
	targets          []string
	nice             int
	keep             bool
	quick            bool
	portcullisEnv    []string // KEY=VALUE for the serve process only
	natsServer       string   // a nats-server binary: NATS in its own process
	natsCPUs         string   // its CPUs (default: serverCPUs)
}

var allTargets = []string{"upstream", "bareproxy", "outcomeproxy", "nginx", "portcullis"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		os.Exit(serveMode(os.Args[2:]))
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if err := pinSelf(o.clientCPUs, o.nice); err != nil {
		fmt.Fprintln(os.Stderr, "load: pin the load generator:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	var o options
	defServer, defClient := "", ""
	if onlineCPUs() >= 2 {
		defServer, defClient = "0", "1"
	}
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per target and round")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured time before each measurement")
	fs.IntVar(&o.conns, "conns", 32, "connections (closed loop) and bound on requests in flight (open loop)")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each measures every target once, in turn")
	fs.Float64Var(&o.openFraction, "open-fraction", 0.5, "open-loop rate as a fraction of Portcullis's measured maximum")
	fs.StringVar(&o.portcullis, "portcullis", "bin/portcullis", "the portcullis binary (make build)")
	fs.StringVar(&o.serverCPUs, "server-cpus", defServer, "CPUs of every server (taskset -c list); empty: not pinned")
	fs.StringVar(&o.clientCPUs, "client-cpus", defClient, "CPUs of the load generator (taskset -c list); empty: not pinned")
	fs.StringVar(&o.upstreamCPUs, "upstream-cpus", "", "CPUs of the upstream alone (default: -server-cpus); a diagnosis, not the method: e.g. 1 to see what sharing its core with the proxy costs each target")
	fs.StringVar(&o.out, "out", "bench/results/load.md", "file the report is written to (empty: none)")
	targets := fs.String("targets", strings.Join(allTargets, ","), "targets to measure, of "+strings.Join(allTargets, ","))
	fs.IntVar(&o.nice, "nice", 0, "nice value of the harness and its servers (negative, as root: less disturbed by the machine's other load, at its expense)")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (configs, logs, JetStream store)")
	fs.BoolVar(&o.quick, "quick", false, "a short run: 1s per target after 300ms of warm-up, one round")
	fs.Func("portcullis-env", "KEY=VALUE in the environment of portcullis serve alone, e.g. GOGC=400 (repeatable)", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", v)
		}
		o.portcullisEnv = append(o.portcullisEnv, v)
		return nil
	})
	fs.StringVar(&o.natsServer, "nats-server", "", "a nats-server binary: run NATS JetStream in its own process, on the server CPUs, and portcullis with --nats-url (default: portcullis's embedded NATS)")
	fs.StringVar(&o.natsCPUs, "nats-cpus", "", "with -nats-server, the CPUs of the nats-server process (default: -server-cpus); a diagnosis, not the method: e.g. 1 for NATS off the gateway's core, as on another host (its CPU still counts as Portcullis's server CPU, and in the server CPUs busy, and shows as other load on the generator's CPUs)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if o.quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["duration"] {
			o.duration = time.Second
		}
		if !set["warmup"] {
			o.warmup = 300 * time.Millisecond
		}
		if !set["rounds"] {
			o.rounds = 1
		}
	}
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !slices.Contains(allTargets, t) {
			return o, fmt.Errorf("-targets: unknown target %q", t)
		}
		o.targets = append(o.targets, t)
	}
	var errs []error
	if len(o.targets) == 0 {
		errs = append(errs, errors.New("-targets: none"))
	}
	if o.duration <= 0 || o.warmup < 0 {
		errs = append(errs, errors.New("-duration must be positive and -warmup not negative"))
	}
	if o.conns < 1 || o.rounds < 1 {
		errs = append(errs, errors.New("-conns and -rounds must be at least 1"))
	}
	if o.openFraction <= 0 || o.openFraction > 1 {
		errs = append(errs, errors.New("-open-fraction must be in (0, 1]"))
	}
	if o.natsCPUs != "" && o.natsServer == "" {
		errs = append(errs, errors.New("-nats-cpus needs -nats-server"))
	}
	return o, errors.Join(errs...)
}

// onlineCPUs is the number of CPUs of the machine, whatever this process's
// affinity (the harness re-executes itself pinned to -client-cpus).
func onlineCPUs() int {
	if b, err := os.ReadFile("/sys/devices/system/cpu/online"); err == nil {
		if n := cpuListLen(strings.TrimSpace(string(b))); n > 0 {
			return n
		}
	}
	return runtime.NumCPU()
}

// pinSelf re-executes the harness under taskset -c cpus, once, so that
// every thread of the load generator runs there.
//
// With nice ≠ 0 it first sets this thread's nice value, which the
// re-executed process, every thread it makes and every server it starts
// inherit.
func pinSelf(cpus string, nice int) error {
	const marker = "PORTCULLIS_BENCH_PINNED"
	done := fmt.Sprintf("%s/%d", cpus, nice)
	if (cpus == "" && nice == 0) || os.Getenv(marker) == done {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	if nice != 0 {
		runtime.LockOSThread() // setpriority is per thread on Linux
		if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, nice); err != nil {
			return fmt.Errorf("-nice %d: %w", nice, err)
		}
	}
	env := append(os.Environ(), marker+"="+done)
	if cpus == "" {
		return syscall.Exec(self, append([]string{self}, os.Args[1:]...), env)
	}
	taskset, err := lookTaskset()
	if err != nil {
		return err
	}
	argv := append([]string{"taskset", "-c", cpus, self}, os.Args[1:]...)
	return syscall.Exec(taskset, argv, env)
}

func lookTaskset() (string, error) {
	for _, p := range []string{"/usr/bin/taskset", "/bin/taskset"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("taskset (util-linux) not found; run with -server-cpus= -client-cpus= to measure unpinned")
}

// serveMode runs one of the harness's own servers:
//
//	load serve upstream LISTEN
//	load serve bareproxy LISTEN UPSTREAM CONNS
//	load serve outcomeproxy LISTEN UPSTREAM CONNS DIR NATSLISTEN
func serveMode(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: load serve upstream LISTEN | load serve bareproxy LISTEN UPSTREAM CONNS | load serve outcomeproxy LISTEN UPSTREAM CONNS DIR NATSLISTEN")
		return 2
	}
	ln, err := net.Listen("tcp", args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "load serve:", err)
		return 1
	}
	switch {
	case args[0] == "upstream":
		err = upstream.Serve(ctx, ln)
	case args[0] == "bareproxy" && len(args) == 4:
		var conns int
		if _, err = fmt.Sscan(args[3], &conns); err == nil {
			err = bareproxy.New(args[2], conns).Serve(ctx, ln)
		}
	case args[0] == "outcomeproxy" && len(args) == 6:
		var conns int
		if _, err = fmt.Sscan(args[3], &conns); err == nil {
			err = outcomeproxy.Serve(ctx, ln, outcomeproxy.Config{Upstream: args[2], MaxConns: conns, DataDir: args[4],
				NATSListen: args[5], NATSUser: natsUser, NATSPassword: natsPassword})
		}
	default:
		err = fmt.Errorf("unknown server %q", args)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load serve:", err)
		return 1
	}
	return 0
}

// target is one system measured.
type target struct {
	name  string
	label string
	wl    workload
	procs []*server       // whose CPU counts for this target (itself and the upstream)
	oc    *outcomeCounter // Portcullis and the outcome proxy: their AUTH stream
	// With oc: the outcomes and messages in the AUTH stream before the
	// load, and the requests answered 200 since.
	outcomesBase uint64
	messagesBase uint64
	answered     int
}

func run(ctx context.Context, o options) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	logf := func(format string, args ...any) { log.Info(fmt.Sprintf(format, args...)) }
	m := describeMachine(o)
	logf("machine: %s", m.summary())

	dir, err := os.MkdirTemp("", "portcullis-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("temporary directory kept: %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}

	upAddr, err := freePort()
	if err != nil {
		return err
	}
	upCPUs := o.serverCPUs
	if o.upstreamCPUs != "" {
		upCPUs = o.upstreamCPUs
	}
	up, err := start("upstream", dir, upCPUs, nil, self, "serve", "upstream", upAddr)
	if err != nil {
		return err
	}
	defer up.stop()
	if err := waitListening(ctx, up, upAddr); err != nil {
		return err
	}

	wl := workload{method: "POST", path: "/bench-logs/_search",
		body:          []byte(`{"query":{"match":{"message":"GET"}},"size":1}`),
		authorization: basicAuth(benchUser, benchPassword)}
	var targets []*target
	for _, name := range o.targets {
		t := &target{name: name, wl: wl}
		switch name {
		case "upstream":
			t.label = "upstream alone (fasthttp, bench/upstream)"
			t.wl.addr, t.procs = upAddr, []*server{up}
		case "bareproxy":
			addr, err := freePort()
			if err != nil {
				return err
			}
			s, err := start("bareproxy", dir, o.serverCPUs, nil, self, "serve", "bareproxy", addr, upAddr, "512")
			if err != nil {
				return err
			}
			defer s.stop()
			if err := waitListening(ctx, s, addr); err != nil {
				return err
			}
			t.label = "bare fasthttp proxy (bench/bareproxy)"
			t.wl.addr, t.procs = addr, []*server{s, up}
		case "outcomeproxy":
			addr, err := freePort()
			if err != nil {
				return err
			}
			natsAddr, err := freePort()
			if err != nil {
				return err
			}
			s, err := start("outcomeproxy", dir, o.serverCPUs, nil, self, "serve", "outcomeproxy", addr, upAddr, "512",
				filepath.Join(dir, "outcomeproxy-data"), natsAddr)
			if err != nil {
				return err
			}
			defer s.stop()
			if err := waitListening(ctx, s, addr); err != nil {
				return err
			}
			oc := &outcomeCounter{name: name, natsAddr: natsAddr}
			defer oc.close()
			t.label = "bare proxy + every outcome to JetStream (bench/outcomeproxy)"
			t.wl.addr, t.procs, t.oc = addr, []*server{s, up}, oc
		case "nginx":
			bin, err := findNginx(ctx, logf)
			if err != nil {
				return err
			}
			addr, err := freePort()
			if err != nil {
				return err
			}
			conf, err := writeNginx(nginxParams{Workers: m.serverCPUCount, Dir: dir, Listen: addr, Upstream: upAddr,
				User: benchUser, PasswordHash: apr1(benchPassword, "bEnChSlt")})
			if err != nil {
				return err
			}
			s, err := start("nginx", dir, o.serverCPUs, nil, bin, "-p", dir, "-c", conf, "-e", dir+"/nginx-error.log", "-g", "daemon off;")
			if err != nil {
				return err
			}
			defer s.stop()
			if err := waitListening(ctx, s, addr); err != nil {
				return err
			}
			t.label = "nginx " + nginxVersion(bin) + " auth_basic (apr1)"
			t.wl.addr, t.procs = addr, []*server{s, up}
		case "portcullis":
			p, err := startPortcullis(ctx, o.portcullis, dir, o.serverCPUs, upAddr, o.portcullisEnv, o.natsServer, cmp.Or(o.natsCPUs, o.serverCPUs))
			if err != nil {
				return err
			}
			defer p.stop()
			t.label = "Portcullis (Basic, role grant, outcomes to JetStream)"
			t.wl.addr, t.procs, t.oc = p.addr, []*server{p.srv, up}, &p.outcomeCounter
			if p.nats != nil {
				// NATS's CPU counts as Portcullis's.
				t.label = "Portcullis (Basic, role grant, outcomes to JetStream in its own nats-server process)"
				if o.natsCPUs != "" && o.natsCPUs != o.serverCPUs {
					t.label = "Portcullis (Basic, role grant, outcomes to JetStream in its own nats-server process on CPUs " + o.natsCPUs + ")"
				}
				t.procs = append(t.procs, p.nats)
			}
			if len(o.portcullisEnv) > 0 {
				t.label += " with " + strings.Join(o.portcullisEnv, " ")
			}
		}
		if err := t.wl.check(ctx); err != nil {
			return fmt.Errorf("%s does not answer the workload: %w", name, err)
		}
		targets = append(targets, t)
	}
	for _, t := range targets {
		if t.oc != nil {
			if t.outcomesBase, err = t.oc.settled(ctx); err != nil {
				return err
			}
			t.messagesBase = t.oc.messages
		}
	}
	if splitComparable(o) {
		if err := sameFloor(ctx, targets); err != nil {
			return err
		}
	}

	all := []*server{up}
	for _, t := range targets {
		for _, p := range t.procs {
			if !slices.Contains(all, p) {
				all = append(all, p)
			}
		}
	}
	cpus := cpuSets{server: cpuList(o.serverCPUs), client: cpuList(o.clientCPUs)}
	every := make([]int, onlineCPUs())
	for i := range every {
		every[i] = i
	}
	if len(cpus.server) == 0 {
		cpus.server = every
	}
	if len(cpus.client) == 0 {
		cpus.client = every
	}
	res := &results{machine: m, opts: o, workload: wl, byTarget: map[string]*targetResult{}}
	for _, t := range targets {
		res.order = append(res.order, t.name)
		res.byTarget[t.name] = &targetResult{label: t.label}
	}
	ph := phase{warmup: o.warmup, duration: o.duration}
	for r := range o.rounds {
		for _, t := range rotate(targets, r) {
			if err := ctx.Err(); err != nil {
				return err
			}
			m, err := measure(ctx, t, all, cpus, func() *sample { return closedLoop(ctx, t.wl, o.conns, ph) })
			if err != nil {
				return err
			}
			tr := res.byTarget[t.name]
			tr.closed = append(tr.closed, m)
			logf("round %d closed loop %-10s %8.0f req/s  p50 %v  p99 %v  outcomes drained %v after", r+1, t.name, m.rate(), m.lat.p50, m.lat.p99, m.drain)
		}
	}
	res.openRate = res.openLoopRate()
	for r := range o.rounds {
		for _, t := range rotate(targets, r) {
			if err := ctx.Err(); err != nil {
				return err
			}
			rate := res.openRate
			if maxRate := res.byTarget[t.name].maxRate(); rate > o.openFraction*maxRate {
				// It cannot sustain Portcullis's half load (nginx): its own.
				rate = o.openFraction * maxRate
			}
			m, err := measure(ctx, t, all, cpus, func() *sample { return openLoop(ctx, t.wl, max(o.conns, 64), rate, ph) })
			if err != nil {
				return err
			}
			tr := res.byTarget[t.name]
			tr.openRate = rate
			tr.open = append(tr.open, m)
			logf("round %d open loop %-10s at %6.0f req/s: p50 %v  p99 %v  outcomes drained %v after", r+1, t.name, rate, m.lat.p50, m.lat.p99, m.drain)
		}
	}
	for _, t := range targets {
		if t.oc == nil {
			continue
		}
		n, err := t.oc.waitOutcomes(ctx, t.outcomesBase+uint64(t.answered))
		if err != nil {
			return err
		}
		tr := res.byTarget[t.name]
		tr.published, tr.answered = n-t.outcomesBase, t.answered
		tr.messages = t.oc.messages - t.messagesBase
	}
	for _, t := range targets {
		for _, p := range t.procs {
			if err := p.exited(); err != nil {
				return err
			}
		}
	}

	report := res.markdown()
	fmt.Print(report)
	if o.out != "" {
		if err := writeReport(o.out, report); err != nil {
			return err
		}
		logf("report written to %s", o.out)
	}
	return nil
}

// splitComparable tells whether Portcullis runs as the outcome proxy does
// (its embedded NATS, the default environment), so that the outcome proxy
// is its floor: else the harness neither checks their outcomes nor reports
// the split of Portcullis's cost through it.
func splitComparable(o options) bool {
	return o.natsServer == "" && len(o.portcullisEnv) == 0
}

// sameFloor checks that the outcome proxy records the outcome Portcullis
// records for the workload's request (the last one each recorded: the
// check's), so that the floor stays a floor as either changes.
func sameFloor(ctx context.Context, targets []*target) error {
	var op, pc *outcomeCounter
	for _, t := range targets {
		switch t.name {
		case "outcomeproxy":
			op = t.oc
		case "portcullis":
			pc = t.oc
		}
	}
	if op == nil || pc == nil {
		return nil
	}
	a, err := op.lastGranted(ctx)
	if err != nil {
		return err
	}
	b, err := pc.lastGranted(ctx)
	if err != nil {
		return err
	}
	if err := sameOutcome(a, b); err != nil {
		return fmt.Errorf("the outcome proxy does not record Portcullis's outcome (bench/outcomeproxy): %w", err)
	}
	return nil
}

// rotate returns ts starting at index r mod len(ts): each round starts
// with another target, so that none is always measured first or last.
func rotate(ts []*target, r int) []*target {
	r %= len(ts)
	return append(slices.Clone(ts[r:]), ts[:r]...)
}

// measure runs f and returns what it measured, with the CPU the target's
// processes used per answered request and the share of its CPUs the load
// generator kept busy. For Portcullis and the outcome proxy it then waits
// until every outcome of the requests answered so far is in the AUTH
// stream: the time that takes (the emitter's backlog) counts against its
// throughput, and the next measurement starts with no backlog.
func measure(ctx context.Context, t *target, all []*server, cpus cpuSets, f func() *sample) (run1, error) {
	cpu0, err := procsCPU(t.procs)
	if err != nil {
		return run1{}, err
	}
	ours0, err := procsCPU(all)
	if err != nil {
		return run1{}, err
	}
	sb0, err1 := cpuBusy(cpus.server)
	cb0, err2 := cpuBusy(cpus.client)
	if err := errors.Join(err1, err2); err != nil {
		return run1{}, err
	}
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	s := f()
	wall := time.Since(start)
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	ours1, err := procsCPU(all)
	if err != nil {
		return run1{}, err
	}
	sb1, err1 := cpuBusy(cpus.server)
	cb1, err2 := cpuBusy(cpus.client)
	if err := errors.Join(err1, err2); err != nil {
		return run1{}, err
	}
	genCPU := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	m := run1{s: s, lat: summarize(s.latencies)}
	share := func(busy, ours time.Duration, n int) float64 {
		return max(0, (busy-ours).Seconds()/wall.Seconds()/float64(n))
	}
	m.foreignServer = share(sb1-sb0, ours1-ours0, len(cpus.server))
	if n := len(cpus.server); n > 0 {
		m.busy = (ours1 - ours0).Seconds() / wall.Seconds() / float64(n)
	}
	m.foreignClient = share(cb1-cb0, genCPU, len(cpus.client))
	t.answered += s.total
	if t.oc != nil {
		drainStart := time.Now()
		if _, err := t.oc.waitOutcomes(ctx, t.outcomesBase+uint64(t.answered)); err != nil {
			return run1{}, err
		}
		m.drain = time.Since(drainStart)
	}
	cpu1, err := procsCPU(t.procs)
	if err != nil {
		return run1{}, err
	}
	if s.failed > 0 {
		return run1{}, fmt.Errorf("%s: %d of %d requests failed, first: %s", t.name, s.failed, s.failed+s.ok, s.firstErr)
	}
	if s.ok == 0 {
		return run1{}, fmt.Errorf("%s: no request answered in the measurement window", t.name)
	}
	if s.total > 0 {
		m.cpu = (cpu1 - cpu0) / time.Duration(s.total)
	}
	m.gen = genCPU.Seconds() / wall.Seconds() / float64(runtime.GOMAXPROCS(0))
	return m, ctx.Err()
}

// cpuSets are the CPUs of the servers and of the load generator (each all
// CPUs when not pinned).
type cpuSets struct{ server, client []int }

func procsCPU(ps []*server) (time.Duration, error) {
	var sum time.Duration
	for _, p := range ps {
		c, err := p.cpu()
		if err != nil {
			return 0, err
		}
		sum += c
	}
	return sum, nil
}

func writeReport(path, report string) error {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		if err := os.MkdirAll(path[:i], 0o755); err != nil {
			return err
		}
	}
	return os.WriteFile(path, []byte(report), 0o644)
}
