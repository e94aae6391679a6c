package app_test

// End-to-end tests of the sessions and activity routes of the REST layer
// (REST.md §1, §3, §4): GET/DELETE /api/client/account/sessions[/{uuid}] and
// GET /api/client/account/activity, on every engine.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/app"
	"accountd/secret"
)

const (
	rslPW              = "correct horse battery"
	rslSessionsPath    = "/api/client/account/sessions"
	rslActivityPath    = "/api/client/account/activity"
	rslForbiddenPrefix = "you do not have permission to perform this action: "
	// rslGoUA is the User-Agent Go's HTTP client sends when none is set
	// (the sign-up requests of these tests).
	rslGoUA = "Go-http-client/1.1"
)

// rslSessionKeys and rslActivityKeys are the members of the Session and
// Activity objects, in the order REST.md §3 lists them.
var (
	rslSessionKeys  = []string{"uuid", "ip", "user_agent", "is_using", "last_used", "created"}
	rslActivityKeys = []string{"impersonator", "event", "ip", "data", "is_api", "created"}
)

// rslProxied is the REST base configuration plus 127.0.0.1 as a trusted
// proxy, so that each test client can speak from an address of its own
// through X-Forwarded-For and the recorded addresses tell clients apart.
func rslProxied(cfg *app.Config) {
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

// rslLogin signs in with a fresh client that sends userAgent (and, if not
// "", X-Forwarded-For: ip) on every request; it fails unless the login
// succeeded.
func rslLogin(t testing.TB, ts *testServer, user, userAgent, ip string) *client {
	t.Helper()
	c := ts.client(t)
	c.Header.Set("User-Agent", userAgent)
	if ip != "" {
		c.Header.Set("X-Forwarded-For", ip)
	}
	res := c.do(http.MethodPost, "/api/auth/login", map[string]any{"user": user, "password": rslPW})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s (%s): %d %s", user, userAgent, res.Status, res.Body)
	}
	return c
}

// rslSession is a Session object.
type rslSession struct {
	UUID      string `json:"uuid"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	IsUsing   bool   `json:"is_using"`
	LastUsed  string `json:"last_used"`
	Created   string `json:"created"`
}

// rslActivity is an Activity object; Data must be a JSON object.
type rslActivity struct {
	Impersonator *string        `json:"impersonator"`
	Event        string         `json:"event"`
	IP           *string        `json:"ip"`
	Data         map[string]any `json:"data"`
	IsAPI        bool           `json:"is_api"`
	Created      string         `json:"created"`
}

// rslPage is a decoded pagination envelope.
type rslPage[T any] struct {
	Total, PerPage, Page int
	Data                 []T
}

// rslList GETs path?query with c and decodes the envelope under key,
// checking the exact members and their order on the way: the envelope
// {key: {"total","per_page","page","data"}}, and each item's keys.
func rslList[T any](t testing.TB, c *client, path, query, key string, itemKeys []string) *rslPage[T] {
	t.Helper()
	target := path
	if query != "" {
		target += "?" + query
	}
	res := c.do(http.MethodGet, target, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", target, ct)
	}
	outer, ovals := gqlOrderedObject(t, res.Body)
	if !slices.Equal(outer, []string{key}) {
		t.Fatalf("GET %s: top-level keys %q, want [%s]: %s", target, outer, key, res.Body)
	}
	inner, ivals := gqlOrderedObject(t, ovals[key])
	if want := []string{"total", "per_page", "page", "data"}; !slices.Equal(inner, want) {
		t.Fatalf("GET %s: envelope keys %q, want %q", target, inner, want)
	}
	var raws []json.RawMessage
	if !bytes.HasPrefix(bytes.TrimSpace(ivals["data"]), []byte("[")) {
		t.Fatalf("GET %s: data is not an array: %s", target, ivals["data"])
	}
	if err := json.Unmarshal(ivals["data"], &raws); err != nil {
		t.Fatalf("GET %s: data: %v", target, err)
	}
	out := &rslPage[T]{Data: make([]T, len(raws))}
	for name, dst := range map[string]*int{"total": &out.Total, "per_page": &out.PerPage, "page": &out.Page} {
		if err := json.Unmarshal(ivals[name], dst); err != nil {
			t.Fatalf("GET %s: %s = %s is not an integer", target, name, ivals[name])
		}
	}
	for i, raw := range raws {
		keys, vals := gqlOrderedObject(t, raw)
		if !slices.Equal(keys, itemKeys) {
			t.Errorf("GET %s: data[%d] keys %q, want %q", target, i, keys, itemKeys)
		}
		if d, ok := vals["data"]; ok && !bytes.HasPrefix(bytes.TrimSpace(d), []byte("{")) {
			t.Errorf("GET %s: data[%d].data is not a JSON object: %s", target, i, d)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out.Data[i]); err != nil {
			t.Fatalf("GET %s: data[%d]: %v: %s", target, i, err, raw)
		}
	}
	return out
}

// rslSessions lists c's sessions with the query string query.
func rslSessions(t testing.TB, c *client, query string) *rslPage[rslSession] {
	t.Helper()
	return rslList[rslSession](t, c, rslSessionsPath, query, "sessions", rslSessionKeys)
}

// rslActivities lists c's history with the query string query.
func rslActivities(t testing.TB, c *client, query string) *rslPage[rslActivity] {
	t.Helper()
	return rslList[rslActivity](t, c, rslActivityPath, query, "activities", rslActivityKeys)
}

// rslQ builds a query string.
func rslQ(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// rslUUIDs returns the uuid of every session of a page, in order.
func rslUUIDs(p *rslPage[rslSession]) []string {
	out := make([]string, len(p.Data))
	for i, s := range p.Data {
		out[i] = s.UUID
	}
	return out
}

// rslAgents returns the user agent of every session of a page, in order.
func rslAgents(p *rslPage[rslSession]) []string {
	out := make([]string, len(p.Data))
	for i, s := range p.Data {
		out[i] = s.UserAgent
	}
	return out
}

// rslEvents returns the event name of every entry of a page, in order.
func rslEvents(p *rslPage[rslActivity]) []string {
	out := make([]string, len(p.Data))
	for i, a := range p.Data {
		out[i] = a.Event
	}
	return out
}

// rslSessionID returns the id of the session a client's cookie names,
// read from the database (independently of the API under test).
func rslSessionID(t testing.TB, ts *testServer, c *client) string {
	t.Helper()
	return rslSessionIDOf(t, ts, restCookieValue(t, c))
}

// rslSessionIDOf returns the id of the session of a cookie value.
func rslSessionIDOf(t testing.TB, ts *testServer, cookie string) string {
	t.Helper()
	var id uuid.UUID
	err := ts.App.DB.NewSelect().Table("sessions").Column("id").Where("key_start = ?", cookie[:16]).
		Scan(context.Background(), &id)
	if err != nil {
		t.Fatalf("session of cookie: %v", err)
	}
	return id.String()
}

// rslDBTime is t as the database stores it (UTC, microseconds).
func rslDBTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// rslFormat renders a time the way the REST layer does.
func rslFormat(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// rslSetColumn writes a time column of one row directly, which is how
// these tests move a row back in time.
func rslSetColumn(t testing.TB, ts *testServer, table, id, column string, at time.Time) {
	t.Helper()
	res, err := ts.App.DB.NewUpdate().Table(table).Set(column+" = ?", rslDBTime(at)).Where("id = ?", id).
		Exec(context.Background())
	if err != nil {
		t.Fatalf("update %s.%s: %v", table, column, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("update %s.%s of %s: %d rows", table, column, id, n)
	}
}

// rslActivityIDs returns the ids of a user's events, oldest first, with
// their names.
func rslActivityIDs(t testing.TB, ts *testServer, userID uuid.UUID) (ids []string, events []string) {
	t.Helper()
	var rows []struct {
		ID    uuid.UUID `bun:"id"`
		Event string    `bun:"event"`
	}
	err := ts.App.DB.NewSelect().Table("activities").Column("id", "event").Where("user_id = ?", userID).
		OrderExpr("created ASC, id ASC").Scan(context.Background(), &rows)
	if err != nil {
		t.Fatalf("activities: %v", err)
	}
	for _, r := range rows {
		ids = append(ids, r.ID.String())
		events = append(events, r.Event)
	}
	return ids, events
}

// rslState is what the tests check a refused request left alone: every
// session (id and user agent) and the number of activity rows and keys.
type rslState struct {
	Sessions   []string
	Activities int
	APIKeys    int
}

func rslSnapshot(t testing.TB, ts *testServer) rslState {
	t.Helper()
	ctx := context.Background()
	var rows []struct {
		ID        uuid.UUID `bun:"id"`
		UserAgent string    `bun:"user_agent"`
	}
	if err := ts.App.DB.NewSelect().Table("sessions").Column("id", "user_agent").
		OrderExpr("id").Scan(ctx, &rows); err != nil {
		t.Fatalf("sessions: %v", err)
	}
	var s rslState
	for _, r := range rows {
		s.Sessions = append(s.Sessions, r.ID.String()+" "+r.UserAgent)
	}
	for table, dst := range map[string]*int{"activities": &s.Activities, "api_keys": &s.APIKeys} {
		n, err := ts.App.DB.NewSelect().Table(table).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		*dst = int(n)
	}
	return s
}

// rslUnchanged fails when the database differs from before.
func rslUnchanged(t testing.TB, ts *testServer, before rslState) {
	t.Helper()
	if after := rslSnapshot(t, ts); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused request changed the database:\nbefore %+v\nafter  %+v", before, after)
	}
}

// rslWantCookieCleared checks the response expires the session cookie.
func rslWantCookieCleared(t testing.TB, res *response) {
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
func rslWantCookieKept(t testing.TB, res *response, cookie string) {
	t.Helper()
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == restCookieName && ck.Value != cookie {
			t.Errorf("session cookie changed or cleared: %q", res.Header.Values("Set-Cookie"))
		}
	}
}

// rslWantDeleted checks a 200 {"deleted": n} answer, exactly.
func rslWantDeleted(t testing.TB, res *response, n int) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", res.Status, res.Body)
	}
	keys, vals := gqlOrderedObject(t, res.Body)
	if !slices.Equal(keys, []string{"deleted"}) || string(vals["deleted"]) != fmt.Sprint(n) {
		t.Errorf("body %s, want {\"deleted\":%d}", res.Body, n)
	}
}

// rslAuthFails checks that a client's next request is refused with 401
// and message.
func rslAuthFails(t testing.TB, c *client, message string) {
	t.Helper()
	restWantErrors(t, c.do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, message)
}

// rslReplay is a fresh client replaying a cookie value with a fixed user
// agent.
func rslReplay(t testing.TB, ts *testServer, cookie string) *client {
	c := restCookieClient(t, ts, cookie)
	c.Header.Set("User-Agent", "replay")
	return c
}

func TestRESTSessionList(t *testing.T) {
	t.Parallel()
	restServer(t, rslProxied, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		firefox := rslLogin(t, ts, "alice", "Mozilla/5.0 Firefox/128.0", "203.0.113.7")
		chrome := rslLogin(t, ts, "alice", "Mozilla/5.0 Chrome/126.0", "198.51.100.23")
		curl := rslLogin(t, ts, "alice", "curl/8.5.0", "2001:db8::5")
		bob := restRegister(t, ts, "bob", rslPW)

		type want struct {
			id, ip, ua string
		}
		all := []want{ // newest first
			{rslSessionID(t, ts, curl), "2001:db8::5", "curl/8.5.0"},
			{rslSessionID(t, ts, chrome), "198.51.100.23", "Mozilla/5.0 Chrome/126.0"},
			{rslSessionID(t, ts, firefox), "203.0.113.7", "Mozilla/5.0 Firefox/128.0"},
			{rslSessionID(t, ts, alice.client), "127.0.0.1", rslGoUA},
		}
		check := func(t *testing.T, p *rslPage[rslSession], want []want, using string) {
			t.Helper()
			if p.Total != len(want) || p.PerPage != 25 || p.Page != 1 || len(p.Data) != len(want) {
				t.Fatalf("envelope total=%d per_page=%d page=%d len=%d, want %d 25 1 %d",
					p.Total, p.PerPage, p.Page, len(p.Data), len(want), len(want))
			}
			for i, w := range want {
				s := p.Data[i]
				if s.UUID != w.id || s.IP != w.ip || s.UserAgent != w.ua {
					t.Errorf("data[%d] = %+v, want uuid %s ip %s user_agent %q", i, s, w.id, w.ip, w.ua)
				}
				if s.IsUsing != (s.UUID == using) {
					t.Errorf("data[%d] (%s) is_using = %v, want %v", i, w.ua, s.IsUsing, s.UUID == using)
				}
				restCheckTimestamp(t, "created", s.Created, time.Hour)
				restCheckTimestamp(t, "last_used", s.LastUsed, time.Hour)
				if s.LastUsed != s.Created {
					t.Errorf("data[%d]: an unused session's last_used %s differs from created %s", i, s.LastUsed, s.Created)
				}
				if i > 0 && s.Created >= p.Data[i-1].Created {
					t.Errorf("data[%d] created %s is not older than data[%d]'s %s", i, s.Created, i-1, p.Data[i-1].Created)
				}
			}
		}

		t.Run("cookie: newest first, is_using only for the requesting session", func(t *testing.T) {
			check(t, rslSessions(t, chrome, ""), all, all[1].id)
			check(t, rslSessions(t, alice.client, ""), all, all[3].id)
		})
		t.Run("API key: is_using is false for every session", func(t *testing.T) {
			kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"sessions.read"}}))
			check(t, rslSessions(t, kc, ""), all, "")
			// The header wins over a cookie sent along, so still no session is "in use".
			chrome.Bearer = restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"sessions.read"}})
			check(t, rslSessions(t, chrome, ""), all, "")
			chrome.Bearer = ""
		})
		t.Run("only one's own sessions", func(t *testing.T) {
			p := rslSessions(t, bob.client, "")
			bobID := rslSessionID(t, ts, bob.client)
			if p.Total != 1 || len(p.Data) != 1 || p.Data[0].UUID != bobID || !p.Data[0].IsUsing {
				t.Errorf("bob's sessions: %+v", p)
			}
		})
		t.Run("sessions idle past SESSION_DURATION are neither listed nor counted", func(t *testing.T) {
			rslSetColumn(t, ts, "sessions", all[2].id, "last_used", time.Now().Add(-169*time.Hour))
			rslSetColumn(t, ts, "sessions", all[2].id, "created", time.Now().Add(-200*time.Hour))
			// Nearly idle, but still live: listed, with the stored last use.
			nearly := rslDBTime(time.Now().Add(-167 * time.Hour))
			rslSetColumn(t, ts, "sessions", all[0].id, "last_used", nearly)

			p := rslSessions(t, chrome, "")
			if got, want := rslUUIDs(p), []string{all[0].id, all[1].id, all[3].id}; !slices.Equal(got, want) || p.Total != 3 {
				t.Fatalf("sessions %q total %d, want %q total 3", got, p.Total, want)
			}
			if p.Data[0].LastUsed != rslFormat(nearly) {
				t.Errorf("last_used = %s, want %s (as stored)", p.Data[0].LastUsed, rslFormat(nearly))
			}
			if p.Data[0].LastUsed >= p.Data[0].Created {
				t.Errorf("last_used %s should now be older than created %s", p.Data[0].LastUsed, p.Data[0].Created)
			}
			rslAuthFails(t, firefox, "invalid session")
			// Still hidden after its cookie was refused.
			if p := rslSessions(t, chrome, ""); p.Total != 3 || len(p.Data) != 3 {
				t.Errorf("after the idle cookie was refused: total %d, %d rows", p.Total, len(p.Data))
			}
		})
	})
}

// TestRESTSessionListIdleBoundary pins the idle limit with a frozen clock:
// a session last used exactly SESSION_DURATION ago still authenticates,
// so it is listed, counted and kept by the clean-up; one a microsecond
// older is none of these. Activity exactly ACTIVITY_RETENTION old is kept.
func TestRESTSessionListIdleBoundary(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.ActivityRetention = 24 * time.Hour }, func(t *testing.T, ts *testServer) {
		now := rslDBTime(time.Now())
		ts.App.Service.Now = func() time.Time { return now }
		alice := restRegister(t, ts, "alice", rslPW)
		edge := rslLogin(t, ts, "alice", "edge", "")
		over := rslLogin(t, ts, "alice", "over", "")
		edgeID, overID, aliceID := rslSessionID(t, ts, edge), rslSessionID(t, ts, over), rslSessionID(t, ts, alice.client)
		rslSetColumn(t, ts, "sessions", edgeID, "last_used", now.Add(-168*time.Hour))
		rslSetColumn(t, ts, "sessions", overID, "last_used", now.Add(-168*time.Hour-time.Microsecond))
		ids, _ := rslActivityIDs(t, ts, alice.ID)
		if len(ids) != 2 {
			t.Fatalf("%d events, want the two logins", len(ids))
		}
		rslSetColumn(t, ts, "activities", ids[0], "created", now.Add(-24*time.Hour-time.Microsecond))
		rslSetColumn(t, ts, "activities", ids[1], "created", now.Add(-24*time.Hour))

		p := rslSessions(t, alice.client, "")
		sorted := []string{edgeID, aliceID}
		slices.Sort(sorted)
		slices.Reverse(sorted) // same creation time: by id, descending
		if got := rslUUIDs(p); !slices.Equal(got, sorted) || p.Total != 2 {
			t.Errorf("sessions %q total %d, want %q total 2", got, p.Total, sorted)
		}
		res, err := ts.App.Service.Cleanup(context.Background())
		if err != nil || res.Sessions != 1 || res.Activities != 1 {
			t.Errorf("Cleanup: %+v %v, want the session past the limit and the event past retention", res, err)
		}
		if n := rslCount(t, ts, "sessions", alice.ID); n != 2 {
			t.Errorf("%d sessions left, want 2", n)
		}
		if left, _ := rslActivityIDs(t, ts, alice.ID); !slices.Equal(left, ids[1:]) {
			t.Errorf("events left %q, want %q", left, ids[1:])
		}
		restAccount(t, edge)
		rslAuthFails(t, over, "invalid session")
	})
}

func TestRESTSessionListPagination(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		for i := 1; i <= 6; i++ {
			rslLogin(t, ts, "alice", fmt.Sprintf("agent-%d", i), "")
		}
		kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"sessions.read"}}))
		full := rslSessions(t, kc, rslQ("per_page", "100"))
		wantAgents := []string{"agent-6", "agent-5", "agent-4", "agent-3", "agent-2", "agent-1", rslGoUA}
		if got := rslAgents(full); !slices.Equal(got, wantAgents) || full.Total != 7 || full.PerPage != 100 || full.Page != 1 {
			t.Fatalf("full list %q total %d per_page %d page %d", got, full.Total, full.PerPage, full.Page)
		}
		ids := rslUUIDs(full)

		for _, tc := range []struct {
			query         string
			page, perPage int
			from, to      int // the slice of the full list expected
			wantTotal     int
			note          string // why the row is there
		}{
			{"", 1, 25, 0, 7, 7, "defaults"},
			{rslQ("search", ""), 1, 25, 0, 7, 7, "empty search is no search"},
			{rslQ("per_page", "3"), 1, 3, 0, 3, 7, ""},
			{rslQ("per_page", "3", "page", "2"), 2, 3, 3, 6, 7, ""},
			{rslQ("per_page", "3", "page", "3"), 3, 3, 6, 7, 7, ""},
			{rslQ("per_page", "3", "page", "4"), 4, 3, 7, 7, 7, "past the end: the true total"},
			{rslQ("per_page", "1", "page", "7"), 7, 1, 6, 7, 7, ""},
			{rslQ("per_page", "100", "page", "2"), 2, 100, 7, 7, 7, ""},
			{rslQ("page", "1000"), 1000, 25, 7, 7, 7, ""},
			{rslQ("page", "2147483648", "per_page", "100"), 2147483648, 100, 7, 7, 7, "a far page is still a page"},
			{rslQ("page", "3000000000"), 3000000000, 25, 7, 7, 7, "page has no upper bound"},
			{rslQ("per_page", "2", "page", "2", "search", "AGENT-"), 2, 2, 2, 4, 6, "search counts its matches"},
			{rslQ("per_page", "2", "page", "9", "search", "agent-"), 9, 2, 7, 7, 6, ""},
		} {
			t.Run("?"+tc.query, func(t *testing.T) {
				p := rslSessions(t, kc, tc.query)
				if p.Page != tc.page || p.PerPage != tc.perPage || p.Total != tc.wantTotal {
					t.Errorf("page=%d per_page=%d total=%d, want %d %d %d", p.Page, p.PerPage, p.Total, tc.page, tc.perPage, tc.wantTotal)
				}
				if got, want := rslUUIDs(p), ids[tc.from:tc.to]; !slices.Equal(got, want) {
					t.Errorf("rows %q, want %q", rslAgents(p), wantAgents[tc.from:tc.to])
				}
			})
		}
		t.Run("the pages together are the list, once each", func(t *testing.T) {
			var walked []string
			for page := 1; page <= 10; page++ {
				p := rslSessions(t, kc, rslQ("per_page", "2", "page", fmt.Sprint(page)))
				if len(p.Data) == 0 {
					break
				}
				walked = append(walked, rslUUIDs(p)...)
			}
			if !slices.Equal(walked, ids) {
				t.Errorf("walked %q, want %q", walked, ids)
			}
		})
	})
}

func TestRESTSessionListSearch(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		agents := []string{ // oldest first
			"ÜBER Browser", "Browser 100% sure", "Browser 1005 build", "agent a_b", "agent axb",
			"O'Brien's agent", `C:\tools\agent`, "plain agent",
		}
		for _, ua := range agents {
			rslLogin(t, ts, "alice", ua, "")
		}
		kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"sessions.read"}}))
		before := rslSnapshot(t, ts)

		for _, tc := range []struct {
			search string
			want   []string // newest first
		}{
			{"100%", []string{"Browser 100% sure"}},
			{"%", []string{"Browser 100% sure"}},
			{"%%", nil},
			{"100_", nil},
			{"a_b", []string{"agent a_b"}},
			{"_", []string{"agent a_b"}},
			{"__", nil},
			{"'", []string{"O'Brien's agent"}},
			{"o'brien", []string{"O'Brien's agent"}},
			{"' OR '1'='1", nil},
			{"'; DELETE FROM sessions; --", nil},
			{`\`, []string{`C:\tools\agent`}},
			{`s\a`, []string{`C:\tools\agent`}},
			{`\%`, nil},
			{"AGENT", []string{"plain agent", `C:\tools\agent`, "O'Brien's agent", "agent axb", "agent a_b"}},
			{"browser", []string{"Browser 1005 build", "Browser 100% sure", "ÜBER Browser"}},
			{"über", []string{"ÜBER Browser"}},
			{"Über b", []string{"ÜBER Browser"}},
			{"go-HTTP-client", []string{rslGoUA}},
			{"nothing like it", nil},
		} {
			t.Run(tc.search, func(t *testing.T) {
				p := rslSessions(t, kc, rslQ("search", tc.search))
				if got := rslAgents(p); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q: %q, want %q", tc.search, got, tc.want)
				}
				if p.Total != len(tc.want) {
					t.Errorf("search %q: total %d, want %d", tc.search, p.Total, len(tc.want))
				}
			})
		}
		t.Run("a search is paged and counted", func(t *testing.T) {
			p := rslSessions(t, kc, rslQ("search", "agent", "per_page", "2", "page", "2"))
			if got, want := rslAgents(p), []string{"O'Brien's agent", "agent axb"}; !slices.Equal(got, want) || p.Total != 5 {
				t.Errorf("page 2 of agent: %q total %d, want %q total 5", got, p.Total, want)
			}
		})
		t.Run("searching changed nothing", func(t *testing.T) {
			rslUnchanged(t, ts, before)
		})
	})
}

func TestRESTSessionListRevokeOne(t *testing.T) {
	t.Parallel()
	restServer(t, rslProxied, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		a := alice.client
		aCookie := restCookieValue(t, a)
		b := rslLogin(t, ts, "alice", "B agent", "203.0.113.10")
		c := rslLogin(t, ts, "alice", "C agent", "203.0.113.11")
		bob := restRegister(t, ts, "bob", rslPW)
		aID, bID, cID, bobID := rslSessionID(t, ts, a), rslSessionID(t, ts, b), rslSessionID(t, ts, c), rslSessionID(t, ts, bob.client)
		bCookie, cCookie := restCookieValue(t, b), restCookieValue(t, c)

		t.Run("another user's session is not found and keeps working", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			restWantErrors(t, a.do(http.MethodDelete, rslSessionsPath+"/"+bobID, nil), http.StatusNotFound, "session not found")
			rslUnchanged(t, ts, before)
			restAccount(t, bob.client)
			if p := rslSessions(t, bob.client, ""); !slices.Equal(rslUUIDs(p), []string{bobID}) {
				t.Errorf("bob's sessions: %+v", p)
			}
		})
		t.Run("unknown id", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			restWantErrors(t, a.do(http.MethodDelete, rslSessionsPath+"/"+uuid.NewString(), nil), http.StatusNotFound, "session not found")
			rslUnchanged(t, ts, before)
		})
		t.Run("malformed id", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			for _, id := range []string{"not-a-uuid", "1234", strings.ReplaceAll(bID, "-", ""), bID + "0",
				"urn:uuid:" + bID, url.PathEscape("{" + bID + "}")} {
				restWantErrors(t, a.do(http.MethodDelete, rslSessionsPath+"/"+id, nil), http.StatusBadRequest, "invalid uuid")
			}
			rslUnchanged(t, ts, before)
			restAccount(t, b)
		})
		t.Run("revoke another of one's sessions", func(t *testing.T) {
			res := a.do(http.MethodDelete, rslSessionsPath+"/"+bID, nil)
			restWantEmpty(t, res)
			rslWantCookieKept(t, res, aCookie)
			rslAuthFails(t, b, "invalid session")
			rslAuthFails(t, rslReplay(t, ts, bCookie), "invalid session")
			restAccount(t, a)
			restAccount(t, c)
			if got, want := rslUUIDs(rslSessions(t, a, "")), []string{cID, aID}; !slices.Equal(got, want) {
				t.Errorf("sessions after revoke: %q, want %q", got, want)
			}
			ev := rslActivities(t, a, "per_page=1").Data[0]
			want := map[string]any{"uuid": bID, "ip": "203.0.113.10", "user_agent": "B agent"}
			if ev.Event != "session:delete" || !reflect.DeepEqual(ev.Data, want) || ev.IsAPI || ev.IP == nil || *ev.IP != "127.0.0.1" {
				t.Errorf("activity %+v, want session:delete %v from 127.0.0.1", ev, want)
			}
		})
		t.Run("revoking it again: not found", func(t *testing.T) {
			before := rslSnapshot(t, ts)
			restWantErrors(t, a.do(http.MethodDelete, rslSessionsPath+"/"+bID, nil), http.StatusNotFound, "session not found")
			rslUnchanged(t, ts, before)
		})
		t.Run("revoking one's own session clears the cookie", func(t *testing.T) {
			res := c.do(http.MethodDelete, rslSessionsPath+"/"+cID, nil)
			restWantEmpty(t, res)
			rslWantCookieCleared(t, res)
			rslAuthFails(t, c, "missing authorization")
			rslAuthFails(t, rslReplay(t, ts, cCookie), "invalid session")
			if got := rslUUIDs(rslSessions(t, a, "")); !slices.Equal(got, []string{aID}) {
				t.Errorf("sessions: %q, want only %s", got, aID)
			}
			ev := rslActivities(t, a, "per_page=1").Data[0]
			want := map[string]any{"uuid": cID, "ip": "203.0.113.11", "user_agent": "C agent"}
			if ev.Event != "session:delete" || !reflect.DeepEqual(ev.Data, want) || ev.IP == nil || *ev.IP != "203.0.113.11" {
				t.Errorf("activity %+v, want session:delete %v from 203.0.113.11", ev, want)
			}
		})
		t.Run("through an API key", func(t *testing.T) {
			d := rslLogin(t, ts, "alice", "D agent", "203.0.113.12")
			dID := rslSessionID(t, ts, d)
			kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"sessions.delete"}}))
			kc.Header.Set("X-Forwarded-For", "198.51.100.1")
			res := kc.do(http.MethodDelete, rslSessionsPath+"/"+dID, nil)
			restWantEmpty(t, res)
			restNoSessionCookie(t, res)
			rslAuthFails(t, d, "invalid session")
			restAccount(t, a)
			ev := rslActivities(t, a, "per_page=1").Data[0]
			want := map[string]any{"uuid": dID, "ip": "203.0.113.12", "user_agent": "D agent"}
			if ev.Event != "session:delete" || !reflect.DeepEqual(ev.Data, want) || !ev.IsAPI || ev.IP == nil || *ev.IP != "198.51.100.1" {
				t.Errorf("activity %+v, want session:delete %v through a key from 198.51.100.1", ev, want)
			}
		})
	})
}

func TestRESTSessionListRevokeOthers(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		b := rslLogin(t, ts, "alice", "B agent", "")
		c := rslLogin(t, ts, "alice", "C agent", "")
		d := rslLogin(t, ts, "alice", "D agent", "")
		bob := restRegister(t, ts, "bob", rslPW)
		bob2 := rslLogin(t, ts, "bob", "bob agent", "")
		bID, bCookie := rslSessionID(t, ts, b), restCookieValue(t, b)

		t.Run("every other session is revoked, the caller's survives", func(t *testing.T) {
			res := b.do(http.MethodDelete, rslSessionsPath, nil)
			rslWantDeleted(t, res, 3)
			rslWantCookieKept(t, res, bCookie)
			restAccount(t, b)
			for _, gone := range []*client{alice.client, c, d} {
				rslAuthFails(t, gone, "invalid session")
			}
			restAccount(t, bob.client)
			restAccount(t, bob2)
			p := rslSessions(t, b, "")
			if !slices.Equal(rslUUIDs(p), []string{bID}) || p.Total != 1 || !p.Data[0].IsUsing {
				t.Errorf("sessions after revoking the others: %+v", p)
			}
			if p := rslSessions(t, bob2, ""); p.Total != 2 {
				t.Errorf("bob's sessions: total %d, want 2", p.Total)
			}
			ev := rslActivities(t, b, "per_page=1").Data[0]
			if ev.Event != "session:delete-all" || !reflect.DeepEqual(ev.Data, map[string]any{"deleted": 3.0}) || ev.IsAPI {
				t.Errorf("activity %+v, want session:delete-all {deleted: 3}", ev)
			}
		})
		t.Run("nothing left to revoke", func(t *testing.T) {
			rslWantDeleted(t, b.do(http.MethodDelete, rslSessionsPath, nil), 0)
			restAccount(t, b)
		})
		t.Run("under API-key auth every session is revoked", func(t *testing.T) {
			e := rslLogin(t, ts, "alice", "E agent", "")
			f := rslLogin(t, ts, "alice", "F agent", "")
			kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID,
				restKeyOpts{UserPermissions: []string{"sessions.delete", "sessions.read", "activity.read"}}))
			res := kc.do(http.MethodDelete, rslSessionsPath, nil)
			rslWantDeleted(t, res, 3)
			restNoSessionCookie(t, res)
			for _, gone := range []*client{b, e, f} {
				rslAuthFails(t, gone, "invalid session")
			}
			if p := rslSessions(t, kc, ""); p.Total != 0 || len(p.Data) != 0 {
				t.Errorf("sessions left: %+v", p)
			}
			restAccount(t, kc)
			restAccount(t, bob2)
			ev := rslActivities(t, kc, "per_page=1").Data[0]
			if ev.Event != "session:delete-all" || !reflect.DeepEqual(ev.Data, map[string]any{"deleted": 3.0}) || !ev.IsAPI {
				t.Errorf("activity %+v, want session:delete-all {deleted: 3} through a key", ev)
			}
		})
	})
}

func TestRESTSessionListPermissions(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		b := rslLogin(t, ts, "alice", "B agent", "")
		bID := rslSessionID(t, ts, b)
		key := func(perms ...string) *client {
			return restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: perms}))
		}
		noPerms := key()
		readOnly := key("sessions.read", "activity.read")
		deleteOnly := key("sessions.delete", "activity.read")

		for _, tc := range []struct {
			name   string
			c      *client
			method string
			path   string
			perm   string
		}{
			{"list without any permission", noPerms, http.MethodGet, rslSessionsPath, "sessions.read"},
			{"list with sessions.delete only", deleteOnly, http.MethodGet, rslSessionsPath + "?per_page=5", "sessions.read"},
			{"revoke one without any permission", noPerms, http.MethodDelete, rslSessionsPath + "/" + bID, "sessions.delete"},
			{"revoke one with sessions.read only", readOnly, http.MethodDelete, rslSessionsPath + "/" + bID, "sessions.delete"},
			{"revoke others with sessions.read only", readOnly, http.MethodDelete, rslSessionsPath, "sessions.delete"},
			{"revoke others without any permission", noPerms, http.MethodDelete, rslSessionsPath, "sessions.delete"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := rslSnapshot(t, ts)
				restWantErrors(t, tc.c.do(tc.method, tc.path, nil), http.StatusForbidden, rslForbiddenPrefix+tc.perm)
				rslUnchanged(t, ts, before)
				restAccount(t, b)
				restAccount(t, alice.client)
			})
		}
		t.Run("the query is checked before the permission", func(t *testing.T) {
			restWantErrors(t, noPerms.do(http.MethodGet, rslSessionsPath+"?per_page=0", nil), http.StatusBadRequest, "per_page: lower than 1")
			restWantErrors(t, noPerms.do(http.MethodDelete, rslSessionsPath+"/nope", nil), http.StatusBadRequest, "invalid uuid")
		})
		t.Run("the permission is enough", func(t *testing.T) {
			if p := rslSessions(t, readOnly, ""); p.Total != 2 {
				t.Errorf("total %d, want 2", p.Total)
			}
			restWantEmpty(t, deleteOnly.do(http.MethodDelete, rslSessionsPath+"/"+bID, nil))
			rslAuthFails(t, b, "invalid session")
		})
		t.Run("a suspended account", func(t *testing.T) {
			c := rslLogin(t, ts, "alice", "C agent", "")
			cID := rslSessionID(t, ts, c)
			restSetFlags(t, ts, alice.ID, false, false, true)
			before := rslSnapshot(t, ts)
			for _, r := range []struct{ method, path string }{
				{http.MethodGet, rslSessionsPath},
				{http.MethodDelete, rslSessionsPath + "/" + cID},
				{http.MethodDelete, rslSessionsPath},
				{http.MethodGet, rslActivityPath},
			} {
				restWantErrors(t, alice.do(r.method, r.path, nil), http.StatusForbidden, "account is suspended")
				restWantErrors(t, readOnly.do(r.method, r.path, nil), http.StatusForbidden, "account is suspended")
			}
			rslUnchanged(t, ts, before)
			restSetFlags(t, ts, alice.ID, false, false, false)
			restAccount(t, c)
		})
	})
}

// rslQueryErrors checks every pagination error of a list route, for c.
func rslQueryErrors(t *testing.T, ts *testServer, c *client, path string) {
	long, longRunes := strings.Repeat("a", 129), strings.Repeat("é", 129)
	before := rslSnapshot(t, ts)
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{rslQ("page", "0"), []string{"page: lower than 1"}},
		{rslQ("page", "-3"), []string{"page: lower than 1"}},
		{rslQ("page", "-9223372036854775808"), []string{"page: lower than 1"}},
		{rslQ("page", "-99999999999999999999"), []string{"page: lower than 1"}},
		{rslQ("per_page", "-99999999999999999999"), []string{"per_page: lower than 1"}},
		{rslQ("per_page", "3000000000"), []string{"per_page: greater than 100"}},
		{rslQ("per_page", "99999999999999999999"), []string{"per_page: greater than 100"}},
		{rslQ("per_page", "0"), []string{"per_page: lower than 1"}},
		{rslQ("per_page", "-1"), []string{"per_page: lower than 1"}},
		{rslQ("per_page", "101"), []string{"per_page: greater than 100"}},
		{rslQ("page", "abc"), []string{"page: must be an integer"}},
		{rslQ("page", "1.0"), []string{"page: must be an integer"}},
		{rslQ("per_page", "2.5"), []string{"per_page: must be an integer"}},
		{rslQ("per_page", "1e2"), []string{"per_page: must be an integer"}},
		{rslQ("search", long), []string{"search: length is greater than 128"}},
		{rslQ("search", longRunes), []string{"search: length is greater than 128"}},
		{rslQ("page", "0", "per_page", "101", "search", long),
			[]string{"page: lower than 1", "per_page: greater than 100", "search: length is greater than 128"}},
		{rslQ("page", "x", "per_page", "y"), []string{"page: must be an integer", "per_page: must be an integer"}},
	} {
		t.Run("?"+tc.query, func(t *testing.T) {
			restWantErrors(t, c.do(http.MethodGet, path+"?"+tc.query, nil), http.StatusBadRequest, tc.want...)
		})
	}
	for _, ok := range []string{rslQ("per_page", "1"), rslQ("per_page", "100"), rslQ("page", "1"),
		rslQ("search", strings.Repeat("a", 128)), rslQ("search", strings.Repeat("é", 128))} {
		if res := c.do(http.MethodGet, path+"?"+ok, nil); res.Status != http.StatusOK {
			t.Errorf("?%s: %d %s", ok, res.Status, res.Body)
		}
	}
	rslUnchanged(t, ts, before)
}

func TestRESTSessionListQueryErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		rslQueryErrors(t, ts, alice.client, rslSessionsPath)
	})
}

func TestRESTActivityQueryErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		rslQueryErrors(t, ts, alice.client, rslActivityPath)
	})
}

// rslHist is what rslHistory did.
type rslHist struct {
	// First is the first session's client (from 203.0.113.7).
	First *client
	// KeyID, KeyStart and KeySecret describe the key made through a key.
	KeyID, KeyStart, KeySecret string
	// Revoked is the id of the second session, which the first revoked.
	Revoked string
}

// rslHistory gives alice (registered already) the history the activity
// tests read: a login from 203.0.113.7, a profile update, an API key made
// through a key from 198.51.100.9, a second login from 192.0.2.44, and the
// first session revoking the second.
func rslHistory(t *testing.T, ts *testServer, userID uuid.UUID) rslHist {
	t.Helper()
	var h rslHist
	h.First = rslLogin(t, ts, "alice", "Firefox", "203.0.113.7")
	restWantEmpty(t, h.First.do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Alicia"}))

	kc := restKeyClient(t, ts, restAPIKey(t, ts, userID, restKeyOpts{UserPermissions: []string{"api-keys.create", "activity.read"}}))
	kc.Header.Set("X-Forwarded-For", "198.51.100.9")
	res := kc.do(http.MethodPost, "/api/client/account/api-keys", map[string]any{"name": "made-by-key", "user_permissions": []string{}})
	if res.Status != http.StatusOK {
		t.Fatalf("create key through a key: %d %s", res.Status, res.Body)
	}
	var created struct {
		APIKey struct {
			UUID     string `json:"uuid"`
			KeyStart string `json:"key_start"`
		} `json:"api_key"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal(res.Body, &created); err != nil || created.Key == "" {
		t.Fatalf("create key: %v %s", err, res.Body)
	}
	h.KeyID, h.KeyStart, h.KeySecret = created.APIKey.UUID, created.APIKey.KeyStart, created.Key

	second := rslLogin(t, ts, "alice", "Chrome", "192.0.2.44")
	h.Revoked = rslSessionID(t, ts, second)
	restWantEmpty(t, h.First.do(http.MethodDelete, rslSessionsPath+"/"+h.Revoked, nil))
	return h
}

func TestRESTActivityList(t *testing.T) {
	t.Parallel()
	restServer(t, rslProxied, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		bob := restRegister(t, ts, "bob", rslPW)
		rslLogin(t, ts, "bob", "bob agent", "198.51.100.200")
		h := rslHistory(t, ts, alice.ID)
		first := h.First

		type want struct {
			event, ip string
			isAPI     bool
			data      map[string]any
		}
		wants := []want{ // newest first
			{"session:delete", "203.0.113.7", false, map[string]any{"uuid": h.Revoked, "ip": "192.0.2.44", "user_agent": "Chrome"}},
			{"auth:success", "192.0.2.44", false, map[string]any{"using": "password"}},
			{"api-key:create", "198.51.100.9", true, nil},
			{"account:update", "203.0.113.7", false, map[string]any{"fields": []any{"name_first"}}},
			{"auth:success", "203.0.113.7", false, map[string]any{"using": "password"}},
		}
		check := func(t *testing.T, p *rslPage[rslActivity]) {
			t.Helper()
			if p.Total != len(wants) || len(p.Data) != len(wants) {
				t.Fatalf("events %q total %d, want %d", rslEvents(p), p.Total, len(wants))
			}
			for i, w := range wants {
				a := p.Data[i]
				if a.Event != w.event || a.IP == nil || *a.IP != w.ip || a.IsAPI != w.isAPI || a.Impersonator != nil {
					ip := "<null>"
					if a.IP != nil {
						ip = *a.IP
					}
					t.Errorf("data[%d] = %s from %s is_api %v impersonator %v, want %s from %s is_api %v",
						i, a.Event, ip, a.IsAPI, a.Impersonator, w.event, w.ip, w.isAPI)
				}
				if w.data != nil && !reflect.DeepEqual(a.Data, w.data) {
					t.Errorf("data[%d] (%s).data = %v, want %v", i, a.Event, a.Data, w.data)
				}
				restCheckTimestamp(t, "created", a.Created, time.Hour)
				if i > 0 && a.Created > p.Data[i-1].Created {
					t.Errorf("data[%d] created %s is newer than data[%d]'s %s", i, a.Created, i-1, p.Data[i-1].Created)
				}
			}
			key := p.Data[2].Data
			if key["uuid"] != h.KeyID || key["name"] != "made-by-key" || key["identifier"] != h.KeyStart {
				t.Errorf("api-key:create data = %v, want uuid %s name made-by-key identifier %s", key, h.KeyID, h.KeyStart)
			}
		}

		var body []byte
		t.Run("newest first, with ip, data and is_api", func(t *testing.T) {
			check(t, rslActivities(t, first, ""))
			body = first.do(http.MethodGet, rslActivityPath, nil).Body
		})
		t.Run("the same through an API key", func(t *testing.T) {
			kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"activity.read"}}))
			check(t, rslActivities(t, kc, ""))
		})
		t.Run("never a secret", func(t *testing.T) {
			if bytes.Contains(body, []byte(h.KeySecret)) || bytes.Contains(body, []byte(h.KeySecret[16:])) {
				t.Errorf("activity holds the key's secret: %s", body)
			}
			if bytes.Contains(body, []byte(rslPW)) {
				t.Errorf("activity holds the password: %s", body)
			}
		})
		t.Run("only one's own history", func(t *testing.T) {
			p := rslActivities(t, bob.client, "")
			if got := rslEvents(p); !slices.Equal(got, []string{"auth:success"}) || p.Total != 1 || *p.Data[0].IP != "198.51.100.200" {
				t.Errorf("bob's history: %+v", p)
			}
		})
		t.Run("pages", func(t *testing.T) {
			full := rslActivities(t, first, "")
			for _, tc := range []struct {
				page, from, to int
			}{{1, 0, 2}, {2, 2, 4}, {3, 4, 5}, {4, 5, 5}, {50, 5, 5}} {
				p := rslActivities(t, first, rslQ("per_page", "2", "page", fmt.Sprint(tc.page)))
				if !reflect.DeepEqual(p.Data, full.Data[tc.from:tc.to]) {
					t.Errorf("page %d: %q, want %q", tc.page, rslEvents(p), rslEvents(full)[tc.from:tc.to])
				}
				if p.Total != 5 || p.PerPage != 2 || p.Page != tc.page {
					t.Errorf("page %d: total %d per_page %d page %d", tc.page, p.Total, p.PerPage, p.Page)
				}
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
				{"account:upd", []string{"account:update"}},
				{"%", nil},
				{"_", nil},
				{"auth_success", nil},
				{"a%e", nil},
				{"account:update%", nil},
				{"'", nil},
				{"' OR 1=1 --", nil},
				{":", []string{"session:delete", "auth:success", "api-key:create", "account:update", "auth:success"}},
			} {
				p := rslActivities(t, first, rslQ("search", tc.search))
				if got := rslEvents(p); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q: %q, want %q", tc.search, got, tc.want)
				}
				if p.Total != len(tc.want) {
					t.Errorf("search %q: total %d, want %d", tc.search, p.Total, len(tc.want))
				}
			}
			p := rslActivities(t, first, rslQ("search", "auth", "per_page", "1", "page", "2"))
			if len(p.Data) != 1 || *p.Data[0].IP != "203.0.113.7" || p.Total != 2 {
				t.Errorf("page 2 of auth: %+v", p)
			}
		})
	})
}

func TestRESTActivityPermissions(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		alice := restRegister(t, ts, "alice", rslPW)
		rslLogin(t, ts, "alice", "agent", "")
		for _, perms := range [][]string{nil, {"sessions.read", "sessions.delete", "account.infos"}} {
			kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: perms}))
			before := rslSnapshot(t, ts)
			restWantErrors(t, kc.do(http.MethodGet, rslActivityPath, nil), http.StatusForbidden, rslForbiddenPrefix+"activity.read")
			restWantErrors(t, kc.do(http.MethodGet, rslActivityPath+"?search=auth&per_page=5", nil), http.StatusForbidden,
				rslForbiddenPrefix+"activity.read")
			restWantErrors(t, kc.do(http.MethodGet, rslActivityPath+"?page=0", nil), http.StatusBadRequest, "page: lower than 1")
			rslUnchanged(t, ts, before)
		}
		kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"activity.read"}}))
		if p := rslActivities(t, kc, ""); p.Total != 1 || p.Data[0].Event != "auth:success" {
			t.Errorf("with activity.read: %+v", p)
		}
	})
}

// rslActivityRow and rslSessionRow are rows the retention tests write
// directly: a backlog large enough to need several clean-up batches.
type rslActivityRow struct {
	bun.BaseModel `bun:"table:activities"`

	ID      uuid.UUID `bun:"id,pk,type:uuid"`
	UserID  uuid.UUID `bun:"user_id,type:uuid"`
	Event   string    `bun:"event"`
	Data    string    `bun:"data"`
	Created time.Time `bun:"created"`
}

type rslSessionRow struct {
	bun.BaseModel `bun:"table:sessions"`

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,type:uuid"`
	KeyStart  string    `bun:"key_start"`
	Digest    []byte    `bun:"digest"`
	IP        string    `bun:"ip"`
	UserAgent string    `bun:"user_agent"`
	LastUsed  time.Time `bun:"last_used"`
	Created   time.Time `bun:"created"`
}

// rslBacklog writes n activity rows created at oldAt and m sessions last
// used at idleAt for userID.
func rslBacklog(t testing.TB, ts *testServer, userID uuid.UUID, n int, oldAt time.Time, m int, idleAt time.Time) {
	t.Helper()
	ctx := context.Background()
	const chunk = 400
	for i := 0; i < n; i += chunk {
		var rows []rslActivityRow
		for j := i; j < min(n, i+chunk); j++ {
			rows = append(rows, rslActivityRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, Event: "account:update",
				Data: `{"fields":["name_first"]}`, Created: rslDBTime(oldAt.Add(-time.Duration(j) * time.Second))})
		}
		if _, err := ts.App.DB.NewInsert().Model(&rows).Exec(ctx); err != nil {
			t.Fatalf("insert activities: %v", err)
		}
	}
	for i := 0; i < m; i += chunk {
		var rows []rslSessionRow
		for j := i; j < min(m, i+chunk); j++ {
			tok := secret.RandomString(48)
			rows = append(rows, rslSessionRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, KeyStart: tok[:16],
				Digest: secret.Digest(tok), IP: "192.0.2.1", UserAgent: "backlog", LastUsed: rslDBTime(idleAt),
				Created: rslDBTime(idleAt.Add(-time.Hour))})
		}
		if _, err := ts.App.DB.NewInsert().Model(&rows).Exec(ctx); err != nil {
			t.Fatalf("insert sessions: %v", err)
		}
	}
}

// rslCount counts a user's rows of a table.
func rslCount(t testing.TB, ts *testServer, table string, userID uuid.UUID) int {
	t.Helper()
	n, err := ts.App.DB.NewSelect().Table(table).Where("user_id = ?", userID).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestRESTActivityRetention(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.ActivityRetention = 24 * time.Hour }, func(t *testing.T, ts *testServer) {
		ctx := context.Background()
		alice := restRegister(t, ts, "alice", rslPW)
		old := rslLogin(t, ts, "alice", "old agent", "")
		restWantEmpty(t, old.do(http.MethodPatch, "/api/client/account", map[string]any{"name_last": "Liddell"}))
		current := rslLogin(t, ts, "alice", "new agent", "")
		bob := restRegister(t, ts, "bob", rslPW)
		bobNew := rslLogin(t, ts, "bob", "bob agent", "")

		ids, events := rslActivityIDs(t, ts, alice.ID)
		if want := []string{"auth:success", "account:update", "auth:success"}; !slices.Equal(events, want) {
			t.Fatalf("alice's events %q, want %q", events, want)
		}
		now := time.Now()
		rslSetColumn(t, ts, "activities", ids[0], "created", now.Add(-48*time.Hour)) // past retention
		rslSetColumn(t, ts, "activities", ids[1], "created", now.Add(-23*time.Hour)) // within it
		oldID, regID, currentID := rslSessionID(t, ts, old), rslSessionID(t, ts, alice.client), rslSessionID(t, ts, current)
		rslSetColumn(t, ts, "sessions", oldID, "last_used", now.Add(-169*time.Hour)) // idle past SESSION_DURATION
		rslSetColumn(t, ts, "sessions", regID, "last_used", now.Add(-100*time.Hour)) // idle, but live
		// A backlog of two full batches of old events and one of idle
		// sessions: 1999 + alice's one = 2000 events, 999 + alice's one
		// = 1000 sessions.
		rslBacklog(t, ts, bob.ID, 1999, now.Add(-30*24*time.Hour), 999, now.Add(-400*time.Hour))

		kc := restKeyClient(t, ts, restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"sessions.read", "activity.read"}}))
		if p := rslActivities(t, kc, ""); p.Total != 3 {
			t.Fatalf("before the clean-up: %d events, want 3 (retention is the clean-up's job)", p.Total)
		}
		if p := rslSessions(t, kc, ""); !slices.Equal(rslUUIDs(p), []string{currentID, regID}) {
			t.Fatalf("before the clean-up: sessions %q", rslUUIDs(p))
		}

		res, err := ts.App.Service.Cleanup(ctx)
		if err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		if res.Activities != 2000 || res.Sessions != 1000 {
			t.Errorf("Cleanup deleted %d events and %d sessions, want 2000 and 1000", res.Activities, res.Sessions)
		}

		p := rslActivities(t, kc, "")
		if got := rslEvents(p); !slices.Equal(got, []string{"auth:success", "account:update"}) || p.Total != 2 {
			t.Errorf("after the clean-up: events %q total %d, want the new login and the update", got, p.Total)
		}
		if n := rslCount(t, ts, "activities", alice.ID); n != 2 {
			t.Errorf("alice has %d activity rows, want 2", n)
		}
		if got := rslUUIDs(rslSessions(t, kc, "")); !slices.Equal(got, []string{currentID, regID}) {
			t.Errorf("after the clean-up: sessions %q, want %q", got, []string{currentID, regID})
		}
		if n := rslCount(t, ts, "sessions", alice.ID); n != 2 {
			t.Errorf("alice has %d session rows, want 2", n)
		}
		if n, m := rslCount(t, ts, "activities", bob.ID), rslCount(t, ts, "sessions", bob.ID); n != 1 || m != 2 {
			t.Errorf("bob has %d events and %d sessions left, want his login and his 2 live sessions", n, m)
		}
		restAccount(t, current)
		restAccount(t, alice.client)
		restAccount(t, bobNew)
		rslAuthFails(t, old, "invalid session")

		res, err = ts.App.Service.Cleanup(ctx)
		if err != nil || res.Activities != 0 || res.Sessions != 0 {
			t.Errorf("second Cleanup: %+v %v, want nothing left to delete", res, err)
		}
	})
}
