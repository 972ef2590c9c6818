# Package portcullis.authz is Portcullis's authorization policy.
#
# The gateway queries data.portcullis.authz.decision once per request, with
# the input document described in docs/policy.md, and gets back
#
#     {"allow": bool, "reason": string, "rule": string}
#
# The policy denies by default. A request is allowed when a grant covers it,
# tried in this order: the superuser role (rule "superuser"), a cluster
# privilege for a management request ("privilege:<name>"), a constraint for a
# content request ("constraint:<id>", the smallest id when several match);
# and no deny rule fires. Any rule
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
# data.portcullis.constraints. And mind that every rule here runs for every
# request: in OPA's evaluator a lookup or a comprehension is cheap, each
# helper rule or builtin call costs about a microsecond.
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
	# A privilege it holds grants the request's when it is the same, "all",
	# or implies it.
	input.request.kind == "management"
	wanted := input.request.privilege
	some role in input.user.roles
	some held in {p | some p in data.portcullis.roles[role].cluster} | {p | some p in data.portcullis.constraints.roles[role].cluster}
	grants(held, wanted)
	rule := concat("", ["privilege:", wanted])
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
	# first glob segment, and lists {"rule", "pattern"}, pattern being a
	# regular expression the whole request path must match.
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
		some entry in by_role[role]
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
	some held in role_cluster(role)
	some pattern in data.portcullis.roles.cluster_privilege_actions[held]
	glob.match(pattern, ["\u0000"], target.action)
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

# index_granted: a role's index privilege entry names the index (its name
# patterns match the expression, wildcards included: "logs-*" is granted by
# "logs-*" or "*", not by "logs-a") and one of its privileges covers the
# action. Restricted indices (.security*) need allow_restricted_indices.
index_granted(action, index) if {
	some role in input.user.roles
	some entry in data.portcullis.constraints.roles[role].indices
	some privilege in entry.privileges
	some pattern in data.portcullis.roles.index_privilege_actions[privilege]
	glob.match(pattern, ["\u0000"], action)
	some name in entry.names
	glob.match(name, ["\u0000"], index)
	not restricted_refused(entry, index)
}

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

restricted_refused(entry, index) if {
	startswith(index, ".security")
	not entry.allow_restricted_indices
}

role_cluster(role) := {p | some p in data.portcullis.roles[role].cluster} | {p | some p in data.portcullis.constraints.roles[role].cluster}

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

# grants(held, wanted) tells whether cluster privilege held grants wanted.
grants(held, wanted) if held in {wanted, "all"}

grants(held, wanted) if wanted in data.portcullis.roles.implied_cluster_privileges[held]

# refusal explains a request that no grant covers.
refusal := sprintf("no role of [%s] holds cluster privilege [%s]", [roles_text, input.request.privilege]) if {
	input.request.kind == "management"
} else := sprintf("no constraint grants [%s %s] to roles [%s], and their privileges do not cover [%s]", [input.request.method, input.request.path, roles_text, targets_text]) if {
	count(input.request.targets) > 0
} else := sprintf("no constraint grants [%s %s] to roles [%s]", [input.request.method, input.request.path, roles_text])

targets_text := concat(", ", [sprintf("%s on %v", [t.action, target_indices(t)]) | some t in input.request.targets])

roles_text := concat(", ", sort(input.user.roles))
