package auditor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esapi"
	"github.com/elastic/go-elasticsearch/v8/esutil"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// Auditor consumes the AUTH stream and writes audit documents. Create it
// with New and start it with Run.
type Auditor struct {
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	retry   *backoff
	filter  []string
	tmpl    []byte
	tmplKey string

	indexed      atomic.Uint64
	duplicates   atomic.Uint64
	deadLettered atomic.Uint64
	retried      atomic.Uint64
	bulk         atomic.Pointer[writers] // of the current (or last) Run
}

// Stats counts what an Auditor did since it was created.
type Stats struct {
	// Indexed documents Elasticsearch created.
	Indexed uint64
	// Duplicates: redelivered events whose document already existed (409),
	// acknowledged without a second document.
	Duplicates uint64
	// DeadLettered events, sent to the dead-letter subject.
	DeadLettered uint64
	// Retried deliveries: handed back to NATS for a later attempt because
	// Elasticsearch was unreachable or overloaded.
	Retried uint64
	// Requests: bulk requests sent to Elasticsearch by the current (or
	// last) Run.
	Requests uint64
}

// New validates cfg (reporting every problem at once) and returns an
// Auditor. It does no I/O; Run installs the template and the consumer.
func New(cfg Config, opts ...Option) (*Auditor, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default(), now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return &Auditor{
		cfg:     cfg,
		log:     o.logger.With("component", "auditor", "durable", cfg.Durable),
		now:     o.now,
		retry:   newBackoff(initialBackoff, cfg.MaxBackoff),
		filter:  cfg.filterSubjects(),
		tmpl:    templateFor(cfg.IndexPrefix),
		tmplKey: templateName(cfg.IndexPrefix),
	}, nil
}

// Stats returns the auditor's counters.
func (a *Auditor) Stats() Stats {
	st := Stats{
		Indexed:      a.indexed.Load(),
		Duplicates:   a.duplicates.Load(),
		DeadLettered: a.deadLettered.Load(),
		Retried:      a.retried.Load(),
	}
	if w := a.bulk.Load(); w != nil {
		st.Requests = w.requests()
	}
	return st
}

// Lag is the consumer's lag: audited events not yet confirmed in
// Elasticsearch, whether still waiting in the stream or delivered and not
// yet acknowledged.
func (a *Auditor) Lag(ctx context.Context) (uint64, error) {
	c, err := a.cfg.JS.Consumer(ctx, events.StreamAuth, a.cfg.Durable)
	if err != nil {
		return 0, fmt.Errorf("auditor lag: %w", err)
	}
	info := c.CachedInfo() // the lookup's own answer: one request, not two
	return info.NumPending + uint64(info.NumAckPending), nil
}

// Run installs the index template and the dead-letter stream, then consumes
// the AUTH stream until ctx ends. While Elasticsearch or NATS cannot be
// reached at start it waits and retries. When ctx ends it stops pulling,
// hands the messages it had not started on back to NATS, waits for the
// batches already in flight to be confirmed and acknowledged, and returns
// nil. It returns an error only when the NATS connection is closed under
// it or the drain cannot finish.
func (a *Auditor) Run(ctx context.Context) error {
	if err := a.until(ctx, "audit_setup_failed", a.setup); err != nil {
		return nil // ctx ended before setup succeeded: nothing in flight
	}
	a.log.InfoContext(ctx, "auditor_started", "subjects", a.filter, "index_prefix", a.cfg.IndexPrefix)

	bi, err := newWriters(a.cfg.Workers, a.cfg.FlushIdle, esutil.BulkIndexerConfig{
		Client:              a.cfg.ES,
		FlushBytes:          a.cfg.FlushBytes,
		FlushInterval:       a.cfg.FlushInterval,
		QueueSizeMultiplier: a.cfg.BatchSize,
		OnError: func(ctx context.Context, err error) {
			a.log.DebugContext(ctx, "audit_bulk_error", "error", err)
		},
		OnFlushStart: a.flushStart,
		OnFlushEnd:   flushEnd,
	})
	if err != nil {
		return fmt.Errorf("auditor: bulk indexer: %w", err)
	}
	a.bulk.Store(bi)

	// The flusher sends what the pull loop added once it has been waiting
	// for NATS for a while (see flushWhenIdle) rather than at the next
	// FlushInterval. It watches the pull loop's progress rather than the
	// pull loop timing each wait for a message (a timer per message); and
	// the flush, which waits for the requests it starts, stays off the
	// pull loop.
	var prog progress
	stopFlusher := make(chan struct{})
	var wg sync.WaitGroup
	if a.cfg.FlushIdle > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.flushWhenIdle(&prog, bi, stopFlusher)
		}()
	}

	consumeErr := a.consumeLoop(ctx, bi, &prog)

	close(stopFlusher)
	wg.Wait()
	drainCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.RequestTimeout+a.cfg.FlushInterval+5*time.Second)
	defer cancel()
	var drainErr error
	if err := bi.close(drainCtx); err != nil {
		drainErr = fmt.Errorf("auditor: drain in-flight batches: %w", err)
	}
	// Acks are fire-and-forget publishes: push them out before returning.
	if nc := a.cfg.JS.Conn(); nc != nil && !nc.IsClosed() {
		if err := nc.FlushTimeout(5 * time.Second); err != nil && drainErr == nil {
			drainErr = fmt.Errorf("auditor: flush acknowledgements: %w", err)
		}
	}
	st := a.Stats()
	a.log.InfoContext(ctx, "auditor_stopped", "indexed", st.Indexed, "duplicates", st.Duplicates,
		"dead_lettered", st.DeadLettered, "retried", st.Retried)
	return errors.Join(consumeErr, drainErr)
}

// progress is what the flusher sees of the pull loop.
type progress struct {
	added   atomic.Uint64 // documents handed to the bulk indexer
	waiting atomic.Bool   // waiting for a message from NATS
	// more: the last message taken said the stream held more for the
	// consumer (its pending count): a wait is delivery catching up, not
	// the end of a burst.
	more atomic.Bool
}

// stuckTicks is how many FlushIdle ticks the pull loop may wait while the
// stream holds more before the flusher sends what it has anyway (the
// consumer at MaxAckPending, delivery stalled).
const stuckTicks = 5

// flushWhenIdle flushes bi when, at a FlushIdle tick, the pull loop is
// waiting for NATS, has added nothing since the previous tick but something
// since the last flush, and either took the last message the stream held
// (or could not tell) or has been waiting stuckTicks ticks; until stop is
// closed. A pull loop held up by the bulk indexer itself (every worker
// busy, queues full) is not idle, nor one waiting for a delivery that is
// on its way (a busy machine): flushing then would only cut the requests
// short.
func (a *Auditor) flushWhenIdle(p *progress, bi *writers, stop <-chan struct{}) {
	tick := time.NewTicker(a.cfg.FlushIdle)
	defer tick.Stop()
	var last, flushed uint64
	idle := 0 // ticks without progress
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			n := p.added.Load()
			if n != last || !p.waiting.Load() {
				idle = 0
			} else {
				idle++
			}
			last = n
			if idle > 0 && n != flushed && (!p.more.Load() || idle >= stuckTicks) {
				flushed = n
				if err := bi.flush(context.Background()); err != nil {
					a.log.Debug("audit_flush_error", "error", err)
				}
			}
		}
	}
}

// setup makes what Run needs: the dead-letter stream, the index template
// and the durable consumer. Each step is idempotent: every auditor process
// runs it at start.
func (a *Auditor) setup(ctx context.Context) error {
	if err := a.ensureDeadLetterStream(ctx); err != nil {
		return err
	}
	if err := a.installTemplate(ctx); err != nil {
		return err
	}
	_, err := a.ensureConsumer(ctx)
	return err
}

// ensureDeadLetterStream creates the dead-letter stream, or adds the
// dead-letter subject to it when it exists without it. An existing stream's
// other settings (limits an operator chose) are left alone.
func (a *Auditor) ensureDeadLetterStream(ctx context.Context) error {
	s, err := a.cfg.JS.Stream(ctx, DeadLetterStream)
	if err == nil {
		cfg := s.CachedInfo().Config
		if slices.Contains(cfg.Subjects, a.cfg.DeadLetterSubject) {
			return nil
		}
		cfg.Subjects = append(cfg.Subjects, a.cfg.DeadLetterSubject)
		if _, err := a.cfg.JS.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("add %s to stream %s: %w", a.cfg.DeadLetterSubject, DeadLetterStream, err)
		}
		return nil
	}
	if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("look up stream %s: %w", DeadLetterStream, err)
	}
	replicas := 1
	if auth, err := a.cfg.JS.Stream(ctx, events.StreamAuth); err == nil {
		replicas = auth.CachedInfo().Config.Replicas
	}
	_, err = a.cfg.JS.CreateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "Portcullis audit events Elasticsearch rejected for good, with the reason. Kept until an operator removes them.",
		Subjects:    []string{a.cfg.DeadLetterSubject},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Retention:   jetstream.LimitsPolicy,
		Duplicates:  2 * time.Minute,
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another auditor won the race
		return fmt.Errorf("create stream %s: %w", DeadLetterStream, err)
	}
	return nil
}

func (a *Auditor) installTemplate(ctx context.Context) error {
	res, err := esapi.IndicesPutIndexTemplateRequest{
		Name: a.tmplKey,
		Body: bytes.NewReader(a.tmpl),
	}.Do(ctx, a.cfg.ES)
	if err != nil {
		return fmt.Errorf("install index template %s: %w", a.tmplKey, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 1024))
		return fmt.Errorf("install index template %s: %s: %s", a.tmplKey, res.Status(), body)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	return nil
}

func (a *Auditor) ensureConsumer(ctx context.Context) (jetstream.Consumer, error) {
	c, err := a.cfg.JS.CreateOrUpdateConsumer(ctx, events.StreamAuth, jetstream.ConsumerConfig{
		Durable:        a.cfg.Durable,
		Description:    "Portcullis auditor: audited outcomes to Elasticsearch",
		FilterSubjects: a.filter,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        a.cfg.AckWait,
		// Never drop an event for having been tried too often: an outage
		// of any length only delays the audit trail.
		MaxDeliver:    -1,
		MaxAckPending: a.cfg.maxAckPending(),
	})
	if err != nil {
		return nil, fmt.Errorf("ensure consumer %s on %s: %w", a.cfg.Durable, events.StreamAuth, err)
	}
	return c, nil
}

// until runs step until it succeeds or ctx ends, backing off in between.
func (a *Auditor) until(ctx context.Context, msg string, step func(context.Context) error) error {
	delay := initialBackoff
	for {
		err := step(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		a.log.ErrorContext(ctx, msg, "error", err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return ctx.Err()
		}
		delay = min(2*delay, a.cfg.MaxBackoff)
	}
}

// consumeLoop pulls messages until ctx ends or the NATS connection closes,
// re-creating the consumer when the server ends a subscription (consumer
// deleted, leadership change).
func (a *Auditor) consumeLoop(ctx context.Context, bi *writers, p *progress) error {
	for {
		var cons jetstream.Consumer
		err := a.until(ctx, "audit_consumer_failed", func(ctx context.Context) error {
			var err error
			cons, err = a.ensureConsumer(ctx)
			return err
		})
		if err != nil {
			return nil // ctx ended
		}
		err = a.consume(ctx, cons, bi, p)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, jetstream.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionClosed) || a.cfg.JS.Conn().IsClosed() {
			return fmt.Errorf("auditor: consume %s: %w", events.StreamAuth, err)
		}
		a.log.WarnContext(ctx, "audit_consume_restart", "error", err)
		if !sleep(ctx, initialBackoff) {
			return nil
		}
	}
}

// consume is one subscription's life: pull, turn each message into a bulk
// item, and on ctx's end hand back what was pulled but not started on.
func (a *Auditor) consume(ctx context.Context, cons jetstream.Consumer, bi *writers, p *progress) error {
	it, err := cons.Messages(
		jetstream.PullMaxMessages(a.cfg.BatchSize),
		jetstream.WithMessagesErrOnMissingHeartbeat(false),
	)
	if err != nil {
		return fmt.Errorf("pull from %s: %w", events.StreamAuth, err)
	}
	defer it.Stop()
	var st loopState
	for {
		if ctx.Err() != nil {
			a.handBack(it)
			return nil
		}
		p.waiting.Store(true)
		msg, err := it.Next(jetstream.NextContext(ctx))
		p.waiting.Store(false)
		if err != nil {
			if ctx.Err() != nil {
				a.handBack(it)
				return nil
			}
			return err
		}
		if !a.hold(ctx) {
			_ = msg.Nak()
			a.handBack(it)
			return nil
		}
		a.handle(ctx, bi, &st, msg)
		p.added.Add(1)
		pos := streamPos(msg.Reply())
		p.more.Store(pos == posMore)
		if pos == posLast {
			bi.drained(time.Now())
		}
	}
}

// handBack stops the subscription and gives the messages it had buffered
// back to NATS at once (Nak), so another auditor takes them without waiting
// for AckWait.
func (a *Auditor) handBack(it jetstream.MessagesContext) {
	it.Drain()
	for {
		msg, err := it.Next(jetstream.NextMaxWait(500 * time.Millisecond))
		if err != nil {
			return
		}
		_ = msg.Nak()
	}
}

// hold waits while the auditor is backing off from Elasticsearch failures;
// false when ctx ended meanwhile.
func (a *Auditor) hold(ctx context.Context) bool {
	for {
		d := a.retry.hold(a.now())
		if d <= 0 {
			return true
		}
		if !sleep(ctx, d) {
			return false
		}
	}
}

// loopState is what the pull loop reuses from one message to the next.
type loopState struct {
	dec decoder
	// The index of the last event's day, and the day's bounds.
	dayStart, dayEnd time.Time
	index            string
}

// indexOf returns IndexName(prefix, t), computed once per day.
func (st *loopState) indexOf(prefix string, t time.Time) string {
	if st.index == "" || t.Before(st.dayStart) || !t.Before(st.dayEnd) {
		u := t.UTC()
		st.dayStart = time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
		st.dayEnd = st.dayStart.AddDate(0, 0, 1)
		st.index = IndexName(prefix, u)
	}
	return st.index
}

// handle turns each event of a message (one, or several packed one per
// line: events.SplitEvents) into a bulk item whose callbacks settle it only
// once Elasticsearch has answered for it; the message is acknowledged once
// all its events are settled. An event that cannot become a document goes
// to the dead-letter subject.
func (a *Auditor) handle(ctx context.Context, bi *writers, st *loopState, msg jetstream.Msg) {
	data := msg.Data()
	if bytes.IndexByte(data, '\n') < 0 {
		a.handleEvent(ctx, bi, st, msgRef{msg: msg, event: data})
		return
	}
	n := events.CountEvents(data)
	if n == 0 {
		a.deadLetter(msgRef{msg: msg, event: data}, deadLetterInfo{Reason: "undecodable event: no event in the message"})
		return
	}
	pk := &packed{msg: msg, left: n}
	i := 0
	for line := range events.SplitEvents(data) {
		if !a.handleEvent(ctx, bi, st, msgRef{msg: msg, event: line, pk: pk, index: i, of: n}) {
			// ctx ended: this event and the rest go back with the message.
			for range n - i {
				pk.settle(a, true, 0)
			}
			return
		}
		i++
	}
}

// handleEvent makes ref's event a bulk item, or a dead letter; false when
// ctx ended before the item was taken (the event is not settled).
func (a *Auditor) handleEvent(ctx context.Context, bi *writers, st *loopState, ref msgRef) bool {
	var ev events.Event
	var o events.AuthOutcome
	fast := st.dec.decode(ref.event, &ev, &o)
	if fast {
		// The decoder's strings live until its next message; the id
		// outlives this one (callbacks, logs).
		ev.ID = strings.Clone(ev.ID)
	} else {
		// The reference path: what the fast decoder does not take, and
		// the reasons of the dead letters.
		var err error
		if ev, err = events.Decode(ref.event); err != nil {
			a.deadLetter(ref, deadLetterInfo{Reason: "undecodable event: " + err.Error()})
			return true
		}
	}
	if actionOfType(ev.Type) == "" || !strings.HasSuffix(ev.Type, ".v1") {
		a.deadLetter(ref, deadLetterInfo{Reason: "unknown event type " + ev.Type, EventID: ev.ID})
		return true
	}
	if !fast {
		var err error
		if o, err = decodeData(ev); err != nil {
			a.deadLetter(ref, deadLetterInfo{Reason: err.Error(), EventID: ev.ID})
			return true
		}
	}
	pd := docPool.Get().(*pendingDoc)
	doc, err := appendDocument(pd.buf[:0], ev, o)
	if err != nil {
		docPool.Put(pd)
		a.deadLetter(ref, deadLetterInfo{Reason: err.Error(), EventID: ev.ID})
		return true
	}
	pd.buf = doc
	pd.Reset(doc)
	pd.a, pd.ref, pd.id = a, ref, ev.ID
	pd.index = st.indexOf(a.cfg.IndexPrefix, ev.Time)
	pd.done.Store(false)
	item := esutil.BulkIndexerItem{
		Index: pd.index,
		// create, not index: a redelivered event meets its own document
		// and gets 409 instead of rewriting it. 409 counts as written.
		Action:     "create",
		DocumentID: pd.id,
		Body:       pd,
		OnSuccess:  docWritten,
		OnFailure:  docFailed,
	}
	if err := bi.add(ctx, item, len(doc)); err != nil {
		// Only when ctx ended while every worker queue was full: the item
		// was not taken, NATS gets the message back.
		pd.release()
		if ref.pk == nil {
			_ = ref.msg.Nak()
		}
		return false
	}
	return true
}

// msgRef is an event and the message it came in.
type msgRef struct {
	msg   jetstream.Msg
	event []byte  // the event's encoding (the message's data, or one line of it)
	pk    *packed // nil: the message's only event
	index int     // with pk: the event's place in the message
	of    int     // with pk: the number of events in the message
}

// packed is the common fate of the events of one message: acknowledged
// once all are written or dead-lettered, redelivered (after the longest of
// their delays) if any is to be retried; a redelivery's events already
// written meet 409.
type packed struct {
	msg   jetstream.Msg
	mu    sync.Mutex
	left  int // events not settled yet
	retry bool
	delay time.Duration
}

// settle records the fate of one event of pk's message, and acts on the
// message once the last one is known.
func (pk *packed) settle(a *Auditor, retry bool, delay time.Duration) {
	pk.mu.Lock()
	if retry {
		pk.retry, pk.delay = true, max(pk.delay, delay)
	}
	pk.left--
	last := pk.left == 0
	retry, delay = pk.retry, pk.delay
	pk.mu.Unlock()
	if !last {
		return
	}
	if retry {
		if err := pk.msg.NakWithDelay(delay); err != nil {
			a.log.Debug("audit_nak_failed", "error", err)
		}
		return
	}
	if err := pk.msg.Ack(); err != nil {
		a.log.Debug("audit_ack_failed", "error", err)
	}
}

// ack settles ref's event as done: written, or dead-lettered.
func (a *Auditor) ack(ref msgRef) {
	if ref.pk != nil {
		ref.pk.settle(a, false, 0)
		return
	}
	if err := ref.msg.Ack(); err != nil {
		// The message will be redelivered and meet a 409: no loss, no
		// duplicate.
		a.log.Debug("audit_ack_failed", "error", err)
	}
}

// nak settles ref's event as to be tried again after d.
func (a *Auditor) nak(ref msgRef, d time.Duration) {
	if ref.pk != nil {
		ref.pk.settle(a, true, d)
		return
	}
	if err := ref.msg.NakWithDelay(d); err != nil {
		a.log.Debug("audit_nak_failed", "error", err)
	}
}

// decodeData is ev.DecodeData into an outcome of its own, so that the
// caller's stays off the heap (it escapes into encoding/json).
func decodeData(ev events.Event) (events.AuthOutcome, error) {
	var o events.AuthOutcome
	err := ev.DecodeData(&o)
	return o, err
}

// pendingDoc is a document on its way to Elasticsearch: its bytes, the
// reader the bulk indexer copies them from into its request (the item's
// Body), and what its callbacks need, so that they are plain functions
// rather than two closures per document. It is reused: a bulk indexer item
// gets one callback, after its request, by which time the bytes were
// copied long ago.
type pendingDoc struct {
	bytes.Reader
	buf       []byte
	a         *Auditor
	ref       msgRef
	id, index string
	done      atomic.Bool // released: a second release (never expected) is ignored
}

// docSizeHint is the capacity a document starts with: most fit. A buffer
// that grew past maxPooledDoc is left to the garbage collector.
const (
	docSizeHint  = 1536
	maxPooledDoc = 64 << 10
)

var docPool = sync.Pool{New: func() any { return &pendingDoc{buf: make([]byte, 0, docSizeHint)} }}

// release returns pd to the pool, once.
func (pd *pendingDoc) release() {
	if pd.done.Swap(true) || cap(pd.buf) > maxPooledDoc {
		return
	}
	pd.Reset(nil)
	pd.a, pd.ref = nil, msgRef{}
	docPool.Put(pd)
}

// docWritten is the OnSuccess of every item: Elasticsearch created the
// document.
func docWritten(_ context.Context, item esutil.BulkIndexerItem, _ esutil.BulkIndexerResponseItem) {
	pd := item.Body.(*pendingDoc)
	a, ref := pd.a, pd.ref
	pd.release()
	a.indexed.Add(1)
	a.written(ref)
}

// docFailed is the OnFailure of every item.
func docFailed(_ context.Context, item esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
	pd := item.Body.(*pendingDoc)
	a, ref, id, index := pd.a, pd.ref, pd.id, pd.index
	pd.release()
	a.failed(ref, id, index, res, err)
}

// written settles an event whose document Elasticsearch confirmed.
func (a *Auditor) written(ref msgRef) {
	if a.retry.success() {
		a.log.Info("audit_elasticsearch_recovered")
	}
	a.ack(ref)
}

// failed decides the fate of a document Elasticsearch did not create.
func (a *Auditor) failed(ref msgRef, id, index string, res esutil.BulkIndexerResponseItem, err error) {
	switch {
	case err != nil:
		a.later(ref, err.Error())
	case res.Status == 409:
		// Already written by an earlier delivery.
		a.duplicates.Add(1)
		a.written(ref)
	case permanent(res.Status):
		a.deadLetter(ref, deadLetterInfo{
			Reason:    esReason(res),
			Status:    res.Status,
			ErrorType: res.Error.Type,
			EventID:   id,
			Index:     index,
		})
	default:
		a.later(ref, fmt.Sprintf("%d %s", res.Status, esReason(res)))
	}
}

// permanent reports whether an item status means the document will never
// be accepted as it is: 400 (mapping or parse error, illegal argument), 413
// (too large), 422. Everything else is retried: 429 and 5xx are load or
// outage, and 401, 403 and 404 are configuration (credentials, privileges,
// index creation) that an operator fixes — dead-lettering every event
// meanwhile would empty the audit trail.
func permanent(status int) bool {
	return status == 400 || status == 413 || status == 422
}

func esReason(res esutil.BulkIndexerResponseItem) string {
	r := res.Error.Type + ": " + res.Error.Reason
	if res.Error.Cause.Type != "" {
		r += " (caused by " + res.Error.Cause.Type + ": " + res.Error.Cause.Reason + ")"
	}
	return r
}

// later hands an event back to NATS (with its message) for redelivery
// after the current backoff delay.
func (a *Auditor) later(ref msgRef, reason string) {
	d, first := a.retry.failure(a.now())
	if first {
		a.log.Warn("audit_elasticsearch_unavailable", "reason", reason, "retry_in", d)
	}
	a.retried.Add(1)
	a.nak(ref, d)
}

type flushCancelKey struct{}

// flushStart bounds every bulk request by RequestTimeout: the bulk indexer
// runs its requests on a background context, and a hung Elasticsearch must
// count as down, not block a worker for ever.
func (a *Auditor) flushStart(ctx context.Context) context.Context {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.RequestTimeout)
	return context.WithValue(ctx, flushCancelKey{}, cancel)
}

func flushEnd(ctx context.Context) {
	if cancel, ok := ctx.Value(flushCancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
