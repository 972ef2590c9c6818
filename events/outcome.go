package events

import (
	"strconv"
	"time"

	"github.com/portcullis/portcullis/internal/jsonstr"
)

// authNames returns the event type and the subject of an auth outcome
// action: constants for the actions of this package, built for any other.
func authNames(action string) (typ, subject string) {
	switch action {
	case ActionAccessGranted:
		return "portcullis.auth.access_granted.v1", "portcullis.auth.access_granted"
	case ActionAuthenticationSuccess:
		return "portcullis.auth.authentication_success.v1", "portcullis.auth.authentication_success"
	case ActionAuthenticationFailed:
		return "portcullis.auth.authentication_failed.v1", "portcullis.auth.authentication_failed"
	case ActionRealmAuthFailed:
		return "portcullis.auth.realm_authentication_failed.v1", "portcullis.auth.realm_authentication_failed"
	case ActionAccessDenied:
		return "portcullis.auth.access_denied.v1", "portcullis.auth.access_denied"
	case ActionAnonymousAccessDenied:
		return "portcullis.auth.anonymous_access_denied.v1", "portcullis.auth.anonymous_access_denied"
	case ActionTamperedRequest:
		return "portcullis.auth.tampered_request.v1", "portcullis.auth.tampered_request"
	case ActionLogin:
		return "portcullis.auth.login.v1", "portcullis.auth.login"
	case ActionLogout:
		return "portcullis.auth.logout.v1", "portcullis.auth.logout"
	case ActionSecurityConfigChange:
		return "portcullis.auth.security_config_change.v1", "portcullis.auth.security_config_change"
	}
	return AuthType(action), AuthSubject(action)
}

// appendAuthEvent appends the CloudEvent of outcome o with id, source and
// time t (UTC, to the millisecond): byte for byte what Encode gives for
// New(source, typ, o.RequestID, t, o) with that id, without reflection and
// with the payload written once (Encode writes the payload, then copies it
// into the envelope, validating it again). ok is false, and nothing is
// appended, for a time json.Marshal refuses (a year outside [0,9999]).
func appendAuthEvent(b []byte, source, id, typ string, t time.Time, o *AuthOutcome) (_ []byte, ok bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, `{"specversion":"`+SpecVersion+`","id":`...)
	b = jsonstr.AppendHTML(b, id)
	b = append(b, `,"source":`...)
	b = jsonstr.AppendHTML(b, source)
	b = append(b, `,"type":`...)
	b = jsonstr.AppendHTML(b, typ)
	if o.RequestID != "" {
		b = append(b, `,"subject":`...)
		b = jsonstr.AppendHTML(b, o.RequestID)
	}
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","datacontenttype":"application/json","data":`...)
	b = appendAuthOutcome(b, o)
	return append(b, '}'), true
}

// appendAuthOutcome appends o as json.Marshal encodes it.
func appendAuthOutcome(b []byte, o *AuthOutcome) []byte {
	b = append(b, `{"action":`...)
	b = jsonstr.AppendHTML(b, o.Action)
	b = append(b, `,"outcome":`...)
	b = jsonstr.AppendHTML(b, o.Outcome)
	b = appendField(b, `,"reason":`, o.Reason)
	b = appendField(b, `,"principal":`, o.Principal)
	b = appendField(b, `,"user":`, o.User)
	b = appendList(b, `,"roles":`, o.Roles)
	b = appendField(b, `,"realm":`, o.Realm)
	b = appendField(b, `,"authentication_type":`, o.AuthType)
	b = appendField(b, `,"apikey_id":`, o.APIKeyID)
	if len(o.Realms) > 0 {
		b = append(b, `,"realms":[`...)
		for i, r := range o.Realms {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"realm":`...)
			b = jsonstr.AppendHTML(b, r.Realm)
			b = appendField(b, `,"type":`, r.Type)
			b = appendField(b, `,"reason":`, r.Reason)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendField(b, `,"account_uid":`, o.AccountUID)
	if o.AccountEpoch != 0 {
		b = append(b, `,"account_epoch":`...)
		b = strconv.AppendUint(b, o.AccountEpoch, 10)
	}
	b = appendField(b, `,"method":`, o.Method)
	b = appendField(b, `,"path":`, o.Path)
	b = appendField(b, `,"query":`, o.Query)
	b = appendField(b, `,"request_id":`, o.RequestID)
	b = appendField(b, `,"source_ip":`, o.SourceIP)
	b = appendField(b, `,"es_action":`, o.ESAction)
	b = appendList(b, `,"indices":`, o.Indices)
	b = appendField(b, `,"policy_revision":`, o.PolicyRevision)
	b = appendField(b, `,"rule":`, o.Rule)
	if o.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(o.Status), 10)
	}
	return append(b, '}')
}

// appendField appends an omitempty string field: key (with its comma and
// colon) and value, when value is not empty.
func appendField(b []byte, key, value string) []byte {
	if value == "" {
		return b
	}
	b = append(b, key...)
	return jsonstr.AppendHTML(b, value)
}

// appendList appends an omitempty []string field.
func appendList(b []byte, key string, list []string) []byte {
	if len(list) == 0 {
		return b
	}
	b = append(b, key...)
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonstr.AppendHTML(b, s)
	}
	return append(b, ']')
}
