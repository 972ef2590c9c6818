package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/bcrypt"

	"github.com/portcullis/portcullis/internal/dirlock"
	"github.com/portcullis/portcullis/internal/embedded"
)

// natsConn is a connection to NATS and, when embedded, the server it runs.
type natsConn struct {
	nc      *nats.Conn
	srv     *server.Server // nil for an external cluster
	lock    *os.File       // the store's lock, with srv
	urlFile string         // with srv: where the tools find its client port
}

// connectNATS starts the embedded JetStream server under cfg.DataDir, with
// its client port at nats.listen (see natsUsers for its credentials), or
// connects to the external cluster at nats.url. out shows a client
// password made on this start (printed once).
func connectNATS(ctx context.Context, cfg Config, log *slog.Logger, out io.Writer) (*natsConn, error) {
	opts := []nats.Option{
		nats.Name("portcullis " + cfg.NodeID),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats_disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("nats_reconnected") }),
	}
	if cfg.NATS.URL != "" {
		if cfg.NATS.Password != "" {
			opts = append(opts, nats.UserInfo(cfg.NATS.User, cfg.NATS.Password))
		}
		nc, err := nats.Connect(cfg.NATS.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connect to nats: %w", err)
		}
		return &natsConn{nc: nc}, nil
	}

	// nats-server does not lock its store: two processes on one store
	// (a serve running, a reset-password or events tail on its data dir)
	// would corrupt it.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockStore(ctx, cfg.DataDir)
	switch {
	case errors.Is(err, dirlock.ErrInUse):
		return nil, fmt.Errorf("embedded nats: data dir %w (another serve on it, or a tool working on it: reset-password, events tail; each replica needs a data dir of its own)", err)
	case errors.Is(err, dirlock.ErrNoLocks):
		log.WarnContext(ctx, "nats_store_not_locked", "data_dir", cfg.DataDir, "error", err)
	case err != nil:
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	unlock := func() {
		if lock != nil {
			lock.Close()
		}
	}
	urlFile := filepath.Join(cfg.DataDir, natsURLFile)
	if err := os.Remove(urlFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		unlock()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	sopts := embedded.Options(cfg.NodeID, cfg.DataDir)
	var made *madePassword
	if cfg.NATS.Listen != "" {
		host, port, err := net.SplitHostPort(cfg.NATS.Listen)
		if err != nil {
			unlock()
			return nil, fmt.Errorf("nats.listen: %w", err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			unlock()
			return nil, fmt.Errorf("nats.listen: port: %w", err)
		}
		if p == 0 {
			p = server.RANDOM_PORT // nats-server reads 0 as its default port
		} else {
			// Start does not report a port it cannot take: it logs it
			// (NoLog here) and never becomes ready. Checked first, so that
			// nothing is made for a start that fails.
			ln, err := net.Listen("tcp", cfg.NATS.Listen)
			if err != nil {
				unlock()
				return nil, fmt.Errorf("nats.listen: %w (another NATS, or another portcullis serve? set nats.listen to a free address, or to off)", err)
			}
			ln.Close()
		}
		sopts.Host, sopts.Port = host, p
		internal := randomString(24)
		if sopts.Users, made, err = natsUsers(ctx, cfg, internal, log); err != nil {
			unlock()
			return nil, err
		}
		opts = append(opts, nats.UserInfo(internalNATSUser, internal))
	} else {
		sopts.DontListen = true
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	stop := func() {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		stop()
		return nil, fmt.Errorf("embedded nats: not ready after 30s (data dir %s; nats.listen %q taken meanwhile?)", sopts.StoreDir, cfg.NATS.Listen)
	}
	if cfg.NATS.Listen != "" {
		// Where the tools find this server (connectServe), written once it
		// takes clients: the address nats.listen names, or the port given.
		if err := writeFile(urlFile, srv.ClientURL()); err != nil {
			stop()
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		if made != nil {
			if err := made.keep(out, srv.ClientURL(), cfg.NATS.User); err != nil {
				stop()
				return nil, err
			}
		}
		log.InfoContext(ctx, "nats_listening", "addr", srv.ClientURL(), "user", cfg.NATS.User)
	}
	opts = append(opts, nats.InProcessServer(srv))
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		stop()
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return &natsConn{nc: nc, srv: srv, lock: lock, urlFile: urlFile}, nil
}

// connectTool connects a command-line tool (reset-password, events tail):
// to nats.url; else to the embedded store under the data dir, opened here
// without a client port, when no serve holds it; else to the serve that
// does (connectServe).
func connectTool(ctx context.Context, cfg Config, log *slog.Logger) (*natsConn, error) {
	if cfg.NATS.URL != "" {
		return connectNATS(ctx, cfg, log, io.Discard)
	}
	store := cfg
	store.NATS.Listen = ""
	nc, err := connectNATS(ctx, store, log, io.Discard)
	if !errors.Is(err, dirlock.ErrInUse) {
		return nc, err
	}
	return connectServe(ctx, cfg, log)
}

// lockStore takes the store's lock under dir. A lock held for a moment (a
// tool checking whether a serve runs, storeInUse) is waited out briefly.
func lockStore(ctx context.Context, dir string) (*os.File, error) {
	deadline := time.Now().Add(storeLockWait)
	for {
		lock, err := dirlock.Lock(dir, "nats.lock")
		if !errors.Is(err, dirlock.ErrInUse) || time.Now().After(deadline) {
			return lock, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

const storeLockWait = 300 * time.Millisecond

// storeInUse tells whether a process holds the embedded store under dir
// (a serve, or a tool that opened it): whether its lock is taken. The
// address file alone cannot tell: a serve that was killed leaves it.
func storeInUse(dir string) (bool, error) {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	lock, err := dirlock.Lock(dir, "nats.lock")
	switch {
	case err == nil:
		return false, lock.Close()
	case errors.Is(err, dirlock.ErrInUse):
		return true, nil
	case errors.Is(err, dirlock.ErrNoLocks):
		_, err := os.Stat(filepath.Join(dir, natsURLFile)) // the best left to go by
		return err == nil, nil
	default:
		return false, err
	}
}

// connectServe connects a tool to the serve running on the data dir (the
// store is in use): at the client address it wrote there (natsURLFile),
// with nats.password.
func connectServe(ctx context.Context, cfg Config, log *slog.Logger) (*natsConn, error) {
	b, err := os.ReadFile(filepath.Join(cfg.DataDir, natsURLFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the process using %s takes no NATS clients (a serve with nats.listen off, or still starting, or another tool): give --nats-url, or try again", cfg.DataDir)
	}
	if err != nil {
		return nil, fmt.Errorf("the serve's NATS address: %w", err)
	}
	if cfg.NATS.Password == "" {
		return nil, fmt.Errorf("the serve on %s takes clients on %s: give its NATS password in PORTCULLIS_NATS_PASSWORD (shown at its first start), or --nats-url", cfg.DataDir, strings.TrimSpace(string(b)))
	}
	cfg.NATS.URL = strings.TrimSpace(string(b))
	return connectNATS(ctx, cfg, log, io.Discard)
}

// internalNATSUser is the embedded server's user for this process's own
// in-process connection, with a password made at each start and never
// shown or kept.
const internalNATSUser = "_portcullis_internal"

// Files of the data dir: the bcrypt hash of the client password made on
// the first start, and the client address of the running server.
const (
	natsPasswordFile = "nats-password.bcrypt"
	natsURLFile      = "nats.url"
)

// natsUsers are the users of the embedded server's client port: this
// process (internal's password) and the operator's nats.user, with
// nats.password or, without one, a password made on the first start: only
// its bcrypt hash is kept (natsPasswordFile, which the server compares
// against), and made.keep shows it once the server takes clients.
// Deleting the file makes a new one at the next start; setting
// nats.password deletes it.
func natsUsers(ctx context.Context, cfg Config, internal string, log *slog.Logger) (users []*server.User, made *madePassword, err error) {
	users = []*server.User{{Username: internalNATSUser, Password: internal}}
	path := filepath.Join(cfg.DataDir, natsPasswordFile)
	if cfg.NATS.Password != "" {
		if err := os.Remove(path); err == nil {
			log.InfoContext(ctx, "nats_password_replaced", "file", path, "why", "nats.password is set: the password made on the first start no longer works")
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("nats client password: %w", err)
		}
		return append(users, &server.User{Username: cfg.NATS.User, Password: cfg.NATS.Password}), nil, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		hash := strings.TrimSpace(string(b))
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, nil, fmt.Errorf("nats client password: %s is not a bcrypt hash (%w); delete it to make a new password", path, err)
		}
		return append(users, &server.User{Username: cfg.NATS.User, Password: hash}), nil, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, nil, fmt.Errorf("nats client password: %w", err)
	}
	made = &madePassword{password: randomString(24), path: path}
	if made.hash, err = bcrypt.GenerateFromPassword([]byte(made.password), bcrypt.DefaultCost); err != nil {
		return nil, nil, fmt.Errorf("nats client password: %w", err)
	}
	return append(users, &server.User{Username: cfg.NATS.User, Password: string(made.hash)}), made, nil
}

// madePassword is a client password made on this start, not kept yet.
type madePassword struct {
	password, path string
	hash           []byte
}

// keep shows the password, once, and then writes its hash: only when the
// server takes clients, and only a password shown is kept, so a start that
// fails leaves no password nobody saw.
func (m *madePassword) keep(out io.Writer, url, user string) error {
	if _, err := fmt.Fprintf(out, "\n  The embedded NATS server takes clients on %s, user [%s], password:\n\n    %s\n\n"+
		"  It is shown once; only its hash is kept (%s: delete it and restart for a new password).\n"+
		"  The outcomes as they come: nats --server %s --user %s --password '<password>' sub 'portcullis.auth.>'\n\n",
		url, user, m.password, m.path, url, user); err != nil {
		return fmt.Errorf("nats client password: not shown: %w", err)
	}
	if err := writeFile(m.path, string(m.hash)); err != nil {
		return fmt.Errorf("nats client password: %w", err)
	}
	return nil
}

// writeFile writes a line to path (mode 0600) whole or not at all.
func writeFile(path, line string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(line+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Close drains the connection and stops the embedded server.
func (c *natsConn) Close() {
	if err := c.nc.Drain(); err != nil {
		c.nc.Close()
	}
	for i := 0; i < 50 && !c.nc.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
		_ = os.Remove(c.urlFile) // the tools read it only while the store is locked
	}
	if c.lock != nil {
		c.lock.Close()
	}
}
