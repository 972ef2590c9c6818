// Package classify owns request classification: it maps an Elasticsearch
// REST request (method, canonical path, raw query string, body) to the
// action names Elasticsearch's security would authorize and the index
// expressions each action targets, for the whole REST surface of
// Elasticsearch 8.19 (the reference table es-endpoints-8.19.tsv, copied
// under testdata/). The gateway authorizes those (action, indices) pairs
// against roles; this package decides nothing.
//
// How it follows Elasticsearch:
//   - routes match the canonical path's decoded segments as PathTrie does
//     (literal segments before {param} segments, with backtracking, in
//     RestController's matching-mode order); the first matching path
//     decides, and a method it does not accept is MethodNotAllowed (405 in
//     Elasticsearch). HEAD falls back to the GET route of the same path and
//     is authorized identically;
//   - action names are those of §1.5 of es-security-protocol.md; routes
//     whose API §1.5 does not list carry a name derived from
//     Elasticsearch's conventions and are marked derived in routes.go (and
//     Result.Derived);
//   - composite requests report their top-level action (authorized by name
//     only) and one target per item with the action Elasticsearch
//     authorizes per index: bulk items their implied action
//     (indices:data/write/index:op_type/index|create, update, delete),
//     msearch searches indices:data/read/search, mget/mtermvectors docs
//     the [shard] action; reindex a search on source.index and a write on
//     dest.index; _aliases, create index and resize bodies their alias
//     names;
//   - the body is the HTTP body, else ?source= with source_content_type;
//     query strings split on '&' and ';', last duplicate wins.
//
// Invariants:
//   - it never reads beyond the Request it is given, does no I/O and keeps
//     no state between calls (the route trie is built once at init);
//   - it never panics on input (fuzzed); malformed input is an error
//     wrapping ErrBadRequest with a fixed message that quotes nothing;
//   - JSON is parsed strictly: duplicate keys, comments, invalid UTF-8 and
//     trailing data are errors; keys are compared case-sensitively after
//     unescaping; only JSON and NDJSON content types are read;
//   - an endpoint it does not know is reported Unknown, never guessed, and
//     an endpoint whose targets it cannot see (SQL and ES|QL query text,
//     remote or scripted reindex, profiling) carries a Deny reason: the
//     gateway denies both to all but the superuser.
//
// What it leaves to the gateway: resolving wildcards, aliases and date
// math against cluster metadata, the subset rule for KindAlias and
// KindNewIndex targets, binding scroll/PIT/async ids to their creators
// (Result.ContextIDs, Result.Creates), and decompressing bodies.
package classify
