package classify

import (
	"bytes"
	"slices"
)

const (
	actionSearch     = "indices:data/read/search"
	actionOpIndex    = "indices:data/write/index:op_type/index"
	actionOpCreate   = "indices:data/write/index:op_type/create"
	actionUpdate     = "indices:data/write/update"
	actionDelete     = "indices:data/write/delete"
	actionAliases    = "indices:admin/aliases"
	actionIndexDel   = "indices:admin/delete"
	actionDSModify   = "indices:admin/data_stream/modify"
	actionSearchTmpl = "indices:data/read/search/template"
)

// search: path indices; a pit.id in the body is a context id (and then the
// PIT decides the indices); ?scroll makes the response carry a scroll id;
// query-DSL lookups are targets (lookup.go).
func (c *classifier) search(action string) error {
	c.pathTargets(action)
	if c.q.scroll != "" {
		c.res.Creates, c.res.KeepAlive = ContextScroll, c.q.scroll
	}
	if c.r.api == "async_search.submit" {
		c.res.Creates, c.res.KeepAlive = ContextAsync, c.q.keepAlive
	}
	if c.body == nil {
		return nil
	}
	return c.searchBody(c.body, KindIndex, 0, c.r.body == bodySearchTemplate || c.r.api == "msearch_template")
}

// searchBody reads one search (or search template) body: pit.id, lookups,
// and for templates an inline source, which is walked like a search body
// when it is an object and denied when it is a string or uses a mustache
// construct that renders unescaped.
func (c *classifier) searchBody(body []byte, kind Kind, item int, template bool) error {
	p := parser{b: body}
	l := lookups{p: &p, add: func(action, index string) {
		c.add(Target{Action: action, Indices: []string{index}, Kind: kind, Item: item, FromBody: true})
	}}
	err := p.object(func(key []byte) error {
		switch {
		case string(key) == "pit" && p.peek() == '{':
			return p.object(func(k []byte) error {
				switch string(k) {
				case "id":
					id, err := p.stringValue()
					if err != nil {
						return err
					}
					c.res.Context = ContextPIT
					c.res.ContextIDs = append(c.res.ContextIDs, id)
					return nil
				case "keep_alive":
					if p.peek() != '"' {
						return p.skip()
					}
					ka, err := p.stringValue()
					if c.res.Creates != ContextAsync {
						// An async search's keep_alive is its own.
						c.res.KeepAlive = ka
					}
					return err
				}
				return p.skip()
			})
		case template && string(key) == "source":
			if p.peek() != '{' {
				c.res.Deny = "inline search template given as text cannot be inspected"
				return p.skip()
			}
			start := p.i
			if err := l.value(lkpNone); err != nil {
				return err
			}
			q := parser{b: body[start:p.i]}
			unsafe, err := anyString(&q, unsafeMustache)
			if unsafe {
				c.res.Deny = "search template renders parameters unescaped"
			}
			return err
		case template:
			return p.skip()
		}
		return l.member(lkpNone, key)
	})
	if err != nil {
		return err
	}
	return p.end()
}

// lines iterates over NDJSON lines as Elasticsearch's multi-line parsers
// cut them: on '\n', with a trailing '\r' removed. The last element is what
// follows the last '\n' (usually empty).
type lines struct {
	b    []byte
	done bool
}

func (l *lines) next() (line []byte, terminated, ok bool) {
	if l.done {
		return nil, false, false
	}
	i := bytes.IndexByte(l.b, '\n')
	if i < 0 {
		l.done = true
		return l.b, false, true
	}
	line, l.b = l.b[:i], l.b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, true, true
}

func blank(b []byte) bool { return len(bytes.TrimLeft(b, " \t\r\n")) == 0 }

// bulkMeta lists the fields an action line may carry (BulkRequestParser);
// any other is an error, as in Elasticsearch.
var bulkMeta = map[string]bool{
	"_index": true, "_id": true, "routing": true, "op_type": true, "version": true,
	"version_type": true, "if_seq_no": true, "if_primary_term": true,
	"retry_on_conflict": true, "pipeline": true, "_source": true,
	"require_alias": true, "require_data_stream": true, "dynamic_templates": true,
	"list_executed_pipelines": true,
}

// bulk: one KindItem target per item, with the implied action of
// AuthorizationService.authorizeBulkItems. Source lines are not parsed:
// they name no target, and Elasticsearch parses each document strictly
// (duplicates rejected) when it indexes it.
func (c *classifier) bulk() error {
	def := c.rawIndex()
	var defList []string
	if def != "" {
		defList = []string{def}
	}
	l := lines{b: c.body}
	item := 0
	// Items usually repeat a few index names: share one list per name
	// (the slices are never modified) to save two allocations per item.
	seen := make(map[string][]string, 8)
	c.res.Targets = make([]Target, 0, bytes.Count(c.body, []byte{'\n'})/2+1)
	for {
		line, terminated, ok := l.next()
		if !ok {
			return nil
		}
		if blank(line) {
			continue
		}
		if !terminated {
			return ErrBulkNewline
		}
		op, index, hasIndex, err := bulkAction(line)
		if err != nil {
			return err
		}
		t := Target{Action: op, Kind: KindItem, Item: item, FromBody: true}
		switch {
		case hasIndex:
			l, ok := seen[string(index)]
			if !ok {
				l = []string{string(index)}
				if len(seen) < maxInterned {
					seen[l[0]] = l
				}
			}
			t.Indices = l
		case def != "":
			t.Indices, t.FromBody = defList, false
		}
		c.add(t)
		item++
		if op == actionDelete {
			continue
		}
		if _, terminated, ok := l.next(); !ok || !terminated {
			return ErrBulkNewline
		}
	}
}

// maxInterned bounds the index names a bulk request shares lists for.
const maxInterned = 256

// bulkAction parses {"<op>": {meta}} and returns the implied action and
// the item's _index.
func bulkAction(line []byte) (action string, index []byte, hasIndex bool, err error) {
	p := parser{b: line}
	var outer, inner objectIter
	if err := p.openObject(&outer); err != nil {
		return "", nil, false, ErrBulkAction
	}
	op, ok, err := p.nextKey(&outer)
	if err != nil {
		return "", nil, false, err
	}
	if !ok {
		return "", nil, false, ErrBulkAction
	}
	switch string(op) {
	case "index":
		action = actionOpIndex
	case "create":
		action = actionOpCreate
	case "update":
		action = actionUpdate
	case "delete":
		action = actionDelete
	default:
		return "", nil, false, ErrBulkAction
	}
	if err := p.openObject(&inner); err != nil {
		return "", nil, false, ErrBulkAction
	}
	for {
		k, ok, err := p.nextKey(&inner)
		if err != nil {
			return "", nil, false, err
		}
		if !ok {
			break
		}
		if !bulkMeta[string(k)] {
			return "", nil, false, ErrBulkAction
		}
		switch string(k) {
		case "_index":
			if p.peek() != '"' {
				return "", nil, false, ErrBulkAction
			}
			if index, err = p.str(); err != nil {
				return "", nil, false, err
			}
			hasIndex = true
		case "op_type":
			if p.peek() != '"' {
				return "", nil, false, ErrBulkAction
			}
			s, err := p.str()
			if err != nil {
				return "", nil, false, err
			}
			// Only the index action reads op_type, and "create" is the
			// only value that changes it.
			if action == actionOpIndex && string(s) == "create" {
				action = actionOpCreate
			}
		default:
			if err := p.skip(); err != nil {
				return "", nil, false, err
			}
		}
	}
	// Exactly one action per line.
	if _, more, err := p.nextKey(&outer); err != nil || more {
		if err == nil {
			err = ErrBulkAction
		}
		return "", nil, false, err
	}
	return action, index, hasIndex, p.end()
}

// msearchKeys are the header keys MultiSearchRequest accepts besides
// index/indices.
var msearchKeys = map[string]bool{
	"search_type": true, "searchType": true, "ccs_minimize_roundtrips": true,
	"ccsMinimizeRoundtrips": true, "request_cache": true, "requestCache": true,
	"preference": true, "routing": true, "allow_partial_search_results": true,
	"expand_wildcards": true, "expandWildcards": true, "ignore_unavailable": true,
	"ignoreUnavailable": true, "allow_no_indices": true, "allowNoIndices": true,
	"ignore_throttled": true, "ignoreThrottled": true,
}

// msearch: header/body pairs; each search is a KindItem search target on
// the header's index/indices, else the path's.
func (c *classifier) msearch() error {
	def := c.pathIndices()
	l := lines{b: c.body}
	item := 0
	first := true
	for {
		header, terminated, ok := l.next()
		if !ok {
			return nil
		}
		if first && len(header) == 0 && terminated {
			// A leading empty line is skipped (deprecated in Elasticsearch).
			first = false
			continue
		}
		first = false
		if !terminated && blank(header) {
			return nil
		}
		indices, has, err := msearchHeader(header)
		if err != nil {
			return err
		}
		bodyLine, _, ok := l.next()
		if !ok {
			// Elasticsearch drops a header without a body line.
			return nil
		}
		t := Target{Action: actionSearch, Kind: KindItem, Item: item, Indices: def}
		if has {
			t.Indices, t.FromBody = indices, true
		}
		c.add(t)
		if !blank(bodyLine) {
			if err := c.searchBody(bodyLine, KindItem, item, c.r.api == "msearch_template"); err != nil {
				return err
			}
		}
		item++
	}
}

func msearchHeader(line []byte) (indices []string, has bool, err error) {
	if blank(line) {
		return nil, false, nil
	}
	p := parser{b: line}
	err = p.object(func(key []byte) error {
		switch k := string(key); {
		case k == "index" || k == "indices":
			if has {
				// Both keys: Elasticsearch keeps the last; refuse.
				return ErrMsearchHeader
			}
			has = true
			var err error
			indices, err = p.stringList(true)
			return err
		case msearchKeys[k]:
			return p.skip()
		}
		return ErrMsearchHeader
	})
	if err == nil {
		err = p.end()
	}
	return indices, has, err
}

// mget/mtermvectors: one KindItem per doc, on its _index or the path's;
// "ids" use the path's.
func (c *classifier) mget(action string) error {
	def := c.pathIndices()
	if c.body == nil {
		c.add(Target{Action: action, Indices: def})
		return nil
	}
	item := 0
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "docs":
			return p.array(func() error {
				t := Target{Action: action, Kind: KindItem, Item: item, Indices: def}
				item++
				err := p.object(func(k []byte) error {
					if string(k) != "_index" {
						return p.skip()
					}
					s, err := p.stringValue()
					if err != nil {
						return err
					}
					t.Indices, t.FromBody = []string{s}, true
					return nil
				})
				c.add(t)
				return err
			})
		case "ids":
			return p.array(func() error {
				c.add(Target{Action: action, Kind: KindItem, Item: item, Indices: def})
				item++
				return p.skip()
			})
		}
		if action == "indices:data/read/mget[shard]" {
			return ErrBodyShape
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	return p.end()
}

// reindex: search on source.index, index/create on dest.index. A remote
// source or a script (which may rewrite ctx._index) is denied.
func (c *classifier) reindex() error {
	if c.body == nil {
		return ErrBodyShape
	}
	var src, dst []string
	var hasSrc, hasDst bool
	create := false
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "source":
			return p.object(func(k []byte) error {
				switch string(k) {
				case "index":
					var err error
					src, err = p.stringList(true)
					hasSrc = true
					return err
				case "remote":
					c.res.Deny = "reindex from a remote cluster"
				}
				return p.skip()
			})
		case "dest":
			return p.object(func(k []byte) error {
				switch string(k) {
				case "index":
					s, err := p.stringValue()
					dst, hasDst = []string{s}, true
					return err
				case "op_type":
					s, err := p.stringValue()
					if err != nil {
						return err
					}
					switch s {
					case "create":
						create = true
					case "index":
					default:
						return ErrOpType
					}
					return nil
				}
				return p.skip()
			})
		case "script":
			if c.res.Deny == "" {
				c.res.Deny = "reindex script may change the destination index"
			}
		}
		return p.skip()
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return err
	}
	if !hasSrc || !hasDst {
		return ErrBodyShape
	}
	write := actionOpIndex
	if create {
		write = actionOpCreate
	}
	c.add(Target{Action: actionSearch, Indices: src, FromBody: true})
	c.add(Target{Action: write, Indices: dst, FromBody: true})
	return nil
}

// aliases: POST /_aliases actions. Each add/remove is authorized as
// indices:admin/aliases on its indices (KindIndex) and alias names
// (KindAlias); remove_index also as indices:admin/delete, since it deletes
// the index (a deliberate strengthening, fail closed).
func (c *classifier) aliases() error {
	if c.body == nil {
		return ErrBodyShape
	}
	item := 0
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		if string(key) != "actions" {
			return p.skip()
		}
		return p.array(func() error {
			n := 0
			err := p.object(func(op []byte) error {
				if n++; n > 1 {
					return ErrBodyShape
				}
				kind := string(op)
				switch kind {
				case "add", "remove", "remove_index":
				default:
					return ErrBodyShape
				}
				var idx, als []string
				err := p.object(func(k []byte) error {
					switch string(k) {
					case "index", "indices":
						l, err := p.stringList(true)
						idx = append(idx, l...)
						return err
					case "alias", "aliases":
						l, err := p.stringList(true)
						als = append(als, l...)
						return err
					}
					return p.skip()
				})
				if err != nil {
					return err
				}
				c.add(Target{Action: actionAliases, Indices: idx, Kind: KindItem, Item: item, FromBody: true})
				if kind == "remove_index" {
					c.add(Target{Action: actionIndexDel, Indices: idx, Kind: KindItem, Item: item, FromBody: true})
				} else {
					c.add(Target{Action: actionAliases, Indices: als, Kind: KindAlias, Item: item, FromBody: true})
				}
				return nil
			})
			item++
			if err == nil && n == 0 {
				err = ErrBodyShape
			}
			return err
		})
	})
	if err != nil {
		return err
	}
	return p.end()
}

// bodyAliases reads the "aliases" object of create index / resize bodies:
// Elasticsearch authorizes indices:admin/aliases on the index and the
// alias names.
func (c *classifier) bodyAliases(index []string) error {
	if c.body == nil {
		return nil
	}
	var names []string
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		if string(key) != "aliases" {
			return p.skip()
		}
		return p.object(func(k []byte) error {
			names = append(names, string(k))
			return p.skip()
		})
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return err
	}
	if len(names) > 0 {
		c.add(Target{Action: actionAliases, Indices: index})
		c.add(Target{Action: actionAliases, Indices: names, Kind: KindAlias, FromBody: true})
	}
	return nil
}

// scroll: the scroll id from the path, ?scroll_id= or the body (all are
// reported; Elasticsearch lets the body win), and the keep-alive from
// ?scroll or the body's "scroll" (the body wins).
func (c *classifier) scroll() error {
	c.res.Context, c.res.KeepAlive = ContextScroll, c.q.scroll
	if id, ok := c.param("scroll_id"); ok {
		c.res.ContextIDs = append(c.res.ContextIDs, id)
	}
	if c.q.scrollID != "" {
		c.res.ContextIDs = append(c.res.ContextIDs, c.q.scrollID)
	}
	c.add(Target{Action: c.r.action, Kind: KindAnyIndex})
	if c.body == nil {
		return nil
	}
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		switch string(key) {
		case "scroll_id":
			s, err := p.stringValue()
			c.res.ContextIDs = append(c.res.ContextIDs, s)
			return err
		case "scroll":
			if p.peek() != '"' {
				return p.skip()
			}
			s, err := p.stringValue()
			c.res.KeepAlive = s
			return err
		}
		return p.skip()
	})
	if err != nil {
		return err
	}
	return p.end()
}

// actionClearAllScrolls is what Elasticsearch's security authorizes a
// clear scroll naming "_all" as (SecurityActionMapper): a cluster
// privilege, since it frees every user's scrolls.
const actionClearAllScrolls = "cluster:admin/indices/scroll/clear_all"

// clearScroll: ids from the path or ?scroll_id= (comma lists) or the body
// (string or array). One of them "_all" makes the request clear every scroll: it is
// then the cluster action clear_all, with no ids.
func (c *classifier) clearScroll() error {
	c.res.Context = ContextScroll
	if id, ok := c.param("scroll_id"); ok {
		c.res.ContextIDs = append(c.res.ContextIDs, SplitList(id)...)
	}
	if c.q.scrollID != "" {
		// RestClearScrollAction reads request.param("scroll_id"): the
		// query string's too.
		c.res.ContextIDs = append(c.res.ContextIDs, SplitList(c.q.scrollID)...)
	}
	if err := c.idsFromBody("scroll_id", true); err != nil {
		return err
	}
	if slices.Contains(c.res.ContextIDs, "_all") {
		c.res.Action, c.res.Cluster, c.res.ContextIDs = actionClearAllScrolls, true, nil
		return nil
	}
	c.add(Target{Action: c.r.action, Kind: KindAnyIndex})
	return nil
}

func (c *classifier) closePIT() error {
	c.res.Context = ContextPIT
	c.add(Target{Action: c.r.action, Kind: KindAnyIndex})
	return c.idsFromBody("id", false)
}

// sqlCursor: a cursor comes from a SQL query, which only the superuser may
// run (its targets are in the query text); the gateway binds no cursor, so
// closing one is the superuser's too.
func (c *classifier) sqlCursor() error {
	c.res.Context = ContextSQLCursor
	c.res.Deny = "SQL cursors come from SQL queries, which only the superuser may run"
	c.add(Target{Action: c.r.action, Kind: KindAnyIndex})
	return c.idsFromBody("cursor", false)
}

// idsFromBody reads field name (a string, or with list also an array) of
// the body object into ContextIDs.
func (c *classifier) idsFromBody(name string, list bool) error {
	if c.body == nil {
		return nil
	}
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		if string(key) != name {
			return p.skip()
		}
		if list {
			l, err := p.stringList(true)
			c.res.ContextIDs = append(c.res.ContextIDs, l...)
			return err
		}
		s, err := p.stringValue()
		c.res.ContextIDs = append(c.res.ContextIDs, s)
		return err
	})
	if err != nil {
		return err
	}
	return p.end()
}

// doc: the single-document write APIs, authorized like a one-item bulk
// with the implied action (so create_doc cannot overwrite).
func (c *classifier) doc() error {
	action := c.r.action
	switch c.r.body {
	case bodyDocIndex:
		_, hasID := c.param("id")
		switch c.q.opType {
		case "", "index":
			action = actionOpIndex
			if !hasID {
				// POST /{index}/_doc: auto id, always op_type create.
				action = actionOpCreate
			}
		case "create":
			action = actionOpCreate
		default:
			return ErrOpType
		}
	case bodyDocCreate:
		action = actionOpCreate
	case bodyDocUpdate:
		action = actionUpdate
	case bodyDocDelete:
		action = actionDelete
	}
	c.add(Target{Action: action, Indices: []string{c.rawIndex()}})
	return c.validate()
}

// migrateReindex: source.index names the data stream to reindex.
func (c *classifier) migrateReindex() error {
	if c.body == nil {
		return ErrBodyShape
	}
	var src []string
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		if string(key) != "source" {
			return p.skip()
		}
		return p.object(func(k []byte) error {
			if string(k) != "index" {
				return p.skip()
			}
			s, err := p.stringValue()
			src = []string{s}
			return err
		})
	})
	if err == nil {
		err = p.end()
	}
	if err != nil {
		return err
	}
	if src == nil {
		return ErrBodyShape
	}
	c.add(Target{Action: c.r.action, Indices: src, FromBody: true})
	return nil
}

// modifyDataStream: actions[].{add,remove}_backing_index.{data_stream,index}.
func (c *classifier) modifyDataStream() error {
	if c.body == nil {
		return ErrBodyShape
	}
	item := 0
	p := parser{b: c.body}
	err := p.object(func(key []byte) error {
		if string(key) != "actions" {
			return p.skip()
		}
		return p.array(func() error {
			t := Target{Action: actionDSModify, Kind: KindItem, Item: item, FromBody: true}
			item++
			err := p.object(func([]byte) error {
				return p.object(func(k []byte) error {
					switch string(k) {
					case "data_stream", "index":
						s, err := p.stringValue()
						t.Indices = append(t.Indices, s)
						return err
					}
					return p.skip()
				})
			})
			if len(t.Indices) == 0 {
				return ErrBodyShape
			}
			c.add(t)
			return err
		})
	})
	if err != nil {
		return err
	}
	return p.end()
}
