package web_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/web"
)

// countingHits counts the writes LeasedCounter makes to a real store.
type countingHits struct {
	store  *db.Store
	writes atomic.Int64
}

func (c *countingHits) AddHits(ctx context.Context, key string, now time.Time, window time.Duration, n int) (time.Time, int, error) {
	c.writes.Add(1)
	return c.store.AddHits(ctx, key, now, window, n)
}

func leasedEngines(t *testing.T, f func(t *testing.T, shared *countingHits)) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			f(t, &countingHits{store: db.NewStore(dbtest.Open(t, e))})
		})
	}
}

// Three servers on one database, a client sending twice its limit to all
// of them at once: never more than the limit passes, however the requests
// fall. A lease a server took and then had no requests for refuses the
// others early — at most one lease per server, and a lease is a single hit
// near the limit, so a limit under 8 passes exactly.
func TestLeasedCounterSharesTheLimitExactly(t *testing.T) {
	leasedEngines(t, func(t *testing.T, shared *countingHits) {
		for _, limit := range []int{1, 7, 50, 300} {
			servers := []*web.LeasedCounter{{Shared: shared}, {Shared: shared}, {Shared: shared}}
			rule := web.RateRule{Limit: limit, Window: time.Minute}
			key := "client|" + t.Name() + string(rune('a'+limit%26)) + time.Now().String()
			now := time.Now().UTC()
			var passed atomic.Int64
			var wg sync.WaitGroup
			for i := range 2 * limit {
				wg.Go(func() {
					_, hits, err := servers[i%3].Hit(t.Context(), key, now, rule)
					if err != nil {
						t.Error(err)
					}
					if hits <= limit {
						passed.Add(1)
					}
				})
			}
			wg.Wait()
			least := limit
			if limit >= 8 {
				least = limit - len(servers)*(1+limit/8)
			}
			if got := int(passed.Load()); got > limit || got < least {
				t.Errorf("limit %d: %d passed, want %d to %d", limit, got, least, limit)
			}
		}
	})
}

// One server answers a busy client from memory: one write per lease, not
// one per request; hits are numbered 1, 2, 3… without gaps; and once the
// window is used up, a flood past it writes nothing until the window ends.
func TestLeasedCounterWritesPerLease(t *testing.T) {
	leasedEngines(t, func(t *testing.T, shared *countingHits) {
		c := &web.LeasedCounter{Shared: shared}
		t0 := time.Date(2026, 8, 22, 12, 0, 0, 0, time.UTC)
		big := web.RateRule{Limit: 1_000_000, Window: time.Minute}
		for i := 1; i <= 10_000; i++ {
			start, hits, err := c.Hit(t.Context(), "big", t0, big)
			if err != nil || hits != i || !start.Equal(t0) {
				t.Fatalf("hit %d: %v %d %v", i, start, hits, err)
			}
		}
		if w := shared.writes.Load(); w > 10_000/256+1 {
			t.Fatalf("%d writes for 10,000 requests", w)
		}

		shared.writes.Store(0)
		small := web.RateRule{Limit: 20, Window: time.Minute}
		for i := 1; i <= 20; i++ {
			if _, hits, _ := c.Hit(t.Context(), "small", t0, small); hits != i {
				t.Fatalf("hit %d numbered %d", i, hits)
			}
		}
		writes := shared.writes.Load()
		for range 1000 {
			if _, hits, _ := c.Hit(t.Context(), "small", t0.Add(30*time.Second), small); hits <= 20 {
				t.Fatalf("a hit past the limit passed: %d", hits)
			}
		}
		if w := shared.writes.Load(); w != writes {
			t.Fatalf("a flood past the limit wrote %d times", w-writes)
		}
		start, hits, err := c.Hit(t.Context(), "small", t0.Add(time.Minute), small)
		if err != nil || hits != 1 || !start.Equal(t0.Add(time.Minute)) {
			t.Fatalf("the next window: %v %d %v", start, hits, err)
		}
	})
}
