package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/internal/dirlock"
)

// natsConn is a connection to NATS and, when embedded, the server it runs.
type natsConn struct {
	nc   *nats.Conn
	srv  *server.Server // nil for an external cluster
	lock *os.File       // the store's lock, with srv
}

// connectNATS starts the embedded JetStream server under cfg.DataDir (client
// port on loopback only when nats.listen is set, with credentials) or
// connects to the external cluster at nats.url.
func connectNATS(ctx context.Context, cfg Config, log *slog.Logger) (*natsConn, error) {
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
	lock, err := dirlock.Lock(cfg.DataDir, "nats.lock")
	switch {
	case errors.Is(err, dirlock.ErrInUse):
		return nil, fmt.Errorf("embedded nats: data dir %w (a running portcullis serve, or a reset-password or events tail on its data dir? reach a running serve through its nats.listen, or --nats-url)", err)
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
	sopts := &server.Options{
		ServerName: cfg.NodeID,
		JetStream:  true,
		StoreDir:   filepath.Join(cfg.DataDir, "jetstream"),
		NoSigs:     true,
		NoLog:      true,
		MaxPayload: 8 << 20,
	}
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
		sopts.Host, sopts.Port = host, p
		sopts.Username, sopts.Password = cfg.NATS.User, cfg.NATS.Password
		opts = append(opts, nats.UserInfo(cfg.NATS.User, cfg.NATS.Password))
	} else {
		sopts.DontListen = true
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("embedded nats: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		return nil, fmt.Errorf("embedded nats: not ready after 30s (data dir %s)", sopts.StoreDir)
	}
	if cfg.NATS.Listen != "" {
		log.InfoContext(ctx, "nats_listening", "addr", srv.ClientURL(), "user", cfg.NATS.User)
	}
	opts = append(opts, nats.InProcessServer(srv))
	nc, err := nats.Connect(srv.ClientURL(), opts...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		unlock()
		return nil, fmt.Errorf("connect to embedded nats: %w", err)
	}
	return &natsConn{nc: nc, srv: srv, lock: lock}, nil
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
	}
	if c.lock != nil {
		c.lock.Close()
	}
}
