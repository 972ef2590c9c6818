package main

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// workload is the request every target gets: a small _search as a
// dashboard sends it, with Basic credentials (ignored by the targets
// without authentication).
type workload struct {
	addr          string // host:port of the target
	method, path  string
	body          []byte
	authorization string
}

// newRequest builds the workload's request.
func (w workload) newRequest() *fasthttp.Request {
	req := &fasthttp.Request{}
	req.Header.SetMethod(w.method)
	req.SetRequestURI("http://" + w.addr + w.path)
	req.Header.SetContentType("application/json")
	if w.authorization != "" {
		req.Header.Set("Authorization", w.authorization)
	}
	if len(w.body) > 0 {
		req.SetBody(w.body)
	}
	return req
}

// check sends the request once and reports whether the answer is a 200
// with the upstream's body: a target that refuses (a misconfigured role,
// nginx's 401) must not be measured as fast.
func (w workload) check(ctx context.Context) error {
	hc := w.client(1)
	req := w.newRequest()
	var resp fasthttp.Response
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		if err = hc.DoTimeout(req, &resp, 5*time.Second); err == nil && resp.StatusCode() == fasthttp.StatusOK {
			if !bytes.Contains(resp.Body(), []byte(`"hits"`)) {
				return fmt.Errorf("%s: answer is not the upstream's: %.200s", w.addr, resp.Body())
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", w.addr, err)
	}
	return fmt.Errorf("%s: status %d: %.300s", w.addr, resp.StatusCode(), resp.Body())
}

// client is a keep-alive client with at most conns connections.
func (w workload) client(conns int) *fasthttp.HostClient {
	return &fasthttp.HostClient{
		Addr:                     w.addr,
		MaxConns:                 conns,
		NoDefaultUserAgentHeader: true,
		ReadTimeout:              10 * time.Second,
		WriteTimeout:             10 * time.Second,
		MaxIdleConnDuration:      time.Minute,
	}
}

// phase is the timing of one measurement: requests run from the start,
// and only those that start in [start+warmup, start+warmup+duration) count.
type phase struct {
	warmup, duration time.Duration
}

// sample is what one measurement saw.
type sample struct {
	ok, failed int             // in the window
	total      int             // every request answered 200, warm-up included
	elapsed    time.Duration   // the window
	latencies  []time.Duration // of the ok requests in the window
	firstErr   string
}

// worker accumulates one goroutine's share of a sample, merged at the end.
type worker struct {
	ok, failed, total int
	lat               []time.Duration
	firstErr          string
}

func (w *worker) record(start, end time.Time, counts bool, resp *fasthttp.Response, err error) {
	good := err == nil && resp.StatusCode() == fasthttp.StatusOK
	if good {
		w.total++
	}
	if !counts {
		return
	}
	if !good {
		w.failed++
		if w.firstErr == "" {
			if err != nil {
				w.firstErr = err.Error()
			} else {
				w.firstErr = fmt.Sprintf("status %d: %.200s", resp.StatusCode(), resp.Body())
			}
		}
		return
	}
	w.ok++
	w.lat = append(w.lat, end.Sub(start))
}

func merge(ws []*worker, elapsed time.Duration) *sample {
	s := &sample{elapsed: elapsed}
	n := 0
	for _, w := range ws {
		n += len(w.lat)
	}
	s.latencies = make([]time.Duration, 0, n)
	for _, w := range ws {
		s.ok += w.ok
		s.failed += w.failed
		s.total += w.total
		s.latencies = append(s.latencies, w.lat...)
		if s.firstErr == "" {
			s.firstErr = w.firstErr
		}
	}
	return s
}

// closedLoop measures the maximum throughput: conns connections, each
// sending its next request as soon as the previous one is answered.
// Latency is from send to answer.
func closedLoop(ctx context.Context, wl workload, conns int, ph phase) *sample {
	hc := wl.client(conns)
	begin := time.Now()
	from, to := begin.Add(ph.warmup), begin.Add(ph.warmup+ph.duration)
	ws := make([]*worker, conns)
	var wg sync.WaitGroup
	for i := range ws {
		w := &worker{lat: make([]time.Duration, 0, 4096)}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := wl.newRequest()
			var resp fasthttp.Response
			for ctx.Err() == nil {
				start := time.Now()
				if !start.Before(to) {
					return
				}
				err := hc.Do(req, &resp)
				end := time.Now()
				w.record(start, end, !start.Before(from) && end.Before(to), &resp, err)
			}
		}()
	}
	wg.Wait()
	hc.CloseIdleConnections()
	return merge(ws, ph.duration)
}

// openLoop measures latency at a fixed arrival rate: request i is due at
// start + i/rate whether or not earlier ones were answered, and its latency
// counts from when it was due, so a target that falls behind shows the
// queueing it causes (no coordinated omission). conns bounds the requests
// in flight; a target that needs more than that falls behind and its
// latency shows it.
func openLoop(ctx context.Context, wl workload, conns int, rate float64, ph phase) *sample {
	hc := wl.client(conns)
	interval := time.Duration(float64(time.Second) / rate)
	begin := time.Now()
	from, to := begin.Add(ph.warmup), begin.Add(ph.warmup+ph.duration)
	var next atomic.Int64
	ws := make([]*worker, conns)
	var wg sync.WaitGroup
	for i := range ws {
		w := &worker{lat: make([]time.Duration, 0, 1024)}
		ws[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := wl.newRequest()
			var resp fasthttp.Response
			for ctx.Err() == nil {
				due := begin.Add(time.Duration(next.Add(1)-1) * interval)
				if !due.Before(to) {
					return
				}
				if d := time.Until(due); d > 0 {
					time.Sleep(d)
				}
				err := hc.Do(req, &resp)
				end := time.Now()
				w.record(due, end, !due.Before(from), &resp, err)
			}
		}()
	}
	wg.Wait()
	hc.CloseIdleConnections()
	return merge(ws, ph.duration)
}
