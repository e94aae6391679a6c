package rest_test

// End-to-end tests of revoking sessions over REST (DELETE
// /api/client/account/sessions[/{uuid}]), of the permissions an API key
// needs for the sessions routes, and of the query errors of the list
// routes.

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
)

// rslWantCookieCleared checks the response expires the session cookie.
func rslWantCookieCleared(t testing.TB, res *apptest.Response) {
	t.Helper()
	ck := restSessionCookie(t, res)
	if ck.Value != "" || !(ck.MaxAge < 0 || (!ck.Expires.IsZero() && ck.Expires.Before(time.Now()))) {
		t.Errorf("session cookie not cleared: %q", res.Header.Values("Set-Cookie"))
	}
	if ck.Path != "/" || !ck.HttpOnly {
		t.Errorf("clearing cookie must match the original's Path/HttpOnly: %q", res.Header.Values("Set-Cookie"))
	}
}

// rslWantCookieKept checks the response does not clear the session cookie
// (it may re-issue the same value, as a sliding expiry does).
func rslWantCookieKept(t testing.TB, res *apptest.Response, cookie string) {
	t.Helper()
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == apptest.CookieName && ck.Value != cookie {
			t.Errorf("session cookie changed or cleared: %q", res.Header.Values("Set-Cookie"))
		}
	}
}

// rslAuthFails checks that a client's next request is refused with 401
// and message.
func rslAuthFails(t testing.TB, c *apptest.Client, message string) {
	t.Helper()
	apptest.WantErrors(t, c.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, message)
}

// rslReplay is a fresh client replaying a cookie value with a fixed user
// agent.
func rslReplay(t testing.TB, ts *apptest.Server, cookie string) *apptest.Client {
	c := apptest.CookieClient(t, ts, cookie)
	c.Header.Set("User-Agent", "replay")
	return c
}

func TestRESTSessionListRevokeOne(t *testing.T) {
	t.Parallel()
	restServer(t, apptest.Proxied, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		a := alice.Client
		aCookie := apptest.CookieValue(t, a)
		b := apptest.LoginFrom(t, ts, "alice", "B agent", "203.0.113.10")
		c := apptest.LoginFrom(t, ts, "alice", "C agent", "203.0.113.11")
		bob := apptest.Register(t, ts, "bob", apptest.SessionsPassword)
		aID, bID, cID, bobID := apptest.SessionID(t, ts, a), apptest.SessionID(t, ts, b), apptest.SessionID(t, ts, c), apptest.SessionID(t, ts, bob.Client)
		bCookie, cCookie := apptest.CookieValue(t, b), apptest.CookieValue(t, c)

		t.Run("another user's session is not found and keeps working", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			apptest.WantErrors(t, a.Do(http.MethodDelete, apptest.SessionsPath+"/"+bobID, nil), http.StatusNotFound, "session not found")
			apptest.SessionsUnchanged(t, ts, before)
			restAccount(t, bob.Client)
			if p := apptest.ListSessions(t, bob.Client, ""); !slices.Equal(rslUUIDs(p), []string{bobID}) {
				t.Errorf("bob's sessions: %+v", p)
			}
		})
		t.Run("unknown id", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			apptest.WantErrors(t, a.Do(http.MethodDelete, apptest.SessionsPath+"/"+uuid.NewString(), nil), http.StatusNotFound, "session not found")
			apptest.SessionsUnchanged(t, ts, before)
		})
		t.Run("malformed id", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			for _, id := range []string{"not-a-uuid", "1234", strings.ReplaceAll(bID, "-", ""), bID + "0",
				"urn:uuid:" + bID, url.PathEscape("{" + bID + "}")} {
				apptest.WantErrors(t, a.Do(http.MethodDelete, apptest.SessionsPath+"/"+id, nil), http.StatusBadRequest, "invalid uuid")
			}
			apptest.SessionsUnchanged(t, ts, before)
			restAccount(t, b)
		})
		t.Run("revoke another of one's sessions", func(t *testing.T) {
			res := a.Do(http.MethodDelete, apptest.SessionsPath+"/"+bID, nil)
			apptest.WantEmpty(t, res)
			rslWantCookieKept(t, res, aCookie)
			rslAuthFails(t, b, "invalid session")
			rslAuthFails(t, rslReplay(t, ts, bCookie), "invalid session")
			restAccount(t, a)
			restAccount(t, c)
			if got, want := rslUUIDs(apptest.ListSessions(t, a, "")), []string{cID, aID}; !slices.Equal(got, want) {
				t.Errorf("sessions after revoke: %q, want %q", got, want)
			}
			ev := apptest.ListActivities(t, a, "per_page=1").Data[0]
			want := map[string]any{"uuid": bID, "ip": "203.0.113.10", "user_agent": "B agent"}
			if ev.Event != "session:delete" || !reflect.DeepEqual(ev.Data, want) || ev.IsAPI || ev.IP == nil || *ev.IP != "127.0.0.1" {
				t.Errorf("activity %+v, want session:delete %v from 127.0.0.1", ev, want)
			}
		})
		t.Run("revoking it again: not found", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			apptest.WantErrors(t, a.Do(http.MethodDelete, apptest.SessionsPath+"/"+bID, nil), http.StatusNotFound, "session not found")
			apptest.SessionsUnchanged(t, ts, before)
		})
		t.Run("revoking one's own session clears the cookie", func(t *testing.T) {
			res := c.Do(http.MethodDelete, apptest.SessionsPath+"/"+cID, nil)
			apptest.WantEmpty(t, res)
			rslWantCookieCleared(t, res)
			rslAuthFails(t, c, "missing authorization")
			rslAuthFails(t, rslReplay(t, ts, cCookie), "invalid session")
			if got := rslUUIDs(apptest.ListSessions(t, a, "")); !slices.Equal(got, []string{aID}) {
				t.Errorf("sessions: %q, want only %s", got, aID)
			}
			ev := apptest.ListActivities(t, a, "per_page=1").Data[0]
			want := map[string]any{"uuid": cID, "ip": "203.0.113.11", "user_agent": "C agent"}
			if ev.Event != "session:delete" || !reflect.DeepEqual(ev.Data, want) || ev.IP == nil || *ev.IP != "203.0.113.11" {
				t.Errorf("activity %+v, want session:delete %v from 203.0.113.11", ev, want)
			}
		})
		t.Run("through an API key", func(t *testing.T) {
			d := apptest.LoginFrom(t, ts, "alice", "D agent", "203.0.113.12")
			dID := apptest.SessionID(t, ts, d)
			kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"sessions.delete"}}))
			kc.Header.Set("X-Forwarded-For", "198.51.100.1")
			res := kc.Do(http.MethodDelete, apptest.SessionsPath+"/"+dID, nil)
			apptest.WantEmpty(t, res)
			restNoSessionCookie(t, res)
			rslAuthFails(t, d, "invalid session")
			restAccount(t, a)
			ev := apptest.ListActivities(t, a, "per_page=1").Data[0]
			want := map[string]any{"uuid": dID, "ip": "203.0.113.12", "user_agent": "D agent"}
			if ev.Event != "session:delete" || !reflect.DeepEqual(ev.Data, want) || !ev.IsAPI || ev.IP == nil || *ev.IP != "198.51.100.1" {
				t.Errorf("activity %+v, want session:delete %v through a key from 198.51.100.1", ev, want)
			}
		})
	})
}

func TestRESTSessionListRevokeOthers(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		b := apptest.LoginFrom(t, ts, "alice", "B agent", "")
		c := apptest.LoginFrom(t, ts, "alice", "C agent", "")
		d := apptest.LoginFrom(t, ts, "alice", "D agent", "")
		bob := apptest.Register(t, ts, "bob", apptest.SessionsPassword)
		bob2 := apptest.LoginFrom(t, ts, "bob", "bob agent", "")
		bID, bCookie := apptest.SessionID(t, ts, b), apptest.CookieValue(t, b)

		t.Run("every other session is revoked, the caller's survives", func(t *testing.T) {
			res := b.Do(http.MethodDelete, apptest.SessionsPath, nil)
			apptest.WantDeleted(t, res, 3)
			rslWantCookieKept(t, res, bCookie)
			restAccount(t, b)
			for _, gone := range []*apptest.Client{alice.Client, c, d} {
				rslAuthFails(t, gone, "invalid session")
			}
			restAccount(t, bob.Client)
			restAccount(t, bob2)
			p := apptest.ListSessions(t, b, "")
			if !slices.Equal(rslUUIDs(p), []string{bID}) || p.Total != 1 || !p.Data[0].IsUsing {
				t.Errorf("sessions after revoking the others: %+v", p)
			}
			if p := apptest.ListSessions(t, bob2, ""); p.Total != 2 {
				t.Errorf("bob's sessions: total %d, want 2", p.Total)
			}
			ev := apptest.ListActivities(t, b, "per_page=1").Data[0]
			if ev.Event != "session:delete-all" || !reflect.DeepEqual(ev.Data, map[string]any{"deleted": 3.0}) || ev.IsAPI {
				t.Errorf("activity %+v, want session:delete-all {deleted: 3}", ev)
			}
		})
		t.Run("nothing left to revoke", func(t *testing.T) {
			apptest.WantDeleted(t, b.Do(http.MethodDelete, apptest.SessionsPath, nil), 0)
			restAccount(t, b)
		})
		t.Run("under API-key auth every session is revoked", func(t *testing.T) {
			e := apptest.LoginFrom(t, ts, "alice", "E agent", "")
			f := apptest.LoginFrom(t, ts, "alice", "F agent", "")
			kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID,
				apptest.KeyOpts{UserPermissions: []string{"sessions.delete", "sessions.read", "activity.read"}}))
			res := kc.Do(http.MethodDelete, apptest.SessionsPath, nil)
			apptest.WantDeleted(t, res, 3)
			restNoSessionCookie(t, res)
			for _, gone := range []*apptest.Client{b, e, f} {
				rslAuthFails(t, gone, "invalid session")
			}
			if p := apptest.ListSessions(t, kc, ""); p.Total != 0 || len(p.Data) != 0 {
				t.Errorf("sessions left: %+v", p)
			}
			restAccount(t, kc)
			restAccount(t, bob2)
			ev := apptest.ListActivities(t, kc, "per_page=1").Data[0]
			if ev.Event != "session:delete-all" || !reflect.DeepEqual(ev.Data, map[string]any{"deleted": 3.0}) || !ev.IsAPI {
				t.Errorf("activity %+v, want session:delete-all {deleted: 3} through a key", ev)
			}
		})
	})
}

func TestRESTSessionListPermissions(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		b := apptest.LoginFrom(t, ts, "alice", "B agent", "")
		bID := apptest.SessionID(t, ts, b)
		key := func(perms ...string) *apptest.Client {
			return apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: perms}))
		}
		noPerms := key()
		readOnly := key("sessions.read", "activity.read")
		deleteOnly := key("sessions.delete", "activity.read")

		for _, tc := range []struct {
			name   string
			c      *apptest.Client
			method string
			path   string
			perm   string
		}{
			{"list without any permission", noPerms, http.MethodGet, apptest.SessionsPath, "sessions.read"},
			{"list with sessions.delete only", deleteOnly, http.MethodGet, apptest.SessionsPath + "?per_page=5", "sessions.read"},
			{"revoke one without any permission", noPerms, http.MethodDelete, apptest.SessionsPath + "/" + bID, "sessions.delete"},
			{"revoke one with sessions.read only", readOnly, http.MethodDelete, apptest.SessionsPath + "/" + bID, "sessions.delete"},
			{"revoke others with sessions.read only", readOnly, http.MethodDelete, apptest.SessionsPath, "sessions.delete"},
			{"revoke others without any permission", noPerms, http.MethodDelete, apptest.SessionsPath, "sessions.delete"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := apptest.SessionsSnapshot(t, ts)
				apptest.WantErrors(t, tc.c.Do(tc.method, tc.path, nil), http.StatusForbidden, apptest.ForbiddenPrefix+tc.perm)
				apptest.SessionsUnchanged(t, ts, before)
				restAccount(t, b)
				restAccount(t, alice.Client)
			})
		}
		t.Run("the query is checked before the permission", func(t *testing.T) {
			apptest.WantErrors(t, noPerms.Do(http.MethodGet, apptest.SessionsPath+"?per_page=0", nil), http.StatusBadRequest, "per_page: lower than 1")
			apptest.WantErrors(t, noPerms.Do(http.MethodDelete, apptest.SessionsPath+"/nope", nil), http.StatusBadRequest, "invalid uuid")
		})
		t.Run("the permission is enough", func(t *testing.T) {
			if p := apptest.ListSessions(t, readOnly, ""); p.Total != 2 {
				t.Errorf("total %d, want 2", p.Total)
			}
			apptest.WantEmpty(t, deleteOnly.Do(http.MethodDelete, apptest.SessionsPath+"/"+bID, nil))
			rslAuthFails(t, b, "invalid session")
		})
		t.Run("a suspended account", func(t *testing.T) {
			c := apptest.LoginFrom(t, ts, "alice", "C agent", "")
			cID := apptest.SessionID(t, ts, c)
			restSetFlags(t, ts, alice.ID, false, false, true)
			before := apptest.SessionsSnapshot(t, ts)
			for _, r := range []struct{ method, path string }{
				{http.MethodGet, apptest.SessionsPath},
				{http.MethodDelete, apptest.SessionsPath + "/" + cID},
				{http.MethodDelete, apptest.SessionsPath},
				{http.MethodGet, apptest.ActivityPath},
			} {
				apptest.WantErrors(t, alice.Do(r.method, r.path, nil), http.StatusForbidden, "account is suspended")
				apptest.WantErrors(t, readOnly.Do(r.method, r.path, nil), http.StatusForbidden, "account is suspended")
			}
			apptest.SessionsUnchanged(t, ts, before)
			restSetFlags(t, ts, alice.ID, false, false, false)
			restAccount(t, c)
		})
	})
}

// rslQueryErrors checks every pagination error of a list route, for c.
func rslQueryErrors(t *testing.T, ts *apptest.Server, c *apptest.Client, path string) {
	long, longRunes := strings.Repeat("a", 129), strings.Repeat("é", 129)
	before := apptest.SessionsSnapshot(t, ts)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{apptest.Query("page", "0"), []string{"page: lower than 1"}},
		{apptest.Query("page", "-3"), []string{"page: lower than 1"}},
		{apptest.Query("page", "-9223372036854775808"), []string{"page: lower than 1"}},
		{apptest.Query("page", "-99999999999999999999"), []string{"page: lower than 1"}},
		{apptest.Query("per_page", "-99999999999999999999"), []string{"per_page: lower than 1"}},
		{apptest.Query("per_page", "3000000000"), []string{"per_page: greater than 100"}},
		{apptest.Query("per_page", "99999999999999999999"), []string{"per_page: greater than 100"}},
		{apptest.Query("per_page", "0"), []string{"per_page: lower than 1"}},
		{apptest.Query("per_page", "-1"), []string{"per_page: lower than 1"}},
		{apptest.Query("per_page", "101"), []string{"per_page: greater than 100"}},
		{apptest.Query("page", "abc"), []string{"page: must be an integer"}},
		{apptest.Query("page", "1.0"), []string{"page: must be an integer"}},
		{apptest.Query("per_page", "2.5"), []string{"per_page: must be an integer"}},
		{apptest.Query("per_page", "1e2"), []string{"per_page: must be an integer"}},
		{apptest.Query("search", long), []string{"search: length is greater than 128"}},
		{apptest.Query("search", longRunes), []string{"search: length is greater than 128"}},
		{apptest.Query("page", "0", "per_page", "101", "search", long),
			[]string{"page: lower than 1", "per_page: greater than 100", "search: length is greater than 128"}},
		{apptest.Query("page", "x", "per_page", "y"), []string{"page: must be an integer", "per_page: must be an integer"}},
	} {
		t.Run("?"+tc.query, func(t *testing.T) {
			apptest.WantErrors(t, c.Do(http.MethodGet, path+"?"+tc.query, nil), http.StatusBadRequest, tc.want...)
		})
	}
	for _, ok := range []string{apptest.Query("per_page", "1"), apptest.Query("per_page", "100"), apptest.Query("page", "1"),
		apptest.Query("search", strings.Repeat("a", 128)), apptest.Query("search", strings.Repeat("é", 128))} {
		if res := c.Do(http.MethodGet, path+"?"+ok, nil); res.Status != http.StatusOK {
			t.Errorf("?%s: %d %s", ok, res.Status, res.Body)
		}
	}
	apptest.SessionsUnchanged(t, ts, before)
}

func TestRESTSessionListQueryErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		rslQueryErrors(t, ts, alice.Client, apptest.SessionsPath)
	})
}

func TestRESTActivityQueryErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		rslQueryErrors(t, ts, alice.Client, apptest.ActivityPath)
	})
}
