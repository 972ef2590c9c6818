package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
)

// The Portcullis target's accounts: the bootstrap superuser provisions a
// role granting read on bench-* and a native user holding it, whose Basic
// credentials the load uses.
const (
	superPassword = "bench-superuser-password"
	benchUser     = "bench"
	benchPassword = "bench-password-1"
	benchRole     = "bench_reader"
	natsUser      = "portcullis"
	natsPassword  = "bench-nats-password"
)

// portcullisTarget is `portcullis serve` in front of the upstream, with its
// embedded NATS JetStream (client port open on loopback so that the harness
// can count the published outcomes), or with NATS in a nats-server process
// of its own.
type portcullisTarget struct {
	outcomeCounter
	srv  *server
	nats *server // the nats-server process, nil for the embedded one
	addr string
}

// outcomeCounter counts the outcomes in the AUTH stream of a target that
// records one per request (Portcullis, the outcome proxy), through its
// NATS client port.
type outcomeCounter struct {
	name     string // the target's, for errors
	natsAddr string
	nc       *nats.Conn         // the harness's own connection, opened by outcomes
	auth     jetstream.Consumer // an ordered consumer of the AUTH stream's headers
	counted  uint64             // the outcomes auth has delivered
	messages uint64             // the messages that carried them
	quiet    time.Duration      // settled's; 0: settleQuiet
}

// startPortcullis runs bin serve, with env added to its environment. The
// in-process auditor is off: its consumer only takes the audited actions
// (failures, denials, config changes), none of which this load produces,
// and the audit throughput has its own benchmark (auditor/bench_test.go).
// With natsBin, NATS runs as that nats-server binary (JetStream, store in
// dir), pinned to natsCPUs, and portcullis connects to it.
func startPortcullis(ctx context.Context, bin, dir, cpus, upstreamAddr string, env []string, natsBin, natsCPUs string) (*portcullisTarget, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	natsAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	env = append([]string{
		"PORTCULLIS_BOOTSTRAP_PASSWORD=" + superPassword,
		"PORTCULLIS_AUDIT_DISABLED=true",
		"PORTCULLIS_NATS_PASSWORD=" + natsPassword,
		"PORTCULLIS_NODE_ID=bench",
	}, env...)
	p := &portcullisTarget{addr: addr, outcomeCounter: outcomeCounter{name: "portcullis", natsAddr: natsAddr}}
	if natsBin != "" {
		host, port, err := net.SplitHostPort(natsAddr)
		if err != nil {
			return nil, err
		}
		ns, err := start("nats-server", dir, natsCPUs, nil, natsBin, "-a", host, "-p", port, "-js",
			"-sd", filepath.Join(dir, "nats-store"), "--user", natsUser, "--pass", natsPassword)
		if err != nil {
			return nil, err
		}
		if err := waitListening(ctx, ns, natsAddr); err != nil {
			ns.stop()
			return nil, err
		}
		p.nats = ns
		env = append(env, "PORTCULLIS_NATS_URL=nats://"+natsAddr, "PORTCULLIS_NATS_USER="+natsUser)
	} else {
		env = append(env, "PORTCULLIS_NATS_LISTEN="+natsAddr)
	}
	srv, err := start("portcullis", dir, cpus, env, bin, "serve",
		"--listen", addr, "--upstream", "http://"+upstreamAddr, "--data-dir", filepath.Join(dir, "portcullis-data"))
	if err != nil {
		p.nats.stop()
		return nil, err
	}
	p.srv = srv
	if err := p.provision(ctx); err != nil {
		p.stop()
		return nil, err
	}
	return p, nil
}

// provision waits for the superuser, then creates the role and the user.
func (p *portcullisTarget) provision(ctx context.Context) error {
	if err := waitListening(ctx, p.srv, p.addr); err != nil {
		return err
	}
	hc := &fasthttp.HostClient{Addr: p.addr}
	super := basicAuth("elastic", superPassword)
	call := func(method, path, body string) (int, []byte, error) {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer fasthttp.ReleaseRequest(req)
		defer fasthttp.ReleaseResponse(resp)
		req.Header.SetMethod(method)
		req.SetRequestURI("http://" + p.addr + path)
		req.Header.Set("Authorization", super)
		if body != "" {
			req.Header.SetContentType("application/json")
			req.SetBodyString(body)
		}
		err := hc.DoTimeout(req, resp, 30*time.Second)
		return resp.StatusCode(), append([]byte(nil), resp.Body()...), err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, body, err := call("GET", "/_security/_authenticate", "")
		if err == nil && status == fasthttp.StatusOK {
			break
		}
		if err := p.srv.exited(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("portcullis: the bootstrap superuser does not authenticate: %d %s %v (log %s)", status, body, err, p.srv.log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	for _, c := range []struct{ method, path, body string }{
		{"PUT", "/_security/role/" + benchRole, `{"indices":[{"names":["bench-*"],"privileges":["read"]}]}`},
		{"PUT", "/_security/user/" + benchUser, `{"password":"` + benchPassword + `","roles":["` + benchRole + `"]}`},
	} {
		status, body, err := call(c.method, c.path, c.body)
		if err != nil || status != fasthttp.StatusOK {
			return fmt.Errorf("portcullis: %s %s: %d %s %v", c.method, c.path, status, body, err)
		}
	}
	return nil
}

// outcomes returns the number of outcomes in the AUTH stream: the events
// of its messages (several to a message, Portcullis-Events), counted by
// reading the messages' headers since the last call.
func (p *outcomeCounter) outcomes(ctx context.Context) (uint64, error) {
	if p.auth == nil {
		nc, err := nats.Connect("nats://"+p.natsAddr, nats.UserInfo(natsUser, natsPassword), nats.Timeout(5*time.Second))
		if err != nil {
			return 0, fmt.Errorf("nats connect: %w", err)
		}
		js, err := jetstream.New(nc)
		if err != nil {
			nc.Close()
			return 0, fmt.Errorf("jetstream: %w", err)
		}
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := js.OrderedConsumer(sctx, events.StreamAuth, jetstream.OrderedConsumerConfig{HeadersOnly: true})
		if err != nil {
			nc.Close()
			return 0, fmt.Errorf("stream %s: %w", events.StreamAuth, err)
		}
		p.nc, p.auth = nc, c
	}
	for {
		batch, err := p.auth.FetchNoWait(4096)
		if err != nil {
			return p.counted, fmt.Errorf("stream %s: %w", events.StreamAuth, err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			p.messages++
			h, k := m.Headers().Get(events.HeaderEvents), 1 // none: one event, as Portcullis published before packing
			var err error
			if h != "" {
				k, err = strconv.Atoi(h)
			}
			if err != nil || k < 1 {
				return p.counted, fmt.Errorf("stream %s: message without a valid %s header", events.StreamAuth, events.HeaderEvents)
			}
			p.counted += uint64(k)
		}
		if err := batch.Error(); err != nil {
			return p.counted, fmt.Errorf("stream %s: %w", events.StreamAuth, err)
		}
		if n == 0 {
			return p.counted, nil
		}
	}
}

// waitOutcomes waits (up to a minute) until at least want outcomes are in
// the AUTH stream, and returns how many are.
func (p *outcomeCounter) waitOutcomes(ctx context.Context, want uint64) (uint64, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := p.outcomes(ctx)
		if err != nil || n >= want {
			return n, err
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("%s: %d outcomes in the AUTH stream after a minute, want %d", p.name, n, want)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// settled returns the number of outcomes in the AUTH stream once it stops
// growing: the outcomes of the requests made before the load (provisioning,
// the workload's check) reach the stream up to the emitter's linger after
// their answers, and must be in the base the load's outcomes are counted
// from.
func (p *outcomeCounter) settled(ctx context.Context) (uint64, error) {
	n, err := p.outcomes(ctx)
	for err == nil {
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(cmp.Or(p.quiet, settleQuiet)):
		}
		var m uint64
		if m, err = p.outcomes(ctx); err == nil && m == n {
			return n, nil
		}
		n = m
	}
	return n, err
}

// settleQuiet is how long the AUTH stream must not grow to be settled:
// many times the emitter's linger (1 ms by default).
const settleQuiet = 200 * time.Millisecond

// lastGranted returns the last access_granted event in the AUTH stream
// (the last of its message's events), decoded into a generic document.
func (p *outcomeCounter) lastGranted(ctx context.Context) (map[string]any, error) {
	if _, err := p.outcomes(ctx); err != nil { // connects
		return nil, err
	}
	js, err := jetstream.New(p.nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	s, err := js.Stream(ctx, events.StreamAuth)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", events.StreamAuth, err)
	}
	m, err := s.GetLastMsgForSubject(ctx, events.AuthSubject(events.ActionAccessGranted))
	if err != nil {
		return nil, fmt.Errorf("%s: last access_granted outcome: %w", p.name, err)
	}
	var last []byte
	for ev := range events.SplitEvents(m.Data) {
		last = ev
	}
	var doc map[string]any
	if err := json.Unmarshal(last, &doc); err != nil {
		return nil, fmt.Errorf("%s: last access_granted outcome: %w", p.name, err)
	}
	return doc, nil
}

// sameOutcome tells whether two recorded outcomes are the same but for
// what differs from one request, process and policy to the next: the event
// id, the time, the request id (also the event's subject) and the policy
// revision's digits (not its length). It says what differs otherwise.
func sameOutcome(a, b map[string]any) error {
	norm := func(doc map[string]any) ([]byte, error) {
		d := maps.Clone(doc)
		// The ids, the time and the request id differ from one outcome to
		// the next, in length too (counters, a time's trailing zeros
		// trimmed); a revision is 16 hex digits.
		delete(d, "id")
		delete(d, "time")
		delete(d, "subject")
		if data, ok := d["data"].(map[string]any); ok {
			data = maps.Clone(data)
			delete(data, "request_id")
			if r, ok := data["policy_revision"].(string); ok {
				data["policy_revision"] = strings.Repeat("x", len(r))
			}
			d["data"] = data
		}
		return json.Marshal(d) // sorted keys
	}
	x, err := norm(a)
	if err != nil {
		return err
	}
	y, err := norm(b)
	if err != nil {
		return err
	}
	if !bytes.Equal(x, y) {
		return fmt.Errorf("outcomes differ:\n  %s\n  %s", x, y)
	}
	return nil
}

// close closes the harness's connection.
func (p *outcomeCounter) close() {
	if p.nc != nil {
		p.nc.Close()
	}
}

func (p *portcullisTarget) stop() {
	p.close()
	p.srv.stop()
	p.nats.stop() // after portcullis, which drains its connection
}

func basicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}
