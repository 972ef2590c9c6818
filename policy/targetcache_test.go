package policy

import (
	"fmt"
	"testing"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestTargetsCache(t *testing.T) {
	c := newTargetsCache()
	a := []Target{{Action: "indices:data/read/get", Indices: []string{"logs-1"}}}
	b := []Target{{Action: "indices:data/read/get", Indices: []string{"logs-1", "logs-2"}}}
	ab := []Target{{Action: "indices:data/read/get", Indices: []string{"logs-1"}}, {Action: "x", AnyIndex: true}}

	if got := c.term(nil); got != emptyArray {
		t.Errorf("no targets: %v", got)
	}
	for _, ts := range [][]Target{a, b, ab} {
		first := c.term(ts)
		if want := targetsTerm(ts, identity); first.Value.Compare(want.Value) != 0 {
			t.Errorf("term(%v) = %v, want %v", ts, first, want)
		}
		if again := c.term(ts); again != first {
			t.Errorf("term(%v) built again", ts)
		}
	}
	if c.term(a) == c.term(b) || c.term(a) == c.term(ab) {
		t.Error("different targets share a term")
	}

	// A cached term owns its strings: the request's may point into a
	// buffer that is reused.
	buf := []byte("logs-9")
	ts := []Target{{Action: "indices:data/read/get", Indices: []string{unsafe.String(&buf[0], len(buf))}}}
	term := c.term(ts)
	copy(buf, "xxxx-x")
	if want := ast.MustParseTerm(`[{"action": "indices:data/read/get", "indices": ["logs-9"]}]`); term.Value.Compare(want.Value) != 0 {
		t.Errorf("cached term changed with the request buffer: %v", term)
	}

	// Bounded.
	for i := range 3 * targetsCacheSize {
		c.term([]Target{{Action: "a", Indices: []string{fmt.Sprint(i)}}})
	}
	n := 0
	for i := range c.shards {
		n += len(c.shards[i].m)
	}
	if n > targetsCacheSize {
		t.Errorf("%d entries, want at most %d", n, targetsCacheSize)
	}
}
