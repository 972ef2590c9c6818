package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestFileRealm: users of Elasticsearch's users / users_roles files
// authenticate with Basic after the native realm, get their roles from the
// files, and changes to the files apply without a restart.
func TestFileRealm(t *testing.T) {
	dir := t.TempDir()
	users, roles := filepath.Join(dir, "users"), filepath.Join(dir, "users_roles")
	h, _ := bcrypt.GenerateFromPassword([]byte("file-pw-1"), bcrypt.MinCost)
	os.WriteFile(users, []byte("fred:"+string(h)+"\n"), 0o600)
	os.WriteFile(roles, []byte("logs_reader:fred\n"), 0o600)
	up := newUpstream(t)
	n := startNode(t, up, func(c *Config) { c.Authc.File.Users = users })
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/logs"],"methods":["get"],"roles":["logs_reader"]}`, basic(elasticAuth)...), 200, "constraint")

	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic("fred:file-pw-1")...), 200, "file user with a file role")
	mustStatus(t, call(t, "GET", n.url+"/other", "", basic("fred:file-pw-1")...), 403, "file user outside the role")
	r := call(t, "GET", n.url+"/_security/_authenticate", "", basic("fred:file-pw-1")...)
	mustStatus(t, r, 200, "_authenticate")
	if !strings.Contains(string(r.Body), `"authentication_realm":{"name":"default_file","type":"file"}`) || !strings.Contains(string(r.Body), `"roles":["logs_reader"]`) {
		t.Fatalf("_authenticate: %s", r.Body)
	}
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic("fred:wrong")...), 401, "file user, wrong password")
	// The native realm comes first: elastic is native, not shadowed.
	mustStatus(t, call(t, "GET", n.url+"/x", "", basic(elasticAuth)...), 200, "native superuser")

	// Edit the files: new password, role removed.
	h2, _ := bcrypt.GenerateFromPassword([]byte("file-pw-2"), bcrypt.MinCost)
	os.WriteFile(users, []byte("fred:"+string(h2)+"\n"), 0o600)
	os.WriteFile(roles, []byte("logs_reader:\n"), 0o600)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r := call(t, "GET", n.url+"/logs/_search", "", basic("fred:file-pw-2")...); r.Status == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("file changes not applied after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	mustStatus(t, call(t, "GET", n.url+"/logs/_search", "", basic("fred:file-pw-1")...), 401, "old file password after reload")
}
