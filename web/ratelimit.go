package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"accountd/model"
)

// RateRule is one per-IP limit: at most Limit requests per Window.
type RateRule struct {
	Limit  int
	Window time.Duration
}

// ParseRateRule reads "360/30s" (requests per duration).
func ParseRateRule(s string) (RateRule, error) {
	n, d, ok := strings.Cut(s, "/")
	if !ok {
		return RateRule{}, fmt.Errorf("%q: want requests/duration such as 360/30s", s)
	}
	limit, err := strconv.Atoi(n)
	if err != nil || limit < 1 {
		return RateRule{}, fmt.Errorf("%q: want a positive number of requests", s)
	}
	window, err := time.ParseDuration(d)
	if err != nil || window < time.Second {
		return RateRule{}, fmt.Errorf("%q: want a window of at least 1s", s)
	}
	return RateRule{Limit: limit, Window: window}, nil
}

// RateCounter counts hits of a key in fixed windows of rule.Window: Hit
// records one and returns the start of the key's current window (a window
// starts with its first hit) and the hits in it, this one included.
// LeasedCounter shares the count between the servers of one database;
// MemoryCounter keeps it in-process.
type RateCounter interface {
	Hit(ctx context.Context, key string, now time.Time, rule RateRule) (start time.Time, hits int, err error)
}

// RateLimiter enforces the per-IP limits of REST.md §2 by rule name
// (client, login, checkpoint, register).
type RateLimiter struct {
	Counter RateCounter
	Rules   map[string]RateRule
	// Off disables every limit (RATE_LIMIT=off).
	Off    bool
	Logger *slog.Logger
	// OnRefused, if set, is told the rule of each refusal (metrics).
	OnRefused func(rule string)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// RateDecision is the outcome of one hit.
type RateDecision struct {
	Rule      RateRule
	Allowed   bool
	Remaining int
	Reset     time.Duration // until the window ends
}

// Check counts a request of the client in ctx against rule name and
// returns the decision, or nil when limits are off or the rule unknown.
// A counter that fails (the database is down) lets the request through:
// the request will meet the same database, and refusing every client for
// an outage of the counter would only add to it.
func (l *RateLimiter) Check(ctx context.Context, name string) *RateDecision {
	if l == nil || l.Off {
		return nil
	}
	rule, ok := l.Rules[name]
	if !ok {
		return nil
	}
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	start, hits, err := l.Counter.Hit(ctx, name+"|"+rateKey(ClientIPFrom(ctx)), now.UTC(), rule)
	if err != nil {
		if l.Logger != nil {
			l.Logger.WarnContext(ctx, "rate limit counter failed; request let through", "rule", name, "error", err)
		}
		return nil
	}
	d := &RateDecision{Rule: rule, Allowed: hits <= rule.Limit, Remaining: max(0, rule.Limit-hits),
		// Servers' clocks differ by a little: the window never has more
		// than its length left.
		Reset: min(max(start.Add(rule.Window).Sub(now), 0), rule.Window)}
	if !d.Allowed && l.OnRefused != nil {
		l.OnRefused(name)
	}
	return d
}

// Err is the refusal as the one error type: REST writes it as 429 with
// Retry-After, GraphQL as RATE_LIMITED with retryAfter.
func (d *RateDecision) Err() error {
	if d == nil || d.Allowed {
		return nil
	}
	secs := model.RetrySeconds(d.Reset)
	return &model.Error{Code: model.CodeRateLimited, Message: fmt.Sprintf("you are ratelimited, retry in %ds", secs),
		RetryAfter: time.Duration(secs) * time.Second}
}

// SetHeaders writes the X-RateLimit-* headers of a decision.
func (d *RateDecision) SetHeaders(h http.Header) {
	if d == nil {
		return
	}
	h.Set("X-RateLimit-Limit", strconv.Itoa(d.Rule.Limit))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("X-RateLimit-Reset", strconv.FormatInt(model.RetrySeconds(d.Reset), 10))
}

// Middleware limits every request by the rule pick names for it ("" for
// none); refuse writes a refusal in the transport's own error shape.
func (l *RateLimiter) Middleware(pick func(*http.Request) string, refuse func(http.ResponseWriter, *http.Request, error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d := l.Check(r.Context(), pick(r))
			d.SetHeaders(w.Header())
			if err := d.Err(); err != nil {
				refuse(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// rateKey is the client a limit counts: the address, or for IPv6 its /64,
// which one subscriber usually holds whole and could otherwise rotate
// through.
func rateKey(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
