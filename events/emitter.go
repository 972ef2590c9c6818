package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// EmitterConfig configures the asynchronous outcome publisher.
type EmitterConfig struct {
	// JS is the JetStream context to publish with. Required.
	JS jetstream.JetStream
	// Source is the CloudEvents source of every event (the node id).
	// Required.
	Source string
	// QueueSize bounds the outcomes waiting to be published. Default 65536.
	QueueSize int
	// Batch is how many outcomes a round of publishing takes at most.
	// Default 512.
	Batch int
	// Linger is how long a round waits for more outcomes when fewer than
	// Batch are queued, so that a round publishes several (packed into
	// fewer messages, see Emitter) rather than one. It delays when an
	// outcome reaches the stream, never a request. Default 1ms; negative:
	// no wait.
	Linger time.Duration
	// AckTimeout is how long a published outcome waits for its JetStream
	// acknowledgement before it is published again (a lost ack: a leader
	// change). Default 10s.
	AckTimeout time.Duration
	// Logger; default slog.Default().
	Logger *slog.Logger

	// SpoolDir, when set, is the directory of the disk spool that takes
	// the outcomes NATS cannot: those Emit finds no room for in the queue,
	// and the batches Run could not publish for SpoolAfter. Run drains it,
	// oldest first, whenever NATS acknowledges again, and on start. Empty:
	// no spool (a full queue fails Emit; a flush at shutdown that times out
	// loses what is left, logged).
	SpoolDir string
	// SpoolMaxBytes bounds the spool's files; when it is full Emit fails
	// (ErrEmitterFull). Default 1 GiB.
	SpoolMaxBytes int64
	// SpoolSegmentBytes is the size at which a spool file is closed and
	// the next one started. Default 16 MiB.
	SpoolSegmentBytes int64
	// SpoolAfter is how long a batch may fail to be published before it
	// is spooled (a round waiting for acks lasts up to AckTimeout). Once a
	// batch is spooled, the next ones go to the spool at once until NATS
	// acknowledges again (probed every second). Default 5s.
	SpoolAfter time.Duration
}

// Emitter publishes auth outcomes to the AUTH stream off the request path:
// Emit only encodes and enqueues; Run publishes in pipelined batches and
// retries what NATS did not acknowledge. A round packs its outcomes of one
// action into one message, up to MaxPackBytes: the events one per line, in
// the order they were emitted, header Portcullis-Events their number,
// Nats-Msg-Id the first one's id (see SplitEvents). A message is made once
// and retried, spooled and published from the spool whole, so a retry is
// never stored twice within the stream's duplicate window. With
// a spool (EmitterConfig.SpoolDir), what NATS cannot take goes to local disk
// and is published from there once NATS is back; when the queue is full
// and there is no spool, or the spool is full too, Emit fails and the
// caller denies: nothing is dropped silently.
//
// Run publishes as JetStream's asynchronous publisher does (a core NATS
// publish with a reply subject, the stream's acknowledgement on it), with
// its own reply subscription so that a publish allocates next to nothing:
// the message and its header are reused, the encoded event goes back to a
// pool once acknowledged, and one timer serves a batch.
type Emitter struct {
	cfg     EmitterConfig
	queue   chan outgoing
	dropped atomic.Uint64
	sent    atomic.Uint64
	spool   *spool // nil without SpoolDir
	packMax int    // the bound of a message's events: MaxPackBytes, or less for the spool's records or the server's max_payload
}

type outgoing struct {
	subject string
	id      string  // the Nats-Msg-Id: the (first) event's id
	buf     *[]byte // the encoded events, one per line, from bufPool
	n       int     // the number of events in buf
}

// bufPool holds the buffers of encoded events, returned once NATS
// acknowledged them (NATS copies a message as it is published).
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooledBuf is the largest buffer returned to bufPool.
const maxPooledBuf = 64 << 10

func releaseBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		*b = (*b)[:0]
		bufPool.Put(b)
	}
}

// NewEmitter validates cfg and returns an Emitter; call Run to publish.
func NewEmitter(cfg EmitterConfig) (*Emitter, error) {
	if cfg.JS == nil {
		return nil, fmt.Errorf("emitter: JS is required")
	}
	if cfg.Source == "" {
		return nil, fmt.Errorf("emitter: Source is required")
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1 << 16
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 512
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = 10 * time.Second
	}
	if cfg.Linger == 0 {
		cfg.Linger = time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.SpoolMaxBytes <= 0 {
		cfg.SpoolMaxBytes = 1 << 30
	}
	if cfg.SpoolSegmentBytes <= 0 {
		cfg.SpoolSegmentBytes = 16 << 20
	}
	if cfg.SpoolAfter <= 0 {
		cfg.SpoolAfter = 5 * time.Second
	}
	e := &Emitter{cfg: cfg, queue: make(chan outgoing, cfg.QueueSize), packMax: MaxPackBytes}
	if cfg.SpoolDir != "" {
		var err error
		if e.spool, err = openSpool(cfg.SpoolDir, cfg.SpoolMaxBytes, cfg.SpoolSegmentBytes, cfg.Logger); err != nil {
			return nil, fmt.Errorf("emitter: %w", err)
		}
		// A record's body holds the subject and id (up to 255 bytes each,
		// with their lengths) besides the events.
		e.packMax = min(e.packMax, e.spool.maxBody()-2-2*maxSpoolField)
	}
	return e, nil
}

// Emit enqueues an outcome for publication on portcullis.auth.<action>, or
// when the queue is full writes it to the spool. It never waits for NATS;
// ErrEmitterFull means the outcome could not be recorded.
func (e *Emitter) Emit(now time.Time, o AuthOutcome) error {
	typ, subject := authNames(o.Action)
	id := NewID(now)
	buf := bufPool.Get().(*[]byte)
	b, ok := appendAuthEvent((*buf)[:0], e.cfg.Source, id, typ, now.UTC().Truncate(time.Millisecond), &o)
	*buf = b
	if !ok {
		// A time json.Marshal refuses: its error.
		bufPool.Put(buf)
		var err error
		if buf, err = e.encodeSlow(now, id, typ, &o); err != nil {
			return err
		}
	}
	select {
	case e.queue <- outgoing{subject: subject, id: id, buf: buf, n: 1}:
		return nil
	default:
	}
	if e.spool != nil {
		err := e.spool.appendOne(subject, id, *buf)
		releaseBuf(buf)
		if err == nil {
			return nil
		}
		e.dropped.Add(1)
		return fmt.Errorf("%w: %w", ErrEmitterFull, err)
	}
	releaseBuf(buf)
	e.dropped.Add(1)
	return ErrEmitterFull
}

// encodeSlow encodes with New and Encode, for their errors.
func (e *Emitter) encodeSlow(now time.Time, id, typ string, o *AuthOutcome) (*[]byte, error) {
	ev, err := New(e.cfg.Source, typ, o.RequestID, now, *o)
	if err != nil {
		return nil, err
	}
	ev.ID = id
	b, err := ev.Encode()
	if err != nil {
		return nil, err
	}
	return &b, nil
}

// Close syncs and closes the spool's file and releases its directory; Run
// does when it returns. For an Emitter whose Run is never called.
func (e *Emitter) Close() error {
	if e.spool == nil {
		return nil
	}
	return e.spool.close()
}

// Pending is the number of outcomes queued and not yet acknowledged by NATS.
func (e *Emitter) Pending() int { return len(e.queue) }

// Published is the number of outcomes NATS acknowledged, those published
// from the spool included.
func (e *Emitter) Published() uint64 { return e.sent.Load() }

// Spooled is the number of outcomes written to the spool since the
// Emitter was made (0 without a spool).
func (e *Emitter) Spooled() uint64 {
	if e.spool == nil {
		return 0
	}
	return e.spool.written.Load()
}

// SpoolBytes is the size of the spool's files: outcomes waiting on disk to
// be published (0 without a spool, or when it is empty).
func (e *Emitter) SpoolBytes() int64 {
	if e.spool == nil {
		return 0
	}
	return e.spool.size.Load()
}

// spoolProbe is how often, during an outage, Run tries NATS again with the
// spool's oldest records.
const spoolProbe = time.Second

// flushTimeout bounds the flush at shutdown.
const flushTimeout = 5 * time.Second

// Run publishes queued outcomes, and drains the spool, until ctx is done;
// then flushes what is queued for up to five seconds (publishing on a
// context the caller's cancellation does not cut short), spooling what is
// left.
func (e *Emitter) Run(ctx context.Context) error {
	p, err := newPublisher(e.cfg.JS.Conn(), e.cfg.Batch, e.cfg.AckTimeout)
	if err != nil {
		return err
	}
	if mp := p.nc.MaxPayload(); mp > 0 {
		// The server's bound on a message (max_payload, 1 MiB by
		// default), less room for the header.
		e.packMax = min(e.packMax, int(mp)-maxHeaderBytes)
	}
	defer p.close()
	defer func() {
		if err := e.Close(); err != nil {
			e.cfg.Logger.Error("auth_spool_close_failed", "error", err)
		}
	}()
	// outage: a batch was spooled because NATS did not take it; the next
	// ones go to the spool until the spool's drain is acknowledged.
	outage := false
	var d drainer
	var lastProbe time.Time
	batch := make([]outgoing, 0, e.cfg.Batch)
	var msgs []outgoing // batch packed
	var linger *time.Timer
	if e.cfg.Linger > 0 {
		linger = time.NewTimer(e.cfg.Linger)
		linger.Stop()
		defer linger.Stop()
	}
	for {
		if ctx.Err() != nil {
			return e.shutdown(ctx, p, batch, outage)
		}
		worked := len(batch) > 0
		batch = e.fill(batch)
		worked = worked || len(batch) > 0
		if len(batch) > 0 && len(batch) < cap(batch) && linger != nil {
			e.linger(ctx, linger)
			batch = e.fill(batch)
		}
		if len(batch) > 0 {
			msgs = pack(batch, msgs[:0], e.packMax)
			clear(batch)
			batch = batch[:0]
			if err := e.deliver(ctx, p, msgs, &outage); err != nil {
				// ctx ended while NATS was failing; keep the messages for the flush.
				return e.shutdown(ctx, p, msgs, outage)
			}
			clear(msgs)
		}
		// During an outage, probe NATS with the spool's oldest records
		// now and then, when connected (a probe seals the segment being
		// written if it is the only one).
		if e.spool != nil && (!outage || time.Since(lastProbe) >= spoolProbe && p.nc.IsConnected()) {
			lastProbe = time.Now()
			progressed, failed := e.drainStep(ctx, p, &d)
			switch {
			case failed:
				outage = true
			case progressed:
				outage = false
				worked = true
			}
		}
		if worked {
			continue
		}
		var wake *time.Timer
		var wakeC <-chan time.Time
		if e.spool != nil && (d.loaded || !e.spool.empty()) {
			wake = time.NewTimer(spoolProbe)
			wakeC = wake.C
		}
		select {
		case <-ctx.Done():
		case o := <-e.queue:
			batch = append(batch, o)
		case <-wakeC:
		}
		if wake != nil {
			wake.Stop()
		}
	}
}

// fill appends to batch what is queued, up to its capacity, without
// waiting.
func (e *Emitter) fill(batch []outgoing) []outgoing {
	for len(batch) < cap(batch) {
		select {
		case o := <-e.queue:
			batch = append(batch, o)
		default:
			return batch
		}
	}
	return batch
}

// linger waits Linger (or until ctx ends) for more outcomes to be queued.
// It sleeps rather than receives: an outcome queued meanwhile wakes no one,
// so a request's Emit costs no switch to this goroutine.
func (e *Emitter) linger(ctx context.Context, t *time.Timer) {
	t.Reset(e.cfg.Linger)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
	}
}

// MaxPackBytes bounds the events of one AUTH message (an event larger than
// this is a message of its own), and less with a spool whose records are
// smaller (a message is spooled whole) or a server whose max_payload is.
const MaxPackBytes = 64 << 10

// maxHeaderBytes is room for an AUTH message's header (Nats-Msg-Id,
// Portcullis-Events).
const maxHeaderBytes = 1 << 10

// pack appends to msgs the messages of batch's outcomes: those of one
// subject, in order, packed one per line up to max bytes. The first
// outcome of a message lends it its buffer and id; the others' buffers go
// back to the pool.
func pack(batch, msgs []outgoing, max int) []outgoing {
	start := len(msgs)
	for _, o := range batch {
		i := len(msgs) - 1
		for ; i >= start && msgs[i].subject != o.subject; i-- {
		}
		if i < start || len(*msgs[i].buf)+1+len(*o.buf) > max {
			msgs = append(msgs, o)
			continue
		}
		m := &msgs[i]
		b := append(*m.buf, '\n')
		*m.buf = append(b, *o.buf...)
		m.n += o.n
		releaseBuf(o.buf)
	}
	return msgs
}

// shutdown flushes msgs and the queue within flushTimeout, spooling what
// cannot be published.
func (e *Emitter) shutdown(ctx context.Context, p *publisher, msgs []outgoing, outage bool) error {
	flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	batch := make([]outgoing, 0, e.cfg.Batch)
	for {
		if len(msgs) == 0 {
			batch = e.fill(batch)
			msgs = pack(batch, msgs, e.packMax)
			clear(batch)
			batch = batch[:0]
		}
		if len(msgs) == 0 {
			return nil
		}
		err := e.deliver(flushCtx, p, msgs, &outage)
		if err != nil && e.spool != nil {
			if err = e.spool.appendBatch(msgs); err == nil {
				for _, o := range msgs {
					releaseBuf(o.buf)
				}
				outage = true // the rest goes to the spool at once
			}
		}
		if err != nil {
			n := events(msgs) + len(e.queue)
			e.cfg.Logger.ErrorContext(ctx, "auth_outcomes_unpublished", "count", n, "error", err)
			return fmt.Errorf("flush auth outcomes: %d unpublished: %w", n, err)
		}
		clear(msgs)
		msgs = msgs[:0]
	}
}

// events is the number of events in msgs.
func events(msgs []outgoing) int {
	n := 0
	for _, o := range msgs {
		n += o.n
	}
	return n
}

// deliver publishes batch, retrying the failed ones with backoff until
// they are acknowledged or ctx ends. With a spool, during an outage the
// batch goes to the spool at once, and a batch not acknowledged within
// SpoolAfter goes to it then (and starts an outage). On success the
// buffers go back to the pool; on an error, the batch is as it was.
func (e *Emitter) deliver(ctx context.Context, p *publisher, batch []outgoing, outage *bool) error {
	if *outage {
		if err := e.spool.appendBatch(batch); err == nil {
			for _, o := range batch {
				releaseBuf(o.buf)
			}
			return nil
		}
		// The spool is full or failing (appendBatch logged it): keep
		// trying NATS; the queue fills and Emit fails meanwhile.
	}
	start := time.Now()
	backoff := 50 * time.Millisecond
	todo := batch
	var failed []outgoing
	for {
		var lastErr error
		failed, lastErr = p.publish(ctx, todo, failed[:0])
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e.sent.Add(uint64(events(todo) - events(failed)))
		if len(failed) == 0 {
			for _, o := range batch {
				releaseBuf(o.buf)
			}
			*outage = false
			return nil
		}
		if e.spool != nil && time.Since(start) >= e.cfg.SpoolAfter {
			if err := e.spool.appendBatch(failed); err == nil {
				if !*outage {
					e.cfg.Logger.WarnContext(ctx, "auth_outcomes_nats_unavailable", "spooling", events(failed), "error", lastErr)
				}
				for _, o := range batch {
					releaseBuf(o.buf)
				}
				*outage = true
				return nil
			}
		}
		e.cfg.Logger.WarnContext(ctx, "auth_outcome_publish_retry", "count", events(failed), "error", lastErr)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		// failed may share todo's array: copy it out before it is reused.
		todo = append([]outgoing(nil), failed...)
	}
}

// drainer is Run's progress through the spool: the oldest segment's
// records not yet acknowledged.
type drainer struct {
	loaded  bool
	seg     uint64
	recs    []spoolRecord // not yet taken into pending
	pending []outgoing    // published, not yet acknowledged
	failed  []outgoing
}

// drainStep publishes one batch of the spool's oldest records (once), and
// deletes the segment once all of it is acknowledged. progressed: some
// records were acknowledged or a segment deleted; failed: NATS did not
// acknowledge them all.
func (e *Emitter) drainStep(ctx context.Context, p *publisher, d *drainer) (progressed, failed bool) {
	if !d.loaded {
		n, ok, err := e.spool.oldest()
		if err != nil {
			e.cfg.Logger.ErrorContext(ctx, "auth_spool_seal_failed", "error", err)
		}
		if !ok {
			return false, false
		}
		recs, err := e.spool.read(n)
		if err != nil {
			e.cfg.Logger.ErrorContext(ctx, "auth_spool_read_failed", "error", err)
			return false, false
		}
		d.loaded, d.seg, d.recs, d.pending = true, n, recs, d.pending[:0]
	}
	if len(d.pending) == 0 {
		k := min(len(d.recs), e.cfg.Batch)
		for i := range d.recs[:k] {
			r := &d.recs[i]
			d.pending = append(d.pending, outgoing{subject: r.subject, id: r.id, buf: &r.data, n: CountEvents(r.data)})
		}
		d.recs = d.recs[k:]
	}
	if len(d.pending) == 0 {
		if err := e.spool.remove(d.seg); err != nil {
			e.cfg.Logger.ErrorContext(ctx, "auth_spool_remove_failed", "error", err)
			return false, false
		}
		*d = drainer{pending: d.pending, failed: d.failed}
		return true, false
	}
	var err error
	d.failed, err = p.publish(ctx, d.pending, d.failed[:0])
	acked := len(d.pending) - len(d.failed)
	e.sent.Add(uint64(events(d.pending) - events(d.failed)))
	d.pending = append(d.pending[:0], d.failed...)
	if len(d.failed) > 0 && ctx.Err() == nil {
		e.cfg.Logger.DebugContext(ctx, "auth_spool_drain_retry", "count", events(d.failed), "error", err)
	}
	return acked > 0, len(d.failed) > 0
}

// publisher publishes to JetStream and collects the acknowledgements on
// its own reply subscription, prefix + a token per publish. A token is
// never reused, so that a late ack of a publish given up on (timed out,
// or cut by a reconnection) is ignored rather than taken for another's.
type publisher struct {
	nc      *nats.Conn
	prefix  string
	sub     *nats.Subscription
	status  chan nats.Status
	timeout time.Duration
	msgs    []nats.Msg // one per slot of a batch, header included

	mu      sync.Mutex
	waiting map[uint64]slot // token → the publish it acknowledges
	next    uint64          // the next token
	gen     uint64          // the current round of publish

	results chan ackResult
}

type slot struct {
	gen uint64
	i   int
}

type ackResult struct {
	slot
	err error
}

func newPublisher(nc *nats.Conn, batch int, timeout time.Duration) (*publisher, error) {
	p := &publisher{
		nc:      nc,
		prefix:  nc.NewInbox() + ".",
		timeout: timeout,
		msgs:    make([]nats.Msg, batch),
		waiting: make(map[uint64]slot, batch),
		// The handler sends one result per waiting entry it removes; a
		// round waits for all of its own, and at most one entry removed
		// before a round gave up is sent after it.
		results: make(chan ackResult, 2*batch+1),
	}
	for i := range p.msgs {
		p.msgs[i].Header = newHeader()
	}
	sub, err := nc.Subscribe(p.prefix+"*", p.handle)
	if err != nil {
		return nil, fmt.Errorf("emitter: subscribe to acks: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("emitter: acks subscription: %w", err)
	}
	p.sub = sub
	p.status = nc.StatusChanged(nats.RECONNECTING, nats.CLOSED)
	return p, nil
}

// newHeader is a publish's header, its values set per message.
func newHeader() nats.Header {
	return nats.Header{jetstream.MsgIDHeader: []string{""}, HeaderEvents: []string{""}}
}

func (p *publisher) close() {
	p.nc.RemoveStatusListener(p.status)
	_ = p.sub.Unsubscribe()
}

// handle takes an acknowledgement.
func (p *publisher) handle(m *nats.Msg) {
	tok, err := strconv.ParseUint(m.Subject[len(p.prefix):], 36, 64)
	if err != nil {
		return
	}
	p.mu.Lock()
	s, ok := p.waiting[tok]
	delete(p.waiting, tok)
	p.mu.Unlock()
	if ok {
		p.results <- ackResult{s, ackError(m)}
	}
}

// ackError is nil for a JetStream acknowledgement of a stored message (or
// of a duplicate), else why the message is not known stored, as
// JetStream's publisher reports it.
func ackError(m *nats.Msg) error {
	d := m.Data
	if len(d) == 0 && m.Header.Get("Status") == "503" {
		return jetstream.ErrNoStreamResponse
	}
	const ackPrefix = `{"stream":"`
	if bytes.HasPrefix(d, []byte(ackPrefix)) && len(d) > len(ackPrefix) && d[len(ackPrefix)] != '"' &&
		!bytes.Contains(d, []byte(`"error"`)) && json.Valid(d) {
		return nil // what the server writes: {"stream":"NAME","seq":N[,"duplicate": true]}
	}
	var ack struct {
		Error  *jetstream.APIError `json:"error"`
		Stream string              `json:"stream"`
	}
	if err := json.Unmarshal(d, &ack); err != nil {
		return jetstream.ErrInvalidJSAck
	}
	if ack.Error != nil {
		return ack.Error
	}
	if ack.Stream == "" {
		return jetstream.ErrInvalidJSAck
	}
	return nil
}

// publish publishes todo (at most one batch) and waits until each is
// acknowledged, refused, cut off by a reconnection, or its ack is late by
// the timeout; it appends the ones not acknowledged to failed, with the
// last error. It returns early, with todo not known published, when ctx
// ends.
func (p *publisher) publish(ctx context.Context, todo, failed []outgoing) ([]outgoing, error) {
	// Status changes from before this round concern no publish of it.
	for drained := false; !drained; {
		select {
		case <-p.status:
		default:
			drained = true
		}
	}
	if !p.nc.IsConnected() {
		// Not into the connection's reconnect buffer: retried, or
		// spooled, rather than also sent on reconnection.
		return append(failed, todo...), nats.ErrDisconnected
	}
	for len(p.msgs) < len(todo) {
		p.msgs = append(p.msgs, nats.Msg{Header: newHeader()})
	}
	p.mu.Lock()
	p.gen++
	gen := p.gen
	p.mu.Unlock()
	var lastErr error
	done := make([]bool, len(todo))
	waiting := 0
	for i, o := range todo {
		p.mu.Lock()
		tok := p.next
		p.next++
		p.waiting[tok] = slot{gen, i}
		p.mu.Unlock()
		m := &p.msgs[i]
		m.Subject, m.Reply, m.Data = o.subject, p.prefix+strconv.FormatUint(tok, 36), *o.buf
		m.Header[jetstream.MsgIDHeader][0] = o.id
		m.Header[HeaderEvents][0] = strconv.Itoa(o.n)
		if err := p.nc.PublishMsg(m); err != nil {
			p.mu.Lock()
			delete(p.waiting, tok)
			p.mu.Unlock()
			done[i] = true
			failed = append(failed, o)
			lastErr = err
			continue
		}
		waiting++
	}
	var timer *time.Timer
	if waiting > 0 {
		timer = time.NewTimer(p.timeout)
		defer timer.Stop()
	}
	for waiting > 0 {
		var cut error
		select {
		case r := <-p.results:
			if r.gen != gen || done[r.i] {
				continue // a late ack of an earlier round
			}
			done[r.i] = true
			waiting--
			if r.err != nil {
				failed = append(failed, todo[r.i])
				lastErr = r.err
			}
			continue
		case <-p.status:
			cut = nats.ErrDisconnected
		case <-timer.C:
			cut = jetstream.ErrAsyncPublishTimeout
		case <-ctx.Done():
			cut = ctx.Err()
		}
		// Give up on the rest of the round: a late ack is ignored, and a
		// publish again is a duplicate the stream recognises.
		p.mu.Lock()
		for tok, s := range p.waiting {
			if s.gen == gen {
				delete(p.waiting, tok)
			}
		}
		p.mu.Unlock()
		for i, d := range done {
			if !d {
				failed = append(failed, todo[i])
			}
		}
		return failed, cut
	}
	return failed, lastErr
}
