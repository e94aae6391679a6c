package app_test

// Helpers for the end-to-end GraphQL tests (graphql_*_test.go). Every
// identifier here starts with "gql" so it cannot collide with the helpers of
// other test files in this package.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/model"
	"accountd/secret"
)

// gqlFastArgon2 keeps password hashing cheap: these tests create many
// accounts, and the hash parameters are not what they test.
var gqlFastArgon2 = secret.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// gqlConfig is the configuration of every GraphQL test: per-IP rate limits
// off (every test client comes from 127.0.0.1), cheap hashing, then extra.
func gqlConfig(extra func(*app.Config)) func(*app.Config) {
	return func(cfg *app.Config) {
		cfg.RateLimit = false
		p := gqlFastArgon2
		cfg.Argon2 = &p
		if extra != nil {
			extra(cfg)
		}
	}
}

// gqlUserFields selects every field of User that needs no extra permission.
// twoFactor.recoveryCodesRemaining is left out on purpose (see
// gqlUserFieldsAll): payload tests that want it ask for it explicitly.
const gqlUserFields = `id username email nameFirst nameLast avatar role admin frozen suspended language
	toastPosition startOnGroupedServers hasPassword requireTwoFactor twoFactor { enabled lastUsedAt } createdAt`

// gqlUserFieldsAll is gqlUserFields plus twoFactor.recoveryCodesRemaining.
const gqlUserFieldsAll = `id username email nameFirst nameLast avatar role admin frozen suspended language
	toastPosition startOnGroupedServers hasPassword requireTwoFactor
	twoFactor { enabled lastUsedAt recoveryCodesRemaining } createdAt`

const gqlUserErrorFields = `userErrors { field message code }`

const (
	gqlRegisterDoc = `mutation($input: RegisterInput!) { register(input: $input) { user { ` + gqlUserFields + ` } ` + gqlUserErrorFields + ` } }`
	gqlLoginDoc    = `mutation($input: LoginInput!) { login(input: $input) {
		user { ` + gqlUserFields + ` } twoFactorRequired confirmationToken ` + gqlUserErrorFields + ` } }`
	gqlLogoutDoc        = `mutation { logout { loggedOut ` + gqlUserErrorFields + ` } }`
	gqlUpdateAccountDoc = `mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { user { ` + gqlUserFields + ` } ` + gqlUserErrorFields + ` } }`
	gqlUpdateEmailDoc   = `mutation($input: UpdateEmailInput!) { updateEmail(input: $input) { user { ` + gqlUserFields + ` } ` + gqlUserErrorFields + ` } }`
	gqlChangePassDoc    = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) {
		user { ` + gqlUserFields + ` } revokedSessions revokedApiKeys ` + gqlUserErrorFields + ` } }`
	gqlViewerDoc = `{ viewer { ` + gqlUserFields + ` } }`
)

// gqlIn wraps an input object as the variables {"input": in}.
func gqlIn(in map[string]any) map[string]any { return map[string]any{"input": in} }

// gqlRegisterInput is a valid RegisterInput for username.
func gqlRegisterInput(username, password string) map[string]any {
	return map[string]any{
		"username": username, "email": strings.ToLower(username) + "@example.com",
		"nameFirst": "Test", "nameLast": "User", "password": password,
	}
}

// gqlRegister signs up username over GraphQL and returns the signed-in
// client and the user of the payload.
func gqlRegister(t testing.TB, ts *testServer, username, password string) (*client, map[string]any) {
	t.Helper()
	c := ts.client(t)
	r := c.gql(gqlRegisterDoc, gqlIn(gqlRegisterInput(username, password)))
	gqlNoErrors(t, r)
	if ue := gqlUserErrs(t, r, "register"); len(ue) != 0 {
		t.Fatalf("register %s: userErrors %v", username, ue)
	}
	u, _ := get(r.Data, "register", "user").(map[string]any)
	if u == nil || u["username"] != username {
		t.Fatalf("register %s: no user in payload: %s", username, r.Raw)
	}
	return c, u
}

// gqlLogin signs in with a fresh client and fails the test unless it worked.
func gqlLogin(t testing.TB, ts *testServer, user, password string) *client {
	t.Helper()
	c := ts.client(t)
	r := c.gql(gqlLoginDoc, gqlIn(map[string]any{"user": user, "password": password}))
	gqlNoErrors(t, r)
	if ue := gqlUserErrs(t, r, "login"); len(ue) != 0 || get(r.Data, "login", "user") == nil {
		t.Fatalf("login %s: %s", user, r.Raw)
	}
	return c
}

// gqlViewer returns the viewer as c sees it (nil when signed out), failing
// on any error.
func gqlViewer(t testing.TB, c *client) map[string]any {
	t.Helper()
	r := c.gql(gqlViewerDoc, nil)
	gqlNoErrors(t, r)
	v, _ := get(r.Data, "viewer").(map[string]any)
	return v
}

// gqlNoErrors fails unless r is a 200 without top-level errors.
func gqlNoErrors(t testing.TB, r *gqlResponse) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) != 0 {
		t.Fatalf("want 200 without errors, got %d: %s", r.Status, r.Raw)
	}
}

// gqlUserErr is one entry of a payload's userErrors.
type gqlUserErr struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

func (e gqlUserErr) String() string {
	f := "<null>"
	if e.Field != nil {
		f = strings.Join(e.Field, ".")
	}
	return fmt.Sprintf("{%s %q %s}", f, e.Message, e.Code)
}

// gqlUserErrs decodes data.<op>.userErrors, failing when the payload or the
// list is missing.
func gqlUserErrs(t testing.TB, r *gqlResponse, op string) []gqlUserErr {
	t.Helper()
	var body struct {
		Data map[string]*struct {
			UserErrors *[]gqlUserErr `json:"userErrors"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatalf("decode userErrors: %v\n%s", err, r.Raw)
	}
	p := body.Data[op]
	if p == nil || p.UserErrors == nil {
		t.Fatalf("data.%s.userErrors missing: %s", op, r.Raw)
	}
	return *p.UserErrors
}

// gqlWantUserErrs checks r is a 200 without top-level errors whose
// data.<op>.userErrors are exactly want, in any order.
func gqlWantUserErrs(t testing.TB, r *gqlResponse, op string, want ...gqlUserErr) {
	t.Helper()
	gqlNoErrors(t, r)
	got := gqlUserErrs(t, r, op)
	if !slices.Equal(gqlSortedStrings(got), gqlSortedStrings(want)) {
		t.Fatalf("data.%s.userErrors:\n got  %v\n want %v\n%s", op, got, want, r.Raw)
	}
}

func gqlSortedStrings(es []gqlUserErr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	sort.Strings(out)
	return out
}

// gqlField builds the path ["input", name].
func gqlField(name string) []string { return []string{"input", name} }

// gqlTopError checks that r carries exactly one top-level error with the
// given extensions.code, that the error names the request id of the
// response, and that data.<field> (if field is not "") is null and named by
// the error's path. It returns the error's message and extensions.
func gqlTopError(t testing.TB, r *gqlResponse, code, field string) (msg string, ext map[string]any) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want exactly one top-level error (%s), got %d: %s", code, len(r.Errors), r.Raw)
	}
	e := r.Errors[0]
	if e.Extensions["code"] != code {
		t.Fatalf("extensions.code = %v, want %s: %s", e.Extensions["code"], code, r.Raw)
	}
	gqlCheckRequestIDs(t, r)
	if field != "" {
		if get(r.Data, field) != nil {
			t.Fatalf("data.%s should be null: %s", field, r.Raw)
		}
		if len(e.Path) == 0 || e.Path[0] != field {
			t.Fatalf("error path = %v, want [%s]: %s", e.Path, field, r.Raw)
		}
	}
	return e.Message, e.Extensions
}

// gqlCheckRequestIDs checks that every error of r has
// extensions.requestId equal to the X-Request-Id response header.
func gqlCheckRequestIDs(t testing.TB, r *gqlResponse) {
	t.Helper()
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatalf("response has no X-Request-Id header")
	}
	if len(r.Errors) == 0 {
		t.Fatalf("want errors, got none: %s", r.Raw)
	}
	for i, e := range r.Errors {
		if e.Extensions["requestId"] != id {
			t.Errorf("errors[%d].extensions.requestId = %v, want %q (X-Request-Id): %s", i, e.Extensions["requestId"], id, r.Raw)
		}
	}
}

// gqlDecode decodes a raw HTTP response as a GraphQL response.
func gqlDecode(t testing.TB, res *response) *gqlResponse {
	t.Helper()
	out := &gqlResponse{Status: res.Status, Header: res.Header, Raw: res.Body}
	if err := json.Unmarshal(res.Body, out); err != nil {
		t.Fatalf("graphql response is not JSON (%d): %v\n%s", res.Status, err, res.Body)
	}
	return out
}

// gqlTry posts a GraphQL operation like client.gql but returns errors
// instead of failing the test, so it can run on other goroutines.
func gqlTry(c *client, query string, variables map[string]any) (*gqlResponse, error) {
	b, err := json.Marshal(map[string]any{"query": query, "variables": variables})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequest(http.MethodPost, c.ts.URL+"/graphql", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	for k, v := range c.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	out := &gqlResponse{Status: res.StatusCode, Header: res.Header, Raw: body}
	if err := json.Unmarshal(body, out); err != nil {
		return nil, fmt.Errorf("graphql response is not JSON (%d): %v: %s", res.StatusCode, err, body)
	}
	return out, nil
}

// gqlSessionCookie returns the session cookie c holds ("" if none).
func gqlSessionCookie(t testing.TB, ts *testServer, c *client) string {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == ts.App.Config.SessionCookie {
			return ck.Value
		}
	}
	return ""
}

// gqlSetCookie returns the response's Set-Cookie for the session cookie
// (nil if none).
func gqlSetCookie(ts *testServer, h http.Header) *http.Cookie {
	for _, ck := range (&http.Response{Header: h}).Cookies() {
		if ck.Name == ts.App.Config.SessionCookie {
			return ck
		}
	}
	return nil
}

// gqlWantSessionCookie checks the response issued a session cookie with the
// contract's attributes.
func gqlWantSessionCookie(t testing.TB, ts *testServer, r *gqlResponse) *http.Cookie {
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
func gqlWantNoSessionCookie(t testing.TB, ts *testServer, r *gqlResponse) {
	t.Helper()
	if ck := gqlSetCookie(ts, r.Header); ck != nil {
		t.Fatalf("unexpected session cookie: %q", r.Header.Values("Set-Cookie"))
	}
}

// gqlCookieClient is a fresh client that replays a session cookie value.
func gqlCookieClient(t testing.TB, ts *testServer, value string) *client {
	c := ts.client(t)
	c.Header.Set("Cookie", ts.App.Config.SessionCookie+"="+value)
	return c
}

// gqlKeyClient is a fresh client authenticating with an API key.
func gqlKeyClient(t testing.TB, ts *testServer, key string) *client {
	c := ts.client(t)
	c.Bearer = key
	return c
}

// gqlInsertAPIKey creates an API key for userID directly in the database
// and returns the secret.
func gqlInsertAPIKey(t testing.TB, ts *testServer, userID string, userPerms []string) string {
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
func gqlCountAPIKeys(t testing.TB, ts *testServer, userID string) int {
	t.Helper()
	var n int
	if err := ts.App.DB.QueryRowContext(context.Background(),
		"SELECT count(*) FROM api_keys WHERE user_id = ?", userID).Scan(&n); err != nil {
		t.Fatalf("count api keys: %v", err)
	}
	return n
}

// gqlDBUser loads a user from the store by username.
func gqlDBUser(t testing.TB, ts *testServer, username string) *model.User {
	t.Helper()
	u, err := ts.App.Store.UserByLogin(context.Background(), username, false)
	if err != nil || u == nil {
		t.Fatalf("load user %s: %v %v", username, u, err)
	}
	return u
}

// gqlSetFlags sets a user's admin/frozen/suspended flags.
func gqlSetFlags(t testing.TB, ts *testServer, username string, frozen, suspended bool) {
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
func gqlRESTMessages(es []gqlUserErr) []string {
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

// gqlOrderedObject decodes a JSON object keeping the order of its members.
func gqlOrderedObject(t testing.TB, raw []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v %v", tok, err)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
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
	lists, raw := gqlOrderedObject(t, model.PermissionsJSON())
	out := map[string][]gqlCatalogGroup{}
	names := map[string]string{"user_permissions": "userPermissions", "admin_permissions": "adminPermissions",
		"server_permissions": "serverPermissions"}
	for _, list := range lists {
		groups, graw := gqlOrderedObject(t, raw[list])
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
			perms, praw := gqlOrderedObject(t, body.Permissions)
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
