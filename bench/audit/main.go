// Command audit measures the auditor's throughput into a real Elasticsearch
// node against the ceiling a client can reach: a raw esutil.BulkIndexer
// loop over the same documents. Both run in one process, alternating (raw,
// auditor, raw, auditor, ...), each round into fresh indices, and the
// command prints each round, the median of each side and their ratio.
// Ratios from one run are what to compare: the machine is shared and its
// absolute numbers drift.
//
//	go run ./bench/audit [-n 30000] [-rounds 5] [-es URL]    (make bench-audit)
//
// The raw loop is handed the finished documents (decoded and encoded before
// its clock starts) and creates them with the same bulk settings the
// auditor uses; it acknowledges nothing. The auditor is timed from the call
// to Run (its setup included) until Elasticsearch created every document
// and the consumer's lag is 0, that is until every message was
// acknowledged: it pulls the events from a JetStream stream (an embedded
// nats-server in this process, as in the tests), decodes them, builds the
// documents, bulk-creates them and acknowledges each one after
// Elasticsearch confirmed it. Both sides write into indices created (from
// the auditor's template) before their clock starts, so index creation, a
// fixed cost of Elasticsearch's, is in neither number.
//
// The node is shared: every index and template is named after a run id
// (bench-audit-<id>-...) and deleted at the end, also on interrupt.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/events"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/audit:", err)
		os.Exit(1)
	}
}

type options struct {
	n, rounds, warmup int
	esURL             string
	only              string
	cpuProfile        string
	memProfile        string
	verbose           bool
	flushBytes        int
	pack              int
}

func run() error {
	var o options
	flag.IntVar(&o.n, "n", 30000, "documents per round")
	flag.IntVar(&o.rounds, "rounds", 5, "measured rounds of each side")
	flag.IntVar(&o.warmup, "warmup", 1, "unmeasured rounds of each side first (JIT and caches of the node)")
	flag.StringVar(&o.esURL, "es", envOr("PORTCULLIS_TEST_ES_URL", "http://127.0.0.1:9201"), "Elasticsearch `URL` (default $PORTCULLIS_TEST_ES_URL)")
	flag.StringVar(&o.only, "only", "", "run one side only: raw or auditor (for profiling)")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file`")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile of the whole run to `file`")
	flag.IntVar(&o.flushBytes, "flush-bytes", auditor.DefaultFlushBytes, "FlushBytes of both sides")
	flag.BoolVar(&o.verbose, "v", false, "print when each auditor round confirmed its first and last document")
	flag.IntVar(&o.pack, "pack", 1, "outcomes per message, of one action, one per line, as the gateway's emitter packs them under load (1: a message per outcome)")
	flag.Parse()
	if o.n <= 0 || o.rounds <= 0 || o.warmup < 0 || o.flushBytes <= 0 || o.pack <= 0 {
		return errors.New("-n, -rounds, -flush-bytes and -pack must be positive, -warmup not negative")
	}
	if o.only != "" && o.only != "raw" && o.only != "auditor" {
		return fmt.Errorf("-only %q: want raw or auditor", o.only)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	b, err := newBench(ctx, o)
	if err != nil {
		return err
	}
	defer b.close()

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := b.measure(ctx); err != nil {
		return err
	}
	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return fmt.Errorf("allocation profile: %w", err)
		}
		defer f.Close()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return fmt.Errorf("allocation profile: %w", err)
		}
	}
	return nil
}

// bench is one run: the node, the stream holding the events, and the
// documents the raw loop writes.
type bench struct {
	opt   options
	id    string
	es    *esHTTP
	srv   *server.Server
	dir   string
	nc    *nats.Conn
	js    jetstream.JetStream
	items []item
	days  []string
	// messages is the number of AUTH messages the events were published in.
	messages int
}

// item is one document as the raw loop writes it: what the auditor makes of
// the same event.
type item struct {
	id, day string
	doc     []byte
}

func newBench(ctx context.Context, o options) (*bench, error) {
	b := &bench{opt: o, id: runID(), es: &esHTTP{url: strings.TrimSuffix(o.esURL, "/")}}
	if err := b.es.check(ctx); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-audit-nats-")
	if err != nil {
		return nil, fmt.Errorf("nats store: %w", err)
	}
	b.dir = dir
	b.srv, err = server.NewServer(&server.Options{
		JetStream: true, StoreDir: dir, Port: -1, Host: "127.0.0.1", NoLog: true, NoSigs: true,
	})
	if err != nil {
		b.close()
		return nil, fmt.Errorf("nats-server: %w", err)
	}
	go b.srv.Start()
	if !b.srv.ReadyForConnections(10 * time.Second) {
		b.close()
		return nil, errors.New("nats-server not ready")
	}
	if b.nc, b.js, err = connect(b.srv); err != nil {
		b.close()
		return nil, err
	}
	if err := events.EnsureStreams(ctx, b.js, events.StreamsConfig{}); err != nil {
		b.close()
		return nil, fmt.Errorf("streams: %w", err)
	}
	if err := b.publish(ctx); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *bench) close() {
	if b.nc != nil {
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	if b.dir != "" {
		_ = os.RemoveAll(b.dir)
	}
}

func connect(srv *server.Server) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		return nil, nil, fmt.Errorf("nats connect: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// outcome is the i-th audited outcome: authentication failures and access
// denials in turn, as a gateway publishes them.
func outcome(i int) events.AuthOutcome {
	user := fmt.Sprintf("user-%d", i%97)
	if i%2 == 0 {
		return events.AuthOutcome{
			Action: events.ActionAuthenticationFailed, Outcome: "failure",
			Reason:    "unable to authenticate user [" + user + "] for REST request [/logs-app/_search]",
			Principal: user,
			Realms: []events.RealmAttempt{
				{Realm: "token", Type: "token", Reason: "no token"},
				{Realm: "default_native", Type: "native", Reason: "wrong password"},
			},
			Method: "POST", Path: "/logs-app/_search", Query: "pretty", RequestID: fmt.Sprintf("req-%d", i),
			SourceIP: fmt.Sprintf("192.0.2.%d:%d", i%250+1, 40000+i%20000), Status: 401,
		}
	}
	return events.AuthOutcome{
		Action: events.ActionAccessDenied, Outcome: "failure",
		Reason: "action [indices:data/read/search] is unauthorized for user [" + user + "] on indices [secret-1]",
		User:   user, Roles: []string{"logs_reader", "viewer"}, Realm: "default_native", AuthType: "realm",
		Method: "GET", Path: "/secret-1/_search", RequestID: fmt.Sprintf("req-%d", i),
		SourceIP: "2001:db8::7", ESAction: "indices:data/read/search", Indices: []string{"secret-1"},
		PolicyRevision: "42", Rule: "role_privileges", Status: 403,
	}
}

// publish appends the events to the AUTH stream, -pack to a message as the
// gateway's emitter packs them (one per line, the first's id as the
// message's, the count in Portcullis-Events), and builds, from the very
// bytes published, the raw loop's documents.
func (b *bench) publish(ctx context.Context) error {
	futures := make([]jetstream.PubAckFuture, 0, 4096)
	wait := func() error {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futures = futures[:0]
		return nil
	}
	type open struct {
		id   string
		data []byte
		n    int
	}
	pending := map[string]*open{} // subject → the message being filled
	send := func(subject string, m *open) error {
		msg := nats.NewMsg(subject)
		msg.Data = m.data
		msg.Header.Set(events.HeaderEvents, strconv.Itoa(m.n))
		f, err := b.js.PublishMsgAsync(msg, jetstream.WithMsgID(m.id))
		if err != nil {
			return fmt.Errorf("publish: %w", err)
		}
		b.messages++
		if futures = append(futures, f); len(futures) == cap(futures) {
			return wait()
		}
		return nil
	}
	days := map[string]bool{}
	for i := range b.opt.n {
		o := outcome(i)
		ev, err := events.New("bench-gw", events.AuthType(o.Action), o.RequestID, time.Now(), o)
		if err != nil {
			return err
		}
		raw, err := ev.Encode()
		if err != nil {
			return err
		}
		subject := events.AuthSubject(o.Action)
		m := pending[subject]
		if m == nil {
			m = &open{id: ev.ID}
			pending[subject] = m
		} else {
			m.data = append(m.data, '\n')
		}
		m.data = append(m.data, raw...)
		if m.n++; m.n == b.opt.pack {
			delete(pending, subject)
			if err := send(subject, m); err != nil {
				return err
			}
		}
		it, err := documentOf(raw)
		if err != nil {
			return err
		}
		days[it.day] = true
		b.items = append(b.items, it)
	}
	for _, subject := range slices.Sorted(maps.Keys(pending)) {
		if err := send(subject, pending[subject]); err != nil {
			return err
		}
	}
	if err := wait(); err != nil {
		return err
	}
	for d := range days {
		b.days = append(b.days, d)
	}
	slices.Sort(b.days)
	return nil
}

// documentOf is what the auditor does with a message, done ahead of time.
func documentOf(raw []byte) (item, error) {
	ev, err := events.Decode(raw)
	if err != nil {
		return item{}, err
	}
	var o events.AuthOutcome
	if err := ev.DecodeData(&o); err != nil {
		return item{}, err
	}
	doc, err := auditor.Document(ev, o)
	if err != nil {
		return item{}, err
	}
	return item{id: ev.ID, day: auditor.IndexName("", ev.Time), doc: doc}, nil
}

// bulkSettings are the esutil.BulkIndexer settings of both sides: the
// auditor's defaults, FlushBytes as -flush-bytes says (its FlushInterval
// does not matter to the raw loop, which Close flushes at the end).
func (b *bench) bulkSettings() (workers, flushBytes, queue int) {
	return auditor.DefaultWorkers, b.opt.flushBytes, auditor.DefaultBatchSize
}

func (b *bench) measure(ctx context.Context) error {
	workers, flushBytes, queue := b.bulkSettings()
	fmt.Printf("audit throughput into %s: %d documents per round (%.0f bytes on average), %d warm-up + %d measured rounds per side, alternating (raw first in odd rounds)\n",
		b.es.url, b.opt.n, b.avgDocBytes(), b.opt.warmup, b.opt.rounds)
	fmt.Printf("both sides: esutil.BulkIndexer, NumWorkers %d, FlushBytes %d, QueueSizeMultiplier %d, bulk \"create\" with _id = event id\n",
		workers, flushBytes, queue)
	fmt.Printf("auditor: auditor.New defaults (BatchSize %d, FlushIdle %s, FlushInterval %s), durable pull consumer on an embedded nats-server; the events in %d messages (-pack %d)\n",
		auditor.DefaultBatchSize, auditor.DefaultFlushIdle, auditor.DefaultFlushInterval, b.messages, b.opt.pack)
	fmt.Printf("GOMAXPROCS %d, %d CPUs; CPU per document: this process (bench, auditor, nats-server) and the Elasticsearch node (all its clients)\n\n",
		runtime.GOMAXPROCS(0), runtime.NumCPU())

	var raws, auds, pairs []float64
	var rawCPU, audCPU []cpu
	fmt.Printf("%-9s %11s %11s %7s   %-36s %s\n", "round", "raw docs/s", "aud docs/s", "ratio", "CPU µs/doc: raw self+ES | aud self+ES", "bulk requests: raw aud")
	for r := -b.opt.warmup + 1; r <= b.opt.rounds; r++ {
		label := fmt.Sprint(r)
		if r <= 0 {
			label = fmt.Sprintf("warm-up%d", r+b.opt.warmup)
		}
		// Raw first in odd rounds, the auditor first in even ones: neither
		// side always runs right after the other (on a node still busy with
		// the previous round's merges, say).
		var raw, aud result
		sides := []struct {
			name string
			run  func(context.Context, string, func()) (time.Duration, uint64, error)
			into *result
		}{{"raw", b.rawRound, &raw}, {"auditor", b.auditorRound, &aud}}
		if r%2 == 0 {
			sides[0], sides[1] = sides[1], sides[0]
		}
		for _, sd := range sides {
			if b.opt.only != "" && b.opt.only != sd.name {
				continue
			}
			res, err := b.round(ctx, label, sd.run)
			if err != nil {
				return err
			}
			*sd.into = res
		}
		rawRate, audRate := raw.rate(b.opt.n), aud.rate(b.opt.n)
		rc, ac := raw.perDoc(b.opt.n), aud.perDoc(b.opt.n)
		fmt.Printf("%-9s %11.0f %11.0f %7s   %s | %s %15d %3d\n", label, rawRate, audRate, ratio(audRate, rawRate), rc, ac, raw.requests, aud.requests)
		if r > 0 {
			raws, auds = append(raws, rawRate), append(auds, audRate)
			if rawRate > 0 && audRate > 0 {
				pairs = append(pairs, audRate/rawRate)
			}
			rawCPU, audCPU = append(rawCPU, rc), append(audCPU, ac)
		}
	}
	mr, ma := median(raws), median(auds)
	fmt.Printf("%-9s %11.0f %11.0f %7s   %s | %s\n", "median", mr, ma, ratio(ma, mr), medianCPU(rawCPU), medianCPU(audCPU))
	if b.opt.only == "" {
		fmt.Printf("\nauditor / raw BulkIndexer = %.3f (median of each side; target >= 0.80); median of the rounds' ratios %.3f\n",
			ma/mr, median(pairs))
	}
	return nil
}

// result is one round: how long it took, and the CPU this process and the
// node spent meanwhile.
type result struct {
	elapsed  time.Duration
	self     time.Duration
	es       time.Duration
	requests uint64
}

func (r result) rate(n int) float64 {
	if r.elapsed == 0 {
		return 0
	}
	return float64(n) / r.elapsed.Seconds()
}

// cpu is CPU time per document, in microseconds.
type cpu struct{ self, es float64 }

func (r result) perDoc(n int) cpu {
	return cpu{self: float64(r.self.Microseconds()) / float64(n), es: float64(r.es.Microseconds()) / float64(n)}
}

func (c cpu) String() string {
	if c == (cpu{}) {
		return "     -"
	}
	return fmt.Sprintf("%3.0f+%3.0f", c.self, c.es)
}

func medianCPU(cs []cpu) cpu {
	var self, es []float64
	for _, c := range cs {
		self, es = append(self, c.self), append(es, c.es)
	}
	return cpu{self: median(self), es: median(es)}
}

// round runs one side's round, measuring the CPU around it.
func (b *bench) round(ctx context.Context, label string, side func(context.Context, string, func()) (time.Duration, uint64, error)) (result, error) {
	var r result
	var self0 time.Duration
	var es0 time.Duration
	// start is called by the side right before its clock starts.
	start := func() {
		self0 = selfCPU()
		es0, _ = b.es.cpu(ctx)
	}
	elapsed, requests, err := side(ctx, label, start)
	if err != nil {
		return r, err
	}
	r.elapsed, r.requests = elapsed, requests
	r.self = selfCPU() - self0
	if es1, err := b.es.cpu(ctx); err == nil && es0 > 0 {
		r.es = es1 - es0
	}
	return r, nil
}

// selfCPU is the user and system CPU time of this process so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (b *bench) avgDocBytes() float64 {
	total := 0
	for _, it := range b.items {
		total += len(it.doc)
	}
	return float64(total) / float64(len(b.items))
}

// prepare installs the auditor's template for prefix and creates the
// indices the documents go to; the returned cleanup deletes them.
func (b *bench) prepare(ctx context.Context, prefix string) (cleanup func(), err error) {
	cleanup = func() {
		// Not ctx: an interrupted run still removes what it made.
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var indices []struct {
			Index string `json:"index"`
		}
		if err := b.es.json(c, "GET", "/_cat/indices/"+prefix+"*?format=json&h=index&expand_wildcards=all", nil, &indices); err == nil {
			for _, ix := range indices {
				_ = b.es.json(c, "DELETE", "/"+ix.Index, nil, nil)
			}
		}
		_ = b.es.json(c, "DELETE", "/_index_template/"+auditor.TemplateName(prefix), nil, nil)
	}
	if err := b.es.json(ctx, "PUT", "/_index_template/"+auditor.TemplateName(prefix), auditor.TemplateFor(prefix), nil); err != nil {
		cleanup()
		return nil, err
	}
	for _, d := range b.days {
		if err := b.es.json(ctx, "PUT", "/"+prefix+d+"?wait_for_active_shards=1", nil, nil); err != nil {
			cleanup()
			return nil, err
		}
	}
	return cleanup, nil
}

// verify counts the documents under prefix.
func (b *bench) verify(ctx context.Context, prefix string) error {
	if err := b.es.json(ctx, "POST", "/"+prefix+"*/_refresh", nil, nil); err != nil {
		return err
	}
	var res struct {
		Count int `json:"count"`
	}
	if err := b.es.json(ctx, "GET", "/"+prefix+"*/_count", nil, &res); err != nil {
		return err
	}
	if res.Count != b.opt.n {
		return fmt.Errorf("%s*: %d documents, want %d", prefix, res.Count, b.opt.n)
	}
	return nil
}

func (b *bench) rawRound(ctx context.Context, label string, start func()) (time.Duration, uint64, error) {
	prefix := fmt.Sprintf("bench-audit-%s-%s-raw-", b.id, label)
	cleanup, err := b.prepare(ctx, prefix)
	if err != nil {
		return 0, 0, err
	}
	defer cleanup()
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{b.es.url}})
	if err != nil {
		return 0, 0, fmt.Errorf("elasticsearch client: %w", err)
	}
	workers, flushBytes, queue := b.bulkSettings()
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client: es, NumWorkers: workers, FlushBytes: flushBytes, QueueSizeMultiplier: queue,
	})
	if err != nil {
		return 0, 0, fmt.Errorf("bulk indexer: %w", err)
	}
	start()
	began := time.Now()
	for _, it := range b.items {
		if err := bi.Add(ctx, esutil.BulkIndexerItem{
			Index: prefix + it.day, Action: "create", DocumentID: it.id, Body: bytes.NewReader(it.doc),
		}); err != nil {
			return 0, 0, fmt.Errorf("raw round %s: %w", label, err)
		}
	}
	if err := bi.Close(ctx); err != nil {
		return 0, 0, fmt.Errorf("raw round %s: %w", label, err)
	}
	elapsed := time.Since(began)
	if st := bi.Stats(); st.NumFailed != 0 || st.NumCreated != uint64(b.opt.n) {
		return 0, 0, fmt.Errorf("raw round %s: bulk indexer stats %+v", label, st)
	}
	return elapsed, bi.Stats().NumRequests, b.verify(ctx, prefix)
}

func (b *bench) auditorRound(ctx context.Context, label string, start func()) (time.Duration, uint64, error) {
	prefix := fmt.Sprintf("bench-audit-%s-%s-aud-", b.id, label)
	cleanup, err := b.prepare(ctx, prefix)
	if err != nil {
		return 0, 0, err
	}
	defer cleanup()
	es, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{b.es.url}})
	if err != nil {
		return 0, 0, fmt.Errorf("elasticsearch client: %w", err)
	}
	// The auditor is a process of its own: its own NATS connection.
	nc, js, err := connect(b.srv)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	durable := fmt.Sprintf("bench-%s-%s", b.id, strings.ReplaceAll(label, "-", ""))
	defer func() { _ = b.js.DeleteConsumer(context.Background(), events.StreamAuth, durable) }()
	a, err := auditor.New(auditor.Config{JS: js, ES: es, IndexPrefix: prefix, Durable: durable, FlushBytes: b.opt.flushBytes},
		auditor.WithLogger(b.logger()))
	if err != nil {
		return 0, 0, err
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start()
	began := time.Now()
	if b.opt.verbose {
		fmt.Printf("  auditor %s: Run at %s\n", label, began.Format("15:04:05.000"))
	}
	go func() { done <- a.Run(runCtx) }()
	n := uint64(b.opt.n)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	var first time.Duration
	for {
		st := a.Stats()
		if first == 0 && st.Indexed > 0 {
			first = time.Since(began)
		}
		if st.Indexed+st.Duplicates+st.DeadLettered >= n {
			break
		}
		if err := wait(ctx, done, tick.C); err != nil {
			return 0, 0, fmt.Errorf("auditor round %s: %w", label, err)
		}
	}
	last := time.Since(began)
	for {
		lagCtx, c := context.WithTimeout(ctx, 5*time.Second)
		l, err := a.Lag(lagCtx)
		c()
		if err == nil && l == 0 {
			break
		}
		if err := wait(ctx, done, tick.C); err != nil {
			return 0, 0, fmt.Errorf("auditor round %s: %w", label, err)
		}
	}
	elapsed := time.Since(began)
	cancel()
	if err := <-done; err != nil {
		return 0, 0, fmt.Errorf("auditor round %s: Run: %w", label, err)
	}
	if b.opt.verbose {
		fmt.Printf("  auditor %s: first document confirmed at %s, all at %s, all acknowledged at %s\n",
			label, first.Round(time.Millisecond), last.Round(time.Millisecond), elapsed.Round(time.Millisecond))
	}
	if st := a.Stats(); st.Indexed != n || st.Duplicates != 0 || st.DeadLettered != 0 || st.Retried != 0 {
		return 0, 0, fmt.Errorf("auditor round %s: stats %+v, want %d indexed and nothing else", label, st, n)
	}
	return elapsed, a.Stats().Requests, b.verify(ctx, prefix)
}

// logger is the auditor's: its start and stop lines with -v, nothing
// otherwise.
func (b *bench) logger() *slog.Logger {
	if !b.opt.verbose {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				a.Value = slog.StringValue(a.Value.Time().Format("15:04:05.000"))
			}
			return a
		},
	}))
}

// wait is one polling step of a round: a tick, unless the run was
// interrupted or Run returned early.
func wait(ctx context.Context, done <-chan error, tick <-chan time.Time) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case err := <-done:
		if err == nil {
			return errors.New("the auditor's Run returned before the end")
		}
		return fmt.Errorf("the auditor's Run returned before the end: %w", err)
	case <-tick:
		return nil
	}
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", a/b)
}

func runID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// esHTTP is the node through plain HTTP, for the bench's own requests.
type esHTTP struct {
	url string
	pid int // the node's process on this machine; -1: not here
}

func (e *esHTTP) check(ctx context.Context) error {
	var h struct {
		Status string `json:"status"`
	}
	if err := e.json(ctx, "GET", "/_cluster/health", nil, &h); err != nil {
		return fmt.Errorf("no Elasticsearch at %s (set PORTCULLIS_TEST_ES_URL or -es): %w", e.url, err)
	}
	return nil
}

// cpu is the node's process CPU time so far: from /proc when the node runs
// on this machine (to the clock tick), else from its node stats (which it
// refreshes only every second or so: coarse for one round).
func (e *esHTTP) cpu(ctx context.Context) (time.Duration, error) {
	if e.pid == 0 {
		var info struct {
			Nodes map[string]struct {
				Process struct {
					ID int `json:"id"`
				} `json:"process"`
			} `json:"nodes"`
		}
		e.pid = -1
		if err := e.json(ctx, "GET", "/_nodes/_local/process?filter_path=nodes.*.process.id", nil, &info); err == nil {
			for _, n := range info.Nodes {
				if _, err := procCPU(n.Process.ID); err == nil && isLoopback(e.url) {
					e.pid = n.Process.ID
				}
			}
		}
	}
	if e.pid > 0 {
		return procCPU(e.pid)
	}
	var st struct {
		Nodes map[string]struct {
			Process struct {
				CPU struct {
					TotalInMillis int64 `json:"total_in_millis"`
				} `json:"cpu"`
			} `json:"process"`
		} `json:"nodes"`
	}
	if err := e.json(ctx, "GET", "/_nodes/_local/stats/process?filter_path=nodes.*.process.cpu.total_in_millis", nil, &st); err != nil {
		return 0, err
	}
	for _, n := range st.Nodes {
		return time.Duration(n.Process.CPU.TotalInMillis) * time.Millisecond, nil
	}
	return 0, errors.New("no node in _nodes/_local/stats")
}

// procCPU reads the user and system time of process pid from
// /proc/<pid>/stat (fields 14 and 15, in ticks of 1/100 s).
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("unexpected /proc stat format")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("unexpected /proc stat format")
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("unexpected /proc stat format")
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

func isLoopback(u string) bool {
	pu, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := pu.Hostname()
	return h == "localhost" || strings.HasPrefix(h, "127.") || h == "::1"
}

func (e *esHTTP) json(ctx context.Context, method, path string, body []byte, into any) error {
	req, err := http.NewRequestWithContext(ctx, method, e.url+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}
