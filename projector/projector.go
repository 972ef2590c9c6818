package projector

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fastjson"
)

// Defaults of Config.
const (
	DefaultSweepInterval   = time.Minute
	DefaultCatchUpWait     = 50 * time.Millisecond
	DefaultAPIKeyRetention = 7 * 24 * time.Hour
)

// Tuning of the runner. Start-up time comes from snapshots (only the tail
// is replayed); replay speed from large pulls (few round trips) on a
// consumer without per-message bookkeeping (catchup.go), one decode per
// message (fastjson, see decode.go), no hand-off between goroutines per
// message (the consumer's handler applies what it decoded), and
// publishing in batches: one broadcast per batch, none before the
// projector is ready.
const (
	pullMaxMessages = 8192                  // messages buffered per consumer
	maxBatch        = 4096                  // events applied between two broadcasts
	flushAfter      = 2 * time.Millisecond  // publish a held batch when the stream pauses
	readyRecheck    = time.Second           // while not ready: did the backlog age out?
	recheckTimeout  = 2 * time.Second       // bound on one readiness recheck
	reopenTimeout   = 10 * time.Second      // bound on recreating a consumer
	stopWait        = 5 * time.Second       // bound on waiting for a reader to stop
	retryBackoffMin = 10 * time.Millisecond // first retry delay of a reader
	retryBackoffMax = 2 * time.Second       // bound on a reader's retry delay
	maxReserve      = 1 << 24               // bound on sizing the token maps up front
)

// Config configures a Projector.
type Config struct {
	// JS is the JetStream context the streams are read through. Required.
	// Both streams (events.StreamState, events.StreamTokens) must exist.
	JS jetstream.JetStream

	// SweepInterval is how often expired and revoked tokens, and API keys
	// past their retention, are dropped from memory. Default 1m
	// (DefaultSweepInterval).
	SweepInterval time.Duration

	// CatchUpWait bounds WaitForLatest, which runs on the request path when
	// a token is unknown here. Default 50ms (DefaultCatchUpWait).
	CatchUpWait time.Duration

	// ClockSkew is the allowed clock skew: the sweeper keeps a token until
	// ExpiresAt+ClockSkew, so that a gateway resolving tokens with
	// now-ClockSkew still finds it. Default 0.
	ClockSkew time.Duration

	// APIKeyRetention is how long an expired or invalidated API key is
	// kept (and listed by the get API key API) before the sweeper drops
	// it, as Elasticsearch's api_key.delete.retention_period. Default 7
	// days (DefaultAPIKeyRetention).
	APIKeyRetention time.Duration

	// APIKeyClockSkew is the allowed clock skew of API keys: an expired
	// key's retention counts from Expiration+APIKeyClockSkew, the last
	// moment a gateway with that skew accepts it. Default 0.
	APIKeyClockSkew time.Duration

	// MaxContexts bounds the search context bindings held (scroll,
	// point-in-time and async ids bound to their creator); a binding
	// beyond it is refused. Default 131072 (DefaultMaxContexts).
	MaxContexts int

	// MaxContextsPerOwner bounds the bindings of one owner, so that one
	// user cannot use up MaxContexts. Default 4096
	// (DefaultMaxContextsPerOwner).
	MaxContextsPerOwner int

	// Snapshots is the object store the model is snapshotted into and
	// started from (events.EnsureSnapshots makes it; see snapshotter.go).
	// Default nil: no snapshots, every start replays both streams.
	Snapshots jetstream.ObjectStore

	// SnapshotEvery is how many events applied since the last snapshot
	// (written or loaded) make the next one due. Default 50,000
	// (DefaultSnapshotEvery).
	SnapshotEvery int

	// SnapshotInterval is the shortest time between two snapshots of this
	// replica. Default 1m (DefaultSnapshotInterval).
	SnapshotInterval time.Duration
}

// setDefaults fills the zero fields, then validate reports every problem
// at once.
func (c *Config) setDefaults() {
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.CatchUpWait == 0 {
		c.CatchUpWait = DefaultCatchUpWait
	}
	if c.APIKeyRetention == 0 {
		c.APIKeyRetention = DefaultAPIKeyRetention
	}
	if c.MaxContexts == 0 {
		c.MaxContexts = DefaultMaxContexts
	}
	if c.MaxContextsPerOwner == 0 {
		c.MaxContextsPerOwner = DefaultMaxContextsPerOwner
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = DefaultSnapshotEvery
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.JS == nil {
		errs = append(errs, errors.New("projector.js: required"))
	}
	if c.SweepInterval < 0 {
		errs = append(errs, fmt.Errorf("projector.sweep_interval: %s is negative", c.SweepInterval))
	}
	if c.CatchUpWait < 0 {
		errs = append(errs, fmt.Errorf("projector.catch_up_wait: %s is negative", c.CatchUpWait))
	}
	if c.ClockSkew < 0 {
		errs = append(errs, fmt.Errorf("projector.clock_skew: %s is negative", c.ClockSkew))
	}
	if c.APIKeyRetention < 0 {
		errs = append(errs, fmt.Errorf("projector.api_key_retention: %s is negative", c.APIKeyRetention))
	}
	if c.APIKeyClockSkew < 0 {
		errs = append(errs, fmt.Errorf("projector.api_key_clock_skew: %s is negative", c.APIKeyClockSkew))
	}
	if c.MaxContexts < 0 {
		errs = append(errs, fmt.Errorf("projector.max_contexts: %d is negative", c.MaxContexts))
	}
	if c.MaxContextsPerOwner < 0 {
		errs = append(errs, fmt.Errorf("projector.max_contexts_per_owner: %d is negative", c.MaxContextsPerOwner))
	}
	if c.SnapshotEvery < 0 {
		errs = append(errs, fmt.Errorf("projector.snapshot_every: %d is negative", c.SnapshotEvery))
	}
	if c.SnapshotInterval < 0 {
		errs = append(errs, fmt.Errorf("projector.snapshot_interval: %s is negative", c.SnapshotInterval))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

type options struct {
	logger   *slog.Logger
	clock    func() time.Time
	onChange func(Change)
}

// Option sets an optional dependency of a Projector.
type Option func(*options)

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the clock the sweeper reads. Default time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithOnChange sets a function called with the kinds of state a batch of
// events changed (for example to recompile the policy when constraints
// changed). It is called by the model's writer, one call at a time, with
// the apply lock held: events wait while it runs. While the projector
// replays (before Ready) changes are accumulated and reported once, when
// it becomes ready, so a replay does not recompile the policy once per
// batch. WaitFor returns only after the call for the batch that held its
// event has returned. The function must not call WaitFor or
// WaitForLatest.
func WithOnChange(f func(Change)) Option {
	return func(o *options) { o.onChange = f }
}

// Projector keeps a Model up to date with the STATE and TOKENS streams.
type Projector struct {
	cfg   Config
	opts  options
	log   *slog.Logger
	model *Model

	started atomic.Bool
	ready   atomic.Bool
	stopped chan struct{} // closed when Run returns

	// visible is, per stream, the sequence up to which the model is
	// applied and OnChange has run: what WaitFor waits on. It moves once
	// per batch, then notify is closed and replaced (a broadcast).
	visible  [numStreams]atomic.Uint64
	notifyMu sync.Mutex
	notify   chan struct{} // guarded by notifyMu

	latest [numStreams]*lastSeq

	// applyMu makes the readers of the two streams take turns as the
	// model's writer; w is the writer's state. heldC tells Run that events
	// were applied but held back for a batch, to be published after
	// flushAfter if the stream does not complete the batch first.
	applyMu sync.Mutex
	w       writer // guarded by applyMu
	heldC   chan struct{}

	streamMu sync.Mutex
	streams  [numStreams]jetstream.Stream // guarded by streamMu; looked up once
	readers  [numStreams]*reader          // guarded by streamMu; set by Run

	// snapMu makes snapshots take turns; created is when each stream was
	// made, which a snapshot records. snapLast is when the last snapshot
	// was written or loaded (unix ns, 0 for never); snapping is set while
	// Run's snapshot goroutine runs.
	snapMu   sync.Mutex
	created  [numStreams]time.Time // guarded by snapMu; set by Run
	snapLast atomic.Int64
	snapping atomic.Bool

	// orderedOnly skips the catch-up's own pull consumer (benchmarks
	// compare the two).
	orderedOnly bool
}

// New returns a Projector with an empty model. It checks cfg and fills its
// defaults; it does no I/O.
func New(cfg Config, opts ...Option) (*Projector, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default(), clock: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	p := &Projector{
		cfg:     cfg,
		opts:    o,
		log:     o.logger,
		model:   NewModel(),
		stopped: make(chan struct{}),
		notify:  make(chan struct{}),
		heldC:   make(chan struct{}, 1),
	}
	p.model.SetContextLimits(cfg.MaxContexts, cfg.MaxContextsPerOwner)
	for i := range p.latest {
		p.latest[i] = newLastSeq()
	}
	return p, nil
}

// Model returns the read model the projector writes. Use its read methods
// only: Apply and Sweep belong to the projector while Run runs.
func (p *Projector) Model() *Model { return p.model }

// StartStats tells how Run started the model.
type StartStats struct {
	// FromSnapshot is true when the model was loaded from a snapshot;
	// StateSeq and TokensSeq are then the sequences it held (see
	// SnapshotStats) and Load how long loading it took.
	FromSnapshot        bool
	StateSeq, TokensSeq uint64
	Load                time.Duration
	// Ready is the time from Run to ready (0 before), Events the number of
	// events applied until then.
	Ready  time.Duration
	Events int
}

// Started returns how Run started the model; Ready is 0 until the
// projector is ready.
func (p *Projector) Started() StartStats {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	return p.w.stats
}

// Ready reports whether both streams were applied up to their last
// sequence as of the start of Run (and OnChange has seen the result): the
// health endpoint answers 503 before.
func (p *Projector) Ready() bool { return p.ready.Load() }

// stream returns the handle of stream i, looked up on first use.
func (p *Projector) stream(ctx context.Context, i int) (jetstream.Stream, error) {
	p.streamMu.Lock()
	defer p.streamMu.Unlock()
	if s := p.streams[i]; s != nil {
		return s, nil
	}
	s, err := p.cfg.JS.Stream(ctx, streamNames[i])
	if err != nil {
		return nil, fmt.Errorf("look up stream %s: %w", streamNames[i], err)
	}
	p.streams[i] = s
	return s, nil
}

// position is where a stream stands: its last sequence (0 when it holds
// no message: nothing to wait for), its first sequence and its size; end
// is the last sequence ever stored, also when no message is left, and
// created identifies the stream (one deleted and made again starts its
// sequences over).
type position struct {
	last, first, msgs, end uint64
	created                time.Time
}

// position asks the server where stream i stands. The handle's cached
// info is not used: it is as old as the lookup.
func (p *Projector) position(ctx context.Context, i int) (position, error) {
	s, err := p.stream(ctx, i)
	if err != nil {
		return position{}, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return position{}, fmt.Errorf("stream %s info: %w", streamNames[i], err)
	}
	pos := position{first: info.State.FirstSeq, msgs: info.State.Msgs, end: info.State.LastSeq, created: info.Created}
	if pos.msgs > 0 {
		pos.last = info.State.LastSeq
	}
	return pos, nil
}

// WaitFor blocks until the event at seq of stream is applied, and OnChange
// has run for it: read-your-writes for a command that got seq from its
// PubAck. Before the projector is ready it waits for readiness too
// (except for seq 0, which is always applied). It returns ctx's error
// (wrapped) when ctx ends first, ErrStopped when Run has returned.
func (p *Projector) WaitFor(ctx context.Context, stream string, seq uint64) error {
	i, ok := streamIndex(stream)
	if !ok {
		return fmt.Errorf("wait for %s seq %d: %w", stream, seq, ErrUnknownStream)
	}
	for {
		p.notifyMu.Lock()
		ch := p.notify // taken before the check, so no broadcast is missed
		p.notifyMu.Unlock()
		if p.visible[i].Load() >= seq {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("wait for %s seq %d (at %d): %w", stream, seq, p.visible[i].Load(), ctx.Err())
		case <-p.stopped:
			if p.visible[i].Load() >= seq {
				return nil
			}
			return fmt.Errorf("wait for %s seq %d: %w", stream, seq, ErrStopped)
		}
	}
}

// WaitForLatest fetches stream's current last sequence from the server and
// waits until it is applied, all within Config.CatchUpWait: a request
// presenting a token this replica does not know waits for events another
// replica may just have published. Concurrent callers share their
// requests to the server. It returns ErrBehind (with the cause) when the
// projection did not get there in time.
func (p *Projector) WaitForLatest(ctx context.Context, stream string) error {
	i, ok := streamIndex(stream)
	if !ok {
		return fmt.Errorf("wait for latest %s: %w", stream, ErrUnknownStream)
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.CatchUpWait)
	defer cancel()
	last, err := p.latest[i].get(ctx, func(ctx context.Context) (uint64, error) {
		pos, err := p.position(ctx, i)
		return pos.last, err
	})
	if err != nil {
		return fmt.Errorf("wait for latest %s: %w: %w", stream, ErrBehind, err)
	}
	if err := p.WaitFor(ctx, stream, last); err != nil {
		if errors.Is(err, ErrStopped) {
			return fmt.Errorf("wait for latest %s: %w", stream, err)
		}
		return fmt.Errorf("wait for latest %s: %w: %w", stream, ErrBehind, err)
	}
	return nil
}

// broadcast publishes the applied sequences to WaitFor callers.
func (p *Projector) broadcast() {
	for i := range p.visible {
		p.visible[i].Store(p.model.applied[i].Load())
	}
	p.notifyMu.Lock()
	close(p.notify)
	p.notify = make(chan struct{})
	p.notifyMu.Unlock()
}

// delivery is one message as a consumer's handler decoded it.
type delivery struct {
	stream  int
	seq     uint64
	pending uint64 // messages left in the stream for the consumer
	subject string
	raw     []byte // the message body, valid while it is applied
	rec     record
	err     error
}

// Run starts the model from the latest usable snapshot (or empty), then
// consumes both streams from there and applies every event until ctx
// ends, then returns nil. It returns an error when a stream cannot be read
// (missing, connection closed). Run is called once.
//
// Goroutines: Run reads each stream's backlog as of its start with a
// catch-up of its own (two at once, see catchup.go), then starts one
// ordered consumer per stream; their handlers, on the NATS client's
// goroutines, decode and apply each message and take turns on the apply
// lock, so the model has one writer at a time. Run's own goroutine
// sweeps, publishes held batches, rechecks readiness, starts a snapshot
// when one is due (on a goroutine it waits for) and reopens a consumer
// that ended. It stops the consumers and waits until they ended before it
// returns.
func (p *Projector) Run(ctx context.Context) error {
	if !p.started.CompareAndSwap(false, true) {
		return ErrAlreadyStarted
	}
	defer close(p.stopped)
	err := p.run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (p *Projector) run(ctx context.Context) error {
	p.applyMu.Lock()
	p.w = writer{p: p, start: time.Now()}
	p.applyMu.Unlock()
	// The targets of readiness: each stream's last sequence now.
	var (
		targets [numStreams]uint64
		pos     [numStreams]position
	)
	for i := range numStreams {
		var err error
		if pos[i], err = p.position(ctx, i); err != nil {
			return fmt.Errorf("projector start: %w", err)
		}
		targets[i] = pos[i].last
	}
	p.snapMu.Lock()
	p.created = [numStreams]time.Time{pos[streamState].created, pos[streamTokens].created}
	p.snapMu.Unlock()
	loaded := p.loadSnapshot(ctx, pos)
	if ctx.Err() != nil {
		return nil
	}
	p.applyMu.Lock()
	if !loaded {
		p.model.reserveTokens(int(min(pos[streamTokens].msgs, maxReserve)))
	}
	for i, t := range targets {
		p.w.targets[i], p.w.caught[i] = t, t <= p.model.applied[i].Load()
	}
	p.applyMu.Unlock()

	var (
		readers [numStreams]*reader
		closed  [numStreams]<-chan struct{}
	)
	for i := range numStreams {
		s, err := p.stream(ctx, i)
		if err != nil {
			return fmt.Errorf("projector start: %w", err)
		}
		readers[i] = &reader{p: p, i: i, stream: s, last: p.model.applied[i].Load()}
	}
	defer func() {
		for i, r := range readers {
			r.stop()
			if closed[i] == nil {
				continue
			}
			select {
			case <-closed[i]:
			case <-time.After(stopWait):
				p.log.ErrorContext(ctx, "projector_consumer_stuck", "stream", streamNames[i], "wait", stopWait)
			}
		}
	}()
	p.streamMu.Lock()
	p.readers = readers
	p.streamMu.Unlock()
	p.log.InfoContext(ctx, "projector_started",
		"state_last_seq", targets[streamState], "tokens_last_seq", targets[streamTokens])
	p.applyMu.Lock()
	p.w.finish(ctx) // both streams may be empty: ready at once
	p.applyMu.Unlock()

	// The backlog as of now, both streams at once, on the fast path; then
	// the ordered consumers go on from the last sequence applied.
	var wg sync.WaitGroup
	for i, r := range readers {
		if !p.orderedOnly {
			wg.Go(func() { r.catchUp(ctx, targets[i]) })
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	for i, r := range readers {
		c, err := r.open(ctx)
		if err != nil {
			if p.cfg.JS.Conn().IsClosed() {
				return fmt.Errorf("read %s: %w: %w", streamNames[i], ErrConsumerClosed, err)
			}
			return fmt.Errorf("projector start: %w", err)
		}
		closed[i] = c
	}

	var snapWG sync.WaitGroup
	defer snapWG.Wait()
	snapTick := time.NewTicker(min(snapshotCheck, p.cfg.SnapshotInterval))
	defer snapTick.Stop()
	sweep := time.NewTicker(p.cfg.SweepInterval)
	defer sweep.Stop()
	recheck := time.NewTicker(readyRecheck)
	defer recheck.Stop()
	flush := time.NewTimer(flushAfter)
	flush.Stop()
	defer flush.Stop()
	for {
		var recheckC <-chan time.Time
		if !p.ready.Load() {
			recheckC = recheck.C
		}
		select {
		case <-ctx.Done():
			return nil
		case <-closed[streamState]:
			if err := p.reopen(ctx, readers[streamState], &closed[streamState]); err != nil {
				return err
			}
		case <-closed[streamTokens]:
			if err := p.reopen(ctx, readers[streamTokens], &closed[streamTokens]); err != nil {
				return err
			}
		case <-p.heldC:
			flush.Reset(flushAfter)
		case <-flush.C:
			p.flush(ctx)
		case <-sweep.C:
			p.sweep(ctx)
		case <-snapTick.C:
			p.applyMu.Lock()
			due := p.snapshotDueLocked()
			p.applyMu.Unlock()
			if due && p.snapping.CompareAndSwap(false, true) {
				snapWG.Go(func() {
					defer p.snapping.Store(false)
					if _, err := p.Snapshot(ctx); err != nil && ctx.Err() == nil {
						p.log.WarnContext(ctx, "projector_snapshot_failed", "error", err)
					}
				})
			}
		case <-recheckC:
			p.recheck(ctx)
		}
	}
}

// reopen replaces a consumer that ended without being stopped, and its
// closed channel: after a closed connection Run ends with
// ErrConsumerClosed; otherwise a new ordered consumer starts after the last
// sequence applied, retried with backoff until ctx ends.
func (p *Projector) reopen(ctx context.Context, r *reader, closed *<-chan struct{}) error {
	name := streamNames[r.i]
	backoff := retryBackoffMin
	for {
		if ctx.Err() != nil {
			return nil
		}
		if p.cfg.JS.Conn().IsClosed() {
			return fmt.Errorf("read %s: %w: %w", name, ErrConsumerClosed, jetstream.ErrConnectionClosed)
		}
		octx, cancel := context.WithTimeout(ctx, reopenTimeout)
		c, err := r.open(octx)
		cancel()
		if err == nil {
			*closed = c
			p.log.WarnContext(ctx, "projector_consumer_reopened", "stream", name)
			return nil
		}
		p.log.WarnContext(ctx, "projector_consumer_reopen_failed", "stream", name, "error", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, retryBackoffMax)
	}
}

// sweep drops dead tokens one shard at a time, taking the apply lock per
// shard, so that a sweep of a million tokens delays an event (a
// revocation) by one shard's worth at most; then the API keys past their
// retention, reported to OnChange as an API key change.
func (p *Projector) sweep(ctx context.Context) {
	clock := p.opts.clock()
	now := clock.Add(-p.cfg.ClockSkew)
	removed := 0
	for i := range shardCount {
		if ctx.Err() != nil {
			return
		}
		p.applyMu.Lock()
		removed += p.model.sweepShard(i, now)
		p.applyMu.Unlock()
		runtime.Gosched()
	}
	p.applyMu.Lock()
	keys := p.model.SweepAPIKeys(clock, p.cfg.APIKeyRetention, p.cfg.APIKeyClockSkew)
	if keys > 0 {
		p.w.changes |= ChangeAPIKey
		p.w.finish(ctx) // reports nothing before the projector is ready
	}
	p.applyMu.Unlock()
	_, _, tokens := p.model.Counts()
	p.log.DebugContext(ctx, "projector_swept", "removed", removed, "tokens", tokens, "api_keys_removed", keys)
}

// recheck covers a backlog that left the stream before it was delivered
// (TOKENS messages age out): a stream that now holds nothing up to its
// target has nothing left to catch up on.
func (p *Projector) recheck(ctx context.Context) {
	var now [numStreams]bool
	for i := range numStreams {
		p.applyMu.Lock()
		caught, target := p.w.caught[i], p.w.targets[i]
		p.applyMu.Unlock()
		if caught {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, recheckTimeout)
		pos, err := p.position(rctx, i)
		cancel()
		if err != nil {
			p.log.WarnContext(ctx, "projector_recheck_failed", "stream", streamNames[i], "error", err)
			continue
		}
		now[i] = pos.msgs == 0 || pos.first > target
	}
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	for i, c := range now {
		if c {
			p.w.caught[i] = true
		}
	}
	p.w.finish(ctx)
}

// flush publishes what was applied but held back for a batch that the
// stream did not complete.
func (p *Projector) flush(ctx context.Context) {
	p.applyMu.Lock()
	defer p.applyMu.Unlock()
	if p.w.unflushed > 0 && p.ready.Load() {
		p.w.finish(ctx)
	}
}

// reader consumes one stream: its ordered consumer's handler decodes each
// message once and applies it under the apply lock, on the goroutine the
// NATS client runs the handler on (one per consumer). The library
// recreates the server-side consumer after a sequence gap, a missed
// heartbeat or a reconnect; Run reopens the reader if the consumer ends
// anyway.
type reader struct {
	p      *Projector
	i      int
	stream jetstream.Stream

	// mu serializes the handler (a consumer reset could overlap two calls)
	// and guards the fields below. Lock order: reader.mu, then
	// Projector.applyMu.
	mu      sync.Mutex
	parser  fastjson.Parser
	strs    interner
	last    uint64 // last stream sequence applied
	cc      jetstream.ConsumeContext
	fetch   *fetch // the catch-up running, nil when none
	stopped bool
}

// open starts an ordered consumer after the last sequence applied and
// returns the channel closed when it ends.
func (r *reader) open(ctx context.Context) (<-chan struct{}, error) {
	r.mu.Lock()
	last := r.last
	r.mu.Unlock()
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if last > 0 {
		cfg = jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: last + 1}
	}
	c, err := r.stream.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("ordered consumer on %s: %w", streamNames[r.i], err)
	}
	// The handler's context is Run's, captured here rather than stored.
	hctx := context.WithoutCancel(ctx)
	cc, err := c.Consume(func(msg jetstream.Msg) { r.handle(hctx, msg) },
		jetstream.PullMaxMessages(pullMaxMessages),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			r.p.log.WarnContext(hctx, "projector_consumer_error", "stream", streamNames[r.i], "error", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", streamNames[r.i], err)
	}
	closed := cc.Closed()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		cc.Stop()
	}
	r.cc = cc
	return closed, nil
}

// stop ends the consumer and the catch-up, now and for any later open.
func (r *reader) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.fetch != nil {
		r.fetch.endLocked("", nil)
	}
	if r.cc != nil {
		r.cc.Stop()
	}
}

func (r *reader) handle(ctx context.Context, msg jetstream.Msg) {
	seq, _, pending, ok := ackSeqs(msg.Reply())
	if !ok {
		r.p.log.WarnContext(ctx, "projector_message_skipped", "stream", streamNames[r.i],
			"error", fmt.Errorf("%w: reply subject %q", ErrMalformed, msg.Reply()))
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return
	}
	r.applyLocked(ctx, seq, pending, msg.Subject(), msg.Data())
}

// applyLocked decodes one message and applies it under the apply lock.
// r.mu is held.
func (r *reader) applyLocked(ctx context.Context, seq, pending uint64, subject string, raw []byte) {
	d := delivery{stream: r.i, seq: seq, pending: pending, subject: subject, raw: raw}
	d.rec, d.err = decodeMessage(&r.parser, &r.strs, d.raw)
	r.p.applyMu.Lock()
	r.p.w.apply(ctx, d)
	r.p.applyMu.Unlock()
	r.last = d.seq
}

// writer is the state of whoever holds the apply lock: the model's one
// writer at a time. Guarded by Projector.applyMu.
type writer struct {
	p         *Projector
	targets   [numStreams]uint64
	caught    [numStreams]bool
	start     time.Time
	changes   Change // not reported to OnChange yet
	stats     StartStats
	applied   int  // events applied since start
	snapBase  int  // applied as of the last snapshot written
	unflushed int  // events applied since the last finish
	held      bool // Run was told about the unflushed events
}

// apply folds one delivery and decides whether to publish now. A batch
// ends when the stream has nothing more pending for the consumer, or at
// maxBatch events; while the projector replays (not ready) nothing is
// published until both streams caught up.
func (w *writer) apply(ctx context.Context, d delivery) {
	p := w.p
	if d.err == nil && d.rec.kind == kindUnknown {
		p.log.DebugContext(ctx, "projector_event_unknown_type",
			"stream", streamNames[d.stream], "seq", d.seq, "event_id", d.rec.id, "event_type", d.rec.typ)
	}
	change, err := p.model.apply(d.stream, d.seq, d.subject, d.rec, d.err)
	if err != nil {
		id := d.rec.id
		if id == "" {
			id = eventID(d.raw)
		}
		p.log.WarnContext(ctx, "projector_event_skipped",
			"stream", streamNames[d.stream], "seq", d.seq, "event_id", id, "event_type", d.rec.typ, "error", err)
	}
	w.changes |= change
	w.applied++
	w.unflushed++
	if !w.caught[d.stream] && (d.seq >= w.targets[d.stream] || d.pending == 0) {
		w.caught[d.stream] = true
	}
	if !p.ready.Load() || d.pending == 0 || w.unflushed >= maxBatch {
		w.finish(ctx)
		return
	}
	if !w.held {
		// Held back for a batch: Run publishes it after flushAfter if the
		// stream does not complete it first.
		w.held = true
		select {
		case p.heldC <- struct{}{}:
		default:
		}
	}
}

// finish reports changes and publishes sequences; before the projector is
// ready it does so only once both streams caught up.
func (w *writer) finish(ctx context.Context) {
	p := w.p
	wasReady := p.ready.Load()
	if !wasReady && !(w.caught[streamState] && w.caught[streamTokens]) {
		return
	}
	if w.changes != ChangeNone && p.opts.onChange != nil {
		p.opts.onChange(w.changes)
	}
	w.changes, w.unflushed, w.held = ChangeNone, 0, false
	if !wasReady {
		// Ready before the broadcast: whoever WaitFor lets through sees
		// Ready() true.
		p.ready.Store(true)
	}
	p.broadcast()
	if !wasReady {
		w.stats.Ready, w.stats.Events = time.Since(w.start), w.applied
		accounts, constraints, tokens := p.model.Counts()
		p.log.InfoContext(ctx, "projector_ready",
			"duration", w.stats.Ready, "events", w.applied, "from_snapshot", w.stats.FromSnapshot,
			"accounts", accounts, "constraints", constraints, "tokens", tokens)
	}
}
