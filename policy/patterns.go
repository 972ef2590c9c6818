package policy

import (
	"context"
	"regexp"
	"unsafe"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown/cache"
)

// patternCache serves the compiled glob patterns of the generated module to
// regex.match. OPA otherwise keeps compiled expressions in one process-wide
// cache of 100 entries behind one lock: with more glob patterns than that in
// use, requests would recompile them and contend on the lock. The patterns
// are compiled once per generated module and read without a lock; anything
// else (a user's own regex.match, glob.match, ...) goes to a bounded OPA
// cache.
//
// A pattern is found by the address and length of its bytes before its
// text: the strings of the generated module reach regex.match unchanged,
// and hashing an "any" pattern (the alternation of many globs) on every
// call would cost as much as matching it.
type patternCache struct {
	patterns map[string]*regexp.Regexp // read-only
	byData   map[stringData]*regexp.Regexp
	cache.InterQueryValueCache
}

// stringData identifies the bytes of a string.
type stringData struct {
	p *byte
	n int
}

func dataOf(s string) stringData { return stringData{unsafe.StringData(s), len(s)} }

var _ cache.InterQueryValueCache = (*patternCache)(nil)

// otherPatterns bounds the cache of compiled values that are not glob
// patterns of constraints.
const otherPatterns = 1000

func newPatternCache(ctx context.Context, patterns map[string]*regexp.Regexp) *patternCache {
	n := otherPatterns
	byData := make(map[stringData]*regexp.Regexp, len(patterns))
	for p, re := range patterns {
		byData[dataOf(p)] = re
	}
	return &patternCache{
		patterns: patterns,
		byData:   byData,
		InterQueryValueCache: cache.NewInterQueryValueCache(ctx, &cache.Config{
			InterQueryBuiltinValueCache: cache.InterQueryBuiltinValueCacheConfig{MaxNumEntries: &n},
		}),
	}
}

// Get implements cache.InterQueryValueCacheBucket.
func (c *patternCache) Get(k ast.Value) (any, bool) {
	if s, ok := k.(ast.String); ok {
		if re, ok := c.byData[dataOf(string(s))]; ok {
			return re, true
		}
		if re, ok := c.patterns[string(s)]; ok {
			return re, true
		}
	}
	return c.InterQueryValueCache.Get(k)
}
