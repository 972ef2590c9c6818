package policy

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Memoised functions.
//
// Within one evaluation OPA remembers the value of each function call (its
// virtual cache); memo carries these values over to the next evaluations,
// for the functions of the policy that are pure: they read no input (only
// their arguments and the policy's constant documents) and call no
// nondeterministic builtin. Such a function has one value per argument list
// for the life of a compiled policy, so a remembered value is the value a
// new call would compute. rego/authz.rego's role_grants_index(role, action,
// index), which matches a role's privileges against an action and an index,
// costs then one lookup per request instead of a glob match per privilege
// pattern.
//
// Only calls whose arguments are all scalars (strings, numbers, booleans,
// null) are remembered: comparing them is cheap, and they cannot hold much.
// A value is remembered once the evaluation that computed it has succeeded
// (an evaluation that fails, a conflict among a function's definitions
// say, remembers nothing). Arguments and values are copied, strings
// included: they may be strings of a request, which the caller owns. A
// policy using `with` anywhere gets no memo, as it gets no precomputed
// rules (fold.go). Undefined results are not remembered (OPA's cache does
// not record them): a pure function meant to be memoised is made total,
// `else := false`.

// memoFunc is a memoisable function: its path and its number of
// arguments.
type memoFunc struct {
	path  ast.Ref
	arity int
}

// memoShards spreads the memo over locks.
const memoShards = 32

// DefaultMemoSize is the number of function calls a compiled policy
// remembers.
const DefaultMemoSize = 16384

// memo remembers the values of calls of pure functions across
// evaluations of one compiled policy. Safe for concurrent use.
type memo struct {
	funcs    []memoFunc
	perShard int
	shards   [memoShards]memoShard
}

type memoShard struct {
	mu sync.RWMutex
	m  map[int][]memoEntry // by ref hash; guarded by mu
	n  int                 // entries; guarded by mu
}

type memoEntry struct {
	key   ast.Ref
	value *ast.Term
}

func newMemo(funcs []memoFunc, size int) *memo {
	if len(funcs) == 0 || size <= 0 {
		return nil
	}
	m := &memo{funcs: funcs, perShard: max(1, size/memoShards)}
	for i := range m.shards {
		m.shards[i].m = map[int][]memoEntry{}
	}
	return m
}

// eligible reports whether ref, a virtual cache key, is a call of a memoised
// function with scalar arguments. OPA keys a call f(a, b) by the reference
// [f, a, b], f being the function's path.
func (m *memo) eligible(ref ast.Ref) bool {
	if len(ref) == 0 {
		return false
	}
	fn, ok := ref[0].Value.(ast.Ref)
	if !ok {
		return false
	}
	for _, f := range m.funcs {
		if len(ref) != 1+f.arity || !refEqual(fn, f.path) {
			continue
		}
		for _, arg := range ref[1:] {
			if !ast.IsScalar(arg.Value) {
				return false
			}
		}
		return true
	}
	return false
}

// get returns the value remembered for ref, or nil.
func (m *memo) get(ref ast.Ref) *ast.Term {
	h := ref.Hash()
	s := &m.shards[uint(h)%memoShards]
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, e := range s.m[h] {
		if refEqual(e.key, ref) {
			return e.value
		}
	}
	return nil
}

// put remembers value for ref; both are copied. When the shard is full an
// arbitrary entry makes room.
func (m *memo) put(ref ast.Ref, value *ast.Term) {
	h := ref.Hash()
	s := &m.shards[uint(h)%memoShards]
	key, v := detachRef(ref), detach(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.m[h], func(e memoEntry) bool { return refEqual(e.key, ref) }) {
		return
	}
	if s.n >= m.perShard {
		for k, es := range s.m { // map order is random
			s.n -= len(es)
			delete(s.m, k)
			break
		}
	}
	s.m[h] = append(s.m[h], memoEntry{key: key, value: v})
	s.n++
}

func detachRef(ref ast.Ref) ast.Ref {
	out := make(ast.Ref, len(ref))
	for i, t := range ref {
		out[i] = detach(t)
	}
	return out
}

// detach returns a deep copy of the ground term t that shares no string
// with it.
func detach(t *ast.Term) *ast.Term {
	switch v := t.Value.(type) {
	case ast.String:
		return ast.StringTerm(strings.Clone(string(v)))
	case ast.Number:
		return ast.NewTerm(ast.Number(strings.Clone(string(v))))
	case ast.Boolean, ast.Null:
		return t
	case *ast.Array:
		elems := make([]*ast.Term, v.Len())
		for i := range elems {
			elems[i] = detach(v.Elem(i))
		}
		return ast.ArrayTerm(elems...)
	case ast.Set:
		elems := make([]*ast.Term, 0, v.Len())
		v.Foreach(func(e *ast.Term) { elems = append(elems, detach(e)) })
		return ast.SetTerm(elems...)
	case ast.Object:
		items := make([][2]*ast.Term, 0, v.Len())
		v.Foreach(func(k, e *ast.Term) { items = append(items, [2]*ast.Term{detach(k), detach(e)}) })
		return ast.ObjectTerm(items...)
	default: // not in a ground value; copy what can be
		return t.Copy()
	}
}

// memoFuncs returns the pure functions of the policy compiled in c (see
// above), none if a module uses `with`.
func memoFuncs(c *ast.Compiler) []memoFunc {
	for _, m := range c.Modules {
		if usesWith(m) {
			return nil
		}
	}
	f := folder{c: c, pure: map[*ast.Rule]bool{}, allowConstraints: true}
	seen := map[string]bool{}
	var funcs []memoFunc
	for _, name := range slices.Sorted(maps.Keys(c.Modules)) {
		if name == generatedName {
			continue
		}
		for _, r := range c.Modules[name].Rules {
			path := r.Ref()
			key := path.String()
			if len(r.Head.Args) == 0 || seen[key] || !path.IsGround() {
				continue
			}
			seen[key] = true
			rules := c.GetRulesExact(path)
			if len(rules) > 0 && !slices.ContainsFunc(rules, func(r *ast.Rule) bool {
				return len(r.Head.Args) != len(rules[0].Head.Args) || !f.pureRule(r)
			}) {
				funcs = append(funcs, memoFunc{path: path, arity: len(r.Head.Args)})
			}
		}
	}
	return funcs
}
