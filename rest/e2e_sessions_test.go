package rest_test

// End-to-end tests of the sessions and activity routes of the REST layer
// (REST.md §1, §3, §4): GET/DELETE /api/client/account/sessions[/{uuid}] and
// GET /api/client/account/activity, on every engine. Listing is here;
// revoking and the query errors are in e2e_sessions_revoke_test.go, the
// history in e2e_activity_test.go; the helpers the GraphQL tests share are
// in app/apptest (sessions.go).

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
)

// rslUUIDs returns the uuid of every session of a page, in order.
func rslUUIDs(p *apptest.Page[apptest.SessionItem]) []string {
	out := make([]string, len(p.Data))
	for i, s := range p.Data {
		out[i] = s.UUID
	}
	return out
}

// rslAgents returns the user agent of every session of a page, in order.
func rslAgents(p *apptest.Page[apptest.SessionItem]) []string {
	out := make([]string, len(p.Data))
	for i, s := range p.Data {
		out[i] = s.UserAgent
	}
	return out
}

// rslFormat renders a time the way the REST layer does.
func rslFormat(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func TestRESTSessionList(t *testing.T) {
	t.Parallel()
	restServer(t, apptest.Proxied, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		firefox := apptest.LoginFrom(t, ts, "alice", "Mozilla/5.0 Firefox/128.0", "203.0.113.7")
		chrome := apptest.LoginFrom(t, ts, "alice", "Mozilla/5.0 Chrome/126.0", "198.51.100.23")
		curl := apptest.LoginFrom(t, ts, "alice", "curl/8.5.0", "2001:db8::5")
		bob := apptest.Register(t, ts, "bob", apptest.SessionsPassword)

		type want struct {
			id, ip, ua string
		}
		all := []want{ // newest first
			{apptest.SessionID(t, ts, curl), "2001:db8::5", "curl/8.5.0"},
			{apptest.SessionID(t, ts, chrome), "198.51.100.23", "Mozilla/5.0 Chrome/126.0"},
			{apptest.SessionID(t, ts, firefox), "203.0.113.7", "Mozilla/5.0 Firefox/128.0"},
			{apptest.SessionID(t, ts, alice.Client), "127.0.0.1", apptest.GoUserAgent},
		}
		check := func(t *testing.T, p *apptest.Page[apptest.SessionItem], want []want, using string) {
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
			check(t, apptest.ListSessions(t, chrome, ""), all, all[1].id)
			check(t, apptest.ListSessions(t, alice.Client, ""), all, all[3].id)
		})
		t.Run("API key: is_using is false for every session", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"sessions.read"}}))
			check(t, apptest.ListSessions(t, kc, ""), all, "")
			// The header wins over a cookie sent along, so still no session is "in use".
			chrome.Bearer = apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"sessions.read"}})
			check(t, apptest.ListSessions(t, chrome, ""), all, "")
			chrome.Bearer = ""
		})
		t.Run("only one's own sessions", func(t *testing.T) {
			p := apptest.ListSessions(t, bob.Client, "")
			bobID := apptest.SessionID(t, ts, bob.Client)
			if p.Total != 1 || len(p.Data) != 1 || p.Data[0].UUID != bobID || !p.Data[0].IsUsing {
				t.Errorf("bob's sessions: %+v", p)
			}
		})
		t.Run("sessions idle past SESSION_DURATION are neither listed nor counted", func(t *testing.T) {
			apptest.SetColumn(t, ts, "sessions", all[2].id, "last_used", time.Now().Add(-169*time.Hour))
			apptest.SetColumn(t, ts, "sessions", all[2].id, "created", time.Now().Add(-200*time.Hour))
			// Nearly idle, but still live: listed, with the stored last use.
			nearly := apptest.DBTime(time.Now().Add(-167 * time.Hour))
			apptest.SetColumn(t, ts, "sessions", all[0].id, "last_used", nearly)

			p := apptest.ListSessions(t, chrome, "")
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
			if p := apptest.ListSessions(t, chrome, ""); p.Total != 3 || len(p.Data) != 3 {
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
	restServer(t, func(cfg *app.Config) { cfg.ActivityRetention = 24 * time.Hour }, func(t *testing.T, ts *apptest.Server) {
		now := apptest.DBTime(time.Now())
		ts.App.Service.Now = func() time.Time { return now }
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		edge := apptest.LoginFrom(t, ts, "alice", "edge", "")
		over := apptest.LoginFrom(t, ts, "alice", "over", "")
		edgeID, overID, aliceID := apptest.SessionID(t, ts, edge), apptest.SessionID(t, ts, over), apptest.SessionID(t, ts, alice.Client)
		apptest.SetColumn(t, ts, "sessions", edgeID, "last_used", now.Add(-168*time.Hour))
		apptest.SetColumn(t, ts, "sessions", overID, "last_used", now.Add(-168*time.Hour-time.Microsecond))
		ids, _ := apptest.ActivityIDs(t, ts, alice.ID)
		if len(ids) != 2 {
			t.Fatalf("%d events, want the two logins", len(ids))
		}
		apptest.SetColumn(t, ts, "activities", ids[0], "created", now.Add(-24*time.Hour-time.Microsecond))
		apptest.SetColumn(t, ts, "activities", ids[1], "created", now.Add(-24*time.Hour))

		p := apptest.ListSessions(t, alice.Client, "")
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
		if n := apptest.CountRows(t, ts, "sessions", alice.ID); n != 2 {
			t.Errorf("%d sessions left, want 2", n)
		}
		if left, _ := apptest.ActivityIDs(t, ts, alice.ID); !slices.Equal(left, ids[1:]) {
			t.Errorf("events left %q, want %q", left, ids[1:])
		}
		restAccount(t, edge)
		rslAuthFails(t, over, "invalid session")
	})
}

func TestRESTSessionListPagination(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		for i := 1; i <= 6; i++ {
			apptest.LoginFrom(t, ts, "alice", fmt.Sprintf("agent-%d", i), "")
		}
		kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"sessions.read"}}))
		full := apptest.ListSessions(t, kc, apptest.Query("per_page", "100"))
		wantAgents := []string{"agent-6", "agent-5", "agent-4", "agent-3", "agent-2", "agent-1", apptest.GoUserAgent}
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
			{apptest.Query("search", ""), 1, 25, 0, 7, 7, "empty search is no search"},
			{apptest.Query("per_page", "3"), 1, 3, 0, 3, 7, ""},
			{apptest.Query("per_page", "3", "page", "2"), 2, 3, 3, 6, 7, ""},
			{apptest.Query("per_page", "3", "page", "3"), 3, 3, 6, 7, 7, ""},
			{apptest.Query("per_page", "3", "page", "4"), 4, 3, 7, 7, 7, "past the end: the true total"},
			{apptest.Query("per_page", "1", "page", "7"), 7, 1, 6, 7, 7, ""},
			{apptest.Query("per_page", "100", "page", "2"), 2, 100, 7, 7, 7, ""},
			{apptest.Query("page", "1000"), 1000, 25, 7, 7, 7, ""},
			{apptest.Query("page", "2147483648", "per_page", "100"), 2147483648, 100, 7, 7, 7, "a far page is still a page"},
			{apptest.Query("page", "3000000000"), 3000000000, 25, 7, 7, 7, "page has no upper bound"},
			{apptest.Query("per_page", "2", "page", "2", "search", "AGENT-"), 2, 2, 2, 4, 6, "search counts its matches"},
			{apptest.Query("per_page", "2", "page", "9", "search", "agent-"), 9, 2, 7, 7, 6, ""},
		} {
			t.Run("?"+tc.query, func(t *testing.T) {
				p := apptest.ListSessions(t, kc, tc.query)
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
				p := apptest.ListSessions(t, kc, apptest.Query("per_page", "2", "page", fmt.Sprint(page)))
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
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		agents := []string{ // oldest first
			"ÜBER Browser", "Browser 100% sure", "Browser 1005 build", "agent a_b", "agent axb",
			"O'Brien's agent", `C:\tools\agent`, "plain agent",
		}
		for _, ua := range agents {
			apptest.LoginFrom(t, ts, "alice", ua, "")
		}
		kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"sessions.read"}}))
		before := apptest.SessionsSnapshot(t, ts)

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
			{"go-HTTP-client", []string{apptest.GoUserAgent}},
			{"nothing like it", nil},
		} {
			t.Run(tc.search, func(t *testing.T) {
				p := apptest.ListSessions(t, kc, apptest.Query("search", tc.search))
				if got := rslAgents(p); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q: %q, want %q", tc.search, got, tc.want)
				}
				if p.Total != len(tc.want) {
					t.Errorf("search %q: total %d, want %d", tc.search, p.Total, len(tc.want))
				}
			})
		}
		t.Run("a search is paged and counted", func(t *testing.T) {
			p := apptest.ListSessions(t, kc, apptest.Query("search", "agent", "per_page", "2", "page", "2"))
			if got, want := rslAgents(p), []string{"O'Brien's agent", "agent axb"}; !slices.Equal(got, want) || p.Total != 5 {
				t.Errorf("page 2 of agent: %q total %d, want %q total 5", got, p.Total, want)
			}
		})
		t.Run("searching changed nothing", func(t *testing.T) {
			apptest.SessionsUnchanged(t, ts, before)
		})
	})
}
