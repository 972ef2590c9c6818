package policy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// TestConcurrentDecideAndSwap runs decisions while constraints and the
// policy are swapped under them (run with -race). Every decision must be
// one of the two valid outcomes, never an error.
func TestConcurrentDecideAndSwap(t *testing.T) {
	for _, size := range []int{0, 8} { // no cache; a small one, always evicting
		t.Run(fmt.Sprintf("cache=%d", size), func(t *testing.T) { testConcurrentDecideAndSwap(t, size) })
	}
}

func testConcurrentDecideAndSwap(t *testing.T, cacheSize int) {
	ctx := context.Background()
	e := newEngine(t, Config{}, testConstraints, WithDecisionCache(cacheSize))
	grant := append([]Constraint{{ID: "cx", Paths: []string{"/swap"}, Methods: []string{"GET"}, Roles: []string{"user"}}}, testConstraints...)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var allowed, denied atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				in := content("GET", fmt.Sprintf("/swap/%d", i%97), "user")
				if w%2 == 1 {
					in = content("GET", "/aaa", "user")
				}
				d, err := e.Decide(ctx, in)
				switch {
				case err != nil:
					t.Errorf("Decide: %v", err)
					return
				case w%2 == 1 && !d.Allow:
					t.Errorf("constant grant lost during a swap: %+v", d)
					return
				case d.Allow:
					allowed.Add(1)
				default:
					denied.Add(1)
				}
			}
		})
	}
	for i := range 40 {
		cs := testConstraints
		if i%2 == 0 {
			cs = grant
		}
		if err := e.SetConstraints(ctx, cs); err != nil {
			t.Error(err)
		}
		if i%10 == 0 {
			if err := e.Reload(ctx); err != nil {
				t.Error(err)
			}
		}
		_ = e.Generated()
		_ = e.Revision()
	}
	stop.Store(true)
	wg.Wait()
	t.Logf("%d allowed, %d denied", allowed.Load(), denied.Load())
}
