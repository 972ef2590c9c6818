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
	dir := t.TempDir()
	listen := func(c *Config) { c.NATS.Listen = "127.0.0.1:0" } // a port of the system's choice
	up := newUpstream(t)
	n := startNode(t, up, withDataDir(dir), listen)
	m := regexp.MustCompile(`takes clients on nats://(127\.0\.0\.1:\d+), user \[portcullis\], password:\s+(\S+)`).FindStringSubmatch(n.out.String())
	if m == nil {
		t.Fatalf("no NATS password shown: %q", n.out.String())
	}
	addr, password := m[1], m[2]
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("shown the port asked for, not the one taken: %s", addr)
	}
	if b, err := os.ReadFile(filepath.Join(dir, natsURLFile)); err != nil || strings.TrimSpace(string(b)) != "nats://"+addr {
		t.Fatalf("the address for the tools: %q %v", b, err)
	}
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
	env := map[string]string{}
	if rc := runEvents(context.Background(), args, &out, &errOut, envOf(env)); rc != 1 || !strings.Contains(errOut.String(), "PORTCULLIS_NATS_PASSWORD") {
		t.Fatalf("events tail without the password: exit %d: %s", rc, errOut.String())
	}
	env["PORTCULLIS_NATS_PASSWORD"] = password
	errOut.Reset()
	if rc := runEvents(context.Background(), args, &out, &errOut, envOf(env)); rc != 0 || !strings.Contains(out.String(), events.TypeAccountCreated) {
		t.Fatalf("events tail with the password: exit %d: %s%s", rc, out.String(), errOut.String())
	}

	// A tool given the data dir of another serve, which takes no NATS
	// clients, does not reach this one.
	other := t.TempDir()
	startNode(t, up, withDataDir(other))
	errOut.Reset()
	reset := []string{"-u", "elastic", "--data-dir", other}
	if rc := runResetPassword(context.Background(), reset, strings.NewReader(""), &out, &errOut, envOf(env)); rc != 1 || !strings.Contains(errOut.String(), "takes no NATS clients") {
		t.Fatalf("reset-password on the other serve's data dir: exit %d: %s", rc, errOut.String())
	}
	mustStatus(t, call(t, "GET", n.url+"/", "", basic(elasticAuth)...), 200, "elastic's password here unchanged")

	// A restart keeps the password, and shows none.
	nc.Close()
	n.stop()
	if _, err := os.Stat(filepath.Join(dir, natsURLFile)); !os.IsNotExist(err) {
		t.Fatalf("the address stays after the serve stopped: %v", err)
	}
	n = startNode(t, up, withDataDir(dir), listen)
	if strings.Contains(n.out.String(), "password") {
		t.Fatalf("restart showed a password: %q", n.out.String())
	}
	b, _ := os.ReadFile(filepath.Join(dir, natsURLFile))
	nc2, err := nats.Connect(strings.TrimSpace(string(b)), nats.UserInfo("portcullis", password))
	if err != nil {
		t.Fatalf("the first start's password after a restart: %v", err)
	}
	nc2.Close()

	// A password chosen later replaces the one made: the hash goes.
	n.stop()
	n = startNode(t, up, withDataDir(dir), listen, func(c *Config) { c.NATS.Password = "chosen-secret" })
	if _, err := os.Stat(hashFile); !os.IsNotExist(err) {
		t.Fatalf("the made password's hash stays beside nats.password: %v", err)
	}
	b, _ = os.ReadFile(filepath.Join(dir, natsURLFile))
	url := strings.TrimSpace(string(b))
	if nc3, err := nats.Connect(url, nats.UserInfo("portcullis", password)); err == nil {
		nc3.Close()
		t.Fatal("the made password still connects")
	}
	nc3, err := nats.Connect(url, nats.UserInfo("portcullis", "chosen-secret"))
	if err != nil {
		t.Fatalf("nats.password: %v", err)
	}
	nc3.Close()

	// Without it again, and without the hash: a new password is made.
	n.stop()
	n = startNode(t, up, withDataDir(dir), listen)
	m = regexp.MustCompile(`password:\s+(\S+)`).FindStringSubmatch(n.out.String())
	if m == nil || m[1] == password {
		t.Fatalf("no new password shown: %q", n.out.String())
	}
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
	var out bytes.Buffer
	_, err = connectNATS(context.Background(), cfg, slog.New(slog.DiscardHandler), &out)
	if err == nil || !strings.Contains(err.Error(), "nats.listen") || !strings.Contains(err.Error(), "off") {
		t.Fatalf("got %v", err)
	}
	// Nothing made for a start that failed: no password shown, none kept.
	if _, err := os.Stat(filepath.Join(cfg.DataDir, natsPasswordFile)); !os.IsNotExist(err) || out.Len() > 0 {
		t.Fatalf("a failed start kept a password (%v) or showed %q", err, out.String())
	}
}

// TestStoreInUse: how a tool tells whether a process holds a data dir's
// store.
func TestStoreInUse(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none")
	if used, err := storeInUse(missing); used || err != nil {
		t.Fatalf("a data dir that does not exist: %v %v", used, err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatal("the check made the data dir")
	}
	dir := t.TempDir()
	if used, err := storeInUse(dir); used || err != nil {
		t.Fatalf("a free data dir: %v %v", used, err)
	}
	lock, err := lockStore(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if used, err := storeInUse(dir); !used || err != nil {
		t.Fatalf("a held data dir: %v %v", used, err)
	}
	lock.Close()
	odd := t.TempDir()
	if err := os.Mkdir(filepath.Join(odd, "nats.lock"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := storeInUse(odd); err == nil {
		t.Fatal("a lock that cannot be taken is not an error")
	}
}
