package auditor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8/esutil"
)

// writers are the auditor's Workers bulk requests: one single-worker
// esutil.BulkIndexer each, filled in turn.
//
// One BulkIndexer with Workers workers deals the documents round-robin, so
// its workers fill up together, send together and wait together: with a
// producer slower than Elasticsearch (the pull loop decodes every event),
// Elasticsearch sat idle while the next requests filled. Filled in turn,
// one request fills while the others are in flight. The requests are as
// large (FlushBytes) and as many at once (Workers) as with one BulkIndexer.
//
// Two more things keep Elasticsearch busy when a burst starts and ends. The
// first requests of a burst are small and double up to FlushBytes (a
// request does not wait for 5 MB of documents while Elasticsearch has
// nothing to do), and when the pull loop has taken the last message the
// stream held (the burst is over) what it added is sent at once, rather
// than when the pull loop has been idle for FlushIdle; at most once per
// FlushIdle, so that a trickle of events does not become a request per
// event. A burst is what comes after such a last message.
type writers struct {
	bis        []esutil.BulkIndexer
	kicks      []chan struct{} // a flush request per indexer, served by its flusher
	wg         sync.WaitGroup
	flushBytes int
	minBytes   int           // the size of a burst's first request
	every      time.Duration // FlushIdle: at most one end-of-burst flush per every; none if negative

	// Owned by the pull loop.
	cur       int       // the indexer being filled
	filled    int       // payload bytes handed to it since it became current
	target    int       // the size at which it is sent
	unsent    bool      // items added since the last end-of-burst flush
	lastDrain time.Time // the last end-of-burst flush
}

// burstSteps is the number of doublings from a burst's first request to
// FlushBytes.
const burstSteps = 4

func newWriters(n int, every time.Duration, cfg esutil.BulkIndexerConfig) (*writers, error) {
	w := &writers{flushBytes: cfg.FlushBytes, minBytes: max(cfg.FlushBytes>>burstSteps, 1), every: every}
	w.target = w.minBytes
	cfg.NumWorkers = 1
	for range n {
		bi, err := esutil.NewBulkIndexer(cfg)
		if err != nil {
			_ = w.close(context.Background())
			return nil, err
		}
		kick := make(chan struct{}, 1)
		w.bis, w.kicks = append(w.bis, bi), append(w.kicks, kick)
		w.wg.Go(func() {
			for range kick {
				_ = bi.Flush(context.Background()) // errors reach the items' callbacks
			}
		})
	}
	return w, nil
}

// add hands item to the indexer being filled. Once that one got its
// target's worth of payload, the next item goes to the next indexer; the
// full one is sent (by its worker when the target is FlushBytes: it sends
// when the next item would reach FlushBytes; asked to when smaller).
// Called by the pull loop only.
func (w *writers) add(ctx context.Context, item esutil.BulkIndexerItem, docLen int) error {
	if w.filled >= w.target {
		if w.target < w.flushBytes {
			w.kick(w.cur)
		}
		w.cur = (w.cur + 1) % len(w.bis)
		w.filled = 0
		w.target = min(2*w.target, w.flushBytes)
	}
	w.filled += payloadLen(item, docLen)
	w.unsent = true
	return w.bis[w.cur].Add(ctx, item)
}

// drained tells the writers the pull loop took the last message the stream
// held: send everything, unless that was done less than FlushIdle ago.
// Called by the pull loop only.
func (w *writers) drained(now time.Time) {
	if !w.unsent || w.every < 0 || now.Sub(w.lastDrain) < w.every {
		return
	}
	w.lastDrain, w.unsent = now, false
	for i := range w.bis {
		w.kick(i)
	}
	w.cur, w.filled, w.target = 0, 0, w.minBytes
}

func (w *writers) kick(i int) {
	select {
	case w.kicks[i] <- struct{}{}:
	default: // a flush is already due
	}
}

// payloadLen is the bytes item takes in a bulk request, as esutil counts
// them: its action line {"create":{"_id":"…","_index":"…"}} and newline,
// the document and its newline.
func payloadLen(item esutil.BulkIndexerItem, docLen int) int {
	return len(`{"":{"_id":"","_index":""}}`) + len(item.Action) + len(item.Index) + len(item.DocumentID) + docLen + 2
}

// flush sends what every indexer holds and waits for the answers.
func (w *writers) flush(ctx context.Context) error {
	return w.each(func(bi esutil.BulkIndexer) error { return bi.Flush(ctx) })
}

// close stops the flushers, then flushes every indexer and stops it.
func (w *writers) close(ctx context.Context) error {
	for _, k := range w.kicks {
		close(k)
	}
	w.wg.Wait()
	return w.each(func(bi esutil.BulkIndexer) error { return bi.Close(ctx) })
}

// each runs f on every indexer at once.
func (w *writers) each(f func(esutil.BulkIndexer) error) error {
	errs := make([]error, len(w.bis))
	var wg sync.WaitGroup
	for i, bi := range w.bis {
		wg.Go(func() { errs[i] = f(bi) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// requests is the number of bulk requests sent.
func (w *writers) requests() uint64 {
	var n uint64
	for _, bi := range w.bis {
		n += bi.Stats().NumRequests
	}
	return n
}

// Where a message stands in the stream, from its reply subject.
const (
	posMore    = iota // the stream held more for the consumer
	posLast           // it was the last one the stream held
	posUnknown        // the reply subject does not say
)

// streamPos reads the pending count of a JetStream message's reply subject:
// the ninth token of a v1 acknowledgement subject
// ($JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<tm>.<pending>) or
// the eleventh of a v2 one ($JS.ACK.<domain>.<account hash>.<stream>...
// <pending>.<token>, the last token optional). Stream and consumer names
// hold no dot.
func streamPos(reply string) int {
	if !strings.HasPrefix(reply, "$JS.ACK.") {
		return posUnknown
	}
	last := strings.LastIndexByte(reply, '.')
	var pending string
	switch strings.Count(reply, ".") + 1 {
	case 9, 11: // the pending count is the last token
		pending = reply[last+1:]
	case 12: // the one before the last
		pending = reply[strings.LastIndexByte(reply[:last], '.')+1 : last]
	default:
		return posUnknown
	}
	switch {
	case pending == "0":
		return posLast
	case pending == "" || strings.Trim(pending, "0123456789") != "":
		return posUnknown
	}
	return posMore
}
