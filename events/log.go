package events

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamsConfig sizes the three streams. The zero value of each field means
// its documented default.
type StreamsConfig struct {
	// Replicas of every stream. Default 1 (embedded server); 3 in a cluster.
	Replicas int
	// TokenTTL is the longest login token lifetime; the TOKENS stream keeps
	// events for TokenStreamMaxAge(TokenTTL). Default 24h.
	TokenTTL time.Duration
	// AuthMaxAge is how long the AUTH stream keeps outcomes. Default 7 days.
	AuthMaxAge time.Duration
	// AuthMaxBytes bounds the AUTH stream's size. Default 1 GiB.
	AuthMaxBytes int64
}

func (c StreamsConfig) withDefaults() StreamsConfig {
	if c.Replicas <= 0 {
		c.Replicas = 1
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = 24 * time.Hour
	}
	if c.AuthMaxAge <= 0 {
		c.AuthMaxAge = 7 * 24 * time.Hour
	}
	if c.AuthMaxBytes <= 0 {
		c.AuthMaxBytes = 1 << 30
	}
	return c
}

// StreamConfigs returns the JetStream configuration of the STATE, TOKENS and
// AUTH streams.
func StreamConfigs(c StreamsConfig) []jetstream.StreamConfig {
	c = c.withDefaults()
	return []jetstream.StreamConfig{
		{
			Name:        StreamState,
			Description: "Portcullis state: accounts, roles, constraints, API keys. Append-only, kept forever.",
			Subjects:    []string{SubjectState},
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Retention:   jetstream.LimitsPolicy,
			DenyDelete:  true,
			DenyPurge:   true,
			Duplicates:  2 * time.Minute,
			AllowDirect: true,
		},
		{
			Name:        StreamTokens,
			Description: "Portcullis login tokens issued and revoked (hashes only).",
			Subjects:    []string{SubjectTokens},
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      TokenStreamMaxAge(c.TokenTTL),
			Duplicates:  2 * time.Minute,
			AllowDirect: true,
		},
		{
			Name:        StreamAuth,
			Description: "Portcullis authentication and authorization outcomes.",
			Subjects:    []string{SubjectAuth},
			Storage:     jetstream.FileStorage,
			Replicas:    c.Replicas,
			Retention:   jetstream.LimitsPolicy,
			MaxAge:      c.AuthMaxAge,
			MaxBytes:    c.AuthMaxBytes,
			Discard:     jetstream.DiscardOld,
			// The emitter's retries of one outcome come within seconds; a
			// longer window only grows the server's duplicate table, one
			// entry per outcome (at 16k requests/s, 2 minutes is about 2M
			// entries: the live heap grew 25 → 91 MB in 36 s, and the garbage
			// collector's work on it made the latency tail). A retry later
			// than this is stored twice with the same event id, which the
			// auditor writes once (_id) and subscribers can drop.
			Duplicates: AuthDuplicateWindow,
		},
	}
}

// EnsureStreams creates the streams, or updates them to the configuration
// (idempotent: every replica calls it at start).
func EnsureStreams(ctx context.Context, js jetstream.JetStream, c StreamsConfig) error {
	for _, sc := range StreamConfigs(c) {
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	return nil
}

// SnapshotsConfig returns the JetStream configuration of the snapshot
// bucket: file storage, replicated as the streams.
func SnapshotsConfig(c StreamsConfig) jetstream.ObjectStoreConfig {
	c = c.withDefaults()
	return jetstream.ObjectStoreConfig{
		Bucket:      BucketSnapshots,
		Description: "Portcullis snapshots of the read model (hashes only); safe to delete.",
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
	}
}

// EnsureSnapshots creates the snapshot bucket, or updates it to the
// configuration, and returns it (idempotent, as EnsureStreams).
func EnsureSnapshots(ctx context.Context, js jetstream.JetStream, c StreamsConfig) (jetstream.ObjectStore, error) {
	store, err := js.CreateOrUpdateObjectStore(ctx, SnapshotsConfig(c))
	if err != nil {
		return nil, fmt.Errorf("ensure bucket %s: %w", BucketSnapshots, err)
	}
	return store, nil
}

// Expect is the optimistic-concurrency condition of an append: the stream
// sequence of the last event on the aggregate's subject, 0 for "no event
// yet".
type Expect struct {
	LastSubjectSeq uint64
}

// Append publishes ev on subject and waits for the stream's acknowledgement,
// returning the event's stream sequence. With expect set, the append
// succeeds only if the subject's last sequence is still the one the caller
// decided on; otherwise it fails with ErrConflict. The event id is the
// Nats-Msg-Id, so a retried append is stored once.
func Append(ctx context.Context, js jetstream.JetStream, subject string, ev Event, expect *Expect) (uint64, error) {
	b, err := ev.Encode()
	if err != nil {
		return 0, err
	}
	msg := nats.NewMsg(subject)
	msg.Data = b
	opts := []jetstream.PublishOpt{jetstream.WithMsgID(ev.ID)}
	if expect != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(expect.LastSubjectSeq))
	}
	ack, err := js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		if IsWrongSequence(err) {
			return 0, fmt.Errorf("append %s to %s: %w", ev.Type, subject, ErrConflict)
		}
		return 0, fmt.Errorf("append %s to %s: %w", ev.Type, subject, err)
	}
	return ack.Sequence, nil
}

// IsWrongSequence reports whether err is JetStream's answer to a failed
// expected-last-sequence condition.
func IsWrongSequence(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// Log appends state and token events to JetStream; it is what the gateway's
// management commands write through.
type Log struct {
	JS jetstream.JetStream
}

// Append is the package-level Append bound to l's JetStream context.
func (l Log) Append(ctx context.Context, subject string, ev Event, expect *Expect) (uint64, error) {
	return Append(ctx, l.JS, subject, ev, expect)
}
