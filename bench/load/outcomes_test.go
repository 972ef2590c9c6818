package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// TestOutcomeCounterSettles checks that the counter counts the events of
// packed messages, and that the base taken before a load waits for
// outcomes still on their way (an emitter lingering) instead of leaving
// them to be counted as the load's.
func TestOutcomeCounterSettles(t *testing.T) {
	srv, err := natsserver.NewServer(&natsserver.Options{JetStream: true, StoreDir: t.TempDir(), Host: "127.0.0.1", Port: -1,
		NoLog: true, NoSigs: true, Users: []*natsserver.User{{Username: natsUser, Password: natsPassword}}})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	nc, err := nats.Connect(srv.ClientURL(), nats.UserInfo(natsUser, natsPassword))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := events.EnsureStreams(ctx, js, events.StreamsConfig{}); err != nil {
		t.Fatal(err)
	}
	publish := func(n int) {
		t.Helper()
		m := nats.NewMsg(events.AuthSubject(events.ActionAccessGranted))
		m.Header.Set(events.HeaderEvents, strconv.Itoa(n))
		m.Data = []byte(strings.Repeat("{}\n", n))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	publish(3)
	publish(1)

	c := &outcomeCounter{name: "test", natsAddr: strings.TrimPrefix(srv.ClientURL(), "nats://")}
	defer c.close()
	late := make(chan struct{})
	go func() {
		defer close(late)
		time.Sleep(settleQuiet / 2)
		publish(2)
	}()
	n, err := c.settled(ctx)
	<-late
	if err != nil {
		t.Fatal(err)
	}
	if n != 6 || c.messages != 3 {
		t.Errorf("settled at %d outcomes in %d messages, want 6 in 3", n, c.messages)
	}
	publish(4)
	if n, err := c.waitOutcomes(ctx, 10); err != nil || n != 10 {
		t.Errorf("waitOutcomes: %d, %v; want 10", n, err)
	}
}
