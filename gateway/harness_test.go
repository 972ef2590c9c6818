package gateway

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/internal/syncbuf"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// memState is an in-memory stand-in for JetStream and the projector, for
// unit tests of the gateway alone: appends apply to the model at once, with
// the same optimistic concurrency rule JetStream enforces. The end-to-end
// tests in cmd/portcullis use the real ones.
type memState struct {
	mu     sync.Mutex
	model  *projector.Model
	seq    map[string]uint64
	engine *policy.Engine
	// notReady makes Ready answer false (health before catch-up).
	notReady atomic.Bool
}

func (m *memState) Model() *projector.Model                       { return m.model }
func (m *memState) Ready() bool                                   { return !m.notReady.Load() }
func (m *memState) WaitFor(context.Context, string, uint64) error { return nil }
func (m *memState) WaitForLatest(context.Context, string) error   { return nil }

func (m *memState) Append(ctx context.Context, subject string, ev events.Event, expect *events.Expect) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	stream := events.StreamState
	if strings.HasPrefix(subject, "portcullis.token.") {
		stream = events.StreamTokens
	}
	if expect != nil && m.model.SubjectSeq(subject) != expect.LastSubjectSeq {
		return 0, events.ErrConflict
	}
	m.seq[stream]++
	ch, err := m.model.Apply(stream, m.seq[stream], subject, ev)
	if err != nil {
		return 0, err
	}
	if ch&projector.ChangeConstraint != 0 {
		var pcs []policy.Constraint
		for _, c := range m.model.Constraints() {
			pcs = append(pcs, policy.Constraint{ID: c.ID, Paths: c.Paths, Methods: c.Methods, Roles: c.Roles})
		}
		if err := m.engine.SetConstraints(ctx, pcs); err != nil {
			return 0, err
		}
	}
	if ch&(projector.ChangeRole|projector.ChangeAPIKey) != 0 {
		if err := m.engine.SetRoles(ctx, PolicyRoles(m.model)); err != nil {
			return 0, err
		}
	}
	return m.seq[stream], nil
}

// outcomes records what the gateway emitted.
type outcomes struct {
	mu   sync.Mutex
	list []events.AuthOutcome
	full bool
}

// Pending and SpoolBytes report a fixed backlog (gateway.Backlog).
func (o *outcomes) Pending() int      { return 3 }
func (o *outcomes) SpoolBytes() int64 { return 512 }

func (o *outcomes) Emit(_ time.Time, oc events.AuthOutcome) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.full {
		return events.ErrEmitterFull
	}
	o.list = append(o.list, oc)
	return nil
}

// reset forgets the outcomes recorded so far (keeping the list's memory).
func (o *outcomes) reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.list = o.list[:0]
}

func (o *outcomes) last() events.AuthOutcome {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.list) == 0 {
		return events.AuthOutcome{}
	}
	return o.list[len(o.list)-1]
}

type testGateway struct {
	g     *Gateway
	state *memState
	out   *outcomes
	logs  *syncbuf.Buffer
	url   string
}

// newTestGateway serves a gateway over real TCP on loopback in front of
// upstreamURL, with an account "admin" (role superuser, password
// "admin-pw") and "reader" (role reader, password "reader-pw") allowed to
// GET and HEAD under /data.
func newTestGateway(t testing.TB, upstreamURL string, mutate ...func(*Config)) *testGateway {
	t.Helper()
	engine, err := policy.New(policy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	st := &memState{model: projector.NewModel(), seq: map[string]uint64{}, engine: engine}
	out := &outcomes{}
	logs := &syncbuf.Buffer{}
	cfg := Config{
		Listen: "127.0.0.1:0", Upstreams: []string{upstreamURL}, NodeID: "test",
		Projection: st, Policy: engine, Log: st, Outcomes: out,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, m := range mutate {
		m(&cfg)
	}
	g, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, a := range []struct{ user, pw, role string }{{"admin", "admin-pw", "superuser"}, {"reader", "reader-pw", "reader"}} {
		h, _ := secret.HashPassword(a.pw)
		ev, _ := events.New("test", events.TypeAccountCreated, a.user, now, events.AccountCreated{UID: a.user + "-1", Username: a.user, PasswordHash: h, Roles: []string{a.role}})
		if _, err := st.Append(context.Background(), events.StateSubject(events.AggregateAccount, a.user), ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	ev, _ := events.New("test", events.TypeConstraintCreated, "c1", now, events.ConstraintCreated{ID: "c1", Paths: []string{"/data"}, Methods: []string{"get", "head", "post"}, Roles: []string{"reader"}})
	if _, err := st.Append(context.Background(), events.StateSubject(events.AggregateConstraint, "c1"), ev, nil); err != nil {
		t.Fatal(err)
	}
	addr, err := g.Listen()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway Run: %v", err)
		}
	})
	return &testGateway{g: g, state: st, out: out, logs: logs, url: "http://" + addr.(*net.TCPAddr).String()}
}
