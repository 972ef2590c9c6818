package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/lockout"
)

// TestLockout: a user that repeated wrong passwords locked is refused
// with its right password, by Basic credentials and by /login, with the
// answer of a wrong password; the outcome says why. A password change
// lifts the lock, and the lock ends by itself.
func TestLockout(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	tg, tr := lockoutGateway(t, lockout.Config{Threshold: 2, Window: time.Minute, Duration: 10 * time.Minute}, func(c *Config) { c.Now = now })
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
	dir := &fakeLDAP{}
	tg, tr := lockoutGateway(t, lockout.Config{Threshold: 1}, withNativeThenLDAP(dir))
	calls := dir.count
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

// TestLockoutAsksEveryRealm: while a user is locked, the right password
// goes through every realm as a wrong one does (the chain does not stop at
// the realm that authenticates it), so the time of the answer does not
// tell a right guess.
func TestLockoutAsksEveryRealm(t *testing.T) {
	dir := &fakeLDAP{}
	tg, tr := lockoutGateway(t, lockout.Config{Threshold: 1}, withNativeThenLDAP(dir))
	acc, _ := tg.state.model.Account("reader")
	tr.Fail(lockout.Failure{User: "reader", AccountUID: acc.UID, AccountEpoch: acc.Epoch, At: time.Now()})
	calls := dir.count
	var asked [2]int
	for i, pw := range []string{"nope", "reader-pw"} {
		before := calls()
		if code, _, raw := apiKeyCall(t, "GET", tg.url+"/data/_search", basic("reader", pw), ""); code != http.StatusUnauthorized {
			t.Fatalf("locked reader, password %s: %d %s", pw, code, raw)
		}
		asked[i] = calls() - before
	}
	if asked[0] != 1 || asked[1] != 1 {
		t.Errorf("the directory was asked %d times for a wrong password, %d for the right one; want once each", asked[0], asked[1])
	}
}

// laggingState is a projection that learns of an event only when a
// request makes it catch up (WaitForLatest): another replica's write.
type laggingState struct {
	*memState
	pending func()
}

func (l *laggingState) WaitForLatest(context.Context, string) error {
	if p := l.pending; p != nil {
		l.pending = nil
		p()
	}
	return nil
}

// TestLockoutLiftedByAPasswordNotYetSeen: a new password set on another
// replica lifts the lock at once, also on a replica that learns of it
// while checking that very password (Basic and /login).
func TestLockoutLiftedByAPasswordNotYetSeen(t *testing.T) {
	var ls *laggingState
	tg, tr := lockoutGateway(t, lockout.Config{Threshold: 1}, func(c *Config) {
		ls = &laggingState{memState: c.Projection.(*memState)}
		c.Projection = ls
	})
	lock := func() {
		acc, _ := tg.state.model.Account("reader")
		tr.Fail(lockout.Failure{User: "reader", AccountUID: acc.UID, AccountEpoch: acc.Epoch, At: time.Now()})
	}
	lock()
	for _, path := range []string{"basic", "login"} {
		acc, _ := tg.state.model.Account("reader")
		pw := "new-" + path
		ls.pending = func() { // the other replica's password change
			h, err := secret.HashPassword(pw)
			if err != nil {
				t.Error(err)
				return
			}
			ev, err := events.New("other", events.TypeAccountUpdated, "reader", time.Now(), events.AccountUpdated{UID: acc.UID, Username: "reader", PasswordHash: &h})
			if err == nil {
				_, err = tg.state.Append(context.Background(), events.StateSubject(events.AggregateAccount, "reader"), ev, nil)
			}
			if err != nil {
				t.Error(err)
			}
		}
		var code int
		var raw string
		if path == "basic" {
			code, _, raw = apiKeyCall(t, "GET", tg.url+"/data/_search", basic("reader", pw), "")
		} else {
			code, _, raw = apiKeyCall(t, "POST", tg.url+"/login", "", `{"username":"reader","password":"`+pw+`"}`)
		}
		if code != http.StatusOK {
			t.Errorf("%s: the new password, first seen while checking it: %d %s", path, code, raw)
		}
		lock() // again, at the new epoch, for the next path
	}
}

// lockoutGateway is a test gateway in front of a recording upstream, with
// lockouts decided by a tracker of cfg that the test feeds.
func lockoutGateway(t *testing.T, cfg lockout.Config, mutate ...func(*Config)) (*testGateway, *lockout.Tracker) {
	t.Helper()
	rc := &recorder{}
	up := httptest.NewServer(http.HandlerFunc(rc.handler))
	t.Cleanup(up.Close)
	tr, err := lockout.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return newTestGateway(t, up.URL, append([]func(*Config){func(c *Config) { c.Lockouts = tr }}, mutate...)...), tr
}

// withNativeThenLDAP puts dir after the native realm.
func withNativeThenLDAP(dir *fakeLDAP) func(*Config) {
	return func(c *Config) { c.LDAPRealm, c.RealmOrder = dir, []string{RealmNative, RealmLDAP} }
}

// TestLockoutBusy: while the password hashes are all taken, a locked user
// is answered as for a wrong password, a 503, also when another realm (one
// that takes no hash slot: LDAP) finds the password right; a 401 there
// would tell the right guess.
func TestLockoutBusy(t *testing.T) {
	dir := &fakeLDAP{}
	tg, tr := lockoutGateway(t, lockout.Config{Threshold: 1}, withNativeThenLDAP(dir))
	tr.Fail(lockout.Failure{User: "lena", At: time.Now()})
	for len(tg.g.hashSlots) < cap(tg.g.hashSlots) { // the native realm's (dummy) hash waits, then gives up
		tg.g.hashSlots <- struct{}{}
	}
	for _, pw := range []string{"lena-pw", "nope"} {
		if code, _, raw := apiKeyCall(t, "GET", tg.url+"/data/_search", basic("lena", pw), ""); code != http.StatusServiceUnavailable {
			t.Errorf("locked lena, password %s, hashes busy: %d %s, want 503", pw, code, raw)
		}
	}
}
