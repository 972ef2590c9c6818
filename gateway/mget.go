package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/gateway/classify"
	"github.com/portcullis/portcullis/internal/jsonstr"
)

// _mget docs: see items.go. Elasticsearch authorizes each shard request
// (indices:data/read/mget[shard]) on its index, and renders a doc of a
// refused one in "docs" as {"_index","_id","error":{"root_cause":[…],…}}.

// mgetBody is an _mget body cut into its docs: the members of its object
// in order, "docs" and "ids" as their elements.
type mgetBody struct {
	members []mgetMember
	n       int
	ids     []string
	hasID   []bool
	indices []string // each doc's index, "" none
}

type mgetMember struct {
	key   string
	raw   json.RawMessage   // a member other than docs and ids
	elems []json.RawMessage // the elements of docs or ids
	first int               // the item number of elems[0]
}

// cutMget reads the body Classify accepted, numbering docs as it does:
// the elements of "docs" and "ids" in the order they come.
func cutMget(plain []byte, res classify.Result) (multiBody, error) {
	b := &mgetBody{}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("malformed multi get request")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("malformed multi get request: %w", err)
		}
		key, _ := tok.(string)
		m := mgetMember{key: key, first: b.n}
		if key != "docs" && key != "ids" {
			if err := dec.Decode(&m.raw); err != nil {
				return nil, fmt.Errorf("malformed multi get request: %w", err)
			}
			b.members = append(b.members, m)
			continue
		}
		if err := dec.Decode(&m.elems); err != nil {
			return nil, fmt.Errorf("malformed multi get request: %w", err)
		}
		for _, e := range m.elems {
			id, ok := mgetID(key, e)
			b.ids, b.hasID = append(b.ids, id), append(b.hasID, ok)
			b.n++
		}
		b.members = append(b.members, m)
	}
	b.indices = make([]string, b.n)
	for _, t := range res.Targets {
		if t.Item < b.n && len(t.Indices) > 0 {
			b.indices[t.Item] = t.Indices[0]
		}
	}
	return b, nil
}

// mgetID is the id of a docs element ({"_id": …}) or an ids element, as
// Elasticsearch reads it (a string's content, a number's text).
func mgetID(key string, e json.RawMessage) (string, bool) {
	v := e
	if key == "docs" {
		var doc map[string]json.RawMessage
		if json.Unmarshal(e, &doc) != nil {
			return "", false
		}
		var ok bool
		if v, ok = doc["_id"]; !ok {
			return "", false
		}
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	d := json.NewDecoder(bytes.NewReader(v))
	d.UseNumber()
	var n json.Number
	if d.Decode(&n) == nil {
		return n.String(), true
	}
	return "", false
}

func (b *mgetBody) count() int { return b.n }

// invalid: MultiGetRequest.validate, doc by doc.
func (b *mgetBody) invalid() string {
	var s strings.Builder
	n := 0
	add := func(msg string) {
		n++
		if n == 1 {
			s.WriteString("Validation Failed: ")
		}
		s.WriteString(strconv.Itoa(n) + ": " + msg + ";")
	}
	for i := range b.n {
		if b.indices[i] == "" {
			add("index is missing for doc " + strconv.Itoa(i))
		}
		if !b.hasID[i] {
			add("id is missing for doc " + strconv.Itoa(i))
		}
	}
	return s.String()
}

// forward is the object with the refused docs left out of docs and ids,
// every other member as it was.
func (b *mgetBody) forward(refused map[int]*itemRefusal) []byte {
	out := []byte{'{'}
	for i, m := range b.members {
		if i > 0 {
			out = append(out, ',')
		}
		out = jsonstr.AppendJackson(out, m.key)
		out = append(out, ':')
		if m.elems == nil {
			out = append(out, m.raw...)
			continue
		}
		out = append(out, '[')
		n := 0
		for j, e := range m.elems {
			if _, ok := refused[m.first+j]; ok {
				continue
			}
			if n > 0 {
				out = append(out, ',')
			}
			out = append(out, e...)
			n++
		}
		out = append(out, ']')
	}
	return append(out, '}')
}

func (b *mgetBody) render(i int, rf *itemRefusal) []byte {
	out := make([]byte, 0, 96+2*len(rf.reason))
	out = append(out, `{"_index":`...)
	out = jsonstr.AppendJackson(out, b.indices[i])
	out = append(out, `,"_id":`...)
	if b.hasID[i] {
		out = jsonstr.AppendJackson(out, b.ids[i])
	} else {
		out = append(out, "null"...)
	}
	out = append(out, `,"error":`...)
	out = appendSecurityError(out, rf, true)
	return append(out, '}')
}
