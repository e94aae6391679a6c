package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
	"accountd/web"
)

// rlConfig turns the per-IP limits on with small budgets, so tests reach
// them in a few requests.
func rlConfig(client, login, register int) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.RateLimit = true
		cfg.RateLimits = map[string]web.RateRule{
			"client":     {Limit: client, Window: time.Minute},
			"login":      {Limit: login, Window: 5 * time.Minute},
			"checkpoint": {Limit: login, Window: 5 * time.Minute},
			"register":   {Limit: register, Window: time.Hour},
		}
	}
}

// rlWantLimited checks a REST refusal of the per-IP limit.
func rlWantLimited(t *testing.T, res *apptest.Response, limit int) {
	t.Helper()
	apptest.WantErrorPrefixes(t, res, http.StatusTooManyRequests, "you are ratelimited, retry in ")
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", res.Header.Get("Retry-After"))
	}
	if res.Header.Get("X-RateLimit-Limit") != strconv.Itoa(limit) || res.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Errorf("X-RateLimit headers: %v", res.Header)
	}
}

func TestRateLimitClientREST(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, rlConfig(5, 100, 100), func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "rlalice", "correct horse")
		// The sign-up counted against its own rule, not the client's.
		for i := 1; i <= 5; i++ {
			res := alice.Do(http.MethodGet, "/api/client/account", nil)
			apptest.WantStatus(t, res, http.StatusOK)
			if got := res.Header.Get("X-RateLimit-Remaining"); got != strconv.Itoa(5-i) || res.Header.Get("X-RateLimit-Limit") != "5" {
				t.Errorf("request %d: X-RateLimit-Remaining %q", i, got)
			}
		}
		rlWantLimited(t, alice.Do(http.MethodGet, "/api/client/account", nil), 5)
		// The budget is the client's, whatever the route or credentials.
		rlWantLimited(t, alice.Do(http.MethodGet, "/api/client/account/sessions", nil), 5)
		rlWantLimited(t, ts.Client(t).Do(http.MethodGet, "/api/client/account", nil), 5)
		// Another address has its own budget (through a trusted proxy).
	})
}

func TestRateLimitAuthRoutes(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, rlConfig(1000, 3, 2), func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "rlbob", "correct horse")
		c := ts.Client(t)
		body := map[string]any{"user": "rlbob", "password": "wrong horse"}
		for range 3 {
			apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login", body), http.StatusBadRequest, "invalid username or password")
		}
		rlWantLimited(t, c.Do(http.MethodPost, "/api/auth/login", map[string]any{"user": "rlbob", "password": "correct horse"}), 3)
		// The GraphQL sign-in counts against the same budget.
		r := c.GQL(`mutation { login(input: {user: "rlbob", password: "correct horse"}) { twoFactorRequired } }`, nil)
		if msg, ext := apptest.GQLTopError(t, r, "RATE_LIMITED", "login"); msg == "" || ext["retryAfter"] == nil {
			t.Errorf("GraphQL login over the limit: %s", r.Raw)
		}
		// Sign-ups: one above was the first of two.
		reg := func(name string) *apptest.Response {
			return c.Do(http.MethodPost, "/api/auth/register", map[string]any{"username": name, "email": name + "@example.com",
				"name_first": "R", "name_last": "L", "password": "correct horse"})
		}
		apptest.WantStatus(t, reg("rlcarol"), http.StatusOK)
		rlWantLimited(t, reg("rldave"), 2)
		// The client budget is untouched by the sign-in refusals.
		apptest.WantStatus(t, c.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
	})
}

func TestRateLimitGraphQL(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, rlConfig(3, 100, 100), func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		for range 3 {
			if r := c.GQL(`{ viewer { id } }`, nil); len(r.Errors) != 0 {
				t.Fatalf("errors: %s", r.Raw)
			}
		}
		b, _ := json.Marshal(map[string]any{"query": "{ viewer { id } }"})
		res := c.Raw(http.MethodPost, "/graphql", "application/json", bytes.NewReader(b))
		if res.Status != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Fatalf("over the limit: %d %v %s", res.Status, res.Header, res.Body)
		}
		var body struct {
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(res.Body, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "RATE_LIMITED" ||
			body.Errors[0].Extensions["retryAfter"] == nil || body.Errors[0].Extensions["requestId"] == nil {
			t.Errorf("refusal body: %s", res.Body)
		}
	})
}

func TestRateLimitOff(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, func(cfg *app.Config) { rlConfig(1, 1, 1)(cfg); cfg.RateLimit = false }, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		for range 5 {
			res := c.Do(http.MethodGet, "/api/client/account", nil)
			if res.Status == http.StatusTooManyRequests || res.Header.Get("X-RateLimit-Limit") != "" {
				t.Fatalf("limited with RATE_LIMIT=off: %d %v", res.Status, res.Header)
			}
		}
	})
}

// TestRateLimitSharedAcrossServers: two servers on one PostgreSQL database
// share one budget per client, so the limit refuses at the configured
// total, however the requests are spread.
func TestRateLimitSharedAcrossServers(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines(t) {
		if e.Name != "postgres" {
			continue // SQLite runs one server; its counter is in-process
		}
		t.Run(e.Name, func(t *testing.T) {
			a := apptest.NewServer(t, e, rlConfig(10, 100, 100))
			b := apptest.NewServer(t, e, rlConfig(10, 100, 100))
			ca, cb := a.Client(t), b.Client(t)
			passed := 0
			for i := range 30 {
				c := ca
				if i%3 != 0 {
					c = cb
				}
				res := c.Do(http.MethodGet, "/api/client/account", nil)
				switch res.Status {
				case http.StatusUnauthorized:
					passed++
				case http.StatusTooManyRequests:
				default:
					t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
				}
			}
			if passed != 10 {
				t.Errorf("%d requests passed across two servers, want exactly 10", passed)
			}
		})
	}
}
