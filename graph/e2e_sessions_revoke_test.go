package graph_test

// End-to-end tests of revokeSession and revokeOtherSessions over GraphQL,
// of the permissions an API key needs for sessions and activity, and of
// the argument errors of the connections.

import (
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
)

// gslSignedOut checks that a client's credentials no longer work: the
// viewer is null and a mutation is refused as unauthenticated with
// message, changing nothing.
func gslSignedOut(t testing.TB, ts *apptest.Server, c *apptest.Client, message string) {
	t.Helper()
	r := c.GQL(`{ viewer { id } }`, nil)
	apptest.GQLNoErrors(t, r)
	if r.Data["viewer"] != nil {
		t.Errorf("viewer should be null: %s", r.Raw)
	}
	before := apptest.SessionsSnapshot(t, ts)
	r = c.GQL(gslRevokeOthersDoc, nil)
	if msg, _ := apptest.GQLTopError(t, r, "UNAUTHENTICATED", "revokeOtherSessions"); msg != message {
		t.Errorf("message %q, want %q", msg, message)
	}
	apptest.SessionsUnchanged(t, ts, before)
}

// gslSignedIn checks a client's credentials still work.
func gslSignedIn(t testing.TB, c *apptest.Client) {
	t.Helper()
	if apptest.GQLViewer(t, c) == nil {
		t.Errorf("the client was signed out")
	}
}

func TestGraphQLSessionsRevoke(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(apptest.Proxied), func(t *testing.T, ts *apptest.Server) {
		a, aliceID := gslUser(t, ts, "alice")
		b := gslLogin(t, ts, "alice", "B agent", "203.0.113.10")
		c := gslLogin(t, ts, "alice", "C agent", "203.0.113.11")
		bob, _ := gslUser(t, ts, "bob")
		aID, bID, cID, bobID := gslSessionID(t, ts, a), gslSessionID(t, ts, b), gslSessionID(t, ts, c), gslSessionID(t, ts, bob)
		bCookie, cCookie := apptest.GQLSessionCookie(t, ts, b), apptest.GQLSessionCookie(t, ts, c)
		revoke := func(c *apptest.Client, id string) *apptest.GQLResponse {
			return c.GQL(gslRevokeDoc, apptest.GQLIn(map[string]any{"id": id}))
		}
		refused := func(t *testing.T, r *apptest.GQLResponse, message, code string) {
			t.Helper()
			gqlWantUserErrs(t, r, "revokeSession", apptest.GQLUserErr{Field: gqlField("id"), Message: message, Code: code})
			if v, present := r.Data["revokeSession"].(map[string]any)["revokedSessionId"]; !present || v != nil {
				t.Errorf("revokedSessionId should be null: %s", r.Raw)
			}
		}
		lastEvent := func(t *testing.T) gslEvent {
			t.Helper()
			return gslActivity(t, a, gslVars(1, "", "")).Edges[0].Node
		}

		t.Run("another user's session is not found and keeps working", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			refused(t, revoke(a, bobID), "session not found", "NOT_FOUND")
			apptest.SessionsUnchanged(t, ts, before)
			gslSignedIn(t, bob)
			if ids := gslSessionIDs(gslSessions(t, bob, nil)); !slices.Equal(ids, []string{bobID}) {
				t.Errorf("bob's sessions: %q", ids)
			}
		})
		t.Run("unknown id", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			refused(t, revoke(a, uuid.NewString()), "session not found", "NOT_FOUND")
			apptest.SessionsUnchanged(t, ts, before)
		})
		t.Run("malformed id", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			for _, id := range []string{"not-a-uuid", "", strings.ReplaceAll(bID, "-", ""), "{" + bID + "}", "urn:uuid:" + bID} {
				refused(t, revoke(a, id), "invalid uuid", "INVALID")
			}
			apptest.SessionsUnchanged(t, ts, before)
			gslSignedIn(t, b)
		})
		t.Run("revoke another of one's sessions", func(t *testing.T) {
			r := revoke(a, bID)
			gqlWantUserErrs(t, r, "revokeSession")
			if got := apptest.Get(r.Data, "revokeSession", "revokedSessionId"); got != bID {
				t.Errorf("revokedSessionId = %v, want %s", got, bID)
			}
			if ck := gqlSetCookie(ts, r.Header); ck != nil && ck.Value != apptest.GQLSessionCookie(t, ts, a) {
				t.Errorf("the caller's cookie was changed: %q", r.Header.Values("Set-Cookie"))
			}
			gslSignedOut(t, ts, b, "invalid session")
			gslSignedOut(t, ts, apptest.GQLCookieClient(t, ts, bCookie), "invalid session")
			gslSignedIn(t, a)
			gslSignedIn(t, c)
			if ids := gslSessionIDs(gslSessions(t, a, nil)); !slices.Equal(ids, []string{cID, aID}) {
				t.Errorf("sessions %q, want %q", ids, []string{cID, aID})
			}
			ev := lastEvent(t)
			if ev.Event != "session:delete" || ev.IsAPI || ev.IP == nil || *ev.IP != "127.0.0.1" ||
				!gslJSONEqual(t, ev.Data, []byte(`{"uuid":"`+bID+`","ip":"203.0.113.10","user_agent":"B agent"}`)) {
				t.Errorf("activity %+v (data %s), want session:delete of B", ev, ev.Data)
			}
		})
		t.Run("revoking it again: not found", func(t *testing.T) {
			before := apptest.SessionsSnapshot(t, ts)
			refused(t, revoke(a, bID), "session not found", "NOT_FOUND")
			apptest.SessionsUnchanged(t, ts, before)
		})
		t.Run("revoking one's own session clears the cookie", func(t *testing.T) {
			r := revoke(c, cID)
			gqlWantUserErrs(t, r, "revokeSession")
			if got := apptest.Get(r.Data, "revokeSession", "revokedSessionId"); got != cID {
				t.Errorf("revokedSessionId = %v, want %s", got, cID)
			}
			ck := gqlSetCookie(ts, r.Header)
			if ck == nil || ck.Value != "" || ck.MaxAge >= 0 && (ck.Expires.IsZero() || ck.Expires.After(time.Now())) {
				t.Errorf("the cookie was not cleared: %q", r.Header.Values("Set-Cookie"))
			}
			if v := apptest.GQLSessionCookie(t, ts, c); v != "" {
				t.Errorf("the client still holds a session cookie")
			}
			gslSignedOut(t, ts, c, "missing authorization")
			gslSignedOut(t, ts, apptest.GQLCookieClient(t, ts, cCookie), "invalid session")
			if ids := gslSessionIDs(gslSessions(t, a, nil)); !slices.Equal(ids, []string{aID}) {
				t.Errorf("sessions %q, want only %s", ids, aID)
			}
		})
		t.Run("through an API key", func(t *testing.T) {
			d := gslLogin(t, ts, "alice", "D agent", "203.0.113.12")
			dID := gslSessionID(t, ts, d)
			kc := gslKey(t, ts, aliceID, "sessions.delete")
			kc.Header.Set("X-Forwarded-For", "198.51.100.1")
			r := revoke(kc, dID)
			gqlWantUserErrs(t, r, "revokeSession")
			gqlWantNoSessionCookie(t, ts, r)
			if got := apptest.Get(r.Data, "revokeSession", "revokedSessionId"); got != dID {
				t.Errorf("revokedSessionId = %v, want %s", got, dID)
			}
			gslSignedOut(t, ts, d, "invalid session")
			gslSignedIn(t, a)
			ev := lastEvent(t)
			if ev.Event != "session:delete" || !ev.IsAPI || ev.IP == nil || *ev.IP != "198.51.100.1" ||
				!gslJSONEqual(t, ev.Data, []byte(`{"uuid":"`+dID+`","ip":"203.0.113.12","user_agent":"D agent"}`)) {
				t.Errorf("activity %+v (data %s), want session:delete of D through a key", ev, ev.Data)
			}
		})
	})
}

func TestGraphQLSessionsRevokeOthers(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		a, aliceID := gslUser(t, ts, "alice")
		b := gslLogin(t, ts, "alice", "B agent", "")
		c := gslLogin(t, ts, "alice", "C agent", "")
		d := gslLogin(t, ts, "alice", "D agent", "")
		bob, _ := gslUser(t, ts, "bob")
		bID, bCookie := gslSessionID(t, ts, b), apptest.GQLSessionCookie(t, ts, b)
		revokeOthers := func(t *testing.T, c *apptest.Client, want int) *apptest.GQLResponse {
			t.Helper()
			r := c.GQL(gslRevokeOthersDoc, nil)
			gqlWantUserErrs(t, r, "revokeOtherSessions")
			if got := apptest.Get(r.Data, "revokeOtherSessions", "revokedCount"); got != float64(want) {
				t.Errorf("revokedCount = %v, want %d", got, want)
			}
			return r
		}

		t.Run("every other session is revoked, the caller's survives", func(t *testing.T) {
			r := revokeOthers(t, b, 3)
			if ck := gqlSetCookie(ts, r.Header); ck != nil && ck.Value != bCookie {
				t.Errorf("the caller's cookie was changed: %q", r.Header.Values("Set-Cookie"))
			}
			gslSignedIn(t, b)
			for _, gone := range []*apptest.Client{a, c, d} {
				gslSignedOut(t, ts, gone, "invalid session")
			}
			gslSignedIn(t, bob)
			conn := gslSessions(t, b, nil)
			if !slices.Equal(gslSessionIDs(conn), []string{bID}) || conn.TotalCount != 1 || !conn.Edges[0].Node.Current {
				t.Errorf("sessions after revoking the others: %+v", conn)
			}
			ev := gslActivity(t, b, gslVars(1, "", "")).Edges[0].Node
			if ev.Event != "session:delete-all" || ev.IsAPI || !gslJSONEqual(t, ev.Data, []byte(`{"deleted":3}`)) {
				t.Errorf("activity %+v (data %s), want session:delete-all {deleted: 3}", ev, ev.Data)
			}
		})
		t.Run("nothing left to revoke", func(t *testing.T) {
			revokeOthers(t, b, 0)
			gslSignedIn(t, b)
		})
		t.Run("under API-key auth every session is revoked", func(t *testing.T) {
			e := gslLogin(t, ts, "alice", "E agent", "")
			kc := gslKey(t, ts, aliceID, "sessions.delete", "sessions.read", "activity.read")
			r := revokeOthers(t, kc, 2)
			gqlWantNoSessionCookie(t, ts, r)
			gslSignedOut(t, ts, b, "invalid session")
			gslSignedOut(t, ts, e, "invalid session")
			if conn := gslSessions(t, kc, nil); conn.TotalCount != 0 || len(conn.Edges) != 0 {
				t.Errorf("sessions left: %+v", conn)
			}
			gslSignedIn(t, kc)
			gslSignedIn(t, bob)
			ev := gslActivity(t, kc, gslVars(1, "", "")).Edges[0].Node
			if ev.Event != "session:delete-all" || !ev.IsAPI || !gslJSONEqual(t, ev.Data, []byte(`{"deleted":2}`)) {
				t.Errorf("activity %+v (data %s), want session:delete-all {deleted: 2} through a key", ev, ev.Data)
			}
		})
	})
}

// gslWantForbidden checks a FORBIDDEN top-level error naming perm.
func gslWantForbidden(t testing.TB, r *apptest.GQLResponse, field, perm string) {
	t.Helper()
	msg, ext := apptest.GQLTopError(t, r, "FORBIDDEN", field)
	if msg != apptest.ForbiddenPrefix+perm || ext["permission"] != perm {
		t.Errorf("forbidden error %q permission %v, want %q %s", msg, ext["permission"], apptest.ForbiddenPrefix+perm, perm)
	}
}

func TestGraphQLSessionsPermissions(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		a, aliceID := gslUser(t, ts, "alice")
		b := gslLogin(t, ts, "alice", "B agent", "")
		bID := gslSessionID(t, ts, b)
		noPerms := gslKey(t, ts, aliceID)
		readOnly := gslKey(t, ts, aliceID, "sessions.read", "activity.read")
		deleteOnly := gslKey(t, ts, aliceID, "sessions.delete", "activity.read")

		for _, tc := range []struct {
			name  string
			c     *apptest.Client
			doc   string
			vars  map[string]any
			field string
			perm  string
		}{
			{"list without any permission", noPerms, gslSessionsDoc, nil, "viewer", "sessions.read"},
			{"list with sessions.delete only", deleteOnly, gslSessionsDoc, gslVars(5, "", "agent"), "viewer", "sessions.read"},
			{"revoke one without any permission", noPerms, gslRevokeDoc, apptest.GQLIn(map[string]any{"id": bID}), "revokeSession", "sessions.delete"},
			{"revoke one with sessions.read only", readOnly, gslRevokeDoc, apptest.GQLIn(map[string]any{"id": bID}), "revokeSession", "sessions.delete"},
			{"revoke others with sessions.read only", readOnly, gslRevokeOthersDoc, nil, "revokeOtherSessions", "sessions.delete"},
			{"revoke others without any permission", noPerms, gslRevokeOthersDoc, nil, "revokeOtherSessions", "sessions.delete"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := apptest.SessionsSnapshot(t, ts)
				gslWantForbidden(t, tc.c.GQL(tc.doc, tc.vars), tc.field, tc.perm)
				apptest.SessionsUnchanged(t, ts, before)
				gslSignedIn(t, a)
				gslSignedIn(t, b)
			})
		}
		t.Run("the permission is enough", func(t *testing.T) {
			if conn := gslSessions(t, readOnly, nil); conn.TotalCount != 2 {
				t.Errorf("totalCount %d, want 2", conn.TotalCount)
			}
			gqlWantUserErrs(t, deleteOnly.GQL(gslRevokeDoc, apptest.GQLIn(map[string]any{"id": bID})), "revokeSession")
			gslSignedOut(t, ts, b, "invalid session")
		})
		t.Run("a suspended account", func(t *testing.T) {
			c := gslLogin(t, ts, "alice", "C agent", "")
			cID := gslSessionID(t, ts, c)
			gqlSetFlags(t, ts, "alice", false, true)
			before := apptest.SessionsSnapshot(t, ts)
			for _, cl := range []*apptest.Client{a, readOnly} {
				for _, op := range []struct {
					doc, field string
					vars       map[string]any
				}{
					{gslSessionsDoc, "viewer", nil},
					{gslActivityDoc, "viewer", nil},
					{gslRevokeDoc, "revokeSession", apptest.GQLIn(map[string]any{"id": cID})},
					{gslRevokeOthersDoc, "revokeOtherSessions", nil},
				} {
					if msg, _ := apptest.GQLTopError(t, cl.GQL(op.doc, op.vars), "FORBIDDEN", op.field); msg != "account is suspended" {
						t.Errorf("%s: message %q, want account is suspended", op.field, msg)
					}
				}
			}
			apptest.SessionsUnchanged(t, ts, before)
			gqlSetFlags(t, ts, "alice", false, false)
			gslSignedIn(t, c)
		})
	})
}

// gslArgumentErrors checks every argument error of a list field.
func gslArgumentErrors(t *testing.T, ts *apptest.Server, c *apptest.Client, doc string) {
	cursor := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	id := uuid.NewString()
	before := apptest.SessionsSnapshot(t, ts)
	for _, tc := range []struct {
		name string
		vars map[string]any
		want string
	}{
		{"first 0", map[string]any{"first": 0}, "first: lower than 1"},
		{"first -5", map[string]any{"first": -5}, "first: lower than 1"},
		{"first 101", map[string]any{"first": 101}, "first: greater than 100"},
		{"search 129", map[string]any{"search": strings.Repeat("a", 129)}, "search: length is greater than 128"},
		{"search 129 runes", map[string]any{"search": strings.Repeat("é", 129)}, "search: length is greater than 128"},
		{"after not base64", map[string]any{"after": "not a cursor!"}, "after: invalid cursor"},
		{"after padded", map[string]any{"after": cursor("c1:1:"+id) + "="}, "after: invalid cursor"},
		{"after standard base64", map[string]any{"after": base64.StdEncoding.EncodeToString([]byte("c1:1700000000000000:" + id + "??"))}, "after: invalid cursor"},
		{"after other version", map[string]any{"after": cursor("c2:1700000000000000:" + id)}, "after: invalid cursor"},
		{"after bad time", map[string]any{"after": cursor("c1:yesterday:" + id)}, "after: invalid cursor"},
		{"after bad id", map[string]any{"after": cursor("c1:1700000000000000:not-a-uuid")}, "after: invalid cursor"},
		{"after upper-case id", map[string]any{"after": cursor("c1:1700000000000000:" + strings.ToUpper(id))}, "after: invalid cursor"},
		{"after extra part", map[string]any{"after": cursor("c1:1700000000000000:" + id + ":x")}, "after: invalid cursor"},
		{"after SQL", map[string]any{"after": "' OR 1=1 --"}, "after: invalid cursor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.GQL(doc, tc.vars)
			if msg, _ := apptest.GQLTopError(t, r, "INVALID", "viewer"); msg != tc.want {
				t.Errorf("message %q, want %q\n%s", msg, tc.want, r.Raw)
			}
		})
	}
	for _, ok := range []map[string]any{{"first": 1}, {"first": 100}, {"search": strings.Repeat("é", 128)},
		{"after": cursor("c1:1700000000000000:" + id)}} {
		apptest.GQLNoErrors(t, c.GQL(doc, ok))
	}
	apptest.SessionsUnchanged(t, ts, before)
}

func TestGraphQLSessionsArgumentErrors(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := gslUser(t, ts, "alice")
		gslArgumentErrors(t, ts, c, gslSessionsDoc)
	})
}

func TestGraphQLActivityArgumentErrors(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := gslUser(t, ts, "alice")
		gslArgumentErrors(t, ts, c, gslActivityDoc)
	})
}
