package graph_test

// Helpers of the GraphQL end-to-end tests (e2e_*_test.go) that only these
// tests use; what the app and REST tests also need is in app/apptest.
// Every identifier here starts with "gql" so it cannot collide with the
// helpers of other test files in this package.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"

	"accountd/app/apptest"
	"accountd/model"
	"accountd/secret"
)

// gqlUserFieldsAll is apptest.GQLUserFields plus twoFactor.recoveryCodesRemaining.
const gqlUserFieldsAll = `id username email nameFirst nameLast avatar role admin frozen suspended language
	toastPosition startOnGroupedServers hasPassword requireTwoFactor
	twoFactor { enabled lastUsedAt recoveryCodesRemaining } createdAt`

// gqlLogin signs in with a fresh client and fails the test unless it worked.
func gqlLogin(t testing.TB, ts *apptest.Server, user, password string) *apptest.Client {
	t.Helper()
	c := ts.Client(t)
	r := c.GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": user, "password": password}))
	apptest.GQLNoErrors(t, r)
	if ue := apptest.GQLUserErrs(t, r, "login"); len(ue) != 0 || apptest.Get(r.Data, "login", "user") == nil {
		t.Fatalf("login %s: %s", user, r.Raw)
	}
	return c
}

// gqlWantUserErrs checks r is a 200 without top-level errors whose
// data.<op>.userErrors are exactly want, in any order.
func gqlWantUserErrs(t testing.TB, r *apptest.GQLResponse, op string, want ...apptest.GQLUserErr) {
	t.Helper()
	apptest.GQLNoErrors(t, r)
	got := apptest.GQLUserErrs(t, r, op)
	if !slices.Equal(apptest.GQLSortedStrings(got), apptest.GQLSortedStrings(want)) {
		t.Fatalf("data.%s.userErrors:\n got  %v\n want %v\n%s", op, got, want, r.Raw)
	}
}

// gqlField builds the path ["input", name].
func gqlField(name string) []string { return []string{"input", name} }

// gqlDecode decodes a raw HTTP response as a GraphQL response.
func gqlDecode(t testing.TB, res *apptest.Response) *apptest.GQLResponse {
	t.Helper()
	out := &apptest.GQLResponse{Status: res.Status, Header: res.Header, Raw: res.Body}
	if err := json.Unmarshal(res.Body, out); err != nil {
		t.Fatalf("graphql response is not JSON (%d): %v\n%s", res.Status, err, res.Body)
	}
	return out
}

// gqlSetCookie returns the response's Set-Cookie for the session cookie
// (nil if none).
func gqlSetCookie(ts *apptest.Server, h http.Header) *http.Cookie {
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == ts.App.Config.SessionCookie {
			return ck
		}
	}
	return nil
}

// gqlWantSessionCookie checks the response issued a session cookie with the
// contract's attributes.
func gqlWantSessionCookie(t testing.TB, ts *apptest.Server, r *apptest.GQLResponse) *http.Cookie {
	t.Helper()
	ck := gqlSetCookie(ts, r.Header)
	if ck == nil || ck.Value == "" {
		t.Fatalf("no session cookie set; Set-Cookie = %q", r.Header.Values("Set-Cookie"))
	}
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge <= 0 {
		t.Errorf("session cookie attributes: %q", r.Header.Values("Set-Cookie"))
	}
	return ck
}

// gqlWantNoSessionCookie checks the response did not issue a session.
func gqlWantNoSessionCookie(t testing.TB, ts *apptest.Server, r *apptest.GQLResponse) {
	t.Helper()
	if ck := gqlSetCookie(ts, r.Header); ck != nil {
		t.Fatalf("unexpected session cookie: %q", r.Header.Values("Set-Cookie"))
	}
}

// gqlKeyClient is a fresh client authenticating with an API key.
func gqlKeyClient(t testing.TB, ts *apptest.Server, key string) *apptest.Client {
	c := ts.Client(t)
	c.Bearer = key
	return c
}

// gqlInsertAPIKey creates an API key for userID directly in the database
// and returns the secret.
func gqlInsertAPIKey(t testing.TB, ts *apptest.Server, userID string, userPerms []string) string {
	t.Helper()
	if userPerms == nil {
		userPerms = []string{}
	}
	perms, _ := json.Marshal(userPerms)
	key := "c7sp_" + secret.RandomString(43)
	_, err := ts.App.DB.ExecContext(context.Background(),
		`INSERT INTO api_keys (id, user_id, name, key_start, digest, allowed_ips, user_permissions,
			admin_permissions, server_permissions, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		uuid.NewString(), userID, "key-"+secret.RandomString(8), key[:16], secret.Digest(key),
		"[]", string(perms), "[]", "[]", time.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		t.Fatalf("insert api key: %v", err)
	}
	return key
}

// gqlCountAPIKeys counts the API keys of userID in the database.
func gqlCountAPIKeys(t testing.TB, ts *apptest.Server, userID string) int {
	t.Helper()
	var n int
	if err := ts.App.DB.QueryRowContext(context.Background(),
		"SELECT count(*) FROM api_keys WHERE user_id = ?", userID).Scan(&n); err != nil {
		t.Fatalf("count api keys: %v", err)
	}
	return n
}

// gqlDBUser loads a user from the store by username.
func gqlDBUser(t testing.TB, ts *apptest.Server, username string) *model.User {
	t.Helper()
	u, err := ts.App.Store.UserByLogin(context.Background(), username, false)
	if err != nil || u == nil {
		t.Fatalf("load user %s: %v %v", username, u, err)
	}
	return u
}

// gqlSetFlags sets a user's admin/frozen/suspended flags.
func gqlSetFlags(t testing.TB, ts *apptest.Server, username string, frozen, suspended bool) {
	t.Helper()
	u := gqlDBUser(t, ts, username)
	if err := ts.App.Store.SetUserFlags(context.Background(), u.ID, u.Admin, frozen, suspended); err != nil {
		t.Fatalf("set flags: %v", err)
	}
}

// gqlSnake turns a GraphQL input name (nameFirst) into the REST body name
// (name_first).
func gqlSnake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// gqlRESTMessages renders userErrors the way REST lists them
// ("name_first: length is lower than 1"), sorted.
func gqlRESTMessages(es []apptest.GQLUserErr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		if len(e.Field) > 0 {
			out[i] = gqlSnake(e.Field[len(e.Field)-1]) + ": " + e.Message
		} else {
			out[i] = e.Message
		}
	}
	sort.Strings(out)
	return out
}

// gqlSnakeKeys converts the keys of a GraphQL input to the REST body's.
func gqlSnakeKeys(in map[string]any) map[string]any {
	out := make(map[string]any, len(in))
	for k, v := range in {
		out[gqlSnake(k)] = v
	}
	return out
}

// gqlCatalogGroup is a permission group as the GraphQL catalog shows it.
type gqlCatalogGroup struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Permissions []struct {
		Key         string `json:"key"`
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"permissions"`
}

// gqlCatalogFromJSON reads permissions.json (the embedded file, read
// independently of the server's parser) into the GraphQL catalog's shape,
// keyed by userPermissions, adminPermissions, serverPermissions.
func gqlCatalogFromJSON(t testing.TB) map[string][]gqlCatalogGroup {
	t.Helper()
	lists, raw := apptest.OrderedObject(t, model.PermissionsJSON())
	out := map[string][]gqlCatalogGroup{}
	names := map[string]string{"user_permissions": "userPermissions", "admin_permissions": "adminPermissions",
		"server_permissions": "serverPermissions"}
	for _, list := range lists {
		groups, graw := apptest.OrderedObject(t, raw[list])
		out[names[list]] = []gqlCatalogGroup{}
		for _, g := range groups {
			var body struct {
				Description string          `json:"description"`
				Permissions json.RawMessage `json:"permissions"`
			}
			if err := json.Unmarshal(graw[g], &body); err != nil {
				t.Fatal(err)
			}
			grp := gqlCatalogGroup{Name: g, Description: body.Description}
			perms, praw := apptest.OrderedObject(t, body.Permissions)
			for _, p := range perms {
				var desc string
				if err := json.Unmarshal(praw[p], &desc); err != nil {
					t.Fatal(err)
				}
				grp.Permissions = append(grp.Permissions, struct {
					Key         string `json:"key"`
					Name        string `json:"name"`
					Description string `json:"description"`
				}{g + "." + p, p, desc})
			}
			out[names[list]] = append(out[names[list]], grp)
		}
	}
	return out
}

// gqlJSONUnmarshal is json.Unmarshal (kept here so test files need not import
// encoding/json for one call).
func gqlJSONUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
