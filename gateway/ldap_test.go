package gateway

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/ldaprealm"
)

// fakeLDAP is an LDAPRealm of one user, "lena" with password "lena-pw" and
// role reader; down makes it unavailable.
type fakeLDAP struct {
	mu      sync.Mutex
	calls   int
	version uint64
	down    bool
	roles   map[string][]string
}

var _ LDAPRealm = (*fakeLDAP)(nil)

// count is how many times the directory was asked.
func (f *fakeLDAP) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeLDAP) Authenticate(_ context.Context, user, pass string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	switch {
	case f.down:
		return nil, fmt.Errorf("%w: connection refused", ldaprealm.ErrUnavailable)
	case user != "lena":
		return nil, ldaprealm.ErrUnknownUser
	case pass != "lena-pw":
		return nil, ldaprealm.ErrMismatch
	}
	f.roles = map[string][]string{user: {"reader"}}
	return []string{"reader"}, nil
}

func (f *fakeLDAP) Roles(user string) ([]string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.roles[user]
	return r, ok
}

func (f *fakeLDAP) Version() uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.version
}

// TestLDAPRealmChain: the ldap realm in the chain, its reasons, and the
// Basic cache bounded by the realm's version.
func TestLDAPRealmChain(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("{}")) }))
	defer up.Close()
	fl := &fakeLDAP{}
	tg := newTestGateway(t, up.URL, func(c *Config) {
		c.LDAPRealm = fl
		c.RealmOrder = []string{RealmNative, RealmLDAP}
	})
	status := func(userpass string) int {
		resp := do(t, "GET", tg.url+"/data/x", nil, userpass)
		resp.Body.Close()
		return resp.StatusCode
	}
	lastRealms := func() []events.RealmAttempt { return tg.out.last().Realms }

	if s := status("lena:lena-pw"); s != 200 {
		t.Fatalf("lena: %d", s)
	}
	if s := status("lena:lena-pw"); s != 200 || fl.calls != 1 {
		t.Fatalf("lena again: %d, %d directory calls, want 1 (cached)", s, fl.calls)
	}
	fl.mu.Lock()
	fl.version++ // the minute is over
	fl.mu.Unlock()
	if s := status("lena:lena-pw"); s != 200 || fl.calls != 2 {
		t.Fatalf("lena, new version: %d, %d directory calls, want 2", s, fl.calls)
	}
	for _, c := range []struct {
		userpass, reason string
	}{
		{"lena:wrong", reasonWrongPassword},
		{"nobody:x", reasonUnknownUser},
	} {
		if s := status(c.userpass); s != 401 {
			t.Fatalf("%s: %d", c.userpass, s)
		}
		want := []events.RealmAttempt{{Realm: realmNative, Type: "native", Reason: reasonUnknownUser}, {Realm: realmLDAP, Type: "ldap", Reason: c.reason}}
		if got := lastRealms(); !slices.Equal(got, want) {
			t.Fatalf("%s: realms %+v, want %+v", c.userpass, got, want)
		}
	}
	fl.mu.Lock()
	fl.down, fl.version = true, fl.version+1
	fl.mu.Unlock()
	if s := status("admin:admin-pw"); s != 200 {
		t.Fatalf("native user, directory down: %d", s)
	}
	if s := status("lena:lena-pw"); s != 401 {
		t.Fatalf("lena, directory down: %d", s)
	}
	if got := lastRealms(); len(got) != 2 || got[1] != (events.RealmAttempt{Realm: realmLDAP, Type: "ldap", Reason: reasonUnavailable}) {
		t.Fatalf("directory down: realms %+v", got)
	}
}
