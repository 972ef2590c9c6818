package main

import (
	"testing"

	"github.com/portcullis/portcullis/policy"
)

func TestCompiledRolesCovers(t *testing.T) {
	role := func(name string, idx ...string) policy.Role {
		return policy.Role{Name: name, Indices: []policy.IndexPrivileges{{Names: idx, Privileges: []string{"read"}}}}
	}
	users := []policy.Role{role("r1", "a"), role("r2", "b")}
	k1, k2 := role(policy.APIKeyRoleName("k1", "d"), "c"), role(policy.APIKeyRoleName("k2", "d"), "e")
	compiled := newCompiledRoles(users, []policy.Role{k1, k2})
	tests := []struct {
		name        string
		users, keys []policy.Role
		want        bool
	}{
		{"nothing changed", users, []policy.Role{k1, k2}, true},
		{"a key without descriptors created or invalidated", users, []policy.Role{k1, k2}, true},
		{"a key with descriptors invalidated", users, []policy.Role{k2}, true},
		{"every key invalidated", users, nil, true},
		{"a key with descriptors created", users, []policy.Role{k1, k2, role(policy.APIKeyRoleName("k3", "d"), "f")}, false},
		{"a role deleted", users[:1], []policy.Role{k1, k2}, false},
		{"a role created", append(users, role("r3", "g")), []policy.Role{k1, k2}, false},
		{"a role changed", []policy.Role{users[0], role("r2", "other")}, []policy.Role{k1, k2}, false},
		{"a key role changed", users, []policy.Role{k1, role(k2.Name, "other")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := compiled.covers(tt.users, tt.keys); got != tt.want {
				t.Fatalf("covers = %v, want %v", got, tt.want)
			}
		})
	}
}
