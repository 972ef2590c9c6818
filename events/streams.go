package events

import (
	"encoding/base64"
	"strings"
	"time"
)

// Stream names and subject spaces (DESIGN.md, "Events").
const (
	StreamState  = "PORTCULLIS_STATE"
	StreamTokens = "PORTCULLIS_TOKENS"
	StreamAuth   = "PORTCULLIS_AUTH"

	SubjectState  = "portcullis.state.>"
	SubjectTokens = "portcullis.token.>"
	SubjectAuth   = "portcullis.auth.>"

	// BucketSnapshots is the object store bucket of the projector's
	// snapshots of the read model: a summary of STATE and TOKENS that a
	// replica starts from instead of replaying them whole. It holds what
	// the streams hold (hashes, never a secret) and can be deleted at any
	// time: the next start replays the streams.
	BucketSnapshots = "PORTCULLIS_SNAPSHOTS"
)

// Aggregate kinds, the third token of a state subject.
const (
	AggregateAccount    = "account"
	AggregateConstraint = "constraint"
	AggregateRole       = "role"
	AggregateAPIKey     = "apikey"
)

// SubjectToken encodes an id for use as one subject token. A username may
// contain '.', '*', '>' or whitespace, none of which a subject token may
// hold; unpadded base64url has none of them and is reversible.
func SubjectToken(id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(id))
}

// ParseSubjectToken reverses SubjectToken.
func ParseSubjectToken(tok string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return string(b), err
}

// StateSubject is the subject of one aggregate on the STATE stream, e.g.
// portcullis.state.account.<SubjectToken(username)>. One subject per
// aggregate is what makes optimistic concurrency possible: a write carries
// Nats-Expected-Last-Subject-Sequence for its aggregate's subject.
func StateSubject(aggregate, id string) string {
	return "portcullis.state." + aggregate + "." + SubjectToken(id)
}

// ParseStateSubject splits a state subject into aggregate kind and id.
func ParseStateSubject(subject string) (aggregate, id string, ok bool) {
	rest, found := strings.CutPrefix(subject, "portcullis.state.")
	if !found {
		return "", "", false
	}
	agg, tok, found := strings.Cut(rest, ".")
	if !found {
		return "", "", false
	}
	id, err := ParseSubjectToken(tok)
	if err != nil {
		return "", "", false
	}
	return agg, id, true
}

// TokensSubject is the subject of an event of type eventType on the TOKENS
// stream: one subject per kind of event (portcullis.token.issued,
// portcullis.token.revoked, portcullis.token.context.opened,
// portcullis.token.context.closed), never one per token. Nothing reads a
// token's events by subject (no write on TOKENS expects a last subject
// sequence), while every distinct subject costs the NATS server an entry
// in its per-subject index, kept in memory and rebuilt when it recovers
// the stream: with a subject per token, 1M tokens made it take ~0.4 s to
// start (BENCHMARKS.md, Cold start). The token's hash is the event's
// CloudEvents subject and its data.
func TokensSubject(eventType string) string {
	verb := strings.TrimSuffix(strings.TrimPrefix(eventType, "portcullis."), ".v1")
	verb = strings.TrimPrefix(verb, "token.")
	return "portcullis.token." + verb
}

// AuthSubject is the subject of an auth outcome, portcullis.auth.<action>.
func AuthSubject(action string) string { return "portcullis.auth." + action }

// AuthDuplicateWindow is the AUTH stream's duplicate window (Nats-Msg-Id =
// event id): short, as outcomes are many and their retries prompt.
const AuthDuplicateWindow = 10 * time.Second

// TokenStreamMaxAge is how long the TOKENS stream keeps an event: the
// longest token TTL plus a margin for clock skew, so that an expired token's
// events leave the log by themselves and a revocation outlives its token.
func TokenStreamMaxAge(tokenTTL time.Duration) time.Duration {
	return tokenTTL + time.Hour
}
