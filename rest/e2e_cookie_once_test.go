package rest_test

// One Set-Cookie per cookie: a request whose session is due for the
// sliding refresh (last used more than 30 s ago) has the cookie re-issued
// when it authenticates; when the route then decides about the cookie too
// (logout, revoking the own session, signing in), the response must carry
// only that last decision, never the dead token before it.

import (
	"net/http"
	"testing"
	"time"

	"accountd/app/apptest"
)

// restSessionCookieLines counts the response's Set-Cookie lines for the
// session cookie.
func restSessionCookieLines(t testing.TB, res *apptest.Response) int {
	t.Helper()
	n := 0
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == apptest.CookieName {
			n++
		}
	}
	return n
}

func TestRESTOneSessionCookiePerResponse(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		// idle moves the clock past the interval after which a request
		// re-issues its session cookie.
		idle := func() { clock.advance(time.Minute) }
		signIn := func(t *testing.T, name string) string {
			t.Helper()
			_, res := apptest.Login(t, ts, name, name+" password")
			apptest.WantStatus(t, res, http.StatusOK)
			return restSessionCookie(t, res).Value
		}
		apptest.Register(t, ts, "alice", "alice password")

		t.Run("an idle session's request re-issues the cookie once", func(t *testing.T) {
			cookie := signIn(t, "alice")
			idle()
			res := apptest.CookieClient(t, ts, cookie).Do(http.MethodGet, "/api/client/account", nil)
			apptest.WantStatus(t, res, http.StatusOK)
			if ck := restSessionCookie(t, res); ck.Value != cookie {
				t.Errorf("re-issued another value")
			}
		})

		t.Run("logout after an idle period clears, once", func(t *testing.T) {
			cookie := signIn(t, "alice")
			idle()
			res := apptest.CookieClient(t, ts, cookie).Do(http.MethodPost, "/api/client/account/logout", nil)
			apptest.WantEmpty(t, res)
			if n := restSessionCookieLines(t, res); n != 1 {
				t.Fatalf("%d Set-Cookie lines for the session cookie, want 1: %q", n, res.Header.Values("Set-Cookie"))
			}
			rslWantCookieCleared(t, res)
			rslAuthFails(t, apptest.CookieClient(t, ts, cookie), "invalid session")
		})

		t.Run("revoking the own session after an idle period clears, once", func(t *testing.T) {
			cookie := signIn(t, "alice")
			id := apptest.SessionIDOf(t, ts, cookie)
			idle()
			res := apptest.CookieClient(t, ts, cookie).Do(http.MethodDelete, "/api/client/account/sessions/"+id, nil)
			apptest.WantEmpty(t, res)
			if n := restSessionCookieLines(t, res); n != 1 {
				t.Fatalf("%d Set-Cookie lines for the session cookie, want 1: %q", n, res.Header.Values("Set-Cookie"))
			}
			rslWantCookieCleared(t, res)
			rslAuthFails(t, apptest.CookieClient(t, ts, cookie), "invalid session")
		})

		t.Run("revoking another session keeps the re-issued cookie", func(t *testing.T) {
			cookie, other := signIn(t, "alice"), signIn(t, "alice")
			idle()
			res := apptest.CookieClient(t, ts, cookie).Do(http.MethodDelete,
				"/api/client/account/sessions/"+apptest.SessionIDOf(t, ts, other), nil)
			apptest.WantEmpty(t, res)
			if ck := restSessionCookie(t, res); ck.Value != cookie || ck.MaxAge <= 0 {
				t.Errorf("want the caller's cookie re-issued: %q", res.Header.Values("Set-Cookie"))
			}
			restAccount(t, apptest.CookieClient(t, ts, cookie))
		})

		t.Run("signing in over an idle session sets the new cookie, once", func(t *testing.T) {
			old := signIn(t, "alice")
			idle()
			res := apptest.CookieClient(t, ts, old).Do(http.MethodPost, "/api/auth/login",
				map[string]any{"user": "alice", "password": "alice password"})
			apptest.WantStatus(t, res, http.StatusOK)
			ck := restSessionCookie(t, res) // fails on a second line
			if ck.Value == "" || ck.Value == old || ck.MaxAge <= 0 {
				t.Errorf("want a new session cookie: %q", res.Header.Values("Set-Cookie"))
			}
			restAccount(t, apptest.CookieClient(t, ts, ck.Value))
		})
	})
}
