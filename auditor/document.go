package auditor

import (
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/events"
	"github.com/portcullis/portcullis/internal/jsonstr"
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

// Document returns the audit document of an auth outcome event. It is pure:
// the same event always gives the same bytes, which is what lets a
// redelivered event be written again harmlessly.
//
// The document's fields are Elasticsearch's audit names (user.name,
// user.realm, user.roles, origin.address, url.path, url.query,
// request.method, request.id, realm, authentication.type, apikey.id,
// action, indices) plus ECS (@timestamp, event.*, source.*, http.*,
// observer.name). Where the two disagree, ECS wins the shared name and the
// Elasticsearch meaning keeps its own: event.type is ECS's categorisation
// array, and Elasticsearch's layer ("rest") is origin.type. Every field is
// mapped in Template; a test walks documents to keep the two in step.
func Document(ev events.Event, o events.AuthOutcome) ([]byte, error) {
	return appendDocument(nil, ev, o)
}

// appendDocument appends the document of Document to dst. It writes the
// JSON by hand, in the order and with the escaping encoding/json gives the
// equivalent structs (SetEscapeHTML(false), omitempty), byte for byte: a
// differential test and a fuzz test hold it to that reference. Reflection
// cost about a third of the auditor's CPU per event.
func appendDocument(dst []byte, ev events.Event, o events.AuthOutcome) ([]byte, error) {
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
	name := o.User
	if name == "" {
		name = o.Principal
	}

	b := append(dst, `{"@timestamp":"`...)
	b = ev.Time.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	b = append(b, `","event":{"id":`...)
	b = jsonstr.Append(b, ev.ID)
	b = append(b, `,"kind":"event","action":`...)
	b = jsonstr.Append(b, action)
	b = append(b, `,"outcome":"`...)
	b = append(b, outcome(o.Outcome)...)
	b = append(b, `","category":`...)
	b = appendStrings(b, category)
	b = append(b, `,"type":`...)
	b = appendStrings(b, typ)
	b = append(b, `,"dataset":"`+Dataset+`","module":"portcullis"`...)
	if o.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonstr.Append(b, o.Reason)
	}
	b = append(b, `},"ecs":{"version":"`+ecsVersion+`"}`...)

	if name != "" || o.Realm != "" || len(o.Roles) > 0 {
		b = append(b, `,"user":{`...)
		f := fields{b: b}
		f.str("name", name)
		f.str("realm", o.Realm)
		f.strs("roles", o.Roles)
		b = append(f.b, '}')
	}
	if o.AuthType != "" {
		b = append(b, `,"authentication":{"type":`...)
		b = jsonstr.Append(b, o.AuthType)
		b = append(b, '}')
	}
	if o.APIKeyID != "" {
		b = append(b, `,"apikey":{"id":`...)
		b = jsonstr.Append(b, o.APIKeyID)
		b = append(b, '}')
	}
	if o.Realm != "" {
		b = append(b, `,"realm":`...)
		b = jsonstr.Append(b, o.Realm)
	}
	if len(o.Realms) > 0 {
		b = append(b, `,"realms":[`...)
		for i, r := range o.Realms {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = jsonstr.Append(b, r.Realm)
			f := fields{b: b, n: 1}
			f.str("type", r.Type)
			f.str("reason", r.Reason)
			b = append(f.b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"origin":{"type":"rest"`...)
	if o.SourceIP != "" {
		b = append(b, `,"address":`...)
		b = jsonstr.Append(b, o.SourceIP)
	}
	b = append(b, '}')

	var ip string
	if o.SourceIP != "" {
		var port uint16
		ip, port = source(o.SourceIP)
		b = append(b, `,"source":{`...)
		f := fields{b: b}
		f.str("ip", ip)
		if port != 0 {
			f.key("port")
			f.b = strconv.AppendUint(f.b, uint64(port), 10)
		}
		f.key("address")
		b = jsonstr.Append(f.b, o.SourceIP)
		b = append(b, '}')
	}
	if o.Path != "" || o.Query != "" {
		q := redactQuery(o.Query)
		b = append(b, `,"url":{`...)
		f := fields{b: b}
		f.str("path", o.Path)
		f.str("query", q)
		if o.Path != "" || q != "" {
			f.key("original")
			f.b = append(f.b, '"')
			f.b = jsonstr.AppendContent(f.b, o.Path)
			if q != "" {
				f.b = append(f.b, '?')
				f.b = jsonstr.AppendContent(f.b, q)
			}
			f.b = append(f.b, '"')
		}
		b = append(f.b, '}')
	}
	hasRequest := o.Method != "" || o.RequestID != ""
	if hasRequest {
		b = append(b, `,"request":{`...)
		f := fields{b: b}
		f.str("method", o.Method)
		f.str("id", o.RequestID)
		b = append(f.b, '}')
	}
	if hasRequest || o.Status != 0 {
		b = append(b, `,"http":{`...)
		if hasRequest {
			b = append(b, `"request":{`...)
			f := fields{b: b}
			f.str("method", o.Method)
			f.str("id", o.RequestID)
			b = append(f.b, '}')
		}
		if o.Status != 0 {
			if hasRequest {
				b = append(b, ',')
			}
			b = append(b, `"response":{"status_code":`...)
			b = strconv.AppendInt(b, int64(o.Status), 10)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	if o.ESAction != "" {
		b = append(b, `,"action":`...)
		b = jsonstr.Append(b, o.ESAction)
	}
	if len(o.Indices) > 0 {
		b = append(b, `,"indices":`...)
		b = appendStrings(b, o.Indices)
	}
	if o.PolicyRevision != "" || o.Rule != "" {
		b = append(b, `,"policy":{`...)
		f := fields{b: b}
		f.str("revision", o.PolicyRevision)
		f.str("rule", o.Rule)
		b = append(f.b, '}')
	}
	if ev.Source != "" {
		b = append(b, `,"node":{"id":`...)
		b = jsonstr.Append(b, ev.Source)
		b = append(b, `},"observer":{"name":`...)
		b = jsonstr.Append(b, ev.Source)
		b = append(b, `,"product":"portcullis"}`...)
	}
	if name != "" || ip != "" {
		b = append(b, `,"related":{`...)
		if name != "" {
			b = append(b, `"user":[`...)
			b = jsonstr.Append(b, name)
			b = append(b, ']')
		}
		if ip != "" {
			if name != "" {
				b = append(b, ',')
			}
			b = append(b, `"ip":[`...)
			b = jsonstr.Append(b, ip)
			b = append(b, ']')
		}
		b = append(b, '}')
	}
	return append(b, '}'), nil
}

// fields appends the members of one JSON object, the comma before each but
// the first (n counts those written).
type fields struct {
	b []byte
	n int
}

func (f *fields) key(k string) {
	if f.n > 0 {
		f.b = append(f.b, ',')
	}
	f.n++
	f.b = append(f.b, '"')
	f.b = append(f.b, k...)
	f.b = append(f.b, '"', ':')
}

// str appends "k":v unless v is empty (omitempty).
func (f *fields) str(k, v string) {
	if v == "" {
		return
	}
	f.key(k)
	f.b = jsonstr.Append(f.b, v)
}

// strs appends "k":[...] unless vs is empty (omitempty).
func (f *fields) strs(k string, vs []string) {
	if len(vs) == 0 {
		return
	}
	f.key(k)
	f.b = appendStrings(f.b, vs)
}

// appendStrings appends a JSON array of strings; a nil slice is [] here,
// never null (the callers write only non-empty or constant arrays).
func appendStrings(b []byte, vs []string) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.Append(b, v)
	}
	return append(b, ']')
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
		return catAuthentication, typStart
	case events.ActionLogout:
		return catAuthentication, typEnd
	case events.ActionAccessGranted, "run_as_granted":
		return catDatabase, typAccessAllowed
	case events.ActionAccessDenied, "run_as_denied":
		return catDatabase, typAccessDenied
	case events.ActionTamperedRequest:
		return catIntrusion, typDenied
	case events.ActionSecurityConfigChange:
		return catIAMConfig, typChange
	default:
		return catWeb, typInfo
	}
}

// The arrays classify returns, shared (callers only read them).
var (
	catAuthentication = []string{"authentication"}
	catDatabase       = []string{"database"}
	catIntrusion      = []string{"intrusion_detection"}
	catIAMConfig      = []string{"iam", "configuration"}
	catWeb            = []string{"web"}
	typStart          = []string{"start"}
	typEnd            = []string{"end"}
	typAccessAllowed  = []string{"access", "allowed"}
	typAccessDenied   = []string{"access", "denied"}
	typDenied         = []string{"denied"}
	typChange         = []string{"change"}
	typInfo           = []string{"info"}
)

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
// a port follows), into source.ip and source.port. source.ip is mapped as
// ip: a value that is not an address gives no ip and stays in
// source.address (a keyword) only, so it can never make the document
// unindexable.
func source(addr string) (ip string, port uint16) {
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		return ap.Addr().Unmap().String(), ap.Port()
	}
	if a, err := netip.ParseAddr(strings.Trim(addr, "[]")); err == nil {
		return a.Unmap().String(), 0
	}
	return "", 0
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
