package app_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// restClock replaces the service clock with real time plus an offset the
// test moves forward. It is installed before the first request, and the
// offset is atomic, so handlers read it safely.
type restClock struct{ offset atomic.Int64 }

func restFakeClock(ts *testServer) *restClock {
	c := &restClock{}
	ts.App.Service.Now = func() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }
	return c
}

func (c *restClock) advance(d time.Duration) { c.offset.Add(int64(d)) }
func (c *restClock) now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }

// TestRESTSessionExpiry covers REST.md §2: sessions expire after
// SESSION_DURATION without use, enforced at request time, and the cookie
// is re-issued (sliding) as the session is used.
func TestRESTSessionExpiry(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		clock := restFakeClock(ts)
		alice := restRegister(t, ts, "alice", "alice password")
		cookie := restCookieValue(t, alice.client)
		idle := restCookieClient(t, ts, cookie)
		_, res := restLogin(t, ts, "alice", "alice password")
		other := restSessionCookie(t, res).Value

		t.Run("used within the duration: valid, cookie re-issued", func(t *testing.T) {
			clock.advance(100 * time.Hour)
			res := restCookieClient(t, ts, cookie).do(http.MethodGet, "/api/client/account", nil)
			restWantStatus(t, res, http.StatusOK)
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
			restWantStatus(t, idle.do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
		})
		t.Run("the unused session has expired", func(t *testing.T) {
			restWantErrors(t, restCookieClient(t, ts, other).do(http.MethodGet, "/api/client/account", nil),
				http.StatusUnauthorized, "invalid session")
		})
		t.Run("idle for longer than the duration", func(t *testing.T) {
			clock.advance(168*time.Hour + time.Minute)
			restWantErrors(t, idle.do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid session")
			restWantErrors(t, idle.do(http.MethodPost, "/api/client/account/logout", nil), http.StatusUnauthorized, "invalid session")
		})
		t.Run("a fresh login works", func(t *testing.T) {
			c, res := restLogin(t, ts, "alice", "alice password")
			restWantStatus(t, res, http.StatusOK)
			restAccount(t, c)
		})
	})
}

func TestRESTAPIKeyExpiryAtRequestTime(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		clock := restFakeClock(ts)
		alice := restRegister(t, ts, "alice", "alice password")
		expires := time.Now().Add(time.Hour).UTC()
		kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{Expires: &expires}))
		restAccount(t, kc)
		clock.advance(59 * time.Minute)
		restAccount(t, kc)
		clock.advance(2 * time.Minute)
		restWantErrors(t, kc.do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid api key")
	})
}
