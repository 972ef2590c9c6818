package projector

import (
	"container/heap"
	"fmt"
	"sync"
	"time"

	"github.com/portcullis/portcullis/events"
)

// Defaults of the context binding limits (Config.MaxContexts,
// Config.MaxContextsPerOwner).
const (
	DefaultMaxContexts         = 1 << 17
	DefaultMaxContextsPerOwner = 1 << 12
)

// contextPurgeGrace is how long after its expiry a binding survives the
// purge an opened event triggers: the event's time is its replica's clock,
// which may run ahead of the replica that will be asked for the binding.
const contextPurgeGrace = time.Minute

// Context binds a scroll, point-in-time or async search id to the user who
// created it (the gateway refuses it to anybody else, as Elasticsearch
// does with security on). The id is known by its SHA-256 only. Values are
// immutable once published: a renewal makes a new *Context.
type Context struct {
	Hash      [32]byte
	Kind      string // events.ContextScroll, ContextPIT or ContextAsync
	Owner     events.ContextOwner
	ExpiresAt time.Time
}

// FoldContext returns the binding after ev: opened makes it, or renews it
// (the later expiry wins) when it exists with the same owner and kind;
// closed removes it (nil). Opened over a binding of another owner or kind,
// or closed by another owner, is ErrInconsistent, with cur unchanged: the
// first binding of an id stands. Closing a binding that is not there is
// not an error (it may have expired, or been closed through another
// replica). An opened event without digest, kind, owner or expiry, or of
// an unknown kind, is ErrMalformed.
func FoldContext(cur *Context, ev events.Event) (*Context, error) {
	if !kindOf(ev.Type).isContext() {
		return cur, nil
	}
	r, err := decodeEvent(ev)
	if err != nil {
		return cur, err
	}
	return foldContext(cur, r)
}

func foldContext(cur *Context, r record) (*Context, error) {
	switch p := r.payload.(type) {
	case *contextOpened:
		switch {
		case p.hash == [32]byte{} || p.owner.Username == "" || p.owner.RealmType == "" || p.expiresAt.IsZero():
			return cur, fmt.Errorf("%w: context opened without id hash, owner or expiry", ErrMalformed)
		case p.kind != events.ContextScroll && p.kind != events.ContextPIT && p.kind != events.ContextAsync:
			return cur, fmt.Errorf("%w: context opened of unknown kind %q", ErrMalformed, p.kind)
		case cur == nil:
			return &Context{Hash: p.hash, Kind: p.kind, Owner: p.owner, ExpiresAt: p.expiresAt}, nil
		case cur.Hash != p.hash:
			return cur, fmt.Errorf("%w: context opened with another hash", ErrInconsistent)
		case cur.Owner != p.owner || cur.Kind != p.kind:
			return cur, fmt.Errorf("%w: %s context of %q opened again for %q as %s", ErrInconsistent, cur.Kind, cur.Owner.Username, p.owner.Username, p.kind)
		case !p.expiresAt.After(cur.ExpiresAt):
			return cur, nil
		}
		next := *cur
		next.ExpiresAt = p.expiresAt
		return &next, nil
	case *contextClosed:
		switch {
		case cur == nil:
			return nil, nil
		case cur.Hash != p.hash:
			return cur, fmt.Errorf("%w: context closed with another hash", ErrInconsistent)
		case cur.Owner != p.owner:
			return cur, fmt.Errorf("%w: %s context of %q closed by %q", ErrInconsistent, cur.Kind, cur.Owner.Username, p.owner.Username)
		}
		return nil, nil
	}
	return cur, nil
}

type contextShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*Context // guarded by mu; written only by the writer
	_  [64 - 24 - 8]byte
}

// contextLimits bound the bindings a model holds.
type contextLimits struct {
	max, perOwner int
}

// contextTable is the writer's index of the bindings: a min-heap by expiry
// (purged by event time, so every replica folding the same events holds
// the same bindings, whatever its clock) and the count per owner. Owned by
// the writer, no lock.
type contextTable struct {
	limits  contextLimits
	heap    contextHeap
	nodes   map[[32]byte]*contextNode
	byOwner map[events.ContextOwner]int
}

type contextNode struct {
	hash    [32]byte
	owner   events.ContextOwner
	expires time.Time
	index   int
}

// contextHeap orders nodes by expiry, then digest: a total order, so the
// purge is the same on every replica.
type contextHeap []*contextNode

func (h contextHeap) Len() int { return len(h) }
func (h contextHeap) Less(i, j int) bool {
	if c := h[i].expires.Compare(h[j].expires); c != 0 {
		return c < 0
	}
	return string(h[i].hash[:]) < string(h[j].hash[:])
}
func (h contextHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *contextHeap) Push(x any) {
	n := x.(*contextNode)
	n.index = len(*h)
	*h = append(*h, n)
}
func (h *contextHeap) Pop() any {
	old := *h
	n := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return n
}

func (m *Model) contextShard(hash *[32]byte) *contextShard {
	return &m.contexts[hash[0]&(shardCount-1)]
}

// Context returns the binding of the context id whose SHA-256 is hash, if
// there is one that has not expired at now. Callers that allow clock skew
// pass now minus the skew. The *Context is shared and must not be
// modified. It does not allocate.
func (m *Model) Context(hash [32]byte, now time.Time) (*Context, bool) {
	s := m.contextShard(&hash)
	s.mu.RLock()
	c := s.m[hash]
	s.mu.RUnlock()
	if c == nil || !now.Before(c.ExpiresAt) {
		return nil, false
	}
	return c, true
}

// Contexts returns how many context bindings the model holds, expired ones
// not purged yet included.
func (m *Model) Contexts() int { return len(m.ctx.nodes) }

// SetContextLimits sets how many context bindings the model holds at most,
// in all and per owner (0: the default). An opened event beyond either
// limit is refused (ErrContextLimit). Call it before the first Apply.
func (m *Model) SetContextLimits(max, perOwner int) {
	if max <= 0 {
		max = DefaultMaxContexts
	}
	if perOwner <= 0 {
		perOwner = DefaultMaxContextsPerOwner
	}
	m.ctx.limits = contextLimits{max: max, perOwner: perOwner}
}

func (m *Model) applyContext(r record) (Change, error) {
	var hash [32]byte
	switch p := r.payload.(type) {
	case *contextOpened:
		hash = p.hash
		// Bindings expired as of this event leave first: the purge depends
		// on the log alone.
		m.purgeContexts(p.time.Add(-contextPurgeGrace))
	case *contextClosed:
		hash = p.hash
	}
	s := m.contextShard(&hash)
	cur := s.m[hash] // the writer reads without the lock
	next, err := foldContext(cur, r)
	if err != nil {
		return ChangeNone, err
	}
	if next == cur {
		return ChangeNone, nil
	}
	t := &m.ctx
	switch {
	case cur == nil:
		if len(t.nodes) >= t.limits.max {
			return ChangeNone, fmt.Errorf("%w: %d context bindings", ErrContextLimit, len(t.nodes))
		}
		if t.byOwner[next.Owner] >= t.limits.perOwner {
			return ChangeNone, fmt.Errorf("%w: %d context bindings of %q", ErrContextLimit, t.byOwner[next.Owner], next.Owner.Username)
		}
		n := &contextNode{hash: hash, owner: next.Owner, expires: next.ExpiresAt}
		heap.Push(&t.heap, n)
		t.nodes[hash] = n
		t.byOwner[next.Owner]++
	case next == nil:
		m.dropContextNode(t.nodes[hash])
	default:
		n := t.nodes[hash]
		n.expires = next.ExpiresAt
		heap.Fix(&t.heap, n.index)
	}
	s.mu.Lock()
	if next == nil {
		delete(s.m, hash)
	} else {
		s.m[hash] = next
	}
	s.mu.Unlock()
	return ChangeContext, nil
}

// loadContext adds a binding read from a snapshot, within the limits, as
// its opened event did. Writer only (before the first Apply).
func (m *Model) loadContext(c *Context) error {
	t := &m.ctx
	switch {
	case c.Hash == [32]byte{} || c.Owner.Username == "" || c.Owner.RealmType == "" || c.ExpiresAt.IsZero():
		return fmt.Errorf("context binding without id hash, owner or expiry")
	case c.Kind != events.ContextScroll && c.Kind != events.ContextPIT && c.Kind != events.ContextAsync:
		return fmt.Errorf("context binding of unknown kind %q", c.Kind)
	case t.nodes[c.Hash] != nil:
		return fmt.Errorf("duplicate context binding")
	case len(t.nodes) >= t.limits.max || t.byOwner[c.Owner] >= t.limits.perOwner:
		return fmt.Errorf("context bindings beyond the limits")
	}
	n := &contextNode{hash: c.Hash, owner: c.Owner, expires: c.ExpiresAt}
	heap.Push(&t.heap, n)
	t.nodes[c.Hash] = n
	t.byOwner[c.Owner]++
	s := m.contextShard(&c.Hash)
	s.mu.Lock()
	s.m[c.Hash] = c
	s.mu.Unlock()
	return nil
}

// dropContextNode removes n from the writer's index (not from the shard).
func (m *Model) dropContextNode(n *contextNode) {
	t := &m.ctx
	heap.Remove(&t.heap, n.index)
	delete(t.nodes, n.hash)
	if t.byOwner[n.owner]--; t.byOwner[n.owner] <= 0 {
		delete(t.byOwner, n.owner)
	}
}

// purgeContexts drops the bindings that expired at or before ref.
func (m *Model) purgeContexts(ref time.Time) {
	t := &m.ctx
	for len(t.heap) > 0 && !t.heap[0].expires.After(ref) {
		n := t.heap[0]
		m.dropContextNode(n)
		s := m.contextShard(&n.hash)
		s.mu.Lock()
		delete(s.m, n.hash)
		s.mu.Unlock()
	}
}
