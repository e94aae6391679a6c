package account_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
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

// saInsertActivities writes rows in multi-row statements.
func saInsertActivities(t *testing.T, e *env, rows []dbtest.ActivityRow) {
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
func saActivity(u *model.User, event string, at time.Time) dbtest.ActivityRow {
	return dbtest.ActivityRow{ID: uuid.New(), UserID: u.ID, Event: event, Data: "{}", Created: at.UTC().Truncate(time.Microsecond)}
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
