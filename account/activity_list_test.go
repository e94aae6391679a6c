package account_test

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

func TestActivityList(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		keyIP := netip.MustParseAddr("192.0.2.77")
		v6 := netip.MustParseAddr("2001:db8::1")

		// 1: a password login, from clientIP.
		e.clock.Advance(time.Minute)
		e.mustLogin(t, "alice", alice.Password)
		// 2: a profile change through the cookie, from saOtherIP.
		e.clock.Advance(time.Minute)
		saUpdate(t, e, saActorFrom(t, e, cookie(alice.Token), saOtherIP), "ByCookie")
		// 3: a profile change through an API key, from keyIP.
		e.clock.Advance(time.Minute)
		key, keyID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountInfos,
			model.PermSessionsDelete, model.PermActivityRead}})
		ka := saActorFrom(t, e, bearer(key), keyIP)
		saUpdate(t, e, ka, "ByKey")
		// 4: every session revoked through the key.
		e.clock.Advance(time.Minute)
		if _, err := e.svc.RevokeOtherSessions(e.ctx, ka); err != nil {
			t.Fatalf("revoke others: %v", err)
		}
		// 5: one session revoked through a new cookie, over IPv6.
		e.clock.Advance(time.Minute)
		tok, _ := saSession(t, e, alice.User, "fresh", v6.String())
		_, victim := saSession(t, e, alice.User, "victim", "192.0.2.5")
		ca := saActorFrom(t, e, cookie(tok), v6)
		if _, err := e.svc.RevokeSession(e.ctx, ca, victim); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		// Bob's history is his own.
		saUpdate(t, e, e.actor(bob.Token), "Bob")

		type want struct {
			event string
			api   bool
			ip    string
			at    time.Duration
			data  string
		}
		exp := []want{
			{model.EventSessionDelete, false, v6.String(), 5 * time.Minute,
				fmt.Sprintf(`{"uuid":%q,"ip":"192.0.2.5","user_agent":"victim"}`, victim)},
			{model.EventSessionDeleteAll, true, keyIP.String(), 4 * time.Minute, `{"deleted":2}`},
			{model.EventAccountUpdate, true, keyIP.String(), 3 * time.Minute, `{"fields":["name_first"]}`},
			{model.EventAccountUpdate, false, saOtherIP.String(), 2 * time.Minute, `{"fields":["name_first"]}`},
			{model.EventAuthSuccess, false, clientIP.String(), time.Minute, `{"using":"password"}`},
		}

		for _, c := range []struct {
			name  string
			actor *model.Actor
			q     model.ListQuery
		}{
			{"CookieKeyset", ca, saKeyset(100, "", "")},
			{"KeyKeyset", ka, saKeyset(5, "", "")},
			{"CookieOffset", ca, saOffset(1, 25, "")},
			{"KeyOffset", ka, saOffset(1, 5, "")},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := saListActivity(t, e, c.actor, c.q)
				if len(p.Items) != len(exp) {
					t.Fatalf("events = %q, want %d", saEventNames(p.Items), len(exp))
				}
				if p.HasNext {
					t.Error("HasNext on the only page")
				}
				if n := saTotal(t, e, p); n != len(exp) {
					t.Errorf("total = %d, want %d", n, len(exp))
				}
				for i, w := range exp {
					a := p.Items[i]
					if a.Event != w.event {
						t.Errorf("#%d event = %q, want %q", i, a.Event, w.event)
						continue
					}
					if a.IsAPI() != w.api {
						t.Errorf("#%d %s is_api = %v, want %v", i, a.Event, a.IsAPI(), w.api)
					}
					if w.api && (a.APIKeyID == nil || *a.APIKeyID != keyID) {
						t.Errorf("#%d %s api key = %v, want %s", i, a.Event, a.APIKeyID, keyID)
					}
					if a.IP == nil || *a.IP != w.ip {
						t.Errorf("#%d %s ip = %v, want %s", i, a.Event, a.IP, w.ip)
					}
					if !a.Created.Equal(testStart.Add(w.at)) {
						t.Errorf("#%d %s created = %v, want %v", i, a.Event, a.Created, testStart.Add(w.at))
					}
					if a.UserID != alice.ID || a.Impersonator != nil {
						t.Errorf("#%d %s user/impersonator = %s/%v", i, a.Event, a.UserID, a.Impersonator)
					}
					assertData(t, a, w.data)
				}
			})
		}

		t.Run("PagesAgree", func(t *testing.T) {
			all := saActivityIDs(saListActivity(t, e, ca, saKeyset(100, "", "")).Items)
			saWantIDs(t, "keyset walk", saFlatten(saWalkActivity(t, e, ca, 2, "", nil)), all)
			var off []uuid.UUID
			for page := 1; page <= 3; page++ {
				p := saListActivity(t, e, ka, saOffset(page, 2, ""))
				off = append(off, saActivityIDs(p.Items)...)
				if p.HasNext != (page < 3) {
					t.Errorf("page %d HasNext = %v", page, p.HasNext)
				}
			}
			saWantIDs(t, "offset pages", off, all)
			p := saListActivity(t, e, ka, saOffset(4, 2, ""))
			if len(p.Items) != 0 || p.HasNext || saTotal(t, e, p) != 5 {
				t.Errorf("past the end: %d rows, HasNext %v, total %d", len(p.Items), p.HasNext, saTotal(t, e, p))
			}
		})

		t.Run("BobSeesOnlyHis", func(t *testing.T) {
			p := saListActivity(t, e, e.actor(bob.Token), saKeyset(100, "", ""))
			if got := saEventNames(p.Items); !slices.Equal(got, []string{model.EventAccountUpdate}) {
				t.Errorf("bob's events = %q", got)
			}
			if n := saTotal(t, e, p); n != 1 {
				t.Errorf("bob's total = %d", n)
			}
		})

		t.Run("ListingRecordsNothing", func(t *testing.T) {
			if n := len(e.activities(alice.User)); n != len(exp) {
				t.Errorf("alice has %d events, want %d", n, len(exp))
			}
		})
	})
}

func TestActivitySearch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		a := e.actor(alice.Token)

		// Events the service records.
		e.clock.Advance(time.Minute)
		saUpdate(t, e, a, "One")
		e.clock.Advance(time.Minute)
		saUpdate(t, e, a, "Two")
		e.clock.Advance(time.Minute)
		saSession(t, e, alice.User, "x", clientIP.String())
		if _, err := e.svc.RevokeOtherSessions(e.ctx, a); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		_, victim := saSession(t, e, alice.User, "y", clientIP.String())
		if _, err := e.svc.RevokeSession(e.ctx, a, victim); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.mustLogin(t, "alice", alice.Password)

		// Names with the characters a pattern or a query would treat
		// specially.
		var rows []dbtest.ActivityRow
		for _, name := range []string{"test:100%", "test:100x", "test:a_b", "test:aXb", "test:o'brien",
			`test:back\slash`, "test:backslash", "test:MiXeD", `test:"quoted"`} {
			e.clock.Advance(time.Minute)
			rows = append(rows, saActivity(alice.User, name, e.clock.Now()))
		}
		rows = append(rows, saActivity(bob.User, "test:100%", e.clock.Now()), saActivity(bob.User, "session:delete", e.clock.Now()))
		saInsertActivities(t, e, rows)

		all := saListActivity(t, e, a, saKeyset(100, "", "")).Items
		if len(all) != 14 {
			t.Fatalf("alice has %d events, want 14: %q", len(all), saEventNames(all))
		}

		for _, c := range []struct {
			search string
			n      int
		}{
			{"session:delete", 2},
			{"DELETE-ALL", 1},
			{"account:", 2},
			{"Auth:Success", 1},
			{":", 14},
			{"test:", 9},
			{"%", 1},
			{"100%", 1},
			{"100_", 0},
			{"_", 1},
			{"a_b", 1},
			{"'", 1},
			{"O'BRIEN", 1},
			{`"`, 1},
			{`\`, 1},
			{`k\s`, 1},
			{`\\`, 0},
			{`\%`, 0},
			{"mixed", 1},
			{"MIXED", 1},
			{"' OR 1=1 --", 0},
			{"%%", 0},
			{"api-key", 0},
		} {
			t.Run(c.search, func(t *testing.T) {
				var want []uuid.UUID
				var names []string
				for _, x := range all {
					if strings.Contains(strings.ToLower(x.Event), strings.ToLower(c.search)) {
						want = append(want, x.ID)
						names = append(names, x.Event)
					}
				}
				if len(want) != c.n {
					t.Fatalf("test set: %d literal matches %q, want %d", len(want), names, c.n)
				}
				for _, q := range []model.ListQuery{saKeyset(100, "", c.search), saOffset(1, 100, c.search)} {
					p := saListActivity(t, e, a, q)
					if got := saActivityIDs(p.Items); !slices.Equal(got, want) {
						t.Errorf("keyset=%v: search %q matched %q, want %q", q.Keyset, c.search, saEventNames(p.Items), names)
					}
					if n := saTotal(t, e, p); n != c.n {
						t.Errorf("keyset=%v: total = %d, want %d", q.Keyset, n, c.n)
					}
				}
				// A keyset walk under the search finds the same rows.
				saWantIDs(t, "walk", saFlatten(saWalkActivity(t, e, a, 1, c.search, nil)), want)
			})
		}
	})
}

func TestActivityKeysetWalk(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		a := e.actor(alice.Token)
		for i := range 7 {
			e.clock.Advance(time.Minute)
			saUpdate(t, e, a, fmt.Sprintf("Name%d", i))
		}
		first := saListActivity(t, e, a, saKeyset(100, "", ""))
		want := saActivityIDs(first.Items)
		if len(want) != 7 {
			t.Fatalf("%d events, want 7", len(want))
		}
		for i := 1; i < len(first.Items); i++ {
			if !first.Items[i-1].Created.After(first.Items[i].Created) {
				t.Fatalf("events not newest first: %v then %v", first.Items[i-1].Created, first.Items[i].Created)
			}
		}

		t.Run("FirstTwo", func(t *testing.T) {
			pages := saWalkActivity(t, e, a, 2, "", nil)
			if got := saPageSizes(pages); !slices.Equal(got, []int{2, 2, 2, 1}) {
				t.Errorf("page sizes = %v", got)
			}
			saWantIDs(t, "walk", saFlatten(pages), want)
		})

		t.Run("AcrossInserts", func(t *testing.T) {
			before := len(e.activities(alice.User))
			pages := saWalkActivity(t, e, a, 2, "", func(int) {
				e.clock.Advance(time.Second)
				saUpdate(t, e, a, "MidWalk")
				e.clock.Advance(time.Second)
				// The log-in of another device, recorded without an actor.
				e.mustLogin(t, "alice", alice.Password)
			})
			saWantIDs(t, "walk", saFlatten(pages), want)
			if n := len(e.activities(alice.User)); n != before+6 {
				t.Fatalf("%d events made during the walk, want 6", n-before)
			}
			fresh := saListActivity(t, e, a, saKeyset(100, "", ""))
			if got := saActivityIDs(fresh.Items)[6:]; !slices.Equal(got, want) {
				t.Errorf("a fresh walk ends with %v, want %v", got, want)
			}
			if n := saTotal(t, e, fresh); n != 13 {
				t.Errorf("total = %d, want 13", n)
			}
			want = saActivityIDs(fresh.Items)
		})

		t.Run("SearchAcrossInserts", func(t *testing.T) {
			exp := saActivityIDs(saListActivity(t, e, a, saKeyset(100, "", "auth:")).Items)
			pages := saWalkActivity(t, e, a, 1, "auth:", func(int) {
				e.clock.Advance(time.Second)
				e.mustLogin(t, "alice", alice.Password)
			})
			saWantIDs(t, "walk", saFlatten(pages), exp)
		})

		t.Run("EqualTimes", func(t *testing.T) {
			bob := e.register("bob")
			at := map[uuid.UUID]time.Time{}
			var rows []dbtest.ActivityRow
			now := e.clock.Advance(time.Minute)
			for range 5 {
				r := saActivity(bob.User, "test:same-time", now)
				rows = append(rows, r)
				at[r.ID] = r.Created
			}
			older := saActivity(bob.User, "test:older", now.Add(-time.Second))
			rows = append(rows, older)
			at[older.ID] = older.Created
			saInsertActivities(t, e, rows)
			ids := make([]uuid.UUID, 0, len(rows))
			for _, r := range rows {
				ids = append(ids, r.ID)
			}
			exp := saNewestFirst(ids, at)
			ba := e.actor(bob.Token)
			for _, first := range []int{1, 2, 4, 6} {
				saWantIDs(t, fmt.Sprintf("walk of %d", first), saFlatten(saWalkActivity(t, e, ba, first, "", nil)), exp)
			}
		})
	})
}
