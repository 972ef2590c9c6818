// Package eventstest runs what the events package's users test against: a
// real nats-server with JetStream, embedded in the test process on loopback,
// with its store in the test's temporary directory.
package eventstest

import (
	"context"
	"errors"
	"iter"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StartServer starts a JetStream server that stops when the test ends.
func StartServer(tb testing.TB) *server.Server {
	tb.Helper()
	return StartServerWith(tb, server.Options{})
}

// StartServerWith starts a server with opts that stops when the test ends:
// JetStream on, no logs, no signal handling, its store in the test's
// temporary directory unless opts names one, and a random loopback port
// unless opts names one or says not to listen.
func StartServerWith(tb testing.TB, opts server.Options) *server.Server {
	tb.Helper()
	opts.JetStream, opts.NoLog, opts.NoSigs = true, true, true
	if opts.StoreDir == "" {
		opts.StoreDir = tb.TempDir()
	}
	if !opts.DontListen && opts.Port == 0 {
		opts.Host, opts.Port = "127.0.0.1", -1
	}
	srv, err := server.NewServer(&opts)
	if err != nil {
		tb.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		tb.Fatal("nats-server not ready")
	}
	tb.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	return srv
}

// Connect opens a connection of its own to srv (one "process"), closed when
// the test ends or earlier by the test.
func Connect(tb testing.TB, srv *server.Server) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	return ConnectWith(tb, srv.ClientURL())
}

// ConnectWith opens a connection to url with opts (e.g. credentials, or an
// in-process server), closed when the test ends or earlier by the test.
func ConnectWith(tb testing.TB, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js
}

// StreamMsgs is the number of messages in stream.
func StreamMsgs(tb testing.TB, js jetstream.JetStream, stream string) uint64 {
	tb.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		tb.Fatal(err)
	}
	si, err := s.Info(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return si.State.Msgs
}

// Messages yields the messages of stream, oldest first, as it holds them
// when called.
func Messages(tb testing.TB, js jetstream.JetStream, stream string) iter.Seq[*jetstream.RawStreamMsg] {
	tb.Helper()
	n := StreamMsgs(tb, js, stream)
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		tb.Fatal(err)
	}
	return func(yield func(*jetstream.RawStreamMsg) bool) {
		var seen uint64
		for seq := uint64(1); seen < n; seq++ {
			m, err := s.GetMsg(context.Background(), seq)
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				continue // deleted
			}
			if err != nil {
				tb.Fatal(err)
			}
			seen++
			if !yield(m) {
				return
			}
		}
	}
}
