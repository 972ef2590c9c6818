package outcomeproxy

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/bench/upstream"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

// TestRecordsEveryOutcome checks that the proxy answers each request with
// the upstream's answer and that each request's access_granted outcome is
// in the AUTH stream once, with the request's method, path and an id of
// its own, as Portcullis records it; and that Serve ends cleanly.
func TestRecordsEveryOutcome(t *testing.T) {
	ctx := context.Background()
	p := startProxy(t, Config{MaxConns: 4})
	cfg, natsAddr, ln := p.cfg, p.cfg.NATSListen, p.ln

	const clients, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := range clients {
		wg.Go(func() {
			var req fasthttp.Request
			var resp fasthttp.Response
			for i := range each {
				req.Header.SetMethod("POST")
				req.SetRequestURI(fmt.Sprintf("http://%s/bench-%d/_search?size=%d", ln.Addr(), c, i))
				req.SetBodyString(`{"size":1}`)
				if err := fasthttp.DoTimeout(&req, &resp, 10*time.Second); err != nil {
					errs <- err
					return
				}
				if resp.StatusCode() != 200 || string(resp.Body()) != upstream.SearchBody {
					errs <- fmt.Errorf("answer %d %q", resp.StatusCode(), resp.Body())
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	nc, js := eventstest.ConnectWith(t, "nats://"+natsAddr, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	c, err := js.OrderedConsumer(ctx, events.StreamAuth, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	paths := map[string]int{}
	deadline := time.Now().Add(10 * time.Second)
	for len(ids) < clients*each && time.Now().Before(deadline) {
		batch, err := c.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			for raw := range events.SplitEvents(m.Data()) {
				ev, err := events.Decode(raw)
				if err != nil {
					t.Fatal(err)
				}
				var o events.AuthOutcome
				if err := ev.DecodeData(&o); err != nil {
					t.Fatal(err)
				}
				if ev.Type != events.AuthType(events.ActionAccessGranted) || ev.Source != nodeID || o.Action != events.ActionAccessGranted ||
					o.Outcome != "success" || o.User != user || o.Principal != user || o.Realm != realm || o.AuthType != authType ||
					len(o.Roles) != 1 || o.Roles[0] != roles[0] || o.Rule != rule || o.Reason != reason || o.PolicyRevision != revision ||
					o.Method != "POST" || o.ESAction != esAction || o.SourceIP != "127.0.0.1" || o.Query == "" {
					t.Errorf("outcome %s %+v", ev.Type, o)
				}
				if ids[o.RequestID] {
					t.Errorf("request id %q twice", o.RequestID)
				}
				ids[o.RequestID] = true
				paths[o.Path]++
			}
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != clients*each {
		t.Fatalf("%d outcomes in the AUTH stream, want %d", len(ids), clients*each)
	}
	for c := range clients {
		if p := fmt.Sprintf("/bench-%d/_search", c); paths[p] != each {
			t.Errorf("%d outcomes for %s, want %d", paths[p], p, each)
		}
	}

	nc.Close()
	p.stop(t)
}

// TestFlushesAtStop checks that the outcomes still queued when Serve stops
// (an emitter lingering a minute) are in the store it leaves.
func TestFlushesAtStop(t *testing.T) {
	ctx := context.Background()
	p := startProxy(t, Config{MaxConns: 1, Linger: time.Minute})
	cfg, natsAddr, ln := p.cfg, p.cfg.NATSListen, p.ln
	const n = 20
	var req fasthttp.Request
	var resp fasthttp.Response
	for i := range n {
		req.Header.SetMethod("POST")
		req.SetRequestURI(fmt.Sprintf("http://%s/bench-last/_search?i=%d", ln.Addr(), i))
		if err := fasthttp.DoTimeout(&req, &resp, 10*time.Second); err != nil || resp.StatusCode() != 200 {
			t.Fatalf("request %d: %d %v", i, resp.StatusCode(), err)
		}
	}
	// Still queued: the emitter lingers.
	nc, js := eventstest.ConnectWith(t, "nats://"+natsAddr, nats.UserInfo(cfg.NATSUser, cfg.NATSPassword))
	if s, err := js.Stream(ctx, events.StreamAuth); err != nil {
		t.Fatal(err)
	} else if info, err := s.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Fatalf("AUTH before the stop: %+v, %v; want nothing published yet", info, err)
	}
	nc.Close()
	p.stop(t)
	if got := storedOutcomes(t, cfg.DataDir); got != n {
		t.Errorf("%d outcomes in the store after Serve returned, want %d", got, n)
	}
}

// proxy is an outcome proxy serving in front of an upstream, with a NATS
// client port for the test.
type proxy struct {
	cfg Config
	ln  net.Listener
	// stop stops Serve, then the upstream, and checks both ended cleanly
	// (once; at the end of the test if not before).
	stop func(*testing.T)
}

// startProxy starts an upstream and Serve with cfg, completed with the
// upstream, a data dir and a client port.
func startProxy(t *testing.T, cfg Config) *proxy {
	t.Helper()
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	upLn, ln, natsLn := listen(), listen(), listen()
	natsLn.Close()
	cfg.Upstream, cfg.DataDir = upLn.Addr().String(), t.TempDir()
	cfg.NATSListen, cfg.NATSUser, cfg.NATSPassword = natsLn.Addr().String(), "harness", "harness-password"
	ctx, cancel := context.WithCancel(context.Background())
	upDone, done := make(chan error, 1), make(chan error, 1)
	go func() { upDone <- upstream.Serve(ctx, upLn) }()
	pctx, stop := context.WithCancel(ctx)
	go func() { done <- Serve(pctx, ln, cfg) }()
	p := &proxy{cfg: cfg, ln: ln}
	var once sync.Once
	p.stop = func(t *testing.T) {
		once.Do(func() {
			stop()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
			cancel()
			if err := <-upDone; err != nil {
				t.Errorf("upstream: %v", err)
			}
		})
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// storedOutcomes opens the JetStream store under dataDir and counts the
// events in its AUTH stream.
func storedOutcomes(t *testing.T, dataDir string) int {
	t.Helper()
	srv := eventstest.StartServerWith(t, server.Options{StoreDir: filepath.Join(dataDir, "jetstream"), DontListen: true})
	_, js := eventstest.ConnectWith(t, "", nats.InProcessServer(srv))
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamAuth)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		n += events.CountEvents(m.Data)
	}
	return n
}

// TestNATSPortTaken checks that a client port in use is refused as such,
// not left to a server that never becomes ready ("not ready after 30s").
func TestNATSPortTaken(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = Serve(context.Background(), ln, Config{Upstream: "127.0.0.1:9", DataDir: t.TempDir(),
		NATSListen: held.Addr().String(), NATSUser: "harness", NATSPassword: "harness-password"})
	if err == nil || !strings.Contains(err.Error(), "nats listen") {
		t.Errorf("Serve with the NATS port taken: %v", err)
	}
}
