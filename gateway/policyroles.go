package gateway

import (
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// PolicyRoles is every role the policy compiles from the read model: the
// roles of the role API by name; for each API key not invalidated, its
// role descriptors as policy.APIKeyRoleName(id, descriptor) and the
// snapshot of its owner's roles as policy.APIKeyLimitedRoleName(id, role).
// The server recompiles the policy with it whenever a role or a key changes.
func PolicyRoles(m *projector.Model) []policy.Role {
	return append(RolePolicyRoles(m), APIKeyPolicyRoles(m)...)
}

// RolePolicyRoles is the roles of the role API, as the policy compiles them.
func RolePolicyRoles(m *projector.Model) []policy.Role {
	var out []policy.Role
	for _, r := range m.Roles() {
		out = append(out, policyRole(r.Name, r))
	}
	return out
}

// APIKeyPolicyRoles is, for each API key not invalidated, its descriptor
// roles and the snapshot of its owner's roles, as the policy compiles them.
func APIKeyPolicyRoles(m *projector.Model) []policy.Role {
	var out []policy.Role
	for _, k := range m.APIKeys() {
		if k.Invalidated {
			continue
		}
		for i := range k.Roles {
			out = append(out, policyRole(policy.APIKeyRoleName(k.ID, k.Roles[i].Name), &k.Roles[i]))
		}
		for i := range k.LimitedBy {
			out = append(out, policyRole(policy.APIKeyLimitedRoleName(k.ID, k.LimitedBy[i].Name), &k.LimitedBy[i]))
		}
	}
	return out
}

func policyRole(name string, r *projector.Role) policy.Role {
	pr := policy.Role{Name: name, Cluster: r.Cluster, Indices: make([]policy.IndexPrivileges, len(r.Indices))}
	for i, ip := range r.Indices {
		pr.Indices[i] = policy.IndexPrivileges{Names: ip.Names, Privileges: ip.Privileges, AllowRestrictedIndices: ip.AllowRestrictedIndices}
	}
	return pr
}
