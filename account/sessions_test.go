package account_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// saOtherIP is a second client address, so that records show which request
// they came from.
var saOtherIP = netip.MustParseAddr("198.51.100.23")

// saSession stores a session of u with its own user agent and address,
// created and last used now, and returns its token and id.
func saSession(t *testing.T, e *env, u *model.User, ua, ip string) (string, uuid.UUID) {
	t.Helper()
	tok := secret.RandomString(48)
	e.secret(tok)
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	id := uuid.New()
	err := e.store.CreateSession(e.ctx, &model.Session{ID: id, UserID: u.ID, KeyStart: tok[:16],
		Digest: secret.Digest(tok), IP: ip, UserAgent: ua, LastUsed: now, Created: now})
	if err != nil {
		t.Fatalf("create session: %v", err)
	}
	return tok, id
}

// saSessions stores n sessions of u, one a minute apart, and returns their
// ids newest first.
func saSessions(t *testing.T, e *env, u *model.User, n int) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range n {
		e.clock.Advance(time.Minute)
		_, ids[n-1-i] = saSession(t, e, u, fmt.Sprintf("agent-%d", i), clientIP.String())
	}
	return ids
}

// saStoredSession is the stored session a token belongs to.
func saStoredSession(t *testing.T, e *env, tok string) *model.Session {
	t.Helper()
	s, _, err := e.store.SessionByKeyStart(e.ctx, tok[:16])
	if err != nil || s == nil {
		t.Fatalf("session of token: %v %v", s, err)
	}
	return s
}

// saSessionID is the id of the session a token belongs to.
func saSessionID(t *testing.T, e *env, tok string) uuid.UUID {
	t.Helper()
	return saStoredSession(t, e, tok).ID
}

// saActorFrom authenticates credentials presented from ip.
func saActorFrom(t *testing.T, e *env, c account.Credentials, ip netip.Addr) *model.Actor {
	t.Helper()
	c.IP = ip
	a, err := e.svc.Authenticate(e.ctx, c)
	if err != nil {
		t.Fatalf("authenticate from %v: %v", ip, err)
	}
	return a.Actor
}

// saKey creates an API key of u holding perms and authenticates it.
func saKey(t *testing.T, e *env, u *model.User, perms ...string) (*model.Actor, uuid.UUID) {
	t.Helper()
	key, id := e.newAPIKey(u, keyOpts{UserPerms: append([]string{}, perms...)})
	return e.keyActor(key), id
}

func saListSessions(t *testing.T, e *env, a *model.Actor, q model.ListQuery) *model.Page[*model.Session] {
	t.Helper()
	p, err := e.svc.ListSessions(e.ctx, a, q)
	if err != nil {
		t.Fatalf("list sessions %+v: %v", q, err)
	}
	if p == nil {
		t.Fatalf("list sessions %+v: no page", q)
	}
	return p
}

func saListActivity(t *testing.T, e *env, a *model.Actor, q model.ListQuery) *model.Page[*model.Activity] {
	t.Helper()
	p, err := e.svc.ListActivity(e.ctx, a, q)
	if err != nil {
		t.Fatalf("list activity %+v: %v", q, err)
	}
	if p == nil {
		t.Fatalf("list activity %+v: no page", q)
	}
	return p
}

// saTotal runs a page's count.
func saTotal[T any](t *testing.T, e *env, p *model.Page[T]) int {
	t.Helper()
	if p.Count == nil {
		t.Fatal("page has no Count")
	}
	n, err := p.Count(e.ctx)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

func saKeyset(first int, after, search string) model.ListQuery {
	return model.ListQuery{Keyset: true, First: first, After: after, Search: search}
}

func saOffset(page, perPage int, search string) model.ListQuery {
	return model.ListQuery{Page: page, PerPage: perPage, Search: search}
}

func saSessionIDs(items []*model.Session) []uuid.UUID {
	out := make([]uuid.UUID, len(items))
	for i, s := range items {
		out[i] = s.ID
	}
	return out
}

func saActivityIDs(items []*model.Activity) []uuid.UUID {
	out := make([]uuid.UUID, len(items))
	for i, a := range items {
		out[i] = a.ID
	}
	return out
}

func saSessionCursor(s *model.Session) string {
	return model.Cursor{Time: s.Created, ID: s.ID}.Encode()
}

func saActivityCursor(a *model.Activity) string {
	return model.Cursor{Time: a.Created, ID: a.ID}.Encode()
}

// saWantIDs compares two id lists, order included.
func saWantIDs(t *testing.T, what string, got, want []uuid.UUID) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// saWalk pages through a list by keyset, first rows at a time, and calls
// between after every page that has a successor. It checks the paging
// flags and returns the pages' ids.
func saWalk[T any](t *testing.T, first int, list func(after string) *model.Page[T], id func(T) uuid.UUID,
	cursor func(T) string, between func(page int)) [][]uuid.UUID {
	t.Helper()
	var pages [][]uuid.UUID
	seen := map[uuid.UUID]int{}
	after := ""
	for i := 0; ; i++ {
		p := list(after)
		if len(p.Items) > first {
			t.Fatalf("page %d has %d rows, first = %d", i, len(p.Items), first)
		}
		ids := make([]uuid.UUID, len(p.Items))
		for j, it := range p.Items {
			ids[j] = id(it)
			if prev, dup := seen[ids[j]]; dup {
				t.Fatalf("row %s on page %d was already on page %d", ids[j], i, prev)
			}
			seen[ids[j]] = i
		}
		pages = append(pages, ids)
		if !p.HasNext {
			return pages
		}
		if len(p.Items) != first {
			t.Fatalf("page %d has %d rows of %d and says more follow", i, len(p.Items), first)
		}
		after = cursor(p.Items[len(p.Items)-1])
		if between != nil {
			between(i)
		}
	}
}

func saFlatten(pages [][]uuid.UUID) []uuid.UUID {
	var out []uuid.UUID
	for _, p := range pages {
		out = append(out, p...)
	}
	return out
}

func saPageSizes(pages [][]uuid.UUID) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

// saWalkSessions walks a's sessions by keyset.
func saWalkSessions(t *testing.T, e *env, a *model.Actor, first int, search string, between func(int)) [][]uuid.UUID {
	t.Helper()
	return saWalk(t, first, func(after string) *model.Page[*model.Session] {
		return saListSessions(t, e, a, saKeyset(first, after, search))
	}, func(s *model.Session) uuid.UUID { return s.ID }, saSessionCursor, between)
}

// saWalkActivity walks a's history by keyset.
func saWalkActivity(t *testing.T, e *env, a *model.Actor, first int, search string, between func(int)) [][]uuid.UUID {
	t.Helper()
	return saWalk(t, first, func(after string) *model.Page[*model.Activity] {
		return saListActivity(t, e, a, saKeyset(first, after, search))
	}, func(x *model.Activity) uuid.UUID { return x.ID }, saActivityCursor, between)
}

// saNewestFirst sorts (time, id) pairs the way every list is ordered:
// newest first, the larger id first among equal times.
func saNewestFirst(ids []uuid.UUID, at map[uuid.UUID]time.Time) []uuid.UUID {
	out := slices.Clone(ids)
	sort.Slice(out, func(i, j int) bool {
		ti, tj := at[out[i]], at[out[j]]
		if !ti.Equal(tj) {
			return ti.After(tj)
		}
		return bytes.Compare(out[i][:], out[j][:]) > 0
	})
	return out
}

// saActivityRow is a row of the activities table written directly, for
// histories the service cannot produce quickly (unusual event names,
// equal timestamps, large backlogs).
type saActivityRow struct {
	bun.BaseModel `bun:"table:activities"`

	ID      uuid.UUID `bun:"id,pk,type:uuid"`
	UserID  uuid.UUID `bun:"user_id,type:uuid"`
	Event   string    `bun:"event"`
	IP      *string   `bun:"ip"`
	Data    string    `bun:"data"`
	Created time.Time `bun:"created"`
}

// saInsertActivities writes rows in multi-row statements.
func saInsertActivities(t *testing.T, e *env, rows []saActivityRow) {
	t.Helper()
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), 500)]
		rows = rows[len(chunk):]
		if _, err := e.d.NewInsert().Model(&chunk).Exec(e.ctx); err != nil {
			t.Fatalf("insert activities: %v", err)
		}
	}
}

// saActivity is one directly written event of u at the given time.
func saActivity(u *model.User, event string, at time.Time) saActivityRow {
	return saActivityRow{ID: uuid.New(), UserID: u.ID, Event: event, Data: "{}", Created: at.UTC().Truncate(time.Microsecond)}
}

// saUpdate makes one account:update event through the service.
func saUpdate(t *testing.T, e *env, a *model.Actor, name string) {
	t.Helper()
	if _, err := e.svc.UpdateAccount(e.ctx, a, account.UpdateAccountInput{NameFirst: ptr(name)}); err != nil {
		t.Fatalf("update account: %v", err)
	}
}

// saEventNames lists the events of a page, in order.
func saEventNames(items []*model.Activity) []string {
	out := make([]string, len(items))
	for i, a := range items {
		out[i] = a.Event
	}
	return out
}

func TestSessionsListNewestFirst(t *testing.T) {
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
				if err := e.svc.RevokeSession(e.ctx, ka, last.ID); err != nil {
					t.Fatalf("revoke: %v", err)
				}
				revoked = append(revoked, last.ID)
			})
			saWantIDs(t, "walk", saFlatten(pages), want)
		})
	})
}

func TestSessionsListOffset(t *testing.T) {
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

func TestSessionsRevoke(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		current := saSessionID(t, e, alice.Token)
		e.clock.Advance(time.Minute)
		otherTok, other := saSession(t, e, alice.User, "Other Browser/2.0", "192.0.2.44")
		bobTok, bobSession := saSession(t, e, bob.User, "Bob Browser", "192.0.2.45")
		e.clock.Advance(time.Minute)
		a := saActorFrom(t, e, cookie(alice.Token), saOtherIP)

		t.Run("OtherOwnSession", func(t *testing.T) {
			if err := e.svc.RevokeSession(e.ctx, a, other); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			if n := e.count("sessions", "id = ?", other); n != 0 {
				t.Errorf("revoked session still stored")
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(otherTok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.actor(alice.Token)
			e.actor(bobTok)
			p := saListSessions(t, e, a, saKeyset(100, "", ""))
			saWantIDs(t, "alice's sessions", saSessionIDs(p.Items), []uuid.UUID{current})

			evs := e.events(alice.User, model.EventSessionDelete)
			if len(evs) != 1 {
				t.Fatalf("session:delete events = %d, want 1", len(evs))
			}
			ev := evs[0]
			assertData(t, ev, fmt.Sprintf(`{"uuid":%q,"ip":"192.0.2.44","user_agent":"Other Browser/2.0"}`, other))
			if ev.IP == nil || *ev.IP != saOtherIP.String() {
				t.Errorf("event ip = %v, want the request's %s", ev.IP, saOtherIP)
			}
			if ev.IsAPI() || ev.APIKeyID != nil || ev.Impersonator != nil {
				t.Errorf("event api key/impersonator = %v/%v", ev.APIKeyID, ev.Impersonator)
			}
			if !ev.Created.Equal(e.clock.Now()) || ev.UserID != alice.ID {
				t.Errorf("event created/user = %v/%s", ev.Created, ev.UserID)
			}
			digest := secret.Digest(otherTok)
			for _, s := range []string{otherTok, otherTok[:16], hex.EncodeToString(digest),
				base64.StdEncoding.EncodeToString(digest), base64.RawURLEncoding.EncodeToString(digest)} {
				if strings.Contains(string(ev.Data), s) {
					t.Errorf("event data %s holds the token or its digest", ev.Data)
				}
			}
		})

		t.Run("ErrAgain", func(t *testing.T) {
			err := e.svc.RevokeSession(e.ctx, a, other)
			me := wantErr(t, err, model.CodeNotFound, "session not found")
			if me.Field != "id" {
				t.Errorf("field = %q, want id", me.Field)
			}
			if n := len(e.events(alice.User, model.EventSessionDelete)); n != 1 {
				t.Errorf("session:delete events = %d, want 1", n)
			}
		})

		t.Run("ErrUnknown", func(t *testing.T) {
			for _, id := range []uuid.UUID{uuid.New(), uuid.Nil, uuid.Max, alice.ID} {
				me := wantErr(t, e.svc.RevokeSession(e.ctx, a, id), model.CodeNotFound, "session not found")
				if me.Field != "id" {
					t.Errorf("field = %q, want id", me.Field)
				}
			}
		})

		t.Run("ErrOtherUsersSession", func(t *testing.T) {
			bobActs := len(e.activities(bob.User))
			me := wantErr(t, e.svc.RevokeSession(e.ctx, a, bobSession), model.CodeNotFound, "session not found")
			if me.Field != "id" {
				t.Errorf("field = %q, want id", me.Field)
			}
			// Also through an API key that holds the permission.
			ka, _ := saKey(t, e, alice.User, model.PermSessionsDelete)
			wantErr(t, e.svc.RevokeSession(e.ctx, ka, bobSession), model.CodeNotFound, "session not found")
			if n := e.count("sessions", "id = ?", bobSession); n != 1 {
				t.Error("bob's session deleted")
			}
			if got := e.actor(bobTok); got.Session.ID != bobSession {
				t.Errorf("bob's session authenticates as %s", got.Session.ID)
			}
			if n := len(e.activities(bob.User)); n != bobActs {
				t.Errorf("bob got %d new events", n-bobActs)
			}
			if n := len(e.events(alice.User, model.EventSessionDelete)); n != 1 {
				t.Errorf("alice's session:delete events = %d, want 1", n)
			}
		})

		t.Run("ThroughAPIKey", func(t *testing.T) {
			tok, id := saSession(t, e, alice.User, "revoked by key", "192.0.2.50")
			ka, keyID := saKey(t, e, alice.User, model.PermSessionsDelete)
			if err := e.svc.RevokeSession(e.ctx, ka, id); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(tok))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			ev := e.events(alice.User, model.EventSessionDelete)[0]
			assertData(t, ev, fmt.Sprintf(`{"uuid":%q,"ip":"192.0.2.50","user_agent":"revoked by key"}`, id))
			if ev.APIKeyID == nil || *ev.APIKeyID != keyID || !ev.IsAPI() {
				t.Errorf("event api key = %v, want %s", ev.APIKeyID, keyID)
			}
		})

		t.Run("TheRequestsOwnSession", func(t *testing.T) {
			if err := e.svc.RevokeSession(e.ctx, a, current); err != nil {
				t.Fatalf("revoke the current session: %v", err)
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(alice.Token))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			ev := e.events(alice.User, model.EventSessionDelete)[0]
			assertData(t, ev, fmt.Sprintf(`{"uuid":%q,"ip":%q,"user_agent":%q}`, current.String(), saOtherIP.String(), clientUA))
			if n := e.sessionCount(alice.User); n != 0 {
				t.Errorf("alice has %d sessions, want 0", n)
			}
			if n := e.sessionCount(bob.User); n != 2 {
				t.Errorf("bob has %d sessions, want 2", n)
			}
		})
	})
}

func TestSessionsRevokeOthers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		current := saSessionID(t, e, alice.Token)
		var others []string
		for i := range 3 {
			tok, _ := saSession(t, e, alice.User, fmt.Sprintf("other-%d", i), clientIP.String())
			others = append(others, tok)
		}
		bobOther, _ := saSession(t, e, bob.User, "bob-other", clientIP.String())
		e.clock.Advance(time.Minute)

		t.Run("CookieKeepsItsOwn", func(t *testing.T) {
			a := saActorFrom(t, e, cookie(alice.Token), saOtherIP)
			n, err := e.svc.RevokeOtherSessions(e.ctx, a)
			if err != nil {
				t.Fatalf("revoke others: %v", err)
			}
			if n != 3 {
				t.Errorf("deleted = %d, want 3", n)
			}
			p := saListSessions(t, e, a, saKeyset(100, "", ""))
			saWantIDs(t, "left", saSessionIDs(p.Items), []uuid.UUID{current})
			e.actor(alice.Token)
			for _, tok := range others {
				_, err := e.svc.Authenticate(e.ctx, cookie(tok))
				wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			}
			if n := e.sessionCount(bob.User); n != 2 {
				t.Errorf("bob has %d sessions, want 2", n)
			}
			e.actor(bob.Token)
			e.actor(bobOther)

			evs := e.events(alice.User, model.EventSessionDeleteAll)
			if len(evs) != 1 {
				t.Fatalf("session:delete-all events = %d, want 1", len(evs))
			}
			assertData(t, evs[0], `{"deleted":3}`)
			if evs[0].IsAPI() || evs[0].IP == nil || *evs[0].IP != saOtherIP.String() {
				t.Errorf("event is_api/ip = %v/%v", evs[0].IsAPI(), evs[0].IP)
			}
			if len(e.events(bob.User, model.EventSessionDeleteAll)) != 0 {
				t.Error("event recorded for bob")
			}
		})

		t.Run("CookieNothingElse", func(t *testing.T) {
			n, err := e.svc.RevokeOtherSessions(e.ctx, e.actor(alice.Token))
			if err != nil || n != 0 {
				t.Fatalf("revoke others again = %d, %v; want 0", n, err)
			}
			e.actor(alice.Token)
			if ev := e.events(alice.User, model.EventSessionDeleteAll); len(ev) > 1 {
				assertData(t, ev[0], `{"deleted":0}`)
			}
		})

		t.Run("KeyRevokesAll", func(t *testing.T) {
			extra, _ := saSession(t, e, alice.User, "extra", clientIP.String())
			key, keyID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermSessionsDelete}})
			ka := e.keyActor(key)
			n, err := e.svc.RevokeOtherSessions(e.ctx, ka)
			if err != nil {
				t.Fatalf("revoke others: %v", err)
			}
			if n != 2 {
				t.Errorf("deleted = %d, want 2 (every session)", n)
			}
			if c := e.sessionCount(alice.User); c != 0 {
				t.Errorf("alice has %d sessions, want 0", c)
			}
			for _, tok := range []string{alice.Token, extra} {
				_, err := e.svc.Authenticate(e.ctx, cookie(tok))
				wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			}
			e.keyActor(key) // the key is not a session
			if c := e.sessionCount(bob.User); c != 2 {
				t.Errorf("bob has %d sessions, want 2", c)
			}
			ev := e.events(alice.User, model.EventSessionDeleteAll)[0]
			assertData(t, ev, `{"deleted":2}`)
			if ev.APIKeyID == nil || *ev.APIKeyID != keyID {
				t.Errorf("event api key = %v, want %s", ev.APIKeyID, keyID)
			}
		})
	})
}

// saPermCall is one operation and the permission it needs.
type saPermCall struct {
	name string
	perm string
	call func(e *env, a *model.Actor) error
}

func saPermCalls(target uuid.UUID) []saPermCall {
	return []saPermCall{
		{"ListSessionsKeyset", model.PermSessionsRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListSessions(e.ctx, a, saKeyset(10, "", ""))
			return err
		}},
		{"ListSessionsOffset", model.PermSessionsRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListSessions(e.ctx, a, saOffset(1, 10, "x"))
			return err
		}},
		{"RevokeSession", model.PermSessionsDelete, func(e *env, a *model.Actor) error {
			return e.svc.RevokeSession(e.ctx, a, target)
		}},
		{"RevokeOtherSessions", model.PermSessionsDelete, func(e *env, a *model.Actor) error {
			_, err := e.svc.RevokeOtherSessions(e.ctx, a)
			return err
		}},
		{"ListActivityKeyset", model.PermActivityRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListActivity(e.ctx, a, saKeyset(10, "", ""))
			return err
		}},
		{"ListActivityOffset", model.PermActivityRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListActivity(e.ctx, a, saOffset(1, 10, "x"))
			return err
		}},
	}
}

func TestSessionsPermissions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		targetTok, target := saSession(t, e, alice.User, "target", clientIP.String())
		_, bobSession := saSession(t, e, bob.User, "bob", clientIP.String())

		unchanged := func(t *testing.T) {
			t.Helper()
			if n := e.sessionCount(alice.User); n != 2 {
				t.Errorf("alice has %d sessions, want 2", n)
			}
			if n := e.sessionCount(bob.User); n != 2 {
				t.Errorf("bob has %d sessions, want 2", n)
			}
			e.actor(targetTok)
			e.actor(alice.Token)
			if n := len(e.activities(alice.User)); n != 0 {
				t.Errorf("alice has %d events, want 0", n)
			}
		}

		all := []string{model.PermSessionsRead, model.PermSessionsDelete, model.PermActivityRead}
		for _, held := range [][]string{
			nil,
			{model.PermSessionsRead},
			{model.PermSessionsDelete},
			{model.PermActivityRead},
			{model.PermSessionsRead, model.PermActivityRead},
			{model.PermAccountInfos, model.PermAPIKeysRead, model.PermAPIKeysDelete},
		} {
			t.Run("Holding["+strings.Join(held, ",")+"]", func(t *testing.T) {
				ka, _ := saKey(t, e, alice.User, held...)
				for _, c := range saPermCalls(target) {
					if slices.Contains(held, c.perm) {
						continue
					}
					t.Run(c.name, func(t *testing.T) {
						me := wantErr(t, c.call(e, ka), model.CodeForbidden,
							"you do not have permission to perform this action: "+c.perm)
						if me.Permission != c.perm {
							t.Errorf("permission = %q, want %q", me.Permission, c.perm)
						}
					})
				}
				unchanged(t)
			})
		}

		t.Run("PermissionBeforeLookup", func(t *testing.T) {
			ka, _ := saKey(t, e, alice.User, model.PermSessionsRead)
			for _, id := range []uuid.UUID{bobSession, uuid.New()} {
				wantErr(t, e.svc.RevokeSession(e.ctx, ka, id), model.CodeForbidden,
					"you do not have permission to perform this action: sessions.delete")
			}
			unchanged(t)
		})

		t.Run("ValidationBeforePermission", func(t *testing.T) {
			ka, _ := saKey(t, e, alice.User)
			_, err := e.svc.ListSessions(e.ctx, ka, saOffset(0, 10, ""))
			wantFields(t, err, fe("page", "lower than 1"))
			_, err = e.svc.ListActivity(e.ctx, ka, saKeyset(101, "", ""))
			wantFields(t, err, fe("first", "greater than 100"))
		})

		t.Run("HeldPermissionsWork", func(t *testing.T) {
			ka, _ := saKey(t, e, alice.User, all...)
			for _, c := range saPermCalls(target) {
				if c.perm == model.PermSessionsDelete {
					continue
				}
				if err := c.call(e, ka); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
			}
			if err := e.svc.RevokeSession(e.ctx, ka, target); err != nil {
				t.Fatalf("revoke with the permission: %v", err)
			}
			if n := e.count("sessions", "id = ?", target); n != 0 {
				t.Error("session not revoked")
			}
		})
	})
}

func TestActivityPermissions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		saUpdate(t, e, e.actor(alice.Token), "Recorded")
		for _, held := range [][]string{nil, {model.PermSessionsRead, model.PermSessionsDelete}, {model.PermAccountInfos}} {
			ka, _ := saKey(t, e, alice.User, held...)
			for _, q := range []model.ListQuery{saKeyset(10, "", ""), saOffset(1, 10, ""), saKeyset(10, "", "account")} {
				p, err := e.svc.ListActivity(e.ctx, ka, q)
				me := wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: activity.read")
				if me.Permission != model.PermActivityRead {
					t.Errorf("permission = %q", me.Permission)
				}
				if p != nil {
					t.Errorf("a page came back with the error: %+v", p)
				}
			}
		}
		ka, _ := saKey(t, e, alice.User, model.PermActivityRead)
		if p := saListActivity(t, e, ka, saKeyset(10, "", "")); len(p.Items) != 1 {
			t.Errorf("with activity.read: %d events, want 1", len(p.Items))
		}
	})
}

func TestSessionsSuspendedRefused(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		otherTok, other := saSession(t, e, alice.User, "other", clientIP.String())
		key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermSessionsRead, model.PermSessionsDelete, model.PermActivityRead}})
		saUpdate(t, e, e.actor(alice.Token), "Before")
		e.setFlags(alice.User, false, true)

		for _, c := range []struct {
			name  string
			actor *model.Actor
		}{{"Cookie", e.actor(alice.Token)}, {"APIKey", e.keyActor(key)}} {
			t.Run(c.name, func(t *testing.T) {
				for _, call := range saPermCalls(other) {
					t.Run(call.name, func(t *testing.T) {
						wantErr(t, call.call(e, c.actor), model.CodeForbidden, "account is suspended")
					})
				}
				// The gate comes before the query's validation.
				_, err := e.svc.ListSessions(e.ctx, c.actor, saOffset(0, 0, ""))
				wantErr(t, err, model.CodeForbidden, "account is suspended")
				_, err = e.svc.ListActivity(e.ctx, c.actor, saKeyset(0, "bad", ""))
				wantErr(t, err, model.CodeForbidden, "account is suspended")
			})
		}

		if n := e.sessionCount(alice.User); n != 2 {
			t.Errorf("alice has %d sessions, want 2", n)
		}
		e.actor(otherTok)
		if n := len(e.activities(alice.User)); n != 1 {
			t.Errorf("alice has %d events, want 1", n)
		}

		t.Run("OthersUnaffected", func(t *testing.T) {
			p := saListSessions(t, e, e.actor(bob.Token), saKeyset(10, "", ""))
			if len(p.Items) != 1 {
				t.Errorf("bob lists %d sessions, want 1", len(p.Items))
			}
		})

		t.Run("Reinstated", func(t *testing.T) {
			e.setFlags(alice.User, false, false)
			p := saListSessions(t, e, e.actor(alice.Token), saKeyset(10, "", ""))
			if len(p.Items) != 2 {
				t.Errorf("alice lists %d sessions, want 2", len(p.Items))
			}
		})
	})
}

func TestSessionsNoActor(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		other := saSessionID(t, e, alice.Token)
		for _, c := range saPermCalls(other) {
			t.Run(c.name, func(t *testing.T) {
				wantErr(t, c.call(e, nil), model.CodeUnauthenticated, "missing authorization")
				wantErr(t, c.call(e, &model.Actor{}), model.CodeUnauthenticated, "missing authorization")
			})
		}
		if n := e.sessionCount(alice.User); n != 1 {
			t.Errorf("alice has %d sessions, want 1", n)
		}
	})
}

func TestActivityList(t *testing.T) {
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
		if err := e.svc.RevokeSession(e.ctx, ca, victim); err != nil {
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
		if err := e.svc.RevokeSession(e.ctx, a, victim); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Minute)
		e.mustLogin(t, "alice", alice.Password)

		// Names with the characters a pattern or a query would treat
		// specially.
		var rows []saActivityRow
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
			var rows []saActivityRow
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
