package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/portcullis/portcullis/events"
)

// TestResetPassword: reset-password against the running cluster changes the
// password on every replica at once; the old one and the user's tokens stop
// working.
func TestResetPassword(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	a := startNode(t, up, withNATSListen(natsAddr))
	b := startNode(t, up, withNATSURL("nats://"+natsAddr))
	tok := call(t, "POST", a.url+"/login", `{"username":"elastic","password":"`+bootstrapPassword+`"}`).json(t)["token"].(string)
	env := envOf(map[string]string{"PORTCULLIS_NATS_PASSWORD": "nats-secret"})

	var out, errOut bytes.Buffer
	if rc := runResetPassword(context.Background(), []string{"-u", "elastic", "--nats-url", "nats://" + natsAddr}, strings.NewReader(""), &out, &errOut, env); rc != 0 {
		t.Fatalf("reset-password exit %d: %s", rc, errOut.String())
	}
	_, pw, ok := strings.Cut(out.String(), "New value: ")
	pw = strings.TrimSpace(pw)
	if !ok || len(pw) < 20 {
		t.Fatalf("no new password printed: %q", out.String())
	}
	// The reset is in the audit trail, as a change through the API is.
	js := connectJS(t, "nats://"+natsAddr, nats.UserInfo("portcullis", "nats-secret"))
	var resets []events.AuthOutcome
	for _, o := range changesIn(t, js, 2) {
		if o.Path == "/_security/user/elastic/_password" {
			resets = append(resets, o)
		}
	}
	if len(resets) != 1 || resets[0].Outcome != "success" || resets[0].Principal != systemPrincipal ||
		resets[0].ESAction != "cluster:admin/xpack/security/user/change_password" || !strings.Contains(resets[0].Reason, "portcullis reset-password by [") {
		t.Fatalf("reset-password recorded %+v, want one security_config_change of elastic's password", resets)
	}
	for _, n := range []*node{a, b} {
		mustStatus(t, call(t, "GET", n.url+"/x", "", basic("elastic:"+pw)...), 200, "new password")
		mustStatus(t, call(t, "GET", n.url+"/x", "", basic(elasticAuth)...), 401, "old password")
		mustStatus(t, call(t, "GET", n.url+"/x?token="+tok, ""), 401, "token from before the reset")
	}

	// Interactive: typed twice.
	out.Reset()
	if rc := runResetPassword(context.Background(), []string{"-i", "-u", "elastic", "--nats-url", "nats://" + natsAddr}, strings.NewReader("typed-pw-1\ntyped-pw-1\n"), &out, &errOut, env); rc != 0 {
		t.Fatalf("reset-password -i exit %d: %s", rc, errOut.String())
	}
	if strings.Contains(out.String(), "typed-pw-1") {
		t.Fatal("a typed password was printed")
	}
	mustStatus(t, call(t, "GET", b.url+"/x", "", basic("elastic:typed-pw-1")...), 200, "typed password")

	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"--nats-url", "nats://" + natsAddr}, "", "-u USER is required"},
		{[]string{"-u", "nobody", "--nats-url", "nats://" + natsAddr}, "", "user [nobody] not found"},
		{[]string{"-i", "-u", "elastic", "--nats-url", "nats://" + natsAddr}, "abc\nabc\n", "at least [6] characters"},
		{[]string{"-i", "-u", "elastic", "--nats-url", "nats://" + natsAddr}, "abcdefg\nabcdefh\n", "do not match"},
	} {
		errOut.Reset()
		if rc := runResetPassword(context.Background(), c.args, strings.NewReader(c.stdin), &out, &errOut, env); rc == 0 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("reset-password %q: exit %d, stderr %q; want failure with %q", c.args, rc, errOut.String(), c.want)
		}
	}
}

// TestResetPasswordOffline: with the gateway stopped, reset-password works
// on the embedded store of --data-dir.
func TestResetPasswordOffline(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	n := startNode(t, up, withDataDir(dir))
	n.stop()
	var out, errOut bytes.Buffer
	if rc := runResetPassword(context.Background(), []string{"-u", "elastic", "--data-dir", dir}, strings.NewReader(""), &out, &errOut, envOf(nil)); rc != 0 {
		t.Fatalf("reset-password exit %d: %s", rc, errOut.String())
	}
	_, pw, _ := strings.Cut(out.String(), "New value: ")
	pw = strings.TrimSpace(pw)
	n2 := startNode(t, up, withDataDir(dir))
	mustStatus(t, call(t, "GET", n2.url+"/x", "", basic("elastic:"+pw)...), 200, "new password after restart")
	mustStatus(t, call(t, "GET", n2.url+"/x", "", basic(elasticAuth)...), 401, "old password after restart")
}
