package main

import (
	"strings"
	"testing"
	"time"
)

func withLockout(threshold int) nodeOpt {
	return func(c *Config) { c.Authc.Lockout.Threshold = threshold }
}

// TestLockoutAcrossReplicas: wrong passwords sent to one replica, whose
// outcomes go to the AUTH stream, lock the user on the others too, with its
// right password, also on a replica started during the lock; a new password
// lifts the lock everywhere.
func TestLockoutAcrossReplicas(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	a := startNode(t, up, withNATSListen(natsAddr), withLockout(3))
	b := startNode(t, up, withNATSURL("nats://"+natsAddr), withLockout(3))
	su := basic(elasticAuth)
	mustStatus(t, call(t, "PUT", a.url+"/_auth/account", `{"username":"carol","password":"secret1","roles":["r"]}`, su...), 200, "create carol")
	mustStatus(t, call(t, "POST", a.url+"/security/constraint/", `{"paths":["/data"],"methods":["get"],"roles":["r"]}`, su...), 200, "constraint")
	carol := basic("carol:secret1")

	wrong := call(t, "GET", a.url+"/data/x", "", basic("carol:guess")...)
	mustStatus(t, wrong, 401, "wrong password 1")
	mustStatus(t, call(t, "GET", a.url+"/data/x", "", basic("carol:guess")...), 401, "wrong password 2")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(string(call(t, "GET", b.url+"/_portcullis/metrics", "").Body), "\nportcullis_lockout_failures_total 2\n"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("B did not fold the two wrong passwords within 10s")
		}
	}
	mustStatus(t, call(t, "GET", b.url+"/data/x", "", carol...), 200, "carol on B after two wrong passwords (threshold 3)")
	mustStatus(t, call(t, "GET", a.url+"/data/x", "", basic("carol:guess")...), 401, "wrong password 3")
	locked := func(n *node, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			r := call(t, "GET", n.url+"/data/x", "", carol...)
			if r.Status == 401 {
				if string(r.Body) != string(wrong.Body) {
					t.Fatalf("%s: locked answer %s, want the wrong password's %s", what, r.Body, wrong.Body)
				}
				return
			}
			mustStatus(t, r, 200, what+" before the lock reaches it")
			if time.Now().After(deadline) {
				t.Fatalf("%s: carol not locked 10s after three wrong passwords on A", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	locked(b, "B")
	locked(a, "A")
	m := string(call(t, "GET", b.url+"/_portcullis/metrics", "").Body)
	if !strings.Contains(m, "\nportcullis_lockout_locks 1\n") || !strings.Contains(m, "\nportcullis_lockout_set_total 1\n") || !strings.Contains(m, "\nportcullis_lockout_failures_total 3\n") {
		t.Fatalf("metrics of B:\n%s", m)
	}
	mustStatus(t, call(t, "POST", a.url+"/login", `{"username":"carol","password":"secret1"}`), 401, "login of the locked carol on A")
	mustStatus(t, call(t, "GET", b.url+"/data/x", "", su...), 200, "another user")
	// A replica started during the lock reads the failures of the recent
	// past and locks carol too.
	c := startNode(t, up, withNATSURL("nats://"+natsAddr), withLockout(3))
	locked(c, "C, started during the lock")

	// The superuser sets a new password: carol is in again, everywhere.
	mustStatus(t, call(t, "POST", b.url+"/_security/user/carol/_password", `{"password":"secret2"}`, su...), 200, "new password")
	for _, n := range []*node{a, b, c} {
		mustStatus(t, call(t, "GET", n.url+"/data/x", "", basic("carol:secret2")...), 200, "carol with her new password")
	}
}
