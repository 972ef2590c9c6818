package policy

import (
	"hash/maphash"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Input terms kept across requests.
//
// A workload reads and writes a few indices with a few actions, for users
// holding a few role sets: building the input terms of request.targets and
// of the user (objects and arrays, every string hashed) costs more than
// finding them. Terms are values the policy never changes, so evaluations
// share them; a kept term owns its strings (the request's may point into a
// buffer the gateway reuses).

// termCache keeps terms built from values of type K, keyed by them: S is
// what an entry keeps of its K to compare (owned copies). Bounded (one
// entry evicted at random when a shard is full); safe for concurrent use.
type termCache[K, S any] struct {
	seed     maphash.Seed
	perShard int
	shards   [termShards]termShard[S]
	hash     func(maphash.Seed, K) uint64
	match    func(S, K) bool
	build    func(K) (S, *ast.Term)
}

const (
	termShards = 16
	// termCacheSize is the number of terms each cache keeps.
	termCacheSize = 4096
)

type termShard[S any] struct {
	mu sync.RWMutex
	m  map[uint64]termEntry[S] // guarded by mu
	_  [40]byte                // keep shards on separate cache lines
}

type termEntry[S any] struct {
	key  S // compared in full: the hash only finds the slot
	term *ast.Term
}

func newTermCache[K, S any](hash func(maphash.Seed, K) uint64, match func(S, K) bool, build func(K) (S, *ast.Term)) *termCache[K, S] {
	c := &termCache[K, S]{seed: maphash.MakeSeed(), perShard: termCacheSize / termShards, hash: hash, match: match, build: build}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]termEntry[S])
	}
	return c
}

// term returns the term of k, kept or built (and kept).
func (c *termCache[K, S]) term(k K) *ast.Term {
	sum := c.hash(c.seed, k)
	s := &c.shards[sum%termShards]
	s.mu.RLock()
	e, ok := s.m[sum]
	s.mu.RUnlock()
	if ok && c.match(e.key, k) {
		return e.term
	}
	e.key, e.term = c.build(k)
	s.mu.Lock()
	if len(s.m) >= c.perShard {
		for k := range s.m { // map order is random
			delete(s.m, k)
			break
		}
	}
	s.m[sum] = e
	s.mu.Unlock()
	return e.term
}

// inputTerms are the term caches of an Engine.
type inputTerms struct {
	targets *termCache[[]Target, string]
	users   *termCache[userKey, userKey]
}

func newInputTerms() *inputTerms {
	return &inputTerms{
		targets: newTermCache(hashTargets, targetsKeyEqual, func(ts []Target) (string, *ast.Term) {
			return targetsKey(ts), targetsTerm(ts, strings.Clone)
		}),
		users: newTermCache(hashUser, userKey.equal, func(u userKey) (userKey, *ast.Term) {
			u = u.clone()
			return u, newUserTerm(u)
		}),
	}
}

// targetsTerm returns the term of request.targets.
func (c *inputTerms) targetsTerm(ts []Target) *ast.Term {
	if len(ts) == 0 {
		return emptyArray
	}
	return c.targets.term(ts)
}

// mix combines hash h with the hash of s. maphash.String of each string,
// not a maphash.Hash over all of them: its state is large to set up, and
// these strings are short.
func mix(seed maphash.Seed, h uint64, s string) uint64 {
	return (h^maphash.String(seed, s))*0x9e3779b97f4a7c15 + uint64(len(s))
}

func hashTargets(seed maphash.Seed, ts []Target) uint64 {
	h := uint64(len(ts))
	for _, t := range ts {
		h = mix(seed, h, t.Action) + targetHead(t)
		for _, s := range t.Indices {
			h = mix(seed, h, s)
		}
	}
	return h
}

// userKey is what the input's user object holds: the fields of the user
// the policy reads.
type userKey struct {
	fields                inputFields // of fieldUser*
	name, realm, authType string
	roles                 []string
}

func newUserKey(u *User, fields inputFields) userKey {
	k := userKey{fields: fields & (fieldUserName | fieldUserRoles | fieldUserRealm | fieldUserAuthType)}
	if k.fields&fieldUserName != 0 {
		k.name = u.Name
	}
	if k.fields&fieldUserRoles != 0 {
		k.roles = u.Roles
	}
	if k.fields&fieldUserRealm != 0 {
		k.realm = u.Realm
	}
	if k.fields&fieldUserAuthType != 0 {
		k.authType = u.AuthType
	}
	return k
}

func (k userKey) equal(o userKey) bool {
	return k.fields == o.fields && k.name == o.name && k.realm == o.realm && k.authType == o.authType &&
		slices.Equal(k.roles, o.roles)
}

func (k userKey) clone() userKey {
	k.name, k.realm, k.authType = strings.Clone(k.name), strings.Clone(k.realm), strings.Clone(k.authType)
	if k.roles != nil {
		roles := make([]string, len(k.roles))
		for i, r := range k.roles {
			roles[i] = strings.Clone(r)
		}
		k.roles = roles
	}
	return k
}

func hashUser(seed maphash.Seed, k userKey) uint64 {
	h := uint64(k.fields)<<32 | uint64(len(k.roles))
	for _, s := range [...]string{k.name, k.realm, k.authType} {
		h = mix(seed, h, s)
	}
	for _, r := range k.roles {
		h = mix(seed, h, r)
	}
	return h
}

// newUserTerm is the input's user object for k.
func newUserTerm(k userKey) *ast.Term {
	var items [][2]*ast.Term
	if k.fields&fieldUserName != 0 {
		items = append(items, [2]*ast.Term{keyName, ast.StringTerm(k.name)})
	}
	if k.fields&fieldUserRoles != 0 {
		roles := make([]*ast.Term, len(k.roles))
		for i, r := range k.roles {
			roles[i] = ast.StringTerm(r)
		}
		items = append(items, [2]*ast.Term{keyRoles, ast.ArrayTerm(roles...)})
	}
	if k.fields&fieldUserRealm != 0 {
		items = append(items, [2]*ast.Term{keyRealm, ast.StringTerm(k.realm)})
	}
	if k.fields&fieldUserAuthType != 0 {
		items = append(items, [2]*ast.Term{keyAuthType, ast.StringTerm(k.authType)})
	}
	return ast.NewTerm(ast.NewObject(items...))
}
