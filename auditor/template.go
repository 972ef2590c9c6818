package auditor

import (
	"encoding/json"
	"strings"
)

// templateVersion is the version of the index template; raise it when the
// mappings change (the template is replaced at every start either way).
const templateVersion = 1

// mappings maps every field Document can emit, explicitly: keyword, date,
// ip and long, so that Kibana aggregates on each of them without scripted
// fields. dynamic:false keeps a field that a newer auditor might add out of
// the mapping (still in _source) instead of guessing its type.
// ignore_above keeps an absurdly long value (a path, a reason) from making
// the whole document unindexable: it is stored, just not indexed.
const mappings = `{
  "dynamic": false,
  "properties": {
    "@timestamp": {"type": "date"},
    "event": {"properties": {
      "id":       {"type": "keyword", "ignore_above": 1024},
      "kind":     {"type": "keyword", "ignore_above": 1024},
      "action":   {"type": "keyword", "ignore_above": 1024},
      "outcome":  {"type": "keyword", "ignore_above": 1024},
      "category": {"type": "keyword", "ignore_above": 1024},
      "type":     {"type": "keyword", "ignore_above": 1024},
      "dataset":  {"type": "keyword", "ignore_above": 1024},
      "module":   {"type": "keyword", "ignore_above": 1024},
      "reason":   {"type": "keyword", "ignore_above": 8191}
    }},
    "ecs": {"properties": {
      "version": {"type": "keyword", "ignore_above": 1024}
    }},
    "user": {"properties": {
      "name":  {"type": "keyword", "ignore_above": 1024},
      "realm": {"type": "keyword", "ignore_above": 1024},
      "roles": {"type": "keyword", "ignore_above": 1024}
    }},
    "authentication": {"properties": {
      "type": {"type": "keyword", "ignore_above": 1024}
    }},
    "apikey": {"properties": {
      "id": {"type": "keyword", "ignore_above": 1024}
    }},
    "realm": {"type": "keyword", "ignore_above": 1024},
    "realms": {"type": "object", "properties": {
      "name":   {"type": "keyword", "ignore_above": 1024},
      "type":   {"type": "keyword", "ignore_above": 1024},
      "reason": {"type": "keyword", "ignore_above": 8191}
    }},
    "origin": {"properties": {
      "type":    {"type": "keyword", "ignore_above": 1024},
      "address": {"type": "keyword", "ignore_above": 1024}
    }},
    "source": {"properties": {
      "ip":      {"type": "ip"},
      "port":    {"type": "long"},
      "address": {"type": "keyword", "ignore_above": 1024}
    }},
    "url": {"properties": {
      "path":     {"type": "keyword", "ignore_above": 8191},
      "query":    {"type": "keyword", "ignore_above": 8191},
      "original": {"type": "keyword", "ignore_above": 8191}
    }},
    "request": {"properties": {
      "method": {"type": "keyword", "ignore_above": 1024},
      "id":     {"type": "keyword", "ignore_above": 1024}
    }},
    "http": {"properties": {
      "request": {"properties": {
        "method": {"type": "keyword", "ignore_above": 1024},
        "id":     {"type": "keyword", "ignore_above": 1024}
      }},
      "response": {"properties": {
        "status_code": {"type": "long"}
      }}
    }},
    "action":  {"type": "keyword", "ignore_above": 1024},
    "indices": {"type": "keyword", "ignore_above": 1024},
    "policy": {"properties": {
      "revision": {"type": "keyword", "ignore_above": 1024},
      "rule":     {"type": "keyword", "ignore_above": 1024}
    }},
    "node": {"properties": {
      "id": {"type": "keyword", "ignore_above": 1024}
    }},
    "observer": {"properties": {
      "name":    {"type": "keyword", "ignore_above": 1024},
      "product": {"type": "keyword", "ignore_above": 1024}
    }},
    "related": {"properties": {
      "user": {"type": "keyword", "ignore_above": 1024},
      "ip":   {"type": "ip"}
    }}
  }
}`

// Template returns the composable index template (PUT _index_template/...)
// of the default index prefix: index pattern ".security-audit-*".
func Template() []byte { return templateFor(DefaultIndexPrefix) }

// TemplateFor returns the index template of the indices prefix + "*",
// the one an auditor configured with that IndexPrefix installs (under
// TemplateName(prefix)).
func TemplateFor(prefix string) []byte { return templateFor(prefix) }

// TemplateName is the name of the index template an auditor configured with
// IndexPrefix prefix installs.
func TemplateName(prefix string) string { return templateName(prefix) }

// templateFor returns the index template of the indices prefix + "*".
//
// The indices are deliberately not hidden: a wildcard expression such as
// ".security-audit-*" does not match hidden indices unless the request says
// expand_wildcards=all, and the seed's query must work as written.
// Elasticsearch 8 creates such dot-prefixed visible indices with a
// deprecation warning ("reserved for hidden indices and system indices in
// the next major version"): moving to Elasticsearch 9 means hidden indices
// and a query with expand_wildcards, or another prefix. One
// shard and auto-expanded replicas (0-1) keep a single-node cluster green.
//
// A longer prefix gets a higher priority, so that a template for a more
// specific prefix (".security-audit-test-") can coexist with the default
// one: Elasticsearch refuses two templates of equal priority whose patterns
// overlap.
func templateFor(prefix string) []byte {
	t := struct {
		IndexPatterns []string `json:"index_patterns"`
		Priority      int      `json:"priority"`
		Version       int      `json:"version"`
		Meta          any      `json:"_meta"`
		Template      struct {
			Settings any             `json:"settings"`
			Mappings json.RawMessage `json:"mappings"`
		} `json:"template"`
	}{
		IndexPatterns: []string{prefix + "*"},
		Priority:      100 + len(prefix),
		Version:       templateVersion,
		Meta: map[string]any{
			"managed_by":  "portcullis",
			"description": "Portcullis audit trail (package auditor)",
		},
	}
	t.Template.Settings = map[string]any{
		"index": map[string]any{
			"number_of_shards":     1,
			"auto_expand_replicas": "0-1",
			"hidden":               false,
		},
	}
	t.Template.Mappings = json.RawMessage(mappings)
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		panic("auditor: index template: " + err.Error()) // a constant: cannot fail
	}
	return b
}

// templateName is the name of the index template of prefix:
// "portcullis-audit" for the default prefix, a name derived from the prefix
// otherwise (so that test or tenant prefixes never replace the default).
func templateName(prefix string) string {
	if prefix == DefaultIndexPrefix {
		return "portcullis-audit"
	}
	var b strings.Builder
	b.WriteString("portcullis-audit-")
	for _, r := range strings.Trim(prefix, ".-_") {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}
