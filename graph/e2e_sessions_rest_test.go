package graph_test

// The GraphQL sessions and activity agree with the REST routes over the
// same database: the same items, in the same order.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
)

// gslSameSession compares a REST Session object with a GraphQL Session.
func gslSameSession(t testing.TB, i int, r apptest.SessionItem, g gslSession) {
	t.Helper()
	rl, _ := time.Parse(time.RFC3339Nano, r.LastUsed)
	rc, _ := time.Parse(time.RFC3339Nano, r.Created)
	if r.UUID != g.ID || r.IP != g.IP || r.UserAgent != g.UserAgent || r.IsUsing != g.Current ||
		!rl.Equal(gslTime(t, "lastUsedAt", g.LastUsedAt)) || !rc.Equal(gslTime(t, "createdAt", g.CreatedAt)) {
		t.Errorf("session %d differs:\nREST    %+v\nGraphQL %+v", i, r, g)
	}
}

func TestGraphQLSessionsAgreeWithREST(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(apptest.Proxied), func(t *testing.T, ts *apptest.Server) {
		alice, aliceID := gslUser(t, ts, "alice")
		for i, ua := range []string{"Firefox 100%", "agent_1", "O'Brien", "curl"} {
			gslLogin(t, ts, "alice", ua, fmt.Sprintf("203.0.113.%d", i+1))
		}
		apptest.LoginFrom(t, ts, "alice", "REST agent", "198.51.100.1")
		cookieOnly := apptest.GQLCookieClient(t, ts, apptest.GQLSessionCookie(t, ts, alice))
		idle := gslLogin(t, ts, "alice", "idle agent", "")
		apptest.SetColumn(t, ts, "sessions", gslSessionID(t, ts, idle), "last_used", time.Now().Add(-200*time.Hour))
		gslUser(t, ts, "bob")

		for _, who := range []struct {
			name string
			c    *apptest.Client
		}{{"cookie", cookieOnly}, {"API key", gslKey(t, ts, aliceID, "sessions.read")}} {
			t.Run(who.name, func(t *testing.T) {
				for _, search := range []string{"", "%", "_", "'", "AGENT", "none"} {
					q := apptest.Query("per_page", "100")
					if search != "" {
						q = apptest.Query("per_page", "100", "search", search)
					}
					r := apptest.ListSessions(t, who.c, q)
					g := gslSessions(t, who.c, gslVars(100, "", search))
					if r.Total != g.TotalCount || len(r.Data) != len(g.Edges) {
						t.Fatalf("search %q: REST %d rows total %d, GraphQL %d rows totalCount %d",
							search, len(r.Data), r.Total, len(g.Edges), g.TotalCount)
					}
					for i := range r.Data {
						gslSameSession(t, i, r.Data[i], g.Edges[i].Node)
					}
				}
				// The same pages: REST page 2 of 2 and the GraphQL page after the first 2.
				r := apptest.ListSessions(t, who.c, apptest.Query("per_page", "2", "page", "2"))
				g1 := gslSessions(t, who.c, gslVars(2, "", ""))
				g := gslSessions(t, who.c, gslVars(2, *g1.PageInfo.EndCursor, ""))
				if len(r.Data) != 2 || len(g.Edges) != 2 || r.Total != g.TotalCount {
					t.Fatalf("page 2: REST %d rows, GraphQL %d", len(r.Data), len(g.Edges))
				}
				for i := range r.Data {
					gslSameSession(t, i, r.Data[i], g.Edges[i].Node)
				}
			})
		}
	})
}

func TestGraphQLActivityAgreesWithREST(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(apptest.Proxied), func(t *testing.T, ts *apptest.Server) {
		_, aliceID := gslUser(t, ts, "alice")
		gslHistory(t, ts, aliceID)
		rh := apptest.History(t, ts, uuid.MustParse(aliceID))
		apptest.WantDeleted(t, rh.First.Do(http.MethodDelete, apptest.SessionsPath, nil), 2)
		gslUser(t, ts, "bob")

		for _, who := range []struct {
			name string
			c    *apptest.Client
		}{{"cookie", rh.First}, {"API key", gslKey(t, ts, aliceID, "activity.read")}} {
			t.Run(who.name, func(t *testing.T) {
				for _, search := range []string{"", "auth", "SESSION:", "%", "_", "api-key:create"} {
					q := apptest.Query("per_page", "100")
					if search != "" {
						q = apptest.Query("per_page", "100", "search", search)
					}
					r := apptest.ListActivities(t, who.c, q)
					g := gslActivity(t, who.c, gslVars(100, "", search))
					if r.Total != g.TotalCount || len(r.Data) != len(g.Edges) {
						t.Fatalf("search %q: REST %q total %d, GraphQL %q totalCount %d",
							search, apptest.PageEvents(r), r.Total, gslEvents(g), g.TotalCount)
					}
					if search == "" && len(r.Data) != 11 {
						t.Errorf("%d events, want 11", len(r.Data))
					}
					for i := range r.Data {
						re, ge := r.Data[i], g.Edges[i].Node
						rData, _ := json.Marshal(re.Data)
						rc, _ := time.Parse(time.RFC3339Nano, re.Created)
						if re.Event != ge.Event || !reflect.DeepEqual(re.IP, ge.IP) || re.IsAPI != ge.IsAPI ||
							!reflect.DeepEqual(re.Impersonator, ge.Impersonator) || !gslJSONEqual(t, rData, ge.Data) ||
							!rc.Equal(gslTime(t, "createdAt", ge.CreatedAt)) {
							t.Errorf("search %q, event %d differs:\nREST    %+v\nGraphQL %+v (data %s)", search, i, re, ge, ge.Data)
						}
					}
				}
			})
		}
	})
}
