package graph_test

// End-to-end tests of viewer.sessions, viewer.activity, revokeSession and
// revokeOtherSessions over GraphQL (GRAPHQL.md), on every engine, and of
// their agreement with the REST routes. Listing is here; revoking and the
// argument errors are in e2e_sessions_revoke_test.go, the history in
// e2e_activity_test.go, the comparison with REST in
// e2e_sessions_rest_test.go.

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"accountd/app/apptest"
)

const gslPW = "correct horse battery"

const (
	gslPageInfo    = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
	gslSessionsDoc = `query($first: Int, $after: String, $search: String) { viewer { sessions(first: $first, after: $after, search: $search) {
		` + gslPageInfo + ` edges { cursor node { id ip userAgent current lastUsedAt createdAt } } } } }`
	gslActivityDoc = `query($first: Int, $after: String, $search: String) { viewer { activity(first: $first, after: $after, search: $search) {
		` + gslPageInfo + ` edges { cursor node { id event ip data isApi impersonator createdAt } } } } }`
	gslRevokeDoc       = `mutation($input: RevokeSessionInput!) { revokeSession(input: $input) { revokedSessionId ` + apptest.GQLUserErrorFields + ` } }`
	gslRevokeOthersDoc = `mutation { revokeOtherSessions { revokedCount ` + apptest.GQLUserErrorFields + ` } }`
	gslCreateKeyDoc    = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id keyStart } key ` + apptest.GQLUserErrorFields + ` } }`
)

// gslCursorRE is the alphabet of unpadded base64url.
var gslCursorRE = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

type gslSession struct {
	ID         string `json:"id"`
	IP         string `json:"ip"`
	UserAgent  string `json:"userAgent"`
	Current    bool   `json:"current"`
	LastUsedAt string `json:"lastUsedAt"`
	CreatedAt  string `json:"createdAt"`
}

type gslEvent struct {
	ID           string          `json:"id"`
	Event        string          `json:"event"`
	IP           *string         `json:"ip"`
	Data         json.RawMessage `json:"data"`
	IsAPI        bool            `json:"isApi"`
	Impersonator *string         `json:"impersonator"`
	CreatedAt    string          `json:"createdAt"`
}

type gslPage struct {
	HasNextPage     bool    `json:"hasNextPage"`
	HasPreviousPage bool    `json:"hasPreviousPage"`
	StartCursor     *string `json:"startCursor"`
	EndCursor       *string `json:"endCursor"`
}

// gslConn is a decoded connection.
type gslConn[T any] struct {
	TotalCount int     `json:"totalCount"`
	PageInfo   gslPage `json:"pageInfo"`
	Edges      []struct {
		Cursor string `json:"cursor"`
		Node   T      `json:"node"`
	} `json:"edges"`
}

// Nodes returns the nodes of the page, in order.
func (c *gslConn[T]) Nodes() []T {
	out := make([]T, len(c.Edges))
	for i, e := range c.Edges {
		out[i] = e.Node
	}
	return out
}

// gslVars builds the variables of a list query: first (0 = leave out),
// after and search ("" = leave out).
func gslVars(first int, after, search string) map[string]any {
	v := map[string]any{}
	if first != 0 {
		v["first"] = first
	}
	if after != "" {
		v["after"] = after
	}
	if search != "" {
		v["search"] = search
	}
	return v
}

// gslList runs a list query and decodes viewer.<field>, failing on any
// error; it also checks the connection's own invariants.
func gslList[T any](t testing.TB, c *apptest.Client, doc, field string, vars map[string]any) *gslConn[T] {
	t.Helper()
	r := c.GQL(doc, vars)
	apptest.GQLNoErrors(t, r)
	var body struct {
		Data struct {
			Viewer map[string]*gslConn[T] `json:"viewer"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatalf("decode %s: %v\n%s", field, err, r.Raw)
	}
	conn := body.Data.Viewer[field]
	if conn == nil {
		t.Fatalf("viewer.%s missing: %s", field, r.Raw)
	}
	seen := map[string]bool{}
	for i, e := range conn.Edges {
		if !gslCursorRE.MatchString(e.Cursor) || seen[e.Cursor] {
			t.Errorf("edges[%d].cursor %q is not a distinct base64url string", i, e.Cursor)
		}
		seen[e.Cursor] = true
	}
	if n := len(conn.Edges); n > 0 {
		if conn.PageInfo.StartCursor == nil || *conn.PageInfo.StartCursor != conn.Edges[0].Cursor ||
			conn.PageInfo.EndCursor == nil || *conn.PageInfo.EndCursor != conn.Edges[n-1].Cursor {
			t.Errorf("pageInfo %+v does not name the first and last edges' cursors", conn.PageInfo)
		}
	} else if conn.PageInfo.StartCursor != nil || conn.PageInfo.EndCursor != nil || conn.PageInfo.HasNextPage {
		t.Errorf("empty page with pageInfo %+v", conn.PageInfo)
	}
	if _, ok := vars["after"]; conn.PageInfo.HasPreviousPage != ok {
		t.Errorf("hasPreviousPage = %v, want %v (the page was asked for with after: %v)", conn.PageInfo.HasPreviousPage, ok, ok)
	}
	return conn
}

func gslSessions(t testing.TB, c *apptest.Client, vars map[string]any) *gslConn[gslSession] {
	t.Helper()
	return gslList[gslSession](t, c, gslSessionsDoc, "sessions", vars)
}

func gslActivity(t testing.TB, c *apptest.Client, vars map[string]any) *gslConn[gslEvent] {
	t.Helper()
	return gslList[gslEvent](t, c, gslActivityDoc, "activity", vars)
}

// gslSessionIDs returns the ids of a page's sessions.
func gslSessionIDs(c *gslConn[gslSession]) []string {
	out := []string{}
	for _, n := range c.Nodes() {
		out = append(out, n.ID)
	}
	return out
}

// gslAgents returns the user agents of a page's sessions.
func gslAgents(c *gslConn[gslSession]) []string {
	out := []string{}
	for _, n := range c.Nodes() {
		out = append(out, n.UserAgent)
	}
	return out
}

// gslEvents returns the event names of a page.
func gslEvents(c *gslConn[gslEvent]) []string {
	out := []string{}
	for _, n := range c.Nodes() {
		out = append(out, n.Event)
	}
	return out
}

// gslWalk follows a list from the start, size rows a page, calling between
// (if not nil) after each page but the last; it returns the ids seen.
func gslWalk(t testing.TB, c *apptest.Client, size int, search string, between func(page int)) []string {
	t.Helper()
	var ids []string
	after := ""
	for page := 1; page < 100; page++ {
		conn := gslSessions(t, c, gslVars(size, after, search))
		ids = append(ids, gslSessionIDs(conn)...)
		if !conn.PageInfo.HasNextPage {
			return ids
		}
		if len(conn.Edges) != size {
			t.Fatalf("page %d has %d rows and a next page", page, len(conn.Edges))
		}
		after = *conn.PageInfo.EndCursor
		if between != nil {
			between(page)
		}
	}
	t.Fatalf("the walk does not end")
	return nil
}

// gslLogin signs in over GraphQL with a fresh client sending userAgent
// (and X-Forwarded-For: ip, if not "").
func gslLogin(t testing.TB, ts *apptest.Server, user, userAgent, ip string) *apptest.Client {
	t.Helper()
	c := ts.Client(t)
	c.Header.Set("User-Agent", userAgent)
	if ip != "" {
		c.Header.Set("X-Forwarded-For", ip)
	}
	r := c.GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": user, "password": gslPW}))
	gqlWantUserErrs(t, r, "login")
	gqlWantSessionCookie(t, ts, r)
	return c
}

// gslSessionID is the id of the session a client's cookie names, read from
// the database.
func gslSessionID(t testing.TB, ts *apptest.Server, c *apptest.Client) string {
	t.Helper()
	return apptest.SessionIDOf(t, ts, apptest.GQLSessionCookie(t, ts, c))
}

// gslUser registers username and returns its client and id.
func gslUser(t testing.TB, ts *apptest.Server, username string) (*apptest.Client, string) {
	t.Helper()
	c, u := apptest.GQLRegister(t, ts, username, gslPW)
	return c, u["id"].(string)
}

// gslKey is a client authenticating with a new key of userID holding perms.
func gslKey(t testing.TB, ts *apptest.Server, userID string, perms ...string) *apptest.Client {
	t.Helper()
	return gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, userID, perms))
}

// gslTime parses a Time value and checks it is RFC 3339 in UTC.
func gslTime(t testing.TB, what, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %q, want RFC 3339 UTC: %v", what, s, err)
	}
	return tm
}

// gslJSONEqual reports whether two JSON texts hold the same value.
func gslJSONEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func TestGraphQLSessionsList(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(apptest.Proxied), func(t *testing.T, ts *apptest.Server) {
		alice, aliceID := gslUser(t, ts, "alice")
		firefox := gslLogin(t, ts, "alice", "Mozilla/5.0 Firefox/128.0", "203.0.113.7")
		chrome := gslLogin(t, ts, "alice", "Mozilla/5.0 Chrome/126.0", "198.51.100.23")
		curl := gslLogin(t, ts, "alice", "curl/8.5.0", "2001:db8::5")
		bob, _ := gslUser(t, ts, "bob")

		type want struct{ id, ip, ua string }
		all := []want{ // newest first
			{gslSessionID(t, ts, curl), "2001:db8::5", "curl/8.5.0"},
			{gslSessionID(t, ts, chrome), "198.51.100.23", "Mozilla/5.0 Chrome/126.0"},
			{gslSessionID(t, ts, firefox), "203.0.113.7", "Mozilla/5.0 Firefox/128.0"},
			{gslSessionID(t, ts, alice), "127.0.0.1", apptest.GoUserAgent},
		}
		check := func(t *testing.T, conn *gslConn[gslSession], want []want, current string) {
			t.Helper()
			if conn.TotalCount != len(want) || len(conn.Edges) != len(want) || conn.PageInfo.HasNextPage {
				t.Fatalf("totalCount %d, %d edges, hasNextPage %v; want %d, %d, false",
					conn.TotalCount, len(conn.Edges), conn.PageInfo.HasNextPage, len(want), len(want))
			}
			var prev time.Time
			for i, w := range want {
				s := conn.Edges[i].Node
				if s.ID != w.id || s.IP != w.ip || s.UserAgent != w.ua {
					t.Errorf("node %d = %+v, want id %s ip %s userAgent %q", i, s, w.id, w.ip, w.ua)
				}
				if s.Current != (s.ID == current) {
					t.Errorf("node %d (%s) current = %v, want %v", i, w.ua, s.Current, s.ID == current)
				}
				created, last := gslTime(t, "createdAt", s.CreatedAt), gslTime(t, "lastUsedAt", s.LastUsedAt)
				if !created.Equal(last) || time.Since(created) > time.Hour || time.Since(created) < -time.Hour {
					t.Errorf("node %d: createdAt %s lastUsedAt %s, want both now", i, s.CreatedAt, s.LastUsedAt)
				}
				if i > 0 && !created.Before(prev) {
					t.Errorf("node %d created %s is not older than the node before", i, s.CreatedAt)
				}
				prev = created
			}
		}

		t.Run("cookie: newest first, current only for the requesting session", func(t *testing.T) {
			check(t, gslSessions(t, chrome, nil), all, all[1].id)
			check(t, gslSessions(t, alice, gslVars(100, "", "")), all, all[3].id)
		})
		t.Run("API key: current is false for every session", func(t *testing.T) {
			check(t, gslSessions(t, gslKey(t, ts, aliceID, "sessions.read"), nil), all, "")
			chrome.Bearer = gqlInsertAPIKey(t, ts, aliceID, []string{"sessions.read"})
			check(t, gslSessions(t, chrome, nil), all, "")
			chrome.Bearer = ""
		})
		t.Run("only one's own sessions", func(t *testing.T) {
			conn := gslSessions(t, bob, nil)
			if ids := gslSessionIDs(conn); !slices.Equal(ids, []string{gslSessionID(t, ts, bob)}) || conn.TotalCount != 1 ||
				!conn.Edges[0].Node.Current {
				t.Errorf("bob's sessions: %+v", conn)
			}
		})
		t.Run("sessions idle past SESSION_DURATION are neither listed nor counted", func(t *testing.T) {
			apptest.SetColumn(t, ts, "sessions", all[2].id, "last_used", time.Now().Add(-169*time.Hour))
			nearly := apptest.DBTime(time.Now().Add(-167 * time.Hour))
			apptest.SetColumn(t, ts, "sessions", all[0].id, "last_used", nearly)
			conn := gslSessions(t, chrome, nil)
			if ids := gslSessionIDs(conn); !slices.Equal(ids, []string{all[0].id, all[1].id, all[3].id}) || conn.TotalCount != 3 {
				t.Fatalf("sessions %q totalCount %d, want the three live ones", ids, conn.TotalCount)
			}
			if got := gslTime(t, "lastUsedAt", conn.Edges[0].Node.LastUsedAt); !got.Equal(nearly) {
				t.Errorf("lastUsedAt %s, want %s as stored", got, nearly)
			}
			gslSignedOut(t, ts, firefox, "invalid session")
		})
	})
}

func TestGraphQLSessionsPagination(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, aliceID := gslUser(t, ts, "alice")
		for i := 1; i <= 6; i++ {
			gslLogin(t, ts, "alice", fmt.Sprintf("agent-%d", i), "")
		}
		kc := gslKey(t, ts, aliceID, "sessions.read")
		full := gslSessions(t, kc, gslVars(100, "", ""))
		wantAgents := []string{"agent-6", "agent-5", "agent-4", "agent-3", "agent-2", "agent-1", apptest.GoUserAgent}
		if got := gslAgents(full); !slices.Equal(got, wantAgents) || full.TotalCount != 7 {
			t.Fatalf("full list %q totalCount %d", got, full.TotalCount)
		}
		ids := gslSessionIDs(full)

		t.Run("first and after", func(t *testing.T) {
			p1 := gslSessions(t, kc, gslVars(3, "", ""))
			if !slices.Equal(gslSessionIDs(p1), ids[:3]) || !p1.PageInfo.HasNextPage || p1.TotalCount != 7 {
				t.Fatalf("page 1: %q hasNextPage %v totalCount %d", gslAgents(p1), p1.PageInfo.HasNextPage, p1.TotalCount)
			}
			p2 := gslSessions(t, kc, gslVars(3, *p1.PageInfo.EndCursor, ""))
			if !slices.Equal(gslSessionIDs(p2), ids[3:6]) || !p2.PageInfo.HasNextPage || p2.TotalCount != 7 {
				t.Fatalf("page 2: %q hasNextPage %v totalCount %d", gslAgents(p2), p2.PageInfo.HasNextPage, p2.TotalCount)
			}
			p3 := gslSessions(t, kc, gslVars(3, *p2.PageInfo.EndCursor, ""))
			if !slices.Equal(gslSessionIDs(p3), ids[6:]) || p3.PageInfo.HasNextPage || p3.TotalCount != 7 {
				t.Fatalf("page 3: %q hasNextPage %v totalCount %d", gslAgents(p3), p3.PageInfo.HasNextPage, p3.TotalCount)
			}
			past := gslSessions(t, kc, gslVars(3, *p3.PageInfo.EndCursor, ""))
			if len(past.Edges) != 0 || past.TotalCount != 7 {
				t.Errorf("after the last row: %d edges, totalCount %d; want none and the true total 7", len(past.Edges), past.TotalCount)
			}
			// A page exactly as long as the rest has no next page.
			exact := gslSessions(t, kc, gslVars(4, *p1.PageInfo.EndCursor, ""))
			if !slices.Equal(gslSessionIDs(exact), ids[3:]) || exact.PageInfo.HasNextPage {
				t.Errorf("exact page: %q hasNextPage %v", gslAgents(exact), exact.PageInfo.HasNextPage)
			}
			// An empty after is no after.
			r := kc.GQL(gslSessionsDoc, map[string]any{"first": 2, "after": ""})
			apptest.GQLNoErrors(t, r)
			if got := apptest.Get(r.Data, "viewer", "sessions", "edges"); len(got.([]any)) != 2 {
				t.Errorf("after \"\": %s", r.Raw)
			}
			if got, want := gslWalk(t, kc, 1, "", nil), ids; !slices.Equal(got, want) {
				t.Errorf("walk by ones %q, want %q", got, want)
			}
		})
		t.Run("stable while sessions are created and revoked mid-walk", func(t *testing.T) {
			var created []string
			got := gslWalk(t, kc, 2, "", func(page int) {
				switch page {
				case 1:
					// Newer than every row: a walk by offset would see
					// rows of page 1 again.
					for i := 0; i < 3; i++ {
						created = append(created, gslSessionID(t, ts, gslLogin(t, ts, "alice", "mid-walk", "")))
					}
				case 2:
					// Revoke the row the cursor points at: the walk
					// goes on behind it.
					r := alice.GQL(gslRevokeDoc, apptest.GQLIn(map[string]any{"id": ids[3]}))
					gqlWantUserErrs(t, r, "revokeSession")
				}
			})
			if !slices.Equal(got, ids) {
				t.Errorf("walk %q, want every original session once: %q", got, ids)
			}
			conn := gslSessions(t, kc, gslVars(100, "", ""))
			want := append(slices.Clone(created), ids[:3]...)
			slices.Reverse(want[:3])
			want = append(want, ids[4:]...)
			if got := gslSessionIDs(conn); !slices.Equal(got, want) || conn.TotalCount != len(want) {
				t.Errorf("after the walk: %q totalCount %d, want %q", got, conn.TotalCount, want)
			}
		})
		t.Run("rows with the same creation time are ordered by id", func(t *testing.T) {
			same := time.Now().Add(-time.Hour)
			for _, id := range gslSessionIDs(gslSessions(t, kc, gslVars(100, "", ""))) {
				apptest.SetColumn(t, ts, "sessions", id, "created", same)
			}
			conn := gslSessions(t, kc, gslVars(100, "", ""))
			want := gslSessionIDs(conn)
			sorted := slices.Clone(want)
			slices.Sort(sorted)
			slices.Reverse(sorted)
			if !slices.Equal(want, sorted) {
				t.Errorf("ties not ordered by id descending: %q", want)
			}
			for _, size := range []int{1, 2, 3} {
				if got := gslWalk(t, kc, size, "", nil); !slices.Equal(got, want) {
					t.Errorf("walk by %d over ties: %q, want %q", size, got, want)
				}
			}
		})
		t.Run("a search is walked and counted", func(t *testing.T) {
			conn := gslSessions(t, kc, gslVars(2, "", "AGENT-"))
			// agent-3 was revoked above.
			if conn.TotalCount != 5 || !conn.PageInfo.HasNextPage {
				t.Errorf("search agent-: totalCount %d hasNextPage %v, want 5 true", conn.TotalCount, conn.PageInfo.HasNextPage)
			}
			want := []string{ids[0], ids[1], ids[2], ids[4], ids[5]}
			if got := gslWalk(t, kc, 2, "agent-", nil); !slices.Equal(got, want) {
				t.Errorf("walked %q, want %q", got, want)
			}
		})
		t.Run("first defaults to 25", func(t *testing.T) {
			for i := 0; i < 20; i++ {
				gslLogin(t, ts, "alice", "bulk", "")
			}
			conn := gslSessions(t, kc, nil)
			if len(conn.Edges) != 25 || !conn.PageInfo.HasNextPage || conn.TotalCount != 29 {
				t.Errorf("default page: %d edges hasNextPage %v totalCount %d, want 25 true 29",
					len(conn.Edges), conn.PageInfo.HasNextPage, conn.TotalCount)
			}
			if conn := gslSessions(t, kc, gslVars(100, "", "")); len(conn.Edges) != 29 || conn.PageInfo.HasNextPage {
				t.Errorf("first 100: %d edges hasNextPage %v", len(conn.Edges), conn.PageInfo.HasNextPage)
			}
		})
	})
}

func TestGraphQLSessionsSearch(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		_, aliceID := gslUser(t, ts, "alice")
		for _, ua := range []string{"ÜBER Browser", "Browser 100% sure", "Browser 1005 build", "agent a_b", "agent axb",
			"O'Brien's agent", `C:\tools\agent`, "plain agent"} {
			gslLogin(t, ts, "alice", ua, "")
		}
		kc := gslKey(t, ts, aliceID, "sessions.read")
		before := apptest.SessionsSnapshot(t, ts)
		for _, tc := range []struct {
			search string
			want   []string
		}{
			{"100%", []string{"Browser 100% sure"}},
			{"%", []string{"Browser 100% sure"}},
			{"%%", nil},
			{"100_", nil},
			{"a_b", []string{"agent a_b"}},
			{"_", []string{"agent a_b"}},
			{"'", []string{"O'Brien's agent"}},
			{"o'BRIEN", []string{"O'Brien's agent"}},
			{"' OR '1'='1", nil},
			{`\`, []string{`C:\tools\agent`}},
			{`\%`, nil},
			{"über", []string{"ÜBER Browser"}},
			{"BROWSER", []string{"Browser 1005 build", "Browser 100% sure", "ÜBER Browser"}},
			{"AGENT", []string{"plain agent", `C:\tools\agent`, "O'Brien's agent", "agent axb", "agent a_b"}},
		} {
			t.Run(tc.search, func(t *testing.T) {
				conn := gslSessions(t, kc, gslVars(0, "", tc.search))
				if got := gslAgents(conn); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q: %q, want %q", tc.search, got, tc.want)
				}
				if conn.TotalCount != len(tc.want) {
					t.Errorf("search %q: totalCount %d, want %d", tc.search, conn.TotalCount, len(tc.want))
				}
			})
		}
		apptest.SessionsUnchanged(t, ts, before)
	})
}
