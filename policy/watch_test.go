package policy

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/syncbuf"
)

// TestWatch: a new file in the policy directory takes effect without a
// reload request; a file that does not compile leaves the policy in force,
// is reported once and not compiled again until it changes; its fix takes
// effect.
func TestWatch(t *testing.T) {
	dir := writePolicy(t, nil)
	logs := &syncbuf.Buffer{}
	e, err := New(Config{Dir: dir}, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetConstraints(context.Background(), testConstraints); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Watch(ctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for start := time.Now(); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s: not within 10s", what)
			}
		}
	}
	night := content("PUT", "/aaa", "admin")
	night.Request.SourceIP = "192.0.2.66"
	if d, _ := e.Decide(context.Background(), night); !d.Allow {
		t.Fatal("denied before the deny rule was written")
	}

	before := e.Revision()
	if err := os.WriteFile(filepath.Join(dir, "freeze.rego"), []byte(denyNight), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("the new file compiled", func() bool { return e.Revision() != before })
	if d, _ := e.Decide(context.Background(), night); d.Allow {
		t.Error("the watched deny rule is not applied")
	}

	good := e.Revision()
	broken := filepath.Join(dir, "broken.rego")
	if err := os.WriteFile(broken, []byte("package portcullis.authz\ndeny contains"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("the broken file reported", func() bool { return strings.Count(logs.String(), "policy_reload_failed") == 1 })
	time.Sleep(100 * time.Millisecond) // ten more rounds: no second attempt
	if n := strings.Count(logs.String(), "policy_compilation_failed"); n != 1 {
		t.Errorf("the broken file was compiled %d times, want once", n)
	}
	if e.Revision() != good {
		t.Error("a broken file changed the policy in force")
	}
	if err := os.WriteFile(broken, []byte("package portcullis.authz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("the fixed file compiled", func() bool { return e.Revision() != good })
	if d, _ := e.Decide(context.Background(), night); d.Allow {
		t.Error("the deny rule was lost")
	}

	// Files that fail only because of a role created through the API are
	// tried again once the roles change.
	if err := e.SetRoles(context.Background(), []Role{{Name: "ops", Cluster: []string{"monitor"}}}); err != nil {
		t.Fatal(err)
	}
	withOps := e.Revision()
	if err := os.WriteFile(filepath.Join(dir, "ops.rego"), []byte("package portcullis.roles\n\nops := {\"cluster\": [\"manage\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor("the clashing role reported", func() bool { return strings.Count(logs.String(), "policy_reload_failed") == 2 })
	if e.Revision() != withOps {
		t.Error("a file role clashing with an API role was installed")
	}
	if err := e.SetRoles(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	waitFor("the file role applied once the API role is gone", func() bool { return strings.Count(logs.String(), "policy_reloaded") == 3 })
}

// TestWatchSettles: a change is applied only once two reads agree, so a
// file removed and written back between two reads (a checkout, an
// editor's rename) never takes effect, and a change read twice does.
func TestWatchSettles(t *testing.T) {
	dir := writePolicy(t, map[string]string{"freeze.rego": denyNight})
	e, err := New(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := e.Revision()
	path := filepath.Join(dir, "freeze.rego")
	var st watchState
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	e.watchOnce(ctx, &st) // the file is missing: seen once
	if err := os.WriteFile(path, []byte(denyNight), 0o600); err != nil {
		t.Fatal(err)
	}
	e.watchOnce(ctx, &st) // back: nothing changed
	e.watchOnce(ctx, &st)
	if e.Revision() != before {
		t.Fatal("a file missing for one read was applied")
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	e.watchOnce(ctx, &st)
	if e.Revision() != before {
		t.Fatal("a change applied after one read")
	}
	e.watchOnce(ctx, &st)
	if e.Revision() == before {
		t.Fatal("a change read twice was not applied")
	}
}
