package rest_test

// End-to-end tests of GET /api/client/account/activity over REST: the
// history, its permissions and its retention.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
)

func TestRESTActivityList(t *testing.T) {
	t.Parallel()
	restServer(t, apptest.Proxied, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		bob := apptest.Register(t, ts, "bob", apptest.SessionsPassword)
		apptest.LoginFrom(t, ts, "bob", "bob agent", "198.51.100.200")
		h := apptest.History(t, ts, alice.ID)
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
		check := func(t *testing.T, p *apptest.Page[apptest.ActivityItem]) {
			t.Helper()
			if p.Total != len(wants) || len(p.Data) != len(wants) {
				t.Fatalf("events %q total %d, want %d", apptest.PageEvents(p), p.Total, len(wants))
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
			check(t, apptest.ListActivities(t, first, ""))
			body = first.Do(http.MethodGet, apptest.ActivityPath, nil).Body
		})
		t.Run("the same through an API key", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"activity.read"}}))
			check(t, apptest.ListActivities(t, kc, ""))
		})
		t.Run("never a secret", func(t *testing.T) {
			if bytes.Contains(body, []byte(h.KeySecret)) || bytes.Contains(body, []byte(h.KeySecret[16:])) {
				t.Errorf("activity holds the key's secret: %s", body)
			}
			if bytes.Contains(body, []byte(apptest.SessionsPassword)) {
				t.Errorf("activity holds the password: %s", body)
			}
		})
		t.Run("only one's own history", func(t *testing.T) {
			p := apptest.ListActivities(t, bob.Client, "")
			if got := apptest.PageEvents(p); !slices.Equal(got, []string{"auth:success"}) || p.Total != 1 || *p.Data[0].IP != "198.51.100.200" {
				t.Errorf("bob's history: %+v", p)
			}
		})
		t.Run("pages", func(t *testing.T) {
			full := apptest.ListActivities(t, first, "")
			for _, tc := range []struct {
				page, from, to int
			}{{1, 0, 2}, {2, 2, 4}, {3, 4, 5}, {4, 5, 5}, {50, 5, 5}} {
				p := apptest.ListActivities(t, first, apptest.Query("per_page", "2", "page", fmt.Sprint(tc.page)))
				if !reflect.DeepEqual(p.Data, full.Data[tc.from:tc.to]) {
					t.Errorf("page %d: %q, want %q", tc.page, apptest.PageEvents(p), apptest.PageEvents(full)[tc.from:tc.to])
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
				p := apptest.ListActivities(t, first, apptest.Query("search", tc.search))
				if got := apptest.PageEvents(p); !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q: %q, want %q", tc.search, got, tc.want)
				}
				if p.Total != len(tc.want) {
					t.Errorf("search %q: total %d, want %d", tc.search, p.Total, len(tc.want))
				}
			}
			p := apptest.ListActivities(t, first, apptest.Query("search", "auth", "per_page", "1", "page", "2"))
			if len(p.Data) != 1 || *p.Data[0].IP != "203.0.113.7" || p.Total != 2 {
				t.Errorf("page 2 of auth: %+v", p)
			}
		})
	})
}

func TestRESTActivityPermissions(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		apptest.LoginFrom(t, ts, "alice", "agent", "")
		for _, perms := range [][]string{nil, {"sessions.read", "sessions.delete", "account.infos"}} {
			kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: perms}))
			before := apptest.SessionsSnapshot(t, ts)
			apptest.WantErrors(t, kc.Do(http.MethodGet, apptest.ActivityPath, nil), http.StatusForbidden, apptest.ForbiddenPrefix+"activity.read")
			apptest.WantErrors(t, kc.Do(http.MethodGet, apptest.ActivityPath+"?search=auth&per_page=5", nil), http.StatusForbidden,
				apptest.ForbiddenPrefix+"activity.read")
			apptest.WantErrors(t, kc.Do(http.MethodGet, apptest.ActivityPath+"?page=0", nil), http.StatusBadRequest, "page: lower than 1")
			apptest.SessionsUnchanged(t, ts, before)
		}
		kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"activity.read"}}))
		if p := apptest.ListActivities(t, kc, ""); p.Total != 1 || p.Data[0].Event != "auth:success" {
			t.Errorf("with activity.read: %+v", p)
		}
	})
}

func TestRESTActivityRetention(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.ActivityRetention = 24 * time.Hour }, func(t *testing.T, ts *apptest.Server) {
		ctx := context.Background()
		alice := apptest.Register(t, ts, "alice", apptest.SessionsPassword)
		old := apptest.LoginFrom(t, ts, "alice", "old agent", "")
		apptest.WantEmpty(t, old.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_last": "Liddell"}))
		current := apptest.LoginFrom(t, ts, "alice", "new agent", "")
		bob := apptest.Register(t, ts, "bob", apptest.SessionsPassword)
		bobNew := apptest.LoginFrom(t, ts, "bob", "bob agent", "")

		ids, events := apptest.ActivityIDs(t, ts, alice.ID)
		if want := []string{"auth:success", "account:update", "auth:success"}; !slices.Equal(events, want) {
			t.Fatalf("alice's events %q, want %q", events, want)
		}
		now := time.Now()
		apptest.SetColumn(t, ts, "activities", ids[0], "created", now.Add(-48*time.Hour)) // past retention
		apptest.SetColumn(t, ts, "activities", ids[1], "created", now.Add(-23*time.Hour)) // within it
		oldID, regID, currentID := apptest.SessionID(t, ts, old), apptest.SessionID(t, ts, alice.Client), apptest.SessionID(t, ts, current)
		apptest.SetColumn(t, ts, "sessions", oldID, "last_used", now.Add(-169*time.Hour)) // idle past SESSION_DURATION
		apptest.SetColumn(t, ts, "sessions", regID, "last_used", now.Add(-100*time.Hour)) // idle, but live
		// A backlog of two full batches of old events and one of idle
		// sessions: 1999 + alice's one = 2000 events, 999 + alice's one
		// = 1000 sessions.
		apptest.Backlog(t, ts, bob.ID, 1999, now.Add(-30*24*time.Hour), 999, now.Add(-400*time.Hour))

		kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"sessions.read", "activity.read"}}))
		if p := apptest.ListActivities(t, kc, ""); p.Total != 3 {
			t.Fatalf("before the clean-up: %d events, want 3 (retention is the clean-up's job)", p.Total)
		}
		if p := apptest.ListSessions(t, kc, ""); !slices.Equal(rslUUIDs(p), []string{currentID, regID}) {
			t.Fatalf("before the clean-up: sessions %q", rslUUIDs(p))
		}

		res, err := ts.App.Service.Cleanup(ctx)
		if err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		if res.Activities != 2000 || res.Sessions != 1000 {
			t.Errorf("Cleanup deleted %d events and %d sessions, want 2000 and 1000", res.Activities, res.Sessions)
		}

		p := apptest.ListActivities(t, kc, "")
		if got := apptest.PageEvents(p); !slices.Equal(got, []string{"auth:success", "account:update"}) || p.Total != 2 {
			t.Errorf("after the clean-up: events %q total %d, want the new login and the update", got, p.Total)
		}
		if n := apptest.CountRows(t, ts, "activities", alice.ID); n != 2 {
			t.Errorf("alice has %d activity rows, want 2", n)
		}
		if got := rslUUIDs(apptest.ListSessions(t, kc, "")); !slices.Equal(got, []string{currentID, regID}) {
			t.Errorf("after the clean-up: sessions %q, want %q", got, []string{currentID, regID})
		}
		if n := apptest.CountRows(t, ts, "sessions", alice.ID); n != 2 {
			t.Errorf("alice has %d session rows, want 2", n)
		}
		if n, m := apptest.CountRows(t, ts, "activities", bob.ID), apptest.CountRows(t, ts, "sessions", bob.ID); n != 1 || m != 2 {
			t.Errorf("bob has %d events and %d sessions left, want his login and his 2 live sessions", n, m)
		}
		restAccount(t, current)
		restAccount(t, alice.Client)
		restAccount(t, bobNew)
		rslAuthFails(t, old, "invalid session")

		res, err = ts.App.Service.Cleanup(ctx)
		if err != nil || res.Activities != 0 || res.Sessions != 0 {
			t.Errorf("second Cleanup: %+v %v, want nothing left to delete", res, err)
		}
	})
}
