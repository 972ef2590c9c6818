package auditor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/portcullis/portcullis/events"
)

// Dataset is the event.dataset of every audit document.
const Dataset = "portcullis.audit"

// ecsVersion is the ECS version the document follows.
const ecsVersion = "8.11.0"

// IndexName is the daily index of an event at time t (the event's time, not
// the time it is written: a record delivered late lands in its own day),
// e.g. ".security-audit-2026.11.23". The day is the UTC day.
func IndexName(prefix string, t time.Time) string {
	return prefix + t.UTC().Format("2006.01.02")
}

// The document. Field names are Elasticsearch's audit names (user.name,
// user.realm, user.roles, origin.address, url.path, url.query,
// request.method, request.id, realm, authentication.type, apikey.id,
// action, indices) plus ECS (@timestamp, event.*, source.*, http.*,
// observer.name). Where the two disagree, ECS wins the shared name and the
// Elasticsearch meaning keeps its own: event.type is ECS's categorisation
// array, and Elasticsearch's layer ("rest") is origin.type. Every field is
// mapped in Template; a test walks documents to keep the two in step.
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

// Document returns the audit document of an auth outcome event. It is pure:
// the same event always gives the same bytes, which is what lets a
// redelivered event be written again harmlessly.
func Document(ev events.Event, o events.AuthOutcome) ([]byte, error) {
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
		d.Source = source(o.SourceIP)
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

// actionOfType extracts <action> from portcullis.auth.<action>.v1 ("" when
// typ is not an auth outcome type).
func actionOfType(typ string) string {
	rest, ok := strings.CutPrefix(typ, events.TypeAuthPrefix)
	if !ok {
		return ""
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return ""
	}
	return rest[:i]
}

// classify gives ECS event.category and event.type for an action.
// Authentication outcomes are "authentication"; access decisions on the
// cluster follow the Filebeat Elasticsearch audit module ("database",
// "access"); security configuration changes are "iam"/"configuration".
func classify(action string) (category, typ []string) {
	switch action {
	case events.ActionAuthenticationSuccess, events.ActionAuthenticationFailed,
		events.ActionRealmAuthFailed, events.ActionAnonymousAccessDenied, events.ActionLogin:
		return []string{"authentication"}, []string{"start"}
	case events.ActionLogout:
		return []string{"authentication"}, []string{"end"}
	case events.ActionAccessGranted:
		return []string{"database"}, []string{"access", "allowed"}
	case events.ActionAccessDenied, "run_as_denied":
		return []string{"database"}, []string{"access", "denied"}
	case "run_as_granted":
		return []string{"database"}, []string{"access", "allowed"}
	case events.ActionTamperedRequest:
		return []string{"intrusion_detection"}, []string{"denied"}
	case events.ActionSecurityConfigChange:
		return []string{"iam", "configuration"}, []string{"change"}
	default:
		return []string{"web"}, []string{"info"}
	}
}

// outcome normalises the payload's outcome to ECS's three values.
func outcome(s string) string {
	switch s {
	case "success", "failure":
		return s
	default:
		return "unknown"
	}
}

// source parses the client address, "ip" or "ip:port" (IPv6 bracketed when
// a port follows). source.ip is mapped as ip: a value that is not an address
// stays in source.address (a keyword) only, so it can never make the
// document unindexable.
func source(addr string) *docSource {
	s := &docSource{Address: addr}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		s.IP, s.Port = ap.Addr().Unmap().String(), ap.Port()
	} else if a, err := netip.ParseAddr(strings.Trim(addr, "[]")); err == nil {
		s.IP = a.Unmap().String()
	}
	return s
}

// redactQuery replaces the value of a credential query parameter (the
// gateway's "token" parameter, access_token) with "REDACTED". The gateway
// strips the token parameter before it publishes an outcome; this is the
// second line, so that no path can carry a credential into the index.
func redactQuery(q string) string {
	if q == "" || !strings.Contains(q, "token") {
		return q
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, _, hasValue := strings.Cut(p, "=")
		if name, err := url.QueryUnescape(k); err == nil {
			k = name
		}
		if hasValue && (strings.EqualFold(k, "token") || strings.EqualFold(k, "access_token")) {
			parts[i] = p[:strings.IndexByte(p, '=')] + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}
