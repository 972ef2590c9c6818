package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/projector"
)

// Elasticsearch's role API (/_security/role/<name>) over the role aggregate.
// A put creates or replaces the whole role; roles compile into the policy,
// where their cluster privileges grant management requests (index
// privileges are stored and compiled, and enforced once content requests
// are classified). The built-in superuser is shown but cannot be changed.

// roleRequest is the body of PUT /_security/role/<name>.
type roleRequest struct {
	Cluster      []string             `json:"cluster"`
	Indices      []indexPrivilegesReq `json:"indices"`
	Applications json.RawMessage      `json:"applications"`
	RunAs        json.RawMessage      `json:"run_as"`
	Metadata     json.RawMessage      `json:"metadata"`
}

// indexPrivilegesReq is one entry of a role's indices. Document and field
// level security (query, field_security) are unknown fields, refused.
type indexPrivilegesReq struct {
	Names                  stringList `json:"names"`
	Privileges             []string   `json:"privileges"`
	AllowRestrictedIndices bool       `json:"allow_restricted_indices"`
}

// stringList is a JSON array of strings or, as Elasticsearch also accepts
// for index names, a single string.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*l = []string{s}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(l))
}

// emptyList tells whether raw is absent, null or an empty array: what a
// role without applications or run_as sends, if anything.
func emptyList(raw json.RawMessage) bool {
	m := bytes.TrimSpace(raw)
	if len(m) == 0 || string(m) == "null" {
		return true
	}
	var list []json.RawMessage
	return json.Unmarshal(m, &list) == nil && len(list) == 0
}

func (g *Gateway) putRole(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	if err := validName("role", name); err != nil {
		return err
	}
	if policy.IsBuiltinRole(name) {
		return validationError("Role [" + name + "] is reserved and may not be used.")
	}
	var req roleRequest
	if err := g.decodeBody(ctx, &req); err != nil {
		return err
	}
	if !emptyList(req.Applications) {
		return badRequest("field [applications] is not supported: Portcullis has no application privileges")
	}
	if !emptyList(req.RunAs) {
		return badRequest("field [run_as] is not supported: Portcullis does not run requests as another user")
	}
	if m := bytes.TrimSpace(req.Metadata); len(m) > 0 {
		switch {
		case string(m) == "null":
			req.Metadata = nil
		case m[0] != '{':
			return badRequest("field [metadata] must be an object")
		}
	}
	put := events.RolePut{Name: name, Cluster: req.Cluster, Indices: make([]events.IndexPrivileges, len(req.Indices)), Metadata: req.Metadata}
	if put.Cluster == nil {
		put.Cluster = []string{}
	}
	pr := policy.Role{Name: name, Cluster: put.Cluster, Indices: make([]policy.IndexPrivileges, len(req.Indices))}
	for i, ip := range req.Indices {
		put.Indices[i] = events.IndexPrivileges{Names: ip.Names, Privileges: ip.Privileges, AllowRestrictedIndices: ip.AllowRestrictedIndices}
		pr.Indices[i] = policy.IndexPrivileges{Names: ip.Names, Privileges: ip.Privileges, AllowRestrictedIndices: ip.AllowRestrictedIndices}
	}
	if err := policy.ValidateRole(pr); err != nil {
		return validationError(strings.TrimPrefix(err.Error(), policy.ErrInvalidRole.Error()+": "))
	}

	model := g.cfg.Projection.Model()
	subject := events.StateSubject(events.AggregateRole, name)
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)} // before the aggregate, as in createAccount
	_, exists := model.Role(name)
	ev, err := events.New(g.cfg.NodeID, events.TypeRolePut, name, now, put)
	if err != nil {
		return err
	}
	err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
	if errors.Is(err, events.ErrConflict) {
		return conflict("role [" + name + "] was changed concurrently; retry")
	}
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"role": map[string]bool{"created": !exists}})
}

// roleView is a role as Elasticsearch's get role API shows it.
type roleView struct {
	Cluster           []string        `json:"cluster"`
	Indices           []indexView     `json:"indices"`
	Applications      json.RawMessage `json:"applications"`
	RunAs             []string        `json:"run_as"`
	Metadata          json.RawMessage `json:"metadata"`
	TransientMetadata map[string]bool `json:"transient_metadata"`
}

type indexView struct {
	Names                  []string `json:"names"`
	Privileges             []string `json:"privileges"`
	AllowRestrictedIndices bool     `json:"allow_restricted_indices"`
}

func roleViewOf(r *projector.Role) roleView {
	v := roleView{Cluster: r.Cluster, Indices: make([]indexView, len(r.Indices)), Applications: json.RawMessage(`[]`),
		RunAs: []string{}, Metadata: r.Metadata, TransientMetadata: map[string]bool{"enabled": true}}
	if v.Cluster == nil {
		v.Cluster = []string{}
	}
	for i, ip := range r.Indices {
		v.Indices[i] = indexView{Names: nonNil(ip.Names), Privileges: nonNil(ip.Privileges), AllowRestrictedIndices: ip.AllowRestrictedIndices}
	}
	if len(v.Metadata) == 0 {
		v.Metadata = json.RawMessage(`{}`)
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// superuserView is the built-in superuser as Elasticsearch shows it. The
// policy grants its holder every request (rule "superuser").
var superuserView = roleView{
	Cluster: []string{"all"},
	Indices: []indexView{
		{Names: []string{"*"}, Privileges: []string{"all"}, AllowRestrictedIndices: false},
		{Names: []string{"*"}, Privileges: []string{"monitor", "read", "view_index_metadata", "read_cross_cluster"}, AllowRestrictedIndices: true},
	},
	Applications:      json.RawMessage(`[{"application":"*","privileges":["*"],"resources":["*"]}]`),
	RunAs:             []string{"*"},
	Metadata:          json.RawMessage(`{"_reserved":true}`),
	TransientMetadata: map[string]bool{"enabled": true},
}

// getRoles is GET /_security/role[/<a,b>]: the named roles, or all of them
// with the built-in superuser; 404 {} when none of the names exists.
func (g *Gateway) getRoles(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, names string) error {
	model := g.cfg.Projection.Model()
	out := map[string]roleView{}
	if names == "" {
		out["superuser"] = superuserView
		for _, role := range model.Roles() {
			out[role.Name] = roleViewOf(role)
		}
		return writeOK(ctx, out)
	}
	for _, n := range strings.Split(names, ",") {
		if n == "superuser" {
			out[n] = superuserView
		} else if role, ok := model.Role(n); ok {
			out[n] = roleViewOf(role)
		}
	}
	return writeFound(ctx, out)
}

// deleteRole is DELETE /_security/role/<name>: {"found": true}, or 404
// {"found": false} when there is no such role.
func (g *Gateway) deleteRole(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, name string) error {
	if policy.IsBuiltinRole(name) {
		return badRequest("role [" + name + "] is reserved and cannot be deleted")
	}
	model := g.cfg.Projection.Model()
	subject := events.StateSubject(events.AggregateRole, name)
	expect := &events.Expect{LastSubjectSeq: model.SubjectSeq(subject)} // before the aggregate
	if _, ok := model.Role(name); !ok {
		writeJSON(ctx, fasthttp.StatusNotFound, []byte(`{"found":false}`))
		return nil
	}
	ev, err := events.New(g.cfg.NodeID, events.TypeRoleDeleted, name, now, events.RoleDeleted{Name: name})
	if err != nil {
		return err
	}
	err = g.appendAndWait(ctx, events.StreamState, subject, ev, expect)
	if errors.Is(err, events.ErrConflict) {
		return conflict("role [" + name + "] was changed concurrently; retry")
	}
	if err != nil {
		return err
	}
	return writeOK(ctx, map[string]any{"found": true})
}
