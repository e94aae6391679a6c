package rest_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"accountd/app/apptest"
)

// restClock replaces the service clock with real time plus an offset the
// test moves forward. It is installed before the first request, and the
// offset is atomic, so handlers read it safely.
type restClock struct{ offset atomic.Int64 }

func restFakeClock(ts *apptest.Server) *restClock {
	c := &restClock{}
	ts.App.Service.Now = func() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }
	return c
}

func (c *restClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

func (c *restClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// TestRESTSessionExpiry covers REST.md §2: sessions expire after
// SESSION_DURATION without use, enforced at request time, and the cookie
// is re-issued (sliding) as the session is used.
func TestRESTSessionExpiry(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		alice := apptest.Register(t, ts, "alice", "alice password")
		cookie := apptest.CookieValue(t, alice.Client)
		idle := apptest.CookieClient(t, ts, cookie)
		_, res := apptest.Login(t, ts, "alice", "alice password")
		other := restSessionCookie(t, res).Value

		t.Run("used within the duration: valid, cookie re-issued", func(t *testing.T) {
			clock.advance(100 * time.Hour)
			res := apptest.CookieClient(t, ts, cookie).Do(http.MethodGet, "/api/client/account", nil)
			apptest.WantStatus(t, res, http.StatusOK)
			ck := restSessionCookie(t, res)
			if ck.Value != cookie {
				t.Errorf("re-issued cookie has another value")
			}
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
				t.Errorf("re-issued cookie attributes: %q", res.Header.Values("Set-Cookie"))
			}
			want := clock.now().Add(168 * time.Hour)
			if d := ck.Expires.Sub(want); d < -time.Minute || d > time.Minute {
				t.Errorf("re-issued cookie Expires %v, want ≈ %v", ck.Expires, want)
			}
		})
		t.Run("sliding: valid 200h after login, 100h after last use", func(t *testing.T) {
			clock.advance(100 * time.Hour)
			apptest.WantStatus(t, idle.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
		})
		t.Run("the unused session has expired", func(t *testing.T) {
			apptest.WantErrors(t, apptest.CookieClient(t, ts, other).Do(http.MethodGet, "/api/client/account", nil),
				http.StatusUnauthorized, "invalid session")
		})
		t.Run("idle for longer than the duration", func(t *testing.T) {
			clock.advance(168*time.Hour + time.Minute)
			apptest.WantErrors(t, idle.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid session")
			apptest.WantErrors(t, idle.Do(http.MethodPost, "/api/client/account/logout", nil), http.StatusUnauthorized, "invalid session")
		})
		t.Run("a fresh login works", func(t *testing.T) {
			c, res := apptest.Login(t, ts, "alice", "alice password")
			apptest.WantStatus(t, res, http.StatusOK)
			restAccount(t, c)
		})
	})
}

func TestRESTAPIKeyExpiryAtRequestTime(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		alice := apptest.Register(t, ts, "alice", "alice password")
		expires := time.Now().Add(time.Hour).UTC()
		kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{Expires: &expires}))
		restAccount(t, kc)
		clock.advance(59 * time.Minute)
		restAccount(t, kc)
		clock.advance(2 * time.Minute)
		apptest.WantErrors(t, kc.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid api key")
	})
}
