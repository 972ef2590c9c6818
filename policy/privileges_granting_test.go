package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPrivilegesGranting(t *testing.T) {
	e := newEngine(t, Config{}, nil)
	tests := []struct {
		action string
		kind   string
		want   []string
	}{
		// The examples of es-security-protocol.md §3.2.
		{"indices:data/read/search", PrivilegeKindIndex, []string{"read", "all"}},
		{"cluster:monitor/main", PrivilegeKindCluster, []string{"monitor", "manage", "all"}},
		// Bulk, its shard request and the implied item actions.
		{"indices:data/write/bulk", PrivilegeKindIndex, []string{"create_doc", "create", "delete", "index", "write", "all"}},
		{"indices:data/write/bulk[s]", PrivilegeKindIndex, []string{"create_doc", "create", "delete", "index", "write", "all"}},
		{"indices:data/write/index:op_type/index", PrivilegeKindIndex, []string{"create", "index", "write", "all"}},
		{"indices:data/write/index:op_type/create", PrivilegeKindIndex, []string{"create_doc", "create", "index", "write", "all"}},
		{"indices:data/write/update", PrivilegeKindIndex, []string{"index", "write", "all"}},
		{"indices:data/write/delete", PrivilegeKindIndex, []string{"delete", "write", "all"}},
		{"indices:admin/create", PrivilegeKindIndex, []string{"create_index", "manage", "all"}},
		{"indices:admin/auto_create", PrivilegeKindIndex, []string{"auto_configure", "create_index", "manage", "all"}},
		{"indices:data/read/field_caps", PrivilegeKindIndex, []string{"view_index_metadata", "manage", "read", "all"}},
		{"indices:data/read/mget[shard]", PrivilegeKindIndex, []string{"read", "all"}},
		// Templates are cluster actions in Elasticsearch.
		{"indices:admin/index_template/put", PrivilegeKindCluster, []string{"manage_index_templates", "manage", "all"}},
		{"cluster:admin/xpack/security/user/put", PrivilegeKindCluster, []string{"manage_security", "all"}},
		{"cluster:monitor/xpack/ml/job/get", PrivilegeKindCluster, []string{"monitor_ml", "manage_ml", "monitor", "manage", "all"}},
		// Nothing grants what is neither.
		{"internal:transport/handshake", "", nil},
		{"", "", nil},
	}
	for _, tt := range tests {
		kind, got := e.PrivilegesGranting(tt.action)
		if kind != tt.kind || !slices.Equal(got, tt.want) {
			t.Errorf("PrivilegesGranting(%q) = %q %v, want %q %v", tt.action, kind, got, tt.kind, tt.want)
		}
		// The cached answer is the same.
		if kind2, got2 := e.PrivilegesGranting(tt.action); kind2 != kind || !slices.Equal(got2, got) {
			t.Errorf("second PrivilegesGranting(%q) = %q %v", tt.action, kind2, got2)
		}
	}
}

// TestPrivilegesGrantingFollowsPolicy: the tables are the policy's data,
// read again when the policy files change.
func TestPrivilegesGrantingFollowsPolicy(t *testing.T) {
	dir := writePolicy(t, nil)
	e := newEngine(t, Config{Dir: dir}, nil)
	if _, got := e.PrivilegesGranting("indices:data/read/search"); !slices.Equal(got, []string{"read", "all"}) {
		t.Fatalf("before: %v", got)
	}
	b, err := os.ReadFile(filepath.Join(dir, "roles.rego"))
	if err != nil {
		t.Fatal(err)
	}
	// read no longer grants search.
	edited := strings.Replace(string(b), `"read": ["indices:data/read/*",`, `"read": ["indices:data/read/get*",`, 1)
	if edited == string(b) {
		t.Fatal("roles.rego has no read entry to edit")
	}
	if err := os.WriteFile(filepath.Join(dir, "roles.rego"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, got := e.PrivilegesGranting("indices:data/read/search"); !slices.Equal(got, []string{"all"}) {
		t.Errorf("after reload: %v, want [all]", got)
	}
}

func TestGrantsOnSomeIndex(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Config{}, nil)
	if e.GrantsOnSomeIndex([]string{"writer"}, "indices:data/write/bulk") {
		t.Fatal("granted before the role exists")
	}
	if err := e.SetRoles(ctx, []Role{
		{Name: "writer", Indices: []IndexPrivileges{{Names: []string{"logs-*"}, Privileges: []string{"create_doc"}}}},
		{Name: "reader", Cluster: []string{"all"}, Indices: []IndexPrivileges{{Names: []string{"*"}, Privileges: []string{"read"}}}},
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		roles  []string
		action string
		want   bool
	}{
		{[]string{"writer"}, "indices:data/write/bulk", true},
		{[]string{"reader"}, "indices:data/write/bulk", false},
		{[]string{"reader", "writer"}, "indices:data/write/bulk", true},
		{[]string{"reader"}, "indices:data/read/mget", true},
		{[]string{"writer"}, "indices:data/read/mget", false},
		{[]string{"superuser"}, "indices:data/read/msearch", true},
		{nil, "indices:data/write/bulk", false},
		// A cluster action is not granted on an index.
		{[]string{"reader"}, "cluster:monitor/main", false},
	}
	for _, tt := range tests {
		if got := e.GrantsOnSomeIndex(tt.roles, tt.action); got != tt.want {
			t.Errorf("GrantsOnSomeIndex(%v, %q) = %v, want %v", tt.roles, tt.action, got, tt.want)
		}
	}
	// A change of roles is seen at once.
	if err := e.SetRoles(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if e.GrantsOnSomeIndex([]string{"writer"}, "indices:data/write/bulk") {
		t.Error("granted after the role was removed")
	}
}
