package apptest

// REST helpers the tests of more than one package use: accounts, API keys,
// cookies, and checks of the contract's error bodies.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db/dbtest"
	"accountd/secret"
)

// CookieValue returns the session cookie a client's jar holds.
func CookieValue(t testing.TB, c *Client) string {
	t.Helper()
	u := c.Server.URL + "/"
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	for _, ck := range c.HTTP.Jar.Cookies(req.URL) {
		if ck.Name == CookieName {
			return ck.Value
		}
	}
	t.Fatalf("client has no session cookie")
	return ""
}

// CookieName is the default session cookie name (SESSION_COOKIE).
const CookieName = "calagopus_session"

// User is a registered account and its signed-in client.
type User struct {
	*Client
	Username string
	Email    string
	Password string
	ID       uuid.UUID
}

// Register signs up username (e-mail: lower-cased username at
// example.com) and returns the signed-in client.
func Register(t *testing.T, ts *Server, username, password string) *User {
	t.Helper()
	c := ts.RegisterREST(t, username, password)
	return &User{Client: c, Username: username, Email: strings.ToLower(username) + "@example.com",
		Password: password, ID: UserID(t, ts, username)}
}

// Login signs in with a fresh client and returns it and the response.
func Login(t *testing.T, ts *Server, user, password string) (*Client, *Response) {
	t.Helper()
	c := ts.Client(t)
	res := c.Do(http.MethodPost, "/api/auth/login", map[string]any{"user": user, "password": password})
	return c, res
}

// UserID looks a user up by username in the store, so a test can reach
// the database rows of an account it made over the API.
func UserID(t testing.TB, ts *Server, username string) uuid.UUID {
	t.Helper()
	u, err := ts.App.Store.UserByLogin(context.Background(), username, false)
	if err != nil || u == nil {
		t.Fatalf("user %q: %v %v", username, u, err)
	}
	return u.ID
}

// ResetAttempts forgets a user's failed password and code checks, for
// tests that fail more checks on purpose than the attempt budget allows.
func ResetAttempts(t testing.TB, ts *Server, id uuid.UUID) {
	t.Helper()
	if _, err := ts.App.DB.NewDelete().TableExpr("attempt_counters").Where("user_id = ?", id).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// KeyOpts describes an API key to insert directly (APIKey), for states the
// API does not produce on request, such as an expired key.
type KeyOpts struct {
	AllowedIPs      []string
	UserPermissions []string
	Expires         *time.Time
}

// APIKey inserts an API key for userID and returns its secret.
func APIKey(t testing.TB, ts *Server, userID uuid.UUID, o KeyOpts) string {
	t.Helper()
	key := "c7sp_" + secret.RandomString(43)
	list := func(v []string) string {
		if v == nil {
			v = []string{}
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	row := &dbtest.APIKeyRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, Name: "key-" + secret.RandomString(8),
		KeyStart: key[:16], Digest: secret.Digest(key), AllowedIPs: list(o.AllowedIPs),
		UserPermissions: list(o.UserPermissions), AdminPermissions: "[]", ServerPermissions: "[]",
		Expires: o.Expires, Created: time.Now().UTC().Truncate(time.Microsecond)}
	if _, err := ts.App.DB.NewInsert().Model(row).Exec(context.Background()); err != nil {
		t.Fatalf("insert api key: %v", err)
	}
	return key
}

// KeyClient returns a client that authenticates with an API key only.
func KeyClient(t testing.TB, ts *Server, key string) *Client {
	c := ts.Client(t)
	c.Bearer = key
	return c
}

// CookieClient returns a client that sends exactly this session cookie
// value (and keeps no jar, so nothing else is sent).
func CookieClient(t testing.TB, ts *Server, value string) *Client {
	c := ts.Client(t)
	c.HTTP.Jar = nil
	c.Header.Set("Cookie", CookieName+"="+value)
	return c
}

// WantErrors checks the status and that the errors list holds exactly
// want (in any order: the contract fixes the set, not the order).
func WantErrors(t testing.TB, res *Response, status int, want ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	WantErrorBody(t, res)
	got := slices.Clone(res.Errors(t))
	w := slices.Clone(want)
	slices.Sort(got)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("errors %q, want %q", res.Errors(t), want)
	}
}

// WantErrorPrefixes checks the status and that there is exactly one
// message per prefix, each starting with it (for rules whose wording the
// contract leaves open).
func WantErrorPrefixes(t testing.TB, res *Response, status int, prefixes ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	WantErrorBody(t, res)
	got := res.Errors(t)
	if len(got) != len(prefixes) {
		t.Errorf("errors %q, want %d starting with %q", got, len(prefixes), prefixes)
		return
	}
	rest := slices.Clone(got)
	for _, p := range prefixes {
		i := slices.IndexFunc(rest, func(s string) bool { return strings.HasPrefix(s, p) })
		if i < 0 {
			t.Errorf("errors %q: none left starting with %q", got, p)
			return
		}
		rest = slices.Delete(rest, i, i+1)
	}
}

// WantErrorBody checks the error body is exactly {"errors":[strings]}.
func WantErrorBody(t testing.TB, res *Response) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Errorf("error body is not a JSON object: %s", res.Body)
		return
	}
	if len(m) != 1 || m["errors"] == nil {
		t.Errorf("error body has keys other than errors: %s", res.Body)
	}
	var list []string
	if err := json.Unmarshal(m["errors"], &list); err != nil || len(list) == 0 {
		t.Errorf("errors is not a non-empty list of strings: %s", res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
}

// WantEmpty checks a 200 {} answer, the contract's reply to a write that
// returns nothing.
func WantEmpty(t testing.TB, res *Response) {
	t.Helper()
	if res.Status != http.StatusOK || strings.TrimSpace(string(res.Body)) != "{}" {
		t.Errorf("want 200 {}, got %d %s", res.Status, res.Body)
	}
}

// WantStatus checks the status alone, for answers whose body other checks
// (or the OpenAPI transport) look at.
func WantStatus(t testing.TB, res *Response, status int) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
}

// sortedKeys returns the sorted keys of m.
func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// WantKeys checks m has exactly the keys want.
func WantKeys(t testing.TB, what string, m map[string]any, want []string) {
	t.Helper()
	w := slices.Clone(want)
	slices.Sort(w)
	if got := sortedKeys(m); !slices.Equal(got, w) {
		t.Errorf("%s keys\n got %q\nwant %q", what, got, w)
	}
}

// NoSecrets fails when the server's log holds any of secrets. It also
// makes sure the log is not empty, so the check is not vacuous.
func NoSecrets(t testing.TB, ts *Server, secrets ...string) {
	t.Helper()
	logs := ts.LogText()
	if !strings.Contains(logs, "request") {
		t.Errorf("the server logged no request lines; the secret check would be vacuous")
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if strings.Contains(logs, s) {
			t.Errorf("server log contains the secret %q", s)
		}
	}
}
