package graph_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
	"accountd/secret"
)

// gakPage is one page of viewer.apiKeys, decoded.
type gakPage struct {
	Total int
	IDs   []string
	Names []string
	// Cursors are the edges' cursors.
	Cursors                []string
	HasNext, HasPrev       bool
	StartCursor, EndCursor any
	Nodes                  []map[string]any
}

// gakReadPage decodes a connection and checks its page information agrees
// with its edges.
func gakReadPage(t testing.TB, conn map[string]any) gakPage {
	t.Helper()
	total, ok := conn["totalCount"].(float64)
	if !ok {
		t.Fatalf("totalCount = %v", conn["totalCount"])
	}
	p := gakPage{Total: int(total), Nodes: gakNodes(conn)}
	edges, _ := conn["edges"].([]any)
	if edges == nil {
		t.Fatalf("edges = %v, want a list", conn["edges"])
	}
	for _, e := range edges {
		c, _ := apptest.Get(e, "cursor").(string)
		if c == "" {
			t.Fatalf("edge without cursor: %v", e)
		}
		p.Cursors = append(p.Cursors, c)
		p.IDs = append(p.IDs, apptest.Get(e, "node", "id").(string))
		p.Names = append(p.Names, apptest.Get(e, "node", "name").(string))
	}
	info, _ := conn["pageInfo"].(map[string]any)
	p.HasNext, _ = info["hasNextPage"].(bool)
	p.HasPrev, _ = info["hasPreviousPage"].(bool)
	p.StartCursor, p.EndCursor = info["startCursor"], info["endCursor"]
	if len(p.Cursors) > 0 && (p.StartCursor != p.Cursors[0] || p.EndCursor != p.Cursors[len(p.Cursors)-1]) {
		t.Errorf("startCursor/endCursor = %v/%v, edges' cursors %v", p.StartCursor, p.EndCursor, p.Cursors)
	}
	if len(p.Cursors) == 0 && (p.StartCursor != nil || p.EndCursor != nil) {
		t.Errorf("empty page with startCursor/endCursor %v/%v", p.StartCursor, p.EndCursor)
	}
	return p
}

// gakWalk pages through viewer.apiKeys with first=n, calling between(i)
// after page i, and returns the pages.
func gakWalk(t testing.TB, c *apptest.Client, n int, search any, between func(i int)) []gakPage {
	t.Helper()
	var pages []gakPage
	var after any
	for i := 0; ; i++ {
		if i > 100 {
			t.Fatal("walk does not end")
		}
		p := gakReadPage(t, gakList(t, c, map[string]any{"first": n, "after": after, "search": search}))
		if p.HasPrev != (after != nil) {
			t.Errorf("page %d: hasPreviousPage = %v", i, p.HasPrev)
		}
		if len(p.IDs) > n || (p.HasNext && len(p.IDs) != n) {
			t.Errorf("page %d: %d edges, hasNextPage %v", i, len(p.IDs), p.HasNext)
		}
		pages = append(pages, p)
		if !p.HasNext {
			return pages
		}
		after = p.EndCursor
		if between != nil {
			between(i)
		}
	}
}

// gakConcat joins the ids of pages and fails on a duplicate.
func gakConcat(t testing.TB, pages []gakPage) []string {
	t.Helper()
	var out []string
	for _, p := range pages {
		for _, id := range p.IDs {
			if slices.Contains(out, id) {
				t.Errorf("key %s listed twice", id)
			}
			out = append(out, id)
		}
	}
	return out
}

func TestGraphQLAPIKeyConnection(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		_, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		gakInsert(t, ts, gakUserID(t, bu), gakKeyOpts{Name: "Alpha of bob"})

		t.Run("empty", func(t *testing.T) {
			p := gakReadPage(t, gakList(t, alice, nil))
			if p.Total != 0 || len(p.IDs) != 0 || p.HasNext || p.HasPrev {
				t.Errorf("empty connection = %+v", p)
			}
		})

		// Seven live keys a minute apart, oldest first, and an expired one.
		base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
		names := []string{"Alpha-1", "alpha-2", "beta_1", "beta%2", "gamma-1", "ALPHA-3", `back\slash`}
		var ids []string
		for i, n := range names {
			_, id := gakInsert(t, ts, aliceID, gakKeyOpts{Name: n, Created: base.Add(time.Duration(i) * time.Minute)})
			ids = append(ids, id)
		}
		past := time.Now().Add(-time.Minute)
		gakInsert(t, ts, aliceID, gakKeyOpts{Name: "alpha-expired", Created: base.Add(-time.Minute), Expires: &past})

		t.Run("one page, oldest first, expired keys hidden", func(t *testing.T) {
			p := gakReadPage(t, gakList(t, alice, nil))
			if !slices.Equal(p.Names, names) || p.Total != len(names) || p.HasNext || p.HasPrev {
				t.Errorf("page = %+v, want %q", p, names)
			}
			for _, n := range p.Nodes {
				if n["createdAt"] == nil || n["keyStart"] == nil {
					t.Errorf("node = %v", n)
				}
			}
		})

		t.Run("walk with first 2", func(t *testing.T) {
			pages := gakWalk(t, alice, 2, nil, nil)
			if len(pages) != 4 {
				t.Fatalf("%d pages, want 4", len(pages))
			}
			for i, p := range pages {
				if p.Total != len(names) {
					t.Errorf("page %d: totalCount = %d", i, p.Total)
				}
			}
			if got := gakConcat(t, pages); !slices.Equal(got, ids) {
				t.Errorf("walk = %v, want %v", got, ids)
			}
			// An edge's cursor continues right behind it.
			p := gakReadPage(t, gakList(t, alice, map[string]any{"first": 3, "after": pages[1].Cursors[0]}))
			if !slices.Equal(p.IDs, ids[3:6]) {
				t.Errorf("after the third key's cursor: %v, want %v", p.IDs, ids[3:6])
			}
			// The last cursor leads to an empty page.
			p = gakReadPage(t, gakList(t, alice, map[string]any{"first": 2, "after": pages[3].EndCursor}))
			if len(p.IDs) != 0 || p.HasNext || !p.HasPrev || p.Total != len(names) {
				t.Errorf("after the end: %+v", p)
			}
		})

		t.Run("first 100 and first 1", func(t *testing.T) {
			if p := gakReadPage(t, gakList(t, alice, map[string]any{"first": 100})); !slices.Equal(p.IDs, ids) {
				t.Errorf("first 100 = %v", p.Names)
			}
			if p := gakReadPage(t, gakList(t, alice, map[string]any{"first": 1})); !slices.Equal(p.IDs, ids[:1]) || !p.HasNext {
				t.Errorf("first 1 = %+v", p)
			}
		})

		for _, tc := range []struct {
			search string
			want   []string
		}{
			{"alpha", []string{"Alpha-1", "alpha-2", "ALPHA-3"}},
			{"ALPHA-", []string{"Alpha-1", "alpha-2", "ALPHA-3"}},
			{"_", []string{"beta_1"}},
			{"%", []string{"beta%2"}},
			{`\`, []string{`back\slash`}},
			{"a_1", []string{"beta_1"}},
			{"bob", []string{}},
			{"zzz", []string{}},
			{"", names},
		} {
			t.Run("search "+tc.search, func(t *testing.T) {
				pages := gakWalk(t, alice, 2, tc.search, nil)
				var got []string
				for _, p := range pages {
					got = append(got, p.Names...)
					if p.Total != len(tc.want) {
						t.Errorf("totalCount = %d, want %d", p.Total, len(tc.want))
					}
				}
				if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
					t.Errorf("search %q = %q, want %q", tc.search, got, tc.want)
				}
			})
		}

		t.Run("stable when keys are added mid-walk", func(t *testing.T) {
			before := gakReadPage(t, gakList(t, alice, map[string]any{"first": 100})).IDs
			var newest string
			pages := gakWalk(t, alice, 2, nil, func(i int) {
				if i != 0 {
					return
				}
				// One key sorts before every key seen, one after all.
				gakInsert(t, ts, aliceID, gakKeyOpts{Name: "older than all", Created: base.Add(-time.Hour)})
				k, _ := gakCreate(t, alice, map[string]any{"name": "newest"})
				newest = k["id"].(string)
			})
			got := gakConcat(t, pages)
			want := append(slices.Clone(before), newest)
			if !slices.Equal(got, want) {
				t.Errorf("walk = %v\nwant   %v", got, want)
			}
			if last := pages[len(pages)-1]; last.Total != len(before)+2 {
				t.Errorf("totalCount = %d, want %d", last.Total, len(before)+2)
			}
		})

		t.Run("default page size is 25", func(t *testing.T) {
			c, u := apptest.GQLRegister(t, ts, "carol", "correct horse")
			for i := range 26 {
				gakInsert(t, ts, gakUserID(t, u), gakKeyOpts{Name: fmt.Sprintf("key-%02d", i), Created: base.Add(time.Duration(i) * time.Second)})
			}
			p := gakReadPage(t, gakList(t, c, nil))
			if len(p.IDs) != 25 || !p.HasNext || p.Total != 26 || p.Names[24] != "key-24" {
				t.Errorf("default page: %d edges, hasNextPage %v, totalCount %d", len(p.IDs), p.HasNext, p.Total)
			}
			r := c.GQL(`{ viewer { apiKeys { edges { node { name } } } } }`, nil)
			apptest.GQLNoErrors(t, r)
			if edges, _ := apptest.Get(r.Data, "viewer", "apiKeys", "edges").([]any); len(edges) != 25 {
				t.Errorf("apiKeys without arguments: %d edges", len(edges))
			}
		})

		t.Run("bad arguments", func(t *testing.T) {
			foreign := base64.RawURLEncoding.EncodeToString([]byte("c1:notanumber:" + uuid.NewString()))
			version := base64.RawURLEncoding.EncodeToString([]byte("c9:1:" + uuid.NewString()))
			for _, tc := range []struct {
				name string
				vars map[string]any
				msg  string
			}{
				{"first 0", map[string]any{"first": 0}, "first: lower than 1"},
				{"first -1", map[string]any{"first": -1}, "first: lower than 1"},
				{"first 101", map[string]any{"first": 101}, "first: greater than 100"},
				{"garbage after", map[string]any{"after": "garbage!"}, "after: invalid cursor"},
				{"after not base64url", map[string]any{"after": "@@@@"}, "after: invalid cursor"},
				{"after with a bad time", map[string]any{"after": foreign}, "after: invalid cursor"},
				{"after of another version", map[string]any{"after": version}, "after: invalid cursor"},
				{"search too long", map[string]any{"search": strings.Repeat("s", 129)}, "search: length is greater than 128"},
			} {
				t.Run(tc.name, func(t *testing.T) {
					snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
					r := alice.GQL(gakListDoc, tc.vars)
					if len(r.Errors) != 1 {
						t.Fatalf("want one error: %s", r.Raw)
					}
					e := r.Errors[0]
					apptest.GQLCheckRequestIDs(t, r)
					if e.Message != tc.msg || e.Extensions["code"] != "INVALID" {
						t.Errorf("error = %q (%v), want %q (INVALID)", e.Message, e.Extensions["code"], tc.msg)
					}
					if !reflect.DeepEqual(e.Path, []any{"viewer", "apiKeys"}) {
						t.Errorf("path = %v", e.Path)
					}
					// apiKeys is non-null: the error nulls the viewer.
					if apptest.Get(r.Data, "viewer") != nil {
						t.Errorf("viewer = %v", apptest.Get(r.Data, "viewer"))
					}
					if gakSnapshot(t, ts, aliceID) != snap || len(gakActivities(t, ts, aliceID)) != events {
						t.Error("a refused list changed something")
					}
				})
			}
		})

		t.Run("with a key holding api-keys.read", func(t *testing.T) {
			key := gqlInsertAPIKey(t, ts, aliceID, []string{"api-keys.read"})
			p := gakReadPage(t, gakList(t, gqlKeyClient(t, ts, key), map[string]any{"first": 100}))
			if want := gakReadPage(t, gakList(t, alice, map[string]any{"first": 100})); !slices.Equal(p.IDs, want.IDs) ||
				p.Total != want.Total || !slices.Contains(p.Names, "Alpha-1") {
				t.Errorf("key's list: %v, session's %v", p.Names, want.Names)
			}
			for _, n := range p.Nodes {
				if n["keyStart"] == key[:16] && n["lastUsedAt"] == nil {
					t.Error("the calling key's use is not recorded")
				}
			}
		})
	})
}

func TestGraphQLAPIKeyLookup(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		_, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		bobKey, bobKeyID := gakInsert(t, ts, gakUserID(t, bu), gakKeyOpts{Name: "bobs"})
		k, key := gakCreate(t, alice, map[string]any{"name": "findable", "allowedIps": []string{"127.0.0.1", "10.0.0.0/8"},
			"userPermissions": []string{"api-keys.read"}, "serverPermissions": []string{"files.read"}, "expiresAt": gakFuture})
		past := time.Now().Add(-time.Minute)
		expiredKey, expiredID := gakInsert(t, ts, aliceID, gakKeyOpts{Name: "expired", Expires: &past})

		t.Run("by id and by keyStart", func(t *testing.T) {
			listed := gakNodes(gakList(t, alice, nil))[0]
			for _, vars := range []map[string]any{{"id": k["id"]}, {"keyStart": key[:16]}, {"id": k["id"], "keyStart": nil}} {
				got := gakLookup(t, alice, vars)
				if !reflect.DeepEqual(got, listed) || got["name"] != "findable" {
					t.Errorf("apiKey(%v) = %v, want %v", vars, got, listed)
				}
			}
			// With the key itself (it holds api-keys.read).
			kc := gqlKeyClient(t, ts, key)
			if got := gakLookup(t, kc, map[string]any{"keyStart": key[:16]}); got == nil || got["id"] != k["id"] {
				t.Errorf("apiKey(keyStart) with the key = %v", got)
			}
		})

		for _, tc := range []struct {
			name string
			vars map[string]any
		}{
			{"unknown id", map[string]any{"id": uuid.NewString()}},
			{"another user's id", map[string]any{"id": bobKeyID}},
			{"another user's keyStart", map[string]any{"keyStart": bobKey[:16]}},
			{"unknown keyStart", map[string]any{"keyStart": "c7sp_" + secret.RandomString(11)}},
			{"keyStart of the wrong length", map[string]any{"keyStart": key[:15]}},
			{"full key as keyStart", map[string]any{"keyStart": key}},
			{"empty keyStart", map[string]any{"keyStart": ""}},
			{"malformed id", map[string]any{"id": "not-a-uuid"}},
			{"expired key's id", map[string]any{"id": expiredID}},
			{"expired key's keyStart", map[string]any{"keyStart": expiredKey[:16]}},
		} {
			t.Run("null/"+tc.name, func(t *testing.T) {
				r := alice.GQL(gakLookupDoc, tc.vars)
				apptest.GQLNoErrors(t, r)
				if apptest.Get(r.Data, "viewer", "id") != aliceID {
					t.Fatalf("viewer: %s", r.Raw)
				}
				if v, ok := apptest.Get(r.Data, "viewer").(map[string]any)["apiKey"]; !ok || v != nil {
					t.Errorf("apiKey = %v, want null", v)
				}
			})
		}

		for _, tc := range []struct {
			name string
			vars map[string]any
		}{
			{"both", map[string]any{"id": k["id"], "keyStart": key[:16]}},
			{"neither", nil},
			{"both null", map[string]any{"id": nil, "keyStart": nil}},
		} {
			t.Run("error/"+tc.name, func(t *testing.T) {
				r := alice.GQL(gakLookupDoc, tc.vars)
				if len(r.Errors) != 1 || !reflect.DeepEqual(r.Errors[0].Path, []any{"viewer", "apiKey"}) {
					t.Fatalf("want one error at viewer.apiKey: %s", r.Raw)
				}
				apptest.GQLCheckRequestIDs(t, r)
				if code := r.Errors[0].Extensions["code"]; code != "INVALID" {
					t.Errorf("extensions.code = %v, want INVALID", code)
				}
				if !strings.Contains(r.Errors[0].Message, "id") || !strings.Contains(r.Errors[0].Message, "keyStart") {
					t.Errorf("message %q names neither argument", r.Errors[0].Message)
				}
				// apiKey is nullable: the viewer survives.
				if apptest.Get(r.Data, "viewer", "id") != aliceID || apptest.Get(r.Data, "viewer", "apiKey") != nil {
					t.Errorf("data = %v", r.Data)
				}
			})
		}
	})
}

func TestGraphQLAPIKeySecretShownOnce(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		k, created := gakCreate(t, alice, map[string]any{"name": "secretive", "userPermissions": []string{"api-keys.read"}})
		id := k["id"].(string)
		r := alice.GQL(gakRecreateDoc, apptest.GQLIn(map[string]any{"id": id}))
		gqlWantUserErrs(t, r, "recreateApiKey")
		recreated, _ := apptest.Get(r.Data, "recreateApiKey", "key").(string)
		if !gakSecretRE.MatchString(recreated) {
			t.Fatalf("recreate: %s", r.Raw)
		}
		secrets := []string{created, recreated}

		// Every read of the key, by the session and by the key itself.
		kc := gqlKeyClient(t, ts, recreated)
		for _, c := range []*apptest.Client{alice, kc} {
			for _, q := range []struct {
				doc  string
				vars map[string]any
			}{
				{gakListDoc, nil},
				{gakListDoc, map[string]any{"search": "secret"}},
				{gakLookupDoc, map[string]any{"id": id}},
				{gakLookupDoc, map[string]any{"keyStart": recreated[:16]}},
				{apptest.GQLViewerDoc, nil},
			} {
				r := c.GQL(q.doc, q.vars)
				apptest.GQLNoErrors(t, r)
				gakNoSecrets(t, "query result", r.Raw, secrets...)
			}
			r := c.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": id}))
			if c == alice {
				gqlWantUserErrs(t, r, "updateApiKey")
			}
			gakNoSecrets(t, "updateApiKey payload", r.Raw, secrets...)
		}
		for _, path := range []string{"/api/client/account/api-keys", "/api/client/account/api-keys/identifier/" + recreated[:16]} {
			res := alice.Do(http.MethodGet, path, nil)
			if res.Status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
			}
			gakNoSecrets(t, "GET "+path, res.Body, secrets...)
		}
		for _, a := range gakActivities(t, ts, aliceID) {
			gakNoSecrets(t, "activity "+a.Event, []byte(a.Data), secrets...)
		}
		gakNoSecrets(t, "server log", []byte(ts.LogText()), secrets...)

		// The type offers no field that could hold one.
		r = alice.GQL(`{ __type(name: "ApiKey") { fields { name } } }`, nil)
		apptest.GQLNoErrors(t, r)
		var fields []string
		for _, f := range apptest.Get(r.Data, "__type", "fields").([]any) {
			fields = append(fields, apptest.Get(f, "name").(string))
		}
		slices.Sort(fields)
		want := []string{"adminPermissions", "allowedIps", "createdAt", "expiresAt", "id", "keyStart", "lastUsedAt",
			"name", "serverPermissions", "userPermissions"}
		if !slices.Equal(fields, want) {
			t.Errorf("ApiKey fields = %q, want %q", fields, want)
		}
	})
}
