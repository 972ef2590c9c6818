// Package secret owns the handling of user secrets: password hashing and
// verification (argon2id, PHC string format), login token generation and
// digests, and the keyed fast digest the gateway caches verified Basic
// credentials under.
//
// It must never log, return in an error or otherwise expose a secret, and it
// compares secrets and digests in constant time only.
package secret
