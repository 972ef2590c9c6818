# Package portcullis.authz is Portcullis's authorization policy.
#
# The gateway queries data.portcullis.authz.decision once per request, with
# the input document described in docs/policy.md, and gets back
#
#     {"allow": bool, "reason": string, "rule": string}
#
# The policy denies by default. A request is allowed when a grant covers it,
# tried in this order: the superuser role (rule "superuser"), a management
# request needing no privilege, on the user's own account ("self"), a
# cluster privilege for a management request ("privilege:<name>"), a
# constraint for a content request ("constraint:<id>", the smallest id when
# several match), the index and cluster privileges of the user's roles
# covering every target of a content request ("role_privileges"); and no
# deny rule fires. Any rule
#
#     deny contains reason if { ... }
#
# in this package, in this file or another file of the policy directory,
# overrides every grant; the decision then carries the smallest reason.
#
# Constraints and roles created through the API are not written here. They
# are compiled from the projection into the generated module
# data.portcullis.constraints (roles under .roles), which the gateway
# shows on its policy API: documents keyed by path prefix, method and role,
# so that a decision looks them up instead of scanning them, and costs the
# same at ten constraints as at ten thousand. Keep it so when editing:
# iterate over the request (its path prefixes, the user's roles), never over
# data.portcullis.constraints. And mind that every rule that reads the input
# runs for every request: the engine runs OPA's plan of this policy (see
# docs/policy.md, "Evaluation"), where each lookup, iteration, builtin call
# and collection built still counts.
#
# Rules that do not read the input (the tables at the end of this file:
# what each role grants, its privileges expanded into action patterns) are
# precomputed: the engine evaluates them once per change of the policy files
# or the roles, and compiles their values in place of their bodies, so that
# a decision looks a role up instead of expanding its privileges; and it
# remembers, from one request to the next, the values of functions that do
# not read the input (role_grants_index). See docs/policy.md, "Precomputed
# rules". opa test and opa eval evaluate them as written, with the same
# result.
package portcullis.authz

# decision is the document the gateway reads. It is always defined.
decision := {"allow": false, "reason": reason, "rule": "deny"} if {
	reason := min(deny)
} else := {"allow": true, "reason": "the user has role superuser", "rule": "superuser"} if {
	"superuser" in input.user.roles
} else := {"allow": true, "reason": "the action needs no privilege for the user's own account", "rule": "self"} if {
	# The gateway asks for no privilege only for what a user may do to
	# their own account (read who they are, change their own password).
	input.request.kind == "management"
	input.request.privilege == ""
} else := {"allow": true, "reason": "a role of the user holds the cluster privilege", "rule": rule} if {
	# A role is built in (data.portcullis.roles, rego/roles.rego) or
	# created through the API (data.portcullis.constraints.roles, the
	# generated module); the names never collide, and either may be absent.
	# A privilege it holds grants the request's when it is the same or
	# implies it (cluster_grants) ...
	input.request.kind == "management"
	some role in input.user.roles
	cluster_grants[role][input.request.privilege]
	rule := concat("", ["privilege:", input.request.privilege])
} else := {"allow": true, "reason": "a role of the user holds the cluster privilege", "rule": rule} if {
	# ... or when it is "all" (cluster_all).
	input.request.kind == "management"
	some role in input.user.roles
	cluster_all[role]
	rule := concat("", ["privilege:", input.request.privilege])
} else := {"allow": true, "reason": "a constraint grants the method on the path to a role of the user", "rule": rule} if {
	input.request.kind == "content"

	# Restricted indices (.security*: the audit trail) are never granted
	# by a path constraint, only by a role with allow_restricted_indices.
	not restricted_request

	# The rules ("constraint:<id>") of the constraints granting the request.
	#
	# data.portcullis.constraints.index[prefix][method][role] lists, sorted,
	# the rules of the constraints granting method to role on prefix and on
	# every path below it; role "*" stands for every user. globs has the same
	# keys, prefix being the literal part of a constraint path before its
	# first glob segment, and holds {"any", "entries"}: entries lists {"rule",
	# "pattern"}, pattern being a regular expression the whole request path
	# must match, and any matches what one of them matches, so that a request
	# none grants costs one match however many there are.
	#
	# input.request.path_prefixes are "/" and every segment prefix of the
	# path: "/", "/logs", "/logs/_doc" and "/logs/_doc/1" for
	# "/logs/_doc/1". The gateway computes them; without them no constraint
	# grants anything.
	index := data.portcullis.constraints.index
	globs := data.portcullis.constraints.globs
	method := input.request.method
	roles := array.concat(input.user.roles, ["*"])
	rule := min({rules[0] |
		some prefix in input.request.path_prefixes
		by_role := index[prefix][method]
		some role in roles
		rules := by_role[role]
	} | {entry.rule |
		some prefix in input.request.path_prefixes
		by_role := globs[prefix][method]
		some role in roles
		group := by_role[role]
		regex.match(group.any, input.request.path)
		some entry in group.entries
		regex.match(entry.pattern, input.request.path)
	})
} else := {"allow": true, "reason": "the privileges of the user's roles cover every target of the request", "rule": "role_privileges"} if {
	# Elasticsearch's model: the request classifier names what the request
	# does (input.request.targets: an action and the index expressions it
	# acts on, body items included); every target must be granted by an
	# index privilege (or, for a cluster action, a cluster privilege) of a
	# role of the user. A request the classifier does not know has no
	# targets, and no role grants it.
	input.request.kind == "content"
	count(input.request.targets) > 0
	every target in input.request.targets {
		target_granted(target)
	}
} else := {"allow": false, "reason": refusal, "rule": ""}

# target_granted: a cluster action is granted by a cluster privilege whose
# action patterns match it.
target_granted(target) if {
	startswith(target.action, "cluster:")
	some role in input.user.roles
	role_grants_cluster_action(role, target.action)
}

# target_granted: an index action needs every index expression granted. No
# expression means all indices, written "*": only a role granting "*" has
# it. (The gateway narrows a wildcard read to the authorized patterns before
# asking, as Elasticsearch does, and drops exclusions: they need no grant.)
target_granted(target) if {
	not startswith(target.action, "cluster:")
	every index in target_indices(target) {
		index_granted(target.action, index)
	}
}

# target_granted: an action Elasticsearch authorizes by its name alone
# (any_index: scroll, clear scroll, close point in time, async result get
# and delete name no index; the context was authorized when it was opened)
# is granted by a role granting it on some index. Whose context the id is,
# the gateway checks before the request goes on.
target_granted(target) if {
	target.any_index == true
	some role in input.user.roles
	some entry in data.portcullis.constraints.roles[role].indices
	some privilege in entry.privileges
	some pattern in data.portcullis.roles.index_privilege_actions[privilege]
	glob.match(pattern, ["\u0000"], target.action)
}

target_indices(target) := target.indices if {
	count(target.indices) > 0
} else := ["*"]

index_granted(action, index) if {
	some role in input.user.roles
	role_grants_index(role, action, index)
}

# role_grants_cluster_action(role, action) and role_grants_index(role,
# action, index) read no input: their values depend on their arguments
# only, and the engine remembers them from one request to the next
# (docs/policy.md, "Precomputed rules"). They are total (else := false) so
# that a refusal is remembered too.

role_grants_cluster_action(role, action) := true if {
	matches(cluster_action_grants[role], action)
} else := false

# role_grants_index: an index privilege entry of role names the index (its
# name patterns match the expression, wildcards included: "logs-*" is
# granted by "logs-*" or "*", not by "logs-a") and one of its privileges
# covers the action (index_grants). Restricted indices (.security*) need
# allow_restricted_indices.
role_grants_index(role, action, index) := true if {
	some grant in index_grants[role]
	matches(grant.actions, action)
	matches(grant.names, index)
	not restricted_refused(grant, index)
} else := false

# restricted_request: the request's path or one of its targets names a
# restricted index.
restricted_request if {
	startswith(input.request.path, "/.security")
}

restricted_request if {
	some target in input.request.targets
	some index in target.indices
	startswith(index, ".security")
}

restricted_refused(grant, index) if {
	startswith(index, ".security")
	grant.refuses_restricted
}

# deny holds the reasons for which a request is refused whatever grants it.
# Add your own rules to it. These two refuse what the gateway should never
# send: a request of unknown kind, a method outside the set a constraint can
# name (so that a constraint's method "*" means every method of that set).
deny contains sprintf("unknown request kind [%s]", [input.request.kind]) if {
	not input.request.kind in {"content", "management"}
}

deny contains sprintf("unsupported method [%s]", [input.request.method]) if {
	not input.request.method in {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}
}

# refusal explains a request that no grant covers.
refusal := sprintf("no role of [%s] holds cluster privilege [%s]", [roles_text, input.request.privilege]) if {
	input.request.kind == "management"
} else := sprintf("no constraint grants [%s %s] to roles [%s], and their privileges do not cover [%s]", [input.request.method, input.request.path, roles_text, targets_text]) if {
	count(input.request.targets) > 0
} else := sprintf("no constraint grants [%s %s] to roles [%s]", [input.request.method, input.request.path, roles_text])

targets_text := concat(", ", [sprintf("%s on %v", [t.action, target_indices(t)]) | some t in input.request.targets])

roles_text := concat(", ", sort(input.user.roles))

# Tables: what each role grants. They read the roles and the privilege
# tables of package portcullis.roles, never the input, and are precomputed
# (see the top of this file).

# role_names are the roles that may hold privileges: the built-in ones
# (data.portcullis.roles) and those created through the API
# (data.portcullis.constraints.roles).
role_names := {name | some name, _ in data.portcullis.roles} | {name | some name, _ in data.portcullis.constraints.roles}

# role_cluster(role) is the set of cluster privileges role holds.
role_cluster(role) := {p | some p in data.portcullis.roles[role].cluster} | {p | some p in data.portcullis.constraints.roles[role].cluster}

# cluster_grants[role] is the set of cluster privileges role grants: those
# it holds and those they imply (data.portcullis.roles.implied_cluster_privileges).
cluster_grants := {role: grants |
	some role in role_names
	held := role_cluster(role)
	grants := held | {p | some h in held; some p in data.portcullis.roles.implied_cluster_privileges[h]}
}

# cluster_all is the set of roles holding "all", which grants every cluster
# privilege.
cluster_all := {role | some role in role_names; "all" in role_cluster(role)}

# cluster_action_grants[role] matches the actions the cluster privileges of
# role grant (data.portcullis.roles.cluster_privilege_actions).
cluster_action_grants := {role: patterns_matcher(patterns) |
	some role in role_names
	patterns := [p | some held in role_cluster(role); some p in data.portcullis.roles.cluster_privilege_actions[held]]
}

# index_grants[role] lists the index privilege entries of a role created
# through the API, each as {"actions", "names", "refuses_restricted"}:
# actions matches the actions its privileges cover
# (data.portcullis.roles.index_privilege_actions), names the index
# expressions its name patterns cover; refuses_restricted is true unless it
# has allow_restricted_indices.
index_grants := {role: grants |
	some role, def in data.portcullis.constraints.roles
	grants := [grant |
		some entry in def.indices
		grant := {
			"actions": patterns_matcher([p | some privilege in entry.privileges; some p in data.portcullis.roles.index_privilege_actions[privilege]]),
			"names": patterns_matcher(entry.names),
			"refuses_restricted": refuses_restricted(entry),
		}
	]
}

refuses_restricted(entry) := false if entry.allow_restricted_indices

else := true

# patterns_matcher sorts glob patterns (glob.match with the delimiter
# "\u0000": "*" matches any characters) for matches: a plain string is
# looked up, "<plain>*" is a prefix, only the others are globs.
patterns_matcher(patterns) := {
	"exact": {p | some p in patterns; plain_pattern(p)},
	"prefixes": {prefix | some p in patterns; prefix := prefix_pattern(p)},
	"globs": {p | some p in patterns; not plain_pattern(p); not prefix_pattern(p)},
}

# plain_pattern: a string without a character that glob.match treats
# specially (nor the delimiter), which matches only itself.
plain_pattern(p) if {
	is_string(p)
	not regex.match(`[*?\[\]{},\\\x00]`, p)
}

# prefix_pattern(p) is the plain prefix of a pattern "<prefix>*", which
# matches the strings starting with prefix and without the delimiter.
prefix_pattern(p) := prefix if {
	is_string(p)
	endswith(p, "*")
	prefix := trim_suffix(p, "*")
	plain_pattern(prefix)
}

# matches(m, s): one of the patterns of patterns_matcher m matches s, as
# glob.match(pattern, ["\u0000"], s) would.
matches(m, s) if m.exact[s]

matches(m, s) if {
	some prefix in m.prefixes
	startswith(s, prefix)
	not contains(s, "\u0000")
}

matches(m, s) if {
	some pattern in m.globs
	glob.match(pattern, ["\u0000"], s)
}
