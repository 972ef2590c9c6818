package main

import (
	"fmt"
	"testing"
	"time"
)

func withLockout(threshold int) nodeOpt {
	return func(c *Config) { c.Authc.Lockout.Threshold = threshold }
}

// TestLockoutAcrossReplicas: wrong passwords sent to one replica, whose
// outcomes go to the AUTH stream, lock the user on the other too, with
// its right password; a new password lifts the lock everywhere.
func TestLockoutAcrossReplicas(t *testing.T) {
	up := newUpstream(t)
	natsAddr := freeAddr(t)
	a := startNode(t, up, withNATSListen(natsAddr), withLockout(3))
	b := startNode(t, up, withNATSURL("nats://"+natsAddr), withLockout(3))
	su := basic(elasticAuth)
	mustStatus(t, call(t, "PUT", a.url+"/_auth/account", `{"username":"carol","password":"secret1","roles":["r"]}`, su...), 200, "create carol")
	mustStatus(t, call(t, "POST", a.url+"/security/constraint/", `{"paths":["/data"],"methods":["get"],"roles":["r"]}`, su...), 200, "constraint")
	carol := basic("carol:secret1")
	mustStatus(t, call(t, "GET", b.url+"/data/x", "", carol...), 200, "carol before")

	wrong := call(t, "GET", a.url+"/data/x", "", basic("carol:guess")...)
	mustStatus(t, wrong, 401, "wrong password")
	// An unknown user's failures count for nobody.
	for range 3 {
		mustStatus(t, call(t, "GET", a.url+"/data/x", "", basic("nobody:guess")...), 401, "unknown user")
	}
	for i := range 2 {
		mustStatus(t, call(t, "GET", a.url+"/data/x", "", basic("carol:guess")...), 401, fmt.Sprint("wrong password ", i+2))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := call(t, "GET", b.url+"/data/x", "", carol...)
		if r.Status == 401 {
			if string(r.Body) != string(wrong.Body) {
				t.Fatalf("locked answer %s, want the wrong password's %s", r.Body, wrong.Body)
			}
			break
		}
		mustStatus(t, r, 200, "carol on B before the lock reaches it")
		if time.Now().After(deadline) {
			t.Fatal("carol not locked on B 10s after three wrong passwords on A")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustStatus(t, call(t, "POST", a.url+"/login", `{"username":"carol","password":"secret1"}`), 401, "login of the locked carol on A")
	mustStatus(t, call(t, "GET", a.url+"/data/x", "", basic("nobody:guess")...), 401, "nobody")
	mustStatus(t, call(t, "GET", b.url+"/data/x", "", su...), 200, "another user")

	// The superuser sets a new password: carol is in again, on both.
	mustStatus(t, call(t, "POST", b.url+"/_security/user/carol/_password", `{"password":"secret2"}`, su...), 200, "new password")
	for _, n := range []*node{a, b} {
		mustStatus(t, call(t, "GET", n.url+"/data/x", "", basic("carol:secret2")...), 200, "carol with her new password")
	}
}
