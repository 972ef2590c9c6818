// Package gateway owns the HTTP edge of Portcullis: a fasthttp server that
// authenticates every request through the realm chain, authorizes it with
// the policy over the projected state, serves the management APIs (accounts,
// constraints, login and logout, reload, health) and proxies what is allowed
// to Elasticsearch.
//
// Invariants:
//   - one canonical parse of the request: the path the policy checked is the
//     path forwarded (package canon);
//   - credentials the gateway consumed (Authorization, the token parameter,
//     the eaid cookie) are never forwarded, logged or published;
//   - a request the gateway cannot authenticate, decide or record is denied;
//   - nothing here holds a *fasthttp.RequestCtx or a Peek'ed slice after the
//     handler returns: what outlives it is copied.
//
// The gateway holds no state of its own: it reads the projection, and every
// change it makes is an event appended to JetStream.
package gateway
