package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/auditor/auditortest"
)

// TestReadNarrowing: against a real node, a read of all indices or of a
// wildcard is narrowed to what the user's roles grant, as Elasticsearch
// does with security on; an explicitly named unauthorized index is still a
// 403; a wildcard never reaches the restricted audit indices without a
// role granting them with allow_restricted_indices; writes are not
// rewritten.
func TestReadNarrowing(t *testing.T) {
	es := auditortest.ESURL(t)
	n := startNode(t, nil, withUpstreamURL(es))
	su := basic(elasticAuth)
	run := rand.Uint32()
	logsDev, logsProd := fmt.Sprintf("nlogs-%d-dev", run), fmt.Sprintf("nlogs-%d-prod", run)
	metrics, secret := fmt.Sprintf("nmetrics-%d-prod", run), fmt.Sprintf("nsecret-%d", run)
	audit := fmt.Sprintf(".security-audit-narrow-%d", run)
	all := []string{logsDev, logsProd, metrics, secret, audit}
	t.Cleanup(func() { call(t, "DELETE", es+"/"+strings.Join(all, ","), "") })
	for _, idx := range all {
		mustStatus(t, call(t, "PUT", es+"/"+idx+"/_doc/1?refresh=true", `{"msg":"hello"}`, "Content-Type", "application/json"), 201, "seed "+idx)
	}
	logsPattern := fmt.Sprintf("nlogs-%d-*", run)
	prodPattern := fmt.Sprintf("*-%d-prod", run)
	roles := map[string]string{
		"nlogs":    `{"indices":[{"names":["` + logsPattern + `"],"privileges":["read","view_index_metadata"]}]}`,
		"nprod":    `{"indices":[{"names":["` + prodPattern + `"],"privileges":["read"]}]}`,
		"nstar":    `{"indices":[{"names":["*"],"privileges":["all"]}]}`,
		"nauditor": `{"indices":[{"names":["` + logsPattern + `"],"privileges":["read"]},{"names":[".security-audit-narrow-*"],"privileges":["read"],"allow_restricted_indices":true}]}`,
	}
	for name, body := range roles {
		mustStatus(t, call(t, "PUT", n.url+"/_security/role/"+name, body, su...), 200, "role "+name)
		mustStatus(t, call(t, "PUT", n.url+"/_security/user/u"+name, `{"password":"secret-`+name+`","roles":["`+name+`"]}`, su...), 200, "user "+name)
	}
	as := func(role string) []string { return basic("u" + role + ":secret-" + role) }

	// indicesOf runs a search and returns the sorted indices of its hits
	// among this test's indices.
	// (The node is shared: the query keeps to this test's indices.)
	indicesOf := func(role, method, path string) []string {
		t.Helper()
		q, _ := json.Marshal(map[string]any{"size": 100, "query": map[string]any{"terms": map[string]any{"_index": all}}})
		r := call(t, method, n.url+path, string(q), append(as(role), "Content-Type", "application/json")...)
		mustStatus(t, r, 200, role+" "+path)
		var out []string
		for _, h := range r.json(t)["hits"].(map[string]any)["hits"].([]any) {
			idx := h.(map[string]any)["_index"].(string)
			if slices.Contains(all, idx) && !slices.Contains(out, idx) {
				out = append(out, idx)
			}
		}
		slices.Sort(out)
		return out
	}
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	search := "/_search?size=1000"
	cases := []struct {
		role, path string
		want       []string
	}{
		{"nlogs", search, sorted(logsDev, logsProd)},
		{"nlogs", "/_all" + search, sorted(logsDev, logsProd)},
		{"nlogs", "/*" + search, sorted(logsDev, logsProd)},
		{"nlogs", "/" + logsPattern + search, sorted(logsDev, logsProd)},
		{"nlogs", "/" + logsPattern + ",-" + logsDev + search, sorted(logsProd)},
		{"nlogs", fmt.Sprintf("/nmetrics-%d-*%s", run, search), nil},
		// Granted "*-<run>-prod" only overlaps "nlogs-<run>-*": the cluster
		// resolves the shared names.
		{"nprod", "/" + logsPattern + search, sorted(logsProd)},
		{"nprod", search, sorted(logsProd, metrics)},
		// "*" granted without allow_restricted_indices: never the audit.
		{"nstar", "/*" + search + "&expand_wildcards=all", sorted(logsDev, logsProd, metrics, secret)},
		{"nstar", search, sorted(logsDev, logsProd, metrics, secret)},
		{"nauditor", search, sorted(logsDev, logsProd, audit)},
	}
	for _, c := range cases {
		if got := indicesOf(c.role, "POST", c.path); !slices.Equal(got, c.want) {
			t.Errorf("%s GET %s: hits in %q, want %q", c.role, c.path, got, c.want)
		}
	}

	// count and _cat/indices are narrowed too.
	r := call(t, "GET", n.url+"/_count", "", as("nlogs")...)
	mustStatus(t, r, 200, "count")
	r = call(t, "GET", n.url+"/_cat/indices?format=json&h=index", "", as("nlogs")...)
	mustStatus(t, r, 200, "cat indices")
	for _, row := range r.jsonArray(t) {
		if idx := row.(map[string]any)["index"].(string); !strings.HasPrefix(idx, fmt.Sprintf("nlogs-%d-", run)) {
			t.Errorf("_cat/indices shows %s to nlogs", idx)
		}
	}

	// Explicit names are not narrowed: 403.
	for _, c := range []struct{ role, path string }{
		{"nlogs", "/" + secret + "/_search"},
		{"nlogs", "/" + logsDev + "," + secret + "/_search"},
		{"nstar", "/" + audit + "/_search"},
		{"nlogs", "/" + audit + "/_search"},
	} {
		r := call(t, "GET", n.url+c.path, "", as(c.role)...)
		if r.Status != 403 {
			t.Errorf("%s GET %s → %d %.300s, want 403", c.role, c.path, r.Status, r.Body)
		}
	}
	// nothing readable with allow_no_indices=false: Elasticsearch's 404.
	r = call(t, "GET", n.url+fmt.Sprintf("/nmetrics-%d-*/_search?allow_no_indices=false", run), "", as("nlogs")...)
	if r.Status != 404 || !strings.Contains(string(r.Body), "index_not_found_exception") {
		t.Errorf("no readable index, allow_no_indices=false → %d %.300s", r.Status, r.Body)
	}

	// Writes are not rewritten: a user granted "all" on "*" cannot reach
	// the audit through a wildcard, and is told how to exclude it.
	r = call(t, "POST", n.url+"/*/_refresh", "", as("nstar")...)
	if r.Status != 403 || !strings.Contains(string(r.Body), "-.security*") {
		t.Errorf("refresh on * → %d %.300s, want 403 naming -.security*", r.Status, r.Body)
	}
	mustStatus(t, call(t, "POST", n.url+"/*,-.security*/_refresh", "", as("nstar")...), 200, "refresh excluding the restricted indices")
	mustStatus(t, call(t, "POST", n.url+fmt.Sprintf("/nsecret-%d*/_refresh", run), "", as("nstar")...), 200, "refresh on a wildcard that cannot reach the audit")
}
