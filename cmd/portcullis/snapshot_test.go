package main

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/projector"
)

func withSnapshotEvery(n int) nodeOpt {
	return func(c *Config) { c.Snapshot.Every, c.Snapshot.Interval = n, 10*time.Millisecond }
}

// waitSnapshot waits until the snapshot in the bucket holds everything n
// applied.
func waitSnapshot(t *testing.T, n *node) {
	t.Helper()
	ctx := context.Background()
	store, err := n.app.js.ObjectStore(ctx, events.BucketSnapshots)
	if err != nil {
		t.Fatal(err)
	}
	model := n.app.proj.Model()
	state, tokens := model.Applied(events.StreamState), model.Applied(events.StreamTokens)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if info, err := store.GetInfo(ctx, projector.SnapshotObject); err == nil {
			s, _ := strconv.ParseUint(info.Metadata["state_seq"], 10, 64)
			tk, _ := strconv.ParseUint(info.Metadata["tokens_seq"], 10, 64)
			if s >= state && tk >= tokens {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no snapshot of the model after 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartFromSnapshot: a replica restarted on its data dir starts from
// the snapshot an earlier run wrote and replays the events after it: its
// accounts, constraints and tokens are there, and a token revoked after the
// snapshot stays revoked.
func TestRestartFromSnapshot(t *testing.T) {
	up := newUpstream(t)
	dir := t.TempDir()
	su := basic(elasticAuth)
	n := startNode(t, up, withDataDir(dir), withSnapshotEvery(1))
	mustStatus(t, call(t, "PUT", n.url+"/_auth/account", `{"username":"gus","password":"secret1","roles":["r"]}`, su...), 200, "create")
	mustStatus(t, call(t, "POST", n.url+"/security/constraint/", `{"paths":["/g"],"methods":["get"],"roles":["r"]}`, su...), 200, "constraint")
	keep := call(t, "POST", n.url+"/login", `{"username":"gus","password":"secret1"}`).json(t)["token"].(string)
	drop := call(t, "POST", n.url+"/login", `{"username":"gus","password":"secret1"}`).json(t)["token"].(string)
	waitSnapshot(t, n)
	n.stop()

	// A run that writes no snapshot: the logout stays in the tail.
	n2 := startNode(t, up, withDataDir(dir), withSnapshotEvery(1<<30))
	if !n2.app.proj.Started().FromSnapshot {
		t.Fatal("restart did not load the snapshot")
	}
	mustStatus(t, call(t, "POST", n2.url+"/logout?token="+drop, ""), 200, "logout")
	n2.stop()

	n3 := startNode(t, up, withDataDir(dir), withSnapshotEvery(1<<30))
	if s := n3.app.proj.Started(); !s.FromSnapshot || s.Events == 0 {
		t.Fatalf("restart: %+v, want the snapshot and the logout after it", s)
	}
	mustStatus(t, call(t, "GET", n3.url+"/g/x?token="+keep, ""), 200, "kept token")
	mustStatus(t, call(t, "GET", n3.url+"/g/x?token="+drop, ""), 401, "token revoked after the snapshot")
	mustStatus(t, call(t, "GET", n3.url+"/g/x", "", basic("gus:secret1")...), 200, "account")
	mustStatus(t, call(t, "GET", n3.url+"/h/x", "", basic("gus:secret1")...), 403, "constraint")
}
