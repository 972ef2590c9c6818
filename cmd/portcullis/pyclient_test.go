package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/auditor/auditortest"
)

// TestPython: the official Python elasticsearch client (8.19, pinned in
// testdata/pyclient/requirements.txt, in a virtualenv cached outside the
// repository) through the gateway: a user whose role has manage_own_api_key
// and read on logs-* creates, uses and invalidates an API key, searches
// logs-* but may not write to it nor read another index, including through
// _bulk, _msearch, _mget and /_search. testdata/pyclient/client.py does the
// checks and prints one line each.
func TestPython(t *testing.T) {
	python, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") != "true" {
			t.Skip("python3 not found")
		}
		t.Fatalf("python3 not found (required in CI): %v", err)
	}
	es := auditortest.ESURL(t)
	venvPython := pyVenv(t, python, filepath.Join("testdata", "pyclient", "requirements.txt"))

	n := startNode(t, nil, withUpstreamURL(es))
	su := basic(elasticAuth)
	run := rand.Uint32()
	logs, other := fmt.Sprintf("logs-py-%d", run), fmt.Sprintf("other-py-%d", run)
	t.Cleanup(func() { call(t, "DELETE", es+"/"+logs+","+other, "") })
	for _, idx := range []string{logs, other} {
		mustStatus(t, call(t, "PUT", es+"/"+idx+"/_doc/1?refresh=true", `{"msg":"hello"}`, "Content-Type", "application/json"), 201, "seed "+idx)
	}
	mustStatus(t, call(t, "PUT", n.url+"/_security/role/py_logs_reader",
		`{"cluster":["manage_own_api_key"],"indices":[{"names":["logs-*"],"privileges":["read"]}]}`, su...), 200, "role")
	mustStatus(t, call(t, "PUT", n.url+"/_security/user/pyuser", `{"password":"pyuser-secret","roles":["py_logs_reader"]}`, su...), 200, "user")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, venvPython, filepath.Join("testdata", "pyclient", "client.py"), n.url, "pyuser", "pyuser-secret", logs, other)
	out, err := cmd.CombinedOutput()
	t.Logf("client.py:\n%s", out)
	if err != nil {
		t.Fatalf("client.py: %v", err)
	}
	if !strings.Contains(string(out), "PASSED") {
		t.Fatal("client.py did not report PASSED")
	}

	// Nothing was written by the denied requests.
	r := call(t, "GET", es+"/"+logs+","+other+"/_count", "")
	if !strings.Contains(string(r.Body), `"count":2`) {
		t.Fatalf("denied writes reached Elasticsearch: %s", r.Body)
	}
}

// pyVenv returns the python of a virtualenv holding requirements, made with
// python3 -m venv under the user's cache directory (keyed by the
// requirements' hash) and reused when present.
func pyVenv(t *testing.T, python, requirements string) string {
	t.Helper()
	req, err := os.ReadFile(requirements)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	sum := sha256.Sum256(req)
	dir := filepath.Join(cache, "portcullis", "pyvenv-"+hex.EncodeToString(sum[:])[:16])
	bin := filepath.Join(dir, "bin", "python")
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return bin
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	// Built beside and renamed into place, so that a half-made venv is never
	// reused and concurrent runs do not trip over each other. Everything is
	// run as `python -m`, which survives the rename.
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "pyvenv-tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	abs, err := filepath.Abs(requirements)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{python, "-m", "venv", tmp},
		{filepath.Join(tmp, "bin", "python"), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-r", abs},
	} {
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return bin // another run finished first
	}
	os.RemoveAll(dir) // an incomplete one, if any
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, ".complete")); serr != nil {
			t.Fatalf("install the virtualenv: %v", err)
		}
	}
	return bin
}
