package gateway

import (
	"encoding/json"
	"errors"

	"github.com/valyala/fasthttp"
)

// Errors returned to clients. Each maps to one Elasticsearch-shaped answer in
// writeError; internal detail (NATS, policy compilation) never reaches a
// client, only the sentinel's text or a reason built for the client.
var (
	errBadGateway = errors.New("upstream unavailable")
	errOverloaded = errors.New("overloaded")
	errInternal   = errors.New("internal error")
)

// wwwAuthenticate are the challenges Elasticsearch 8.15+ sends with a 401
// (es-security-protocol.md §3.1).
var wwwAuthenticate = []string{`Basic realm="security", charset="UTF-8"`, `Bearer realm="security"`, `ApiKey`}

var wwwAuthenticateJSON = func() []byte {
	b, _ := json.Marshal(map[string][]string{"WWW-Authenticate": wwwAuthenticate})
	return b
}()

// clientError is an error with an Elasticsearch exception type and an HTTP
// status; its reason is meant for the client.
type clientError struct {
	status int
	typ    string
	reason string
}

func (e *clientError) Error() string { return e.reason }

func badRequest(reason string) *clientError {
	return &clientError{status: fasthttp.StatusBadRequest, typ: "illegal_argument_exception", reason: reason}
}

func notFound(reason string) *clientError {
	return &clientError{status: fasthttp.StatusNotFound, typ: "resource_not_found_exception", reason: reason}
}

func conflict(reason string) *clientError {
	return &clientError{status: fasthttp.StatusConflict, typ: "version_conflict_engine_exception", reason: reason}
}

// statusOf maps an error to its HTTP answer. Anything unrecognised is a 503
// rather than a 500: every internal failure here is a dependency (NATS, the
// projection) that was not there in time, and a retry may succeed.
func statusOf(err error) *clientError {
	var ce *clientError
	switch {
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, errBadGateway):
		// 502: Elasticsearch could not be reached or did not answer.
		return &clientError{status: fasthttp.StatusBadGateway, typ: "bad_gateway_exception", reason: "elasticsearch is unavailable"}
	case errors.Is(err, errOverloaded):
		return &clientError{status: fasthttp.StatusServiceUnavailable, typ: "es_rejected_execution_exception", reason: "the gateway is overloaded; retry later"}
	default:
		return &clientError{status: fasthttp.StatusServiceUnavailable, typ: "unavailable_exception", reason: "the security gateway could not complete the request; retry later"}
	}
}

// esCause and esError render an ElasticsearchException. Additional is its
// es.additional_unsuccessful_credentials metadata, which Elasticsearch
// renders as a field of the exception (without the "es." prefix).
type esCause struct {
	Type       string          `json:"type"`
	Reason     string          `json:"reason"`
	Additional string          `json:"additional_unsuccessful_credentials,omitempty"`
	Header     json.RawMessage `json:"header,omitempty"`
}

type esError struct {
	RootCause  []esCause       `json:"root_cause"`
	Type       string          `json:"type"`
	Reason     string          `json:"reason"`
	Additional string          `json:"additional_unsuccessful_credentials,omitempty"`
	Header     json.RawMessage `json:"header,omitempty"`
}

type esErrorBody struct {
	Error  esError `json:"error"`
	Status int     `json:"status"`
}

func errorBody(status int, typ, reason string, header json.RawMessage) []byte {
	return errorBodyAdditional(status, typ, reason, "", header)
}

func errorBodyAdditional(status int, typ, reason, additional string, header json.RawMessage) []byte {
	b, _ := json.Marshal(esErrorBody{
		Error: esError{RootCause: []esCause{{Type: typ, Reason: reason, Additional: additional, Header: header}},
			Type: typ, Reason: reason, Additional: additional, Header: header},
		Status: status,
	})
	return b
}

// writeError answers err in Elasticsearch's error shape.
func writeError(ctx *fasthttp.RequestCtx, err error) {
	ce := statusOf(err)
	writeJSON(ctx, ce.status, errorBody(ce.status, ce.typ, ce.reason, nil))
}

// writeUnauthorized answers 401 security_exception with the three
// WWW-Authenticate challenges as headers and in the body, as Elasticsearch
// does (and, like it, without X-Elastic-Product).
func writeUnauthorized(ctx *fasthttp.RequestCtx, reason string) {
	writeUnauthorizedAdditional(ctx, reason, "")
}

// writeUnauthorizedAdditional is writeUnauthorized with Elasticsearch's
// additional_unsuccessful_credentials ("API key: api key is expired").
func writeUnauthorizedAdditional(ctx *fasthttp.RequestCtx, reason, additional string) {
	for _, v := range wwwAuthenticate {
		ctx.Response.Header.Add("WWW-Authenticate", v)
	}
	writeJSON(ctx, fasthttp.StatusUnauthorized, errorBodyAdditional(fasthttp.StatusUnauthorized, "security_exception", reason, additional, wwwAuthenticateJSON))
}

// writeForbidden answers 403 security_exception.
func writeForbidden(ctx *fasthttp.RequestCtx, reason string) {
	writeJSON(ctx, fasthttp.StatusForbidden, errorBody(fasthttp.StatusForbidden, "security_exception", reason, nil))
}

func writeJSON(ctx *fasthttp.RequestCtx, status int, body []byte) {
	ctx.Response.SetStatusCode(status)
	ctx.Response.Header.SetContentType("application/json; charset=UTF-8")
	ctx.Response.SetBody(body)
}
