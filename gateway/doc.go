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
// change it makes is an event appended to JetStream. That includes who
// created each scroll, point-in-time and async search id (contexts.go):
// Elasticsearch behind the gateway sees one identity and would honour any
// id from anyone, so the gateway binds every id an answer carries to the
// user who asked, by a portcullis.context.opened.v1 event with the id's
// SHA-256, before the answer leaves; a request presenting an id that is
// not the caller's gets Elasticsearch's answer for a context that does not
// exist. Events rather than ids signed by the gateway, because the log is
// already how replicas agree (read-your-writes on the binding replica, a
// bounded catch-up on the others), ids reach clients unchanged, and no key
// has to be shared between replicas.
package gateway
