package classify

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// tsvPath is the committed copy of the reference table; the shared copy
// beside the repository is preferred when present, so a drift shows.
func tsvPath(t testing.TB) string {
	shared := filepath.Join("..", "..", "..", "shared", "reference", "es-endpoints-8.19.tsv")
	if _, err := os.Stat(shared); err == nil {
		return shared
	}
	return filepath.Join("testdata", "es-endpoints-8.19.tsv")
}

type tsvRoute struct{ api, method, path string }

func readTSV(t testing.TB) (routes []tsvRoute, pathless []string) {
	f, err := os.Open(tsvPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sc.Scan() // header
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if len(cols) < 4 {
			t.Fatalf("bad line %q", sc.Text())
		}
		if cols[3] == "" {
			pathless = append(pathless, cols[0])
			continue
		}
		for mp := range strings.SplitSeq(cols[3], "|") {
			ms, p, _ := strings.Cut(strings.TrimSpace(mp), " ")
			for m := range strings.SplitSeq(ms, ",") {
				routes = append(routes, tsvRoute{cols[0], m, p})
			}
		}
	}
	return routes, pathless
}

var paramRE = regexp.MustCompile(`\{[a-z_]+\}`)

// concrete fills a path pattern with sample values that are no route
// literal.
func concrete(p string) string {
	return paramRE.ReplaceAllStringFunc(p, func(s string) string { return "p-" + strings.Trim(s, "{}") })
}

// shadowed lists routes that Elasticsearch itself cannot reach by path
// alone: another API registers the same pattern and method first (the
// inference put_<service> family shares PUT /_inference/{task_type}/{id}
// with inference.put; nodes.info registers {node_id} and {metric} at the
// same position). They classify to the earlier API, with an action.
func shadowedOK(want, got string) bool {
	return (strings.HasPrefix(want, "inference.put_") && got == "inference.put") ||
		(want == "nodes.info" && got == "nodes.info")
}

// TestEveryReferenceAPI: every method × path of the reference table
// classifies to its API with a non-empty action, or is deliberately
// denied with a reason.
func TestEveryReferenceAPI(t *testing.T) {
	refs, pathless := readTSV(t)
	apis := map[string]bool{}
	denied := map[string]string{}
	for _, ref := range refs {
		apis[ref.api] = true
		path := concrete(ref.path)
		res, err := Classify(Request{Method: ref.method, Path: path})
		if err != nil || (!res.Cluster && len(res.Targets) == 0) {
			// Some APIs need a body (reindex, aliases, …); give them one.
			res, err = Classify(Request{Method: ref.method, Path: path, Body: sampleBody(ref.api), ContentType: "application/json"})
		}
		if err != nil {
			t.Errorf("%s %s (%s): %v", ref.method, path, ref.api, err)
			continue
		}
		if res.Unknown || res.MethodNotAllowed {
			t.Errorf("%s %s (%s): unknown=%v 405=%v", ref.method, path, ref.api, res.Unknown, res.MethodNotAllowed)
			continue
		}
		if res.API != ref.api && !shadowedOK(ref.api, res.API) {
			t.Errorf("%s %s: API %q, want %q", ref.method, path, res.API, ref.api)
		}
		if res.Action == "" {
			t.Errorf("%s %s: empty action", ref.method, path)
		}
		if !res.Cluster && len(res.Targets) == 0 {
			t.Errorf("%s %s: index action %s without targets", ref.method, path, res.Action)
		}
		if res.Deny != "" {
			denied[res.API] = res.Deny
		}
	}
	// APIs without a path in the table get their path in routes.go.
	for _, api := range pathless {
		found := false
		for i := range routes {
			if routes[i].api == api && routes[i].extra {
				found = true
				r := &routes[i]
				m, _, _ := strings.Cut(r.methods, ",")
				res, err := Classify(Request{Method: m, Path: concrete(r.path), Body: sampleBody(api), ContentType: "application/json"})
				if err != nil || res.API != api {
					t.Errorf("pathless %s: %+v %v", api, res, err)
				}
				if res.Deny != "" {
					denied[api] = res.Deny
				}
			}
		}
		if !found {
			t.Errorf("API %s has no path in the table and none in routes.go", api)
		}
		apis[api] = true
	}
	// Every table entry is a reference API (no invented ones).
	for i := range routes {
		if !apis[routes[i].api] {
			t.Errorf("routes.go has %s, not in the reference table", routes[i].api)
		}
	}
	t.Logf("%d APIs, %d method×path pairs; %d APIs deliberately denied:", len(apis), len(refs), len(denied))
	for api, why := range denied {
		t.Logf("  denied %s: %s", api, why)
	}
}

func sampleBody(api string) []byte {
	switch api {
	case "reindex":
		return []byte(`{"source":{"index":"a"},"dest":{"index":"b"}}`)
	case "indices.update_aliases":
		return []byte(`{"actions":[{"add":{"index":"a","alias":"b"}}]}`)
	case "bulk":
		return []byte("{\"index\":{}}\n{}\n")
	case "msearch", "msearch_template", "fleet.msearch":
		return []byte("{}\n{}\n")
	case "indices.migrate_reindex":
		return []byte(`{"source":{"index":"ds"},"mode":"upgrade"}`)
	case "indices.modify_data_stream":
		return []byte(`{"actions":[{"add_backing_index":{"data_stream":"ds","index":"i"}}]}`)
	}
	return []byte(`{}`)
}

// TestTSVCopy: the committed copy matches the shared reference when the
// latter is present.
func TestTSVCopy(t *testing.T) {
	shared, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "reference", "es-endpoints-8.19.tsv"))
	if err != nil {
		t.Skip("shared reference not present")
	}
	local, err := os.ReadFile(filepath.Join("testdata", "es-endpoints-8.19.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	if string(shared) != string(local) {
		t.Error("testdata/es-endpoints-8.19.tsv differs from the shared reference")
	}
}
