package account_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// akCursor is the opaque position of a listed key, as the GraphQL
// connection hands it out.
func akCursor(k *model.APIKey) string { return model.Cursor{Time: k.Created, ID: k.ID}.Encode() }

// akPage lists one page that must be accepted.
func akPage(t *testing.T, e *env, a *model.Actor, q model.ListQuery) *model.Page[*model.APIKey] {
	t.Helper()
	p, err := e.svc.ListAPIKeys(e.ctx, a, q)
	if err != nil {
		t.Fatalf("list %+v: %v", q, err)
	}
	return p
}

// akTotal runs a page's count.
func akTotal(t *testing.T, e *env, p *model.Page[*model.APIKey]) int {
	t.Helper()
	n, err := p.Count(e.ctx)
	if err != nil {
		t.Fatalf("count: %v", err)
	}
	return n
}

// akNames lists the keys' names in order.
func akNames(keys []*model.APIKey) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.Name
	}
	return out
}

// akWalk follows a keyset list from the start, first keys a page, and
// returns every key it saw. Every page but the last must be full and say
// that more follow. between, if not nil, runs after each such page.
func akWalk(t *testing.T, e *env, a *model.Actor, first int, search string, between func(page int, last *model.APIKey)) []*model.APIKey {
	t.Helper()
	var all []*model.APIKey
	after := ""
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatal("the walk does not end")
		}
		p := akPage(t, e, a, model.ListQuery{Keyset: true, First: first, After: after, Search: search})
		if len(p.Items) > first {
			t.Fatalf("page of %d keys, first = %d", len(p.Items), first)
		}
		all = append(all, p.Items...)
		if !p.HasNext {
			return all
		}
		if len(p.Items) != first {
			t.Fatalf("page %d: %d keys and HasNext, want a full page of %d", page, len(p.Items), first)
		}
		last := p.Items[len(p.Items)-1]
		after = akCursor(last)
		if between != nil {
			between(page, last)
		}
	}
}

// akSorted orders keys as the list must: oldest first, then by id.
func akSorted(keys []*model.APIKey) []*model.APIKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b *model.APIKey) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	return out
}

// akSameKeys compares two key lists by id, in order.
func akSameKeys(t *testing.T, what string, got, want []*model.APIKey) {
	t.Helper()
	ids := func(ks []*model.APIKey) []uuid.UUID {
		out := make([]uuid.UUID, len(ks))
		for i, k := range ks {
			out[i] = k.ID
		}
		return out
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Errorf("%s = %q, want %q", what, akNames(got), akNames(want))
	}
}

func TestAPIKeyListOrder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		var keys []*model.APIKey
		// Created out of name order, some in the same instant.
		for i, name := range []string{"delta", "alpha", "charlie", "bravo", "echo", "foxtrot", "golf"} {
			if i != 2 && i != 5 {
				e.clock.Advance(time.Second)
			}
			keys = append(keys, akCreate(e, a, akIn(name)).Key)
		}
		// Keys with random ids in the same instant: the id decides.
		for _, name := range []string{"tie a", "tie b", "tie c", "tie d"} {
			_, id := e.newAPIKey(alice.User, keyOpts{Name: name})
			keys = append(keys, akReread(e, alice.ID, id))
		}
		// Noise the list must not show: another user's key, and an
		// expired one.
		akCreate(e, e.actor(bob.Token), akIn("bobs"))
		e.newAPIKey(alice.User, keyOpts{Name: "expired", Expires: ptr(e.clock.Now())})
		want := akSorted(keys)
		if akNames(want)[0] != "delta" || !strings.HasPrefix(akNames(want)[10], "tie") {
			t.Fatalf("setup: %q", akNames(want))
		}

		for _, q := range []model.ListQuery{{Keyset: true, First: 100}, {Page: 1, PerPage: 100}} {
			p := akPage(t, e, a, q)
			akSameKeys(t, fmt.Sprintf("list %+v", q), p.Items, want)
			if p.HasNext {
				t.Errorf("list %+v: HasNext on the only page", q)
			}
			if n := akTotal(t, e, p); n != 11 {
				t.Errorf("count = %d, want 11", n)
			}
			for i, k := range p.Items {
				if akDump(k) != akDump(akReread(e, alice.ID, k.ID)) {
					t.Errorf("item %d differs from the stored key", i)
				}
			}
		}

		t.Run("Empty", func(t *testing.T) {
			e := akSub(e, t)
			c := e.register("carol")
			for _, q := range []model.ListQuery{{Keyset: true, First: 10}, {Page: 1, PerPage: 10}} {
				p := akPage(t, e, e.actor(c.Token), q)
				if len(p.Items) != 0 || p.HasNext || akTotal(t, e, p) != 0 {
					t.Errorf("list %+v = %d items, next %v", q, len(p.Items), p.HasNext)
				}
			}
		})
	})
}

func TestAPIKeyListKeyset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		var keys []*model.APIKey
		for i := range 7 {
			if i%3 != 1 { // some keys share their creation time
				e.clock.Advance(time.Second)
			}
			keys = append(keys, akCreate(e, a, akIn(fmt.Sprintf("key %d", i))).Key)
		}
		// Random ids in the last instant: pages split inside the tie.
		for i := range 3 {
			_, id := e.newAPIKey(alice.User, keyOpts{Name: fmt.Sprintf("tie %d", i)})
			keys = append(keys, akReread(e, alice.ID, id))
		}
		want := akSorted(keys)

		t.Run("PagesOfTwo", func(t *testing.T) {
			e := akSub(e, t)
			var sizes []int
			var all []*model.APIKey
			after := ""
			for {
				p := akPage(t, e, a, model.ListQuery{Keyset: true, First: 2, After: after})
				sizes = append(sizes, len(p.Items))
				all = append(all, p.Items...)
				if !p.HasNext {
					break
				}
				after = akCursor(p.Items[len(p.Items)-1])
				if n := akTotal(t, e, p); n != 10 {
					t.Errorf("count on a later page = %d, want 10", n)
				}
			}
			if !slices.Equal(sizes, []int{2, 2, 2, 2, 2}) {
				t.Errorf("page sizes = %v, want [2 2 2 2 2]", sizes)
			}
			akSameKeys(t, "walk", all, want)
		})

		for _, first := range []int{1, 3, 9, 10, 11, 100} {
			t.Run(fmt.Sprintf("First%d", first), func(t *testing.T) {
				e := akSub(e, t)
				akSameKeys(t, "walk", akWalk(t, e, a, first, "", nil), want)
			})
		}

		t.Run("LastPageExactlyFull", func(t *testing.T) {
			e := akSub(e, t)
			p := akPage(t, e, a, model.ListQuery{Keyset: true, First: 3, After: akCursor(want[6])})
			akSameKeys(t, "page", p.Items, want[7:])
			if p.HasNext {
				t.Error("HasNext on a page that ends the list")
			}
		})

		t.Run("AfterTheLastKey", func(t *testing.T) {
			e := akSub(e, t)
			p := akPage(t, e, a, model.ListQuery{Keyset: true, First: 3, After: akCursor(want[9])})
			if len(p.Items) != 0 || p.HasNext {
				t.Errorf("after the end: %q, next %v", akNames(p.Items), p.HasNext)
			}
			if n := akTotal(t, e, p); n != 10 {
				t.Errorf("count = %d, want 10", n)
			}
		})

		t.Run("StableUnderInserts", func(t *testing.T) {
			e := akSub(e, t)
			var added []*model.APIKey
			got := akWalk(t, e, a, 2, "", func(page int, _ *model.APIKey) {
				if page < 2 {
					e.clock.Advance(time.Second)
					added = append(added, akCreate(e, a, akIn(fmt.Sprintf("added %d", page))).Key)
				}
			})
			akSameKeys(t, "walk with inserts", got, append(slices.Clone(want), added...))
			for _, k := range added {
				if err := e.svc.DeleteAPIKey(e.ctx, a, k.ID); err != nil {
					t.Fatal(err)
				}
			}
		})

		t.Run("CursorOfADeletedKey", func(t *testing.T) {
			e := akSub(e, t)
			extra := akCreate(e, a, akIn("doomed")).Key
			all := append(slices.Clone(want), extra)
			mid := akSorted(all)
			got := akWalk(t, e, a, 2, "", func(page int, last *model.APIKey) {
				if page == 0 {
					// Delete the key the cursor points at, and one on
					// the next page.
					for _, k := range []*model.APIKey{last, mid[3]} {
						if err := e.svc.DeleteAPIKey(e.ctx, a, k.ID); err != nil {
							t.Fatal(err)
						}
					}
				}
			})
			// The walk saw the first page before the deletes, then
			// continued after the deleted key.
			akSameKeys(t, "walk with deletes", got, append(slices.Clone(mid[:3]), mid[4:]...))
		})
	})
}

func TestAPIKeyListFirstLimits(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		for range 101 {
			e.clock.Advance(time.Millisecond)
			e.newAPIKey(alice.User, keyOpts{})
		}
		for _, c := range []struct {
			first, items int
			next         bool
		}{{1, 1, true}, {2, 2, true}, {100, 100, true}} {
			p := akPage(t, e, a, model.ListQuery{Keyset: true, First: c.first})
			if len(p.Items) != c.items || p.HasNext != c.next {
				t.Errorf("first %d: %d items, next %v; want %d, %v", c.first, len(p.Items), p.HasNext, c.items, c.next)
			}
			if n := akTotal(t, e, p); n != 101 {
				t.Errorf("first %d: count %d, want 101", c.first, n)
			}
		}
		p := akPage(t, e, a, model.ListQuery{Keyset: true, First: 100, After: akCursor(akPage(t, e, a, model.ListQuery{Keyset: true, First: 100}).Items[99])})
		if len(p.Items) != 1 || p.HasNext {
			t.Errorf("second page of 100: %d items, next %v; want 1, false", len(p.Items), p.HasNext)
		}
		for _, c := range []struct {
			first int
			msg   string
		}{{0, "lower than 1"}, {-1, "lower than 1"}, {101, "greater than 100"}, {1 << 30, "greater than 100"}} {
			_, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Keyset: true, First: c.first})
			wantFields(t, err, fe("first", c.msg))
		}
	})
}

func TestAPIKeyListOffset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		var keys []*model.APIKey
		for i := range 5 {
			e.clock.Advance(time.Second)
			keys = append(keys, akCreate(e, a, akIn(fmt.Sprintf("key %d", i))).Key)
		}
		for _, c := range []struct {
			page, perPage int
			want          []*model.APIKey
			next          bool
		}{
			{1, 2, keys[:2], true},
			{2, 2, keys[2:4], true},
			{3, 2, keys[4:], false},
			{4, 2, nil, false},
			{1, 5, keys, false},
			{1, 100, keys, false},
			{2, 4, keys[4:], false},
			{1000, 100, nil, false},
		} {
			t.Run(fmt.Sprintf("Page%dPer%d", c.page, c.perPage), func(t *testing.T) {
				e := akSub(e, t)
				p := akPage(t, e, a, model.ListQuery{Page: c.page, PerPage: c.perPage})
				akSameKeys(t, "page", p.Items, c.want)
				if p.HasNext != c.next {
					t.Errorf("HasNext = %v, want %v", p.HasNext, c.next)
				}
				if n := akTotal(t, e, p); n != 5 {
					t.Errorf("count = %d, want the true total 5", n)
				}
			})
		}
		for _, c := range []struct {
			name string
			q    model.ListQuery
			want []model.FieldError
		}{
			{"ErrPage0", model.ListQuery{Page: 0, PerPage: 10}, []model.FieldError{fe("page", "lower than 1")}},
			{"ErrPageNegative", model.ListQuery{Page: -1, PerPage: 10}, []model.FieldError{fe("page", "lower than 1")}},
			{"ErrPerPage0", model.ListQuery{Page: 1, PerPage: 0}, []model.FieldError{fe("per_page", "lower than 1")}},
			{"ErrPerPageNegative", model.ListQuery{Page: 1, PerPage: -5}, []model.FieldError{fe("per_page", "lower than 1")}},
			{"ErrPerPage101", model.ListQuery{Page: 1, PerPage: 101}, []model.FieldError{fe("per_page", "greater than 100")}},
			{"ErrAll", model.ListQuery{Page: 0, PerPage: 101, Search: strings.Repeat("s", 129)},
				[]model.FieldError{fe("page", "lower than 1"), fe("per_page", "greater than 100"), fe("search", "length is greater than 128")}},
		} {
			t.Run(c.name, func(t *testing.T) {
				p, err := e.svc.ListAPIKeys(e.ctx, a, c.q)
				wantFields(t, err, c.want...)
				if p != nil {
					t.Errorf("page = %+v", p)
				}
			})
		}
	})
}

func TestAPIKeyListCursorValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		k := akCreate(e, a, akIn("only")).Key
		good := akCursor(k)
		raw := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
		micros := fmt.Sprint(k.Created.UnixMicro())
		for name, after := range map[string]string{
			"ErrNotBase64":    "not a cursor!",
			"ErrPadded":       base64.URLEncoding.EncodeToString([]byte("c1:" + micros + ":" + k.ID.String() + "x")),
			"ErrStdAlphabet":  strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/",
			"ErrOtherVersion": raw("c2:" + micros + ":" + k.ID.String()),
			"ErrNoVersion":    raw(micros + ":" + k.ID.String()),
			"ErrBadTime":      raw("c1:soon:" + k.ID.String()),
			"ErrBadID":        raw("c1:" + micros + ":not-a-uuid"),
			"ErrUpperID":      raw("c1:" + micros + ":" + strings.ToUpper(k.ID.String())),
			"ErrBracedID":     raw("c1:" + micros + ":{" + k.ID.String() + "}"),
			"ErrTwoParts":     raw("c1:" + micros),
			"ErrFourParts":    raw("c1:" + micros + ":" + k.ID.String() + ":x"),
			"ErrTruncated":    good[:len(good)-4],
			"ErrSQL":          "' OR 1=1 --",
			"ErrWhitespace":   " " + good,
		} {
			t.Run(name, func(t *testing.T) {
				p, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Keyset: true, First: 10, After: after})
				wantFields(t, err, fe("after", "invalid cursor"))
				if p != nil {
					t.Errorf("page = %+v", p)
				}
			})
		}
		t.Run("ErrCursorAndFirst", func(t *testing.T) {
			_, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Keyset: true, First: 0, After: "bad", Search: strings.Repeat("é", 129)})
			wantFields(t, err, fe("after", "invalid cursor"), fe("first", "lower than 1"), fe("search", "length is greater than 128"))
		})
		t.Run("GoodCursor", func(t *testing.T) {
			e := akSub(e, t)
			p := akPage(t, e, a, model.ListQuery{Keyset: true, First: 10, After: good})
			if len(p.Items) != 0 {
				t.Errorf("after the only key: %q", akNames(p.Items))
			}
		})
		// Offset mode has no cursor to check.
		t.Run("CursorIgnoredInOffsetMode", func(t *testing.T) {
			e := akSub(e, t)
			p := akPage(t, e, a, model.ListQuery{Page: 1, PerPage: 10, After: "bad"})
			if len(p.Items) != 1 {
				t.Errorf("items = %q", akNames(p.Items))
			}
		})
	})
}

func TestAPIKeyListSearch(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		names := []string{"100% uptime", "100 percent", "snake_case", "snakeXcase", "O'Brien's key", `C:\backslash`,
			"plain backslash", "MixedCase Key", "lowercase key", "Ärger über Öl"}
		for _, n := range names {
			e.clock.Advance(time.Second)
			akCreate(e, a, akIn(n))
		}
		akCreate(e, e.actor(bob.Token), akIn("bob's 100% _key_"))
		e.newAPIKey(alice.User, keyOpts{Name: "expired 100% key", Expires: ptr(e.clock.Now())})

		check := func(t *testing.T, search string, want ...string) {
			t.Helper()
			if want == nil {
				want = []string{}
			}
			for _, q := range []model.ListQuery{{Keyset: true, First: 100, Search: search}, {Page: 1, PerPage: 100, Search: search}} {
				p, err := e.svc.ListAPIKeys(e.ctx, a, q)
				if err != nil {
					t.Fatalf("search %q: %v", search, err)
				}
				if got := akNames(p.Items); !slices.Equal(got, want) {
					t.Errorf("search %q (keyset %v) = %q, want %q", search, q.Keyset, got, want)
				}
				if n := akTotal(t, e, p); n != len(want) {
					t.Errorf("search %q: count %d, want %d", search, n, len(want))
				}
			}
		}

		for _, c := range []struct {
			name, search string
			want         []string
		}{
			{"Everything", "", names},
			{"Percent", "%", []string{"100% uptime"}},
			{"PercentInContext", "0% u", []string{"100% uptime"}},
			{"DoublePercent", "%%", nil},
			{"Underscore", "_", []string{"snake_case"}},
			{"UnderscoreInContext", "e_c", []string{"snake_case"}},
			{"Quote", "'", []string{"O'Brien's key"}},
			{"QuoteInContext", "O'Brien's", []string{"O'Brien's key"}},
			{"Injection", "' OR '1'='1", nil},
			{"InjectionComment", "'; --", nil},
			{"Backslash", `\`, []string{`C:\backslash`}},
			{"BackslashPercent", `\%`, nil},
			{"BackslashInContext", `:\b`, []string{`C:\backslash`}},
			{"CaseInsensitiveLower", "mixedcase", []string{"MixedCase Key"}},
			{"CaseInsensitiveUpper", "MIXEDCASE KEY", []string{"MixedCase Key"}},
			{"Substring", "key", []string{"O'Brien's key", "MixedCase Key", "lowercase key"}},
			{"Number", "100", []string{"100% uptime", "100 percent"}},
			{"NoMatch", "zzz", nil},
			{"OtherUsersNamesHidden", "bob", nil},
			{"ExpiredHidden", "expired", nil},
			{"Max128", strings.Repeat("k", 128), nil},
			{"Max128MultiByte", strings.Repeat("ü", 128), nil},
		} {
			t.Run(c.name, func(t *testing.T) { check(t, c.search, c.want...) })
		}

		// Case-insensitive matching covers letters beyond ASCII: a name
		// must at least be found by its own exact text.
		t.Run("NonASCII", func(t *testing.T) {
			check(t, "Ärger über Öl", "Ärger über Öl")
			check(t, "ärger", "Ärger über Öl")
			check(t, "ÜBER", "Ärger über Öl")
		})

		t.Run("KeysetWalkWithSearch", func(t *testing.T) {
			e := akSub(e, t)
			got := akWalk(t, e, a, 1, "KEY", nil)
			if want := []string{"O'Brien's key", "MixedCase Key", "lowercase key"}; !slices.Equal(akNames(got), want) {
				t.Errorf("walk = %q, want %q", akNames(got), want)
			}
		})

		for _, c := range []struct {
			name, search string
			want         model.FieldError
		}{
			{"Err129", strings.Repeat("k", 129), fe("search", "length is greater than 128")},
			{"Err129MultiByte", strings.Repeat("ü", 129), fe("search", "length is greater than 128")},
			{"ErrNUL", "a\x00b", fe("search", "must not contain NUL characters")},
		} {
			t.Run(c.name, func(t *testing.T) {
				for _, q := range []model.ListQuery{{Keyset: true, First: 10, Search: c.search}, {Page: 1, PerPage: 10, Search: c.search}} {
					_, err := e.svc.ListAPIKeys(e.ctx, a, q)
					wantFields(t, err, c.want)
				}
			})
		}

		t.Run("ErrPermissionAfterValidation", func(t *testing.T) {
			e := akSub(e, t)
			key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAPIKeysCreate}})
			ka := e.keyActor(key)
			_, err := e.svc.ListAPIKeys(e.ctx, ka, model.ListQuery{Keyset: true, First: 10, Search: strings.Repeat("k", 129)})
			wantFields(t, err, fe("search", "length is greater than 128"))
			_, err = e.svc.ListAPIKeys(e.ctx, ka, model.ListQuery{Keyset: true, First: 10, Search: "key"})
			wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: api-keys.read")
		})
	})
}

// The REST layer passes search through unchanged; an account with many
// keys still pages through the matches in order.
func TestAPIKeyListSearchPaging(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		var want []string
		for i := range 12 {
			e.clock.Advance(time.Second)
			name := fmt.Sprintf("job_%02d", i)
			if i%3 == 0 {
				name = fmt.Sprintf("jobX%02d", i)
			} else {
				want = append(want, name)
			}
			akCreate(e, a, account.APIKeyFields{Name: ptr(name)})
		}
		if got := akNames(akWalk(t, e, a, 3, "job_", nil)); !slices.Equal(got, want) {
			t.Errorf("keyset walk = %q, want %q", got, want)
		}
		var got []string
		for page := 1; ; page++ {
			p := akPage(t, e, a, model.ListQuery{Page: page, PerPage: 3, Search: "JOB_"})
			got = append(got, akNames(p.Items)...)
			if n := akTotal(t, e, p); n != len(want) {
				t.Errorf("page %d: count %d, want %d", page, n, len(want))
			}
			if !p.HasNext {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("offset pages = %q, want %q", got, want)
		}
	})
}
