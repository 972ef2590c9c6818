package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// tailOptions are the flags of `portcullis events tail`.
type tailOptions struct {
	stream   string // stream name
	subject  string // filter; empty: the whole stream
	all      bool
	since    string // a duration back from now, or an RFC 3339 time
	noFollow bool
	count    int // stop after this many events; 0: no limit
}

// tailStreams maps the names `--stream` takes to the streams and their
// subject spaces.
var tailStreams = map[string]struct{ name, subjects string }{
	"auth":   {events.StreamAuth, events.SubjectAuth},
	"state":  {events.StreamState, events.SubjectState},
	"tokens": {events.StreamTokens, events.SubjectTokens},
}

// runEvents is `portcullis events tail`: it prints the events of a stream,
// one CloudEvent per line as stored (an AUTH message packing several
// outcomes gives several lines), from the new ones on (--all: from the
// start; --since: from a time), and follows the stream unless --no-follow.
// It talks to NATS as reset-password does (connectTool); following needs a
// running server: --nats-url, or the client port of the serve on this
// configuration (connectServe).
func runEvents(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 || args[0] != "tail" {
		fmt.Fprint(stderr, "usage: portcullis events tail [--stream auth|state|tokens] [--subject SUBJECT] [--all | --since DURATION|TIME] [--no-follow] [-n COUNT]\n")
		return 2
	}
	var o tailOptions
	cfg, err := loadConfigFor("events tail", args[1:], getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&o.stream, "stream", "auth", "the `stream`: auth (outcomes), state (accounts, roles, constraints, API keys) or tokens")
		fs.StringVar(&o.subject, "subject", "", "only the events of this `subject` filter, e.g. 'portcullis.auth.authentication_failed' (default: the whole stream)")
		fs.BoolVar(&o.all, "all", false, "from the first event the stream holds (default: the new ones)")
		fs.StringVar(&o.since, "since", "", "from this `time`: a duration back from now (10m) or an RFC 3339 time")
		fs.BoolVar(&o.noFollow, "no-follow", false, "stop at the last event the stream held at start")
		fs.IntVar(&o.count, "n", 0, "stop after `count` events (default: no limit)")
	})
	var start jetstream.OrderedConsumerConfig
	if err == nil {
		start, err = o.consumerConfig(time.Now())
	}
	if err != nil {
		fmt.Fprintf(stderr, "portcullis events tail: %v\n", err)
		return 2
	}
	connect := connectTool
	if cfg.NATS.URL == "" && !o.noFollow {
		// Not the store under --data-dir: opened here, no serve writes to
		// it while this command holds it, so there would be nothing to
		// follow, and serve could not start meanwhile.
		running, err := storeInUse(cfg.DataDir)
		if err != nil {
			fmt.Fprintf(stderr, "portcullis events tail: %v\n", err)
			return 1
		}
		if !running {
			fmt.Fprintf(stderr, "portcullis events tail: following needs the running server: give --nats-url, or the data dir of a running serve that takes NATS clients (nats.listen) with its NATS password in PORTCULLIS_NATS_PASSWORD; on the data dir of a stopped serve, give --no-follow with --all or --since\n")
			return 2
		}
		connect = connectServe
	}
	if cfg.NodeID == "" {
		cfg.NodeID = "events-tail-" + randomString(4)
	}
	log := newLogger(Config{Log: LogConfig{Level: "warn", Format: cfg.Log.Format}}, stderr)
	nc, err := connect(ctx, cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "portcullis events tail: %v\n", err)
		return 1
	}
	defer nc.Close()
	js, err := jetstream.New(nc.nc)
	if err == nil {
		w := bufio.NewWriter(stdout)
		err = tailEvents(ctx, js, tailStreams[o.stream].name, start, o, w)
		if ferr := w.Flush(); err == nil {
			err = ferr
		}
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "portcullis events tail: %v\n", err)
		return 1
	}
	return 0
}

// consumerConfig checks the options and returns the ordered consumer that
// reads what they ask for, now being the time --since counts back from.
func (o *tailOptions) consumerConfig(now time.Time) (jetstream.OrderedConsumerConfig, error) {
	var c jetstream.OrderedConsumerConfig
	st, ok := tailStreams[strings.ToLower(o.stream)]
	if !ok {
		return c, fmt.Errorf("--stream %q: want auth, state or tokens", o.stream)
	}
	o.stream = strings.ToLower(o.stream)
	if o.subject != "" {
		if !strings.HasPrefix(o.subject, strings.TrimSuffix(st.subjects, ">")) {
			return c, fmt.Errorf("--subject %q is not in the %s stream's subjects (%s)", o.subject, o.stream, st.subjects)
		}
		c.FilterSubjects = []string{o.subject}
	}
	if o.count < 0 {
		return c, fmt.Errorf("-n %d: want a count of events, or 0 for no limit", o.count)
	}
	switch {
	case o.all && o.since != "":
		return c, errors.New("--all and --since: give one")
	case o.all:
		c.DeliverPolicy = jetstream.DeliverAllPolicy
	case o.since != "":
		t, err := parseSince(o.since, now)
		if err != nil {
			return c, err
		}
		c.DeliverPolicy, c.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	default:
		if o.noFollow {
			return c, errors.New("--no-follow without --all or --since prints nothing: give one")
		}
		c.DeliverPolicy = jetstream.DeliverNewPolicy
	}
	return c, nil
}

// parseSince reads --since: a positive duration back from now, or an RFC
// 3339 time.
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since %q: want a positive duration", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %q: want a duration (10m, 2h) or an RFC 3339 time (2026-12-06T10:00:00Z)", s)
	}
	return t, nil
}

// tailEvents writes the events of stream that start selects to w, one per
// line, until ctx ends, o.count events are written, or (o.noFollow) the
// last message the stream held at start is written.
func tailEvents(ctx context.Context, js jetstream.JetStream, stream string, start jetstream.OrderedConsumerConfig, o tailOptions, w *bufio.Writer) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	last := s.CachedInfo().State.LastSeq
	c, err := s.OrderedConsumer(ctx, start)
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	if o.noFollow && (last == 0 || c.CachedInfo().NumPending == 0) {
		return nil
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("stream %s: %w", stream, err)
	}
	defer it.Stop()
	written := 0
	var printed uint64 // the stream sequence of the last message printed
	for {
		m, err := tailNext(ctx, it, o.noFollow)
		if errors.Is(err, errNothingYet) {
			// Without --follow, the events still to come may have left the
			// stream (its age or size limits) before they were delivered:
			// then nothing up to last will come.
			if done, err := tailDone(ctx, s, c, last, printed); err != nil || done {
				return err
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("stream %s: %w", stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("stream %s: %w", stream, err)
		}
		if o.noFollow && meta.Sequence.Stream > last {
			return nil
		}
		for ev := range events.SplitEvents(m.Data()) {
			_, _ = w.Write(ev) // a write error sticks: WriteByte returns it
			if err := w.WriteByte('\n'); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			if written++; o.count > 0 && written == o.count {
				return nil
			}
		}
		printed = meta.Sequence.Stream
		if o.noFollow && (meta.Sequence.Stream >= last || meta.NumPending == 0) {
			return nil
		}
		if meta.NumPending == 0 {
			// Caught up: show what was written before waiting.
			if err := w.Flush(); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
	}
}

// errNothingYet: no message came within tailWait.
var errNothingYet = errors.New("no message yet")

// tailWait is how long a --no-follow tail waits for a message before it
// checks whether any is still to come.
const tailWait = time.Second

// tailNext returns the next message; bounded (errNothingYet after
// tailWait), it lets the caller check whether one is still to come.
func tailNext(ctx context.Context, it jetstream.MessagesContext, bounded bool) (jetstream.Msg, error) {
	if !bounded {
		return it.Next(jetstream.NextContext(ctx))
	}
	wctx, cancel := context.WithTimeout(ctx, tailWait)
	defer cancel()
	m, err := it.Next(jetstream.NextContext(wctx))
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, errNothingYet
	}
	return m, err
}

// tailDone reports whether a --no-follow tail, having printed up to
// stream sequence printed and received nothing since, has nothing left to
// print: its consumer has no message pending and none delivered beyond
// printed (in flight), or every message up to last has left the stream.
func tailDone(ctx context.Context, s jetstream.Stream, c jetstream.Consumer, last, printed uint64) (bool, error) {
	ci, err := c.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("consumer: %w", err)
	}
	if ci.NumPending == 0 && ci.Delivered.Stream <= printed {
		return true, nil
	}
	si, err := s.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("stream: %w", err)
	}
	return si.State.FirstSeq > last, nil
}
