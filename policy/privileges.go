package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ClusterPrivileges are Elasticsearch's cluster privilege names
// (ClusterPrivilegeResolver, 8.x), the names a role's cluster list may hold.
// What each implies beyond itself is data of the policy
// (data.portcullis.roles.implied_cluster_privileges in rego/roles.rego).
var ClusterPrivileges = []string{
	"none", "all", "monitor", "manage",
	"manage_security", "read_security", "manage_api_key", "manage_own_api_key", "grant_api_key",
	"manage_token", "manage_saml", "manage_oidc", "manage_service_account", "manage_user_profile", "delegate_pki",
	"manage_index_templates", "manage_ingest_pipelines", "manage_pipeline", "read_pipeline",
	"manage_ilm", "read_ilm", "manage_slm", "read_slm", "create_snapshot", "monitor_snapshot",
	"manage_ml", "monitor_ml", "manage_transform", "monitor_transform",
	"manage_data_frame_transforms", "monitor_data_frame_transforms",
	"manage_watcher", "monitor_watcher", "manage_rollup", "monitor_rollup",
	"manage_ccr", "read_ccr", "manage_enrich", "monitor_enrich", "manage_inference", "monitor_inference",
	"manage_autoscaling", "manage_logstash_pipelines", "cancel_task", "transport_client",
	"manage_search_application", "manage_behavioral_analytics", "post_behavioral_analytics_event",
	"manage_search_query_rules", "manage_search_synonyms", "manage_connector", "monitor_connector",
	"read_connector_secrets", "write_connector_secrets", "read_fleet_secrets", "write_fleet_secrets",
	"cross_cluster_search", "cross_cluster_replication", "monitor_text_structure",
	"monitor_data_stream_global_retention", "manage_data_stream_global_retention",
}

// IndexPrivilegeNames are Elasticsearch's index privilege names
// (IndexPrivilege, 8.x), the names an entry of a role's indices may hold.
var IndexPrivilegeNames = []string{
	"none", "all", "read", "read_cross_cluster", "create", "create_doc", "index", "delete", "write",
	"monitor", "manage", "create_index", "delete_index", "view_index_metadata",
	"manage_follow_index", "manage_leader_index", "manage_ilm", "manage_data_stream_lifecycle",
	"maintenance", "auto_configure", "cross_cluster_replication", "cross_cluster_replication_internal",
}

// BuiltinRoles are the names a role created through the API may not take:
// Elasticsearch's reserved roles, of which the policy defines superuser
// (rego/roles.rego), and the names of the other documents of package
// portcullis.roles, which the policy reads where it reads roles.
var BuiltinRoles = []string{
	"superuser",
	"apm_system", "apm_user", "beats_admin", "beats_system", "editor", "enrich_user", "ingest_admin",
	"inference_admin", "inference_user", "kibana_admin", "kibana_system", "kibana_user",
	"logstash_admin", "logstash_system", "machine_learning_admin", "machine_learning_user",
	"monitoring_user", "remote_monitoring_agent", "remote_monitoring_collector", "reporting_user",
	"rollup_admin", "rollup_user", "snapshot_user", "transform_admin", "transform_user",
	"transport_client", "viewer", "watcher_admin", "watcher_user",
	"implied_cluster_privileges",
}

// IsBuiltinRole reports whether name is reserved (BuiltinRoles).
func IsBuiltinRole(name string) bool { return slices.Contains(BuiltinRoles, name) }

// APIKeyRolePrefix starts the names of the roles compiled from API keys'
// role descriptors: "_apikey/<key id>/<descriptor name>" (APIKeyRoleName).
// A role of the role API may not take such a name (ValidateRole), nor may a
// user hold one: the gateway grants them only to requests authenticated
// with that key.
const APIKeyRolePrefix = "_apikey/"

// APIKeyRoleName is the name of the role compiled from descriptor of the
// API key id.
func APIKeyRoleName(id, descriptor string) string { return APIKeyRolePrefix + id + "/" + descriptor }

// APIKeyLimitedRoleName is the policy role compiled from role name of the
// snapshot of an API key's owner's roles taken when key id was created
// ("_apikey/<id>~limited_by/<role>": '~' is never in a key id, so it does
// not collide with a descriptor role of the key).
func APIKeyLimitedRoleName(id, role string) string {
	return APIKeyRolePrefix + id + "~limited_by/" + role
}

// IsAPIKeyRole reports whether name is an API key's descriptor role.
func IsAPIKeyRole(name string) bool { return strings.HasPrefix(name, APIKeyRolePrefix) }

// maxRoleName is Elasticsearch's limit on a role name, in characters.
const maxRoleName = 507

// ValidateRole reports whether r can be compiled: a name of 1 to 507
// characters without leading or trailing whitespace, control characters or
// invalid UTF-8, that is not a built-in role (BuiltinRoles); cluster
// privileges from ClusterPrivileges; each indices entry with at least one
// non-empty index name and at least one privilege from IndexPrivilegeNames.
//
// The error wraps ErrInvalidRole and lists every problem on one line, in
// words fit for a 400 answer.
func ValidateRole(r Role) error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	switch n := len([]rune(r.Name)); {
	case r.Name == "":
		add("role name is empty")
	case !clean(r.Name):
		add("role name contains control characters or invalid UTF-8")
	case n > maxRoleName:
		add("role name is longer than %d characters", maxRoleName)
	case strings.TrimSpace(r.Name) != r.Name:
		add("role name has leading or trailing whitespace")
	case IsBuiltinRole(r.Name), IsAPIKeyRole(r.Name):
		add("role [%s] is reserved and may not be used", r.Name)
	}
	for _, p := range r.Cluster {
		if !slices.Contains(ClusterPrivileges, p) {
			add("unknown cluster privilege [%s]", clip(p))
		}
	}
	for i, ip := range r.Indices {
		if len(ip.Names) == 0 {
			add("indices[%d]: names is empty", i)
		}
		for _, n := range ip.Names {
			switch {
			case n == "" || !clean(n):
				add("indices[%d]: index name %q is empty or contains control characters", i, clip(n))
			case strings.ContainsAny(n, "[]{}\\?") || strings.HasPrefix(n, "/"):
				// The policy matches names with glob.match, where these are
				// syntax; Elasticsearch reads them otherwise (? a wildcard,
				// /…/ a regular expression). Refused rather than misread.
				add("indices[%d]: index name pattern %q: only * wildcards are supported (not ?, [ ], { }, \\ or /regular expressions/)", i, clip(n))
			}
		}
		if len(ip.Privileges) == 0 {
			add("indices[%d]: privileges is empty", i)
		}
		for _, p := range ip.Privileges {
			if !slices.Contains(IndexPrivilegeNames, p) {
				add("unknown index privilege [%s]", clip(p))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s", ErrInvalidRole, strings.Join(problems, "; "))
}

// ValidateAPIKeyRole is ValidateRole for a role compiled from an API key's
// role descriptor: the name may be anything non-empty after the prefix
// (Elasticsearch does not restrict descriptor names), the privileges are
// checked as for any role.
func ValidateAPIKeyRole(r Role) error {
	name, ok := strings.CutPrefix(r.Name, APIKeyRolePrefix)
	if !ok || name == "" || !clean(name) {
		return fmt.Errorf("%w: api key role name %q is not %s<id>/<name>", ErrInvalidRole, clip(r.Name), APIKeyRolePrefix)
	}
	r.Name = "descriptor"
	return ValidateRole(r)
}

// clip shortens s for an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 64 {
		return string(r[:64]) + "…"
	}
	return s
}

// checkRoles validates rs as a whole: each role (API key descriptor roles
// with ValidateAPIKeyRole), and names unique.
func checkRoles(rs []Role) error {
	var errs []error
	seen := make(map[string]bool, len(rs))
	for _, r := range rs {
		if seen[r.Name] {
			errs = append(errs, fmt.Errorf("%w %q: duplicate name", ErrInvalidRole, r.Name))
		}
		seen[r.Name] = true
		validate := ValidateRole
		if IsAPIKeyRole(r.Name) {
			validate = ValidateAPIKeyRole
		}
		if err := validate(r); err != nil {
			errs = append(errs, fmt.Errorf("role %q: %w", r.Name, err))
		}
	}
	return errors.Join(errs...)
}
