package account_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

func TestSessionsListNewestFirst(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		s0 := saSessionID(t, e, alice.Token)

		e.clock.Advance(time.Minute)
		_, s1 := saSession(t, e, alice.User, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "192.0.2.10")
		e.clock.Advance(time.Minute)
		_, s2 := saSession(t, e, alice.User, "curl/8.4.0", "2001:db8::5")
		e.clock.Advance(time.Minute)
		_, s3 := saSession(t, e, alice.User, "third", "192.0.2.30")
		_, bobSession := saSession(t, e, bob.User, "bob's agent", "192.0.2.99")

		// Using the first session records its use (it was idle three
		// minutes), not a new creation time.
		cookieActor := e.actor(alice.Token)
		keyActor, _ := saKey(t, e, alice.User, model.PermSessionsRead)
		want := []uuid.UUID{s3, s2, s1, s0}

		for _, c := range []struct {
			name  string
			actor *model.Actor
			q     model.ListQuery
		}{
			{"CookieKeyset", cookieActor, saKeyset(100, "", "")},
			{"CookieOffset", cookieActor, saOffset(1, 25, "")},
			{"KeyKeyset", keyActor, saKeyset(10, "", "")},
			{"KeyOffset", keyActor, saOffset(1, 100, "")},
		} {
			t.Run(c.name, func(t *testing.T) {
				p := saListSessions(t, e, c.actor, c.q)
				saWantIDs(t, "sessions", saSessionIDs(p.Items), want)
				if p.HasNext {
					t.Error("HasNext on the only page")
				}
				if n := saTotal(t, e, p); n != 4 {
					t.Errorf("total = %d, want 4", n)
				}
				for _, s := range p.Items {
					if s.UserID != alice.ID {
						t.Errorf("session %s of user %s listed for alice", s.ID, s.UserID)
					}
					if s.ID == bobSession {
						t.Error("bob's session listed for alice")
					}
				}
				byID := map[uuid.UUID]*model.Session{}
				for _, s := range p.Items {
					byID[s.ID] = s
				}
				for _, w := range []struct {
					id                uuid.UUID
					ip, ua            string
					created, lastUsed time.Time
				}{
					{s0, clientIP.String(), clientUA, testStart, testStart.Add(3 * time.Minute)},
					{s1, "192.0.2.10", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", testStart.Add(time.Minute), testStart.Add(time.Minute)},
					{s2, "2001:db8::5", "curl/8.4.0", testStart.Add(2 * time.Minute), testStart.Add(2 * time.Minute)},
				} {
					s := byID[w.id]
					if s.IP != w.ip || s.UserAgent != w.ua || !s.Created.Equal(w.created) || !s.LastUsed.Equal(w.lastUsed) {
						t.Errorf("session %s = ip %q ua %q created %v last used %v, want %q %q %v %v",
							w.id, s.IP, s.UserAgent, s.Created, s.LastUsed, w.ip, w.ua, w.created, w.lastUsed)
					}
				}
				// The request's own session is marked only under cookie
				// authentication.
				for _, s := range p.Items {
					if got, exp := cookieActor.UsesSession(s.ID), s.ID == s0; got != exp {
						t.Errorf("cookie actor UsesSession(%s) = %v, want %v", s.ID, got, exp)
					}
					if keyActor.UsesSession(s.ID) {
						t.Errorf("key actor UsesSession(%s) = true", s.ID)
					}
				}
			})
		}

		t.Run("BobSeesOnlyHis", func(t *testing.T) {
			p := saListSessions(t, e, e.actor(bob.Token), saKeyset(100, "", ""))
			saWantIDs(t, "bob's sessions", saSessionIDs(p.Items), []uuid.UUID{bobSession, saSessionID(t, e, bob.Token)})
		})
	})
}

func TestSessionsListIdleHidden(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.SessionDuration = time.Hour
		e := newEnv(t, d, cfg)
		alice := e.register("alice")
		s0 := saSessionID(t, e, alice.Token)
		// An API key lists without touching any session.
		ka, _ := saKey(t, e, alice.User, model.PermSessionsRead)

		e.clock.Advance(10 * time.Minute)
		tok1, s1 := saSession(t, e, alice.User, "agent-one", "192.0.2.1")
		e.clock.Advance(10 * time.Minute)
		_, s2 := saSession(t, e, alice.User, "agent-two", "192.0.2.2")

		check := func(t *testing.T, want ...uuid.UUID) {
			t.Helper()
			p := saListSessions(t, e, ka, saKeyset(100, "", ""))
			saWantIDs(t, "keyset", saSessionIDs(p.Items), want)
			if p.HasNext {
				t.Error("HasNext on the only page")
			}
			if n := saTotal(t, e, p); n != len(want) {
				t.Errorf("keyset total = %d, want %d", n, len(want))
			}
			p = saListSessions(t, e, ka, saOffset(1, 25, ""))
			saWantIDs(t, "offset", saSessionIDs(p.Items), want)
			if n := saTotal(t, e, p); n != len(want) {
				t.Errorf("offset total = %d, want %d", n, len(want))
			}
		}

		t.Run("AllLive", func(t *testing.T) { check(t, s2, s1, s0) })

		t.Run("FirstIdlePastDuration", func(t *testing.T) {
			e.clock.Advance(40*time.Minute + time.Microsecond) // s0 idle 1 h 1 µs
			check(t, s2, s1)
			// Not found by a search that matches only it, and not counted.
			p := saListSessions(t, e, ka, saKeyset(100, "", clientUA))
			if len(p.Items) != 0 || saTotal(t, e, p) != 0 {
				t.Errorf("search for the idle session's agent: %d rows, total %d", len(p.Items), saTotal(t, e, p))
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(alice.Token))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
		})

		t.Run("UseKeepsALiveSessionListed", func(t *testing.T) {
			e.authenticate(cookie(tok1)) // s1's last use moves to now
			e.clock.Advance(20 * time.Minute)
			// s2 was last used 1 h 1 µs ago; s1 20 minutes ago, though it
			// was created before s2.
			check(t, s1)
		})

		t.Run("NoneLive", func(t *testing.T) {
			e.clock.Advance(time.Hour)
			check(t)
			p := saListSessions(t, e, ka, saOffset(1, 25, ""))
			if len(p.Items) != 0 || p.HasNext {
				t.Errorf("offset page = %d rows, HasNext %v", len(p.Items), p.HasNext)
			}
		})
	})
}

// A session idle exactly SESSION_DURATION is not idle past it: it still
// authenticates and the clean-up keeps it, so the list shows it too.
func TestSessionsListIdleBoundary(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.SessionDuration = time.Hour
		e := newEnv(t, d, cfg)
		alice := e.register("alice")
		s0 := saSessionID(t, e, alice.Token)
		ka, _ := saKey(t, e, alice.User, model.PermSessionsRead)

		e.clock.Advance(time.Hour)
		p := saListSessions(t, e, ka, saKeyset(100, "", ""))
		n := saTotal(t, e, p)
		res, err := e.svc.Cleanup(e.ctx)
		if err != nil {
			t.Fatalf("cleanup: %v", err)
		}
		// Authenticating records a use, so it comes after the list.
		_, authErr := e.svc.Authenticate(e.ctx, cookie(alice.Token))

		if authErr != nil {
			t.Fatalf("session idle exactly SESSION_DURATION: authenticate: %v", authErr)
		}
		if res.Sessions != 0 {
			t.Fatalf("clean-up deleted %d sessions idle exactly SESSION_DURATION", res.Sessions)
		}
		if !slices.Equal(saSessionIDs(p.Items), []uuid.UUID{s0}) || n != 1 {
			t.Errorf("a session idle exactly SESSION_DURATION still authenticates, but the list shows %v (total %d), want [%s] (total 1)",
				saSessionIDs(p.Items), n, s0)
		}
	})
}

func TestSessionsListKeysetWalk(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		s0 := saSessionID(t, e, alice.Token)
		want := append(saSessions(t, e, alice.User, 6), s0)
		ka, _ := saKey(t, e, alice.User, model.PermSessionsRead)

		t.Run("FirstTwo", func(t *testing.T) {
			pages := saWalkSessions(t, e, ka, 2, "", nil)
			if got := saPageSizes(pages); !slices.Equal(got, []int{2, 2, 2, 1}) {
				t.Errorf("page sizes = %v, want [2 2 2 1]", got)
			}
			saWantIDs(t, "walk", saFlatten(pages), want)
		})

		for _, first := range []int{1, 3, 6, 7, 8, 100} {
			t.Run(fmt.Sprintf("First%d", first), func(t *testing.T) {
				pages := saWalkSessions(t, e, ka, first, "", nil)
				if exp := (len(want) + first - 1) / first; len(pages) != exp {
					t.Errorf("%d pages, want %d", len(pages), exp)
				}
				saWantIDs(t, "walk", saFlatten(pages), want)
			})
		}

		t.Run("TotalOnEveryPage", func(t *testing.T) {
			after := ""
			for range 4 {
				p := saListSessions(t, e, ka, saKeyset(2, after, ""))
				if n := saTotal(t, e, p); n != 7 {
					t.Errorf("total = %d, want 7", n)
				}
				if len(p.Items) == 0 {
					break
				}
				after = saSessionCursor(p.Items[len(p.Items)-1])
			}
		})

		t.Run("AfterTheLast", func(t *testing.T) {
			all := saListSessions(t, e, ka, saKeyset(100, "", ""))
			p := saListSessions(t, e, ka, saKeyset(2, saSessionCursor(all.Items[len(all.Items)-1]), ""))
			if len(p.Items) != 0 || p.HasNext {
				t.Errorf("after the last row: %d rows, HasNext %v", len(p.Items), p.HasNext)
			}
		})

		t.Run("EqualCreationTimes", func(t *testing.T) {
			// Rows created in the same microsecond are ordered by id; the
			// walk still sees each exactly once.
			bob := e.register("bob")
			e.clock.Advance(time.Minute)
			reg := saStoredSession(t, e, bob.Token)
			at := map[uuid.UUID]time.Time{reg.ID: reg.Created}
			var ids []uuid.UUID
			for i := range 5 {
				_, id := saSession(t, e, bob.User, fmt.Sprintf("same-time-%d", i), clientIP.String())
				ids = append(ids, id)
				at[id] = e.clock.Now().UTC().Truncate(time.Microsecond)
			}
			ids = append(ids, reg.ID)
			exp := saNewestFirst(ids, at)
			kb, _ := saKey(t, e, bob.User, model.PermSessionsRead)
			for _, first := range []int{1, 2, 4} {
				saWantIDs(t, fmt.Sprintf("walk of %d", first), saFlatten(saWalkSessions(t, e, kb, first, "", nil)), exp)
			}
		})
	})
}

func TestSessionsListCursorStableUnderInserts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		want := append(saSessions(t, e, alice.User, 6), saSessionID(t, e, alice.Token))
		ka, _ := saKey(t, e, alice.User, model.PermSessionsRead, model.PermSessionsDelete)

		t.Run("NewSessionsMidWalk", func(t *testing.T) {
			var added []uuid.UUID
			pages := saWalkSessions(t, e, ka, 2, "", func(int) {
				for range 2 {
					e.clock.Advance(time.Second)
					_, id := saSession(t, e, alice.User, "mid-walk", clientIP.String())
					added = append(added, id)
				}
			})
			got := saFlatten(pages)
			saWantIDs(t, "walk", got, want)
			for _, id := range added {
				if slices.Contains(got, id) {
					t.Errorf("session %s created mid-walk showed up on a later page", id)
				}
			}
			if len(added) != 6 {
				t.Fatalf("added %d sessions, want 6 (three page breaks)", len(added))
			}
			// A new walk sees them first.
			slices.Reverse(added)
			all := saListSessions(t, e, ka, saKeyset(100, "", ""))
			saWantIDs(t, "fresh walk", saSessionIDs(all.Items), append(slices.Clone(added), want...))
			if n := saTotal(t, e, all); n != 13 {
				t.Errorf("total = %d, want 13", n)
			}
			want = append(added, want...)
		})

		t.Run("CursorRowRevokedMidWalk", func(t *testing.T) {
			var revoked []uuid.UUID
			pages := saWalkSessions(t, e, ka, 3, "", func(int) {
				// The row the cursor points at is gone before the next page.
				p := saListSessions(t, e, ka, saKeyset(100, "", ""))
				seen := 3 * (len(revoked) + 1)
				last := p.Items[seen-len(revoked)-1]
				if _, err := e.svc.RevokeSession(e.ctx, ka, last.ID); err != nil {
					t.Fatalf("revoke: %v", err)
				}
				revoked = append(revoked, last.ID)
			})
			saWantIDs(t, "walk", saFlatten(pages), want)
		})
	})
}

func TestSessionsListOffset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		want := append(saSessions(t, e, alice.User, 6), saSessionID(t, e, alice.Token))
		a := e.actor(alice.Token)

		for _, c := range []struct {
			page, perPage int
			from, to      int
			hasNext       bool
		}{
			{1, 3, 0, 3, true},
			{2, 3, 3, 6, true},
			{3, 3, 6, 7, false},
			{4, 3, 7, 7, false},
			{1000, 3, 7, 7, false},
			{1, 7, 0, 7, false},
			{1, 6, 0, 6, true},
			{2, 6, 6, 7, false},
			{1, 1, 0, 1, true},
			{7, 1, 6, 7, false},
			{1, 100, 0, 7, false},
		} {
			t.Run(fmt.Sprintf("Page%dPer%d", c.page, c.perPage), func(t *testing.T) {
				p := saListSessions(t, e, a, saOffset(c.page, c.perPage, ""))
				saWantIDs(t, "page", saSessionIDs(p.Items), want[c.from:c.to])
				if p.HasNext != c.hasNext {
					t.Errorf("HasNext = %v, want %v", p.HasNext, c.hasNext)
				}
				// The true total, also past the last page.
				if n := saTotal(t, e, p); n != 7 {
					t.Errorf("total = %d, want 7", n)
				}
			})
		}
	})
}

func TestSessionsListSearch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		carol := e.register("carol")
		agents := []string{
			"curl/8.4 100%",
			"curl/8.4 100X",
			"bot_crawler/1.0",
			"botXcrawler/1.0",
			"O'Reilly Reader/2",
			`C:\Windows\Agent`,
			"C:Windows Agent",
			"MiXeD CaSe Browser",
			`quote"double`,
		}
		byID := map[uuid.UUID]string{saSessionID(t, e, carol.Token): clientUA}
		for _, ua := range agents {
			e.clock.Advance(time.Minute)
			_, id := saSession(t, e, carol.User, ua, clientIP.String())
			byID[id] = ua
		}
		// Another user's matching session never shows.
		dave := e.register("dave")
		saSession(t, e, dave.User, "curl/8.4 100%", clientIP.String())
		a := e.actor(carol.Token)
		all := saSessionIDs(saListSessions(t, e, a, saKeyset(100, "", "")).Items)
		if len(all) != len(agents)+1 {
			t.Fatalf("%d sessions, want %d", len(all), len(agents)+1)
		}

		for _, c := range []struct {
			search string
			want   []string
		}{
			{"%", []string{"curl/8.4 100%"}},
			{"100%", []string{"curl/8.4 100%"}},
			{"100_", nil},
			{"_", []string{"bot_crawler/1.0"}},
			{"t_c", []string{"bot_crawler/1.0"}},
			{"'", []string{"O'Reilly Reader/2"}},
			{"o'reilly", []string{"O'Reilly Reader/2"}},
			{"O'REILLY READER", []string{"O'Reilly Reader/2"}},
			{`"`, []string{`quote"double`}},
			{`\`, []string{`C:\Windows\Agent`}},
			{`c:\w`, []string{`C:\Windows\Agent`}},
			{`\%`, nil},
			{`\\`, nil},
			{"mixed case", []string{"MiXeD CaSe Browser"}},
			{"MIXED", []string{"MiXeD CaSe Browser"}},
			{"Curl", []string{"curl/8.4 100X", "curl/8.4 100%"}},
			{"ACCOUNT-test", []string{clientUA}},
			{"' OR '1'='1", nil},
			{"'; DELETE FROM sessions; --", nil},
			{"%%", nil},
			{"nothing like it", nil},
		} {
			t.Run(c.search, func(t *testing.T) {
				var want []uuid.UUID
				for _, id := range all {
					if slices.Contains(c.want, byID[id]) {
						want = append(want, id)
					}
				}
				if len(want) != len(c.want) {
					t.Fatalf("test set: %d of %d agents found", len(want), len(c.want))
				}
				for _, q := range []model.ListQuery{saKeyset(100, "", c.search), saOffset(1, 100, c.search)} {
					p := saListSessions(t, e, a, q)
					if got := saSessionIDs(p.Items); !slices.Equal(got, want) {
						var names []string
						for _, id := range got {
							names = append(names, byID[id])
						}
						t.Errorf("keyset=%v: search %q matched %q, want %q", q.Keyset, c.search, names, c.want)
					}
					if n := saTotal(t, e, p); n != len(want) {
						t.Errorf("keyset=%v: total = %d, want %d", q.Keyset, n, len(want))
					}
				}
			})
		}

		t.Run("WalkWithSearch", func(t *testing.T) {
			pages := saWalkSessions(t, e, a, 1, "CURL", nil)
			if len(pages) != 2 {
				t.Fatalf("%d pages, want 2", len(pages))
			}
			for _, id := range saFlatten(pages) {
				if !strings.HasPrefix(byID[id], "curl/") {
					t.Errorf("walk with search found %q", byID[id])
				}
			}
		})

		t.Run("NothingChanged", func(t *testing.T) {
			if n := e.sessionCount(carol.User); n != len(agents)+1 {
				t.Errorf("carol has %d sessions, want %d", n, len(agents)+1)
			}
			if n := e.sessionCount(dave.User); n != 2 {
				t.Errorf("dave has %d sessions, want 2", n)
			}
		})
	})
}

// saSameFields compares field errors ignoring their order.
func saSameFields(t *testing.T, err error, want ...model.FieldError) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %v", want)
	}
	if got := model.ErrorCode(err); got != model.CodeInvalid {
		t.Fatalf("code = %q (%v), want invalid", got, err)
	}
	got := slices.Clone(asError(t, err).Fields)
	exp := slices.Clone(want)
	key := func(a, b model.FieldError) int { return strings.Compare(a.String(), b.String()) }
	slices.SortFunc(got, key)
	slices.SortFunc(exp, key)
	if !slices.Equal(got, exp) {
		t.Fatalf("fields = %q, want %q (any order)", got, exp)
	}
}

func TestSessionsListValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		saSessions(t, e, alice.User, 2)
		a := e.actor(alice.Token)
		actsBefore := len(e.activities(alice.User))

		enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		id := uuid.New()
		good := model.Cursor{Time: testStart, ID: id}.Encode()
		micros := fmt.Sprint(testStart.UnixMicro())
		search := func(s string, n int) string { return strings.Repeat(s, n) }

		for _, c := range []struct {
			name string
			q    model.ListQuery
			want []model.FieldError // nil: valid
		}{
			{"KeysetFirst0", saKeyset(0, "", ""), []model.FieldError{fe("first", "lower than 1")}},
			{"KeysetFirstNegative", saKeyset(-1, "", ""), []model.FieldError{fe("first", "lower than 1")}},
			{"KeysetFirst1", saKeyset(1, "", ""), nil},
			{"KeysetFirst100", saKeyset(100, "", ""), nil},
			{"KeysetFirst101", saKeyset(101, "", ""), []model.FieldError{fe("first", "greater than 100")}},
			{"OffsetPage0", saOffset(0, 10, ""), []model.FieldError{fe("page", "lower than 1")}},
			{"OffsetPageNegative", saOffset(-3, 10, ""), []model.FieldError{fe("page", "lower than 1")}},
			{"OffsetPage1", saOffset(1, 10, ""), nil},
			{"OffsetPerPage0", saOffset(1, 0, ""), []model.FieldError{fe("per_page", "lower than 1")}},
			{"OffsetPerPage1", saOffset(1, 1, ""), nil},
			{"OffsetPerPage100", saOffset(1, 100, ""), nil},
			{"OffsetPerPage101", saOffset(1, 101, ""), []model.FieldError{fe("per_page", "greater than 100")}},
			{"KeysetSearch128", saKeyset(10, "", search("a", 128)), nil},
			{"KeysetSearch129", saKeyset(10, "", search("a", 129)), []model.FieldError{fe("search", "length is greater than 128")}},
			{"OffsetSearch128", saOffset(1, 10, search("%", 128)), nil},
			{"OffsetSearch129", saOffset(1, 10, search("%", 129)), []model.FieldError{fe("search", "length is greater than 128")}},
			{"Search128MultiByte", saKeyset(10, "", search("é", 128)), nil},
			{"Search129MultiByte", saKeyset(10, "", search("é", 129)), []model.FieldError{fe("search", "length is greater than 128")}},
			{"SearchNUL", saKeyset(10, "", "a\x00b"), []model.FieldError{fe("search", "must not contain NUL characters")}},
			{"AfterValid", saKeyset(10, good, ""), nil},
			{"AfterGarbage", saKeyset(10, "not a cursor!", ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"AfterPadded", saKeyset(10, base64.URLEncoding.EncodeToString([]byte("c1:"+micros+":"+id.String())), ""),
				[]model.FieldError{fe("after", "invalid cursor")}},
			{"AfterOtherVersion", saKeyset(10, enc("c2:"+micros+":"+id.String()), ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"AfterBadTime", saKeyset(10, enc("c1:noon:"+id.String()), ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"AfterBadID", saKeyset(10, enc("c1:"+micros+":not-a-uuid"), ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"AfterUpperCaseID", saKeyset(10, enc("c1:"+micros+":"+strings.ToUpper(id.String())), ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"AfterExtraPart", saKeyset(10, enc("c1:"+micros+":"+id.String()+":x"), ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"AfterSQL", saKeyset(10, "' OR 1=1 --", ""), []model.FieldError{fe("after", "invalid cursor")}},
			{"OffsetEverything", saOffset(0, 101, search("x", 129)),
				[]model.FieldError{fe("page", "lower than 1"), fe("per_page", "greater than 100"), fe("search", "length is greater than 128")}},
			{"OffsetPage0PerPage0", saOffset(0, 0, ""), []model.FieldError{fe("page", "lower than 1"), fe("per_page", "lower than 1")}},
			{"KeysetEverything", saKeyset(0, "garbage", search("x", 129)),
				[]model.FieldError{fe("after", "invalid cursor"), fe("first", "lower than 1"), fe("search", "length is greater than 128")}},
		} {
			t.Run(c.name, func(t *testing.T) {
				for _, op := range []struct {
					name string
					call func() error
				}{
					{"ListSessions", func() error { _, err := e.svc.ListSessions(e.ctx, a, c.q); return err }},
					{"ListActivity", func() error { _, err := e.svc.ListActivity(e.ctx, a, c.q); return err }},
				} {
					err := op.call()
					switch {
					case c.want == nil && err != nil:
						t.Errorf("%s: %v, want success", op.name, err)
					case c.want == nil:
					case len(c.want) == 1:
						wantFields(t, err, c.want...)
					default:
						saSameFields(t, err, c.want...)
					}
				}
			})
		}

		if n := e.sessionCount(alice.User); n != 3 {
			t.Errorf("alice has %d sessions, want 3", n)
		}
		if n := len(e.activities(alice.User)); n != actsBefore {
			t.Errorf("listing recorded %d events", n-actsBefore)
		}
	})
}
