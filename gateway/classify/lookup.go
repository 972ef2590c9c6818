package classify

// Query-DSL lookups: parts of a search body that make Elasticsearch read
// another index as the user (§2.3). Elasticsearch's security authorizes
// each such read; an unsecured cluster runs it unrestricted, so the
// classifier reports every one as a target:
//   - terms lookup {"terms": {"<field>": {"index": …}}}: a get;
//   - geo_shape/shape {"<field>": {"indexed_shape": {"index": …}}}: a get;
//   - percolate {"index": …}: a get;
//   - more_like_this like/unlike docs {"_index": …}: term vectors;
//   - runtime_mappings {"<field>": {"target_index": …}} (lookup fields): a
//     search.
//
// The walk is by key name at any depth, so it also fires where such a key
// means something else (an aggregation named "percolate"): that only adds
// a read check, which fails closed.

const (
	actionGet       = "indices:data/read/get"
	actionMtvShard  = "indices:data/read/mtv[shard]"
	actionSearchLkp = "indices:data/read/search"
)

type lkpCtx uint8

const (
	lkpNone lkpCtx = iota
	lkpTerms
	lkpTermsField
	lkpShape
	lkpShapeField
	lkpIndexedShape
	lkpPercolate
	lkpMLT
	lkpMLTLike
	lkpRuntime
	lkpRuntimeField
)

// lookups walks one JSON value (validating it) and calls add for every
// lookup target found.
type lookups struct {
	p   *parser
	add func(action, index string)
}

func (l *lookups) value(ctx lkpCtx) error {
	p := l.p
	switch p.peek() {
	case '{':
		return p.object(func(key []byte) error { return l.member(ctx, key) })
	case '[':
		// Arrays keep the context only where the DSL takes lists of the
		// same thing (like/unlike).
		next := lkpNone
		if ctx == lkpMLTLike {
			next = lkpMLTLike
		}
		return p.array(func() error { return l.value(next) })
	}
	return p.skip()
}

func (l *lookups) member(ctx lkpCtx, key []byte) error {
	p := l.p
	k := string(key)
	str := func(action string) error {
		if p.peek() != '"' {
			return l.value(lkpNone)
		}
		s, err := p.stringValue()
		if err == nil {
			l.add(action, s)
		}
		return err
	}
	switch ctx {
	case lkpTerms:
		return l.value(lkpTermsField)
	case lkpTermsField:
		if k == "index" {
			return str(actionGet)
		}
	case lkpShape:
		return l.value(lkpShapeField)
	case lkpShapeField:
		if k == "indexed_shape" {
			return l.value(lkpIndexedShape)
		}
	case lkpIndexedShape, lkpPercolate:
		if k == "index" {
			return str(actionGet)
		}
	case lkpMLT:
		if k == "like" || k == "unlike" {
			return l.value(lkpMLTLike)
		}
	case lkpMLTLike:
		if k == "_index" {
			return str(actionMtvShard)
		}
	case lkpRuntime:
		return l.value(lkpRuntimeField)
	case lkpRuntimeField:
		if k == "target_index" {
			return str(actionSearchLkp)
		}
	}
	switch k {
	case "terms":
		return l.value(lkpTerms)
	case "geo_shape", "shape":
		return l.value(lkpShape)
	case "percolate":
		return l.value(lkpPercolate)
	case "more_like_this":
		return l.value(lkpMLT)
	case "runtime_mappings":
		return l.value(lkpRuntime)
	}
	return l.value(lkpNone)
}

// anyString reports whether fn holds for any string (key or value) of the
// JSON value at p, consuming it.
func anyString(p *parser, fn func([]byte) bool) (bool, error) {
	found := false
	var walk func() error
	walk = func() error {
		switch p.peek() {
		case '{':
			return p.object(func(key []byte) error {
				if fn(key) {
					found = true
				}
				return walk()
			})
		case '[':
			return p.array(walk)
		case '"':
			s, err := p.str()
			if err == nil && fn(s) {
				found = true
			}
			return err
		}
		return p.skip()
	}
	err := walk()
	return found, err
}

// unsafeMustache reports a mustache construct that renders without JSON
// escaping, by which template parameters can inject query structure
// (lookups included) that the classifier cannot see.
func unsafeMustache(s []byte) bool {
	for _, m := range []string{"{{{", "{{&", "{{#toJson", "{{#join", "{{#url"} {
		if containsFold(s, m) {
			return true
		}
	}
	return false
}

func containsFold(s []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		ok := true
		for j := 0; j < len(sub); j++ {
			a, b := s[i+j], sub[j]
			if 'A' <= a && a <= 'Z' {
				a += 'a' - 'A'
			}
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			if a != b {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}
