package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/valyala/fasthttp"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/policy"
)

// endpoint is a management API: the action name it is audited and
// authorized as, the cluster privilege it needs, and its handler.
type endpoint struct {
	action    string
	privilege string
	handle    func(g *Gateway, ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, arg string) error
	arg       string
	// self: the request needs no privilege when arg names the user making
	// it (changing one's own password), or at all when arg is empty.
	self bool
}

const privManageSecurity = "manage_security"

const constraintPrefix = "/security/constraint/"

// route returns the management endpoint of method and canonical path, or nil
// for a content request. Management requests are authorized by cluster
// privilege only; constraints never grant them.
func route(method, path string) *endpoint {
	switch path {
	case "/_auth/account":
		switch method {
		case fasthttp.MethodPut:
			return &endpoint{action: "cluster:admin/xpack/security/user/put", privilege: privManageSecurity, handle: (*Gateway).createAccount}
		case fasthttp.MethodPost:
			return &endpoint{action: "cluster:admin/xpack/security/user/put", privilege: privManageSecurity, handle: (*Gateway).updateAccount}
		case fasthttp.MethodDelete:
			return &endpoint{action: "cluster:admin/xpack/security/user/delete", privilege: privManageSecurity, handle: (*Gateway).deleteAccount}
		}
		return &endpoint{action: "cluster:admin/portcullis/account", privilege: privManageSecurity, handle: methodNotAllowed}
	case "/_auth/reload":
		if method == fasthttp.MethodPost {
			return &endpoint{action: "cluster:admin/portcullis/policy/reload", privilege: privManageSecurity, handle: (*Gateway).reload}
		}
		return &endpoint{action: "cluster:admin/portcullis/policy/reload", privilege: privManageSecurity, handle: methodNotAllowed}
	case "/security/constraint":
		switch method {
		case fasthttp.MethodPost, fasthttp.MethodPut:
			return &endpoint{action: "cluster:admin/portcullis/constraint/put", privilege: privManageSecurity, handle: (*Gateway).createConstraint}
		case fasthttp.MethodGet:
			return &endpoint{action: "cluster:admin/portcullis/constraint/get", privilege: privManageSecurity, handle: (*Gateway).listConstraints}
		}
		return &endpoint{action: "cluster:admin/portcullis/constraint", privilege: privManageSecurity, handle: methodNotAllowed}
	}
	if strings.HasPrefix(path, "/_security/") {
		return securityRoute(method, path)
	}
	if id, ok := strings.CutPrefix(path, constraintPrefix); ok && !strings.Contains(id, "/") {
		switch {
		case id == "_policy" && method == fasthttp.MethodGet:
			return &endpoint{action: "cluster:admin/portcullis/policy/get", privilege: privManageSecurity, handle: (*Gateway).showPolicy}
		case method == fasthttp.MethodGet:
			return &endpoint{action: "cluster:admin/portcullis/constraint/get", privilege: privManageSecurity, handle: (*Gateway).getConstraint, arg: id}
		case method == fasthttp.MethodDelete:
			return &endpoint{action: "cluster:admin/portcullis/constraint/delete", privilege: privManageSecurity, handle: (*Gateway).deleteConstraint, arg: id}
		}
		return &endpoint{action: "cluster:admin/portcullis/constraint", privilege: privManageSecurity, handle: methodNotAllowed}
	}
	return nil
}

func methodNotAllowed(_ *Gateway, ctx *fasthttp.RequestCtx, _ time.Time, r *request, _ *principal, _ string) error {
	return &clientError{status: fasthttp.StatusMethodNotAllowed, typ: "illegal_argument_exception",
		reason: "Incorrect HTTP method for uri [" + r.path + "] and method [" + r.method + "]"}
}

// manage authorizes a management request by privilege and runs it.
func (g *Gateway) manage(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, ep *endpoint) {
	privilege := ep.privilege
	if ep.self && !p.anonymous && (ep.arg == "" || ep.arg == p.name) {
		privilege = ""
	}
	if p.apiKeyID != "" && privilege == "" && ep.action != actionAuthenticate {
		// An API key acts for its owner only within its privileges: it
		// may ask who it is, not change its owner's password by itself.
		privilege = privManageSecurity
	}
	in := &policy.Input{
		User: p.policyUser(),
		Request: policy.Request{Method: r.method, Path: r.path, Kind: policy.KindManagement, Privilege: privilege,
			Action: ep.action, RequestID: r.requestID, SourceIP: r.sourceIP, Query: r.query},
	}
	if !g.authorize(ctx, now, r, p, in, nil) {
		return
	}
	if err := ep.handle(g, ctx, now, r, p, ep.arg); err != nil {
		var ce *clientError
		if !errors.As(err, &ce) {
			g.cfg.Logger.ErrorContext(ctx, "management_request_failed", "action", ep.action, "request_id", r.requestID, "error", err)
		}
		writeError(ctx, err)
		return
	}
	if ctx.Response.StatusCode() < 300 && r.method != fasthttp.MethodGet {
		o := p.outcome(r)
		o.Action, o.Outcome, o.ESAction = events.ActionSecurityConfigChange, "success", ep.action
		g.record(ctx, now, r, o)
	}
}

// readBody reads a management request's JSON body, bounded.
func (g *Gateway) readBody(ctx *fasthttp.RequestCtx) ([]byte, error) {
	return readBodyLimit(ctx, g.cfg.MaxManagementBody)
}

// decodeBody reads a management request's body and decodes it strictly
// into v.
func (g *Gateway) decodeBody(ctx *fasthttp.RequestCtx, v any) error {
	body, err := g.readBody(ctx)
	if err != nil {
		return err
	}
	return decodeStrict(body, v)
}

// maxLoginBody bounds the unauthenticated /login body: a user name and a
// password.
const maxLoginBody = 16 << 10

// readBodyLimit reads a request body of at most limit bytes.
func readBodyLimit(ctx *fasthttp.RequestCtx, limit int) ([]byte, error) {
	var body []byte
	if s := ctx.RequestBodyStream(); s != nil {
		var b []byte
		var err error
		if n := ctx.Request.Header.ContentLength(); n >= 0 && n <= limit && n <= exactBodyMax {
			// A small body of known length: one buffer of that size (a
			// body that is not as long as announced is a read error).
			b, err = readExactly(s, n)
		} else {
			b, err = io.ReadAll(io.LimitReader(s, int64(limit)+1))
		}
		if err != nil {
			return nil, badRequest("cannot read the request body")
		}
		body = b
	} else {
		body = ctx.PostBody()
	}
	if len(body) > limit {
		return nil, &clientError{status: fasthttp.StatusRequestEntityTooLarge, typ: "illegal_argument_exception",
			reason: fmt.Sprintf("request body is larger than %d bytes", limit)}
	}
	return body, nil
}

// exactBodyMax is the largest announced body length readBodyLimit
// allocates at once; a longer body grows its buffer as it arrives, so that
// a Content-Length alone cannot make the gateway allocate.
const exactBodyMax = 64 << 10

// readExactly reads a body of n bytes from s, which must end there.
func readExactly(s io.Reader, n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s, b); err != nil {
		return nil, err
	}
	var extra [1]byte
	k, err := s.Read(extra[:])
	if k > 0 {
		return nil, errors.New("request body longer than its Content-Length")
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

// decodeStrict decodes a JSON object into v: unknown fields, duplicate keys,
// trailing data and a body that is not an object are refused with a reason
// the client can act on.
func decodeStrict(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return badRequest("request body is required")
	}
	if !utf8.Valid(body) {
		return badRequest("request body is not valid UTF-8")
	}
	if err := checkDuplicateKeys(body); err != nil {
		return badRequest("failed to parse request body: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("failed to parse request body: " + jsonReason(err))
	}
	if dec.More() {
		return badRequest("failed to parse request body: unexpected data after the JSON object")
	}
	return nil
}

// jsonReason words a decoding error for the client without echoing values.
func jsonReason(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Sprintf("field [%s] must be of type %s", te.Field, jsonType(te.Type.Kind().String()))
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("malformed JSON at offset %d", se.Offset)
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "unknown field [" + strings.Trim(f, `"`) + "]"
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of JSON"
	}
	return "malformed JSON"
}

func jsonType(kind string) string {
	switch kind {
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	}
	return kind
}

// checkDuplicateKeys refuses objects that name a key twice, as
// Elasticsearch's parser does (encoding/json would keep the last silently).
func checkDuplicateKeys(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var walk func(depth int) error
	walk = func(depth int) error {
		if depth > maxJSONDepth {
			return fmt.Errorf("nested deeper than %d levels", maxJSONDepth)
		}
		tok, err := dec.Token()
		if err != nil {
			return errors.New(jsonReason(err))
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return errors.New(jsonReason(err))
				}
				k, _ := kt.(string)
				if seen[k] {
					return fmt.Errorf("duplicate field [%s]", k)
				}
				seen[k] = true
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			if err != nil {
				return errors.New(jsonReason(err))
			}
		case json.Delim('['):
			for dec.More() {
				if err := walk(depth + 1); err != nil {
					return err
				}
			}
			_, err = dec.Token()
			if err != nil {
				return errors.New(jsonReason(err))
			}
		}
		return nil
	}
	return walk(0)
}

// maxJSONDepth bounds the nesting of management bodies, which no legitimate
// one comes near.
const maxJSONDepth = 32

// writeOK answers 200 with v as JSON. Like Elasticsearch's REST layer it
// sends X-Elastic-Product: Elasticsearch, which Elastic's clients check on
// their first 2xx (a client whose first call is a security API talks to
// the gateway alone).
func writeOK(ctx *fasthttp.RequestCtx, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode answer: %w", err)
	}
	ctx.Response.Header.Set("X-Elastic-Product", "Elasticsearch")
	writeJSON(ctx, fasthttp.StatusOK, b)
	return nil
}

// writeFound answers the entities a get API found by name, or 404 {} when
// it found none, as Elasticsearch's user and role APIs do.
func writeFound[V any](ctx *fasthttp.RequestCtx, out map[string]V) error {
	if len(out) == 0 {
		writeJSON(ctx, fasthttp.StatusNotFound, []byte(`{}`))
		return nil
	}
	return writeOK(ctx, out)
}

// appendAndWait appends ev and waits until this replica's projection has
// applied it (read-your-writes): when the answer leaves, the change is
// visible here, and on every other replica as soon as it has caught up.
func (g *Gateway) appendAndWait(ctx context.Context, stream, subject string, ev events.Event, expect *events.Expect) error {
	// Not cancelled by the server's shutdown: an append that went out is
	// waited for, so that its answer is the truth.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	seq, err := g.cfg.Log.Append(wctx, subject, ev, expect)
	if err != nil {
		return err
	}
	if err := g.cfg.Projection.WaitFor(wctx, stream, seq); err != nil {
		return fmt.Errorf("wait for projection of %s: %w", ev.Type, err)
	}
	return nil
}

func (g *Gateway) reload(ctx *fasthttp.RequestCtx, now time.Time, r *request, p *principal, _ string) error {
	if err := g.cfg.Policy.Reload(ctx); err != nil {
		g.cfg.Logger.ErrorContext(ctx, "policy_reload_failed", "error", err)
		return badRequest("policy reload failed, the previous policy stays in force: " + err.Error())
	}
	return writeOK(ctx, map[string]any{"status": 200, "acknowledged": true, "revision": g.cfg.Policy.Revision()})
}
