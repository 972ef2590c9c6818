// Package outcomeproxy is the second floor of the load harness
// (bench/load): the bare proxy (bench/bareproxy) that also records one
// auth outcome per request, as `portcullis serve` does, with the product's
// own emitter (events.Emitter) into the AUTH stream of a JetStream server
// embedded as serve embeds it (file store, in-process client connection).
// It authenticates nothing and decides nothing: the outcome it records is
// the one Portcullis records for the harness's request, filled from the
// request but for what only authentication and the policy could know.
//
// Between the two floors and Portcullis the harness splits the gateway's
// cost: this floor over the bare proxy is what recording every outcome
// costs; Portcullis over this floor is the gateway's own work
// (authentication, classification, the decision, the request it rebuilds
// for Elasticsearch).
package outcomeproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/bench/bareproxy"
	"github.com/portcullis/portcullis/bench/upstream"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/internal/embedded"
)

// Config is where the proxy forwards to and where its JetStream lives.
type Config struct {
	Upstream string // host:port
	MaxConns int    // to the upstream; 0: fasthttp's default
	DataDir  string // the JetStream store (DataDir/jetstream) and the emitter's spool
	// NATSListen is host:port of a client port for the harness, which
	// counts the outcomes in the AUTH stream there as NATSUser with
	// NATSPassword; empty: none.
	NATSListen   string
	NATSUser     string
	NATSPassword string
	// Linger is the emitter's (events.EmitterConfig.Linger); 0: its
	// default, as serve has it.
	Linger time.Duration
}

// Proxy forwards every request as bareproxy does and records its outcome.
type Proxy struct {
	bare   *bareproxy.Proxy
	emit   *events.Emitter
	nodeID string
	seq    atomic.Uint64
}

// The parts of the outcome that Portcullis learns from authentication and
// the decision for the harness's user (bench/load): constants here, the
// values Portcullis records for that request (the native realm, the policy's
// rule and reason for a grant by role privileges in rego/authz.rego, a
// revision of 16 hex digits). The harness checks, before it measures, that
// this proxy's outcome is Portcullis's but for the request id, the event
// id, the time and the revision's digits.
const (
	nodeID   = "bench"
	user     = "bench"
	realm    = "default_native"
	authType = "realm"
	esAction = "indices:data/read/search"
	revision = "0123456789abcdef"
	rule     = "role_privileges"
	reason   = "the privileges of the user's roles cover every target of the request"
)

var roles = []string{"bench_reader"}

// Handle records the request's access_granted outcome, then forwards it.
// An outcome that cannot be recorded is a 503, as in Portcullis.
func (p *Proxy) Handle(ctx *fasthttp.RequestCtx) {
	var idBuf [32]byte
	id := append(append(idBuf[:0], p.nodeID...), '-')
	o := events.AuthOutcome{
		Action: events.ActionAccessGranted, Outcome: "success",
		Principal: user, User: user, Roles: roles, Realm: realm, AuthType: authType,
		Method: string(ctx.Method()), Path: string(ctx.Path()), Query: string(ctx.URI().QueryString()),
		RequestID: string(strconv.AppendUint(id, p.seq.Add(1), 36)), SourceIP: ctx.RemoteIP().String(),
		ESAction: esAction, PolicyRevision: revision, Rule: rule, Reason: reason,
	}
	if err := p.emit.Emit(time.Now(), o); err != nil {
		ctx.Error("outcome not recorded: "+err.Error(), fasthttp.StatusServiceUnavailable)
		return
	}
	p.bare.Handle(ctx)
}

// Serve runs the embedded JetStream and the emitter, and proxies the
// requests of ln until ctx ends; then it stops accepting requests, flushes
// the emitter's queue and stops NATS.
func Serve(ctx context.Context, ln net.Listener, cfg Config) error {
	sopts := embedded.Options(nodeID, cfg.DataDir)
	sopts.DontListen = true
	var copts []nats.Option
	if cfg.NATSListen != "" {
		// As serve: a client port with users, the process's own connection
		// as an internal user; the port checked first, since the server
		// does not report a port it cannot take (it never becomes ready).
		host, port, err := net.SplitHostPort(cfg.NATSListen)
		if err != nil {
			return fmt.Errorf("nats listen: %w", err)
		}
		if sopts.Port, err = strconv.Atoi(port); err != nil {
			return fmt.Errorf("nats listen: %w", err)
		}
		if sopts.Port == 0 {
			sopts.Port = server.RANDOM_PORT // nats-server reads 0 as its default port
		} else {
			l, err := net.Listen("tcp", cfg.NATSListen)
			if err != nil {
				return fmt.Errorf("nats listen: %w", err)
			}
			l.Close()
		}
		internal := "internal-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		sopts.Host, sopts.DontListen = host, false
		sopts.Users = []*server.User{{Username: "_internal", Password: internal},
			{Username: cfg.NATSUser, Password: cfg.NATSPassword}}
		copts = append(copts, nats.UserInfo("_internal", internal))
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.ReadyForConnections(30 * time.Second) {
		return errors.New("embedded nats: not ready after 30s")
	}
	nc, err := nats.Connect("", append(copts, nats.InProcessServer(srv))...)
	if err != nil {
		return fmt.Errorf("connect to embedded nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = events.EnsureStreams(sctx, js, events.StreamsConfig{})
	cancel()
	if err != nil {
		return err
	}
	em, err := events.NewEmitter(events.EmitterConfig{JS: js, Source: nodeID, AckTimeout: 10 * time.Second, Linger: cfg.Linger,
		SpoolDir: filepath.Join(cfg.DataDir, "spool", "auth")})
	if err != nil {
		return fmt.Errorf("outcome proxy: %w", err)
	}
	ectx, stopEmitter := context.WithCancel(context.WithoutCancel(ctx))
	emitted := make(chan error, 1)
	go func() { emitted <- em.Run(ectx) }()
	p := &Proxy{bare: bareproxy.New(cfg.Upstream, cfg.MaxConns), emit: em, nodeID: nodeID}
	serveErr := upstream.ServeHandler(ctx, ln, "bench-outcomeproxy", p.Handle)
	// Run flushes what is queued when its context ends, and closes the
	// spool.
	stopEmitter()
	if err := <-emitted; err != nil && !errors.Is(err, context.Canceled) {
		serveErr = errors.Join(serveErr, fmt.Errorf("emitter: %w", err))
	}
	return serveErr
}
