package classify

// BulkItem is one item of a _bulk body, cut as Classify cuts it (and as
// Elasticsearch's BulkRequestParser does): its action line and, unless it
// is a delete, the source line that follows.
type BulkItem struct {
	// Start and End delimit the item in the body: body[Start:End] runs from
	// the first byte of the action line to the '\n' ending the source line
	// (the action line for a delete), included, byte for byte as sent.
	Start, End int
	// Op is the key the bulk response files the item's result under:
	// "index", "create" (an index action with op_type create included),
	// "update" or "delete".
	Op string
	// Index is the action line's _index; "" when it has none (the path's
	// index applies).
	Index string
	// ID is the action line's _id as Elasticsearch reads it (a string's
	// content, a number's or boolean's text); HasID is false when there is
	// none (absent, null, or not a simple value).
	ID    string
	HasID bool
}

// BulkItems cuts a _bulk body (decompressed) into its items, in order: the
// n-th is the one Classify's KindItem target with Item n describes. It
// accepts and rejects exactly the bodies Classify accepts and rejects for
// the bulk API, with the same errors.
func BulkItems(body []byte) ([]BulkItem, error) {
	var items []BulkItem
	l := lines{b: body}
	for {
		start := len(body) - len(l.b)
		line, terminated, ok := l.next()
		if !ok {
			return items, nil
		}
		if blank(line) {
			continue
		}
		if !terminated {
			return nil, ErrBulkNewline
		}
		action, index, hasIndex, err := bulkAction(line)
		if err != nil {
			return nil, err
		}
		it := BulkItem{Start: start, Op: opName(action)}
		if hasIndex {
			it.Index = string(index)
		}
		it.ID, it.HasID = bulkItemID(line)
		if action != actionDelete {
			if _, terminated, ok := l.next(); !ok || !terminated {
				return nil, ErrBulkNewline
			}
		}
		it.End = len(body) - len(l.b)
		items = append(items, it)
	}
}

// opName is the response key of an item whose implied action is action.
func opName(action string) string {
	switch action {
	case actionOpCreate:
		return "create"
	case actionUpdate:
		return "update"
	case actionDelete:
		return "delete"
	}
	return "index"
}

// bulkItemID reads the _id of an action line bulkAction accepted.
func bulkItemID(line []byte) (string, bool) {
	p := parser{b: line}
	var outer, inner objectIter
	if p.openObject(&outer) != nil {
		return "", false
	}
	if _, ok, err := p.nextKey(&outer); err != nil || !ok {
		return "", false
	}
	if p.openObject(&inner) != nil {
		return "", false
	}
	for {
		k, ok, err := p.nextKey(&inner)
		if err != nil || !ok {
			return "", false
		}
		if string(k) != "_id" {
			if p.skip() != nil {
				return "", false
			}
			continue
		}
		switch c := p.peek(); {
		case c == '"':
			s, err := p.str()
			return string(s), err == nil
		case c == 't' || c == 'f' || c == '-' || ('0' <= c && c <= '9'):
			start := p.i
			if p.skip() != nil {
				return "", false
			}
			return string(line[start:p.i]), true
		}
		return "", false
	}
}
