package gateway

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestRoleRoutes(t *testing.T) {
	tests := []struct {
		method, path, action, arg string
	}{
		{"GET", "/_security/role", "cluster:admin/xpack/security/role/get", ""},
		{"GET", "/_security/role/a,b", "cluster:admin/xpack/security/role/get", "a,b"},
		{"PUT", "/_security/role/r1", "cluster:admin/xpack/security/role/put", "r1"},
		{"POST", "/_security/role/r1", "cluster:admin/xpack/security/role/put", "r1"},
		{"DELETE", "/_security/role/r1", "cluster:admin/xpack/security/role/delete", "r1"},
	}
	for _, tt := range tests {
		ep := route(tt.method, tt.path)
		if ep == nil || ep.action != tt.action || ep.arg != tt.arg || ep.privilege != privManageSecurity || ep.self {
			t.Errorf("%s %s: %+v", tt.method, tt.path, ep)
		}
	}
	if ep := route("DELETE", "/_security/role"); ep != nil {
		t.Errorf("DELETE /_security/role routed to %+v", ep)
	}
}

func TestRoleRequestBody(t *testing.T) {
	tests := []struct {
		body    string
		want    roleRequest
		wantErr bool
	}{
		{body: `{"cluster":["monitor"],"indices":[{"names":["a","b"],"privileges":["read"],"allow_restricted_indices":true}]}`,
			want: roleRequest{Cluster: []string{"monitor"}, Indices: []indexPrivilegesReq{{Names: stringList{"a", "b"}, Privileges: []string{"read"}, AllowRestrictedIndices: true}}}},
		{body: `{"indices":[{"names":"logs-*","privileges":["read"]}]}`,
			want: roleRequest{Indices: []indexPrivilegesReq{{Names: stringList{"logs-*"}, Privileges: []string{"read"}}}}},
		{body: `{"indices":[{"names":["a"],"privileges":["read"],"query":"{}"}]}`, wantErr: true},
		{body: `{"indices":[{"names":["a"],"privileges":["read"],"field_security":{}}]}`, wantErr: true},
		{body: `{"indices":[{"names":1}]}`, wantErr: true},
		{body: `{"cluster":"all"}`, wantErr: true},
	}
	for _, tt := range tests {
		var got roleRequest
		err := decodeStrict([]byte(tt.body), &got)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v", tt.body, err)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.body, got, tt.want)
		}
	}
}

func TestEmptyList(t *testing.T) {
	for raw, want := range map[string]bool{"": true, "null": true, "[]": true, " [ ] ": true, `["x"]`: false, `{}`: false, `"x"`: false} {
		if got := emptyList(json.RawMessage(raw)); got != want {
			t.Errorf("emptyList(%q) = %v, want %v", raw, got, want)
		}
	}
}
