package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/canon"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/projector"
)

// actionAuthenticate is the action of GET /_security/_authenticate.
const actionAuthenticate = "cluster:admin/xpack/security/user/authenticate"

// securityRoute routes Elasticsearch's /_security/ APIs served so far: the
// user API (over the same account aggregate as /_auth/account), the role
// API (role.go), the API key API (apikey.go) and _authenticate. Others are
// management requests that only the superuser passes, and Elasticsearch
// without security answers them itself.
func securityRoute(method, path string) *endpoint {
	seg := canon.Segments(path) // "_security", ...
	put := method == fasthttp.MethodPut || method == fasthttp.MethodPost
	switch {
	case len(seg) == 2 && seg[1] == "_authenticate" && method == fasthttp.MethodGet:
		return &endpoint{action: actionAuthenticate, self: true, handle: (*Gateway).authenticateInfo}
	case len(seg) == 2 && seg[1] == "user" && method == fasthttp.MethodGet:
		return &endpoint{action: "cluster:admin/xpack/security/user/get", privilege: privManageSecurity, handle: (*Gateway).getUsers}
	case len(seg) == 3 && seg[1] == "user" && seg[2] == "_password" && put:
		return &endpoint{action: "cluster:admin/xpack/security/user/change_password", self: true, handle: (*Gateway).changePassword}
	case len(seg) == 3 && seg[1] == "user":
		switch {
		case method == fasthttp.MethodGet:
			return &endpoint{action: "cluster:admin/xpack/security/user/get", privilege: privManageSecurity, handle: (*Gateway).getUsers, arg: seg[2]}
		case put:
			return &endpoint{action: "cluster:admin/xpack/security/user/put", privilege: privManageSecurity, handle: (*Gateway).putUser, arg: seg[2]}
		case method == fasthttp.MethodDelete:
			return &endpoint{action: "cluster:admin/xpack/security/user/delete", privilege: privManageSecurity, handle: (*Gateway).deleteUser, arg: seg[2]}
		}
	case len(seg) == 2 && seg[1] == "api_key":
		return apiKeyRoute(method)
	case len(seg) == 2 && seg[1] == "role" && method == fasthttp.MethodGet:
		return &endpoint{action: "cluster:admin/xpack/security/role/get", privilege: privManageSecurity, handle: (*Gateway).getRoles}
	case len(seg) == 3 && seg[1] == "role":
		switch {
		case method == fasthttp.MethodGet:
			return &endpoint{action: "cluster:admin/xpack/security/role/get", privilege: privManageSecurity, handle: (*Gateway).getRoles, arg: seg[2]}
		case put:
			return &endpoint{action: "cluster:admin/xpack/security/role/put", privilege: privManageSecurity, handle: (*Gateway).putRole, arg: seg[2]}
		case method == fasthttp.MethodDelete:
			return &endpoint{action: "cluster:admin/xpack/security/role/delete", privilege: privManageSecurity, handle: (*Gateway).deleteRole, arg: seg[2]}
		}
	case len(seg) == 4 && seg[1] == "user" && put:
		switch seg[3] {
		case "_password":
			return &endpoint{action: "cluster:admin/xpack/security/user/change_password", privilege: privManageSecurity, self: true, handle: (*Gateway).changePassword, arg: seg[2]}
		case "_enable":
			return &endpoint{action: "cluster:admin/xpack/security/user/set_enabled", privilege: privManageSecurity, handle: (*Gateway).enableUser, arg: seg[2]}
		case "_disable":
			return &endpoint{action: "cluster:admin/xpack/security/user/set_enabled", privilege: privManageSecurity, handle: (*Gateway).disableUser, arg: seg[2]}
		}
	}
	return nil
}

// userRequest is the body of PUT /_security/user/<name>.
type userRequest struct {
	Password     *string         `json:"password"`
	PasswordHash *string         `json:"password_hash"`
	Roles        *[]string       `json:"roles"`
	FullName     *string         `json:"full_name"`
	Email        *string         `json:"email"`
	Metadata     json.RawMessage `json:"metadata"`
	Enabled      *bool           `json:"enabled"`
}

// validationError is Elasticsearch's action_request_validation_exception.
func validationError(msg string) *clientError {
	return &clientError{status: fasthttp.StatusBadRequest, typ: "action_request_validation_exception", reason: "Validation Failed: 1: " + msg + ";"}
}

func (g *Gateway) putUser(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	if err := validName("username", name); err != nil {
		return err
	}
	if err := g.reservedName(name); err != nil {
		return err
	}
	var req userRequest
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if req.PasswordHash != nil {
		return validationError("password_hash is not supported: send the password, it is hashed with argon2id")
	}
	if req.Roles == nil {
		return validationError("roles are missing")
	}
	for _, role := range *req.Roles {
		if err := validName("roles", role); err != nil {
			return err
		}
	}
	if req.Password != nil && len([]rune(*req.Password)) < minPasswordLen {
		return validationError("passwords must be at least [6] characters long")
	}
	if m := bytes.TrimSpace(req.Metadata); len(m) > 0 {
		switch {
		case string(m) == "null":
			req.Metadata = nil
		case m[0] != '{':
			return badRequest("field [metadata] must be an object")
		}
	}
	model := g.cfg.Projection.Model()
	subject := events.StateSubject(events.AggregateAccount, name)
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)} // before the aggregate, as in createAccount
	acc, exists := model.Account(name)
	var ev events.Event
	var err error
	if !exists {
		if req.Password == nil {
			return validationError("password must be specified unless you are updating an existing user")
		}
		hash, err := secret.HashPassword(*req.Password)
		if err != nil {
			return err
		}
		c := events.AccountCreated{UID: events.NewID(now), Username: name, PasswordHash: hash, Roles: *req.Roles,
			Authenticator: "index", Metadata: req.Metadata}
		if req.FullName != nil {
			c.FullName = *req.FullName
		}
		if req.Email != nil {
			c.Email = *req.Email
		}
		if req.Enabled != nil {
			c.Disabled = !*req.Enabled
		}
		ev, err = events.New(g.cfg.NodeID, events.TypeAccountCreated, name, now, c)
		if err != nil {
			return err
		}
	} else {
		u := events.AccountUpdated{UID: acc.UID, Username: name, Roles: req.Roles, FullName: req.FullName, Email: req.Email,
			Metadata: req.Metadata, Enabled: req.Enabled}
		if req.Password != nil {
			hash, err := secret.HashPassword(*req.Password)
			if err != nil {
				return err
			}
			u.PasswordHash = &hash
		}
		ev, err = events.New(g.cfg.NodeID, events.TypeAccountUpdated, name, now, u)
		if err != nil {
			return err
		}
	}
	err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
	if errors.Is(err, events.ErrConflict) {
		return conflict("user [" + name + "] was changed concurrently; retry")
	}
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"created": !exists})
}

// userView is a user as Elasticsearch's get user API shows it.
type userView struct {
	Username string          `json:"username"`
	Roles    []string        `json:"roles"`
	FullName *string         `json:"full_name"`
	Email    *string         `json:"email"`
	Metadata json.RawMessage `json:"metadata"`
	Enabled  bool            `json:"enabled"`
}

func userViewOf(a *projector.Account) userView {
	v := userView{Username: a.Username, Roles: a.Roles, Metadata: a.Metadata, Enabled: !a.Disabled}
	if v.Roles == nil {
		v.Roles = []string{}
	}
	if a.FullName != "" {
		v.FullName = &a.FullName
	}
	if a.Email != "" {
		v.Email = &a.Email
	}
	if len(v.Metadata) == 0 {
		v.Metadata = json.RawMessage(`{}`)
	}
	return v
}

func (g *Gateway) getUsers(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, names string) error {
	model := g.cfg.Projection.Model()
	out := map[string]userView{}
	if names == "" {
		for _, a := range model.Accounts() {
			out[a.Username] = userViewOf(a)
		}
		return writeOK(ctx, out)
	}
	for _, n := range strings.Split(names, ",") {
		if a, ok := model.Account(n); ok {
			out[n] = userViewOf(a)
		}
	}
	return writeFound(ctx, out)
}

func (g *Gateway) deleteUser(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	err := g.changeAccount(ctx, now, "user", name, func(acc *projector.Account) (string, any, error) {
		return events.TypeAccountDeleted, events.AccountDeleted{UID: acc.UID, Username: acc.Username}, nil
	})
	var ce *clientError
	if errors.As(err, &ce) && ce.status == fasthttp.StatusNotFound {
		writeJSON(ctx, fasthttp.StatusNotFound, []byte(`{"found":false}`))
		return nil
	}
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"found": true})
}

func (g *Gateway) enableUser(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	return g.setEnabled(ctx, now, name, true)
}

func (g *Gateway) disableUser(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	return g.setEnabled(ctx, now, name, false)
}

func (g *Gateway) setEnabled(ctx *fasthttp.RequestCtx, now time.Time, name string, enabled bool) error {
	return g.updateUser(ctx, now, name, func(u *events.AccountUpdated) { u.Enabled = &enabled })
}

// updateUser appends an update of account name built by change.
func (g *Gateway) updateUser(ctx *fasthttp.RequestCtx, now time.Time, name string, change func(*events.AccountUpdated)) error {
	err := g.changeAccount(ctx, now, "user", name, func(acc *projector.Account) (string, any, error) {
		u := events.AccountUpdated{UID: acc.UID, Username: acc.Username}
		change(&u)
		return events.TypeAccountUpdated, u, nil
	})
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{})
}

// changePassword is POST /_security/user/[<name>/]_password: a user's own
// password needs no privilege, another user's needs manage_security.
func (g *Gateway) changePassword(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	if name == "" {
		if p.anonymous {
			return badRequest("the anonymous user has no password")
		}
		name = p.name
	}
	var req struct {
		Password     *string `json:"password"`
		PasswordHash *string `json:"password_hash"`
	}
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if req.PasswordHash != nil {
		return validationError("password_hash is not supported: send the password")
	}
	if req.Password == nil {
		return validationError("password is missing")
	}
	if len([]rune(*req.Password)) < minPasswordLen {
		return validationError("passwords must be at least [6] characters long")
	}
	hash, err := secret.HashPassword(*req.Password)
	if err != nil {
		return err
	}
	return g.updateUser(ctx, now, name, func(u *events.AccountUpdated) { u.PasswordHash = &hash })
}

// authenticateInfo is GET /_security/_authenticate: who the request is.
func (g *Gateway) authenticateInfo(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	realmType := map[string]string{realmNative: "native", realmFile: "file", realmLDAP: "ldap", realmToken: "_token", realmAnonymous: "anonymous", realmAPIKey: realmAPIKey}[p.realm]
	out := map[string]any{
		"username": p.name, "roles": p.roles, "full_name": nil, "email": nil, "metadata": json.RawMessage(`{}`), "enabled": true,
		"authentication_realm": map[string]string{"name": p.realm, "type": realmType},
		"lookup_realm":         map[string]string{"name": p.realm, "type": realmType},
		"authentication_type":  p.authType,
	}
	if p.roles == nil {
		out["roles"] = []string{}
	}
	if p.apiKeyID != "" {
		if k, ok := g.cfg.Projection.Model().APIKey(p.apiKeyID); ok {
			out["api_key"] = map[string]string{"id": k.ID, "name": k.Name}
		}
	}
	if acc, ok := g.cfg.Projection.Model().Account(p.name); ok && !p.anonymous {
		v := userViewOf(acc)
		out["full_name"], out["email"], out["metadata"] = v.FullName, v.Email, v.Metadata
	}
	return writeOK(ctx, out)
}
