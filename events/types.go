package events

import (
	"encoding/json"
	"time"
)

// Event types. The version suffix is part of the name: a payload never
// changes incompatibly, a new version is a new type. docs/events.md documents
// every one of them (a test keeps the two in step).
const (
	TypeAccountCreated    = "portcullis.account.created.v1"
	TypeAccountUpdated    = "portcullis.account.updated.v1"
	TypeAccountDeleted    = "portcullis.account.deleted.v1"
	TypeConstraintCreated = "portcullis.constraint.created.v1"
	TypeConstraintDeleted = "portcullis.constraint.deleted.v1"
	TypeRolePut           = "portcullis.role.put.v1"
	TypeRoleDeleted       = "portcullis.role.deleted.v1"
	TypeTokenIssued       = "portcullis.token.issued.v1"
	TypeTokenRevoked      = "portcullis.token.revoked.v1"
	TypeAPIKeyCreated     = "portcullis.apikey.created.v1"
	TypeAPIKeyInvalidated = "portcullis.apikey.invalidated.v1"
	TypeContextOpened     = "portcullis.context.opened.v1"
	TypeContextClosed     = "portcullis.context.closed.v1"
	// TypeAuthPrefix + <action> + ".v1" is the type of an auth outcome, e.g.
	// portcullis.auth.authentication_failed.v1.
	TypeAuthPrefix = "portcullis.auth."
)

// AuthType returns the event type of an auth outcome action.
func AuthType(action string) string { return TypeAuthPrefix + action + ".v1" }

// StateTypes and TokenTypes list the types a projector folds.
var (
	StateTypes = []string{TypeAccountCreated, TypeAccountUpdated, TypeAccountDeleted,
		TypeConstraintCreated, TypeConstraintDeleted, TypeRolePut, TypeRoleDeleted,
		TypeAPIKeyCreated, TypeAPIKeyInvalidated}
	TokenTypes = []string{TypeTokenIssued, TypeTokenRevoked, TypeContextOpened, TypeContextClosed}
)

// AccountCreated is the payload of portcullis.account.created.v1. UID is the
// id of this incarnation of the account: a user deleted and created again
// gets a new UID, so tokens of the old one never resolve to the new one.
type AccountCreated struct {
	UID           string   `json:"uid"`
	Username      string   `json:"username"`
	PasswordHash  string   `json:"password_hash"`
	Roles         []string `json:"roles"`
	Authenticator string   `json:"authenticator,omitempty"`
	// FullName, Email and Metadata are the Elasticsearch user API's
	// descriptive fields; Metadata is a JSON object.
	FullName string          `json:"full_name,omitempty"`
	Email    string          `json:"email,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Disabled accounts do not authenticate (Elasticsearch's enabled: false).
	Disabled bool `json:"disabled,omitempty"`
}

// AccountUpdated is the payload of portcullis.account.updated.v1. A nil
// field is unchanged. A new PasswordHash revokes every token and cached
// credential of the account.
type AccountUpdated struct {
	UID          string    `json:"uid"`
	Username     string    `json:"username"`
	PasswordHash *string   `json:"password_hash,omitempty"`
	Roles        *[]string `json:"roles,omitempty"`
	FullName     *string   `json:"full_name,omitempty"`
	Email        *string   `json:"email,omitempty"`
	// Metadata replaces the account's metadata object when set.
	Metadata json.RawMessage `json:"metadata,omitempty"`
	// Enabled enables (true) or disables (false) the account when set.
	Enabled *bool `json:"enabled,omitempty"`
}

// AccountDeleted is the payload of portcullis.account.deleted.v1.
type AccountDeleted struct {
	UID      string `json:"uid"`
	Username string `json:"username"`
}

// ConstraintCreated is the payload of portcullis.constraint.created.v1: the
// codelibs "content constraint". Paths match on segment boundaries, methods
// case-insensitively; "*" is an explicit wildcard.
type ConstraintCreated struct {
	ID            string   `json:"id"`
	Paths         []string `json:"paths"`
	Methods       []string `json:"methods"`
	Roles         []string `json:"roles"`
	Authenticator string   `json:"authenticator,omitempty"`
}

// ConstraintDeleted is the payload of portcullis.constraint.deleted.v1.
type ConstraintDeleted struct {
	ID string `json:"id"`
}

// RolePut is the payload of portcullis.role.put.v1: an Elasticsearch role,
// created or replaced as a whole. Cluster and index privilege names are
// Elasticsearch's; Metadata is a JSON object.
type RolePut struct {
	Name     string            `json:"name"`
	Cluster  []string          `json:"cluster"`
	Indices  []IndexPrivileges `json:"indices"`
	Metadata json.RawMessage   `json:"metadata,omitempty"`
}

// IndexPrivileges is one entry of a role's indices: the privileges granted
// on the index patterns Names.
type IndexPrivileges struct {
	Names                  []string `json:"names"`
	Privileges             []string `json:"privileges"`
	AllowRestrictedIndices bool     `json:"allow_restricted_indices"`
}

// RoleDeleted is the payload of portcullis.role.deleted.v1.
type RoleDeleted struct {
	Name string `json:"name"`
}

// TokenIssued is the payload of portcullis.token.issued.v1. TokenHash is the
// hex SHA-256 of the token; the token itself never leaves the login answer.
// The token resolves to the account incarnation UID at credential Epoch:
// roles are read from the account at request time, and a password change
// (a new epoch) or a deletion (a new UID) leaves the token unresolvable.
type TokenIssued struct {
	TokenHash  string    `json:"token_hash"`
	Username   string    `json:"username"`
	AccountUID string    `json:"account_uid"`
	Epoch      uint64    `json:"epoch"`
	IssuedAt   time.Time `json:"issued_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// TokenRevoked is the payload of portcullis.token.revoked.v1.
type TokenRevoked struct {
	TokenHash string `json:"token_hash"`
	Username  string `json:"username,omitempty"`
	Reason    string `json:"reason"`
}

// APIKeyCreated is the payload of portcullis.apikey.created.v1, on subject
// StateSubject(AggregateAPIKey, ID). SecretHash is "sha256$<salt>$<hex>":
// the salted SHA-256 of the 22-character random secret, which never leaves
// the create answer. Expiration is zero for a key that never expires.
// RoleDescriptors is the create request's role_descriptors object (name →
// Elasticsearch role descriptor), validated; absent, the key has its owner's
// privileges. Metadata is a JSON object.
type APIKeyCreated struct {
	ID              string          `json:"id"`
	Name            string          `json:"name"`
	Username        string          `json:"username"`
	Realm           string          `json:"realm"`
	SecretHash      string          `json:"secret_hash"`
	Creation        time.Time       `json:"creation"`
	Expiration      time.Time       `json:"expiration,omitzero"`
	RoleDescriptors json.RawMessage `json:"role_descriptors,omitempty"`
	Metadata        json.RawMessage `json:"metadata,omitempty"`
	// LimitedBy is the point-in-time snapshot of the owner's roles at
	// creation, as role descriptors by role name (Elasticsearch's
	// limited_by): the key's privileges never exceed them, whatever the
	// owner's roles become. LimitedByBuiltin names the built-in roles
	// (superuser …) among them, which are immutable and kept by name. Both
	// absent: a key created before snapshots, limited by its owner's
	// current roles.
	LimitedBy        json.RawMessage `json:"limited_by,omitempty"`
	LimitedByBuiltin []string        `json:"limited_by_builtin,omitempty"`
}

// APIKeyInvalidated is the payload of portcullis.apikey.invalidated.v1.
type APIKeyInvalidated struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
}

// Search context kinds, the kind of a ContextOpened.
const (
	ContextScroll = "scroll" // a scroll (search with ?scroll)
	ContextPIT    = "pit"    // a point in time
	ContextAsync  = "async"  // an async search, EQL, SQL or ES|QL result
)

// ContextOwner is who created a search context, compared field by field as
// Elasticsearch's Authentication.canAccessResourcesOf compares the creator
// with the user presenting the id: a context made through an API key
// belongs to that key alone (APIKeyID), one made by a user to the same
// username in the same realm, where a realm is its type for the native and
// file realms and its type and name for the others. A login token counts
// as its native user, as an Elasticsearch token counts as its user.
type ContextOwner struct {
	Username  string `json:"username"`
	RealmType string `json:"realm_type"`
	RealmName string `json:"realm_name,omitempty"`
	APIKeyID  string `json:"api_key_id,omitempty"`
}

// ContextOpened is the payload of portcullis.context.opened.v1, on subject
// TokensSubject(TypeContextOpened): the gateway bound a scroll, point-in-time or
// async id that Elasticsearch returned to the user who asked for it.
// IDHash is the hex SHA-256 of the id; the id itself is never stored. An
// event for a binding that exists, with the same owner and kind, renews
// it (the later ExpiresAt wins). Time is when the gateway saw the id.
type ContextOpened struct {
	IDHash    string       `json:"id_hash"`
	Kind      string       `json:"kind"`
	Owner     ContextOwner `json:"owner"`
	Time      time.Time    `json:"time"`
	ExpiresAt time.Time    `json:"expires_at"`
}

// ContextClosed is the payload of portcullis.context.closed.v1: the owner
// cleared the scroll, closed the point in time or deleted the async result.
type ContextClosed struct {
	IDHash string       `json:"id_hash"`
	Owner  ContextOwner `json:"owner"`
}

// Auth outcome actions, named as Elasticsearch's audit trail names them
// (plus login and logout of the codelibs token API).
const (
	ActionAuthenticationSuccess = "authentication_success"
	ActionAuthenticationFailed  = "authentication_failed"
	ActionRealmAuthFailed       = "realm_authentication_failed"
	ActionAccessGranted         = "access_granted"
	ActionAccessDenied          = "access_denied"
	ActionAnonymousAccessDenied = "anonymous_access_denied"
	ActionTamperedRequest       = "tampered_request"
	ActionLogin                 = "login"
	ActionLogout                = "logout"
	ActionSecurityConfigChange  = "security_config_change"
)

// RealmReasonWrongPassword is the RealmAttempt reason of a password that
// does not match a user the realm knows: what a lockout counts.
const RealmReasonWrongPassword = "invalid password"

// RealmLockout is the RealmAttempt realm (and type) of a refusal because
// the user is locked out (package lockout): not a realm, the check after
// them. Its reason gives the end of the lock.
const RealmLockout = "_lockout"

// RealmAttempt is one realm consulted while authenticating, and why it
// failed (empty when it succeeded).
type RealmAttempt struct {
	Realm  string `json:"realm"`
	Type   string `json:"type,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// AuthOutcome is the payload of every portcullis.auth.<action>.v1 event. It
// never holds a credential: Principal is the name a request claimed, never
// the password or token that came with it.
type AuthOutcome struct {
	Action  string `json:"action"`
	Outcome string `json:"outcome"` // "success" or "failure"
	Reason  string `json:"reason,omitempty"`

	Principal string         `json:"principal,omitempty"`
	User      string         `json:"user,omitempty"`
	Roles     []string       `json:"roles,omitempty"`
	Realm     string         `json:"realm,omitempty"`
	AuthType  string         `json:"authentication_type,omitempty"`
	APIKeyID  string         `json:"apikey_id,omitempty"`
	Realms    []RealmAttempt `json:"realms,omitempty"`
	// AccountUID and AccountEpoch name the native account (its
	// incarnation and password epoch) whose password a failure did not
	// match: what a lockout locks, so that a new password or a new
	// account of the same name is not locked by the old one's failures.
	AccountUID   string `json:"account_uid,omitempty"`
	AccountEpoch uint64 `json:"account_epoch,omitempty"`

	Method    string   `json:"method,omitempty"`
	Path      string   `json:"path,omitempty"`
	Query     string   `json:"query,omitempty"`
	RequestID string   `json:"request_id,omitempty"`
	SourceIP  string   `json:"source_ip,omitempty"`
	ESAction  string   `json:"es_action,omitempty"`
	Indices   []string `json:"indices,omitempty"`

	PolicyRevision string `json:"policy_revision,omitempty"`
	Rule           string `json:"rule,omitempty"`
	Status         int    `json:"status,omitempty"`
}
