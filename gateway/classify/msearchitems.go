package classify

// MsearchItem is one search of an _msearch (or _msearch/template) body,
// cut as Classify cuts it: a header line and the body line after it.
type MsearchItem struct {
	// Start and End delimit the item in the body: body[Start:End] runs from
	// the first byte of the header line to the end of the body line, its
	// '\n' included when it has one (only the last line may lack it).
	Start, End int
	// BlankHeader: the header line is empty or white space (the defaults:
	// the path's indices). An item moved to the start of a body must then
	// be given a header such as "{}": Elasticsearch skips an empty first
	// line.
	BlankHeader bool
	// HeaderEnd is where the body line starts (after the header's '\n').
	HeaderEnd int
}

// Errors of MsearchItems beyond those Classify returns: Elasticsearch
// refuses a body whose last line lacks its '\n', and silently drops a
// header line that ends the body (Classify counts it as a search with an
// empty body: the items could not be matched to Elasticsearch's answers).
var (
	ErrMsearchNewline error = &reason{"The msearch request must be terminated by a newline [\\n]", ErrBadRequest}
	ErrMsearchNoBody  error = &reason{"malformed multi search request: a header line without a body line", ErrBadRequest}
)

// MsearchItems cuts an _msearch body (decompressed) into its searches, in
// order: the n-th is the one Classify's KindItem targets with Item n
// describe. It reads the lines as Classify does (the header lines, not the
// search bodies), and refuses what Elasticsearch's parser would not cut
// into as many searches (ErrMsearchNewline, ErrMsearchNoBody).
func MsearchItems(body []byte) ([]MsearchItem, error) {
	var items []MsearchItem
	l := lines{b: body}
	first := true
	for {
		start := len(body) - len(l.b)
		header, terminated, ok := l.next()
		if !ok {
			return items, nil
		}
		if first && len(header) == 0 && terminated {
			first = false
			continue
		}
		first = false
		if !terminated {
			if len(header) > 0 {
				return nil, ErrMsearchNewline
			}
			return items, nil
		}
		if _, _, err := msearchHeader(header); err != nil {
			return nil, err
		}
		headerEnd := len(body) - len(l.b)
		line, terminated, _ := l.next()
		if !terminated {
			if len(line) > 0 {
				return nil, ErrMsearchNewline
			}
			return nil, ErrMsearchNoBody
		}
		items = append(items, MsearchItem{Start: start, End: len(body) - len(l.b), HeaderEnd: headerEnd, BlankHeader: blank(header)})
	}
}
