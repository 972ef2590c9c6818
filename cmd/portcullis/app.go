package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/portcullis/portcullis/auditor"
	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/filerealm"
	"github.com/portcullis/portcullis/gateway/ldaprealm"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/lockout"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// app is one Portcullis process: NATS (embedded or not), projector, policy,
// outcome emitter and gateway, wired together.
type app struct {
	cfg       Config
	log       *slog.Logger
	out       io.Writer // where the bootstrap password is printed, once
	getenv    func(string) string
	nats      *natsConn
	js        jetstream.JetStream
	engine    *policy.Engine
	proj      *projector.Projector
	emitter   *events.Emitter
	gw        *gateway.Gateway
	auditor   *auditor.Auditor // nil when audit.disabled
	lag       lagCache         // the auditor's lag, for the metrics
	fileRealm *filerealm.Realm // nil when authc.file.users is empty
	lockouts  *lockout.Tracker // nil when authc.lockout.threshold is 0
	closeOnce sync.Once

	// compiled is what onChange last gave the policy, nil before. Only
	// onChange touches it: the projector calls it one at a time.
	compiled *compiledRoles
}

// newApp connects to NATS, ensures the streams and builds every part. Call
// Run to serve; Run closes what newApp opened.
func newApp(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer, getenv func(string) string) (*app, error) {
	if cfg.NodeID == "" {
		host, _ := os.Hostname()
		cfg.NodeID = fmt.Sprintf("%s-%s", host, randomString(4))
	}
	a := &app{cfg: cfg, log: log, out: out, getenv: getenv}
	var err error
	if a.nats, err = connectNATS(ctx, cfg, log, out); err != nil {
		return nil, err
	}
	fail := func(err error) (*app, error) {
		if a.emitter != nil {
			_ = a.emitter.Close()
		}
		a.nats.Close()
		return nil, err
	}
	if a.js, err = jetstream.New(a.nats.nc); err != nil {
		return fail(fmt.Errorf("jetstream: %w", err))
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	streams := cfg.streams()
	if err := events.EnsureStreams(sctx, a.js, streams); err != nil {
		return fail(err)
	}
	pcfg := projector.Config{JS: a.js, SnapshotEvery: cfg.Snapshot.Every, SnapshotInterval: cfg.Snapshot.Interval, ClockSkew: cfg.TokenClockSkew,
		APIKeyRetention: cfg.APIKeyRetentionPeriod, APIKeyClockSkew: cfg.APIKeyClockSkew}
	if !cfg.Snapshot.Disabled {
		if pcfg.Snapshots, err = events.EnsureSnapshots(sctx, a.js, streams); err != nil {
			return fail(err)
		}
	}
	if a.engine, err = policy.New(policy.Config{Dir: cfg.Policy.Dir}, policy.WithLogger(log)); err != nil {
		return fail(fmt.Errorf("policy: %w", err))
	}
	a.proj, err = projector.New(pcfg,
		projector.WithLogger(log),
		projector.WithOnChange(a.onChange))
	if err != nil {
		return fail(fmt.Errorf("projector: %w", err))
	}
	if a.emitter, err = events.NewEmitter(events.EmitterConfig{JS: a.js, Source: cfg.NodeID, Logger: log,
		// An ack lost without a disconnect (a leader change) fails the
		// publish after this long, and the emitter retries it.
		AckTimeout: 10 * time.Second,
		// What NATS cannot take waits on local disk.
		SpoolDir: cfg.spoolDir(), SpoolMaxBytes: int64(cfg.Spool.MaxBytes)}); err != nil {
		return fail(err)
	}
	if !cfg.Audit.Disabled {
		if a.auditor, err = newAuditor(cfg, a.js, log); err != nil {
			return fail(err)
		}
	}
	var fileRealm gateway.FileRealm
	if cfg.Authc.File.Users != "" {
		roles := cfg.Authc.File.UsersRoles
		if roles == "" {
			roles = filepath.Join(filepath.Dir(cfg.Authc.File.Users), "users_roles")
		}
		if a.fileRealm, err = filerealm.New(cfg.Authc.File.Users, roles, log); err != nil {
			return fail(err)
		}
		fileRealm = a.fileRealm
	}
	var ldapRealm gateway.LDAPRealm
	order := cfg.Authc.Order
	if l := cfg.Authc.LDAP; l.URL != "" {
		r, err := ldaprealm.New(ldaprealm.Config{
			URL: l.URL, UserDNTemplates: l.UserDNTemplates,
			UserSearchBaseDN: l.UserSearch.BaseDN, UserSearchFilter: l.UserSearch.Filter, UserSearchScope: l.UserSearch.Scope,
			BindDN: l.BindDN, BindPassword: l.BindPassword,
			CertificateAuthorities: l.SSL.CertificateAuthorities, VerificationMode: l.SSL.VerificationMode,
			GroupSearchBaseDN: l.GroupSearch.BaseDN, GroupSearchFilter: l.GroupSearch.Filter,
			RoleMapping: l.RoleMapping, Timeout: l.Timeout,
		})
		if err != nil {
			return fail(err)
		}
		ldapRealm = r
		if len(order) == 0 {
			order = []string{gateway.RealmNative, gateway.RealmFile, gateway.RealmLDAP}
		}
	}
	var lockouts gateway.Lockouts
	if l := cfg.Authc.Lockout; l.Threshold > 0 {
		if a.lockouts, err = lockout.New(lockout.Config{Threshold: l.Threshold, Window: l.Window, Duration: l.Duration, MaxTracked: l.MaxTracked}); err != nil {
			return fail(err)
		}
		lockouts = a.lockouts
	}
	var anon *gateway.Anonymous
	if an := cfg.Authc.Anonymous; len(an.Roles) > 0 {
		anon = &gateway.Anonymous{Username: an.Username, Roles: an.Roles, AuthzException: an.AuthzException}
	}
	a.gw, err = gateway.New(gateway.Config{
		Anonymous:       anon,
		RealmOrder:      order,
		FileRealm:       fileRealm,
		LDAPRealm:       ldapRealm,
		Lockouts:        lockouts,
		Listen:          cfg.Listen,
		Upstreams:       cfg.Upstream,
		NodeID:          cfg.NodeID,
		TokenTTL:        cfg.TokenTTL,
		BasicCacheTTL:   cfg.BasicCacheTTL,
		APIKeyClockSkew: cfg.APIKeyClockSkew,
		TokenClockSkew:  cfg.TokenClockSkew,
		UpstreamTimeout: cfg.UpstreamTimeout,
		Projection:      a.proj,
		Policy:          a.engine,
		Log:             events.Log{JS: a.js},
		Outcomes:        a.emitter,
		Metrics:         a,
		Logger:          log,
	})
	if err != nil {
		return fail(err)
	}
	return a, nil
}

// newAuditor builds the auditor over the Elasticsearch of audit.url (default
// the first upstream).
func newAuditor(cfg Config, js jetstream.JetStream, log *slog.Logger) (*auditor.Auditor, error) {
	url := cfg.Audit.URL
	if url == "" {
		url = cfg.Upstream[0]
	}
	es, err := elasticsearch.NewClient(elasticsearch.Config{
		Addresses: []string{url}, Username: cfg.Audit.Username, Password: cfg.Audit.Password,
	})
	if err != nil {
		return nil, fmt.Errorf("audit elasticsearch client: %w", err)
	}
	au, err := auditor.New(auditor.Config{JS: js, ES: es, Actions: cfg.Audit.Actions}, auditor.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("auditor: %w", err)
	}
	return au, nil
}

// onChange recompiles the policy when constraints, roles or API keys
// changed (a key's role descriptors are roles _apikey/<id>/<name>). It runs
// on the projector's writer before waiters are woken, so a constraint or
// role is enforced by the time its creation is answered. A compilation
// holds the projector's apply lock, and so delays the events behind it (a
// revocation), so it is skipped when it would change nothing that can be
// reached: when the roles of the role API are as compiled and every API
// key role is compiled already. That covers a key without descriptors
// created or invalidated, and a key with descriptors invalidated: its
// roles stay compiled until the next compilation, unreachable, since an
// invalidated key fails authentication and a key's roles are granted only
// to requests authenticated with that key (policy.APIKeyRolePrefix).
func (a *app) onChange(ch projector.Change) {
	var pcs []policy.Constraint
	if ch&projector.ChangeConstraint != 0 {
		cs := a.proj.Model().Constraints()
		pcs = make([]policy.Constraint, len(cs))
		for i, c := range cs {
			pcs[i] = policy.Constraint{ID: c.ID, Paths: c.Paths, Methods: c.Methods, Roles: c.Roles}
		}
	}
	var users, keys []policy.Role
	roles := false
	if ch&(projector.ChangeRole|projector.ChangeAPIKey) != 0 {
		model := a.proj.Model()
		users, keys = gateway.RolePolicyRoles(model), gateway.APIKeyPolicyRoles(model)
		roles = a.compiled == nil || !a.compiled.covers(users, keys)
	}
	ctx := context.Background()
	if pcs != nil && roles {
		// A start: both at once, one compilation. Should it fail, each is
		// tried alone, so that a constraint the policy refuses does not
		// hold back a role change (a revocation), nor the reverse.
		if err := a.engine.Set(ctx, pcs, append(slices.Clip(users), keys...)); err == nil {
			a.compiled = newCompiledRoles(users, keys)
			return
		}
	}
	if pcs != nil {
		if err := a.engine.SetConstraints(ctx, pcs); err != nil {
			a.log.Error("policy_compile_failed", "constraints", len(pcs), "error", err)
		}
	}
	if roles {
		if err := a.engine.SetRoles(ctx, append(slices.Clip(users), keys...)); err != nil {
			a.log.Error("policy_compile_failed", "roles", len(users)+len(keys), "error", err)
			return
		}
		a.compiled = newCompiledRoles(users, keys)
	}
}

// compiledRoles is what onChange last gave the policy.
type compiledRoles struct {
	users []policy.Role
	keys  map[string]policy.Role
}

func newCompiledRoles(users, keys []policy.Role) *compiledRoles {
	c := &compiledRoles{users: users, keys: make(map[string]policy.Role, len(keys))}
	for _, r := range keys {
		c.keys[r.Name] = r
	}
	return c
}

// covers reports whether compiling users and keys would change nothing
// reachable: the same roles of the role API, and API key roles that are
// all compiled already (the compiled ones may hold more: those of keys
// invalidated since).
func (c *compiledRoles) covers(users, keys []policy.Role) bool {
	if !reflect.DeepEqual(users, c.users) {
		return false
	}
	for _, r := range keys {
		if have, ok := c.keys[r.Name]; !ok || !reflect.DeepEqual(have, r) {
			return false
		}
	}
	return true
}

// Addr binds the gateway's listener and returns its address.
func (a *app) Addr() (net.Addr, error) { return a.gw.Listen() }

// Run serves until ctx ends, then shuts down in order: stop accepting and
// drain in-flight requests, flush outcomes, stop the projector, close NATS.
func (a *app) Run(ctx context.Context) error {
	defer a.close()
	bg, bgCancel := context.WithCancel(context.WithoutCancel(ctx))
	defer bgCancel()
	var back errgroup.Group // projector and emitter outlive the gateway
	back.Go(func() error { return a.proj.Run(bg) })
	if a.fileRealm != nil {
		back.Go(func() error { return a.fileRealm.Run(bg, 0) })
	}
	back.Go(func() error { a.engine.Watch(bg, a.cfg.Policy.WatchInterval); return nil })
	if a.lockouts != nil {
		back.Go(func() error { a.lockouts.Run(bg, a.js, a.log); return nil })
	}
	auditCtx, auditCancel := context.WithCancel(bg)
	auditDone := make(chan error, 1)
	if a.auditor != nil {
		go func() { auditDone <- a.auditor.Run(auditCtx) }()
	} else {
		auditDone <- nil
	}
	emitCtx, emitCancel := context.WithCancel(bg)
	emitDone := make(chan error, 1)
	go func() { emitDone <- a.emitter.Run(emitCtx) }()

	front, fctx := errgroup.WithContext(ctx)
	front.Go(func() error { return a.gw.Run(fctx) })
	front.Go(func() error { return a.bootstrap(fctx) })
	if addr := a.cfg.Debug.PprofListen; addr != "" {
		front.Go(func() error { return servePprof(fctx, addr, a.log) })
	}
	err := front.Wait()

	emitCancel()
	if eerr := <-emitDone; eerr != nil {
		err = errors.Join(err, eerr)
	}
	auditCancel() // after the last outcomes were published; drains its in-flight batches
	if aerr := <-auditDone; aerr != nil {
		err = errors.Join(err, aerr)
	}
	bgCancel()
	if perr := back.Wait(); perr != nil {
		err = errors.Join(err, perr)
	}
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}

func (a *app) close() { a.closeOnce.Do(a.nats.Close) }

// bootstrap creates the superuser elastic on the first start of an empty
// cluster, with PORTCULLIS_BOOTSTRAP_PASSWORD or a random password printed
// once. The append expects the subject to be empty, so among replicas
// starting together exactly one creates it.
func (a *app) bootstrap(ctx context.Context) error {
	for !a.proj.Ready() {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * time.Millisecond):
		}
	}
	const user = "elastic"
	subject := events.StateSubject(events.AggregateAccount, user)
	model := a.proj.Model()
	if model.SubjectSeq(subject) != 0 {
		return nil
	}
	if accounts, _, _ := model.Counts(); accounts > 0 {
		return nil
	}
	password := a.getenv("PORTCULLIS_BOOTSTRAP_PASSWORD")
	printed := false
	if password == "" {
		password = randomString(18)
		printed = true
	}
	hash, err := secret.HashPassword(password)
	if err != nil {
		return err
	}
	now := time.Now()
	ev, err := events.New(a.cfg.NodeID, events.TypeAccountCreated, user, now, events.AccountCreated{
		UID: events.NewID(now), Username: user, PasswordHash: hash, Roles: []string{"superuser"}, Authenticator: "index",
	})
	if err != nil {
		return err
	}
	seq, err := events.Append(ctx, a.js, subject, ev, &events.Expect{LastSubjectSeq: 0})
	if errors.Is(err, events.ErrConflict) {
		return nil // another replica bootstrapped
	}
	if err != nil {
		return fmt.Errorf("bootstrap superuser: %w", err)
	}
	if err := a.proj.WaitFor(ctx, events.StreamState, seq); err != nil {
		return fmt.Errorf("bootstrap superuser: %w", err)
	}
	a.log.InfoContext(ctx, "superuser_created", "user", user)
	o := userChange(a.cfg.NodeID, user, "cluster:admin/xpack/security/user/put", "PUT", "/_security/user/"+user,
		"superuser ["+user+"] created on the first start of an empty cluster", now)
	if err := a.emitter.Emit(now, o); err != nil {
		a.log.WarnContext(ctx, "outcome_not_recorded", "action", o.Action, "request_id", o.RequestID, "error", err)
	}
	if printed {
		fmt.Fprintf(a.out, "\n  Portcullis created the superuser [elastic] with the password:\n\n    %s\n\n  It is shown once. Change it with POST /_auth/account.\n\n", password)
	}
	return nil
}

func randomString(nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var _ gateway.LDAPRealm = (*ldaprealm.Realm)(nil)

// streams is the configuration of the JetStream streams cfg asks for.
func (c Config) streams() events.StreamsConfig {
	return events.StreamsConfig{Replicas: c.NATS.Replicas, TokenTTL: c.TokenTTL, AuthMaxAge: c.NATS.AuthMaxAge, AuthMaxBytes: int64(c.NATS.AuthMaxBytes)}
}
