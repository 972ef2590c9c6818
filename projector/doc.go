// Package projector folds the STATE and TOKENS streams into the in-memory
// read model every gateway replica serves from: accounts, constraints,
// roles, API keys, login tokens and search context bindings (which user
// created a scroll, point-in-time or async search id).
//
// It is built in three layers, pure to impure:
//
//   - Folds (FoldAccount, FoldConstraint, FoldRole, FoldAPIKey, FoldToken,
//     FoldContext) compute the next value
//     of one aggregate from its current value and one event. They do no I/O
//     and read no clock. An event that does not fit the state returns
//     ErrInconsistent, one that cannot be decoded ErrMalformed; either way
//     the state is unchanged and the caller logs and skips it. Unknown event
//     types are skipped silently: the log may hold types newer than this
//     code.
//   - Model holds the folded state for readers. Account and ResolveToken run
//     on every request: they take no lock shared by all requests (the maps
//     are split in 64 shards, each with its own RWMutex) and allocate
//     nothing. Values handed out (*Account, *Token, *Role, Constraint) are
//     immutable and shared: a change replaces the pointer, it never writes
//     through it, so callers must not modify them either.
//   - Projector is the NATS edge: it starts the model from the latest
//     snapshot, if one fits the streams (snapshot.go, snapshotter.go),
//     reads the backlog of both streams with a pull consumer of its own
//     (catchup.go) and then follows them with ordered consumers, applies
//     each event with its stream sequence, sweeps expired and revoked
//     tokens and the API keys whose retention has passed
//     (Config.APIKeyRetention), writes a snapshot now and then, and lets
//     commands wait until
//     their own event is applied (read-your-writes) and requests wait,
//     briefly, for events another replica just published.
//
// Context bindings are bounded (Config.MaxContexts, in all and per owner)
// and expire. Unlike tokens they are not swept by the clock: each opened
// event first drops the bindings that expired before its own time, so the
// bindings a replica holds depend on the log alone and every replica
// agrees on them, limits included; a reader treats a binding past its
// expiry as absent.
//
// Tokens never carry roles. A token names the account incarnation (UID) and
// the credential epoch it was issued for; roles are read from the account at
// request time. So a role change applies to existing tokens at once, while a
// password change (the epoch moves) or a deletion (the UID goes, and a
// re-created account gets a new one) leaves them unresolvable, on every
// replica, as soon as the event is applied.
//
// # Concurrency
//
// A Model has one writer at a time (Apply, Sweep) and any number of
// readers. The writer reads the maps without locks (nobody else writes
// them) and takes a shard's write lock only to store; no Model method
// holds two of its locks at once.
//
// In a Projector the writer is whoever holds the apply lock: the handler of
// either stream's consumer (on the NATS client's goroutines), Run's
// goroutine sweeping one shard, or a snapshot copying a part of the model.
// Lock order: Projector.snapMu, then reader.mu, then Projector.applyMu,
// then the Model's locks or Projector.notifyMu. Nothing that holds the
// apply lock waits for I/O, except OnChange if it does.
//
// # What this package must never do
//
// It never holds a secret: passwords arrive as hashes, tokens as SHA-256
// digests, and a snapshot holds nothing else. It never logs a password hash
// or a token hash, never writes to an event stream (only snapshots, to
// their own bucket), and never blocks a reader on I/O.
package projector
