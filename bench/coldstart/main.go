// Command coldstart measures a Portcullis replica's start with a million
// state events in JetStream (issue 6, item 4): the time from start to ready,
// with and without a snapshot of the read model, and the replay rate against
// the bare consumers it is built on. `make bench-coldstart` runs it.
//
// It writes a data directory laid out as `portcullis serve --data-dir`
// expects (an embedded JetStream store), publishes the events through the
// real streams (one event per message, with its Nats-Msg-Id, as the gateway
// appends them), then measures, each several times, alternating:
//
//   - in-process: the projector alone, from Run to ready (both streams
//     applied up to their last sequence at start, OnChange done), over an
//     in-process connection to the embedded server, as serve runs it;
//   - the floor: the same TOKENS backlog consumed and dropped by a bare pull
//     consumer and by the library's ordered consumer;
//   - with -bin: the real process, from exec to the first 200 of
//     GET /_portcullis/health (embedded NATS recovering the store included).
//
// It prints a Markdown table. Timings on a shared machine are noisy: compare
// rows of one run.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/internal/embedded"
	"github.com/portcullis/portcullis/projector"
)

func main() {
	var (
		n    = flag.Int("events", 1_000_000, "state events to publish (STATE and TOKENS together)")
		runs = flag.Int("runs", 3, "measurements of each kind")
		tail = flag.Int("tail", projector.DefaultSnapshotEvery, "events published after the snapshot, for the snapshot + tail rows")
		bin  = flag.String("bin", "", "portcullis binary: also measure the process from exec to health 200")
		dir  = flag.String("dir", "", "data directory (default: a temporary one, removed at the end)")
		wait = flag.Duration("dedup-wait", 2*time.Minute+5*time.Second, "with -bin, how long after the last publish the processes start (the streams' duplicate window, and a margin)")
	)
	flag.Parse()
	if err := run(*n, *runs, *tail, *bin, *dir, *wait); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// row is one line of the table.
type row struct {
	what    string
	samples []time.Duration
	events  int // events applied per sample, for the rate
	note    string
}

func (r row) String() string {
	s := slices.Clone(r.samples)
	slices.Sort(s)
	med := s[len(s)/2]
	rate := ""
	if r.events > 0 {
		rate = fmt.Sprintf("%.0f", float64(r.events)/med.Seconds())
	}
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %s | %s |", r.what, len(s), ms(med), ms(s[0]), ms(s[len(s)-1]), rate, r.note)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

func run(n, runs, tail int, bin, dir string, dedup time.Duration) error {
	ctx := context.Background()
	if dir == "" {
		d, err := os.MkdirTemp("", "portcullis-coldstart-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	fmt.Printf("# Cold start, %d events (GOMAXPROCS %d, %s)\n\n", n, runtime.GOMAXPROCS(0), runtime.Version())

	srv, nc, js, err := startNATS(dir)
	if err != nil {
		return err
	}
	streams := events.StreamsConfig{}
	if err := events.EnsureStreams(ctx, js, streams); err != nil {
		return err
	}
	if _, err := events.EnsureSnapshots(ctx, js, streams); err != nil {
		return err
	}
	t := time.Now()
	g := newGen(1)
	mix, err := publish(ctx, js, g, n)
	if err != nil {
		return err
	}
	fmt.Printf("Published %s in %s.\n\n", mix, time.Since(t).Round(time.Millisecond))
	stopNATS(srv, nc)

	// In-process: the projector alone.
	t = time.Now()
	if srv, nc, js, err = startNATS(dir); err != nil {
		return err
	}
	recoverRecent := time.Since(t)
	store, err := js.ObjectStore(ctx, events.BucketSnapshots)
	if err != nil {
		return err
	}
	full := row{what: "replay, no snapshot", events: n}
	fullGC := row{what: "replay, no snapshot, GOGC=400 while replaying", events: n}
	bare := row{what: "floor: bare pull consumer, TOKENS only, no decode", events: mix.tokens}
	ordered := row{what: "floor: ordered consumer, TOKENS only, no decode", events: mix.tokens}
	for range runs {
		st, err := startProjector(ctx, js, nil)
		if err != nil {
			return err
		}
		full.samples = append(full.samples, st.Ready)
		old := debug.SetGCPercent(400)
		st, err = startProjector(ctx, js, nil)
		debug.SetGCPercent(old)
		if err != nil {
			return err
		}
		fullGC.samples = append(fullGC.samples, st.Ready)
		d, err := consumeBare(ctx, js, mix.tokens)
		if err != nil {
			return err
		}
		bare.samples = append(bare.samples, d)
		if d, err = consumeOrdered(ctx, js, mix.tokens); err != nil {
			return err
		}
		ordered.samples = append(ordered.samples, d)
	}
	full.note = fmt.Sprintf("%.2f × bare pull, %.2f × ordered consumer", ratio(full, bare), ratio(full, ordered))
	fullGC.note = fmt.Sprintf("%.2f × bare pull, %.2f × the row above", ratio(fullGC, bare), ratio(fullGC, full))
	snapStats, err := writeSnapshot(ctx, js, store)
	if err != nil {
		return err
	}
	fromSnap := row{what: "from a snapshot of all of it", events: n}
	if fromSnap.samples, fromSnap.note, err = fromSnapshot(ctx, js, store, runs); err != nil {
		return err
	}
	rows := []row{full, fullGC, bare, ordered, fromSnap}
	var tmix mixCount
	if tail > 0 {
		// A tail as long as snapshot.every: the most a start replays
		// after the latest snapshot when snapshots keep up.
		if tmix, err = publish(ctx, js, g, tail); err != nil {
			return err
		}
		withTail := row{what: fmt.Sprintf("from a snapshot + %d-event tail", tail), events: n + tail}
		if withTail.samples, withTail.note, err = fromSnapshot(ctx, js, store, runs); err != nil {
			return err
		}
		rows = append(rows, withTail)
	}
	published := time.Now()
	stopNATS(srv, nc)

	var recoverOld time.Duration
	if bin != "" {
		// The server rebuilds its duplicate window (the message ids of
		// the last two minutes) when it starts: wait it out, as a restart
		// after a quiet moment would find it.
		if wait := time.Until(published.Add(dedup)); wait > 0 {
			fmt.Fprintf(os.Stderr, "coldstart: waiting %s for the duplicate window to pass\n", wait.Round(time.Second))
			time.Sleep(wait)
		}
		t = time.Now()
		if srv, nc, _, err = startNATS(dir); err != nil {
			return err
		}
		recoverOld = time.Since(t)
		stopNATS(srv, nc)
		total := n + tail
		procFull := row{what: "process: exec → health 200, no snapshot", events: total}
		procTail := row{what: fmt.Sprintf("process: exec → health 200, snapshot + %d-event tail", tail), events: total}
		for range runs {
			d, err := startProcess(bin, dir, false)
			if err != nil {
				return err
			}
			procFull.samples = append(procFull.samples, d)
			if d, err = startProcess(bin, dir, true); err != nil {
				return err
			}
			procTail.samples = append(procTail.samples, d)
		}
		// A snapshot of everything, then starts from it alone.
		if srv, nc, js, err = startNATS(dir); err != nil {
			return err
		}
		if store, err = js.ObjectStore(ctx, events.BucketSnapshots); err != nil {
			return err
		}
		if _, err := writeSnapshot(ctx, js, store); err != nil {
			return err
		}
		stopNATS(srv, nc)
		procSnap := row{what: "process: exec → health 200, snapshot of all of it", events: total}
		for range runs {
			d, err := startProcess(bin, dir, true)
			if err != nil {
				return err
			}
			procSnap.samples = append(procSnap.samples, d)
		}
		rows = append(rows, procFull, procSnap)
		if tail > 0 {
			rows = append(rows, procTail)
		}
	}

	fmt.Println("| what | runs | median | min | max | events/s (median) | note |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Println(r)
	}
	fmt.Printf("\nIn-process rows: projector Run → ready (both streams applied to their last sequence at start, OnChange done).\n")
	fmt.Printf("events/s: the events the model holds when ready (from the snapshot or replayed) per second of start-up.\n")
	if tail > 0 {
		fmt.Printf("Tail: %s.\n", tmix)
	}
	fmt.Printf("Snapshot written: %.1f MB, %d accounts, %d tokens, in %s; longest hold of the apply lock %s.\n",
		float64(snapStats.Bytes)/1e6, snapStats.Accounts, snapStats.Tokens, ms(snapStats.Duration), snapStats.Pause.Round(time.Microsecond))
	fmt.Printf("Embedded NATS start → ready for connections: %s right after publishing (it rebuilds the duplicate window of every message id)", ms(recoverRecent))
	if bin != "" {
		fmt.Printf(", %s once the window passed", ms(recoverOld))
	}
	fmt.Println(".")
	return nil
}

// fromSnapshot starts projectors from the stored snapshot.
func fromSnapshot(ctx context.Context, js jetstream.JetStream, store jetstream.ObjectStore, runs int) ([]time.Duration, string, error) {
	var (
		samples []time.Duration
		note    string
	)
	for range runs {
		st, err := startProjector(ctx, js, store)
		if err != nil {
			return nil, "", err
		}
		if !st.FromSnapshot {
			return nil, "", errors.New("the snapshot was not loaded")
		}
		samples = append(samples, st.Ready)
		note = fmt.Sprintf("load %s, then %d events", ms(st.Load), st.Events)
	}
	return samples, note, nil
}

// ratio is the median over rounds of a's rate over b's: the rows of one
// round ran one after the other, so the machine's load drifts less
// between them than over the whole run.
func ratio(a, b row) float64 {
	var rs []float64
	for i := range a.samples {
		rs = append(rs, float64(a.events)/a.samples[i].Seconds()/(float64(b.events)/b.samples[i].Seconds()))
	}
	slices.Sort(rs)
	return rs[len(rs)/2]
}

// startNATS runs the embedded server on dir as serve does, with an
// in-process connection.
func startNATS(dir string) (*server.Server, *nats.Conn, jetstream.JetStream, error) {
	opts := embedded.Options("coldstart", dir)
	opts.DontListen = true
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(5 * time.Minute) {
		return nil, nil, nil, errors.New("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		srv.Shutdown()
		return nil, nil, nil, fmt.Errorf("connect: %w", err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096))
	if err != nil {
		return nil, nil, nil, err
	}
	return srv, nc, js, nil
}

func stopNATS(srv *server.Server, nc *nats.Conn) {
	nc.Close()
	srv.Shutdown()
	srv.WaitForShutdown()
}

// startProjector runs a projector until it is ready and returns how it
// started. The model is dropped afterwards.
func startProjector(ctx context.Context, js jetstream.JetStream, store jetstream.ObjectStore) (projector.StartStats, error) {
	runtime.GC()
	p, err := projector.New(projector.Config{JS: js, Snapshots: store, SnapshotEvery: math.MaxInt},
		projector.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return projector.StartStats{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(5 * time.Minute)
	for !p.Ready() {
		select {
		case err := <-done:
			done <- err
			return projector.StartStats{}, fmt.Errorf("projector: %w", err)
		case <-time.After(200 * time.Microsecond):
		}
		if time.Now().After(deadline) {
			return projector.StartStats{}, errors.New("projector not ready after 5m")
		}
	}
	return p.Started(), nil
}

func writeSnapshot(ctx context.Context, js jetstream.JetStream, store jetstream.ObjectStore) (projector.SnapshotStats, error) {
	p, err := projector.New(projector.Config{JS: js, Snapshots: store, SnapshotEvery: math.MaxInt},
		projector.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return projector.SnapshotStats{}, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.Run(rctx) }()
	defer func() { cancel(); <-done }()
	for !p.Ready() {
		time.Sleep(time.Millisecond)
	}
	return p.Snapshot(ctx)
}

// consumeBare reads n TOKENS messages with a pull consumer of its own and
// two pull requests of 8192 in flight, parsing nothing: the floor of what
// a replay can do.
func consumeBare(ctx context.Context, js jetstream.JetStream, n int) (time.Duration, error) {
	runtime.GC()
	start := time.Now()
	s, err := js.Stream(ctx, events.StreamTokens)
	if err != nil {
		return 0, err
	}
	c, err := s.CreateConsumer(ctx, jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy, MemoryStorage: true,
		InactiveThreshold: 30 * time.Second, Replicas: 1})
	if err != nil {
		return 0, err
	}
	defer func() { _ = s.DeleteConsumer(context.WithoutCancel(ctx), c.CachedInfo().Name) }()
	nc := js.Conn()
	const batch = 8192
	next := "$JS.API.CONSUMER.MSG.NEXT." + events.StreamTokens + "." + c.CachedInfo().Name
	inbox := nats.NewInbox()
	req := []byte(`{"batch":` + strconv.Itoa(batch) + `,"expires":30000000000}`)
	var got atomic.Int64
	done := make(chan struct{})
	var requested int64 = 2 * batch
	sub, err := nc.Subscribe(inbox, func(m *nats.Msg) {
		if m.Reply == "" {
			return // status
		}
		k := got.Add(1)
		if requested-k <= batch {
			requested += batch
			_ = nc.PublishRequest(next, inbox, req)
		}
		if k == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	_ = sub.SetPendingLimits(4*batch, -1)
	_ = nc.PublishRequest(next, inbox, req)
	_ = nc.PublishRequest(next, inbox, req)
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("bare consumer: %d of %d after 5m", got.Load(), n)
	}
	return time.Since(start), nil
}

// consumeOrdered reads n TOKENS messages with the library's ordered
// consumer, as the projector's live tail does, reading each message's
// metadata and nothing else.
func consumeOrdered(ctx context.Context, js jetstream.JetStream, n int) (time.Duration, error) {
	runtime.GC()
	start := time.Now()
	c, err := js.OrderedConsumer(ctx, events.StreamTokens, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return 0, err
	}
	done := make(chan struct{})
	count := 0
	cc, err := c.Consume(func(msg jetstream.Msg) {
		if _, err := msg.Metadata(); err != nil {
			return
		}
		if count++; count == n {
			close(done)
		}
	}, jetstream.PullMaxMessages(8192))
	if err != nil {
		return 0, err
	}
	defer cc.Stop()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		return 0, fmt.Errorf("ordered consumer: %d of %d after 5m", count, n)
	}
	return time.Since(start), nil
}

// startProcess runs `portcullis serve` on dir and returns the time from
// exec to the first 200 of its health endpoint.
func startProcess(bin, dir string, snapshots bool) (time.Duration, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--listen", addr, "--upstream", "http://127.0.0.1:9", "--data-dir", dir)
	cmd.Env = append(os.Environ(), "PORTCULLIS_AUDIT_DISABLED=true", "PORTCULLIS_LOG_LEVEL=warn", "PORTCULLIS_NATS_LISTEN=off",
		"PORTCULLIS_SNAPSHOT_DISABLED="+strconv.FormatBool(!snapshots),
		// No snapshot written while measuring: the same one for every run.
		"PORTCULLIS_SNAPSHOT_EVERY="+strconv.Itoa(math.MaxInt32))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	url := "http://" + addr + "/_portcullis/health"
	for time.Since(start) < 5*time.Minute {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, errors.New("process not healthy after 5m")
}

// gen makes a log like a gateway's: accounts with password changes and
// some deletions, roles, constraints, API keys (a third with role
// descriptors, some invalidated) on STATE; logins and some logouts on
// TOKENS, about 98% of the whole.
type gen struct {
	r        *rand.Rand
	now      time.Time
	accounts []account
	keys     []string
	tokens   [][32]byte
	n        int
}

type account struct {
	name, uid string
	epoch     uint64
	live      bool
}

func newGen(seed uint64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, 42)), now: time.Now().UTC()}
}

// mixCount counts what publish wrote.
type mixCount struct{ state, tokens, accounts, keys, issued, revoked int }

func (m mixCount) String() string {
	return fmt.Sprintf("%d STATE events (%d accounts created, %d API keys) and %d TOKENS events (%d issued, %d revoked)",
		m.state, m.accounts, m.keys, m.tokens, m.issued, m.revoked)
}

type pending struct {
	subject string
	ev      events.Event
	state   bool
}

// next returns the next event. STATE events are about 2% of the log.
func (g *gen) next(m *mixCount) (pending, error) {
	g.n++
	g.now = g.now.Add(time.Millisecond)
	ev := func(typ, subject string, data any) events.Event {
		e, err := events.New("coldstart", typ, subject, g.now, data)
		if err != nil {
			panic(err)
		}
		return e
	}
	k := g.r.IntN(1000)
	switch {
	case len(g.accounts) < 100 || k < 10: // account created
		name := fmt.Sprintf("user-%d-%d", len(g.accounts), g.n)
		uid := events.NewID(g.now)
		g.accounts = append(g.accounts, account{name: name, uid: uid, epoch: 1, live: true})
		m.accounts++
		return pending{events.StateSubject(events.AggregateAccount, name), ev(events.TypeAccountCreated, name, events.AccountCreated{
			UID: uid, Username: name, PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + strconv.Itoa(g.n),
			Roles: []string{"reader", fmt.Sprintf("team-%d", g.r.IntN(50))}, Authenticator: "index", FullName: name, Email: name + "@example.com"}), true}, nil
	case k < 12: // password change
		a := &g.accounts[g.r.IntN(len(g.accounts))]
		if !a.live {
			break
		}
		a.epoch++
		h := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$" + strconv.Itoa(g.n)
		return pending{events.StateSubject(events.AggregateAccount, a.name), ev(events.TypeAccountUpdated, a.name,
			events.AccountUpdated{UID: a.uid, Username: a.name, PasswordHash: &h}), true}, nil
	case k < 13: // role put
		name := fmt.Sprintf("team-%d", g.r.IntN(50))
		return pending{events.StateSubject(events.AggregateRole, name), ev(events.TypeRolePut, name, events.RolePut{
			Name: name, Cluster: []string{"monitor"}, Indices: []events.IndexPrivileges{{Names: []string{name + "-*"}, Privileges: []string{"read", "write"}}}}), true}, nil
	case k < 17: // API key created
		a := g.accounts[g.r.IntN(len(g.accounts))]
		if !a.live {
			break
		}
		id := fmt.Sprintf("key%d", g.n)
		g.keys = append(g.keys, id)
		m.keys++
		p := events.APIKeyCreated{ID: id, Name: "k-" + id, Username: a.name, Realm: "default_native",
			SecretHash: "sha256$c2FsdA$" + strconv.Itoa(g.n), Creation: g.now, Expiration: g.now.Add(30 * 24 * time.Hour)}
		if g.r.IntN(3) == 0 {
			p.RoleDescriptors = []byte(`{"ingest":{"cluster":["monitor"],"indices":[{"names":["logs-*"],"privileges":["create_doc"]}]}}`)
		}
		return pending{events.StateSubject(events.AggregateAPIKey, id), ev(events.TypeAPIKeyCreated, id, p), true}, nil
	case k < 18 && len(g.keys) > 0: // API key invalidated
		id := g.keys[g.r.IntN(len(g.keys))]
		return pending{events.StateSubject(events.AggregateAPIKey, id), ev(events.TypeAPIKeyInvalidated, id,
			events.APIKeyInvalidated{ID: id, Time: g.now}), true}, nil
	case k < 19 && g.n%7 == 0: // a deletion now and then
		i := g.r.IntN(len(g.accounts))
		a := &g.accounts[i]
		if !a.live {
			break
		}
		a.live = false
		return pending{events.StateSubject(events.AggregateAccount, a.name), ev(events.TypeAccountDeleted, a.name,
			events.AccountDeleted{UID: a.uid, Username: a.name}), true}, nil
	case k < 120 && len(g.tokens) > 0: // logout
		h := g.tokens[g.r.IntN(len(g.tokens))]
		hx := hex.EncodeToString(h[:])
		m.revoked++
		return pending{events.TokensSubject(events.TypeTokenRevoked), ev(events.TypeTokenRevoked, hx, events.TokenRevoked{TokenHash: hx, Reason: "logout"}), false}, nil
	}
	// login
	a := g.accounts[g.r.IntN(len(g.accounts))]
	h := sha256.Sum256([]byte(strconv.Itoa(g.n) + "-" + strconv.FormatUint(g.r.Uint64(), 36)))
	g.tokens = append(g.tokens, h)
	hx := hex.EncodeToString(h[:])
	m.issued++
	return pending{events.TokensSubject(events.TypeTokenIssued), ev(events.TypeTokenIssued, a.name, events.TokenIssued{TokenHash: hx,
		Username: a.name, AccountUID: a.uid, Epoch: a.epoch, IssuedAt: g.now, ExpiresAt: g.now.Add(24 * time.Hour)}), false}, nil
}

// publish appends n events with async publishes, a window at a time.
func publish(ctx context.Context, js jetstream.JetStream, g *gen, n int) (mixCount, error) {
	var m mixCount
	for i := range n {
		p, err := g.next(&m)
		if err != nil {
			return m, err
		}
		raw, err := p.ev.Encode()
		if err != nil {
			return m, err
		}
		if _, err := js.PublishAsync(p.subject, raw, jetstream.WithMsgID(p.ev.ID)); err != nil {
			return m, fmt.Errorf("publish: %w", err)
		}
		if p.state {
			m.state++
		} else {
			m.tokens++
		}
		if i%2000 == 1999 {
			select {
			case <-js.PublishAsyncComplete():
			case <-ctx.Done():
				return m, ctx.Err()
			case <-time.After(time.Minute):
				return m, errors.New("publish stalled")
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return m, errors.New("publish stalled")
	}
	return m, nil
}
