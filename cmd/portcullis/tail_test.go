package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/events/eventstest"
)

func TestEventsTailOptions(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	ten := now.Add(-10 * time.Minute)
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		o       tailOptions
		policy  jetstream.DeliverPolicy
		start   *time.Time
		filter  []string
		wantErr string
	}{
		{o: tailOptions{stream: "auth"}, policy: jetstream.DeliverNewPolicy},
		{o: tailOptions{stream: "AUTH", all: true}, policy: jetstream.DeliverAllPolicy},
		{o: tailOptions{stream: "state", since: "10m", noFollow: true}, policy: jetstream.DeliverByStartTimePolicy, start: &ten},
		{o: tailOptions{stream: "tokens", since: "2026-12-06T10:00:00Z"}, policy: jetstream.DeliverByStartTimePolicy, start: &at},
		{o: tailOptions{stream: "auth", subject: "portcullis.auth.authentication_failed", count: 3}, policy: jetstream.DeliverNewPolicy, filter: []string{"portcullis.auth.authentication_failed"}},
		{o: tailOptions{stream: "audit"}, wantErr: "want auth, state or tokens"},
		{o: tailOptions{stream: "auth", subject: "portcullis.token.login"}, wantErr: "not in the auth stream's subjects"},
		{o: tailOptions{stream: "auth", all: true, since: "1h"}, wantErr: "give one"},
		{o: tailOptions{stream: "auth", noFollow: true}, wantErr: "prints nothing"},
		{o: tailOptions{stream: "auth", since: "-5m"}, wantErr: "positive duration"},
		{o: tailOptions{stream: "auth", since: "yesterday"}, wantErr: "RFC 3339"},
		{o: tailOptions{stream: "auth", count: -1}, wantErr: "want a count"},
	} {
		got, err := c.o.consumerConfig(now)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%+v: error %v, want %q", c.o, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%+v: %v", c.o, err)
			continue
		}
		if got.DeliverPolicy != c.policy || fmt.Sprint(got.FilterSubjects) != fmt.Sprint(c.filter) ||
			(got.OptStartTime == nil) != (c.start == nil) || c.start != nil && !got.OptStartTime.Equal(*c.start) {
			t.Errorf("%+v: %+v, want policy %v start %v filter %v", c.o, got, c.policy, c.start, c.filter)
		}
	}
}

// TestEventsTail: `portcullis events tail` against a running server's
// client port prints the outcomes of the AUTH stream one per line (packed
// messages split), filters by subject, follows new ones, and prints the
// STATE stream without any password in the clear.
func TestEventsTail(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	n := startNode(t, up, withNATSListen(natsAddr))
	env := envOf(map[string]string{"PORTCULLIS_NATS_PASSWORD": "nats-secret"})
	conn := []string{"--nats-url", "nats://" + natsAddr}
	tail := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rc := runEvents(ctx, append(append([]string{"tail"}, args...), conn...), &out, &errOut, env)
		return rc, out.String(), errOut.String()
	}

	const granted, failed = 30, 3
	for i := range granted {
		mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", append(basic(elasticAuth), "X-Opaque-Id", fmt.Sprintf("ok-%d", i))...), 200, "granted")
	}
	for i := range failed {
		mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", append(basic("elastic:wrong-password"), "X-Opaque-Id", fmt.Sprintf("bad-%d", i))...), 401, "failed")
	}
	// Every request's outcomes in the stream (the emitter publishes them
	// asynchronously): one access_granted each, realm_authentication_failed
	// and authentication_failed for each failure; and the bootstrap's
	// security_config_change.
	js := connectJS(t, "nats://"+natsAddr, nats.UserInfo("portcullis", "nats-secret"))
	want := granted + 2*failed + 1
	deadline := time.Now().Add(20 * time.Second)
	inStream, msgs := 0, 0
	for inStream < want && time.Now().Before(deadline) {
		inStream, msgs = 0, 0
		for m := range eventstest.Messages(t, js, events.StreamAuth) {
			inStream += events.CountEvents(m.Data)
			msgs++
		}
		time.Sleep(20 * time.Millisecond)
	}
	if inStream != want {
		t.Fatalf("%d outcomes in the AUTH stream, want %d", inStream, want)
	}
	// A message packing three outcomes, as the emitter writes them under
	// load: three lines.
	var pack []byte
	for i := range 3 {
		o := events.AuthOutcome{Action: events.ActionAccessGranted, Outcome: "success", User: "elastic", RequestID: fmt.Sprintf("pack-%d", i)}
		ev, err := events.New("test", events.AuthType(o.Action), o.RequestID, time.Now(), o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ev.Encode()
		if err != nil {
			t.Fatal(err)
		}
		pack = append(append(pack, b...), '\n')
	}
	if _, err := js.PublishMsg(context.Background(), &nats.Msg{Subject: events.AuthSubject(events.ActionAccessGranted), Data: pack,
		Header: nats.Header{events.HeaderEvents: []string{"3"}}}); err != nil {
		t.Fatal(err)
	}
	want += 3

	rc, out, errOut := tail("--all", "--no-follow")
	if rc != 0 {
		t.Fatalf("events tail --all --no-follow: exit %d: %s", rc, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != want {
		t.Fatalf("%d lines for %d outcomes in %d messages:\n%s", len(lines), want, msgs, out)
	}
	ids := map[string]int{}
	for _, l := range lines {
		var ev struct {
			SpecVersion, Type, Subject string
			Data                       events.AuthOutcome
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.SpecVersion != events.SpecVersion || !strings.HasPrefix(ev.Type, "portcullis.auth.") {
			t.Fatalf("not an auth CloudEvent (%v): %s", err, l)
		}
		ids[ev.Data.RequestID]++
	}
	for i := range granted {
		if ids[fmt.Sprintf("ok-%d", i)] != 1 {
			t.Errorf("request ok-%d: %d events printed, want 1", i, ids[fmt.Sprintf("ok-%d", i)])
		}
	}
	for i := range 3 {
		if ids[fmt.Sprintf("pack-%d", i)] != 1 {
			t.Errorf("packed outcome %d: %d events printed, want 1", i, ids[fmt.Sprintf("pack-%d", i)])
		}
	}

	rc, out, errOut = tail("--all", "--no-follow", "--subject", "portcullis.auth.authentication_failed")
	if rc != 0 || strings.Count(out, "\n") != failed || strings.Count(out, `"action":"authentication_failed"`) != failed {
		t.Errorf("--subject authentication_failed: exit %d, %d lines, want %d failures: %s%s", rc, strings.Count(out, "\n"), failed, out, errOut)
	}
	rc, out, _ = tail("--all", "-n", "4")
	if rc != 0 || strings.Count(out, "\n") != 4 {
		t.Errorf("-n 4: exit %d, %d lines", rc, strings.Count(out, "\n"))
	}

	// Following: the new outcomes only, as they come.
	done := make(chan struct{})
	var followOut string
	go func() {
		defer close(done)
		rc, followOut, errOut = tail("-n", "2")
		if rc != 0 {
			t.Errorf("events tail -n 2: exit %d: %s", rc, errOut)
		}
	}()
	for i := 0; ; i++ {
		select {
		case <-done:
			if strings.Count(followOut, "\n") != 2 || strings.Contains(followOut, `"ok-0"`) {
				t.Errorf("followed: want two new outcomes, got %s", followOut)
			}
			goto state
		case <-time.After(50 * time.Millisecond):
			if i > 400 {
				t.Fatal("events tail -n 2 did not see two new outcomes in 20s")
			}
			mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", append(basic(elasticAuth), "X-Opaque-Id", fmt.Sprintf("new-%d", i))...), 200, "granted")
		}
	}
state:
	rc, out, errOut = tail("--stream", "state", "--all", "--no-follow")
	if rc != 0 || !strings.Contains(out, `"type":"`+events.TypeAccountCreated+`"`) {
		t.Errorf("--stream state: exit %d: %s%s", rc, out, errOut)
	}
	if strings.Contains(out, bootstrapPassword) {
		t.Error("the STATE stream printed a password in the clear")
	}

	// Errors: a stream that is not one, no server.
	if rc, _, errOut := tail("--stream", "audit"); rc != 2 || !strings.Contains(errOut, "want auth, state or tokens") {
		t.Errorf("--stream audit: exit %d: %s", rc, errOut)
	}
	var errBuf bytes.Buffer
	if rc := runEvents(context.Background(), []string{"tail", "--nats-url", "nats://" + freeAddr(t)}, &bytes.Buffer{}, &errBuf, env); rc != 1 || !strings.Contains(errBuf.String(), "connect to nats") {
		t.Errorf("no server: exit %d: %s", rc, errBuf.String())
	}
	if rc := runEvents(context.Background(), []string{"follow"}, &bytes.Buffer{}, &errBuf, env); rc != 2 {
		t.Errorf("events follow: exit %d", rc)
	}
	// The gateway's flags are serve's, not a tool's.
	errBuf.Reset()
	if rc := runEvents(context.Background(), []string{"tail", "--listen", "127.0.0.1:1"}, &bytes.Buffer{}, &errBuf, env); rc != 2 || !strings.Contains(errBuf.String(), "not defined: -listen") {
		t.Errorf("events tail --listen: exit %d: %s", rc, errBuf.String())
	}
}

// TestEmbeddedStoreLocked: a command on the data dir of a running serve is
// refused (nats-server does not lock its store, two servers on one would
// corrupt it); once serve stops, the same command reads the store.
func TestEmbeddedStoreLocked(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, newUpstream(t), withDataDir(dir))
	var out, errOut bytes.Buffer
	args := []string{"tail", "--stream", "state", "--all", "--no-follow", "--data-dir", dir}
	env := envOf(nil)
	// The serve takes no NATS clients (the harness's nodes have nats.listen
	// off): the tool says so, and does not open the store.
	if rc := runEvents(context.Background(), args, &out, &errOut, env); rc != 1 || !strings.Contains(errOut.String(), "takes no NATS clients") {
		t.Fatalf("events tail on a running serve's data dir: exit %d: %s", rc, errOut.String())
	}
	errOut.Reset()
	if rc := runResetPassword(context.Background(), []string{"-u", "elastic", "--data-dir", dir}, strings.NewReader(""), &out, &errOut, env); rc != 1 || !strings.Contains(errOut.String(), "takes no NATS clients") {
		t.Fatalf("reset-password on a running serve's data dir: exit %d: %s", rc, errOut.String())
	}
	errOut.Reset()
	if rc := runEvents(context.Background(), []string{"tail", "--all", "--data-dir", dir}, &out, &errOut, env); rc != 1 || !strings.Contains(errOut.String(), "takes no NATS clients") {
		t.Fatalf("events tail --all (following) on a running serve's data dir: exit %d: %s", rc, errOut.String())
	}
	n.stop()
	// A serve killed leaves its address file: following must not trust it.
	if err := os.WriteFile(filepath.Join(dir, natsURLFile), []byte("nats://"+freeAddr(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	errOut.Reset()
	if rc := runEvents(context.Background(), []string{"tail", "--all", "--data-dir", dir}, &out, &errOut, env); rc != 2 || !strings.Contains(errOut.String(), "following needs the running server") {
		t.Fatalf("events tail --all with a stale address file: exit %d: %s", rc, errOut.String())
	}
	out.Reset()
	if rc := runEvents(context.Background(), args, &out, &errOut, envOf(nil)); rc != 0 || !strings.Contains(out.String(), events.TypeAccountCreated) {
		t.Fatalf("events tail on a stopped serve's data dir: exit %d: %s%s", rc, out.String(), errOut.String())
	}
}

// slowWriter blocks on its first write, as a pager does before its reader
// scrolls.
type slowWriter struct {
	delay time.Duration
	once  bool
	n     int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	if !w.once {
		w.once = true
		time.Sleep(w.delay)
	}
	w.n += bytes.Count(p, []byte("\n"))
	return len(p), nil
}

// TestEventsTailNoFollowExpired: --no-follow ends when the events still to
// come leave the stream (its age limit) before they are delivered, instead
// of waiting for a message that will never come.
func TestEventsTailNoFollowExpired(t *testing.T) {
	natsAddr := freeAddr(t)
	startNode(t, newUpstream(t), withNATSListen(natsAddr))
	js := connectJS(t, "nats://"+natsAddr, nats.UserInfo("portcullis", "nats-secret"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TAIL_EXPIRE", Subjects: []string{"tail.expire"}, MaxAge: time.Second}); err != nil {
		t.Fatal(err)
	}
	const msgs = 3000
	line := []byte(`{"specversion":"1.0","pad":"` + strings.Repeat("x", 2000) + `"}`)
	for range msgs {
		if _, err := js.PublishAsync("tail.expire", line); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		t.Fatal("publishing timed out")
	}
	w := &slowWriter{delay: 2500 * time.Millisecond}
	start := time.Now()
	err := tailEvents(ctx, js, "TAIL_EXPIRE", jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}, tailOptions{noFollow: true}, bufio.NewWriter(w))
	if err != nil {
		t.Fatalf("tail of an expiring stream: %v after %v", err, time.Since(start))
	}
	if w.n == 0 || w.n >= msgs {
		t.Errorf("%d of %d events printed: want the ones delivered before the rest expired", w.n, msgs)
	}
}
