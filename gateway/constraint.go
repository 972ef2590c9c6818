package gateway

import (
	"errors"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// constraintRequest is the codelibs content constraint body:
// {"authenticator":"index","paths":[...],"methods":[...],"roles":[...]}.
type constraintRequest struct {
	Authenticator *string  `json:"authenticator"`
	Paths         []string `json:"paths"`
	Methods       []string `json:"methods"`
	Roles         []string `json:"roles"`
}

type constraintView struct {
	ID      string   `json:"id"`
	Paths   []string `json:"paths"`
	Methods []string `json:"methods"`
	Roles   []string `json:"roles"`
}

func viewOf(c projector.Constraint) constraintView {
	return constraintView{ID: c.ID, Paths: c.Paths, Methods: c.Methods, Roles: c.Roles}
}

func (g *Gateway) createConstraint(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	var req constraintRequest
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if req.Authenticator != nil && *req.Authenticator != "index" {
		return badRequest("unknown authenticator [" + *req.Authenticator + "]: the only authenticator is [index]")
	}
	id := events.NewID(now)
	if err := policy.ValidateConstraint(policy.Constraint{ID: id, Paths: req.Paths, Methods: req.Methods, Roles: req.Roles}); err != nil {
		return badRequest("invalid constraint: " + err.Error())
	}
	subject := events.StateSubject(events.AggregateConstraint, id)
	ev, err := events.New(g.cfg.NodeID, events.TypeConstraintCreated, id, now, events.ConstraintCreated{
		ID: id, Paths: req.Paths, Methods: req.Methods, Roles: req.Roles, Authenticator: "index",
	})
	if err != nil {
		return err
	}
	if err := g.appendAndWait(ctx, events.StreamState, subject, ev, &events.Expect{LastSubjectSeq: 0}); err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"status": 200, "id": id})
}

func (g *Gateway) listConstraints(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	cs := g.cfg.Projection.Model().Constraints()
	out := make([]constraintView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewOf(c))
	}
	return writeOK(ctx, map[string]any{"status": 200, "constraints": out})
}

func (g *Gateway) getConstraint(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, id string) error {
	c, ok := g.cfg.Projection.Model().ConstraintByID(id)
	if !ok {
		return notFound("constraint [" + id + "] not found")
	}
	return writeOK(ctx, map[string]any{"status": 200, "constraint": viewOf(c)})
}

func (g *Gateway) deleteConstraint(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, id string) error {
	model := g.cfg.Projection.Model()
	subject := events.StateSubject(events.AggregateConstraint, id)
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)} // before the aggregate, as in createAccount
	if _, ok := model.ConstraintByID(id); !ok {
		return notFound("constraint [" + id + "] not found")
	}
	ev, err := events.New(g.cfg.NodeID, events.TypeConstraintDeleted, id, now, events.ConstraintDeleted{ID: id})
	if err != nil {
		return err
	}
	err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
	if errors.Is(err, events.ErrConflict) {
		return notFound("constraint [" + id + "] not found")
	}
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"status": 200, "found": true})
}

// showPolicy answers the generated Rego module: what is enforced, readable.
func (g *Gateway) showPolicy(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	ctx.Response.SetStatusCode(fasthttp.StatusOK)
	ctx.Response.Header.SetContentType("text/plain; charset=UTF-8")
	ctx.Response.Header.Set("X-Portcullis-Policy-Revision", g.cfg.Policy.Revision())
	ctx.Response.SetBodyString(g.cfg.Policy.Generated())
	return nil
}
