// Package events owns the vocabulary of Portcullis: the CloudEvents envelope,
// the versioned event types with their payloads, the JetStream streams and
// the subjects they are published on.
//
// The state of the system is the event log, so what this package defines is a
// format that must never change incompatibly: a new meaning gets a new type
// version (portcullis.account.created.v2), never a changed payload. A
// message holds one event, except on the AUTH stream, where the Emitter
// packs several outcomes of one action into a message, one per line
// (SplitEvents reads them).
//
// This package must never carry a secret. Passwords travel as argon2id
// hashes, tokens and API key secrets as SHA-256 digests; the constructors in
// this package take the hashes, not the secrets.
package events
