package classify

import (
	"errors"
	"reflect"
	"testing"
)

type tgt struct {
	action  string
	indices []string
	kind    Kind
}

func targets(r Result) []tgt {
	var out []tgt
	for _, t := range r.Targets {
		out = append(out, tgt{t.Action, t.Indices, t.Kind})
	}
	return out
}

func TestClassify(t *testing.T) {
	const json = "application/json"
	const nd = "application/x-ndjson"
	tests := []struct {
		name    string
		req     Request
		api     string
		action  string
		want    []tgt
		deny    bool
		ctx     ContextKind
		ids     []string
		creates ContextKind
	}{
		{name: "search all", req: Request{Method: "GET", Path: "/_search"}, api: "search", action: actionSearch,
			want: []tgt{{actionSearch, nil, KindIndex}}},
		{name: "search list", req: Request{Method: "POST", Path: "/logs-*,-logs-x,%3Clogs-%7Bnow%2Fd%7D%3E/_search"}, api: "search", action: actionSearch,
			want: []tgt{{actionSearch, []string{"logs-*", "-logs-x", "<logs-{now/d}>"}, KindIndex}}},
		{name: "encoded comma", req: Request{Method: "GET", Path: "/a%2Cb/_search"}, api: "search", action: actionSearch,
			want: []tgt{{actionSearch, []string{"a", "b"}, KindIndex}}},
		{name: "upper-case literal is an index", req: Request{Method: "GET", Path: "/_SEARCH"}, api: "indices.get", action: "indices:admin/get",
			want: []tgt{{"indices:admin/get", []string{"_SEARCH"}, KindIndex}}},
		{name: "head as get", req: Request{Method: "HEAD", Path: "/idx"}, api: "indices.exists", action: "indices:admin/get",
			want: []tgt{{"indices:admin/get", []string{"idx"}, KindIndex}}},
		{name: "scroll create", req: Request{Method: "GET", Path: "/i/_search", Query: []byte("scroll=1m")}, api: "search", action: actionSearch,
			want: []tgt{{actionSearch, []string{"i"}, KindIndex}}, creates: ContextScroll},
		{name: "pit search", req: Request{Method: "POST", Path: "/_search", Body: []byte(`{"pit":{"id":"P1","keep_alive":"1m"},"query":{"match_all":{}}}`), ContentType: json},
			api: "search", action: actionSearch, want: []tgt{{actionSearch, nil, KindIndex}}, ctx: ContextPIT, ids: []string{"P1"}},
		{name: "source param body", req: Request{Method: "GET", Path: "/_search", Query: []byte("source=%7B%22pit%22%3A%7B%22id%22%3A%22P2%22%7D%7D;source_content_type=application/json")},
			api: "search", action: actionSearch, want: []tgt{{actionSearch, nil, KindIndex}}, ctx: ContextPIT, ids: []string{"P2"}},
		{name: "bulk", req: Request{Method: "POST", Path: "/def/_bulk", ContentType: nd, Body: []byte(
			"{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{\"f\":1}\n" +
				"{\"create\":{}}\r\n{\"f\":2}\n\n" +
				"{\"index\":{\"_index\":\"c\",\"op_type\":\"create\"}}\n{}\n" +
				"{\"delete\":{\"_index\":\"d\",\"_id\":\"1\"}}\n" +
				"{\"update\":{\"_id\":\"1\",\"_index\":\"e\"}}\n{\"doc\":{}}\n")},
			api: "bulk", action: "indices:data/write/bulk",
			want: []tgt{{actionOpIndex, []string{"a"}, KindItem}, {actionOpCreate, []string{"def"}, KindItem},
				{actionOpCreate, []string{"c"}, KindItem}, {actionDelete, []string{"d"}, KindItem}, {actionUpdate, []string{"e"}, KindItem}}},
		{name: "bulk escaped key", req: Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"index\":{\"\\u005findex\":\"x\"}}\n{}\n")},
			api: "bulk", action: "indices:data/write/bulk", want: []tgt{{actionOpIndex, []string{"x"}, KindItem}}},
		{name: "bulk no index", req: Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"delete\":{\"_id\":\"1\"}}\n")},
			api: "bulk", action: "indices:data/write/bulk", want: []tgt{{actionDelete, nil, KindItem}}},
		{name: "msearch", req: Request{Method: "POST", Path: "/p/_msearch", ContentType: nd, Body: []byte(
			"{\"index\":\"a,b\"}\n{}\n\n{}\n{\"indices\":[\"c\",\"d*\"]}\n{\"query\":{}}\n")},
			api: "msearch", action: "indices:data/read/msearch",
			want: []tgt{{actionSearch, []string{"a", "b"}, KindItem}, {actionSearch, []string{"p"}, KindItem}, {actionSearch, []string{"c", "d*"}, KindItem}}},
		{name: "msearch template", req: Request{Method: "POST", Path: "/_msearch/template", ContentType: nd, Body: []byte("{\"index\":\"x\"}\n{\"id\":\"t\"}\n")},
			api: "msearch_template", action: "indices:data/read/msearch/template", want: []tgt{{actionSearch, []string{"x"}, KindItem}}},
		{name: "mget", req: Request{Method: "POST", Path: "/p/_mget", ContentType: json, Body: []byte(`{"docs":[{"_index":"a","_id":"1"},{"_id":"2"}]}`)},
			api: "mget", action: "indices:data/read/mget",
			want: []tgt{{"indices:data/read/mget[shard]", []string{"a"}, KindItem}, {"indices:data/read/mget[shard]", []string{"p"}, KindItem}}},
		{name: "mget ids", req: Request{Method: "GET", Path: "/p/_mget", ContentType: json, Body: []byte(`{"ids":["1","2"]}`)},
			api: "mget", action: "indices:data/read/mget",
			want: []tgt{{"indices:data/read/mget[shard]", []string{"p"}, KindItem}, {"indices:data/read/mget[shard]", []string{"p"}, KindItem}}},
		{name: "mtermvectors", req: Request{Method: "POST", Path: "/_mtermvectors", ContentType: json, Body: []byte(`{"docs":[{"_index":"a","_id":"1","fields":["f"]}]}`)},
			api: "mtermvectors", action: "indices:data/read/mtv", want: []tgt{{"indices:data/read/mtv[shard]", []string{"a"}, KindItem}}},
		{name: "reindex", req: Request{Method: "POST", Path: "/_reindex", ContentType: json, Body: []byte(`{"source":{"index":["a","b*"]},"dest":{"index":"c","op_type":"create"}}`)},
			api: "reindex", action: "indices:data/write/reindex",
			want: []tgt{{actionSearch, []string{"a", "b*"}, KindIndex}, {actionOpCreate, []string{"c"}, KindIndex}}},
		{name: "reindex remote", req: Request{Method: "POST", Path: "/_reindex", ContentType: json, Body: []byte(`{"source":{"index":"a","remote":{"host":"http://x:9200"}},"dest":{"index":"c"}}`)},
			api: "reindex", action: "indices:data/write/reindex", deny: true,
			want: []tgt{{actionSearch, []string{"a"}, KindIndex}, {actionOpIndex, []string{"c"}, KindIndex}}},
		{name: "aliases", req: Request{Method: "POST", Path: "/_aliases", ContentType: json, Body: []byte(`{"actions":[{"add":{"index":"a","alias":"x"}},{"remove":{"indices":["b","c"],"aliases":"y,z"}},{"remove_index":{"index":"d"}}]}`)},
			api: "indices.update_aliases", action: actionAliases,
			want: []tgt{{actionAliases, []string{"a"}, KindItem}, {actionAliases, []string{"x"}, KindAlias},
				{actionAliases, []string{"b", "c"}, KindItem}, {actionAliases, []string{"y", "z"}, KindAlias},
				{actionAliases, []string{"d"}, KindItem}, {actionIndexDel, []string{"d"}, KindItem}}},
		{name: "create index with aliases", req: Request{Method: "PUT", Path: "/new", ContentType: json, Body: []byte(`{"aliases":{"al":{}},"settings":{}}`)},
			api: "indices.create", action: "indices:admin/create",
			want: []tgt{{"indices:admin/create", []string{"new"}, KindIndex}, {actionAliases, []string{"new"}, KindIndex}, {actionAliases, []string{"al"}, KindAlias}}},
		{name: "shrink", req: Request{Method: "POST", Path: "/src/_shrink/dst"}, api: "indices.shrink", action: "indices:admin/resize",
			want: []tgt{{"indices:admin/resize", []string{"src"}, KindIndex}, {"indices:admin/resize", []string{"dst"}, KindNewIndex}}},
		{name: "put alias path", req: Request{Method: "PUT", Path: "/i/_alias/a"}, api: "indices.put_alias", action: actionAliases,
			want: []tgt{{actionAliases, []string{"i"}, KindIndex}, {actionAliases, []string{"a"}, KindAlias}}},
		{name: "index doc", req: Request{Method: "PUT", Path: "/i/_doc/1", ContentType: json, Body: []byte(`{}`)}, api: "index", action: "indices:data/write/index",
			want: []tgt{{actionOpIndex, []string{"i"}, KindIndex}}},
		{name: "index doc op_type create", req: Request{Method: "PUT", Path: "/i/_doc/1", Query: []byte("op_type=index&op_type=create"), ContentType: json, Body: []byte(`{}`)},
			api: "index", action: "indices:data/write/index", want: []tgt{{actionOpCreate, []string{"i"}, KindIndex}}},
		{name: "index auto id", req: Request{Method: "POST", Path: "/i/_doc", ContentType: json, Body: []byte(`{}`)}, api: "index", action: "indices:data/write/index",
			want: []tgt{{actionOpCreate, []string{"i"}, KindIndex}}},
		{name: "delete doc", req: Request{Method: "DELETE", Path: "/i/_doc/1"}, api: "delete", action: actionDelete,
			want: []tgt{{actionDelete, []string{"i"}, KindIndex}}},
		{name: "scroll", req: Request{Method: "POST", Path: "/_search/scroll", ContentType: json, Body: []byte(`{"scroll":"1m","scroll_id":"S1"}`)},
			api: "scroll", action: "indices:data/read/scroll", want: []tgt{{"indices:data/read/scroll", nil, KindAnyIndex}}, ctx: ContextScroll, ids: []string{"S1"}},
		{name: "clear scroll", req: Request{Method: "DELETE", Path: "/_search/scroll/A,B", ContentType: json, Body: []byte(`{"scroll_id":["C"]}`)},
			api: "clear_scroll", action: "indices:data/read/scroll/clear", want: []tgt{{"indices:data/read/scroll/clear", nil, KindAnyIndex}}, ctx: ContextScroll, ids: []string{"A", "B", "C"}},
		{name: "close pit", req: Request{Method: "DELETE", Path: "/_pit", ContentType: json, Body: []byte(`{"id":"P"}`)},
			api: "close_point_in_time", action: "indices:data/read/close_point_in_time", want: []tgt{{"indices:data/read/close_point_in_time", nil, KindAnyIndex}}, ctx: ContextPIT, ids: []string{"P"}},
		{name: "open pit", req: Request{Method: "POST", Path: "/i/_pit", Query: []byte("keep_alive=1m")}, api: "open_point_in_time", action: "indices:data/read/open_point_in_time",
			want: []tgt{{"indices:data/read/open_point_in_time", []string{"i"}, KindIndex}}, creates: ContextPIT},
		{name: "async get", req: Request{Method: "GET", Path: "/_async_search/ID1"}, api: "async_search.get", action: "indices:data/read/async_search/get",
			want: []tgt{{"indices:data/read/async_search/get", nil, KindAnyIndex}}, ctx: ContextAsync, ids: []string{"ID1"}},
		{name: "async status literal wins", req: Request{Method: "GET", Path: "/_async_search/status/ID1"}, api: "async_search.status", action: "cluster:monitor/async_search/status",
			ctx: ContextAsync, ids: []string{"ID1"}},
		{name: "sql denied", req: Request{Method: "POST", Path: "/_sql", ContentType: json, Body: []byte(`{"query":"SELECT * FROM secret"}`)},
			api: "sql.query", action: "indices:data/read/sql", deny: true, want: []tgt{{"indices:data/read/sql", nil, KindIndex}}, creates: ContextAsync},
		{name: "lookups", req: Request{Method: "POST", Path: "/i/_search", ContentType: json, Body: []byte(`{"query":{"bool":{"should":[
			{"terms":{"user":{"index":"users","id":"1","path":"f"}}},
			{"terms":{"tag":["a","b"]}},
			{"geo_shape":{"loc":{"indexed_shape":{"index":"shapes","id":"s"}}}},
			{"percolate":{"field":"q","index":"queries","id":"1"}},
			{"more_like_this":{"fields":["t"],"like":["text",{"_index":"other","_id":"1"}]}}]}},
			"runtime_mappings":{"r":{"type":"lookup","target_index":"ips","input_field":"ip","target_field":"ip","fetch_fields":["x"]}},
			"aggs":{"t":{"terms":{"field":"f","order":{"_count":"desc"}}}}}`)},
			api: "search", action: actionSearch, want: []tgt{{actionSearch, []string{"i"}, KindIndex},
				{actionGet, []string{"users"}, KindIndex}, {actionGet, []string{"shapes"}, KindIndex}, {actionGet, []string{"queries"}, KindIndex},
				{actionMtvShard, []string{"other"}, KindIndex}, {actionSearch, []string{"ips"}, KindIndex}}},
		{name: "msearch lookup", req: Request{Method: "POST", Path: "/_msearch", ContentType: nd, Body: []byte("{\"index\":\"a\"}\n{\"query\":{\"terms\":{\"f\":{\"index\":\"secret\",\"id\":\"1\",\"path\":\"p\"}}}}\n")},
			api: "msearch", action: "indices:data/read/msearch", want: []tgt{{actionSearch, []string{"a"}, KindItem}, {actionGet, []string{"secret"}, KindItem}}},
		{name: "template object", req: Request{Method: "POST", Path: "/t/_search/template", ContentType: json, Body: []byte(`{"source":{"query":{"terms":{"f":{"index":"x","id":"{{id}}","path":"p"}}}},"params":{"id":"1"}}`)},
			api: "search_template", action: actionSearchTmpl, want: []tgt{{actionSearch, []string{"t"}, KindIndex}, {actionGet, []string{"x"}, KindIndex}}},
		{name: "template text denied", req: Request{Method: "POST", Path: "/t/_search/template", ContentType: json, Body: []byte(`{"source":"{\"query\":{{#toJson}}q{{/toJson}}}","params":{"q":{}}}`)},
			api: "search_template", action: actionSearchTmpl, deny: true, want: []tgt{{actionSearch, []string{"t"}, KindIndex}}},
		{name: "template unescaped denied", req: Request{Method: "POST", Path: "/t/_search/template", ContentType: json, Body: []byte(`{"source":{"query":{"match":{"f":"{{{q}}}"}}}}`)},
			api: "search_template", action: actionSearchTmpl, deny: true, want: []tgt{{actionSearch, []string{"t"}, KindIndex}}},
		{name: "template stored", req: Request{Method: "POST", Path: "/_search/template", ContentType: json, Body: []byte(`{"id":"tmpl","params":{"q":"x"}}`)},
			api: "search_template", action: actionSearchTmpl, want: []tgt{{actionSearch, nil, KindIndex}}},
		{name: "reindex script denied", req: Request{Method: "POST", Path: "/_reindex", ContentType: json, Body: []byte(`{"source":{"index":"a"},"dest":{"index":"b"},"script":{"source":"ctx._index='x'"}}`)},
			api: "reindex", action: "indices:data/write/reindex", deny: true,
			want: []tgt{{actionSearch, []string{"a"}, KindIndex}, {actionOpIndex, []string{"b"}, KindIndex}}},
		{name: "cluster", req: Request{Method: "GET", Path: "/_cluster/health/secret"}, api: "cluster.health", action: "cluster:monitor/health"},
		{name: "templates are cluster", req: Request{Method: "PUT", Path: "/_index_template/t", ContentType: json, Body: []byte(`{"index_patterns":["x*"]}`)},
			api: "indices.put_index_template", action: "indices:admin/index_template/put"},
		{name: "api key", req: Request{Method: "POST", Path: "/_security/api_key", ContentType: "application/vnd.elasticsearch+json; compatible-with=8", Body: []byte(`{"name":"k"}`)},
			api: "security.create_api_key", action: "cluster:admin/xpack/security/api_key/create"},
		{name: "root", req: Request{Method: "GET", Path: "/"}, api: "info", action: "cluster:monitor/main"},
		{name: "cat count", req: Request{Method: "GET", Path: "/_cat/count/x"}, api: "cat.count", action: actionSearch,
			want: []tgt{{actionSearch, []string{"x"}, KindIndex}}},
		{name: "get alias", req: Request{Method: "GET", Path: "/_alias/a"}, api: "indices.get_alias", action: "indices:admin/aliases/get",
			want: []tgt{{"indices:admin/aliases/get", nil, KindIndex}, {"indices:admin/aliases/get", []string{"a"}, KindAlias}}},
		{name: "rollover", req: Request{Method: "POST", Path: "/al/_rollover/new-2"}, api: "indices.rollover", action: "indices:admin/rollover",
			want: []tgt{{"indices:admin/rollover", []string{"al"}, KindIndex}, {"indices:admin/rollover", []string{"new-2"}, KindNewIndex}}},
		{name: "modify data stream", req: Request{Method: "POST", Path: "/_data_stream/_modify", ContentType: json, Body: []byte(`{"actions":[{"remove_backing_index":{"data_stream":"ds","index":".ds-1"}}]}`)},
			api: "indices.modify_data_stream", action: actionDSModify, want: []tgt{{actionDSModify, []string{"ds", ".ds-1"}, KindItem}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Classify(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.API != tt.api || res.Action != tt.action {
				t.Fatalf("api/action = %s %s, want %s %s", res.API, res.Action, tt.api, tt.action)
			}
			if got := targets(res); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("targets:\n got %v\nwant %v", got, tt.want)
			}
			if (res.Deny != "") != tt.deny {
				t.Errorf("deny = %q", res.Deny)
			}
			if res.Context != tt.ctx || !reflect.DeepEqual(res.ContextIDs, tt.ids) || res.Creates != tt.creates {
				t.Errorf("context = %v %v creates %v", res.Context, res.ContextIDs, res.Creates)
			}
		})
	}
}

func TestClassifyUnknown(t *testing.T) {
	for _, r := range []Request{
		{Method: "GET", Path: "/_nope/x/y/z/w/v"},
		{Method: "GET", Path: "/_security/user/u/_password/extra/more"},
	} {
		res, err := Classify(r)
		if err != nil || !res.Unknown || res.Action != "" {
			t.Errorf("%s %s: %+v %v", r.Method, r.Path, res, err)
		}
	}
	res, err := Classify(Request{Method: "PATCH", Path: "/_search"})
	if err != nil || !res.MethodNotAllowed || res.Action != "" {
		t.Errorf("PATCH /_search: %+v %v", res, err)
	}
}

func TestClassifyErrors(t *testing.T) {
	const nd = "application/x-ndjson"
	tests := []struct {
		name string
		req  Request
		want error
	}{
		{"duplicate key", Request{Method: "POST", Path: "/_search", ContentType: "application/json", Body: []byte(`{"pit":{"id":"a","id":"b"}}`)}, ErrDuplicateKey},
		{"duplicate escaped key", Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"index\":{\"_index\":\"a\",\"\\u005findex\":\"b\"}}\n{}\n")}, ErrDuplicateKey},
		{"bulk unknown op", Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"upsert\":{}}\n{}\n")}, ErrBulkAction},
		{"bulk unknown meta", Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"index\":{\"_type\":\"t\"}}\n{}\n")}, ErrBulkAction},
		{"bulk two ops", Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"index\":{},\"delete\":{}}\n{}\n")}, ErrBulkAction},
		{"bulk unterminated", Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"index\":{}}\n{}")}, ErrBulkNewline},
		{"bulk index not string", Request{Method: "POST", Path: "/_bulk", ContentType: nd, Body: []byte("{\"index\":{\"_index\":[\"a\"]}}\n{}\n")}, ErrBulkAction},
		{"msearch both keys", Request{Method: "POST", Path: "/_msearch", ContentType: nd, Body: []byte("{\"index\":\"a\",\"indices\":\"b\"}\n{}\n")}, ErrMsearchHeader},
		{"msearch unknown key", Request{Method: "POST", Path: "/_msearch", ContentType: nd, Body: []byte("{\"Index\":\"a\"}\n{}\n")}, ErrMsearchHeader},
		{"yaml", Request{Method: "POST", Path: "/_search", ContentType: "application/yaml", Body: []byte("a: b")}, ErrContentType},
		{"compat 7", Request{Method: "POST", Path: "/_search", ContentType: "application/vnd.elasticsearch+json;compatible-with=7", Body: []byte("{}")}, ErrCompatibleWith},
		{"source without type", Request{Method: "GET", Path: "/_search", Query: []byte("source={}")}, ErrSourceType},
		{"comment", Request{Method: "POST", Path: "/_search", ContentType: "application/json", Body: []byte("{/*x*/}")}, ErrJSON},
		{"trailing", Request{Method: "POST", Path: "/_search", ContentType: "application/json", Body: []byte("{} {}")}, ErrJSON},
		{"bad escape in query", Request{Method: "GET", Path: "/_search", Query: []byte("scroll=%zz")}, ErrQuery},
		{"bad op_type", Request{Method: "PUT", Path: "/i/_doc/1", Query: []byte("op_type=upsert")}, ErrOpType},
		{"mget unknown key", Request{Method: "POST", Path: "/_mget", ContentType: "application/json", Body: []byte(`{"doc":[]}`)}, ErrBodyShape},
		{"reindex without dest", Request{Method: "POST", Path: "/_reindex", ContentType: "application/json", Body: []byte(`{"source":{"index":"a"}}`)}, ErrBodyShape},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Classify(tt.req)
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrBadRequest) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseExpression(t *testing.T) {
	got := ParseList(SplitList("a,-b,c*,-d,_all,remote:e*,<logs-{now/d{yyyy.MM.dd|+12:00}}>,<x,y>"))
	want := []Expression{
		{Raw: "a", Name: "a"},
		{Raw: "-b", Name: "-b"},
		{Raw: "c*", Name: "c*", Wildcard: true},
		{Raw: "-d", Name: "d", Exclusion: true},
		{Raw: "_all", Name: "_all", All: true},
		{Raw: "remote:e*", Name: "e*", Cluster: "remote", Wildcard: true},
		{Raw: "<logs-{now/d{yyyy.MM.dd|+12:00}}>", Name: "<logs-{now/d{yyyy.MM.dd|+12:00}}>", DateMath: true},
		{Raw: "<x", Name: "<x", Malformed: true},
		{Raw: "y>", Name: "y>", Malformed: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if SplitList(",,") != nil || !IsAll(nil) || !IsAll([]string{"_all"}) || IsAll([]string{"a"}) {
		t.Error("all-indices rules")
	}
}

// TestNoAliasing: results never share memory with the request, which the
// gateway recycles (fasthttp buffers).
func TestNoAliasing(t *testing.T) {
	body := []byte("{\"index\":{\"_index\":\"a\"}}\n{}\n{\"delete\":{\"_index\":\"b\"}}\n")
	res, err := Classify(Request{Method: "POST", Path: "/_bulk", Body: body, ContentType: "application/x-ndjson"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if res.Targets[0].Indices[0] != "a" || res.Targets[1].Indices[0] != "b" {
		t.Errorf("targets changed with the body: %+v", res.Targets)
	}
}

// TestAllocs bounds allocations on the common search path: the result's
// targets, their index list and its one string; the classifier, its
// result and the path's segments are pooled (7 allocations before), and
// NeedsBody splits the path on the stack.
func TestAllocs(t *testing.T) {
	req := Request{Method: "POST", Path: "/logs-*/_search", Query: []byte("size=10"),
		Body: []byte(`{"query":{"bool":{"filter":[{"term":{"host":"a"}}]}},"size":10}`), ContentType: "application/json"}
	if n := testing.AllocsPerRun(100, func() { _, _ = Classify(req) }); n > 3 {
		t.Errorf("%v allocs per search, want <= 3", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = NeedsBody("POST", "/logs-*/_search") }); n != 0 {
		t.Errorf("%v allocs per NeedsBody, want 0", n)
	}
}

// TestClassifyContexts: the context ids a request uses, the context it
// creates and the keep-alive it asks for, which the gateway binds to the
// user.
func TestClassifyContexts(t *testing.T) {
	const json = "application/json"
	tests := []struct {
		name    string
		req     Request
		action  string
		ctx     ContextKind
		ids     []string
		creates ContextKind
		keep    string
		deny    bool
	}{
		{name: "search with scroll", req: Request{Method: "POST", Path: "/i/_search", Query: []byte("scroll=2m")},
			action: actionSearch, creates: ContextScroll, keep: "2m"},
		{name: "search template with scroll", req: Request{Method: "POST", Path: "/i/_search/template", Query: []byte("scroll=1m"), ContentType: json, Body: []byte(`{"id":"t"}`)},
			action: actionSearchTmpl, creates: ContextScroll, keep: "1m"},
		{name: "search without scroll", req: Request{Method: "GET", Path: "/i/_search"}, action: actionSearch},
		{name: "scroll, body keep-alive wins", req: Request{Method: "POST", Path: "/_search/scroll", Query: []byte("scroll=1m"), ContentType: json, Body: []byte(`{"scroll_id":"S1","scroll":"5m"}`)},
			action: "indices:data/read/scroll", ctx: ContextScroll, ids: []string{"S1"}, keep: "5m"},
		{name: "scroll, all id places", req: Request{Method: "GET", Path: "/_search/scroll/S1", Query: []byte("scroll_id=S2&scroll=30s")},
			action: "indices:data/read/scroll", ctx: ContextScroll, ids: []string{"S1", "S2"}, keep: "30s"},
		{name: "scroll keep-alive as a number is left to Elasticsearch", req: Request{Method: "POST", Path: "/_search/scroll", ContentType: json, Body: []byte(`{"scroll_id":"S1","scroll":60000}`)},
			action: "indices:data/read/scroll", ctx: ContextScroll, ids: []string{"S1"}},
		{name: "clear scroll", req: Request{Method: "DELETE", Path: "/_search/scroll", ContentType: json, Body: []byte(`{"scroll_id":"S1"}`)},
			action: "indices:data/read/scroll/clear", ctx: ContextScroll, ids: []string{"S1"}},
		{name: "clear scroll ids in the query", req: Request{Method: "DELETE", Path: "/_search/scroll", Query: []byte("scroll_id=S1,S2")},
			action: "indices:data/read/scroll/clear", ctx: ContextScroll, ids: []string{"S1", "S2"}},
		{name: "clear all scrolls in the query", req: Request{Method: "DELETE", Path: "/_search/scroll", Query: []byte("scroll_id=_all")},
			action: actionClearAllScrolls, ctx: ContextScroll},
		{name: "clear all scrolls in the path", req: Request{Method: "DELETE", Path: "/_search/scroll/_all"},
			action: actionClearAllScrolls, ctx: ContextScroll},
		{name: "clear all scrolls in a body list", req: Request{Method: "DELETE", Path: "/_search/scroll", ContentType: json, Body: []byte(`{"scroll_id":["S1","_all"]}`)},
			action: actionClearAllScrolls, ctx: ContextScroll},
		{name: "open pit", req: Request{Method: "POST", Path: "/i/_pit", Query: []byte("keep_alive=3m")},
			action: "indices:data/read/open_point_in_time", creates: ContextPIT, keep: "3m"},
		{name: "pit search keep-alive", req: Request{Method: "POST", Path: "/_search", ContentType: json, Body: []byte(`{"pit":{"keep_alive":"4m","id":"P1"}}`)},
			action: actionSearch, ctx: ContextPIT, ids: []string{"P1"}, keep: "4m"},
		{name: "async submit with a pit keeps its own keep-alive", req: Request{Method: "POST", Path: "/_async_search", Query: []byte("keep_alive=1d"), ContentType: json, Body: []byte(`{"pit":{"id":"P1","keep_alive":"4m"}}`)},
			action: "indices:data/read/async_search/submit", ctx: ContextPIT, ids: []string{"P1"}, creates: ContextAsync, keep: "1d"},
		{name: "async get keep-alive", req: Request{Method: "GET", Path: "/_async_search/A1", Query: []byte("keep_alive=2d")},
			action: "indices:data/read/async_search/get", ctx: ContextAsync, ids: []string{"A1"}, keep: "2d"},
		{name: "async delete", req: Request{Method: "DELETE", Path: "/_async_search/A1"},
			action: "indices:data/read/async_search/delete", ctx: ContextAsync, ids: []string{"A1"}},
		{name: "eql search creates", req: Request{Method: "POST", Path: "/i/_eql/search"}, action: "indices:data/read/eql", creates: ContextAsync},
		{name: "eql get", req: Request{Method: "GET", Path: "/_eql/search/E1"}, action: "indices:data/read/eql/async/get", ctx: ContextAsync, ids: []string{"E1"}},
		{name: "esql async creates", req: Request{Method: "POST", Path: "/_query/async", ContentType: json, Body: []byte(`{"query":"FROM x"}`)},
			action: "indices:data/read/esql/async", creates: ContextAsync, deny: true},
		{name: "esql stop", req: Request{Method: "POST", Path: "/_query/async/Q1/stop"}, action: "indices:data/read/esql/async/stop", ctx: ContextAsync, ids: []string{"Q1"}},
		{name: "sql async status", req: Request{Method: "GET", Path: "/_sql/async/status/Q1"}, action: "cluster:monitor/xpack/sql/async/status", ctx: ContextAsync, ids: []string{"Q1"}},
		{name: "sql cursor close is the superuser's", req: Request{Method: "POST", Path: "/_sql/close", ContentType: json, Body: []byte(`{"cursor":"C1"}`)},
			action: "indices:data/read/sql/close_cursor", ctx: ContextSQLCursor, ids: []string{"C1"}, deny: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Classify(tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Action != tt.action || res.Context != tt.ctx || !reflect.DeepEqual(res.ContextIDs, tt.ids) ||
				res.Creates != tt.creates || res.KeepAlive != tt.keep || (res.Deny != "") != tt.deny {
				t.Fatalf("got action %s context %v %q creates %v keep-alive %q deny %q", res.Action, res.Context, res.ContextIDs, res.Creates, res.KeepAlive, res.Deny)
			}
			if tt.action == actionClearAllScrolls && (!res.Cluster || len(res.Targets) != 0) {
				t.Fatalf("clear all is not a cluster action: %+v", res)
			}
		})
	}
}
