package projector

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Catching up is what bounds a replica's start: every event of both
// streams, as fast as the server hands them out. The library's ordered
// consumer costs about a quarter more CPU per message than the protocol
// needs (it parses each reply subject into strings, twice with our
// Metadata call, and runs its own bookkeeping per message), and on the
// 2-core reference machine CPU is the limit: the server, the client and
// the folds share it. So the backlog as of start is read by catchUp with a
// plain pull consumer of its own: two large pull requests in flight, a
// reply subject parsed without allocating, one subscription handler that
// decodes and applies. It is a fast path only: on anything unexpected (a
// status message, a gap in the delivery sequence, no progress for a
// while) it stops where it is and the ordered consumer, which handles
// every failure the library knows, goes on from the last sequence
// applied. Nothing is lost or applied twice either way.
const (
	catchUpBatch    = 8192             // messages per pull request; two are in flight
	catchUpMaxBytes = 64 << 20         // bytes per pull request
	catchUpExpires  = 30 * time.Second // a pull request's life on the server
	catchUpStall    = 5 * time.Second  // no message for this long: hand over
	catchUpIdle     = 30 * time.Second // the server drops a consumer left behind
)

// catchUp applies stream r.i from the sequence after r.last to at least
// target (or to the end of the stream, if messages aged out) with a pull
// consumer of its own, then returns; the caller opens the ordered consumer
// after r.last. It returns early, with a warning logged, when the fast
// path fails, and without one when ctx ends.
func (r *reader) catchUp(ctx context.Context, target uint64) {
	r.mu.Lock()
	from := r.last + 1
	r.mu.Unlock()
	if target < from {
		return
	}
	name := streamNames[r.i]
	start := time.Now()
	js := r.p.cfg.JS
	nc := js.Conn()
	cctx, cancel := context.WithTimeout(ctx, reopenTimeout)
	c, err := r.stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: catchUpIdle,
	})
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			r.p.log.WarnContext(ctx, "projector_catch_up_failed", "stream", name, "error", err)
		}
		return
	}
	consumer := c.CachedInfo().Name
	defer func() {
		// Best effort: InactiveThreshold removes it anyway.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reopenTimeout)
		defer cancel()
		_ = r.stream.DeleteConsumer(dctx, consumer)
	}()

	f := &fetch{r: r, ctx: context.WithoutCancel(ctx), target: target, done: make(chan struct{})}
	inbox := nc.NewInbox()
	sub, err := nc.Subscribe(inbox, f.handle)
	if err != nil {
		r.p.log.WarnContext(ctx, "projector_catch_up_failed", "stream", name, "error", err)
		return
	}
	defer func() { _ = sub.Unsubscribe() }()
	// At most two requests' worth is ever pending on the subscription.
	if err := sub.SetPendingLimits(4*catchUpBatch, -1); err != nil {
		r.p.log.WarnContext(ctx, "projector_catch_up_failed", "stream", name, "error", err)
		return
	}
	f.next = apiPrefix(js) + "CONSUMER.MSG.NEXT." + name + "." + consumer
	f.inbox = inbox
	f.req = fmt.Appendf(nil, `{"batch":%d,"max_bytes":%d,"expires":%d}`, catchUpBatch, catchUpMaxBytes, catchUpExpires.Nanoseconds())
	f.nc = nc
	r.mu.Lock()
	r.fetch = f
	err = f.pullLocked()
	if err == nil {
		err = f.pullLocked()
	}
	r.mu.Unlock()
	if err != nil {
		r.stopFetch("", err)
		r.p.log.WarnContext(ctx, "projector_catch_up_failed", "stream", name, "error", err)
		return
	}

	stall := time.NewTicker(catchUpStall)
	defer stall.Stop()
	var seen uint64
	for {
		select {
		case <-f.done:
			r.mu.Lock()
			why, ferr, n, last := f.why, f.err, f.received, r.last
			r.mu.Unlock()
			if why != "" {
				r.p.log.WarnContext(ctx, "projector_catch_up_stopped", "stream", name, "reason", why, "error", ferr,
					"applied", n, "last_seq", last, "target", target)
				return
			}
			r.p.log.DebugContext(ctx, "projector_caught_up", "stream", name, "events", n,
				"duration", time.Since(start), "last_seq", last)
			return
		case <-ctx.Done():
			r.stopFetch("", nil)
			return
		case <-stall.C:
			r.mu.Lock()
			n := f.received
			r.mu.Unlock()
			if n == seen {
				r.stopFetch("no progress", fmt.Errorf("nothing delivered for %s", catchUpStall))
			}
			seen = n
		}
	}
}

// stopFetch ends the reader's fast path, if it runs, with a reason ("" for
// done). No message is applied by it after stopFetch returns.
func (r *reader) stopFetch(why string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.fetch; f != nil {
		f.endLocked(why, err)
	}
}

// fetch is the state of one catchUp. Its fields after the constants are
// guarded by reader.mu, which its handler holds while it applies.
type fetch struct {
	r      *reader
	ctx    context.Context // handler's, without cancellation (Run's values)
	target uint64
	done   chan struct{} // closed by endLocked
	nc     *nats.Conn
	next   string // the consumer's MSG.NEXT subject
	inbox  string
	req    []byte

	ended     bool
	why       string // "" when it reached its target
	err       error
	dseq      uint64 // last delivery sequence of the consumer
	requested uint64 // messages asked for
	received  uint64
}

func (f *fetch) endLocked(why string, err error) {
	if f.ended {
		return
	}
	f.ended, f.why, f.err = true, why, err
	f.r.fetch = nil
	close(f.done)
}

func (f *fetch) pullLocked() error {
	if err := f.nc.PublishRequest(f.next, f.inbox, f.req); err != nil {
		return fmt.Errorf("pull %s: %w", streamNames[f.r.i], err)
	}
	f.requested += catchUpBatch
	return nil
}

// handle runs on the subscription's goroutine, one message at a time.
func (f *fetch) handle(msg *nats.Msg) {
	r := f.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if f.ended || r.stopped {
		return
	}
	if msg.Reply == "" {
		// A status. "409 Batch Completed" tells that a request was
		// served; any other (408 a request expired, 409 consumer deleted
		// or leadership change, 100 heartbeat) is unexpected here.
		if msg.Header.Get("Status") == "409" && msg.Header.Get("Description") == "Batch Completed" {
			return
		}
		f.endLocked("status", fmt.Errorf("%s %s", msg.Header.Get("Status"), msg.Header.Get("Description")))
		return
	}
	seq, dseq, pending, ok := ackSeqs(msg.Reply)
	if !ok {
		f.endLocked("reply subject", fmt.Errorf("%w: reply subject %q", ErrMalformed, msg.Reply))
		return
	}
	if dseq != f.dseq+1 {
		f.endLocked("gap", fmt.Errorf("delivery sequence %d after %d", dseq, f.dseq))
		return
	}
	f.dseq = dseq
	f.received++
	if seq > r.last {
		r.applyLocked(f.ctx, seq, pending, msg.Subject, msg.Data)
	}
	if seq >= f.target || pending == 0 {
		f.endLocked("", nil)
		return
	}
	if f.requested-f.received <= catchUpBatch {
		if err := f.pullLocked(); err != nil {
			f.endLocked("pull", err)
		}
	}
}

// apiPrefix is the subject prefix of js's API requests, with its dot.
func apiPrefix(js jetstream.JetStream) string {
	o := js.Options()
	switch {
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	case o.APIPrefix != "":
		if strings.HasSuffix(o.APIPrefix, ".") {
			return o.APIPrefix
		}
		return o.APIPrefix + "."
	}
	return jetstream.DefaultAPIPrefix
}

// ackSeqs reads the stream sequence, the consumer's delivery sequence and
// the number of messages pending from the reply subject of a JetStream
// message, without allocating:
//
//	$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
//	$JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>[.<token>]
//
// The first form has 9 tokens, the second 11 or more (the library accepts
// the same).
func ackSeqs(reply string) (seq, dseq, pending uint64, ok bool) {
	rest, found := strings.CutPrefix(reply, "$JS.ACK.")
	if !found {
		return 0, 0, 0, false
	}
	n := strings.Count(reply, ".") + 1
	var base int // index of <stream> among the tokens after $JS.ACK
	switch {
	case n == 9:
		base = 0
	case n >= 11:
		base = 2
	default:
		return 0, 0, 0, false
	}
	var tok [9]string // the tokens after $JS.ACK, up to <pending>
	for i := range base + 7 {
		var cut bool
		tok[i], rest, cut = strings.Cut(rest, ".")
		if !cut && i < base+6 {
			return 0, 0, 0, false
		}
	}
	var ok1, ok2, ok3 bool
	seq, ok1 = parseSeq(tok[base+3])
	dseq, ok2 = parseSeq(tok[base+4])
	pending, ok3 = parseSeq(tok[base+6])
	return seq, dseq, pending, ok1 && ok2 && ok3
}

// parseSeq parses a decimal uint64, rejecting anything else (empty, signs,
// overflow).
func parseSeq(s string) (uint64, bool) {
	if s == "" || len(s) > 20 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	return n, true
}
