package app_test

// End-to-end tests of viewer.sessions, viewer.activity, revokeSession and
// revokeOtherSessions over GraphQL (GRAPHQL.md), on every engine, and of
// their agreement with the REST routes.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
)

const gslPW = "correct horse battery"

const (
	gslPageInfo    = `totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
	gslSessionsDoc = `query($first: Int, $after: String, $search: String) { viewer { sessions(first: $first, after: $after, search: $search) {
		` + gslPageInfo + ` edges { cursor node { id ip userAgent current lastUsedAt createdAt } } } } }`
	gslActivityDoc = `query($first: Int, $after: String, $search: String) { viewer { activity(first: $first, after: $after, search: $search) {
		` + gslPageInfo + ` edges { cursor node { id event ip data isApi impersonator createdAt } } } } }`
	gslRevokeDoc       = `mutation($input: RevokeSessionInput!) { revokeSession(input: $input) { revokedSessionId ` + gqlUserErrorFields + ` } }`
	gslRevokeOthersDoc = `mutation { revokeOtherSessions { revokedCount ` + gqlUserErrorFields + ` } }`
	gslCreateKeyDoc    = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { apiKey { id keyStart } key ` + gqlUserErrorFields + ` } }`
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
func gslList[T any](t testing.TB, c *client, doc, field string, vars map[string]any) *gslConn[T] {
	t.Helper()
	r := c.gql(doc, vars)
	gqlNoErrors(t, r)
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

func gslSessions(t testing.TB, c *client, vars map[string]any) *gslConn[gslSession] {
	t.Helper()
	return gslList[gslSession](t, c, gslSessionsDoc, "sessions", vars)
}

func gslActivity(t testing.TB, c *client, vars map[string]any) *gslConn[gslEvent] {
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
func gslWalk(t testing.TB, c *client, size int, search string, between func(page int)) []string {
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
func gslLogin(t testing.TB, ts *testServer, user, userAgent, ip string) *client {
	t.Helper()
	c := ts.client(t)
	c.Header.Set("User-Agent", userAgent)
	if ip != "" {
		c.Header.Set("X-Forwarded-For", ip)
	}
	r := c.gql(gqlLoginDoc, gqlIn(map[string]any{"user": user, "password": gslPW}))
	gqlWantUserErrs(t, r, "login")
	gqlWantSessionCookie(t, ts, r)
	return c
}

// gslSessionID is the id of the session a client's cookie names, read from
// the database.
func gslSessionID(t testing.TB, ts *testServer, c *client) string {
	t.Helper()
	return rslSessionIDOf(t, ts, gqlSessionCookie(t, ts, c))
}

// gslUser registers username and returns its client and id.
func gslUser(t testing.TB, ts *testServer, username string) (*client, string) {
	t.Helper()
	c, u := gqlRegister(t, ts, username, gslPW)
	return c, u["id"].(string)
}

// gslKey is a client authenticating with a new key of userID holding perms.
func gslKey(t testing.TB, ts *testServer, userID string, perms ...string) *client {
	t.Helper()
	return gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, userID, perms))
}

// gslSignedOut checks that a client's credentials no longer work: the
// viewer is null and a mutation is refused as unauthenticated with
// message, changing nothing.
func gslSignedOut(t testing.TB, ts *testServer, c *client, message string) {
	t.Helper()
	r := c.gql(`{ viewer { id } }`, nil)
	gqlNoErrors(t, r)
	if r.Data["viewer"] != nil {
		t.Errorf("viewer should be null: %s", r.Raw)
	}
	before := rslSnapshot(t, ts)
	r = c.gql(gslRevokeOthersDoc, nil)
	if msg, _ := gqlTopError(t, r, "UNAUTHENTICATED", "revokeOtherSessions"); msg != message {
		t.Errorf("message %q, want %q", msg, message)
	}
	rslUnchanged(t, ts, before)
}

// gslSignedIn checks a client's credentials still work.
func gslSignedIn(t testing.TB, c *client) {
	t.Helper()
	if gqlViewer(t, c) == nil {
		t.Errorf("the client was signed out")
	}
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
	eachServer(t, gqlConfig(rslProxied), func(t *testing.T, ts *testServer) {
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
			{gslSessionID(t, ts, alice), "127.0.0.1", rslGoUA},
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
			rslSetColumn(t, ts, "sessions", all[2].id, "last_used", time.Now().Add(-169*time.Hour))
			nearly := rslDBTime(time.Now().Add(-167 * time.Hour))
			rslSetColumn(t, ts, "sessions", all[0].id, "last_used", nearly)
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
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		alice, aliceID := gslUser(t, ts, "alice")
		for i := 1; i <= 6; i++ {
			gslLogin(t, ts, "alice", fmt.Sprintf("agent-%d", i), "")
		}
		kc := gslKey(t, ts, aliceID, "sessions.read")
		full := gslSessions(t, kc, gslVars(100, "", ""))
		wantAgents := []string{"agent-6", "agent-5", "agent-4", "agent-3", "agent-2", "agent-1", rslGoUA}
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
			r := kc.gql(gslSessionsDoc, map[string]any{"first": 2, "after": ""})
			gqlNoErrors(t, r)
			if got := get(r.Data, "viewer", "sessions", "edges"); len(got.([]any)) != 2 {
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
					r := alice.gql(gslRevokeDoc, gqlIn(map[string]any{"id": ids[3]}))
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
				rslSetColumn(t, ts, "sessions", id, "created", same)
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
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		_, aliceID := gslUser(t, ts, "alice")
		for _, ua := range []string{"ÜBER Browser", "Browser 100% sure", "Browser 1005 build", "agent a_b", "agent axb",
			"O'Brien's agent", `C:\tools\agent`, "plain agent"} {
			gslLogin(t, ts, "alice", ua, "")
		}
		kc := gslKey(t, ts, aliceID, "sessions.read")
		before := rslSnapshot(t, ts)
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
		rslUnchanged(t, ts, before)
	})
}

func TestGraphQLSessionsRevoke(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(rslProxied), func(t *testing.T, ts *testServer) {
		a, aliceID := gslUser(t, ts, "alice")
		b := gslLogin(t, ts, "alice", "B agent", "203.0.113.10")
		c := gslLogin(t, ts, "alice", "C agent", "203.0.113.11")
		bob, _ := gslUser(t, ts, "bob")
		aID, bID, cID, bobID := gslSessionID(t, ts, a), gslSessionID(t, ts, b), gslSessionID(t, ts, c), gslSessionID(t, ts, bob)
		bCookie, cCookie := gqlSessionCookie(t, ts, b), gqlSessionCookie(t, ts, c)
		revoke := func(c *client, id string) *gqlResponse {
			return c.gql(gslRevokeDoc, gqlIn(map[string]any{"id": id}))
		}
		refused := func(t *testing.T, r *gqlResponse, message, code string) {
			t.Helper()
			gqlWantUserErrs(t, r, "revokeSession", gqlUserErr{Field: gqlField("id"), Message: message, Code: code})
			if v, present := r.Data["revokeSession"].(map[string]any)["revokedSessionId"]; !present || v != nil {
				t.Errorf("revokedSessionId should be null: %s", r.Raw)
			}
		}
		lastEvent := func(t *testing.T) gslEvent {
			t.Helper()
			return gslActivity(t, a, gslVars(1, "", "")).Edges[0].Node
		}

		t.Run("another user's session is not found and keeps working", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			refused(t, revoke(a, bobID), "session not found", "NOT_FOUND")
			rslUnchanged(t, ts, before)
			gslSignedIn(t, bob)
			if ids := gslSessionIDs(gslSessions(t, bob, nil)); !slices.Equal(ids, []string{bobID}) {
				t.Errorf("bob's sessions: %q", ids)
			}
		})
		t.Run("unknown id", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			refused(t, revoke(a, uuid.NewString()), "session not found", "NOT_FOUND")
			rslUnchanged(t, ts, before)
		})
		t.Run("malformed id", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			for _, id := range []string{"not-a-uuid", "", strings.ReplaceAll(bID, "-", ""), "{" + bID + "}", "urn:uuid:" + bID} {
				refused(t, revoke(a, id), "invalid uuid", "INVALID")
			}
			rslUnchanged(t, ts, before)
			gslSignedIn(t, b)
		})
		t.Run("revoke another of one's sessions", func(t *testing.T) {
			r := revoke(a, bID)
			gqlWantUserErrs(t, r, "revokeSession")
			if got := get(r.Data, "revokeSession", "revokedSessionId"); got != bID {
				t.Errorf("revokedSessionId = %v, want %s", got, bID)
			}
			if ck := gqlSetCookie(ts, r.Header); ck != nil && ck.Value != gqlSessionCookie(t, ts, a) {
				t.Errorf("the caller's cookie was changed: %q", r.Header.Values("Set-Cookie"))
			}
			gslSignedOut(t, ts, b, "invalid session")
			gslSignedOut(t, ts, gqlCookieClient(t, ts, bCookie), "invalid session")
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
			before := rslSnapshot(t, ts)
			refused(t, revoke(a, bID), "session not found", "NOT_FOUND")
			rslUnchanged(t, ts, before)
		})
		t.Run("revoking one's own session clears the cookie", func(t *testing.T) {
			r := revoke(c, cID)
			gqlWantUserErrs(t, r, "revokeSession")
			if got := get(r.Data, "revokeSession", "revokedSessionId"); got != cID {
				t.Errorf("revokedSessionId = %v, want %s", got, cID)
			}
			ck := gqlSetCookie(ts, r.Header)
			if ck == nil || ck.Value != "" || ck.MaxAge >= 0 && (ck.Expires.IsZero() || ck.Expires.After(time.Now())) {
				t.Errorf("the cookie was not cleared: %q", r.Header.Values("Set-Cookie"))
			}
			if v := gqlSessionCookie(t, ts, c); v != "" {
				t.Errorf("the client still holds a session cookie")
			}
			gslSignedOut(t, ts, c, "missing authorization")
			gslSignedOut(t, ts, gqlCookieClient(t, ts, cCookie), "invalid session")
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
			if got := get(r.Data, "revokeSession", "revokedSessionId"); got != dID {
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
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		a, aliceID := gslUser(t, ts, "alice")
		b := gslLogin(t, ts, "alice", "B agent", "")
		c := gslLogin(t, ts, "alice", "C agent", "")
		d := gslLogin(t, ts, "alice", "D agent", "")
		bob, _ := gslUser(t, ts, "bob")
		bID, bCookie := gslSessionID(t, ts, b), gqlSessionCookie(t, ts, b)
		revokeOthers := func(t *testing.T, c *client, want int) *gqlResponse {
			t.Helper()
			r := c.gql(gslRevokeOthersDoc, nil)
			gqlWantUserErrs(t, r, "revokeOtherSessions")
			if got := get(r.Data, "revokeOtherSessions", "revokedCount"); got != float64(want) {
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
			for _, gone := range []*client{a, c, d} {
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
func gslWantForbidden(t testing.TB, r *gqlResponse, field, perm string) {
	t.Helper()
	msg, ext := gqlTopError(t, r, "FORBIDDEN", field)
	if msg != rslForbiddenPrefix+perm || ext["permission"] != perm {
		t.Errorf("forbidden error %q permission %v, want %q %s", msg, ext["permission"], rslForbiddenPrefix+perm, perm)
	}
}

func TestGraphQLSessionsPermissions(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		a, aliceID := gslUser(t, ts, "alice")
		b := gslLogin(t, ts, "alice", "B agent", "")
		bID := gslSessionID(t, ts, b)
		noPerms := gslKey(t, ts, aliceID)
		readOnly := gslKey(t, ts, aliceID, "sessions.read", "activity.read")
		deleteOnly := gslKey(t, ts, aliceID, "sessions.delete", "activity.read")

		for _, tc := range []struct {
			name  string
			c     *client
			doc   string
			vars  map[string]any
			field string
			perm  string
		}{
			{"list without any permission", noPerms, gslSessionsDoc, nil, "viewer", "sessions.read"},
			{"list with sessions.delete only", deleteOnly, gslSessionsDoc, gslVars(5, "", "agent"), "viewer", "sessions.read"},
			{"revoke one without any permission", noPerms, gslRevokeDoc, gqlIn(map[string]any{"id": bID}), "revokeSession", "sessions.delete"},
			{"revoke one with sessions.read only", readOnly, gslRevokeDoc, gqlIn(map[string]any{"id": bID}), "revokeSession", "sessions.delete"},
			{"revoke others with sessions.read only", readOnly, gslRevokeOthersDoc, nil, "revokeOtherSessions", "sessions.delete"},
			{"revoke others without any permission", noPerms, gslRevokeOthersDoc, nil, "revokeOtherSessions", "sessions.delete"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := rslSnapshot(t, ts)
				gslWantForbidden(t, tc.c.gql(tc.doc, tc.vars), tc.field, tc.perm)
				rslUnchanged(t, ts, before)
				gslSignedIn(t, a)
				gslSignedIn(t, b)
			})
		}
		t.Run("the permission is enough", func(t *testing.T) {
			if conn := gslSessions(t, readOnly, nil); conn.TotalCount != 2 {
				t.Errorf("totalCount %d, want 2", conn.TotalCount)
			}
			gqlWantUserErrs(t, deleteOnly.gql(gslRevokeDoc, gqlIn(map[string]any{"id": bID})), "revokeSession")
			gslSignedOut(t, ts, b, "invalid session")
		})
		t.Run("a suspended account", func(t *testing.T) {
			c := gslLogin(t, ts, "alice", "C agent", "")
			cID := gslSessionID(t, ts, c)
			gqlSetFlags(t, ts, "alice", false, true)
			before := rslSnapshot(t, ts)
			for _, cl := range []*client{a, readOnly} {
				for _, op := range []struct {
					doc, field string
					vars       map[string]any
				}{
					{gslSessionsDoc, "viewer", nil},
					{gslActivityDoc, "viewer", nil},
					{gslRevokeDoc, "revokeSession", gqlIn(map[string]any{"id": cID})},
					{gslRevokeOthersDoc, "revokeOtherSessions", nil},
				} {
					if msg, _ := gqlTopError(t, cl.gql(op.doc, op.vars), "FORBIDDEN", op.field); msg != "account is suspended" {
						t.Errorf("%s: message %q, want account is suspended", op.field, msg)
					}
				}
			}
			rslUnchanged(t, ts, before)
			gqlSetFlags(t, ts, "alice", false, false)
			gslSignedIn(t, c)
		})
	})
}

// gslArgumentErrors checks every argument error of a list field.
func gslArgumentErrors(t *testing.T, ts *testServer, c *client, doc string) {
	cursor := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	id := uuid.NewString()
	before := rslSnapshot(t, ts)
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
			r := c.gql(doc, tc.vars)
			if msg, _ := gqlTopError(t, r, "INVALID", "viewer"); msg != tc.want {
				t.Errorf("message %q, want %q\n%s", msg, tc.want, r.Raw)
			}
		})
	}
	for _, ok := range []map[string]any{{"first": 1}, {"first": 100}, {"search": strings.Repeat("é", 128)},
		{"after": cursor("c1:1700000000000000:" + id)}} {
		gqlNoErrors(t, c.gql(doc, ok))
	}
	rslUnchanged(t, ts, before)
}

func TestGraphQLSessionsArgumentErrors(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		c, _ := gslUser(t, ts, "alice")
		gslArgumentErrors(t, ts, c, gslSessionsDoc)
	})
}

func TestGraphQLActivityArgumentErrors(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		c, _ := gslUser(t, ts, "alice")
		gslArgumentErrors(t, ts, c, gslActivityDoc)
	})
}

// gslHist is what gslHistory did.
type gslHist struct {
	First                      *client
	KeyID, KeyStart, KeySecret string
	Revoked                    string
}

// gslHistory is rslHistory over GraphQL: a login from 203.0.113.7, a
// profile update, an API key made through a key from 198.51.100.9, a
// second login from 192.0.2.44, and the first session revoking the second.
func gslHistory(t *testing.T, ts *testServer, userID string) gslHist {
	t.Helper()
	var h gslHist
	h.First = gslLogin(t, ts, "alice", "Firefox", "203.0.113.7")
	gqlWantUserErrs(t, h.First.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameFirst": "Alicia"})), "updateAccount")

	kc := gslKey(t, ts, userID, "api-keys.create", "activity.read")
	kc.Header.Set("X-Forwarded-For", "198.51.100.9")
	r := kc.gql(gslCreateKeyDoc, gqlIn(map[string]any{"name": "made-by-graphql", "userPermissions": []string{}}))
	gqlWantUserErrs(t, r, "createApiKey")
	h.KeyID, _ = get(r.Data, "createApiKey", "apiKey", "id").(string)
	h.KeyStart, _ = get(r.Data, "createApiKey", "apiKey", "keyStart").(string)
	h.KeySecret, _ = get(r.Data, "createApiKey", "key").(string)
	if h.KeyID == "" || h.KeySecret == "" {
		t.Fatalf("createApiKey: %s", r.Raw)
	}

	second := gslLogin(t, ts, "alice", "Chrome", "192.0.2.44")
	h.Revoked = gslSessionID(t, ts, second)
	gqlWantUserErrs(t, h.First.gql(gslRevokeDoc, gqlIn(map[string]any{"id": h.Revoked})), "revokeSession")
	return h
}

func TestGraphQLActivityList(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(rslProxied), func(t *testing.T, ts *testServer) {
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
		dbIDs, _ := rslActivityIDs(t, ts, uuid.MustParse(aliceID))
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
			r := h.First.gql(gslActivityDoc, nil)
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
				gqlWantUserErrs(t, h.First.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameLast": fmt.Sprint("L", page)})), "updateAccount")
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
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		_, aliceID := gslUser(t, ts, "alice")
		gslLogin(t, ts, "alice", "agent", "")
		for _, perms := range [][]string{nil, {"sessions.read", "sessions.delete", "account.infos"}} {
			kc := gslKey(t, ts, aliceID, perms...)
			before := rslSnapshot(t, ts)
			gslWantForbidden(t, kc.gql(gslActivityDoc, nil), "viewer", "activity.read")
			gslWantForbidden(t, kc.gql(gslActivityDoc, gslVars(5, "", "auth")), "viewer", "activity.read")
			// The arguments are checked first.
			if msg, _ := gqlTopError(t, kc.gql(gslActivityDoc, gslVars(101, "", "")), "INVALID", "viewer"); msg != "first: greater than 100" {
				t.Errorf("message %q, want \"first: greater than 100\"", msg)
			}
			rslUnchanged(t, ts, before)
		}
		conn := gslActivity(t, gslKey(t, ts, aliceID, "activity.read"), nil)
		if got := gslEvents(conn); !slices.Equal(got, []string{"auth:success"}) {
			t.Errorf("with activity.read: %q", got)
		}
	})
}

func TestGraphQLActivityRetention(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(func(cfg *app.Config) { cfg.ActivityRetention = 6 * time.Hour }), func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		alice, aliceID := gslUser(t, ts, "alice")
		old := gslLogin(t, ts, "alice", "old agent", "")
		gqlWantUserErrs(t, old.gql(gqlUpdateAccountDoc, gqlIn(map[string]any{"nameLast": "Liddell"})), "updateAccount")
		current := gslLogin(t, ts, "alice", "new agent", "")
		_, bobID := gslUser(t, ts, "bob")

		uid := uuid.MustParse(aliceID)
		ids, events := rslActivityIDs(t, ts, uid)
		if want := []string{"auth:success", "account:update", "auth:success"}; !slices.Equal(events, want) {
			t.Fatalf("alice's events %q, want %q", events, want)
		}
		now := time.Now()
		rslSetColumn(t, ts, "activities", ids[0], "created", now.Add(-7*time.Hour))
		rslSetColumn(t, ts, "activities", ids[1], "created", now.Add(-5*time.Hour))
		oldID, regID, currentID := gslSessionID(t, ts, old), gslSessionID(t, ts, alice), gslSessionID(t, ts, current)
		rslSetColumn(t, ts, "sessions", oldID, "last_used", now.Add(-168*time.Hour-time.Minute))
		rslSetColumn(t, ts, "sessions", regID, "last_used", now.Add(-167*time.Hour))
		// 999 + alice's one: exactly one full batch of events; 1500 + 1
		// sessions: one full batch and a short one.
		rslBacklog(t, ts, uuid.MustParse(bobID), 999, now.Add(-24*time.Hour), 1500, now.Add(-1000*time.Hour))

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
		if n, m := rslCount(t, ts, "activities", uuid.MustParse(bobID)), rslCount(t, ts, "sessions", uuid.MustParse(bobID)); n != 0 || m != 1 {
			t.Errorf("bob has %d events and %d sessions left, want 0 and his sign-up session", n, m)
		}
		gslSignedIn(t, current)
		gslSignedIn(t, alice)
		gslSignedOut(t, ts, old, "invalid session")
	})
}

// gslSameSession compares a REST Session object with a GraphQL Session.
func gslSameSession(t testing.TB, i int, r rslSession, g gslSession) {
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
	eachServer(t, gqlConfig(rslProxied), func(t *testing.T, ts *testServer) {
		alice, aliceID := gslUser(t, ts, "alice")
		for i, ua := range []string{"Firefox 100%", "agent_1", "O'Brien", "curl"} {
			gslLogin(t, ts, "alice", ua, fmt.Sprintf("203.0.113.%d", i+1))
		}
		rslLogin(t, ts, "alice", "REST agent", "198.51.100.1")
		cookieOnly := gqlCookieClient(t, ts, gqlSessionCookie(t, ts, alice))
		idle := gslLogin(t, ts, "alice", "idle agent", "")
		rslSetColumn(t, ts, "sessions", gslSessionID(t, ts, idle), "last_used", time.Now().Add(-200*time.Hour))
		gslUser(t, ts, "bob")

		for _, who := range []struct {
			name string
			c    *client
		}{{"cookie", cookieOnly}, {"API key", gslKey(t, ts, aliceID, "sessions.read")}} {
			t.Run(who.name, func(t *testing.T) {
				for _, search := range []string{"", "%", "_", "'", "AGENT", "none"} {
					q := rslQ("per_page", "100")
					if search != "" {
						q = rslQ("per_page", "100", "search", search)
					}
					r := rslSessions(t, who.c, q)
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
				r := rslSessions(t, who.c, rslQ("per_page", "2", "page", "2"))
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
	eachServer(t, gqlConfig(rslProxied), func(t *testing.T, ts *testServer) {
		_, aliceID := gslUser(t, ts, "alice")
		gslHistory(t, ts, aliceID)
		rh := rslHistory(t, ts, uuid.MustParse(aliceID))
		rslWantDeleted(t, rh.First.do(http.MethodDelete, rslSessionsPath, nil), 2)
		gslUser(t, ts, "bob")

		for _, who := range []struct {
			name string
			c    *client
		}{{"cookie", rh.First}, {"API key", gslKey(t, ts, aliceID, "activity.read")}} {
			t.Run(who.name, func(t *testing.T) {
				for _, search := range []string{"", "auth", "SESSION:", "%", "_", "api-key:create"} {
					q := rslQ("per_page", "100")
					if search != "" {
						q = rslQ("per_page", "100", "search", search)
					}
					r := rslActivities(t, who.c, q)
					g := gslActivity(t, who.c, gslVars(100, "", search))
					if r.Total != g.TotalCount || len(r.Data) != len(g.Edges) {
						t.Fatalf("search %q: REST %q total %d, GraphQL %q totalCount %d",
							search, rslEvents(r), r.Total, gslEvents(g), g.TotalCount)
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
