package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/lockout"
)

// TestLockout: a user that repeated wrong passwords locked is refused
// with its right password, by Basic credentials and by /login, with the
// answer of a wrong password; the outcome says why. A password change
// lifts the lock, and the lock ends by itself.
func TestLockout(t *testing.T) {
	rc := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(rc.handler))
	defer up.Close()
	var clock atomic.Int64
	start := time.Now()
	clock.Store(start.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	tr, err := lockout.New(lockout.Config{Threshold: 2, Window: time.Minute, Duration: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tg := newTestGateway(t, up.URL, func(c *Config) { c.Lockouts, c.Now = tr, now })
	admin, reader := basic("admin", "admin-pw"), basic("reader", "reader-pw")
	status := func(auth string) (int, string) {
		t.Helper()
		code, _, raw := apiKeyCall(t, "GET", tg.url+"/data/_search", auth, "")
		return code, raw
	}
	if code, _ := status(reader); code != 200 {
		t.Fatalf("reader before any lock: %d", code)
	}
	_, wrongAnswer := status(basic("reader", "nope"))
	// The wrong password's outcome names the account tried: what the
	// lockout counts and locks.
	acc, _ := tg.state.model.Account("reader")
	if o := tg.out.last(); o.AccountUID != acc.UID || o.AccountEpoch != acc.Epoch || o.AccountUID == "" {
		t.Fatalf("wrong password outcome %+v, want account %s at epoch %d", o, acc.UID, acc.Epoch)
	}
	lock := func() {
		t.Helper()
		acc, _ := tg.state.model.Account("reader")
		f := lockout.Failure{User: "reader", AccountUID: acc.UID, AccountEpoch: acc.Epoch, At: now()}
		tr.Fail(f)
		if _, ok := tr.Fail(f); !ok {
			t.Fatal("no lock")
		}
	}
	// A login token taken before the lock.
	_, login, raw := apiKeyCall(t, "POST", tg.url+"/login", "", `{"username":"reader","password":"reader-pw"}`)
	token, _ := login["token"].(string)
	if token == "" {
		t.Fatalf("login: %s", raw)
	}
	lock()
	if code, _, raw := apiKeyCall(t, "GET", tg.url+"/data/_search?token="+token, "", ""); code != 200 {
		t.Fatalf("a token of the locked reader: %d %s (a lock is about guessing passwords)", code, raw)
	}
	code, answer := status(reader)
	if code != http.StatusUnauthorized || answer != wrongAnswer {
		t.Fatalf("locked reader with the right password: %d %s, want the wrong password's %s", code, answer, wrongAnswer)
	}
	o := tg.out.last()
	if o.Principal != "reader" || len(o.Realms) != 1 || o.Realms[0].Realm != events.RealmLockout ||
		!strings.HasPrefix(o.Realms[0].Reason, "account locked until "+now().Add(10*time.Minute).UTC().Format("2006-01-02T15:04")) {
		t.Fatalf("outcome %+v", o)
	}
	// A wrong password while locked: the realm's refusal and the lock; the
	// lockout does not count it.
	status(basic("reader", "nope"))
	if o := tg.out.last(); len(o.Realms) != 2 || o.Realms[0].Reason != "invalid password" || o.Realms[1].Realm != events.RealmLockout {
		t.Fatalf("wrong password while locked: %+v", o)
	}
	if code, _, raw := apiKeyCall(t, "POST", tg.url+"/login", "", `{"username":"reader","password":"reader-pw"}`); code != http.StatusUnauthorized {
		t.Fatalf("login of the locked reader: %d %s", code, raw)
	}
	if o := tg.out.last(); len(o.Realms) != 1 || o.Realms[0].Realm != events.RealmLockout {
		t.Fatalf("login outcome %+v", o)
	}
	if code, _ := status(admin); code != 200 {
		t.Fatalf("another user: %d", code)
	}

	// An administrator sets a new password: the lock no longer holds.
	if code, _, raw := apiKeyCall(t, "POST", tg.url+"/_security/user/reader/_password", admin, `{"password":"reader-pw2"}`); code != 200 {
		t.Fatalf("password change: %d %s", code, raw)
	}
	reader = basic("reader", "reader-pw2")
	if code, raw := status(reader); code != 200 {
		t.Fatalf("reader after a password change: %d %s", code, raw)
	}
	// Locked again; the lock ends after its duration.
	lock()
	if code, _ := status(reader); code != http.StatusUnauthorized {
		t.Fatalf("locked again: %d", code)
	}
	clock.Add(int64(10 * time.Minute))
	if code, raw := status(reader); code != 200 {
		t.Fatalf("after the lock's end: %d %s", code, raw)
	}
}

// TestLockoutAfterTheRealms: a locked user is refused only after every
// realm has answered, as for a wrong password, so that the time of the
// answer does not tell a lock (which only names a realm knows get) from a
// wrong password or an unknown name. An LDAP user's lock holds whatever
// the case of the name: the directory binds "Lena" as "lena".
func TestLockoutAfterTheRealms(t *testing.T) {
	rc := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(rc.handler))
	defer up.Close()
	tr, err := lockout.New(lockout.Config{Threshold: 1})
	if err != nil {
		t.Fatal(err)
	}
	dir := &fakeLDAP{}
	tg := newTestGateway(t, up.URL, func(c *Config) {
		c.LDAPRealm, c.RealmOrder, c.Lockouts = dir, []string{RealmNative, RealmLDAP}, tr
	})
	calls := func() int { dir.mu.Lock(); defer dir.mu.Unlock(); return dir.calls }
	tr.Fail(lockout.Failure{User: "lena", At: time.Now()})
	// The right password twice: the second is not served from the Basic
	// cache, which would answer a right guess faster than a wrong one.
	for _, user := range []string{"lena", "lena", "Lena", "LENA"} {
		before := calls()
		if code, _, raw := apiKeyCall(t, "GET", tg.url+"/data/_search", basic(user, "lena-pw"), ""); code != http.StatusUnauthorized {
			t.Fatalf("locked %s with the right password: %d %s", user, code, raw)
		}
		if calls() != before+1 {
			t.Fatalf("%s: the directory was asked %d times, want once, as for any password", user, calls()-before)
		}
		if o := tg.out.last(); len(o.Realms) == 0 || o.Realms[len(o.Realms)-1].Realm != events.RealmLockout {
			t.Fatalf("%s: outcome %+v, want the lock last", user, o)
		}
	}
	// An empty password never asks the directory, and is no wrong password
	// a lockout counts.
	apiKeyCall(t, "GET", tg.url+"/data/_search", basic("mo", ""), "")
	if o := tg.out.last(); o.Realms[len(o.Realms)-1].Reason != "empty password" {
		t.Fatalf("empty password: %+v", o)
	}
}
