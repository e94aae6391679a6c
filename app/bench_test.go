package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
	"accountd/web"
)

// benchRead measures one authenticated read through the whole handler
// (middleware, routing, authentication, encoding) and reports SQL
// statements and writes per request next to time and allocations.
func benchRead(b *testing.B, newRequest func(cookie *http.Cookie) (*http.Request, []byte)) {
	// Per-IP limits off: this measures the read, not the limiter (which
	// BenchmarkAccountRESTRateLimited adds).
	benchReadWith(b, func(cfg *app.Config) { cfg.RateLimit = false }, newRequest)
}

func benchReadWith(b *testing.B, configure func(*app.Config), newRequest func(cookie *http.Cookie) (*http.Request, []byte)) {
	for _, e := range dbtest.Engines(b) {
		b.Run(dbtest.Name(e), func(b *testing.B) {
			ts := apptest.NewServer(b, e, configure)
			c := ts.RegisterREST(b, "alice", "correct horse")
			var cookie *http.Cookie
			for _, ck := range c.HTTP.Jar.Cookies(apptest.MustURL(b, ts.URL)) {
				if ck.Name == ts.App.Config.SessionCookie {
					cookie = ck
				}
			}
			if cookie == nil {
				b.Fatal("no session cookie")
			}
			r, body := newRequest(cookie)
			measureServe(b, ts, ts.App.Handler(), r, body, func(status int, body string) bool {
				return status == http.StatusOK && !strings.Contains(body, `"errors"`)
			})
		})
	}
}

func BenchmarkViewerGraphQL(b *testing.B) {
	const body = `{"query":"{ viewer { id username email nameFirst nameLast admin language toastPosition createdAt } }"}`
	benchRead(b, func(cookie *http.Cookie) (*http.Request, []byte) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("Content-Type", "application/json")
		r.AddCookie(cookie)
		return r, []byte(body)
	})
}

func accountRequest(cookie *http.Cookie) (*http.Request, []byte) {
	r := httptest.NewRequest(http.MethodGet, "/api/client/account", nil)
	r.AddCookie(cookie)
	return r, nil
}

func BenchmarkAccountREST(b *testing.B) { benchRead(b, accountRequest) }

// BenchmarkAccountRESTRateLimited is the same read with the per-IP limit on,
// as in production, and a limit the benchmark never reaches: on PostgreSQL
// the shared count is written once per lease, not once per request.
func BenchmarkAccountRESTRateLimited(b *testing.B) {
	benchReadWith(b, func(cfg *app.Config) {
		cfg.RateLimit = true
		cfg.RateLimits[web.RateClient] = web.RateRule{Limit: 1 << 30, Window: time.Minute}
	}, accountRequest)
}

// BenchmarkVerifyREST is the forward-auth check a reverse proxy makes for
// every request of the app it protects, with a permission to check. The
// per-IP limit is on and would refuse the second request: the check is
// left out of it, and stays one query and no write.
func BenchmarkVerifyREST(b *testing.B) {
	benchReadWith(b, func(cfg *app.Config) {
		cfg.RateLimit = true
		cfg.RateLimits[web.RateClient] = web.RateRule{Limit: 1, Window: time.Hour}
	}, func(cookie *http.Cookie) (*http.Request, []byte) {
		r := httptest.NewRequest(http.MethodGet, "/api/auth/verify?permission=activity.read", nil)
		r.AddCookie(cookie)
		return r, nil
	})
}
