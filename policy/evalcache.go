package policy

import (
	"slices"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Evaluation caches.
//
// Within one evaluation, OPA memoises the value of every rule it evaluates
// (the virtual cache) and of every base document it reads (the base cache).
// Its own virtual cache is a trie of hash maps, one map per reference
// segment: a decision touching a dozen rules builds some thirty maps, each
// thrown away when the decision is made, a fifth of the allocations of a
// decision. A decision caches a few dozen references at most, so
// frameCache keeps them in one slice searched linearly, and evaluations
// reuse it: after the first decisions, memoisation allocates nothing.

// frameCache implements topdown.VirtualCache: a stack of frames (a `with`
// pushes one), each a list of (reference, value) pairs searched linearly.
// Not safe for concurrent use: one evaluation at a time holds it.
type frameCache struct {
	entries []cacheSlot
	frames  []int       // index in entries of the first slot of each frame
	refs    []*ast.Term // backing store of the slots' references

	// memo holds the values of pure function calls of earlier
	// evaluations (memo.go), nil if none; staged are the slots this
	// evaluation adds to it if it succeeds.
	memo   *memo
	staged []int
}

type cacheSlot struct {
	ref       ast.Ref
	value     *ast.Term
	undefined bool
}

var _ topdown.VirtualCache = (*frameCache)(nil)

// maxRetained bounds what a pooled frameCache keeps between evaluations, so
// that one unusual evaluation does not pin its memory in the pool.
const maxRetained = 1024

var frameCaches = sync.Pool{New: func() any {
	c := &frameCache{entries: make([]cacheSlot, 0, 32), refs: make([]*ast.Term, 0, 128)}
	c.Push()
	return c
}}

// getFrameCache returns an empty frameCache backed by m (which may be nil).
func getFrameCache(m *memo) *frameCache {
	c := frameCaches.Get().(*frameCache)
	c.memo = m
	return c
}

// release clears c, which must not be used any more, and pools it. If the
// evaluation succeeded (commit), the function values it computed go to the
// memo first. Values are cleared: they may hold strings of the input, which
// the caller owns.
func (c *frameCache) release(commit bool) {
	if commit {
		for _, i := range c.staged {
			c.memo.put(c.entries[i].ref, c.entries[i].value)
		}
	}
	c.memo = nil
	if cap(c.entries) > maxRetained || cap(c.refs) > 4*maxRetained || cap(c.frames) > maxRetained || cap(c.staged) > maxRetained {
		return
	}
	clear(c.entries[:cap(c.entries)])
	clear(c.refs[:cap(c.refs)])
	c.entries, c.refs, c.frames, c.staged = c.entries[:0], c.refs[:0], c.frames[:0], c.staged[:0]
	c.Push()
	frameCaches.Put(c)
}

// Push implements topdown.VirtualCache.
func (c *frameCache) Push() { c.frames = append(c.frames, len(c.entries)) }

// Pop implements topdown.VirtualCache.
func (c *frameCache) Pop() {
	top := c.frames[len(c.frames)-1]
	c.staged = slices.DeleteFunc(c.staged, func(i int) bool { return i >= top })
	clear(c.entries[top:])
	c.entries = c.entries[:top]
	c.frames = c.frames[:len(c.frames)-1]
}

// find returns the slot of ref in the top frame, or nil.
func (c *frameCache) find(ref ast.Ref) *cacheSlot {
	for i := len(c.entries) - 1; i >= c.frames[len(c.frames)-1]; i-- {
		if s := &c.entries[i]; refEqual(s.ref, ref) {
			return s
		}
	}
	return nil
}

// refEqual compares references term by term, from the last: references of
// one evaluation mostly share their first terms (data.portcullis...).
func refEqual(a, b ast.Ref) bool {
	if len(a) != len(b) {
		return false
	}
	for i := len(a) - 1; i >= 0; i-- {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return true
}

// Get implements topdown.VirtualCache: the value cached for ref; nil, true
// if ref was recorded undefined; nil, false if it was not recorded.
func (c *frameCache) Get(ref ast.Ref) (*ast.Term, bool) {
	s := c.find(ref)
	if s == nil {
		if c.memo != nil && len(c.frames) == 1 && c.memo.eligible(ref) {
			return c.memo.get(ref), false
		}
		return nil, false
	}
	if s.undefined {
		return nil, true
	}
	return s.value, false
}

// Put implements topdown.VirtualCache: a nil value records ref undefined.
// ref is copied: the evaluator reuses the slice.
func (c *frameCache) Put(ref ast.Ref, value *ast.Term) {
	s := c.find(ref)
	if s == nil {
		start := len(c.refs)
		c.refs = append(c.refs, ref...)
		c.entries = append(c.entries, cacheSlot{ref: ast.Ref(c.refs[start:len(c.refs):len(c.refs)])})
		s = &c.entries[len(c.entries)-1]
		if value != nil && c.memo != nil && len(c.frames) == 1 && c.memo.eligible(ref) {
			c.staged = append(c.staged, len(c.entries)-1)
		}
	}
	if value != nil {
		s.value = value
	} else {
		s.undefined = true
	}
}

// Keys implements topdown.VirtualCache: the references with a value in the
// top frame.
func (c *frameCache) Keys() []ast.Ref {
	var keys []ast.Ref
	for _, s := range c.entries[c.frames[len(c.frames)-1]:] {
		if s.value != nil {
			keys = append(keys, slices.Clone(s.ref))
		}
	}
	return keys
}

// noBaseCache implements topdown.BaseCache by caching nothing. The base
// cache spares repeated conversions of documents read from the store; the
// policy's store is empty (everything it reads is a rule, in the virtual
// cache), so a real one would only be allocated and dropped per decision.
type noBaseCache struct{}

var _ topdown.BaseCache = noBaseCache{}

func (noBaseCache) Get(ast.Ref) ast.Value  { return nil }
func (noBaseCache) Put(ast.Ref, ast.Value) {}
