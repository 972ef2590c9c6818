// Package searchctx reads Elasticsearch's search context ids and the
// answers that carry them, for the gateway that binds each id to the user
// who created it (Elasticsearch does that itself only with security on;
// behind the gateway it sees one service identity).
//
// It owns four pure pieces, each a parser of untrusted input with a fuzz
// test:
//
//   - ParseScroll and ParsePIT decode a scroll id and a point-in-time id
//     (base64url of Elasticsearch's stream format) into the shard contexts
//     they name, as TransportSearchHelper.parseScrollId and
//     SearchContextId.decode read them;
//   - FindString finds a top-level string member ("_scroll_id", "id",
//     "pit_id") in the beginning of a JSON answer, without reading the
//     rest (hits may follow: megabytes);
//   - ParseKeepAlive reads a keep-alive in Elasticsearch's time units;
//   - the Missing… functions write the answers Elasticsearch gives for a
//     context that does not exist, which is what the gateway answers for
//     one that is not the caller's: the caller learns nothing of a context
//     it may not use.
//
// It must never be used to authorize from an id's content: a decoded id
// names the shards of a context, never who may use it.
package searchctx
