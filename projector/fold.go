package projector

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/events"
)

// Account is one account incarnation as the gateway authenticates it.
// Values are immutable once published: a change makes a new *Account.
type Account struct {
	// UID identifies this incarnation: a user deleted and created again
	// gets a new UID, so the old one's tokens never resolve to it.
	UID      string
	Username string
	// PasswordHash is the argon2id (or bcrypt) hash, never the password.
	PasswordHash string
	Roles        []string
	// Epoch is the credential epoch: 1 on creation, incremented by every
	// password change. A token resolves only at the epoch it was issued
	// for.
	Epoch uint64
	// FullName, Email and Metadata (a JSON object, nil for none) are
	// descriptive, shown by the user API.
	FullName, Email string
	Metadata        []byte
	// Disabled accounts neither authenticate nor resolve their tokens.
	Disabled bool
}

// Token is a login token as the gateway resolves it. It carries no roles:
// they are read from the account when the token is used. Values are
// immutable once published.
type Token struct {
	// Hash is the SHA-256 of the token; the token itself is never stored.
	Hash       [32]byte
	Username   string
	AccountUID string
	Epoch      uint64
	ExpiresAt  time.Time
}

// Constraint is a content constraint (POST /security/constraint/): the
// roles that may use the methods on the paths.
type Constraint struct {
	ID      string
	Paths   []string
	Methods []string
	Roles   []string
}

// Role is an Elasticsearch role (PUT /_security/role/<name>): cluster
// privileges, index privileges and metadata (a JSON object, nil for none).
// Values are immutable once published: a put makes a new *Role.
type Role struct {
	Name     string
	Cluster  []string
	Indices  []events.IndexPrivileges
	Metadata []byte
}

// APIKey is an Elasticsearch API key (POST /_security/api_key). It is never
// removed: an invalidated key stays, listed as invalidated, as in
// Elasticsearch. Values are immutable once published: an invalidation makes
// a new *APIKey.
type APIKey struct {
	ID, Name string
	// Username and Realm name the owner, who created the key.
	Username, Realm string
	// SecretHash is "sha256$<salt>$<hex>", never the secret.
	SecretHash string
	Creation   time.Time
	// Expiration is zero for a key that never expires.
	Expiration time.Time
	// Invalidation is the time of the invalidation, when Invalidated.
	Invalidated  bool
	Invalidation time.Time
	// RoleDescriptors is the role_descriptors object as created, nil for
	// none; Roles the same descriptors decoded, sorted by name (Role.Name is
	// the descriptor's name). A key without descriptors has its owner's
	// privileges.
	RoleDescriptors []byte
	Roles           []Role
	// Metadata is a JSON object, nil for none.
	Metadata []byte
	// Snapshot: the key carries the point-in-time snapshot of its owner's
	// roles taken at creation (LimitedBy, decoded like Roles, and the
	// built-in role names LimitedByBuiltin), which limits its privileges.
	// False for a key created before snapshots: its owner's current roles
	// limit it.
	Snapshot         bool
	LimitedBy        []Role
	LimitedByBuiltin []string
}

// Expired tells whether k has expired at now, allowing skew past its
// expiration (a key without one never expires).
func (k *APIKey) Expired(now time.Time, skew time.Duration) bool {
	return !k.Expiration.IsZero() && !now.Before(k.Expiration.Add(skew))
}

// FoldAccount returns the account after ev, nil when there is none. cur is
// the account before (nil: none) and is never modified. Created over an
// existing account, updated or deleted of a missing one, or a UID or
// username that does not match cur return ErrInconsistent, a payload that
// cannot be decoded ErrMalformed; both with cur unchanged. Events of other
// types return cur, nil.
func FoldAccount(cur *Account, ev events.Event) (*Account, error) {
	if !kindOf(ev.Type).isAccount() {
		return cur, nil
	}
	r, err := decodeEvent(ev)
	if err != nil {
		return cur, err
	}
	return foldAccount(cur, r)
}

// FoldConstraint returns the constraint after ev, nil when there is none,
// with the rules of FoldAccount: created twice, deleted while missing or an
// id that does not match is ErrInconsistent.
func FoldConstraint(cur *Constraint, ev events.Event) (*Constraint, error) {
	if !kindOf(ev.Type).isConstraint() {
		return cur, nil
	}
	r, err := decodeEvent(ev)
	if err != nil {
		return cur, err
	}
	return foldConstraint(cur, r)
}

// FoldRole returns the role after ev, nil when there is none. A put creates
// the role or replaces it whole; deleted while missing, or a name that does
// not match cur, is ErrInconsistent; a put without a name ErrMalformed.
func FoldRole(cur *Role, ev events.Event) (*Role, error) {
	if !kindOf(ev.Type).isRole() {
		return cur, nil
	}
	r, err := decodeEvent(ev)
	if err != nil {
		return cur, err
	}
	return foldRole(cur, r)
}

// FoldAPIKey returns the API key after ev. Created over an existing key,
// or an id that does not match cur is ErrInconsistent; a created key
// without id, owner or secret hash, or with role descriptors that are not
// objects of cluster and indices privileges, ErrMalformed. Invalidating an
// invalidated key returns cur unchanged, and invalidating a missing one
// returns nil: a key is dropped once its retention has passed
// (Model.SweepAPIKeys), and another replica, whose clock or sweep is
// behind, may still invalidate it.
func FoldAPIKey(cur *APIKey, ev events.Event) (*APIKey, error) {
	if !kindOf(ev.Type).isAPIKey() {
		return cur, nil
	}
	r, err := decodeEvent(ev)
	if err != nil {
		return cur, err
	}
	return foldAPIKey(cur, r)
}

// FoldToken returns the token after ev: issued makes it, revoked removes it
// (nil). Issued over an existing token, or a hash that does not match cur,
// is ErrInconsistent. Revoking a token that is not there is not an error:
// the sweeper may have dropped it when it expired, and revocation is
// idempotent.
func FoldToken(cur *Token, ev events.Event) (*Token, error) {
	if !kindOf(ev.Type).isToken() {
		return cur, nil
	}
	r, err := decodeEvent(ev)
	if err != nil {
		return cur, err
	}
	return foldToken(cur, r)
}

func foldAccount(cur *Account, r record) (*Account, error) {
	switch p := r.payload.(type) {
	case *events.AccountCreated:
		if p.UID == "" || p.Username == "" {
			return cur, fmt.Errorf("%w: account created without uid or username", ErrMalformed)
		}
		if cur != nil {
			return cur, fmt.Errorf("%w: account %q created while it exists (uid %s)", ErrInconsistent, p.Username, cur.UID)
		}
		return &Account{UID: p.UID, Username: p.Username, PasswordHash: p.PasswordHash, Roles: p.Roles, Epoch: 1,
			FullName: p.FullName, Email: p.Email, Metadata: p.Metadata, Disabled: p.Disabled}, nil
	case *events.AccountUpdated:
		if err := sameAccount(cur, p.UID, p.Username, "updated"); err != nil {
			return cur, err
		}
		next := *cur
		if p.PasswordHash != nil {
			next.PasswordHash = *p.PasswordHash
			next.Epoch++
		}
		if p.Roles != nil {
			next.Roles = *p.Roles
		}
		if p.FullName != nil {
			next.FullName = *p.FullName
		}
		if p.Email != nil {
			next.Email = *p.Email
		}
		if p.Metadata != nil {
			next.Metadata = p.Metadata
		}
		if p.Enabled != nil {
			next.Disabled = !*p.Enabled
		}
		return &next, nil
	case *events.AccountDeleted:
		if err := sameAccount(cur, p.UID, p.Username, "deleted"); err != nil {
			return cur, err
		}
		return nil, nil
	}
	return cur, nil
}

func sameAccount(cur *Account, uid, username, verb string) error {
	if cur == nil {
		return fmt.Errorf("%w: account %q %s while missing", ErrInconsistent, username, verb)
	}
	if uid != cur.UID || username != cur.Username {
		return fmt.Errorf("%w: account %q (uid %s) %s as %q (uid %s)", ErrInconsistent, cur.Username, cur.UID, verb, username, uid)
	}
	return nil
}

func foldConstraint(cur *Constraint, r record) (*Constraint, error) {
	switch p := r.payload.(type) {
	case *events.ConstraintCreated:
		if p.ID == "" {
			return cur, fmt.Errorf("%w: constraint created without id", ErrMalformed)
		}
		if cur != nil {
			return cur, fmt.Errorf("%w: constraint %q created while it exists", ErrInconsistent, p.ID)
		}
		return &Constraint{ID: p.ID, Paths: p.Paths, Methods: p.Methods, Roles: p.Roles}, nil
	case *events.ConstraintDeleted:
		if cur == nil {
			return cur, fmt.Errorf("%w: constraint %q deleted while missing", ErrInconsistent, p.ID)
		}
		if p.ID != cur.ID {
			return cur, fmt.Errorf("%w: constraint %q deleted as %q", ErrInconsistent, cur.ID, p.ID)
		}
		return nil, nil
	}
	return cur, nil
}

func foldRole(cur *Role, r record) (*Role, error) {
	switch p := r.payload.(type) {
	case *events.RolePut:
		if p.Name == "" {
			return cur, fmt.Errorf("%w: role put without name", ErrMalformed)
		}
		if cur != nil && cur.Name != p.Name {
			return cur, fmt.Errorf("%w: role %q put as %q", ErrInconsistent, cur.Name, p.Name)
		}
		return &Role{Name: p.Name, Cluster: p.Cluster, Indices: p.Indices, Metadata: p.Metadata}, nil
	case *events.RoleDeleted:
		if cur == nil {
			return cur, fmt.Errorf("%w: role %q deleted while missing", ErrInconsistent, p.Name)
		}
		if p.Name != cur.Name {
			return cur, fmt.Errorf("%w: role %q deleted as %q", ErrInconsistent, cur.Name, p.Name)
		}
		return nil, nil
	}
	return cur, nil
}

func foldToken(cur *Token, r record) (*Token, error) {
	switch p := r.payload.(type) {
	case *tokenIssued:
		if p.Username == "" || p.AccountUID == "" || p.ExpiresAt.IsZero() {
			return cur, fmt.Errorf("%w: token issued without username, account uid or expiry", ErrMalformed)
		}
		if cur != nil {
			return cur, fmt.Errorf("%w: token issued while it exists", ErrInconsistent)
		}
		return (*Token)(p), nil
	case *tokenRevoked:
		if cur != nil && cur.Hash != p.hash {
			return cur, fmt.Errorf("%w: token revoked with another hash", ErrInconsistent)
		}
		return nil, nil
	}
	return cur, nil
}

func foldAPIKey(cur *APIKey, r record) (*APIKey, error) {
	switch p := r.payload.(type) {
	case *events.APIKeyCreated:
		if p.ID == "" || p.Username == "" || p.SecretHash == "" {
			return cur, fmt.Errorf("%w: api key created without id, username or secret hash", ErrMalformed)
		}
		if cur != nil {
			return cur, fmt.Errorf("%w: api key %q created while it exists", ErrInconsistent, p.ID)
		}
		roles, err := descriptorRoles(p.RoleDescriptors)
		if err != nil {
			return cur, fmt.Errorf("%w: api key %q: role_descriptors: %w", ErrMalformed, p.ID, err)
		}
		limited, err := descriptorRoles(p.LimitedBy)
		if err != nil {
			return cur, fmt.Errorf("%w: api key %q: limited_by: %w", ErrMalformed, p.ID, err)
		}
		return &APIKey{ID: p.ID, Name: p.Name, Username: p.Username, Realm: p.Realm, SecretHash: p.SecretHash,
			Creation: p.Creation, Expiration: p.Expiration, RoleDescriptors: p.RoleDescriptors, Roles: roles,
			Metadata: p.Metadata, Snapshot: p.LimitedBy != nil || p.LimitedByBuiltin != nil,
			LimitedBy: limited, LimitedByBuiltin: p.LimitedByBuiltin}, nil
	case *events.APIKeyInvalidated:
		if cur == nil {
			return nil, nil // swept here already (see FoldAPIKey)
		}
		if p.ID != cur.ID {
			return cur, fmt.Errorf("%w: api key %q invalidated as %q", ErrInconsistent, cur.ID, p.ID)
		}
		if cur.Invalidated {
			return cur, nil
		}
		next := *cur
		next.Invalidated, next.Invalidation = true, p.Time
		return &next, nil
	}
	return cur, nil
}

// descriptorRoles decodes a role_descriptors object into roles sorted by
// name. Created keys are rare: encoding/json is fast enough here.
func descriptorRoles(raw []byte) ([]Role, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var m map[string]struct {
		Cluster []string                 `json:"cluster"`
		Indices []events.IndexPrivileges `json:"indices"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	roles := make([]Role, 0, len(m))
	for name, d := range m {
		roles = append(roles, Role{Name: name, Cluster: d.Cluster, Indices: d.Indices})
	}
	slices.SortFunc(roles, func(a, b Role) int { return cmp.Compare(a.Name, b.Name) })
	return roles, nil
}
