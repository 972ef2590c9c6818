// Package auditor owns the audit trail in Elasticsearch: it consumes the
// auth outcomes of the PORTCULLIS_AUTH stream with a durable JetStream pull
// consumer and writes each audited one as exactly one document into the
// daily index .security-audit-YYYY.MM.DD (by event time), behind an index
// template it installs, so that Kibana and the query of Elasticsearch's own
// audit documentation find the records as written:
//
//	GET /.security-audit-*/_search
//	{"query":{"bool":{"must":[{"term":{"event.action":"authentication_failed"}},
//	                          {"range":{"@timestamp":{"gte":"now-1h"}}}]}}}
//
// Documents carry Elasticsearch's audit field names (user.name, user.realm,
// origin.address, url.path, request.method, realm, action, indices, ...) and
// the ECS fields Kibana users expect (@timestamp, event.*, source.ip,
// http.*). Document, IndexName and Template are pure; Auditor is the edge
// that talks to NATS and Elasticsearch.
//
// Exactly once. The document _id is the event id and documents are written
// with the bulk "create" operation, so a redelivered event can never produce
// a second document: Elasticsearch answers 409 for it, which counts as
// written. A message (one event, or several of one action packed one per
// line by the gateway's emitter: events.SplitEvents) is acknowledged only
// after Elasticsearch confirmed the items of all its events, or the
// dead-letter stream the records of those it could not take; if any is to
// be retried the whole message is redelivered, and its events already
// written meet 409. Until then it stays in the stream, and an outage or a
// crash only delays it (the consumer has no MaxDeliver limit).
//
// Throughput. Acknowledgements stay explicit, one per message: the
// consumer's AckAll policy would let one auditor's acknowledgement cover
// messages another auditor sharing the durable has not written yet. What
// makes the auditor fast is elsewhere: messages are decoded in one pass
// straight into the structs (decode.go; encoding/json for anything not
// shaped as the gateway writes it) and documents written by hand
// (appendDocument), both held to their encoding/json references by
// differential fuzz tests; bulk requests as large as a plain
// esutil.BulkIndexer's, filled in turn so that Elasticsearch always has one
// to work on (bulk.go); no allocation per event beyond what NATS makes.
// bench/audit measures it against a raw BulkIndexer loop (make
// bench-audit).
//
// What this package must never do:
//   - acknowledge a message before Elasticsearch confirmed its document (or
//     the dead-letter stream confirmed its record): that is the only way to
//     lose an audit record;
//   - log or index a secret. Auth outcomes carry none (events guarantees it);
//     this package adds none, logs event ids rather than payloads, and
//     redacts a token query parameter should one ever reach it.
//   - crash or stall on a bad message: an event that cannot be decoded or
//     indexed for good goes to the dead-letter subject with its reason (the
//     other events of its message are written).
package auditor
