package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/rego"
)

// TestPolicyWatch: two replicas, each with its own copy of the policy
// files (as each host has its git checkout); a deny rule written into both
// copies takes effect on both without a reload request, as the revision in
// their health answers and their decisions show.
func TestPolicyWatch(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	dirs := []string{copyPolicy(t), copyPolicy(t)}
	watch := func(dir string) nodeOpt {
		return func(c *Config) { c.Policy.Dir, c.Policy.WatchInterval = dir, 20*time.Millisecond }
	}
	a := startNode(t, up, withNATSListen(natsAddr), watch(dirs[0]))
	b := startNode(t, up, withNATSURL("nats://"+natsAddr), watch(dirs[1]))
	nodes := []*node{a, b}
	revision := func(n *node) string {
		return call(t, "GET", n.url+"/_portcullis/health", "").json(t)["policy_revision"].(string)
	}
	before := revision(a)
	for _, n := range nodes {
		mustStatus(t, call(t, "DELETE", n.url+"/frozen-index", "", basic(elasticAuth)...), 200, "before the freeze")
	}
	const freeze = "package portcullis.authz\n\ndeny contains \"deletes are frozen\" if input.request.method == \"DELETE\"\n"
	for _, d := range dirs {
		if err := os.WriteFile(filepath.Join(d, "freeze.rego"), []byte(freeze), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range nodes {
		for start := time.Now(); revision(n) == before; time.Sleep(20 * time.Millisecond) {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s still enforces revision %s 10s after its files changed", n.url, before)
			}
		}
		mustStatus(t, call(t, "DELETE", n.url+"/frozen-index", "", basic(elasticAuth)...), 403, "after the freeze")
	}
	if revision(a) != revision(b) {
		t.Errorf("replicas with the same files enforce revisions %s and %s", revision(a), revision(b))
	}
}

// copyPolicy copies the built-in policy files into a new directory.
func copyPolicy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := rego.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestPolicyQuery: a deny rule on input.request.query sees the query as
// the client sent it, without the token parameter the gateway consumed; the
// rule of docs/policy.md decodes it, so an encoded name or a bare
// parameter is caught too.
func TestPolicyQuery(t *testing.T) {
	dir := copyPolicy(t)
	const rule = `package portcullis.authz

deny contains "refresh is not for you" if "refresh" in object.keys(urlquery.decode_object(input.request.query))

deny contains "the token leaked into the query" if contains(input.request.query, "token=")
`
	if err := os.WriteFile(filepath.Join(dir, "query.rego"), []byte(rule), 0o600); err != nil {
		t.Fatal(err)
	}
	n := startNode(t, newUpstream(t), func(c *Config) { c.Policy.Dir = dir })
	tok := call(t, "POST", n.url+"/login", `{"username":"elastic","password":"`+bootstrapPassword+`"}`).json(t)["token"].(string)
	mustStatus(t, call(t, "GET", n.url+"/logs/_search?q=x", "", basic(elasticAuth)...), 200, "a query without refresh")
	for _, q := range []string{"refresh=true", "refresh", "%72efresh=wait_for", "op_type=index&refresh="} {
		r := call(t, "PUT", n.url+"/logs/_doc/1?"+q, `{}`, append(basic(elasticAuth), "Content-Type", "application/json")...)
		mustStatus(t, r, 403, "?"+q+" denied by the query rule")
		if !strings.Contains(string(r.Body), "refresh is not for you") {
			t.Errorf("?%s: denial reason: %s", q, r.Body)
		}
	}
	mustStatus(t, call(t, "GET", n.url+"/logs/_search?token="+tok+"&q=x", ""), 200, "the token parameter is not in input.request.query")
}
