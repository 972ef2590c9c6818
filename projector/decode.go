package projector

import (
	"encoding/hex"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/valyala/fastjson"
)

// Replay decodes every event of both streams, so decoding is most of the
// cost of starting a replica. encoding/json spends about 5 µs on an envelope
// and its payload (reflection, two passes, RawMessage copies), which caps
// replay near 200k events/s on the 2-core reference machine; fastjson parses
// both in one pass in about 0.6 µs. The decoders below accept exactly what
// events.Event.Encode and json.Marshal of the payload types produce (keys as
// the struct tags spell them, null for an absent pointer); a differential
// test keeps them equal to encoding/json on those inputs.

// kind is an event type this package folds.
type kind uint8

const (
	kindUnknown kind = iota
	kindAccountCreated
	kindAccountUpdated
	kindAccountDeleted
	kindConstraintCreated
	kindConstraintDeleted
	kindTokenIssued
	kindTokenRevoked
	kindRolePut
	kindRoleDeleted
	kindAPIKeyCreated
	kindAPIKeyInvalidated
	kindContextOpened
	kindContextClosed
)

// kindOf maps an event type to its kind; unknown types (newer versions,
// other aggregates) are kindUnknown. A []byte argument converted in the
// call does not allocate.
func kindOf(typ string) kind {
	switch typ {
	case events.TypeAccountCreated:
		return kindAccountCreated
	case events.TypeAccountUpdated:
		return kindAccountUpdated
	case events.TypeAccountDeleted:
		return kindAccountDeleted
	case events.TypeConstraintCreated:
		return kindConstraintCreated
	case events.TypeConstraintDeleted:
		return kindConstraintDeleted
	case events.TypeTokenIssued:
		return kindTokenIssued
	case events.TypeTokenRevoked:
		return kindTokenRevoked
	case events.TypeRolePut:
		return kindRolePut
	case events.TypeRoleDeleted:
		return kindRoleDeleted
	case events.TypeAPIKeyCreated:
		return kindAPIKeyCreated
	case events.TypeAPIKeyInvalidated:
		return kindAPIKeyInvalidated
	case events.TypeContextOpened:
		return kindContextOpened
	case events.TypeContextClosed:
		return kindContextClosed
	}
	return kindUnknown
}

// typeName is the event type of a known kind, as a constant string, so a
// decoded record does not allocate its type.
func (k kind) typeName() string {
	switch k {
	case kindAccountCreated:
		return events.TypeAccountCreated
	case kindAccountUpdated:
		return events.TypeAccountUpdated
	case kindAccountDeleted:
		return events.TypeAccountDeleted
	case kindConstraintCreated:
		return events.TypeConstraintCreated
	case kindConstraintDeleted:
		return events.TypeConstraintDeleted
	case kindTokenIssued:
		return events.TypeTokenIssued
	case kindTokenRevoked:
		return events.TypeTokenRevoked
	case kindRolePut:
		return events.TypeRolePut
	case kindRoleDeleted:
		return events.TypeRoleDeleted
	case kindAPIKeyCreated:
		return events.TypeAPIKeyCreated
	case kindAPIKeyInvalidated:
		return events.TypeAPIKeyInvalidated
	case kindContextOpened:
		return events.TypeContextOpened
	case kindContextClosed:
		return events.TypeContextClosed
	}
	return ""
}

func (k kind) isAccount() bool    { return k >= kindAccountCreated && k <= kindAccountDeleted }
func (k kind) isConstraint() bool { return k == kindConstraintCreated || k == kindConstraintDeleted }
func (k kind) isToken() bool      { return k == kindTokenIssued || k == kindTokenRevoked }
func (k kind) isRole() bool       { return k == kindRolePut || k == kindRoleDeleted }
func (k kind) isAPIKey() bool     { return k == kindAPIKeyCreated || k == kindAPIKeyInvalidated }
func (k kind) isContext() bool    { return k == kindContextOpened || k == kindContextClosed }

// record is one event decoded once: what the folds need and what a log line
// names. payload is one of *events.AccountCreated, *events.AccountUpdated,
// *events.AccountDeleted, *events.ConstraintCreated,
// *events.ConstraintDeleted, *events.RolePut, *events.RoleDeleted,
// *events.APIKeyCreated, *events.APIKeyInvalidated, *tokenIssued, *tokenRevoked,
// *contextOpened, *contextClosed; nil for an unknown type.
type record struct {
	id      string
	typ     string
	kind    kind
	payload any
}

// tokenIssued is events.TokenIssued decoded straight into the Token it
// becomes (IssuedAt, which nothing reads, left out): one allocation per
// token on replay instead of two. The fold hands it on as the new state, so
// a record is folded at most once.
type tokenIssued Token

// tokenRevoked is events.TokenRevoked as the fold needs it.
type tokenRevoked struct {
	hash [32]byte
}

// contextOpened is events.ContextOpened with the id digest decoded.
type contextOpened struct {
	hash      [32]byte
	kind      string
	owner     events.ContextOwner
	time      time.Time
	expiresAt time.Time
}

// contextClosed is events.ContextClosed with the id digest decoded.
type contextClosed struct {
	hash  [32]byte
	owner events.ContextOwner
}

// parserPool serves decodeEvent, which runs on callers' goroutines. The
// Projector's readers each own a parser instead.
var parserPool fastjson.ParserPool

// decodeEvent decodes the payload of an envelope that was decoded already
// (events.Decode or events.New): the path of Model.Apply and the Fold
// functions.
func decodeEvent(ev events.Event) (record, error) {
	r := record{id: ev.ID, typ: ev.Type, kind: kindOf(ev.Type)}
	if r.kind == kindUnknown {
		return r, nil
	}
	p := parserPool.Get()
	defer parserPool.Put(p)
	v, err := p.ParseBytes(ev.Data)
	if err != nil {
		return r, fmt.Errorf("decode %s data of event %s: %w: %w", ev.Type, ev.ID, ErrMalformed, err)
	}
	if r.payload, err = decodePayload(r.kind, v, nil); err != nil {
		return r, fmt.Errorf("decode %s data of event %s: %w", ev.Type, ev.ID, err)
	}
	return r, nil
}

// decodeMessage decodes a message body, envelope and payload in one parse,
// with the checks of events.Decode. p is owned by the caller and must not be
// shared between goroutines; in (optional) shares the strings of token
// payloads. To spare an allocation per event, the record of a known type
// that decoded leaves id empty: eventID finds it when a log line needs it.
func decodeMessage(p *fastjson.Parser, in *interner, raw []byte) (record, error) {
	v, err := p.ParseBytes(raw)
	if err != nil {
		return record{}, fmt.Errorf("decode event: %w: %w", ErrMalformed, err)
	}
	if v.Type() != fastjson.TypeObject {
		return record{}, fmt.Errorf("decode event: %w: not an object", ErrMalformed)
	}
	spec, err := strBytes(v, "specversion")
	if err != nil || string(spec) != events.SpecVersion {
		return record{}, fmt.Errorf("decode event: %w: specversion %q", ErrMalformed, spec)
	}
	id, err := strBytes(v, "id")
	if err != nil {
		return record{}, fmt.Errorf("decode event: %w", err)
	}
	typ, err := strBytes(v, "type")
	if err != nil {
		return record{}, fmt.Errorf("decode event %q: %w", id, err)
	}
	if len(id) == 0 || len(typ) == 0 {
		return record{}, fmt.Errorf("decode event: %w: missing id or type", ErrMalformed)
	}
	r := record{kind: kindOf(string(typ))}
	if r.kind == kindUnknown {
		r.id, r.typ = string(id), string(typ)
		return r, nil
	}
	r.typ = r.kind.typeName()
	if r.payload, err = decodePayload(r.kind, v.Get("data"), in); err != nil {
		r.id = string(id)
		return r, fmt.Errorf("decode %s data of event %s: %w", r.typ, r.id, err)
	}
	return r, nil
}

// eventID returns the id of an encoded event, "" if there is none: for log
// lines about records decodeMessage left without one.
func eventID(raw []byte) string {
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		return ""
	}
	return string(v.GetStringBytes("id"))
}

// interner shares equal strings between the events one reader decodes: the
// tokens of one user carry the same username and account UID, and a
// million tokens should not hold a million copies (DESIGN: ≤ 300 bytes
// per token). It is bounded: when full it starts over.
type interner struct {
	m map[string]string
}

const internerMax = 1 << 16

func (in *interner) str(b []byte) string {
	if in == nil {
		return string(b)
	}
	if s, ok := in.m[string(b)]; ok { // the conversion does not allocate
		return s
	}
	if in.m == nil || len(in.m) >= internerMax {
		in.m = make(map[string]string, 1024)
	}
	s := string(b)
	in.m[s] = s
	return s
}

// decodePayload decodes the data of a known kind. v is nil when the
// envelope has no data.
func decodePayload(k kind, v *fastjson.Value, in *interner) (any, error) {
	if v == nil || v.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("%w: data is not an object", ErrMalformed)
	}
	d := dec{in: in}
	switch k {
	case kindAccountCreated:
		p := &events.AccountCreated{
			UID:           d.str(v, "uid"),
			Username:      d.str(v, "username"),
			PasswordHash:  d.str(v, "password_hash"),
			Roles:         d.strs(v, "roles"),
			Authenticator: d.str(v, "authenticator"),
			FullName:      d.str(v, "full_name"),
			Email:         d.str(v, "email"),
			Metadata:      d.object(v, "metadata"),
			Disabled:      d.boolean(v, "disabled"),
		}
		return p, d.err
	case kindAccountUpdated:
		p := &events.AccountUpdated{
			UID:      d.str(v, "uid"),
			Username: d.str(v, "username"),
		}
		if s, ok := d.optStr(v, "password_hash"); ok {
			p.PasswordHash = &s
		}
		if f := v.Get("roles"); f != nil && f.Type() != fastjson.TypeNull {
			roles := d.strs(v, "roles")
			if roles == nil {
				roles = []string{}
			}
			p.Roles = &roles
		}
		if s, ok := d.optStr(v, "full_name"); ok {
			p.FullName = &s
		}
		if s, ok := d.optStr(v, "email"); ok {
			p.Email = &s
		}
		p.Metadata = d.object(v, "metadata")
		if f := v.Get("enabled"); f != nil && f.Type() != fastjson.TypeNull {
			b := d.boolean(v, "enabled")
			p.Enabled = &b
		}
		return p, d.err
	case kindAccountDeleted:
		p := &events.AccountDeleted{UID: d.str(v, "uid"), Username: d.str(v, "username")}
		return p, d.err
	case kindConstraintCreated:
		p := &events.ConstraintCreated{
			ID:            d.str(v, "id"),
			Paths:         d.strs(v, "paths"),
			Methods:       d.strs(v, "methods"),
			Roles:         d.strs(v, "roles"),
			Authenticator: d.str(v, "authenticator"),
		}
		return p, d.err
	case kindConstraintDeleted:
		p := &events.ConstraintDeleted{ID: d.str(v, "id")}
		return p, d.err
	case kindRolePut:
		p := &events.RolePut{
			Name:     d.str(v, "name"),
			Cluster:  d.strs(v, "cluster"),
			Indices:  d.indices(v, "indices"),
			Metadata: d.object(v, "metadata"),
		}
		return p, d.err
	case kindRoleDeleted:
		p := &events.RoleDeleted{Name: d.str(v, "name")}
		return p, d.err
	case kindAPIKeyCreated:
		p := &events.APIKeyCreated{
			ID:               d.str(v, "id"),
			Name:             d.str(v, "name"),
			Username:         d.str(v, "username"),
			Realm:            d.str(v, "realm"),
			SecretHash:       d.str(v, "secret_hash"),
			Creation:         d.time(v, "creation"),
			Expiration:       d.time(v, "expiration"),
			RoleDescriptors:  d.object(v, "role_descriptors"),
			Metadata:         d.object(v, "metadata"),
			LimitedBy:        d.object(v, "limited_by"),
			LimitedByBuiltin: d.strs(v, "limited_by_builtin"),
		}
		return p, d.err
	case kindAPIKeyInvalidated:
		p := &events.APIKeyInvalidated{ID: d.str(v, "id"), Time: d.time(v, "time")}
		return p, d.err
	case kindTokenIssued:
		p := &tokenIssued{
			Hash:       d.hash(v, "token_hash"),
			Username:   d.shared(v, "username"),
			AccountUID: d.shared(v, "account_uid"),
			Epoch:      d.uint(v, "epoch"),
			ExpiresAt:  d.time(v, "expires_at"),
		}
		return p, d.err
	case kindTokenRevoked:
		p := &tokenRevoked{hash: d.hash(v, "token_hash")}
		return p, d.err
	case kindContextOpened:
		p := &contextOpened{
			hash:      d.hash(v, "id_hash"),
			kind:      d.kindName(v, "kind"),
			owner:     d.owner(v, "owner"),
			time:      d.time(v, "time"),
			expiresAt: d.time(v, "expires_at"),
		}
		return p, d.err
	case kindContextClosed:
		p := &contextClosed{hash: d.hash(v, "id_hash"), owner: d.owner(v, "owner")}
		return p, d.err
	}
	return nil, nil
}

// dec reads fields of one object and keeps the first error, so that a
// payload decodes in straight-line code. A missing or null field is the
// zero value, as with encoding/json; a field of the wrong JSON type is
// ErrMalformed.
type dec struct {
	err error
	in  *interner
}

func (d *dec) fail(key, what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", ErrMalformed, key, what)
	}
}

// object returns the JSON object at key, re-encoded, or nil when absent.
func (d *dec) object(v *fastjson.Value, key string) []byte {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	if f.Type() != fastjson.TypeObject {
		d.fail(key, "not an object")
		return nil
	}
	return f.MarshalTo(nil)
}

// boolean returns the boolean at key, false when absent.
func (d *dec) boolean(v *fastjson.Value, key string) bool {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return false
	}
	b, err := f.Bool()
	if err != nil {
		d.fail(key, "not a boolean")
	}
	return b
}

func (d *dec) str(v *fastjson.Value, key string) string {
	s, _ := d.optStr(v, key)
	return s
}

// shared is str through the interner.
func (d *dec) shared(v *fastjson.Value, key string) string {
	b, err := strBytes(v, key)
	if err != nil {
		d.fail(key, "not a string")
		return ""
	}
	if len(b) == 0 {
		return ""
	}
	return d.in.str(b)
}

func (d *dec) optStr(v *fastjson.Value, key string) (string, bool) {
	s, ok, err := str(v, key)
	if err != nil && d.err == nil {
		d.err = err
	}
	return s, ok
}

func (d *dec) strs(v *fastjson.Value, key string) []string {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	a, err := f.Array()
	if err != nil {
		d.fail(key, "not an array")
		return nil
	}
	out := make([]string, len(a))
	for i, e := range a {
		b, err := e.StringBytes()
		if err != nil {
			d.fail(key, "not an array of strings")
			return nil
		}
		out[i] = string(b)
	}
	return out
}

// indices decodes a role's index privileges: an array of
// {names, privileges, allow_restricted_indices} objects.
func (d *dec) indices(v *fastjson.Value, key string) []events.IndexPrivileges {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil
	}
	a, err := f.Array()
	if err != nil {
		d.fail(key, "not an array")
		return nil
	}
	out := make([]events.IndexPrivileges, len(a))
	for i, e := range a {
		if e.Type() != fastjson.TypeObject {
			d.fail(key, "not an array of objects")
			return nil
		}
		out[i] = events.IndexPrivileges{
			Names:                  d.strs(e, "names"),
			Privileges:             d.strs(e, "privileges"),
			AllowRestrictedIndices: d.boolean(e, "allow_restricted_indices"),
		}
	}
	return out
}

func (d *dec) uint(v *fastjson.Value, key string) uint64 {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return 0
	}
	n, err := f.Uint64()
	if err != nil {
		d.fail(key, "not an unsigned integer")
	}
	return n
}

func (d *dec) time(v *fastjson.Value, key string) time.Time {
	b, err := strBytes(v, key)
	if err != nil {
		d.fail(key, "not a string")
		return time.Time{}
	}
	if b == nil {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		d.fail(key, "not an RFC 3339 time")
	}
	return t
}

// kindName returns a context kind as its constant string, so that a
// binding does not hold a copy; an unknown kind is kept as decoded and
// refused by the fold.
func (d *dec) kindName(v *fastjson.Value, key string) string {
	b, err := strBytes(v, key)
	if err != nil {
		d.fail(key, "not a string")
		return ""
	}
	switch string(b) {
	case events.ContextScroll:
		return events.ContextScroll
	case events.ContextPIT:
		return events.ContextPIT
	case events.ContextAsync:
		return events.ContextAsync
	}
	return string(b)
}

// owner decodes a context owner object; its strings go through the
// interner: one user's many contexts share them.
func (d *dec) owner(v *fastjson.Value, key string) events.ContextOwner {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return events.ContextOwner{}
	}
	if f.Type() != fastjson.TypeObject {
		d.fail(key, "not an object")
		return events.ContextOwner{}
	}
	return events.ContextOwner{
		Username:  d.shared(f, "username"),
		RealmType: d.shared(f, "realm_type"),
		RealmName: d.shared(f, "realm_name"),
		APIKeyID:  d.shared(f, "api_key_id"),
	}
}

// hash decodes the hex SHA-256 of a token (either case, as hex.Decode
// accepts) straight into the map key.
func (d *dec) hash(v *fastjson.Value, key string) (h [32]byte) {
	b, err := strBytes(v, key)
	if err != nil || len(b) != 2*len(h) {
		d.fail(key, "not a hex SHA-256")
		return h
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		d.fail(key, "not a hex SHA-256")
	}
	return h
}

// strBytes returns the unescaped bytes of a string field (valid until the
// parser's next use), nil for a missing or null field.
func strBytes(v *fastjson.Value, key string) ([]byte, error) {
	f := v.Get(key)
	if f == nil || f.Type() == fastjson.TypeNull {
		return nil, nil
	}
	b, err := f.StringBytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a string", ErrMalformed, key)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// str returns a string field as a new string; ok is false when the field
// is missing or null.
func str(v *fastjson.Value, key string) (s string, ok bool, err error) {
	b, err := strBytes(v, key)
	if err != nil || b == nil {
		return "", false, err
	}
	return string(b), true, nil
}
