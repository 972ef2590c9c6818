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

// TestUserSearch: Elasticsearch's user search mode against a real slapd,
// over ldaps:// with the server's certificate verified.
func TestUserSearch(t *testing.T) {
	srv := ldaptest.StartTLS(t)
	mapping := map[string][]string{ldaptest.OpsGroup: {"ops_admin"}, ldaptest.DevsGroup: {"logs_reader"}}
	ctx := context.Background()
	search := func(url string, mod func(*ldaprealm.Config)) *ldaprealm.Realm {
		t.Helper()
		c := ldaprealm.Config{
			URL: url, UserSearchBaseDN: ldaptest.BaseDN, BindDN: ldaptest.AdminDN, BindPassword: ldaptest.AdminPassword,
			GroupSearchBaseDN: ldaptest.GroupBaseDN, RoleMapping: mapping, Timeout: 10 * time.Second,
			CertificateAuthorities: []string{srv.CAFile},
		}
		if mod != nil {
			mod(&c)
		}
		r, err := ldaprealm.New(c)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		name, url  string
		mod        func(*ldaprealm.Config)
		user, pass string
		roles      []string
		err        error
	}{
		{"alice found by uid", srv.URL, nil, "alice", ldaptest.AlicePassword, []string{"logs_reader", "ops_admin"}, nil},
		{"bob over ldaps", srv.LDAPSURL, nil, "bob", ldaptest.BobPassword, []string{"logs_reader"}, nil},
		{"wrong password", srv.LDAPSURL, nil, "alice", "nope", nil, ldaprealm.ErrMismatch},
		{"unknown user", srv.URL, nil, "mallory", "x", nil, ldaprealm.ErrUnknownUser},
		{"filter injection is escaped", srv.URL, nil, "*", ldaptest.AlicePassword, nil, ldaprealm.ErrUnknownUser},
		{"ambiguous filter finds two: refused", srv.URL, func(c *ldaprealm.Config) { c.UserSearchFilter = "(|(uid={0})(objectClass=inetOrgPerson))" },
			"alice", ldaptest.AlicePassword, nil, ldaprealm.ErrUnknownUser},
		{"found by cn", srv.URL, func(c *ldaprealm.Config) { c.UserSearchFilter = "(cn={0})" }, "Alice", ldaptest.AlicePassword, []string{"logs_reader", "ops_admin"}, nil},
		{"one_level under the base finds nobody", srv.URL, func(c *ldaprealm.Config) { c.UserSearchScope = "one_level" }, "alice", ldaptest.AlicePassword, nil, ldaprealm.ErrUnknownUser},
		{"anonymous search (the fixture allows it)", srv.URL, func(c *ldaprealm.Config) { c.BindDN, c.BindPassword = "", "" }, "alice", ldaptest.AlicePassword, []string{"logs_reader", "ops_admin"}, nil},
		{"wrong bind password: unavailable, not a verdict", srv.URL, func(c *ldaprealm.Config) { c.BindPassword = "wrong" }, "alice", ldaptest.AlicePassword, nil, ldaprealm.ErrUnavailable},
		{"certificate not trusted", srv.LDAPSURL, func(c *ldaprealm.Config) { c.CertificateAuthorities = nil }, "alice", ldaptest.AlicePassword, nil, ldaprealm.ErrUnavailable},
		{"host name checked in full mode", strings.Replace(srv.LDAPSURL, "127.0.0.1", "localhost", 1), nil, "alice", ldaptest.AlicePassword, nil, ldaprealm.ErrUnavailable},
		{"certificate mode checks the chain only", strings.Replace(srv.LDAPSURL, "127.0.0.1", "localhost", 1), func(c *ldaprealm.Config) { c.VerificationMode = "certificate" },
			"alice", ldaptest.AlicePassword, []string{"logs_reader", "ops_admin"}, nil},
		{"certificate mode still needs a trusted chain", srv.LDAPSURL, func(c *ldaprealm.Config) { c.VerificationMode, c.CertificateAuthorities = "certificate", nil },
			"alice", ldaptest.AlicePassword, nil, ldaprealm.ErrUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles, err := search(tc.url, tc.mod).Authenticate(ctx, tc.user, tc.pass)
			if !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if !slices.Equal(roles, tc.roles) {
				t.Fatalf("roles = %v, want %v", roles, tc.roles)
			}
		})
	}
}

func TestUserSearchConfigValidation(t *testing.T) {
	_, err := ldaprealm.New(ldaprealm.Config{
		URL: "ldap://127.0.0.1:1", UserDNTemplates: []string{ldaptest.UserDNTemplate}, UserSearchBaseDN: "not a dn",
		UserSearchFilter: "(uid=x)", UserSearchScope: "deep", BindPassword: "secret-value", VerificationMode: "maybe",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, key := range []string{"authc.ldap.user_search.base_dn: cannot be set together", "authc.ldap.user_search.base_dn: ", "authc.ldap.user_search.filter",
		"authc.ldap.user_search.scope", "authc.ldap.bind_password", "authc.ldap.ssl.verification_mode"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error lacks %s: %v", key, err)
		}
	}
	if strings.Contains(err.Error(), "secret-value") {
		t.Fatal("the bind password is in the error")
	}
	if _, err := ldaprealm.New(ldaprealm.Config{URL: "ldaps://127.0.0.1:1", UserSearchBaseDN: ldaptest.BaseDN, CertificateAuthorities: []string{"/nonexistent.pem"}}); err == nil {
		t.Fatal("missing CA file accepted")
	}
}
