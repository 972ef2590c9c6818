package lockout

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// sweepEvery bounds how long an ended lock or an old failure is kept.
const sweepEvery = time.Minute

// maxAhead is how far ahead of this replica's clock a failure's time may
// be (clocks of replicas differ a little): a failure dated later is not
// counted.
const maxAhead = time.Minute

// Retrying to follow the stream: the first wait, and the longest.
var (
	retryFirst = time.Second
	retryMax   = 30 * time.Second
)

// Run folds the authentication_failed outcomes of the AUTH stream into t
// until ctx ends: first those of the last Window+Duration (all a lock in
// force can come from), then each one as it is published, by any replica.
// When the stream cannot be read (NATS unreachable, no permission, the
// consumer gone) it logs why and tries again, with a growing pause, from
// the message after the last one folded, so that no failure counts twice.
func (t *Tracker) Run(ctx context.Context, js jetstream.JetStream, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	var last atomic.Uint64 // stream sequence of the last message folded
	handle := func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			return // not a stream message
		}
		for raw := range events.SplitEvents(m.Data()) {
			f, ok := ParseFailure(raw)
			if !ok {
				continue
			}
			if f.At.After(time.Now().Add(maxAhead)) {
				// A clock far ahead, or a forged event: it would lock for
				// as long as it is ahead.
				log.WarnContext(ctx, "lockout_failure_ignored", "user", f.User, "at", f.At, "why", "dated in the future")
				continue
			}
			// A lock of failures read from the recent past may have
			// ended already: only one in force is news.
			if l, locked := t.Fail(f); locked && time.Now().Before(l.Until) {
				log.WarnContext(ctx, "account_locked", "user", f.User, "until", l.Until, "failures", t.cfg.Threshold, "window", t.cfg.Window)
			}
		}
		last.Store(meta.Sequence.Stream)
	}
	tick := time.NewTicker(min(sweepEvery, t.cfg.Window))
	defer tick.Stop()
	pause := retryFirst
	for {
		cc, err := t.follow(ctx, js, last.Load(), handle, log)
		var closed <-chan struct{}
		var retry <-chan time.Time
		if err != nil && ctx.Err() != nil {
			return
		}
		if err != nil {
			log.WarnContext(ctx, "lockout_follow_failed", "error", err, "retry_in", pause,
				"hint", "until it succeeds, wrong passwords are not counted")
			retry = time.After(pause)
			pause = min(2*pause, retryMax)
		} else {
			closed = cc.Closed()
			pause = retryFirst
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				if cc != nil {
					cc.Stop()
					<-cc.Closed()
				}
				return
			case now := <-tick.C:
				if _, overflowed := t.Sweep(now); overflowed {
					log.WarnContext(ctx, "lockout_tracking_full", "max_tracked", t.cfg.MaxTracked,
						"hint", "failures of more user names than lockout.max_tracked within the window were not counted")
				}
			case <-closed:
				log.WarnContext(ctx, "lockout_follow_failed", "error", "consumer closed", "retry_in", pause)
				retry, closed = time.After(pause), nil
				cc = nil
			case <-retry:
				break wait
			}
		}
	}
}

// follow starts an ordered consumer of the authentication_failed subject
// after stream sequence last, or, at first (last 0), at the failures of
// the last Window+Duration.
func (t *Tracker) follow(ctx context.Context, js jetstream.JetStream, last uint64, handle jetstream.MessageHandler, log *slog.Logger) (jetstream.ConsumeContext, error) {
	s, err := js.Stream(ctx, events.StreamAuth)
	if err != nil {
		return nil, fmt.Errorf("lockout: stream %s: %w", events.StreamAuth, err)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{events.AuthSubject(events.ActionAuthenticationFailed)}}
	if last > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, last+1
	} else {
		start := time.Now().Add(-t.cfg.Window - t.cfg.Duration)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	c, err := s.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("lockout: consumer on %s: %w", events.StreamAuth, err)
	}
	cc, err := c.Consume(handle, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		log.WarnContext(ctx, "lockout_consumer_error", "error", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("lockout: consume %s: %w", events.StreamAuth, err)
	}
	return cc, nil
}

// ParseFailure reads an encoded authentication_failed event: the wrong
// password it tells of, when one of its realms refused a wrong password for
// a user it knows (events.RealmReasonWrongPassword). Unknown users,
// malformed credentials, a busy or unavailable realm and the refusal of a
// locked user (events.RealmLockout) do not count. raw is untrusted
// (whoever may publish on the AUTH stream wrote it): anything else gives ok
// false.
func ParseFailure(raw []byte) (Failure, bool) {
	ev, err := events.Decode(raw)
	if err != nil || ev.Type != events.AuthType(events.ActionAuthenticationFailed) || ev.Time.IsZero() {
		return Failure{}, false
	}
	var o events.AuthOutcome
	if err := ev.DecodeData(&o); err != nil || o.Principal == "" {
		return Failure{}, false
	}
	wrong := false
	for _, r := range o.Realms {
		if r.Realm == events.RealmLockout {
			return Failure{}, false
		}
		wrong = wrong || r.Reason == events.RealmReasonWrongPassword
	}
	if !wrong {
		return Failure{}, false
	}
	return Failure{User: o.Principal, AccountUID: o.AccountUID, AccountEpoch: o.AccountEpoch, At: ev.Time}, true
}
