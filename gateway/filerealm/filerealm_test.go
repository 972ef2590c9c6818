package filerealm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func hash(t testing.TB, pw string) string {
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestParse(t *testing.T) {
	h := hash(t, "secret")
	tab, err := Parse([]byte("# comment\n\nalice:"+h+"\nbob:"+h+"\n"), []byte("admin:alice\nreader: alice, bob\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tab.roles["alice"], []string{"admin", "reader"}) || !reflect.DeepEqual(tab.roles["bob"], []string{"reader"}) {
		t.Fatalf("roles %v", tab.roles)
	}
	bad := []struct{ users, roles, want string }{
		{"alice", "", "want name:hash"},
		{"alice:{PBKDF2}abc", "", "only bcrypt"},
		{"alice:$2a$10$short", "", "malformed bcrypt"},
		{"alice:" + h + "\nalice:" + h, "", "listed twice"},
		{"al ice:" + h, "", "want name:hash"},
		{"alice:" + h, "admin", "want role:user1,user2"},
		{"alice:" + h, "admin:al:ice", "invalid user name"},
	}
	for _, c := range bad {
		_, err := Parse([]byte(c.users), []byte(c.roles))
		if err == nil || !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q, %q) = %v, want %q", c.users, c.roles, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "$2a$") {
			t.Errorf("error quotes a hash: %v", err)
		}
	}
}

func TestRealmAuthenticateAndReload(t *testing.T) {
	dir := t.TempDir()
	users, roles := filepath.Join(dir, "users"), filepath.Join(dir, "users_roles")
	os.WriteFile(users, []byte("alice:"+hash(t, "pw-one")+"\n"), 0o600)
	os.WriteFile(roles, []byte("admin:alice\n"), 0o600)
	r, err := New(users, roles, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := r.Authenticate("alice", "pw-one"); err != nil || !reflect.DeepEqual(rs, []string{"admin"}) {
		t.Fatalf("alice: %v %v", rs, err)
	}
	if _, err := r.Authenticate("alice", "nope"); !errors.Is(err, ErrMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := r.Authenticate("carol", "x"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	v := r.Version()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx, 10*time.Millisecond) }()
	defer func() { cancel(); <-done }()

	os.WriteFile(users, []byte("alice:"+hash(t, "pw-two")+"\ncarol:"+hash(t, "pw-c")+"\n"), 0o600)
	// The watcher may see the file half written (os.WriteFile truncates
	// first); wait until the final content is in force.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, errA := r.Authenticate("alice", "pw-two")
		_, errC := r.Authenticate("carol", "pw-c")
		if errA == nil && errC == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after reload: alice %v, carol %v", errA, errC)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r.Version() == v {
		t.Fatal("version unchanged by a reload")
	}
	time.Sleep(50 * time.Millisecond) // let the watcher settle on the final stamp
	// A broken file keeps the previous table.
	v = r.Version()
	// Written whole (a rename), so that the watcher never sees it
	// truncated: an empty users file is a valid one, with no users.
	writeAtomic(t, users, "garbage\n")
	time.Sleep(100 * time.Millisecond)
	if r.Version() != v {
		t.Fatal("a broken file replaced the table")
	}
	if _, err := r.Authenticate("alice", "pw-two"); err != nil {
		t.Fatalf("after a broken reload: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("alice:$2a$04$abcdefghijklmnopqrstuuKx2h5W7Vh3KQm3vQ1wWq8aGd4lE5XyC\n"), []byte("admin:alice,bob\n"))
	f.Add([]byte("# c\n\n"), []byte(":\n,,"))
	f.Fuzz(func(t *testing.T, users, roles []byte) {
		tab, err := Parse(users, roles)
		if err != nil {
			if !errors.Is(err, ErrParse) {
				t.Fatalf("error %v does not wrap ErrParse", err)
			}
			return
		}
		for u := range tab.hashes {
			if !validName(u) {
				t.Fatalf("accepted invalid name %q", u)
			}
		}
	})
}

// writeAtomic replaces path with content through a rename.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
