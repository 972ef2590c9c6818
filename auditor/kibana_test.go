package auditor_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"testing"
)

// savedObject is the part of a Kibana saved object (export format, one per
// ndjson line) the test reads.
type savedObject struct {
	ID                   string `json:"id"`
	Type                 string `json:"type"`
	CoreMigrationVersion string `json:"coreMigrationVersion"`
	TypeMigrationVersion string `json:"typeMigrationVersion"`
	Attributes           struct {
		Title         string     `json:"title"`
		TimeFieldName string     `json:"timeFieldName"`
		Columns       []string   `json:"columns"`
		Sort          [][]string `json:"sort"`
		VisState      string     `json:"visState"`
		PanelsJSON    string     `json:"panelsJSON"`
		Meta          struct {
			SearchSourceJSON string `json:"searchSourceJSON"`
		} `json:"kibanaSavedObjectMeta"`
	} `json:"attributes"`
	References []struct {
		ID   string `json:"id"`
		Name string `json:"name"`
		Type string `json:"type"`
	} `json:"references"`
}

// kqlField matches the field of a KQL "field : value" clause.
var kqlField = regexp.MustCompile(`([A-Za-z@_][A-Za-z0-9@_.]*)\s*:`)

// TestKibanaSavedObjects: kibana/portcullis.ndjson parses (one JSON object
// per line), has the data view, saved search and dashboard the issue asks
// for, every reference resolves inside the file, and every field it
// references is mapped by the index template.
func TestKibanaSavedObjects(t *testing.T) {
	raw, err := os.ReadFile("../kibana/portcullis.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	fields := mappedFields(t)
	var objects []savedObject
	byKey := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var o savedObject
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("line %d is not JSON: %v", line, err)
		}
		if o.ID == "" || o.Type == "" || o.CoreMigrationVersion == "" || o.TypeMigrationVersion == "" {
			t.Fatalf("line %d: id, type and migration versions are required: %+v", line, o)
		}
		objects = append(objects, o)
		byKey[o.Type+"/"+o.ID] = true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	refField := func(o savedObject, where, f string) {
		t.Helper()
		if _, ok := fields[f]; !ok {
			t.Errorf("%s %s: %s references field %q, which the index template does not map", o.Type, o.ID, where, f)
		}
	}
	kql := func(o savedObject, where, ssJSON string) {
		t.Helper()
		if ssJSON == "" {
			return
		}
		var ss struct {
			Query struct {
				Query    string `json:"query"`
				Language string `json:"language"`
			} `json:"query"`
		}
		if err := json.Unmarshal([]byte(ssJSON), &ss); err != nil {
			t.Fatalf("%s %s: %s is not JSON: %v", o.Type, o.ID, where, err)
		}
		if ss.Query.Query != "" && ss.Query.Language != "kuery" {
			t.Errorf("%s %s: query language %q", o.Type, o.ID, ss.Query.Language)
		}
		for _, m := range kqlField.FindAllStringSubmatch(ss.Query.Query, -1) {
			refField(o, where, m[1])
		}
	}

	counts := map[string]int{}
	for _, o := range objects {
		counts[o.Type]++
		for _, r := range o.References {
			if !byKey[r.Type+"/"+r.ID] {
				t.Errorf("%s %s: reference %s to %s/%s, which is not in the file", o.Type, o.ID, r.Name, r.Type, r.ID)
			}
		}
		a := o.Attributes
		kql(o, "searchSourceJSON", a.Meta.SearchSourceJSON)
		switch o.Type {
		case "index-pattern":
			if a.Title != ".security-audit-*" || a.TimeFieldName != "@timestamp" {
				t.Errorf("data view: title %q, time field %q", a.Title, a.TimeFieldName)
			}
			refField(o, "timeFieldName", a.TimeFieldName)
		case "search":
			for _, c := range a.Columns {
				refField(o, "columns", c)
			}
			for _, s := range a.Sort {
				refField(o, "sort", s[0])
			}
		case "visualization":
			var vs struct {
				Aggs []struct {
					Params struct {
						Field string `json:"field"`
					} `json:"params"`
				} `json:"aggs"`
			}
			if err := json.Unmarshal([]byte(a.VisState), &vs); err != nil {
				t.Fatalf("visualization %s: visState: %v", o.ID, err)
			}
			for _, agg := range vs.Aggs {
				if agg.Params.Field != "" {
					refField(o, "visState aggs", agg.Params.Field)
				}
			}
		case "dashboard":
			var panels []struct {
				PanelRefName string `json:"panelRefName"`
				PanelIndex   string `json:"panelIndex"`
			}
			if err := json.Unmarshal([]byte(a.PanelsJSON), &panels); err != nil {
				t.Fatalf("dashboard %s: panelsJSON: %v", o.ID, err)
			}
			refs := map[string]bool{}
			for _, r := range o.References {
				refs[r.Name] = true
			}
			for _, p := range panels {
				if !refs[p.PanelIndex+":"+p.PanelRefName] {
					t.Errorf("dashboard %s: panel %s has no reference", o.ID, p.PanelIndex)
				}
			}
		}
	}
	for _, typ := range []string{"index-pattern", "search", "dashboard"} {
		if counts[typ] != 1 {
			t.Errorf("%d saved objects of type %s, want 1", counts[typ], typ)
		}
	}
	if counts["visualization"] < 3 {
		t.Errorf("%d visualizations, want at least 3 (over time, by user, by source)", counts["visualization"])
	}
}
