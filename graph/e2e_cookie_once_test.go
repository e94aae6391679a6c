package graph_test

// One Set-Cookie per cookie over GraphQL: every /graphql request
// authenticates, so a session last used more than 30 s ago has its cookie
// re-issued before the resolvers run; a logout, a revocation of the own
// session or a sign-in in that request must leave only its own decision in
// the response.

import (
	"net/http"
	"testing"
	"time"

	"accountd/app/apptest"
)

// gcoSessionCookies returns the response's Set-Cookie lines for the
// session cookie, parsed.
func gcoSessionCookies(t testing.TB, ts *apptest.Server, h http.Header) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, line := range h.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		if ck.Name == ts.App.Config.SessionCookie {
			out = append(out, ck)
		}
	}
	return out
}

// gcoOne checks the response sets the session cookie exactly once and
// returns it.
func gcoOne(t testing.TB, ts *apptest.Server, r *apptest.GQLResponse) *http.Cookie {
	t.Helper()
	cks := gcoSessionCookies(t, ts, r.Header)
	if len(cks) != 1 {
		t.Fatalf("%d Set-Cookie lines for the session cookie, want 1: %q", len(cks), r.Header.Values("Set-Cookie"))
	}
	return cks[0]
}

func gcoWantCleared(t testing.TB, ck *http.Cookie) {
	t.Helper()
	if ck.Value != "" || ck.MaxAge >= 0 || ck.Path != "/" || !ck.HttpOnly {
		t.Errorf("session cookie not cleared: %s", ck)
	}
}

func TestGraphQLOneSessionCookiePerResponse(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		signIn := func(t *testing.T) string {
			t.Helper()
			return apptest.GQLSessionCookie(t, ts, gqlLogin(t, ts, "alice", apptest.GQLPassword))
		}
		// idle makes the session of cookie last used a minute ago, past
		// the interval after which a request re-issues the cookie.
		idle := func(t *testing.T, cookie string) {
			t.Helper()
			apptest.SetColumn(t, ts, "sessions", apptest.SessionIDOf(t, ts, cookie), "last_used", time.Now().Add(-time.Minute))
		}

		t.Run("an idle session's request re-issues the cookie once", func(t *testing.T) {
			cookie := signIn(t)
			idle(t, cookie)
			r := apptest.GQLCookieClient(t, ts, cookie).GQL(`{ viewer { id } }`, nil)
			apptest.GQLNoErrors(t, r)
			if ck := gcoOne(t, ts, r); ck.Value != cookie || ck.MaxAge <= 0 {
				t.Errorf("want the same cookie re-issued: %s", ck)
			}
		})

		t.Run("logout after an idle period clears, once", func(t *testing.T) {
			cookie := signIn(t)
			idle(t, cookie)
			r := apptest.GQLCookieClient(t, ts, cookie).GQL(apptest.GQLLogoutDoc, nil)
			gqlWantUserErrs(t, r, "logout")
			gcoWantCleared(t, gcoOne(t, ts, r))
			if v := apptest.GQLViewer(t, apptest.GQLCookieClient(t, ts, cookie)); v != nil {
				t.Errorf("the cookie still works after logout: %v", v)
			}
		})

		t.Run("revoking the own session after an idle period clears, once", func(t *testing.T) {
			cookie := signIn(t)
			id := apptest.SessionIDOf(t, ts, cookie)
			idle(t, cookie)
			r := apptest.GQLCookieClient(t, ts, cookie).GQL(gslRevokeDoc, apptest.GQLIn(map[string]any{"id": id}))
			gqlWantUserErrs(t, r, "revokeSession")
			gcoWantCleared(t, gcoOne(t, ts, r))
			if v := apptest.GQLViewer(t, apptest.GQLCookieClient(t, ts, cookie)); v != nil {
				t.Errorf("the cookie still works after revoking its session: %v", v)
			}
		})

		t.Run("signing in over an idle session sets the new cookie, once", func(t *testing.T) {
			old := signIn(t)
			idle(t, old)
			r := apptest.GQLCookieClient(t, ts, old).GQL(apptest.GQLLoginDoc,
				apptest.GQLIn(map[string]any{"user": "alice", "password": apptest.GQLPassword}))
			gqlWantUserErrs(t, r, "login")
			ck := gcoOne(t, ts, r)
			if ck.Value == "" || ck.Value == old || ck.MaxAge <= 0 {
				t.Errorf("want a new session cookie: %s", ck)
			}
			if apptest.GQLViewer(t, apptest.GQLCookieClient(t, ts, ck.Value)) == nil {
				t.Errorf("the new cookie does not sign in")
			}
		})
	})
}
