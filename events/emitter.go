package events

import (
	"context"
	"fmt"
	"log/slog"
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
	// Batch is how many outcomes are in flight to NATS at once. Default 512.
	Batch int
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Emitter publishes auth outcomes to the AUTH stream off the request path:
// Emit only encodes and enqueues; Run publishes in pipelined batches and
// retries what NATS did not acknowledge (the event id is the Nats-Msg-Id, so
// a retry is never stored twice). When the queue is full Emit fails and the
// caller denies: nothing is dropped silently.
type Emitter struct {
	cfg     EmitterConfig
	queue   chan outgoing
	dropped atomic.Uint64
	sent    atomic.Uint64
}

type outgoing struct {
	subject string
	id      string
	data    []byte
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
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Emitter{cfg: cfg, queue: make(chan outgoing, cfg.QueueSize)}, nil
}

// Emit enqueues an outcome for publication on portcullis.auth.<action>. It
// never blocks; ErrEmitterFull means the outcome could not be recorded.
func (e *Emitter) Emit(now time.Time, o AuthOutcome) error {
	ev, err := New(e.cfg.Source, AuthType(o.Action), o.RequestID, now, o)
	if err != nil {
		return err
	}
	b, err := ev.Encode()
	if err != nil {
		return err
	}
	select {
	case e.queue <- outgoing{subject: AuthSubject(o.Action), id: ev.ID, data: b}:
		return nil
	default:
		e.dropped.Add(1)
		return ErrEmitterFull
	}
}

// Pending is the number of outcomes queued and not yet acknowledged by NATS.
func (e *Emitter) Pending() int { return len(e.queue) }

// Published is the number of outcomes NATS acknowledged.
func (e *Emitter) Published() uint64 { return e.sent.Load() }

// Run publishes queued outcomes until ctx is done, then flushes what is
// queued for up to five seconds (publishing on a context the caller's
// cancellation does not cut short).
func (e *Emitter) Run(ctx context.Context) error {
	batch := make([]outgoing, 0, e.cfg.Batch)
	for {
		select {
		case <-ctx.Done():
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return e.flush(flushCtx, batch)
		case o := <-e.queue:
			batch = append(batch[:0], o)
		}
	fill:
		for len(batch) < cap(batch) {
			select {
			case o := <-e.queue:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		if err := e.publish(ctx, batch); err != nil {
			// ctx ended while NATS was failing; keep the batch for the flush.
			flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			return e.flush(flushCtx, batch)
		}
		batch = batch[:0]
	}
}

func (e *Emitter) flush(ctx context.Context, batch []outgoing) error {
	for {
	fill:
		for len(batch) < cap(batch) {
			select {
			case o := <-e.queue:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		if len(batch) == 0 {
			return nil
		}
		if err := e.publish(ctx, batch); err != nil {
			n := len(batch) + len(e.queue)
			e.cfg.Logger.ErrorContext(ctx, "auth_outcomes_unpublished", "count", n, "error", err)
			return fmt.Errorf("flush auth outcomes: %d unpublished: %w", n, err)
		}
		batch = batch[:0]
	}
}

// publish sends batch pipelined and waits for every ack, retrying the
// failed ones with backoff until they are acknowledged or ctx ends.
func (e *Emitter) publish(ctx context.Context, batch []outgoing) error {
	backoff := 50 * time.Millisecond
	todo := batch
	for {
		futures := make([]jetstream.PubAckFuture, len(todo))
		var failed []outgoing
		var lastErr error
		for i, o := range todo {
			msg := nats.NewMsg(o.subject)
			msg.Data = o.data
			f, err := e.cfg.JS.PublishMsgAsync(msg, jetstream.WithMsgID(o.id))
			if err != nil {
				failed = append(failed, o)
				lastErr = err
				continue
			}
			futures[i] = f
		}
		for i, f := range futures {
			if f == nil {
				continue
			}
			select {
			case <-f.Ok():
				e.sent.Add(1)
			case err := <-f.Err():
				failed = append(failed, todo[i])
				lastErr = err
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if len(failed) == 0 {
			return nil
		}
		e.cfg.Logger.WarnContext(ctx, "auth_outcome_publish_retry", "count", len(failed), "error", lastErr)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
		todo = failed
	}
}
