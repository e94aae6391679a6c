package graph_test

// End-to-end tests of viewer.activity over GraphQL: the history, its
// permissions and its retention.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
)

// gslHist is what gslHistory did.
type gslHist struct {
	First                      *apptest.Client
	KeyID, KeyStart, KeySecret string
	Revoked                    string
}

// gslHistory is apptest.History over GraphQL: a login from 203.0.113.7, a
// profile update, an API key made through a key from 198.51.100.9, a
// second login from 192.0.2.44, and the first session revoking the second.
func gslHistory(t *testing.T, ts *apptest.Server, userID string) gslHist {
	t.Helper()
	var h gslHist
	h.First = gslLogin(t, ts, "alice", "Firefox", "203.0.113.7")
	gqlWantUserErrs(t, h.First.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "Alicia"})), "updateAccount")

	kc := gslKey(t, ts, userID, "api-keys.create", "activity.read")
	kc.Header.Set("X-Forwarded-For", "198.51.100.9")
	r := kc.GQL(gslCreateKeyDoc, apptest.GQLIn(map[string]any{"name": "made-by-graphql", "userPermissions": []string{}}))
	gqlWantUserErrs(t, r, "createApiKey")
	h.KeyID, _ = apptest.Get(r.Data, "createApiKey", "apiKey", "id").(string)
	h.KeyStart, _ = apptest.Get(r.Data, "createApiKey", "apiKey", "keyStart").(string)
	h.KeySecret, _ = apptest.Get(r.Data, "createApiKey", "key").(string)
	if h.KeyID == "" || h.KeySecret == "" {
		t.Fatalf("createApiKey: %s", r.Raw)
	}

	second := gslLogin(t, ts, "alice", "Chrome", "192.0.2.44")
	h.Revoked = gslSessionID(t, ts, second)
	gqlWantUserErrs(t, h.First.GQL(gslRevokeDoc, apptest.GQLIn(map[string]any{"id": h.Revoked})), "revokeSession")
	return h
}

func TestGraphQLActivityList(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(apptest.Proxied), func(t *testing.T, ts *apptest.Server) {
		_, aliceID := gslUser(t, ts, "alice")
		bob, _ := gslUser(t, ts, "bob")
		gslLogin(t, ts, "bob", "bob agent", "198.51.100.200")
		h := gslHistory(t, ts, aliceID)

		wants := []struct {
			event, ip string
			isAPI     bool
			data      string
		}{ // newest first
			{"session:delete", "203.0.113.7", false, `{"uuid":"` + h.Revoked + `","ip":"192.0.2.44","user_agent":"Chrome"}`},
			{"auth:success", "192.0.2.44", false, `{"using":"password"}`},
			{"api-key:create", "198.51.100.9", true, ""},
			{"account:update", "203.0.113.7", false, `{"fields":["name_first"]}`},
			{"auth:success", "203.0.113.7", false, `{"using":"password"}`},
		}
		dbIDs, _ := apptest.ActivityIDs(t, ts, uuid.MustParse(aliceID))
		slices.Reverse(dbIDs)
		check := func(t *testing.T, conn *gslConn[gslEvent]) {
			t.Helper()
			if conn.TotalCount != len(wants) || len(conn.Edges) != len(wants) {
				t.Fatalf("events %q totalCount %d, want %d", gslEvents(conn), conn.TotalCount, len(wants))
			}
			var prev time.Time
			for i, w := range wants {
				ev := conn.Edges[i].Node
				if ev.ID != dbIDs[i] || ev.Event != w.event || ev.IP == nil || *ev.IP != w.ip || ev.IsAPI != w.isAPI || ev.Impersonator != nil {
					t.Errorf("node %d = %+v, want %s %s from %s isApi %v", i, ev, dbIDs[i], w.event, w.ip, w.isAPI)
				}
				if !bytes.HasPrefix(ev.Data, []byte("{")) {
					t.Errorf("node %d data is not a JSON object: %s", i, ev.Data)
				} else if w.data != "" && !gslJSONEqual(t, ev.Data, []byte(w.data)) {
					t.Errorf("node %d (%s) data %s, want %s", i, w.event, ev.Data, w.data)
				}
				created := gslTime(t, "createdAt", ev.CreatedAt)
				if i > 0 && created.After(prev) {
					t.Errorf("node %d is newer than the node before", i)
				}
				if d := time.Since(created); d > time.Hour || d < -time.Hour {
					t.Errorf("node %d createdAt %s is not now", i, ev.CreatedAt)
				}
				prev = created
			}
			var key map[string]any
			if err := json.Unmarshal(conn.Edges[2].Node.Data, &key); err != nil || key["uuid"] != h.KeyID ||
				key["name"] != "made-by-graphql" || key["identifier"] != h.KeyStart {
				t.Errorf("api-key:create data %s, want uuid %s name made-by-graphql identifier %s", conn.Edges[2].Node.Data, h.KeyID, h.KeyStart)
			}
		}

		t.Run("newest first, with ip, data and isApi", func(t *testing.T) {
			check(t, gslActivity(t, h.First, nil))
			r := h.First.GQL(gslActivityDoc, nil)
			if bytes.Contains(r.Raw, []byte(h.KeySecret[16:])) || bytes.Contains(r.Raw, []byte(gslPW)) {
				t.Errorf("the history holds a secret: %s", r.Raw)
			}
		})
		t.Run("the same through an API key", func(t *testing.T) {
			check(t, gslActivity(t, gslKey(t, ts, aliceID, "activity.read"), gslVars(100, "", "")))
		})
		t.Run("only one's own history", func(t *testing.T) {
			conn := gslActivity(t, bob, nil)
			if got := gslEvents(conn); !slices.Equal(got, []string{"auth:success"}) || conn.TotalCount != 1 {
				t.Errorf("bob's history: %q totalCount %d", got, conn.TotalCount)
			}
		})
		t.Run("a walk is stable while events are recorded", func(t *testing.T) {
			var walked []string
			after := ""
			for page := 1; page <= 10; page++ {
				conn := gslActivity(t, h.First, gslVars(2, after, ""))
				for _, n := range conn.Nodes() {
					walked = append(walked, n.ID)
				}
				if !conn.PageInfo.HasNextPage {
					break
				}
				after = *conn.PageInfo.EndCursor
				// A new event on every page: newer than the cursor, so
				// not part of the rest of the walk.
				gqlWantUserErrs(t, h.First.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameLast": fmt.Sprint("L", page)})), "updateAccount")
			}
			if !slices.Equal(walked, dbIDs) {
				t.Errorf("walked %q, want %q", walked, dbIDs)
			}
			if conn := gslActivity(t, h.First, gslVars(1, "", "")); conn.TotalCount != 7 || conn.Edges[0].Node.Event != "account:update" {
				t.Errorf("after the walk: totalCount %d, newest %s; want 7 and account:update", conn.TotalCount, conn.Edges[0].Node.Event)
			}
		})
		t.Run("search matches the event name literally and ignoring case", func(t *testing.T) {
			for _, tc := range []struct {
				search string
				want   []string
			}{
				{"session", []string{"session:delete"}},
				{"AUTH:Success", []string{"auth:success", "auth:success"}},
				{"api-key:", []string{"api-key:create"}},
				{"%", nil},
				{"_", nil},
				{"auth_success", nil},
				{"a%e", nil},
				{"'", nil},
			} {
				conn := gslActivity(t, h.First, gslVars(0, "", tc.search))
				if got := gslEvents(conn); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q: %q, want %q", tc.search, got, tc.want)
				}
				if conn.TotalCount != len(tc.want) {
					t.Errorf("search %q: totalCount %d, want %d", tc.search, conn.TotalCount, len(tc.want))
				}
			}
			p1 := gslActivity(t, h.First, gslVars(1, "", "auth"))
			p2 := gslActivity(t, h.First, gslVars(1, *p1.PageInfo.EndCursor, "auth"))
			if len(p2.Edges) != 1 || *p2.Edges[0].Node.IP != "203.0.113.7" || p2.PageInfo.HasNextPage || p2.TotalCount != 2 {
				t.Errorf("page 2 of auth: %+v", p2)
			}
		})
	})
}

func TestGraphQLActivityPermissions(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		_, aliceID := gslUser(t, ts, "alice")
		gslLogin(t, ts, "alice", "agent", "")
		for _, perms := range [][]string{nil, {"sessions.read", "sessions.delete", "account.infos"}} {
			kc := gslKey(t, ts, aliceID, perms...)
			before := apptest.SessionsSnapshot(t, ts)
			gslWantForbidden(t, kc.GQL(gslActivityDoc, nil), "viewer", "activity.read")
			gslWantForbidden(t, kc.GQL(gslActivityDoc, gslVars(5, "", "auth")), "viewer", "activity.read")
			// The arguments are checked first.
			if msg, _ := apptest.GQLTopError(t, kc.GQL(gslActivityDoc, gslVars(101, "", "")), "INVALID", "viewer"); msg != "first: greater than 100" {
				t.Errorf("message %q, want \"first: greater than 100\"", msg)
			}
			apptest.SessionsUnchanged(t, ts, before)
		}
		conn := gslActivity(t, gslKey(t, ts, aliceID, "activity.read"), nil)
		if got := gslEvents(conn); !slices.Equal(got, []string{"auth:success"}) {
			t.Errorf("with activity.read: %q", got)
		}
	})
}

func TestGraphQLActivityRetention(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.ActivityRetention = 6 * time.Hour }), func(t *testing.T, ts *apptest.Server) {
		ctx := context.Background()
		alice, aliceID := gslUser(t, ts, "alice")
		old := gslLogin(t, ts, "alice", "old agent", "")
		gqlWantUserErrs(t, old.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameLast": "Liddell"})), "updateAccount")
		current := gslLogin(t, ts, "alice", "new agent", "")
		_, bobID := gslUser(t, ts, "bob")

		uid := uuid.MustParse(aliceID)
		ids, events := apptest.ActivityIDs(t, ts, uid)
		if want := []string{"auth:success", "account:update", "auth:success"}; !slices.Equal(events, want) {
			t.Fatalf("alice's events %q, want %q", events, want)
		}
		now := time.Now()
		apptest.SetColumn(t, ts, "activities", ids[0], "created", now.Add(-7*time.Hour))
		apptest.SetColumn(t, ts, "activities", ids[1], "created", now.Add(-5*time.Hour))
		oldID, regID, currentID := gslSessionID(t, ts, old), gslSessionID(t, ts, alice), gslSessionID(t, ts, current)
		apptest.SetColumn(t, ts, "sessions", oldID, "last_used", now.Add(-168*time.Hour-time.Minute))
		apptest.SetColumn(t, ts, "sessions", regID, "last_used", now.Add(-167*time.Hour))
		// 999 + alice's one: exactly one full batch of events; 1500 + 1
		// sessions: one full batch and a short one.
		apptest.Backlog(t, ts, uuid.MustParse(bobID), 999, now.Add(-24*time.Hour), 1500, now.Add(-1000*time.Hour))

		kc := gslKey(t, ts, aliceID, "sessions.read", "activity.read")
		if conn := gslActivity(t, kc, nil); conn.TotalCount != 3 {
			t.Fatalf("before the clean-up: totalCount %d, want 3", conn.TotalCount)
		}

		res, err := ts.App.Service.Cleanup(ctx)
		if err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		if res.Activities != 1000 || res.Sessions != 1501 {
			t.Errorf("Cleanup deleted %d events and %d sessions, want 1000 and 1501", res.Activities, res.Sessions)
		}
		conn := gslActivity(t, kc, nil)
		if got := gslEvents(conn); !slices.Equal(got, []string{"auth:success", "account:update"}) || conn.TotalCount != 2 {
			t.Errorf("after the clean-up: %q totalCount %d", got, conn.TotalCount)
		}
		if conn.Edges[1].Node.ID != ids[1] {
			t.Errorf("the update within the retention is gone: %+v", conn.Nodes())
		}
		sessions := gslSessions(t, kc, nil)
		if got := gslSessionIDs(sessions); !slices.Equal(got, []string{currentID, regID}) || sessions.TotalCount != 2 {
			t.Errorf("sessions %q totalCount %d, want %q", got, sessions.TotalCount, []string{currentID, regID})
		}
		if n, m := apptest.CountRows(t, ts, "activities", uuid.MustParse(bobID)), apptest.CountRows(t, ts, "sessions", uuid.MustParse(bobID)); n != 0 || m != 1 {
			t.Errorf("bob has %d events and %d sessions left, want 0 and his sign-up session", n, m)
		}
		gslSignedIn(t, current)
		gslSignedIn(t, alice)
		gslSignedOut(t, ts, old, "invalid session")
	})
}
