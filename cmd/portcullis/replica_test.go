package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestTwoReplicas: two gateways on one NATS see each other's writes at once.
func TestTwoReplicas(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	a := startNode(t, up, withNATSListen(natsAddr))
	b := startNode(t, up, withNATSURL("nats://"+natsAddr))
	su := basic(elasticAuth)

	// An account created on A logs in on B at once.
	mustStatus(t, call(t, "PUT", a.url+"/_auth/account", `{"username":"carol","password":"secret1","roles":["r"]}`, su...), 200, "create on A")
	mustStatus(t, call(t, "POST", a.url+"/security/constraint/", `{"paths":["/data"],"methods":["get"],"roles":["r"]}`, su...), 200, "constraint on A")
	r := call(t, "POST", b.url+"/login", `{"username":"carol","password":"secret1"}`)
	mustStatus(t, r, 200, "login on B right after create on A")
	tok := r.json(t)["token"].(string)
	// The token issued on B works on A at once (A catches up on an unknown token).
	mustStatus(t, call(t, "GET", a.url+"/data/x?token="+tok, ""), 200, "B's token on A")

	// A logout on B is refused on A.
	mustStatus(t, call(t, "POST", b.url+"/logout", "", "Cookie", "eaid="+tok), 200, "logout on B")
	start := time.Now()
	for {
		r := call(t, "GET", a.url+"/data/x?token="+tok, "")
		if r.Status == 401 {
			break
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("token still accepted on A %s after logout on B", time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("logout on B refused on A after %s", time.Since(start))

	// The TOKENS stream holds one subject per kind of event, never one per
	// token: the NATS server indexes every subject and rebuilds that index
	// when it recovers the stream (events.TokensSubject).
	for i := 0; i < 3; i++ {
		mustStatus(t, call(t, "POST", a.url+"/login", `{"username":"carol","password":"secret1"}`), 200, "login on A")
	}
	js := connectJS(t, "nats://"+natsAddr, nats.UserInfo("portcullis", "nats-secret"))
	st, err := js.Stream(t.Context(), events.StreamTokens)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(">"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"portcullis.token.issued": 4, "portcullis.token.revoked": 1}
	if !maps.Equal(info.State.Subjects, want) {
		t.Fatalf("TOKENS subjects %v, want %v", info.State.Subjects, want)
	}

	// Concurrent duplicate creates across replicas: exactly one wins.
	for round := 0; round < 5; round++ {
		user := fmt.Sprintf("dup%d", round)
		body := fmt.Sprintf(`{"username":%q,"password":"secret1","roles":["r"]}`, user)
		var wg sync.WaitGroup
		statuses := make([]int, 4)
		for i := range statuses {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				target := a.url
				if i%2 == 1 {
					target = b.url
				}
				statuses[i] = call(t, "PUT", target+"/_auth/account", body, su...).Status
			}(i)
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 409:
				conflicts++
			}
		}
		if ok != 1 || conflicts != len(statuses)-1 {
			t.Fatalf("round %d: statuses %v, want exactly one 200 and the rest 409", round, statuses)
		}
	}
}

// TestRestart: a replica restarted on the same data dir has its accounts,
// constraints and unexpired tokens; revoked tokens stay revoked.
func TestRestart(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	n := startNode(t, up, withDataDir(dir))
	su := basic(elasticAuth)
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"dave","password":"secret1","roles":["r"]}`, su...), 200, "create")
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/d"],"methods":["get"],"roles":["r"]}`, su...), 200, "constraint")
	keep := call(t, "POST", n.url+"/login", `{"username":"dave","password":"secret1"}`).json(t)["token"].(string)
	drop := call(t, "POST", n.url+"/login", `{"username":"dave","password":"secret1"}`).json(t)["token"].(string)
	mustStatus(t, call(t, "POST", n.url+"/logout?token="+drop, ""), 200, "logout")
	n.stop()

	n2 := startNode(t, up, withDataDir(dir))
	mustStatus(t, call(t, "GET", n2.url+"/d/x?token="+keep, ""), 200, "kept token after restart")
	mustStatus(t, call(t, "GET", n2.url+"/d/x?token="+drop, ""), 401, "revoked token after restart")
	mustStatus(t, call(t, "GET", n2.url+"/d/x", "", basic("dave:secret1")...), 200, "account after restart")
	mustStatus(t, call(t, "GET", n2.url+"/e/x", "", basic("dave:secret1")...), 403, "constraint scope after restart")
	if strings.Contains(n2.out.String(), "password") {
		t.Fatal("a restart on a bootstrapped data dir printed a bootstrap password")
	}
}

// TestMain lets a test re-run this binary as `portcullis serve`, for the
// SIGKILL test.
func TestMain(m *testing.M) {
	if args := os.Getenv("PORTCULLIS_TEST_SUBPROCESS"); args != "" {
		os.Exit(run(strings.Split(args, " "), os.Stdout, os.Stderr, os.Getenv))
	}
	os.Exit(m.Run())
}

type proc struct {
	cmd *exec.Cmd
	url string
	out *bytes.Buffer
}

func startProc(t *testing.T, up *upstream, dir string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"PORTCULLIS_TEST_SUBPROCESS=serve --listen "+addr+" --upstream "+up.srv.URL+" --data-dir "+dir,
		"PORTCULLIS_BOOTSTRAP_PASSWORD="+bootstrapPassword,
		"PORTCULLIS_LOG_LEVEL=warn",
		"PORTCULLIS_NATS_LISTEN=off",     // tests run many servers at once
		"PORTCULLIS_AUDIT_DISABLED=true") // the recording upstream is no Elasticsearch
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, url: "http://" + addr, out: out}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r, err := tryCall("GET", p.url+"/", basic(elasticAuth)...)
		if err == nil && r == 200 {
			return p
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("subprocess not serving after 30s:\n%s", out)
	return nil
}

// TestRestartAfterSIGKILL: state written before a SIGKILL survives it, and
// no secret is stored in the clear under --data-dir.
func TestRestartAfterSIGKILL(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	p := startProc(t, up, dir)
	su := basic(elasticAuth)
	const pw = "Sup3r-Secret-Pw"
	mustStatus(t, call(t, "PUT", p.url+"/_auth/account", `{"username":"erin","password":"`+pw+`","roles":["r"]}`, su...), 200, "create")
	mustStatus(t, call(t, "POST", p.url+"/security/constraint/", `{"paths":["/e"],"methods":["get"],"roles":["r"]}`, su...), 200, "constraint")
	keep := call(t, "POST", p.url+"/login", `{"username":"erin","password":"`+pw+`"}`).json(t)["token"].(string)
	drop := call(t, "POST", p.url+"/login", `{"username":"erin","password":"`+pw+`"}`).json(t)["token"].(string)
	mustStatus(t, call(t, "POST", p.url+"/logout?token="+drop, ""), 200, "logout")
	mustStatus(t, call(t, "GET", p.url+"/e/x", "", basic("erin:"+pw)...), 200, "Basic before kill")

	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	// No password or token in the clear anywhere under the data dir.
	secrets := []string{pw, keep, drop, bootstrapPassword}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("secret %.4s… stored in the clear in %s", s, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	p2 := startProc(t, up, dir)
	mustStatus(t, call(t, "GET", p2.url+"/e/x?token="+keep, ""), 200, "token after SIGKILL")
	mustStatus(t, call(t, "GET", p2.url+"/e/x?token="+drop, ""), 401, "revoked token after SIGKILL")
	mustStatus(t, call(t, "GET", p2.url+"/e/x", "", basic("erin:"+pw)...), 200, "account after SIGKILL")
	mustStatus(t, call(t, "GET", p2.url+"/f", "", basic("erin:"+pw)...), 403, "constraint after SIGKILL")
}
