package gateway

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// Elasticsearch's API key API (/_security/api_key) over the API key
// aggregate. The endpoints need manage_own_api_key (implied by
// manage_api_key, manage_security and all); what a caller may see and
// invalidate beyond its own keys is decided as Elasticsearch does: with
// manage_api_key any key, with manage_own_api_key only a request scoped to
// the caller (owner=true, its own username and realm, or the id of the key
// it authenticated with). The secret is returned once, by create; events
// carry only its salted hash.

const (
	privManageAPIKey    = "manage_api_key"
	privManageOwnAPIKey = "manage_own_api_key"

	actionCreateAPIKey     = "cluster:admin/xpack/security/api_key/create"
	actionGetAPIKey        = "cluster:admin/xpack/security/api_key/get"
	actionInvalidateAPIKey = "cluster:admin/xpack/security/api_key/invalidate"

	// maxAPIKeyName is Elasticsearch's limit on an API key name.
	maxAPIKeyName = 256
)

// apiKeyRoute is the endpoint of /_security/api_key, nil for another
// method.
func apiKeyRoute(method string) *endpoint {
	switch method {
	case fasthttp.MethodPost, fasthttp.MethodPut:
		return &endpoint{action: actionCreateAPIKey, privilege: privManageOwnAPIKey, handle: (*Gateway).createAPIKey}
	case fasthttp.MethodGet:
		return &endpoint{action: actionGetAPIKey, privilege: privManageOwnAPIKey, handle: (*Gateway).getAPIKeys}
	case fasthttp.MethodDelete:
		return &endpoint{action: actionInvalidateAPIKey, privilege: privManageOwnAPIKey, handle: (*Gateway).invalidateAPIKeys}
	}
	return nil
}

// createAPIKeyRequest is the body of POST /_security/api_key.
type createAPIKeyRequest struct {
	Name            *string                    `json:"name"`
	Expiration      *string                    `json:"expiration"`
	RoleDescriptors map[string]json.RawMessage `json:"role_descriptors"`
	Metadata        json.RawMessage            `json:"metadata"`
}

// createAPIKeyAnswer is Elasticsearch's create API key answer.
type createAPIKeyAnswer struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Expiration int64  `json:"expiration,omitempty"`
	APIKey     string `json:"api_key"`
	Encoded    string `json:"encoded"`
}

// descriptor is a role descriptor of a key as events carry it.
type descriptor struct {
	Cluster []string                 `json:"cluster"`
	Indices []events.IndexPrivileges `json:"indices"`
}

func (g *Gateway) createAPIKey(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	if p.anonymous {
		return &clientError{status: fasthttp.StatusForbidden, typ: "security_exception",
			reason: "action [" + actionCreateAPIKey + "] requires authentication"}
	}
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	var req createAPIKeyRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	switch {
	case req.Name == nil || strings.TrimSpace(*req.Name) == "":
		return validationError("api key name is required")
	case len([]rune(*req.Name)) > maxAPIKeyName:
		return validationError("api key name may not be more than " + strconv.Itoa(maxAPIKeyName) + " characters long")
	case !printable([]byte(*req.Name)):
		return badRequest("field [name] must contain printable characters only")
	}
	ev := events.APIKeyCreated{Name: *req.Name, Creation: now}
	var expiresIn time.Duration
	if req.Expiration != nil {
		if expiresIn, err = parseExpiration(*req.Expiration); err != nil {
			return err
		}
		ev.Expiration = now.Add(expiresIn)
	}
	if m := bytes.TrimSpace(req.Metadata); len(m) > 0 && string(m) != "null" {
		if m[0] != '{' {
			return badRequest("field [metadata] must be an object")
		}
		ev.Metadata = req.Metadata
	}
	if req.RoleDescriptors != nil {
		if ev.RoleDescriptors, err = roleDescriptors(req.RoleDescriptors); err != nil {
			return err
		}
	}
	owner, realm := g.owner(p)
	if p.apiKeyID != "" && !emptyDescriptors(req.RoleDescriptors) {
		// Elasticsearch's rule: a key may only derive a key that has no
		// privileges of its own.
		return badRequest("creating derived api keys requires an explicit role descriptor that is empty (has no privileges)")
	}
	ev.Username, ev.Realm = owner, realm
	if ev.LimitedBy, ev.LimitedByBuiltin, err = g.limitedBy(p); err != nil {
		return err
	}

	id, key, err := secret.NewAPIKey()
	if err != nil {
		return err
	}
	if ev.SecretHash, err = secret.HashAPIKey(key); err != nil {
		return err
	}
	ev.ID = id
	e, err := events.New(g.cfg.NodeID, events.TypeAPIKeyCreated, id, now, ev)
	if err != nil {
		return err
	}
	subject := events.StateSubject(events.AggregateAPIKey, id)
	if err := g.appendAndWait(ctx, events.StreamState, subject, e, &events.Expect{LastSubjectSeq: 0}); err != nil {
		return err
	}
	ans := createAPIKeyAnswer{ID: id, Name: ev.Name, APIKey: key,
		Encoded: base64.StdEncoding.EncodeToString([]byte(id + ":" + key))}
	if !ev.Expiration.IsZero() {
		ans.Expiration = ev.Expiration.UnixMilli()
	}
	return writeOK(ctx, ans)
}

// limitedBy is the point-in-time snapshot of p's roles that limits a key p
// creates, as Elasticsearch takes it: the role descriptors of p's roles by
// name (a role p holds that does not exist grants nothing and is left out)
// and the built-in ones by name. A key creating a key passes on its own
// snapshot (the derived key has no privileges of its own anyway).
func (g *Gateway) limitedBy(p *principal) (json.RawMessage, []string, error) {
	model := g.cfg.Projection.Model()
	if p.apiKeyID != "" {
		k, ok := model.APIKey(p.apiKeyID)
		if !ok {
			return nil, nil, errors.New("the api key that authenticated the request is gone")
		}
		if k.Snapshot {
			b, err := snapshotJSON(k.LimitedBy)
			return b, slices.Clone(k.LimitedByBuiltin), err
		}
	}
	var roles []projector.Role
	builtin := []string{}
	for _, name := range userRoles(p.roles) {
		if policy.IsBuiltinRole(name) {
			if !slices.Contains(builtin, name) {
				builtin = append(builtin, name)
			}
			continue
		}
		if r, ok := model.Role(name); ok {
			roles = append(roles, *r)
		}
	}
	b, err := snapshotJSON(roles)
	return b, builtin, err
}

// snapshotJSON encodes roles as a role descriptors object ("{}" for none:
// present, so that an owner without roles gives a key without privileges).
func snapshotJSON(roles []projector.Role) (json.RawMessage, error) {
	m := make(map[string]descriptor, len(roles))
	for _, r := range roles {
		m[r.Name] = descriptor{Cluster: nonNil(r.Cluster), Indices: nonNil(r.Indices)}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("api key: encode the owner's roles: %w", err)
	}
	return b, nil
}

// owner is who owns the keys p creates, and the realm that vouches for
// them: the account behind a login token (the native realm), the owner of
// the key p authenticated with.
func (g *Gateway) owner(p *principal) (username, realm string) {
	switch {
	case p.apiKeyID != "":
		if k, ok := g.cfg.Projection.Model().APIKey(p.apiKeyID); ok {
			return k.Username, k.Realm
		}
		return p.name, realmNative
	case p.byToken:
		return p.name, realmNative
	}
	return p.name, p.realm
}

// roleDescriptors validates a create request's role_descriptors as roles
// and returns them as the event carries them. Document and field level
// security, applications and run_as are refused, as for roles.
func roleDescriptors(in map[string]json.RawMessage) (json.RawMessage, error) {
	out := make(map[string]descriptor, len(in))
	for name, raw := range in {
		if name == "" || !printable([]byte(name)) {
			return nil, badRequest("role descriptor names must be non-empty and printable")
		}
		var rr roleRequest
		if err := decodeStrict(raw, &rr); err != nil {
			var ce *clientError
			if errors.As(err, &ce) {
				ce.reason = "role descriptor [" + name + "]: " + ce.reason
			}
			return nil, err
		}
		if !emptyList(rr.Applications) || !emptyList(rr.RunAs) {
			return nil, badRequest("role descriptor [" + name + "]: applications and run_as are not supported")
		}
		d := descriptor{Cluster: nonNil(rr.Cluster), Indices: make([]events.IndexPrivileges, len(rr.Indices))}
		pr := policy.Role{Name: policy.APIKeyRoleName("new", name), Cluster: d.Cluster, Indices: make([]policy.IndexPrivileges, len(rr.Indices))}
		for i, ip := range rr.Indices {
			d.Indices[i] = events.IndexPrivileges{Names: ip.Names, Privileges: ip.Privileges, AllowRestrictedIndices: ip.AllowRestrictedIndices}
			pr.Indices[i] = policy.IndexPrivileges{Names: ip.Names, Privileges: ip.Privileges, AllowRestrictedIndices: ip.AllowRestrictedIndices}
		}
		if err := policy.ValidateAPIKeyRole(pr); err != nil {
			return nil, validationError("role descriptor [" + name + "]: " + strings.TrimPrefix(err.Error(), policy.ErrInvalidRole.Error()+": "))
		}
		out[name] = d
	}
	return json.Marshal(out)
}

// emptyDescriptors tells whether role_descriptors was given and grants
// nothing: the only form a key may give a key it derives.
func emptyDescriptors(in map[string]json.RawMessage) bool {
	if in == nil {
		return false
	}
	for _, raw := range in {
		var d descriptor
		if json.Unmarshal(raw, &d) != nil || len(d.Cluster) > 0 || len(d.Indices) > 0 {
			return false
		}
	}
	return true
}

// parseExpiration parses an Elasticsearch TimeValue (es-security-protocol.md
// §5.3): a whole non-negative number and a unit of nanos, micros, ms, s, m,
// h or d; "0" alone is zero. Weeks, months and fractions are refused, with
// Elasticsearch's messages.
func parseExpiration(s string) (time.Duration, error) {
	bad := func(why string) error {
		return badRequest("failed to parse setting [expiration] with value [" + s + "] as a time value: " + why)
	}
	v := strings.ToLower(strings.TrimSpace(s))
	if v == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{
		{"nanos", time.Nanosecond}, {"micros", time.Microsecond}, {"ms", time.Millisecond},
		{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour},
	}
	for _, u := range units {
		num, ok := strings.CutSuffix(v, u.suffix)
		if !ok || num == "" {
			continue
		}
		if strings.HasPrefix(num, "-") {
			return 0, bad("negative durations are not supported")
		}
		if strings.Contains(num, ".") {
			if _, err := strconv.ParseFloat(num, 64); err == nil {
				return 0, badRequest("fractional time values are not supported; found [" + s + "]")
			}
		}
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			break
		}
		if n > int64((1<<63-1)/u.unit) {
			return 0, bad("the value is too large")
		}
		return time.Duration(n) * u.unit, nil
	}
	return 0, bad("unit is missing or unrecognized")
}

// keyFilter selects API keys, for get and invalidate.
type keyFilter struct {
	ids                 []string
	name                string // "*" matches any run of characters
	username, realm     string
	activeOnly          bool
	now                 time.Time
	ownerUser, ownerRlm string // set: only the keys of this owner
}

func (f *keyFilter) match(k *projector.APIKey) bool {
	switch {
	case len(f.ids) > 0 && !slices.Contains(f.ids, k.ID),
		f.name != "" && !globMatch(f.name, k.Name),
		f.username != "" && k.Username != f.username,
		f.realm != "" && k.Realm != f.realm,
		f.ownerUser != "" && (k.Username != f.ownerUser || k.Realm != f.ownerRlm),
		f.activeOnly && (k.Invalidated || k.Expired(f.now, 0)):
		return false
	}
	return true
}

// globMatch matches s against pattern, where '*' stands for any run of
// characters and nothing else is special.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}

// scope decides what a caller without manage_api_key may select: a request
// for its own keys (owner, or its own username and realm, or the id of the
// key it authenticated with). It returns false when the caller needs
// manage_api_key for this request and lacks it.
func (g *Gateway) scope(ctx *fasthttp.RequestCtx, r *request, p *principal, action string, f *keyFilter, owner bool) bool {
	if g.hasPrivilege(ctx, r, p, privManageAPIKey, action) {
		if owner {
			f.ownerUser, f.ownerRlm = g.owner(p)
		}
		return true
	}
	user, realm := g.owner(p)
	switch {
	case owner, f.username == user && f.realm == realm:
		f.ownerUser, f.ownerRlm = user, realm
		return true
	case p.apiKeyID != "" && len(f.ids) == 1 && f.ids[0] == p.apiKeyID:
		return true
	}
	return false
}

// hasPrivilege reports whether p holds the cluster privilege, the
// intersection with an API key's descriptors included.
func (g *Gateway) hasPrivilege(ctx *fasthttp.RequestCtx, r *request, p *principal, privilege, action string) bool {
	in := &policy.Input{User: p.policyUser(), Request: policy.Request{Method: r.method, Path: r.path, Kind: policy.KindManagement,
		Privilege: privilege, Action: action, RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query}}
	d := g.decide(ctx, r, in)
	if d.Allow && p.keyRoles != nil {
		in.User.Roles = p.keyRoles
		d = g.decide(ctx, r, in)
	}
	return d.Allow
}

// forbiddenAPIKeys is the 403 of a manage_own_api_key caller reaching for
// keys that are not its own.
func forbiddenAPIKeys(action string, p *principal) error {
	who := "user [" + p.name + "] with effective roles [" + joinRoles(p.roles) + "]"
	if p.apiKeyID != "" {
		who = "API key id [" + p.apiKeyID + "] of user [" + p.name + "]"
	}
	return &clientError{status: fasthttp.StatusForbidden, typ: "security_exception",
		reason: "action [" + action + "] is unauthorized for " + who +
			", this action is granted by the cluster privileges [" + privManageAPIKey + ",manage_security,all]"}
}

// apiKeyView is an API key as Elasticsearch's get API key API shows it.
type apiKeyView struct {
	ID              string              `json:"id"`
	Name            string              `json:"name"`
	Type            string              `json:"type"`
	Creation        int64               `json:"creation"`
	Expiration      *int64              `json:"expiration,omitempty"`
	Invalidated     bool                `json:"invalidated"`
	Invalidation    *int64              `json:"invalidation,omitempty"`
	Username        string              `json:"username"`
	Realm           string              `json:"realm"`
	Metadata        json.RawMessage     `json:"metadata"`
	RoleDescriptors map[string]roleView `json:"role_descriptors"`
	// LimitedBy is shown with ?with_limited_by=true: the snapshot of the
	// owner's roles, one object of descriptors in an array, as there.
	LimitedBy []map[string]roleView `json:"limited_by,omitempty"`
}

func apiKeyViewOf(k *projector.APIKey) apiKeyView {
	v := apiKeyView{ID: k.ID, Name: k.Name, Type: "rest", Creation: k.Creation.UnixMilli(), Invalidated: k.Invalidated,
		Username: k.Username, Realm: k.Realm, Metadata: k.Metadata, RoleDescriptors: make(map[string]roleView, len(k.Roles))}
	if !k.Expiration.IsZero() {
		ms := k.Expiration.UnixMilli()
		v.Expiration = &ms
	}
	if k.Invalidated {
		ms := k.Invalidation.UnixMilli()
		v.Invalidation = &ms
	}
	if len(v.Metadata) == 0 {
		v.Metadata = json.RawMessage(`{}`)
	}
	for i := range k.Roles {
		v.RoleDescriptors[k.Roles[i].Name] = roleViewOf(&k.Roles[i])
	}
	return v
}

// limitedByView is the snapshot of k's owner's roles as with_limited_by
// shows it; nil for a key created before snapshots.
func limitedByView(k *projector.APIKey) []map[string]roleView {
	if !k.Snapshot {
		return nil
	}
	m := make(map[string]roleView, len(k.LimitedBy)+len(k.LimitedByBuiltin))
	for i := range k.LimitedBy {
		m[k.LimitedBy[i].Name] = roleViewOf(&k.LimitedBy[i])
	}
	for _, name := range k.LimitedByBuiltin {
		if name == "superuser" {
			m[name] = superuserView
		}
	}
	return []map[string]roleView{m}
}

// getAPIKeys is GET /_security/api_key?id=&name=&username=&realm_name=&owner=&active_only=.
func (g *Gateway) getAPIKeys(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	q, err := url.ParseQuery(string(r.query))
	if err != nil {
		return badRequest("malformed query string")
	}
	f := keyFilter{name: q.Get("name"), username: q.Get("username"), realm: q.Get("realm_name"), now: now.Add(-g.cfg.APIKeyClockSkew)}
	if id := q.Get("id"); id != "" {
		f.ids = []string{id}
	}
	owner, err := queryBool(q, "owner")
	if err != nil {
		return err
	}
	if f.activeOnly, err = queryBool(q, "active_only"); err != nil {
		return err
	}
	withLimitedBy, err := queryBool(q, "with_limited_by")
	if err != nil {
		return err
	}
	var problems []string
	if (f.username != "" || f.realm != "") && (len(f.ids) > 0 || f.name != "") {
		problems = append(problems, "username or realm name must not be specified when the api key id or api key name is specified")
	}
	if owner && (f.username != "" || f.realm != "") {
		problems = append(problems, "neither username nor realm-name may be specified when retrieving owned API keys")
	}
	if len(f.ids) > 0 && f.name != "" {
		problems = append(problems, "only one of [api key id, api key name] can be specified")
	}
	if len(problems) > 0 {
		return validationErrors(problems)
	}
	if !g.scope(ctx, r, p, actionGetAPIKey, &f, owner) {
		return forbiddenAPIKeys(actionGetAPIKey, p)
	}
	out := []apiKeyView{}
	for _, k := range g.cfg.Projection.Model().APIKeys() {
		if f.match(k) {
			v := apiKeyViewOf(k)
			if withLimitedBy {
				v.LimitedBy = limitedByView(k)
			}
			out = append(out, v)
		}
	}
	return writeOK(ctx, map[string]any{"api_keys": out})
}

func queryBool(q url.Values, key string) (bool, error) {
	switch v := q.Get(key); v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, badRequest("Failed to parse value [" + v + "] as only [true] or [false] are allowed.")
	}
}

// validationErrors is Elasticsearch's action_request_validation_exception
// with every problem numbered.
func validationErrors(problems []string) *clientError {
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, p := range problems {
		b.WriteString(strconv.Itoa(i+1) + ": " + p + ";")
	}
	return &clientError{status: fasthttp.StatusBadRequest, typ: "action_request_validation_exception", reason: b.String()}
}

// invalidateAPIKeyRequest is the body of DELETE /_security/api_key. ID is
// the REST-compatibility (v7) single id.
type invalidateAPIKeyRequest struct {
	IDs       *[]string `json:"ids"`
	ID        *string   `json:"id"`
	Name      string    `json:"name"`
	Username  string    `json:"username"`
	RealmName string    `json:"realm_name"`
	Owner     bool      `json:"owner"`
}

// invalidateAPIKeyRules applies Elasticsearch's InvalidateApiKeyRequest
// checks (es-security-protocol.md §5.4) and returns the ids to select, nil
// for none.
func invalidateAPIKeyRules(req invalidateAPIKeyRequest) ([]string, error) {
	if req.ID != nil && req.IDs != nil {
		return nil, badRequest("Must use either [id] or [ids], not both at the same time")
	}
	var ids []string
	if req.IDs != nil {
		if len(*req.IDs) == 0 {
			return nil, badRequest("Field [ids] cannot be an empty array")
		}
		ids = *req.IDs
	} else if req.ID != nil {
		ids = []string{*req.ID}
	}
	var problems []string
	hasUser := strings.TrimSpace(req.Username) != "" || strings.TrimSpace(req.RealmName) != ""
	hasName := strings.TrimSpace(req.Name) != ""
	if !hasUser && ids == nil && !hasName && !req.Owner {
		problems = append(problems, "One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false")
	}
	if (ids != nil || hasName) && hasUser {
		problems = append(problems, "username or realm name must not be specified when the api key id(s) or api key name are specified")
	}
	if req.Owner && hasUser {
		problems = append(problems, "neither username nor realm-name may be specified when invalidating owned API keys")
	}
	if ids != nil && hasName {
		problems = append(problems, "only one of [api key id(s), api key name] can be specified")
	}
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			problems = append(problems, "Field [ids] must not contain blank id, but got blank id at index position: ["+strconv.Itoa(i)+"]")
			break
		}
	}
	if len(problems) > 0 {
		return nil, validationErrors(problems)
	}
	return ids, nil
}

// invalidateAPIKeys is DELETE /_security/api_key: each selected key that is
// still valid gets an invalidated event; the answer lists those and the
// ones invalidated before.
func (g *Gateway) invalidateAPIKeys(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	var req invalidateAPIKeyRequest
	if err := decodeStrict(body, &req); err != nil {
		return err
	}
	ids, err := invalidateAPIKeyRules(req)
	if err != nil {
		return err
	}
	f := keyFilter{ids: ids, name: req.Name, username: req.Username, realm: req.RealmName}
	if !g.scope(ctx, r, p, actionInvalidateAPIKey, &f, req.Owner) {
		return forbiddenAPIKeys(actionInvalidateAPIKey, p)
	}
	type errorDetail struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	}
	invalidated, previously, details := []string{}, []string{}, []errorDetail{}
	model := g.cfg.Projection.Model()
	for _, k := range model.APIKeys() {
		if !f.match(k) {
			continue
		}
		if k.Invalidated {
			previously = append(previously, k.ID)
			continue
		}
		subject := events.StateSubject(events.AggregateAPIKey, k.ID)
		expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)}
		ev, err := events.New(g.cfg.NodeID, events.TypeAPIKeyInvalidated, k.ID, now, events.APIKeyInvalidated{ID: k.ID, Time: now})
		if err == nil {
			err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
		}
		switch {
		case errors.Is(err, events.ErrConflict):
			// Invalidated concurrently (the only other event of a key).
			previously = append(previously, k.ID)
		case err != nil:
			g.cfg.Logger.ErrorContext(ctx, "api_key_invalidation_failed", "api_key_id", k.ID, "request_id", r.requestID, "error", err)
			details = append(details, errorDetail{Type: "exception", Reason: "failed to invalidate api key [" + k.ID + "]"})
		default:
			invalidated = append(invalidated, k.ID)
		}
	}
	out := map[string]any{"invalidated_api_keys": invalidated, "previously_invalidated_api_keys": previously, "error_count": len(details)}
	if len(details) > 0 {
		out["error_details"] = details
	}
	return writeOK(ctx, out)
}
