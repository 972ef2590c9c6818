package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestValidateRole(t *testing.T) {
	tests := []struct {
		name string
		role Role
		want string // substring of the error, "" for valid
	}{
		{"valid", Role{Name: "user_admin", Cluster: []string{"manage_security", "monitor"},
			Indices: []IndexPrivileges{{Names: []string{"logs-*"}, Privileges: []string{"read", "view_index_metadata"}}}}, ""},
		{"no privileges at all", Role{Name: "empty"}, ""},
		{"every cluster privilege", Role{Name: "r", Cluster: ClusterPrivileges}, ""},
		{"every index privilege", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"*"}, Privileges: IndexPrivilegeNames}}}, ""},
		{"empty name", Role{}, "role name is empty"},
		{"superuser", Role{Name: "superuser", Cluster: []string{"all"}}, "role [superuser] is reserved"},
		{"other built-in", Role{Name: "kibana_system"}, "role [kibana_system] is reserved"},
		{"policy document", Role{Name: "implied_cluster_privileges"}, "is reserved"},
		{"api key prefix", Role{Name: "_apikey/k1/r"}, "role [_apikey/k1/r] is reserved"},
		{"whitespace", Role{Name: " r"}, "leading or trailing whitespace"},
		{"control", Role{Name: "r\n"}, "control characters"},
		{"too long", Role{Name: strings.Repeat("x", 508)}, "longer than 507"},
		{"unknown cluster privilege", Role{Name: "r", Cluster: []string{"manage_everything"}}, "unknown cluster privilege [manage_everything]"},
		{"index privilege as cluster", Role{Name: "r", Cluster: []string{"read"}}, "unknown cluster privilege [read]"},
		{"unknown index privilege", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"a"}, Privileges: []string{"manage_security"}}}}, "unknown index privilege [manage_security]"},
		{"no index names", Role{Name: "r", Indices: []IndexPrivileges{{Privileges: []string{"read"}}}}, "indices[0]: names is empty"},
		{"empty index name", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{""}, Privileges: []string{"read"}}}}, "is empty or contains control"},
		{"no index privileges", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"a"}}}}, "indices[0]: privileges is empty"},
		{"glob syntax in a name", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"logs-{a,b}"}, Privileges: []string{"read"}}}}, "only * wildcards are supported"},
		{"character class", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"logs-[ab]"}, Privileges: []string{"read"}}}}, "only * wildcards are supported"},
		{"question mark", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"logs-?"}, Privileges: []string{"read"}}}}, "only * wildcards are supported"},
		{"regular expression", Role{Name: "r", Indices: []IndexPrivileges{{Names: []string{"/logs-.*/"}, Privileges: []string{"read"}}}}, "only * wildcards are supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateRole(tt.role)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidRole) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want ErrInvalidRole containing %q", err, tt.want)
			}
		})
	}
}

func TestSetRoles(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, testConstraints)
	before := e.Revision()
	if d, _ := e.Decide(ctx, management("manage_security", "user_admin")); d.Allow {
		t.Fatal("allowed before the role exists")
	}
	if err := e.SetRoles(ctx, []Role{{Name: "user_admin", Cluster: []string{"manage_security"}}, {Name: "mon", Cluster: []string{"monitor"}}}); err != nil {
		t.Fatal(err)
	}
	if e.Revision() == before {
		t.Fatal("roles did not change the revision")
	}
	for _, tt := range []struct {
		privilege string
		roles     []string
		allow     bool
	}{
		{"manage_security", []string{"user_admin"}, true},
		{"manage_api_key", []string{"user_admin"}, true},     // implied
		{"manage_own_api_key", []string{"user_admin"}, true}, // implied
		{"read_security", []string{"user_admin"}, true},      // implied
		{"manage_security", []string{"mon"}, false},
		{"monitor", []string{"mon"}, true},
		{"monitor", []string{"x", "mon"}, true},
		{"manage", []string{"mon"}, false},
	} {
		d, err := e.Decide(ctx, management(tt.privilege, tt.roles...))
		if err != nil || d.Allow != tt.allow {
			t.Errorf("%s by %v: %+v, %v; want allow=%v", tt.privilege, tt.roles, d, err, tt.allow)
		}
		if tt.allow && d.Rule != "privilege:"+tt.privilege {
			t.Errorf("%s by %v: rule %q", tt.privilege, tt.roles, d.Rule)
		}
		if !tt.allow && !strings.Contains(d.Reason, "cluster privilege ["+tt.privilege+"]") {
			t.Errorf("%s by %v: reason %q does not name the privilege", tt.privilege, tt.roles, d.Reason)
		}
	}
	// The roles are kept when the constraints change, and the reverse.
	if err := e.SetConstraints(ctx, testConstraints[:1]); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Decide(ctx, management("manage_security", "user_admin")); !d.Allow {
		t.Fatal("SetConstraints dropped the roles")
	}
	if !strings.Contains(e.Generated(), `"user_admin": {"cluster": ["manage_security"]`) {
		t.Fatalf("roles not shown:\n%s", e.Generated())
	}
	if err := e.SetRoles(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Decide(ctx, management("manage_security", "user_admin")); d.Allow {
		t.Fatal("a removed role still grants")
	}
	if d, _ := e.Decide(ctx, content("GET", "/aaa", "user")); !d.Allow {
		t.Fatal("SetRoles dropped the constraints")
	}
}

func TestSetRolesRejects(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, nil)
	if err := e.SetRoles(ctx, []Role{{Name: "a", Cluster: []string{"monitor"}}}); err != nil {
		t.Fatal(err)
	}
	rev := e.Revision()
	for name, rs := range map[string][]Role{
		"invalid":   {{Name: "b", Cluster: []string{"bogus"}}},
		"duplicate": {{Name: "b"}, {Name: "b"}},
		"reserved":  {{Name: "superuser", Cluster: []string{"monitor"}}},
	} {
		if err := e.SetRoles(ctx, rs); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("%s: error = %v, want ErrInvalidRole", name, err)
		}
		if e.Revision() != rev {
			t.Errorf("%s: the policy changed", name)
		}
	}

	// A policy directory defining a built-in role refuses a role of that name.
	dir := writePolicy(t, map[string]string{"extra.rego": "package portcullis.roles\n\nops := {\"cluster\": [\"monitor\"]}\n"})
	e = newEngine(t, Config{Dir: dir}, nil)
	if err := e.SetRoles(ctx, []Role{{Name: "ops", Cluster: []string{"all"}}}); !errors.Is(err, ErrInvalidRole) {
		t.Fatalf("error = %v, want ErrInvalidRole", err)
	}
	if d, _ := e.Decide(ctx, management("monitor", "ops")); !d.Allow {
		t.Fatal("the built-in role of the policy directory does not grant")
	}
}

// TestRolesDecisionCache checks that a cached decision never outlives a
// role change.
func TestRolesDecisionCache(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, nil, WithDecisionCache(64))
	in := management("manage_security", "r")
	for _, tt := range []struct {
		roles []Role
		allow bool
	}{
		{nil, false},
		{[]Role{{Name: "r", Cluster: []string{"manage_security"}}}, true},
		{[]Role{{Name: "r", Cluster: []string{"monitor"}}}, false},
		{[]Role{{Name: "r", Cluster: []string{"all"}}}, true},
		{nil, false},
	} {
		if err := e.SetRoles(ctx, tt.roles); err != nil {
			t.Fatal(err)
		}
		for range 3 { // the second and third come from the cache
			if d, err := e.Decide(ctx, in); err != nil || d.Allow != tt.allow {
				t.Fatalf("roles %+v: %+v, %v; want allow=%v", tt.roles, d, err, tt.allow)
			}
		}
	}
}

// FuzzValidateRole checks that ValidateRole never panics and that whatever
// it accepts compiles: the gateway answers 200 to a role it validated, so
// SetRoles must not fail on it later. A role so accepted grants its cluster
// privilege.
func FuzzValidateRole(f *testing.F) {
	f.Add("user_admin", "manage_security", "logs-*", "read")
	f.Add(`q"uote\`, "monitor", `a"b`, "view_index_metadata")
	f.Add("superuser", "all", "*", "all")
	f.Add("implied_cluster_privileges", "manage", "", "fly")
	f.Add("ünï cødé", "manage_api_key", ".security-audit-*", "none")
	e, err := New(Config{}, WithDecisionCache(0))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name, cluster, index, privilege string) {
		r := Role{Name: name, Cluster: []string{cluster}, Indices: []IndexPrivileges{{Names: []string{index}, Privileges: []string{privilege}}}}
		if ValidateRole(r) != nil {
			return
		}
		if err := e.SetRoles(context.Background(), []Role{r}); err != nil {
			t.Fatalf("valid role %+v does not compile: %v", r, err)
		}
		if d, err := e.Decide(context.Background(), management(cluster, name)); err != nil || !d.Allow {
			t.Fatalf("role %+v: Decide = %+v, %v; want granted", r, d, err)
		}
	})
}

// TestAPIKeyRoles: roles named for an API key's descriptors compile and
// grant like any role, with the descriptor name unrestricted after the
// prefix.
func TestAPIKeyRoles(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, nil)
	name := APIKeyRoleName("k1", "my app role")
	if !IsAPIKeyRole(name) || IsAPIKeyRole("k1/my app role") {
		t.Fatal("IsAPIKeyRole")
	}
	if err := e.SetRoles(ctx, []Role{{Name: name, Cluster: []string{"monitor"}}}); err != nil {
		t.Fatal(err)
	}
	if d, _ := e.Decide(ctx, management("monitor", name)); !d.Allow {
		t.Fatalf("descriptor role does not grant: %+v", d)
	}
	for _, r := range []Role{
		{Name: APIKeyRolePrefix},
		{Name: APIKeyRoleName("k1", "r"), Cluster: []string{"bogus"}},
	} {
		if err := e.SetRoles(ctx, []Role{r}); !errors.Is(err, ErrInvalidRole) {
			t.Errorf("%+v: error = %v, want ErrInvalidRole", r, err)
		}
	}
}
