package gateway

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/gateway/secret"
	"github.com/portcullis/portcullis/projector"
)

// accountRequest is the codelibs account body:
// {"authenticator":"index","username":"...","password":"...","roles":[...]}.
type accountRequest struct {
	Authenticator *string   `json:"authenticator"`
	Username      *string   `json:"username"`
	Password      *string   `json:"password"`
	Roles         *[]string `json:"roles"`
}

// minPasswordLen is Elasticsearch's minimum for native realm passwords.
const minPasswordLen = 6

func (a *accountRequest) validate(needPassword bool) error {
	if a.Authenticator != nil && *a.Authenticator != "index" {
		return badRequest("unknown authenticator [" + *a.Authenticator + "]: the only authenticator is [index]")
	}
	if a.Username == nil || *a.Username == "" {
		return badRequest("field [username] is required")
	}
	if err := validName("username", *a.Username); err != nil {
		return err
	}
	if a.Password == nil && needPassword {
		return badRequest("field [password] is required")
	}
	if a.Password != nil && len([]rune(*a.Password)) < minPasswordLen {
		return badRequest("passwords must be at least [6] characters long")
	}
	if a.Roles != nil {
		for _, r := range *a.Roles {
			if err := validName("roles", r); err != nil {
				return err
			}
		}
	}
	return nil
}

// validName accepts what Elasticsearch accepts as a user or role name:
// 1 to 507 printable characters, no leading or trailing whitespace.
func validName(field, s string) error {
	if s == "" || len(s) > 507 {
		return badRequest("field [" + field + "] must be 1 to 507 characters long")
	}
	if strings.TrimSpace(s) != s {
		return badRequest("field [" + field + "] must not begin or end with whitespace")
	}
	for _, c := range s {
		if !unicode.IsPrint(c) {
			return badRequest("field [" + field + "] must contain printable characters only")
		}
	}
	return nil
}

func (g *Gateway) createAccount(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	var req accountRequest
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if err := req.validate(true); err != nil {
		return err
	}
	user := *req.Username
	if err := g.reservedName(user); err != nil {
		return err
	}
	model := g.cfg.Projection.Model()
	subject := events.StateSubject(events.AggregateAccount, user)
	// The sequence is read before the aggregate (see Model.SubjectSeq): the
	// decision below is never taken on an aggregate older than the
	// sequence the append expects.
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)}
	if _, ok := model.Account(user); ok {
		return conflict("account [" + user + "] already exists")
	}
	hash, err := secret.HashPassword(*req.Password)
	if err != nil {
		return err
	}
	roles := []string{}
	if req.Roles != nil {
		roles = *req.Roles
	}
	ev, err := events.New(g.cfg.NodeID, events.TypeAccountCreated, user, now, events.AccountCreated{
		UID: events.NewID(now), Username: user, PasswordHash: hash, Roles: roles, Authenticator: "index",
	})
	if err != nil {
		return err
	}
	err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
	if errors.Is(err, events.ErrConflict) {
		return conflict("account [" + user + "] already exists or was changed concurrently")
	}
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"status": 200, "created": true})
}

func (g *Gateway) updateAccount(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	var req accountRequest
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if err := req.validate(false); err != nil {
		return err
	}
	if req.Password == nil && req.Roles == nil {
		return badRequest("nothing to update: give [password], [roles] or both")
	}
	err := g.changeAccount(ctx, now, "account", *req.Username, func(acc *projector.Account) (string, any, error) {
		upd := events.AccountUpdated{UID: acc.UID, Username: acc.Username, Roles: req.Roles}
		if req.Password != nil {
			hash, err := secret.HashPassword(*req.Password)
			if err != nil {
				return "", nil, err
			}
			upd.PasswordHash = &hash
		}
		return events.TypeAccountUpdated, upd, nil
	})
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"status": 200, "updated": true})
}

func (g *Gateway) deleteAccount(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	var req accountRequest
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if req.Password != nil || req.Roles != nil {
		return badRequest("a delete takes only [username]")
	}
	if err := req.validate(false); err != nil {
		return err
	}
	err := g.changeAccount(ctx, now, "account", *req.Username, func(acc *projector.Account) (string, any, error) {
		return events.TypeAccountDeleted, events.AccountDeleted{UID: acc.UID, Username: acc.Username}, nil
	})
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"status": 200, "found": true})
}

// changeAccount appends the event that change builds from the current
// account name, under optimistic concurrency; noun ("account", "user")
// words the errors. The subject's sequence is read before the aggregate (see
// createAccount).
func (g *Gateway) changeAccount(ctx context.Context, now time.Time, noun, name string, change func(acc *projector.Account) (typ string, data any, err error)) error {
	model := g.cfg.Projection.Model()
	subject := events.StateSubject(events.AggregateAccount, name)
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)}
	acc, ok := model.Account(name)
	if !ok {
		return notFound(noun + " [" + name + "] not found")
	}
	typ, data, err := change(acc)
	if err != nil {
		return err
	}
	ev, err := events.New(g.cfg.NodeID, typ, name, now, data)
	if err != nil {
		return err
	}
	err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
	if errors.Is(err, events.ErrConflict) {
		return conflict(noun + " [" + name + "] was changed concurrently; read it again and retry")
	}
	return err
}

// reservedName refuses an account named as the anonymous user: its
// password would be changeable by every anonymous request (the user's own).
func (g *Gateway) reservedName(name string) error {
	if a := g.cfg.Anonymous; a != nil && name == a.Username {
		return badRequest("[" + name + "] is the anonymous user's name (authc.anonymous.username)")
	}
	return nil
}
