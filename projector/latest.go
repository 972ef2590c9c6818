package projector

import (
	"context"
	"sync"
	"sync/atomic"
)

// lastSeq asks for a stream's last sequence on behalf of many callers at
// once. WaitForLatest runs on the request path for every token this replica
// does not know, so a flood of made-up tokens must not become a flood of
// STREAM.INFO requests: at most one request per stream is in flight, and
// the callers that arrive meanwhile share the next one. A caller only ever
// shares a request sent after it arrived, so the answer covers every event
// acknowledged before the caller asked (read-your-writes across replicas).
type lastSeq struct {
	sem     chan struct{} // holds a token while a request is in flight
	mu      sync.Mutex
	pending *lastSeqRound // guarded by mu: the round not sent yet
}

type lastSeqRound struct {
	started atomic.Bool
	done    chan struct{} // closed when seq and err are set
	seq     uint64
	err     error
}

func newLastSeq() *lastSeq {
	return &lastSeq{sem: make(chan struct{}, 1)}
}

// get returns the answer of a fetch made after the call began. fetch runs
// on one caller's goroutine; it is given a context that keeps ctx's
// deadline but not its cancellation, so that the caller who happens to
// send the request cannot fail it for the others by going away.
func (l *lastSeq) get(ctx context.Context, fetch func(context.Context) (uint64, error)) (uint64, error) {
	l.mu.Lock()
	r := l.pending
	if r == nil {
		r = &lastSeqRound{done: make(chan struct{})}
		l.pending = r
	}
	l.mu.Unlock()

	for {
		select {
		case <-r.done:
			return r.seq, r.err
		case <-ctx.Done():
			return 0, ctx.Err()
		case l.sem <- struct{}{}:
			if !r.started.CompareAndSwap(false, true) {
				// Another member sent this round; it closes done before
				// it releases sem, so the answer is there.
				<-l.sem
				<-r.done
				return r.seq, r.err
			}
			l.mu.Lock()
			if l.pending == r {
				l.pending = nil // later callers start the next round
			}
			l.mu.Unlock()
			fctx := context.WithoutCancel(ctx)
			if dl, ok := ctx.Deadline(); ok {
				var cancel context.CancelFunc
				fctx, cancel = context.WithDeadline(fctx, dl)
				defer cancel()
			}
			r.seq, r.err = fetch(fctx)
			close(r.done)
			<-l.sem
			return r.seq, r.err
		}
	}
}
