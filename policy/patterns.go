package policy

import (
	"context"
	"regexp"

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
type patternCache struct {
	patterns map[string]*regexp.Regexp // read-only
	cache.InterQueryValueCache
}

var _ cache.InterQueryValueCache = (*patternCache)(nil)

// otherPatterns bounds the cache of compiled values that are not glob
// patterns of constraints.
const otherPatterns = 1000

func newPatternCache(ctx context.Context, patterns map[string]*regexp.Regexp) *patternCache {
	n := otherPatterns
	return &patternCache{
		patterns: patterns,
		InterQueryValueCache: cache.NewInterQueryValueCache(ctx, &cache.Config{
			InterQueryBuiltinValueCache: cache.InterQueryBuiltinValueCacheConfig{MaxNumEntries: &n},
		}),
	}
}

// Get implements cache.InterQueryValueCacheBucket.
func (c *patternCache) Get(k ast.Value) (any, bool) {
	if s, ok := k.(ast.String); ok {
		if re, ok := c.patterns[string(s)]; ok {
			return re, true
		}
	}
	return c.InterQueryValueCache.Get(k)
}
