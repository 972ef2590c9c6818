package ldaprealm_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/ldaprealm"
	"github.com/portcullis/portcullis/gateway/ldaprealm/ldaptest"
)

func config(url string) ldaprealm.Config {
	return ldaprealm.Config{
		URL:               url,
		UserDNTemplates:   []string{"uid={0},ou=staff,dc=example,dc=com", ldaptest.UserDNTemplate},
		GroupSearchBaseDN: ldaptest.GroupBaseDN,
		RoleMapping: map[string][]string{
			// Compared as DNs: case and spacing do not matter.
			"CN=ops, ou=groups,dc=example,dc=com":   {"ops_admin", "logs_reader"},
			ldaptest.DevsGroup:                      {"logs_reader"},
			"cn=nobody,ou=groups,dc=example,dc=com": {"never"},
		},
		Timeout: 2 * time.Second,
	}
}

// TestRealm runs against a real slapd (scripts/ldap-test-server).
func TestRealm(t *testing.T) {
	srv := ldaptest.Start(t)
	now := time.Date(2026, 1, 1, 12, 0, 10, 0, time.UTC)
	r, err := ldaprealm.New(config(srv.URL), ldaprealm.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name, user, pass string
		roles            []string
		err              error
	}{
		{"alice: roles from both groups", "alice", ldaptest.AlicePassword, []string{"logs_reader", "ops_admin"}, nil},
		{"bob: one group", "bob", ldaptest.BobPassword, []string{"logs_reader"}, nil},
		{"wrong password", "alice", "wrong", nil, ldaprealm.ErrMismatch},
		{"another user's password", "bob", ldaptest.AlicePassword, nil, ldaprealm.ErrMismatch},
		{"unknown user", "mallory", "whatever", nil, ldaprealm.ErrUnknownUser},
		{"empty password: no unauthenticated bind", "alice", "", nil, ldaprealm.ErrMismatch},
		{"empty user", "", "x", nil, ldaprealm.ErrUnknownUser},
		{"DN injection is escaped", "alice,ou=people", ldaptest.AlicePassword, nil, ldaprealm.ErrUnknownUser},
		{"filter characters in a name", "a*)(uid=*", "x", nil, ldaprealm.ErrUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles, err := r.Authenticate(ctx, tc.user, tc.pass)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !slices.Equal(roles, tc.roles) {
				t.Fatalf("roles = %v, want %v", roles, tc.roles)
			}
		})
	}

	// Roles of the last verification, for the gateway's Basic cache, for
	// one version (a minute) only.
	if roles, ok := r.Roles("alice"); !ok || !slices.Equal(roles, []string{"logs_reader", "ops_admin"}) {
		t.Fatalf("Roles(alice) = %v, %v", roles, ok)
	}
	if _, ok := r.Roles("mallory"); ok {
		t.Fatal("Roles(mallory) known")
	}
	v := r.Version()
	now = now.Add(49 * time.Second)
	if r.Version() != v {
		t.Fatal("version changed within the minute")
	}
	now = now.Add(time.Second)
	if r.Version() == v {
		t.Fatal("version unchanged after the minute")
	}
	if _, ok := r.Roles("alice"); ok {
		t.Fatal("Roles(alice) outlived its minute")
	}

	// The directory goes away: unavailable, not a verdict.
	srv.Stop()
	for _, pass := range []string{ldaptest.AlicePassword, "wrong"} {
		if _, err := r.Authenticate(ctx, "alice", pass); !errors.Is(err, ldaprealm.ErrUnavailable) {
			t.Fatalf("slapd down: err = %v, want ErrUnavailable", err)
		}
	}
	// An empty password is refused without asking the directory.
	if _, err := r.Authenticate(ctx, "alice", ""); !errors.Is(err, ldaprealm.ErrMismatch) {
		t.Fatalf("slapd down, empty password: err = %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	_, err := ldaprealm.New(ldaprealm.Config{
		URL:               "http://x",
		UserDNTemplates:   []string{"uid=alice,dc=x"},
		GroupSearchFilter: "(member=x)",
		RoleMapping:       map[string][]string{"not a dn": {"r"}},
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"authc.ldap.url", "authc.ldap.user_dn_templates", "authc.ldap.group_search.filter", "authc.ldap.role_mapping"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error lacks %s: %v", key, err)
		}
	}
	if _, err := ldaprealm.New(ldaprealm.Config{URL: "ldap://127.0.0.1:1", UserDNTemplates: []string{ldaptest.UserDNTemplate}}); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
}
