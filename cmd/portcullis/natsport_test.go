package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/events"
)

// TestEmbeddedClientPort: by default the embedded NATS server takes
// clients on loopback. Without nats.password, the first start makes a
// password, shows it once and keeps only its bcrypt hash; with it, `nats
// sub 'portcullis.auth.>'` sees the outcomes, and the tools reach the
// running serve. A restart keeps the password and shows nothing.
func TestEmbeddedClientPort(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	listen := func(c *Config) { c.NATS.Listen = addr }
	up := newUpstream(t)
	n := startNode(t, up, withDataDir(dir), listen)
	m := regexp.MustCompile(`takes clients on \S+, user \[portcullis\], password:\s+(\S+)`).FindStringSubmatch(n.out.String())
	if m == nil {
		t.Fatalf("no NATS password shown: %q", n.out.String())
	}
	password := m[1]
	hashFile := filepath.Join(dir, natsPasswordFile)
	st, err := os.Stat(hashFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("hash file: %v %v", st, err)
	}
	if b, _ := os.ReadFile(hashFile); !bytes.HasPrefix(b, []byte("$2")) || bytes.Contains(b, []byte(password)) {
		t.Fatalf("hash file holds %q", b)
	}

	if _, err := nats.Connect("nats://"+addr, nats.UserInfo("portcullis", "guess")); err == nil {
		t.Fatal("a wrong NATS password connects")
	}
	if _, err := nats.Connect("nats://" + addr); err == nil {
		t.Fatal("no credentials connect")
	}
	nc, err := nats.Connect("nats://"+addr, nats.UserInfo("portcullis", password))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	sub, err := nc.SubscribeSync("portcullis.auth.>")
	if err != nil {
		t.Fatal(err)
	}
	mustStatus(t, call(t, "GET", n.url+"/data/x", "", basic("nobody:guess")...), 401, "a failure to see")
	for {
		msg, err := sub.NextMsg(10 * time.Second)
		if err != nil {
			t.Fatalf("no authentication_failed on portcullis.auth.>: %v", err)
		}
		if msg.Subject == events.AuthSubject(events.ActionAuthenticationFailed) {
			if !bytes.Contains(msg.Data, []byte(`"principal":"nobody"`)) {
				t.Fatalf("outcome %s", msg.Data)
			}
			break
		}
	}

	// The tools reach the running serve on its port, with the password.
	args := []string{"tail", "--stream", "state", "--all", "--no-follow", "--data-dir", dir}
	var out, errOut bytes.Buffer
	env := map[string]string{"PORTCULLIS_NATS_LISTEN": addr}
	if rc := runEvents(context.Background(), args, &out, &errOut, envOf(env)); rc != 1 || !strings.Contains(errOut.String(), "PORTCULLIS_NATS_PASSWORD") {
		t.Fatalf("events tail without the password: exit %d: %s", rc, errOut.String())
	}
	env["PORTCULLIS_NATS_PASSWORD"] = password
	errOut.Reset()
	if rc := runEvents(context.Background(), args, &out, &errOut, envOf(env)); rc != 0 || !strings.Contains(out.String(), events.TypeAccountCreated) {
		t.Fatalf("events tail with the password: exit %d: %s%s", rc, out.String(), errOut.String())
	}

	// A restart keeps the password, and shows none.
	nc.Close()
	n.stop()
	n = startNode(t, up, withDataDir(dir), listen)
	if strings.Contains(n.out.String(), "password") {
		t.Fatalf("restart showed a password: %q", n.out.String())
	}
	nc2, err := nats.Connect("nats://"+addr, nats.UserInfo("portcullis", password))
	if err != nil {
		t.Fatalf("the first start's password after a restart: %v", err)
	}
	nc2.Close()
}

// TestEmbeddedClientPortTaken: a client port another process holds is a
// clear error at start, not a server that never becomes ready.
func TestEmbeddedClientPortTaken(t *testing.T) {
	cfg := defaultConfig()
	cfg.DataDir = t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg.NATS.Listen = ln.Addr().String()
	_, err = connectNATS(context.Background(), cfg, slog.New(slog.DiscardHandler), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "nats.listen") || !strings.Contains(err.Error(), "off") {
		t.Fatalf("got %v", err)
	}
}
