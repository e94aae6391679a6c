package web

import (
	"context"
	"sync"
	"time"
)

// MemoryCounter is a RateCounter for one process (SQLite deployments, which
// run a single server). Expired windows are swept as the map grows, so it
// holds at most the clients of the longest window.
type MemoryCounter struct {
	mu      sync.Mutex
	windows map[string]*memoryWindow
	sweepAt int
}

type memoryWindow struct {
	start time.Time
	ends  time.Time
	hits  int
}

// Hit implements RateCounter.
func (m *MemoryCounter) Hit(_ context.Context, key string, now time.Time, rule RateRule) (time.Time, int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.windows == nil {
		m.windows = map[string]*memoryWindow{}
		m.sweepAt = 1024
	}
	w := m.windows[key]
	if w == nil || !now.Before(w.ends) {
		if len(m.windows) >= m.sweepAt {
			m.sweep(now)
		}
		w = &memoryWindow{start: now, ends: now.Add(rule.Window)}
		m.windows[key] = w
	}
	w.hits++
	return w.start, w.hits, nil
}

// sweep drops ended windows and sets the size of the next sweep.
func (m *MemoryCounter) sweep(now time.Time) {
	for k, w := range m.windows {
		if !now.Before(w.ends) {
			delete(m.windows, k)
		}
	}
	m.sweepAt = max(1024, 2*len(m.windows))
}
