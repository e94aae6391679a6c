package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func TestParseRateRule(t *testing.T) {
	for in, want := range map[string]RateRule{"360/30s": {360, 30 * time.Second}, "20/5m": {20, 5 * time.Minute}, "10/1h": {10, time.Hour}} {
		if got, err := ParseRateRule(in); err != nil || got != want {
			t.Errorf("%q = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "360", "0/30s", "-1/30s", "x/30s", "10/0s", "10/500ms", "10/soon"} {
		if _, err := ParseRateRule(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestMemoryCounterWindows: exactly Limit hits pass per window, the window
// starts with its first hit, and a new one starts when it ends.
func TestMemoryCounterWindows(t *testing.T) {
	t0 := time.Date(2026, 8, 22, 12, 0, 0, 0, time.UTC)
	now := t0
	l := &RateLimiter{Counter: &MemoryCounter{}, Rules: map[string]RateRule{"client": {3, time.Minute}}, Now: func() time.Time { return now }}
	ctx := WithClientIP(context.Background(), netip.MustParseAddr("203.0.113.7"))
	for i := 1; i <= 3; i++ {
		d := l.Check(ctx, "client")
		if !d.Allowed || d.Remaining != 3-i || d.Reset != time.Minute {
			t.Fatalf("hit %d: %+v", i, d)
		}
	}
	now = t0.Add(40 * time.Second)
	d := l.Check(ctx, "client")
	if d.Allowed || d.Remaining != 0 || d.Reset != 20*time.Second {
		t.Fatalf("4th hit: %+v", d)
	}
	if err := d.Err(); err == nil || err.Error() != "rate_limited: you are ratelimited, retry in 20s" {
		t.Errorf("refusal: %v", err)
	}
	other := WithClientIP(context.Background(), netip.MustParseAddr("203.0.113.8"))
	if d := l.Check(other, "client"); !d.Allowed {
		t.Errorf("another client refused: %+v", d)
	}
	now = t0.Add(time.Minute)
	if d := l.Check(ctx, "client"); !d.Allowed || d.Remaining != 2 {
		t.Errorf("new window: %+v", d)
	}
	if d := l.Check(ctx, "unknown"); d != nil {
		t.Errorf("unknown rule limited: %+v", d)
	}
	l.Off = true
	if d := l.Check(ctx, "client"); d != nil {
		t.Errorf("RATE_LIMIT=off still limits: %+v", d)
	}
}

// TestRateKeyIPv6Prefix: an IPv6 client counts by its /64, an IPv4-mapped
// one as IPv4.
func TestRateKeyIPv6Prefix(t *testing.T) {
	for in, want := range map[string]string{
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64",
		"::ffff:192.0.2.1":     "192.0.2.1",
		"192.0.2.1":            "192.0.2.1",
	} {
		if got := rateKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("rateKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestMemoryCounterConcurrent: parallel hits of one key are all counted.
func TestMemoryCounterConcurrent(t *testing.T) {
	c := &MemoryCounter{}
	now := time.Now()
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Hit(context.Background(), "k", now, RateRule{Limit: 100, Window: time.Minute}) //nolint:errcheck // never fails
		}()
	}
	wg.Wait()
	if _, hits, _ := c.Hit(context.Background(), "k", now, RateRule{Limit: 100, Window: time.Minute}); hits != 51 {
		t.Errorf("hits = %d, want 51", hits)
	}
}

// TestMemoryCounterSweeps: ended windows are dropped as the map grows.
func TestMemoryCounterSweeps(t *testing.T) {
	c := &MemoryCounter{}
	t0 := time.Now()
	for i := range 2000 {
		c.Hit(context.Background(), netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String(), t0, RateRule{Limit: 100, Window: time.Second}) //nolint:errcheck
	}
	for i := range 100 {
		c.Hit(context.Background(), "late"+netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String(), t0.Add(time.Hour), RateRule{Limit: 100, Window: time.Second}) //nolint:errcheck
	}
	if n := len(c.windows); n > 200 {
		t.Errorf("%d windows kept after 2000 ended", n)
	}
}

// TestRateLimitMiddleware: allowed requests carry the X-RateLimit headers;
// a refused one gets them too and never reaches the handler.
func TestRateLimitMiddleware(t *testing.T) {
	l := &RateLimiter{Counter: &MemoryCounter{}, Rules: map[string]RateRule{"client": {1, time.Minute}}}
	reached := 0
	h := ClientIP{}.Middleware(l.Middleware(func(*http.Request) string { return "client" },
		func(w http.ResponseWriter, r *http.Request, err error) { WriteError(w, r, nil, err) })(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached++ })))
	for i, want := range []int{http.StatusOK, http.StatusTooManyRequests} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/client/account", nil))
		if rec.Code != want || rec.Header().Get("X-RateLimit-Limit") != "1" || rec.Header().Get("X-RateLimit-Remaining") != "0" ||
			rec.Header().Get("X-RateLimit-Reset") == "" {
			t.Errorf("request %d: %d %v", i+1, rec.Code, rec.Header())
		}
		if want == http.StatusTooManyRequests && (rec.Header().Get("Retry-After") == "" ||
			rec.Body.String() != `{"errors":["you are ratelimited, retry in 60s"]}`) {
			t.Errorf("refusal: %v %s", rec.Header(), rec.Body)
		}
	}
	if reached != 1 {
		t.Errorf("handler reached %d times, want 1", reached)
	}
}
