package web

import (
	"context"
	"sync"
	"time"
)

// SharedHits is a count of hits every server sees: AddHits adds n hits of
// key to its fixed window (one that starts with its first hit and lasts
// window) in one atomic step and returns the window's start and its hits,
// these n included. The PostgreSQL store implements it.
type SharedHits interface {
	AddHits(ctx context.Context, key string, now time.Time, window time.Duration, n int) (time.Time, int, error)
}

// LeasedCounter is the RateCounter of servers that share a database. Writing
// every request to the shared count would make the per-IP limit the most
// expensive part of a request (a write for every read). Instead a server
// reserves hits in the shared count ahead of use, a lease, and answers the
// next requests of that client from memory while the lease lasts:
//
//   - every hit is numbered once across all servers (a reservation takes a
//     block of the shared count), so no more than the limit ever pass, even
//     when a client spreads its requests over every server at once;
//   - the lease shrinks as the client nears its limit (an eighth of what is
//     left, at most maxLease), so the last hits are reserved one at a time
//     and a lease held on one server leaves little unused when the client
//     moves to another;
//   - once a window is used up, the server refuses that client from memory
//     until the window ends: a flood past the limit writes nothing.
//
// A server that stops mid-lease loses the hits it reserved: the client is
// charged for requests it did not make, never the other way round.
type LeasedCounter struct {
	Shared SharedHits

	mu      sync.Mutex
	windows map[string]*lease
	sweepAt int
}

// maxLease bounds one reservation: at most this many requests of a client
// are answered from memory per write.
const maxLease = 256

type lease struct {
	mu       sync.Mutex
	start    time.Time
	ends     time.Time
	reserved int // the shared count after this server's last reservation
	left     int // reserved hits not used yet
	over     int // hits refused from memory since the window was used up
}

// Hit implements RateCounter.
func (c *LeasedCounter) Hit(ctx context.Context, key string, now time.Time, rule RateRule) (time.Time, int, error) {
	l := c.lease(key, now)
	l.mu.Lock()
	defer l.mu.Unlock()
	live := now.Before(l.ends)
	switch {
	case live && l.left > 0:
		l.left--
		return l.start, l.reserved - l.left, nil
	case live && l.reserved >= rule.Limit:
		l.over++
		return l.start, l.reserved + l.over, nil
	}
	known := 0
	if live {
		known = l.reserved
	}
	n := 1 + min(maxLease, (rule.Limit-known)/8)
	start, hits, err := c.Shared.AddHits(ctx, key, now, rule.Window, n)
	if err != nil {
		return time.Time{}, 0, err
	}
	l.start, l.ends, l.reserved, l.left, l.over = start, start.Add(rule.Window), hits, n-1, 0
	return l.start, l.reserved - l.left, nil
}

// lease returns key's lease, creating it; ended ones are swept as the map
// grows, so it holds about the clients of the longest window.
func (c *LeasedCounter) lease(key string, now time.Time) *lease {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.windows == nil {
		c.windows = map[string]*lease{}
		c.sweepAt = 1024
	}
	l := c.windows[key]
	if l == nil {
		if len(c.windows) >= c.sweepAt {
			c.sweep(now)
		}
		l = &lease{}
		c.windows[key] = l
	}
	return l
}

func (c *LeasedCounter) sweep(now time.Time) {
	for k, l := range c.windows {
		if l.mu.TryLock() {
			if !now.Before(l.ends) {
				delete(c.windows, k)
			}
			l.mu.Unlock()
		}
	}
	c.sweepAt = max(1024, 2*len(c.windows))
}
