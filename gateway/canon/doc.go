// Package canon owns the parsing of the untrusted parts of a request that
// authorization depends on: the request path, the query parameters the gateway
// consumes (the login token), and the credentials in the Authorization header.
//
// The invariant this package exists for: the path the policy checks is exactly
// the path forwarded upstream. [Path] returns one canonical form of a raw
// request path; the gateway hands that same string to the policy and writes
// those same bytes to Elasticsearch. There is never a second decoding step in
// between, so no encoding trick can make the policy see one path and
// Elasticsearch act on another.
//
// How Path relates to Elasticsearch's own URL parsing (PathTrie, RestUtils):
// Elasticsearch splits the raw path on '/' first, matches route literals
// against the raw token and percent-decodes parameter tokens once, with '+'
// kept as '+'. Path splits first and decodes each segment exactly once too,
// then writes every segment back in a form that Elasticsearch decodes to the
// same bytes:
//
//   - the literal bytes are the RFC 3986 pchar set minus '+' and ';':
//     A-Z a-z 0-9 - . _ ~ ! $ & ' ( ) * , : = @. Elasticsearch's decoder
//     leaves each of them unchanged;
//   - every other byte, including '/', '\', '%', '?', '#', '+', ';', space
//     and every byte of a non-ASCII character, becomes %XX (upper-case hex),
//     which Elasticsearch decodes to exactly that byte. '+' is encoded because
//     the es.rest.url_plus_as_space JVM option would otherwise turn it into a
//     space; ';' because some HTTP stacks treat it as a path-parameter
//     delimiter. Non-ASCII is encoded because Elasticsearch reads raw
//     non-ASCII bytes of a segment without '%' as Latin-1.
//
// Every route literal of the Elasticsearch REST API consists of [a-z0-9_]
// only, and those bytes are written literally, so for a canonical path the
// raw token equals a route literal exactly when the decoded segment does: a
// classifier may match routes on the decoded [Segments].
//
// Path is stricter than Elasticsearch where Elasticsearch is lenient or
// ambiguous: '%%' and other malformed escapes, control characters and
// invalid UTF-8 are rejected rather than decoded leniently, and dot segments
// are resolved (also when percent-encoded) instead of being passed on as
// index names.
//
// What it must never do: I/O, depend on fasthttp (it takes []byte and
// string), decode anything twice, or put any part of its input into an
// error. Errors are fixed values from errors.go whose messages can be
// returned in a 400 body, so a password, token or API key secret can never
// reach a log or a client through them. On the hot path Path allocates only
// its result, and TakeParam nothing when the parameter is absent.
//
// For the gateway: feed Path with fasthttp's URI.PathOriginal (URI.Path is
// decoded before it is split, %2F included), and forward with
// DisablePathNormalizing set and the raw query string (never QueryArgs,
// which re-encodes), so that the canonical bytes reach Elasticsearch
// unchanged.
package canon
