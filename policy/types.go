package policy

// Request kinds, the values of Request.Kind.
const (
	// KindContent is a request for documents or indices, authorized by
	// constraints (path, method, role).
	KindContent = "content"
	// KindManagement is a cluster management request, authorized by the
	// cluster privilege named in Request.Privilege.
	KindManagement = "management"
)

// Constraint grants the users holding one of Roles the requests whose method
// is one of Methods on a path covered by one of Paths. It is the compiled
// form of a `POST /security/constraint/` document.
//
//   - Paths cover the request path on segment boundaries: "/aaa" covers
//     "/aaa" and "/aaa/…", not "/aaab"; "/" covers every path. A segment
//     containing "*" is a glob within that segment ("/logs-*" covers
//     "/logs-2024/_search"); "*" and "/*" cover every path. Trailing slashes
//     are ignored.
//   - Methods match case-insensitively; "*" matches every method.
//   - Roles: "*" matches every authenticated user.
//
// Constraints only ever grant content requests (Request.Kind KindContent).
type Constraint struct {
	ID      string   `json:"id"`
	Paths   []string `json:"paths"`
	Methods []string `json:"methods"`
	Roles   []string `json:"roles"`
}

// Role is an Elasticsearch role as the policy compiles it: the cluster
// privileges it grants (enforced on management requests) and its index
// privileges (compiled into the generated module as data; enforced once the
// gateway classifies content requests into actions and indices).
type Role struct {
	Name    string
	Cluster []string
	Indices []IndexPrivileges
}

// IndexPrivileges grants Privileges on the indices matching Names.
// AllowRestrictedIndices lets the patterns cover restricted indices
// (.security-*, .security-audit-*).
type IndexPrivileges struct {
	Names                  []string
	Privileges             []string
	AllowRestrictedIndices bool
}

// User is the authenticated principal of a request.
type User struct {
	Name     string
	Roles    []string
	Realm    string
	AuthType string
}

// Request is what the policy knows of an HTTP request.
type Request struct {
	// Method is the HTTP method; Decide upper-cases it.
	Method string
	// Path is the canonical path: it starts with "/", its segments are
	// normalised by the gateway and a "/" inside a segment is written %2F.
	// No constraint covers a path that does not start with "/".
	Path string
	// Kind is KindContent or KindManagement. Any other value is denied.
	Kind string
	// Privilege is the cluster privilege a management request needs, such
	// as "manage_security".
	Privilege string
	// Action is the Elasticsearch action name, such as
	// "indices:data/read/search".
	Action    string
	RequestID string
	SourceIP  string
	// Query is the raw query string, not decoded, without the gateway's
	// token parameter ("q=x&size=10"). It becomes input.request.query only
	// for a policy that reads it (and such a policy gets no decision cache).
	Query []byte
	// Targets are what a content request does to which indices, from the
	// request classifier: one per (action, indices) pair, body items
	// included. Empty indices mean all indices. Roles' index privileges
	// grant a content request when they cover every target.
	Targets []Target
}

// Target is one Elasticsearch action on index expressions.
type Target struct {
	Action  string
	Indices []string
	// AnyIndex: the action names no index and Elasticsearch authorizes it
	// by its name alone (scroll, clear scroll, close point in time, async
	// result get and delete: the context was authorized when opened, and
	// the gateway checks it is the caller's). A role granting the action on
	// some index grants it. Indices is empty.
	AnyIndex bool
}

// Input is the input document of a decision. Its Rego form is stable and
// documented in docs/policy.md:
//
//	{
//	  "user": {"name", "roles", "realm", "authentication_type"},
//	  "request": {"method", "path", "path_prefixes", "kind", "privilege",
//	              "action", "request_id", "source_ip", "query",
//	              "targets": [{"action", "indices": [...], "any_index"}]}
//	}
//
// Decide upper-cases request.method and derives request.path_prefixes from
// Path: "/" and each segment prefix of the path, shortest first ("/",
// "/logs", "/logs/_doc" for "/logs/_doc"), so that the policy looks the
// prefixes up instead of splitting strings. Hand-written inputs (Rego tests)
// must supply it: without it no constraint grants anything.
type Input struct {
	User    User
	Request Request
}

// Decision is the outcome of a policy evaluation.
type Decision struct {
	// Allow is true only when the policy allowed the request.
	Allow bool
	// Reason is a human sentence: why the request was denied, or what kind
	// of grant allowed it.
	Reason string
	// Rule names what decided: "superuser", "privilege:<name>",
	// "constraint:<id>", "deny" (a deny rule fired) or "" (nothing granted).
	Rule string
	// Revision identifies the policy that decided (see Engine.Revision).
	Revision string
}
