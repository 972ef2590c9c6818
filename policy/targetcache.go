package policy

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// targetsCache keeps the input terms of the request targets seen lately
// (input.request.targets): a workload reads and writes a few indices with a
// few actions, and building the term (an object and an array per target)
// costs more than finding it. Terms are values the policy never changes, so
// evaluations share them; a cached term owns its strings. Bounded; safe for
// concurrent use.
type targetsCache struct {
	seed     maphash.Seed
	perShard int
	shards   [targetsShards]targetsShard
}

const (
	targetsShards = 16
	// targetsCacheSize is the number of target lists kept.
	targetsCacheSize = 4096
)

type targetsShard struct {
	mu sync.RWMutex
	m  map[uint64]targetsEntry // guarded by mu
	_  [40]byte                // keep shards on separate cache lines
}

type targetsEntry struct {
	key  string // targetsKey: compared in full, the hash only finds the slot
	term *ast.Term
}

func newTargetsCache() *targetsCache {
	c := &targetsCache{seed: maphash.MakeSeed(), perShard: targetsCacheSize / targetsShards}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]targetsEntry)
	}
	return c
}

// term returns the term of ts, cached or built (and cached).
func (c *targetsCache) term(ts []Target) *ast.Term {
	if len(ts) == 0 {
		return emptyArray
	}
	var h maphash.Hash
	h.SetSeed(c.seed)
	for _, t := range ts {
		h.WriteString(t.Action)
		for _, s := range t.Indices {
			h.WriteByte(0)
			h.WriteString(s)
		}
		h.WriteByte(1)
	}
	sum := h.Sum64()
	s := &c.shards[sum%targetsShards]
	s.mu.RLock()
	e, ok := s.m[sum]
	s.mu.RUnlock()
	if ok && targetsKeyEqual(e.key, ts) {
		return e.term
	}
	e = targetsEntry{key: targetsKey(ts), term: targetsTerm(ts, strings.Clone)}
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		for k := range s.m { // evict one entry; map order is random
			delete(s.m, k)
			break
		}
	}
	s.m[sum] = e
	s.mu.Unlock()
	return e.term
}
