package auditor

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/elastic/go-elasticsearch/v8"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// Defaults of Config.
const (
	DefaultDurable           = "portcullis-auditor"
	DefaultIndexPrefix       = ".security-audit-"
	DefaultDeadLetterSubject = "portcullis.audit.deadletter"
	DefaultBatchSize         = 1000
	DefaultFlushBytes        = 5_000_000
	DefaultFlushIdle         = 20 * time.Millisecond
	DefaultFlushInterval     = time.Second
	DefaultMaxBackoff        = 30 * time.Second
	DefaultWorkers           = 2
	DefaultRequestTimeout    = 30 * time.Second
	DefaultAckWait           = 2 * time.Minute

	// AllActions in Config.Actions audits every action on the stream.
	AllActions = "_all"

	// DeadLetterStream is the stream that keeps the dead-letter subject.
	DeadLetterStream = "PORTCULLIS_AUDIT_DEADLETTER"

	// initialBackoff is the first retry delay after Elasticsearch failed.
	initialBackoff = 250 * time.Millisecond
)

// DefaultActions are the audited actions when Config.Actions is empty: the
// failures and denials Elasticsearch's own audit trail records by default,
// and security configuration changes.
var DefaultActions = []string{
	events.ActionAuthenticationFailed,
	events.ActionAccessDenied,
	events.ActionAnonymousAccessDenied,
	events.ActionTamperedRequest,
	"run_as_denied",
	events.ActionSecurityConfigChange,
}

// Config configures an Auditor. The zero value of every optional field means
// its documented default.
type Config struct {
	// JS is the JetStream context of the AUTH stream. Required.
	JS jetstream.JetStream
	// ES is the Elasticsearch client the documents are written with (the
	// caller builds it from --audit-url and its credentials). Required.
	ES *elasticsearch.Client

	// Durable is the name of the durable pull consumer. Auditor processes
	// that share it share the load; they must agree on Actions, since each
	// sets the consumer's filter when it starts. Default "portcullis-auditor".
	Durable string
	// Actions are the audited outcome actions (portcullis.auth.<action>);
	// "_all" audits everything. Default DefaultActions.
	Actions []string
	// IndexPrefix of the daily indices, IndexPrefix + "YYYY.MM.DD". Default
	// ".security-audit-".
	IndexPrefix string
	// DeadLetterSubject receives the events that can never be indexed, with
	// the reason. The auditor keeps it in the stream PORTCULLIS_AUDIT_DEADLETTER,
	// which it creates. Default "portcullis.audit.deadletter".
	DeadLetterSubject string

	// BatchSize is how many messages are pulled from NATS at once, and how
	// many documents each worker's queue holds. Default 1000.
	BatchSize int
	// FlushBytes is the size of a bulk request: a worker sends its request
	// when the documents it collected reach FlushBytes. The first requests
	// of a burst are smaller (FlushBytes/16, doubling), so that
	// Elasticsearch starts on them sooner. Default 5,000,000
	// (esutil.BulkIndexer's default).
	FlushBytes int
	// FlushIdle: the documents the pull loop handed on are sent when it
	// takes the last message the stream holds (the end of a burst), or
	// when it has had no new message for between one and two FlushIdle,
	// rather than after FlushInterval; at most about once per FlushIdle,
	// so that a trickle of events causes at most one bulk request per
	// FlushIdle. Negative: neither (documents wait for FlushBytes or
	// FlushInterval). Default 20ms.
	FlushIdle time.Duration
	// FlushInterval bounds how long a document waits for its bulk request
	// to fill before it is written anyway. Default 1s.
	FlushInterval time.Duration
	// MaxBackoff caps the delay between retries while Elasticsearch is down
	// or overloaded (429, 5xx); retries start at 250ms and double. Default 30s.
	MaxBackoff time.Duration
	// Workers is the number of bulk requests in flight at once. Default 2.
	Workers int
	// RequestTimeout bounds one bulk request, so that a hung Elasticsearch
	// counts as down rather than blocking the auditor. Default 30s.
	RequestTimeout time.Duration
	// AckWait is how long NATS waits for the acknowledgement of a delivered
	// message before delivering it again (to this or another auditor). It
	// must exceed a batch's worst time in flight; redelivery never
	// duplicates a document, it only costs a 409. Default 2m.
	AckWait time.Duration
}

// withDefaults returns c with every zero optional field set to its default.
func (c Config) withDefaults() Config {
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if len(c.Actions) == 0 {
		c.Actions = DefaultActions
	}
	if c.IndexPrefix == "" {
		c.IndexPrefix = DefaultIndexPrefix
	}
	if c.DeadLetterSubject == "" {
		c.DeadLetterSubject = DefaultDeadLetterSubject
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushBytes <= 0 {
		c.FlushBytes = DefaultFlushBytes
	}
	if c.FlushIdle == 0 {
		c.FlushIdle = DefaultFlushIdle
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	return c
}

// validate reports every problem of a defaulted config at once.
func (c Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidConfig, key, fmt.Sprintf(format, args...)))
	}
	if c.JS == nil {
		bad("JS", "required")
	}
	if c.ES == nil {
		bad("ES", "required")
	}
	if !validToken(c.Durable) {
		bad("Durable", "%q is not a valid consumer name", c.Durable)
	}
	for _, a := range c.Actions {
		if a == AllActions {
			continue
		}
		if !validToken(a) {
			bad("Actions", "%q is not a valid action", a)
		}
	}
	if c.IndexPrefix != strings.ToLower(c.IndexPrefix) || strings.ContainsAny(c.IndexPrefix, `\/*?"<>| ,#:`) ||
		strings.HasPrefix(c.IndexPrefix, "_") || strings.HasPrefix(c.IndexPrefix, "-") || strings.HasPrefix(c.IndexPrefix, "+") {
		bad("IndexPrefix", "%q cannot start an Elasticsearch index name", c.IndexPrefix)
	}
	if !validSubject(c.DeadLetterSubject) {
		bad("DeadLetterSubject", "%q is not a literal subject", c.DeadLetterSubject)
	} else if strings.HasPrefix(c.DeadLetterSubject, "portcullis.auth.") {
		bad("DeadLetterSubject", "%q lies in the AUTH stream's subjects", c.DeadLetterSubject)
	}
	if c.MaxBackoff < initialBackoff {
		bad("MaxBackoff", "%s is below the first retry delay %s", c.MaxBackoff, initialBackoff)
	}
	if c.AckWait <= c.FlushInterval+c.RequestTimeout {
		bad("AckWait", "%s must exceed FlushInterval + RequestTimeout (%s)", c.AckWait, c.FlushInterval+c.RequestTimeout)
	}
	return errors.Join(errs...)
}

// minDocBytes is below the size of the smallest audit document (one with an
// id, a time, an action and nothing else is about 330 bytes). MaxAckPending
// is sized for bulk requests of such documents.
const minDocBytes = 256

// maxAckPending is the consumer's MaxAckPending: enough for every message
// the auditor can hold without stalling the pull loop — the pulled batch,
// each worker's queue, and each worker's bulk request being filled or in
// flight (a worker does one at a time) of FlushBytes in documents of
// minDocBytes. Should it be reached anyway, the consumer pauses until the
// idle flush (FlushIdle) sends what is held.
func (c Config) maxAckPending() int {
	return (c.Workers+1)*c.BatchSize + c.Workers*((c.FlushBytes+minDocBytes-1)/minDocBytes)
}

// filterSubjects is the consumer's subject filter for the audited actions.
func (c Config) filterSubjects() []string {
	if slices.Contains(c.Actions, AllActions) {
		return []string{events.SubjectAuth}
	}
	subjects := make([]string, 0, len(c.Actions))
	for _, a := range c.Actions {
		subjects = append(subjects, events.AuthSubject(a))
	}
	slices.Sort(subjects)
	return slices.Compact(subjects)
}

// validToken reports whether s can be one subject token or a consumer name.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}

// validSubject reports whether s is a literal NATS subject.
func validSubject(s string) bool {
	if s == "" {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if !validToken(tok) {
			return false
		}
	}
	return true
}

// Option configures what New takes besides the Config.
type Option func(*options)

type options struct {
	logger *slog.Logger
	now    func() time.Time
}

// WithLogger sets the logger; default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock sets the clock (retry timing and dead-letter records); default
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }
