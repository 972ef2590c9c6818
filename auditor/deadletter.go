package auditor

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/portcullis/portcullis/events"
)

// DeadLetter is the record published on the dead-letter subject for an
// event that can never become an audit document.
type DeadLetter struct {
	// Reason says why: Elasticsearch's error ("document_parsing_exception:
	// failed to parse field [...]") or why the message could not be read.
	Reason string `json:"reason"`
	// Status and ErrorType are Elasticsearch's answer for the item, when it
	// gave one.
	Status    int    `json:"status,omitempty"`
	ErrorType string `json:"error_type,omitempty"`
	// EventID is the event's id, when the envelope could be read.
	EventID string `json:"event_id,omitempty"`
	// Index is the index the document was meant for.
	Index string `json:"index,omitempty"`
	// Subject and StreamSequence locate the original message in the AUTH
	// stream; of a message of several events, EventIndex is the event's
	// place in it (from 0) and Events their number.
	Subject        string `json:"subject"`
	StreamSequence uint64 `json:"stream_sequence"`
	EventIndex     int    `json:"event_index,omitempty"`
	Events         int    `json:"events,omitempty"`
	// Time is when the event was dead-lettered.
	Time time.Time `json:"time"`
	// Event is the original event when it is JSON; Data holds it
	// otherwise.
	Event json.RawMessage `json:"event,omitempty"`
	Data  []byte          `json:"data,omitempty"`
}

type deadLetterInfo struct {
	Reason    string
	Status    int
	ErrorType string
	EventID   string
	Index     string
}

// deadLetter publishes the dead-letter record of ref's event and, once
// NATS stored it, settles the event. When the record cannot be stored, the
// event goes back to NATS (with its message) to be tried again later:
// nothing is acknowledged unrecorded.
func (a *Auditor) deadLetter(ref msgRef, info deadLetterInfo) {
	msg := ref.msg
	dl := DeadLetter{
		Reason:    info.Reason,
		Status:    info.Status,
		ErrorType: info.ErrorType,
		EventID:   info.EventID,
		Index:     info.Index,
		Subject:   msg.Subject(),
		Time:      a.now().UTC(),
	}
	msgID := ""
	if md, err := msg.Metadata(); err == nil {
		dl.StreamSequence = md.Sequence.Stream
		msgID = fmt.Sprintf("%s:%d", events.StreamAuth, md.Sequence.Stream)
		if ref.pk != nil {
			msgID += ":" + strconv.Itoa(ref.index)
		}
	}
	if ref.pk != nil {
		dl.EventIndex, dl.Events = ref.index, ref.of
	}
	if json.Valid(ref.event) {
		dl.Event = json.RawMessage(ref.event)
	} else {
		dl.Data = ref.event
	}
	b, err := json.Marshal(dl)
	if err == nil {
		out := nats.NewMsg(a.cfg.DeadLetterSubject)
		out.Data = b
		var opts []jetstream.PublishOpt
		if msgID != "" {
			// A retried dead-letter publish is stored once.
			opts = append(opts, jetstream.WithMsgID(msgID))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = a.cfg.JS.PublishMsg(ctx, out, opts...)
		cancel()
	}
	if err != nil {
		a.log.Error("audit_dead_letter_failed", "event_id", info.EventID, "error", err)
		d, _ := a.retry.failure(a.now())
		a.nak(ref, d)
		return
	}
	a.deadLettered.Add(1)
	a.log.Warn("audit_dead_lettered", "event_id", info.EventID, "stream_sequence", dl.StreamSequence,
		"status", info.Status, "reason", info.Reason)
	a.ack(ref)
}
