package policy

import (
	"fmt"
	"hash/maphash"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Decision cache.
//
// Evaluating the policy costs tens of microseconds of OPA's evaluator
// whatever the number of constraints; most requests repeat a few
// (roles, method, path) combinations. When the compiled policy reads nothing
// of the input but the fields in cacheKeyRefs and calls no nondeterministic
// builtin (time.now_ns, ...), its decision is a pure function of those
// fields, and a decision cached under them is exactly the decision a new
// evaluation would return. cacheable decides that when a policy is compiled;
// a policy reading anything else (a deny rule on input.request.source_ip,
// say) gets no cache. A cache belongs to one prepared policy and is dropped
// with it, so a change of constraints or policy never serves an old decision.

// cacheKeyRefs are the input fields a cached decision is keyed by.
var cacheKeyRefs = []ast.Ref{
	ast.MustParseRef("input.user.roles"),
	ast.MustParseRef("input.request.method"),
	ast.MustParseRef("input.request.path"),
	ast.MustParseRef("input.request.path_prefixes"),
	ast.MustParseRef("input.request.kind"),
	ast.MustParseRef("input.request.privilege"),
	ast.MustParseRef("input.request.targets"),
}

// DefaultDecisionCacheSize is the number of decisions cached by default.
const DefaultDecisionCacheSize = 16384

// cacheShards spreads the cache over locks, so that requests do not all
// contend on one.
const cacheShards = 64

// cacheable reports whether decisions of the policy compiled in c depend
// only on cacheKeyRefs; when not, why says what else they depend on.
func cacheable(c *ast.Compiler) (ok bool, why string) {
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		if name == generatedName {
			continue // constants only
		}
		ast.WalkTerms(c.Modules[name], func(t *ast.Term) bool {
			switch v := t.Value.(type) {
			case ast.Ref:
				if v.HasPrefix(ast.InputRootRef) && !slices.ContainsFunc(cacheKeyRefs, v.HasPrefix) {
					why = "the policy reads " + v.String()
				}
			case ast.Call:
				why = nondeterministic(v[0])
			}
			return why != ""
		})
		ast.WalkExprs(c.Modules[name], func(e *ast.Expr) bool {
			if why == "" && e.IsCall() {
				why = nondeterministic(e.Operator())
			}
			return why != ""
		})
		if why != "" {
			return false, why
		}
	}
	return true, ""
}

// nondeterministic returns a reason if operator names a nondeterministic
// builtin, else "".
func nondeterministic(operator any) string {
	name := fmt.Sprint(operator)
	if b, ok := ast.BuiltinMap[name]; ok && b.IsNondeterministic() {
		return "the policy calls " + name
	}
	return ""
}

// decisionCache is a bounded map from the key fields of an input to a
// decision. Safe for concurrent use.
type decisionCache struct {
	seed     maphash.Seed
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[uint64]*cacheEntry // guarded by mu
	_  [40]byte               // keep shards on separate cache lines
}

// cacheEntry holds copies of the key fields, compared in full on lookup:
// the hash only finds the slot.
type cacheEntry struct {
	method, path, kind, privilege string
	targets                       string // targetsKey
	roles                         []string
	d                             Decision
}

func newDecisionCache(size int) *decisionCache {
	c := &decisionCache{seed: maphash.MakeSeed(), perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]*cacheEntry)
	}
	return c
}

func (c *decisionCache) hash(in *Input, method string) uint64 {
	// The hash only finds the slot: get compares in full.
	h := uint64(len(in.User.Roles))
	for _, s := range [...]string{method, in.Request.Path, in.Request.Kind, in.Request.Privilege} {
		h = mix(c.seed, h, s)
	}
	h = hashTargets(c.seed, in.Request.Targets) ^ h*0x9e3779b97f4a7c15
	for _, r := range in.User.Roles {
		h = mix(c.seed, h, r)
	}
	return h
}

// get returns the decision cached for in, whose method is upper-cased. It
// allocates nothing.
func (c *decisionCache) get(in *Input, method string) (Decision, uint64, bool) {
	h := c.hash(in, method)
	s := &c.shards[h%cacheShards]
	s.mu.RLock()
	e := s.m[h]
	s.mu.RUnlock()
	if e == nil || e.method != method || e.path != in.Request.Path || e.kind != in.Request.Kind ||
		e.privilege != in.Request.Privilege || !targetsKeyEqual(e.targets, in.Request.Targets) || !slices.Equal(e.roles, in.User.Roles) {
		return Decision{}, h, false
	}
	return e.d, h, true
}

// put caches d for in under hash h (from get). It copies the strings of in,
// which may point into a request buffer the caller reuses.
func (c *decisionCache) put(h uint64, in *Input, method string, d Decision) {
	roles := make([]string, len(in.User.Roles))
	for i, r := range in.User.Roles {
		roles[i] = strings.Clone(r)
	}
	e := &cacheEntry{
		method:    strings.Clone(method),
		path:      strings.Clone(in.Request.Path),
		kind:      strings.Clone(in.Request.Kind),
		privilege: strings.Clone(in.Request.Privilege),
		targets:   targetsKey(in.Request.Targets), // its own memory
		roles:     roles,
		d:         d, // decision() copied its strings
	}
	s := &c.shards[h%cacheShards]
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		for k := range s.m { // evict one entry; map order is random
			delete(s.m, k)
			break
		}
	}
	s.m[h] = e
	s.mu.Unlock()
}
