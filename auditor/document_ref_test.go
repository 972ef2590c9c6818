package auditor

// The reference encoder: the audit document as structs with encoding/json
// tags, marshalled by reflection. It was Document until the hand-written
// appendDocument replaced it for speed; it stays here as the definition
// appendDocument must reproduce byte for byte.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"github.com/portcullis/portcullis/events"
)

type document struct {
	Timestamp      string       `json:"@timestamp"`
	Event          docEvent     `json:"event"`
	ECS            docECS       `json:"ecs"`
	User           *docUser     `json:"user,omitempty"`
	Authentication *docAuthn    `json:"authentication,omitempty"`
	APIKey         *docAPIKey   `json:"apikey,omitempty"`
	Realm          string       `json:"realm,omitempty"`
	Realms         []docRealm   `json:"realms,omitempty"`
	Origin         docOrigin    `json:"origin"`
	Source         *docSource   `json:"source,omitempty"`
	URL            *docURL      `json:"url,omitempty"`
	Request        *docRequest  `json:"request,omitempty"`
	HTTP           *docHTTP     `json:"http,omitempty"`
	Action         string       `json:"action,omitempty"`
	Indices        []string     `json:"indices,omitempty"`
	Policy         *docPolicy   `json:"policy,omitempty"`
	Node           *docNode     `json:"node,omitempty"`
	Observer       *docObserver `json:"observer,omitempty"`
	Related        *docRelated  `json:"related,omitempty"`
}

type docEvent struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Dataset  string   `json:"dataset"`
	Module   string   `json:"module"`
	Reason   string   `json:"reason,omitempty"`
}

type docECS struct {
	Version string `json:"version"`
}

type docUser struct {
	Name  string   `json:"name,omitempty"`
	Realm string   `json:"realm,omitempty"`
	Roles []string `json:"roles,omitempty"`
}

type docAuthn struct {
	Type string `json:"type"`
}

type docAPIKey struct {
	ID string `json:"id"`
}

// docRealm is one realm consulted while authenticating. Mapped as a plain
// object array (not nested): Kibana aggregates realms.name and
// realms.reason directly, at the price of the pairing between the two,
// which the _source keeps.
type docRealm struct {
	Name   string `json:"name"`
	Type   string `json:"type,omitempty"`
	Reason string `json:"reason,omitempty"`
}

type docOrigin struct {
	Type    string `json:"type"`
	Address string `json:"address,omitempty"`
}

type docSource struct {
	IP      string `json:"ip,omitempty"`
	Port    uint16 `json:"port,omitempty"`
	Address string `json:"address"`
}

type docURL struct {
	Path     string `json:"path,omitempty"`
	Query    string `json:"query,omitempty"`
	Original string `json:"original,omitempty"`
}

type docRequest struct {
	Method string `json:"method,omitempty"`
	ID     string `json:"id,omitempty"`
}

type docHTTP struct {
	Request  *docHTTPRequest  `json:"request,omitempty"`
	Response *docHTTPResponse `json:"response,omitempty"`
}

type docHTTPRequest struct {
	Method string `json:"method,omitempty"`
	ID     string `json:"id,omitempty"`
}

type docHTTPResponse struct {
	StatusCode int `json:"status_code"`
}

type docPolicy struct {
	Revision string `json:"revision,omitempty"`
	Rule     string `json:"rule,omitempty"`
}

type docNode struct {
	ID string `json:"id"`
}

type docObserver struct {
	Name    string `json:"name"`
	Product string `json:"product"`
}

type docRelated struct {
	User []string `json:"user,omitempty"`
	IP   []string `json:"ip,omitempty"`
}

// referenceDocument is the former Document. It is pure:
// the same event always gives the same bytes, which is what lets a
// redelivered event be written again harmlessly.
func referenceDocument(ev events.Event, o events.AuthOutcome) ([]byte, error) {
	if ev.ID == "" {
		return nil, fmt.Errorf("audit document: %w: no event id", ErrInvalidEvent)
	}
	if ev.Time.IsZero() {
		return nil, fmt.Errorf("audit document of event %s: %w: no event time", ev.ID, ErrInvalidEvent)
	}
	action := o.Action
	if action == "" {
		action = actionOfType(ev.Type)
	}
	category, typ := classify(action)
	d := document{
		Timestamp: ev.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		Event: docEvent{
			ID:       ev.ID,
			Kind:     "event",
			Action:   action,
			Outcome:  outcome(o.Outcome),
			Category: category,
			Type:     typ,
			Dataset:  Dataset,
			Module:   "portcullis",
			Reason:   o.Reason,
		},
		ECS:     docECS{Version: ecsVersion},
		Realm:   o.Realm,
		Origin:  docOrigin{Type: "rest", Address: o.SourceIP},
		Action:  o.ESAction,
		Indices: o.Indices,
	}

	name := o.User
	if name == "" {
		name = o.Principal
	}
	if name != "" || o.Realm != "" || len(o.Roles) > 0 {
		d.User = &docUser{Name: name, Realm: o.Realm, Roles: o.Roles}
	}
	if o.AuthType != "" {
		d.Authentication = &docAuthn{Type: o.AuthType}
	}
	if o.APIKeyID != "" {
		d.APIKey = &docAPIKey{ID: o.APIKeyID}
	}
	for _, r := range o.Realms {
		d.Realms = append(d.Realms, docRealm{Name: r.Realm, Type: r.Type, Reason: r.Reason})
	}
	if o.SourceIP != "" {
		d.Source = referenceSource(o.SourceIP)
	}
	if o.Path != "" || o.Query != "" {
		q := redactQuery(o.Query)
		d.URL = &docURL{Path: o.Path, Query: q, Original: o.Path}
		if q != "" {
			d.URL.Original += "?" + q
		}
	}
	if o.Method != "" || o.RequestID != "" {
		d.Request = &docRequest{Method: o.Method, ID: o.RequestID}
		d.HTTP = &docHTTP{Request: &docHTTPRequest{Method: o.Method, ID: o.RequestID}}
	}
	if o.Status != 0 {
		if d.HTTP == nil {
			d.HTTP = &docHTTP{}
		}
		d.HTTP.Response = &docHTTPResponse{StatusCode: o.Status}
	}
	if o.PolicyRevision != "" || o.Rule != "" {
		d.Policy = &docPolicy{Revision: o.PolicyRevision, Rule: o.Rule}
	}
	if ev.Source != "" {
		d.Node = &docNode{ID: ev.Source}
		d.Observer = &docObserver{Name: ev.Source, Product: "portcullis"}
	}
	var rel docRelated
	if name != "" {
		rel.User = []string{name}
	}
	if d.Source != nil && d.Source.IP != "" {
		rel.IP = []string{d.Source.IP}
	}
	if rel.User != nil || rel.IP != nil {
		d.Related = &rel
	}

	// No HTML escaping: a query's "&" stays "&", as Kibana users search it.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("audit document of event %s: %w", ev.ID, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func referenceSource(addr string) *docSource {
	s := &docSource{Address: addr}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		s.IP, s.Port = ap.Addr().Unmap().String(), ap.Port()
	} else if a, err := netip.ParseAddr(strings.Trim(addr, "[]")); err == nil {
		s.IP = a.Unmap().String()
	}
	return s
}
