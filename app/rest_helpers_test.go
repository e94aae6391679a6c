package app_test

// Helpers shared by the REST end-to-end tests (rest_*_test.go). Every name
// starts with "rest" so it cannot clash with helpers other test files add.

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/app"
	"accountd/secret"
)

// restCookieName is the default session cookie name (SESSION_COOKIE).
const restCookieName = "calagopus_session"

// restFastArgon2 keeps password hashing cheap: these tests create many
// accounts, and the cost parameters are not what they check.
var restFastArgon2 = secret.Argon2Params{MemoryKiB: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// restServer is eachServer with the REST tests' base configuration (cheap
// hashing, per-IP rate limits off so that many sign-ups from 127.0.0.1 are
// not throttled), then configure on top.
func restServer(t *testing.T, configure func(*app.Config), fn func(t *testing.T, ts *testServer)) {
	t.Helper()
	eachServer(t, func(cfg *app.Config) {
		p := restFastArgon2
		cfg.Argon2 = &p
		cfg.RateLimit = false
		if configure != nil {
			configure(cfg)
		}
	}, fn)
}

// restUser is a registered account and its signed-in client.
type restUser struct {
	*client
	Username string
	Email    string
	Password string
	ID       uuid.UUID
}

// restRegister signs up username (e-mail: lower-cased username at
// example.com) and returns the signed-in client.
func restRegister(t *testing.T, ts *testServer, username, password string) *restUser {
	t.Helper()
	c := ts.registerREST(t, username, password)
	return &restUser{client: c, Username: username, Email: strings.ToLower(username) + "@example.com",
		Password: password, ID: restUserID(t, ts, username)}
}

// restLogin signs in with a fresh client and returns it and the response.
func restLogin(t *testing.T, ts *testServer, user, password string) (*client, *response) {
	t.Helper()
	c := ts.client(t)
	res := c.do(http.MethodPost, "/api/auth/login", map[string]any{"user": user, "password": password})
	return c, res
}

// restUserID looks a user up by username.
func restUserID(t testing.TB, ts *testServer, username string) uuid.UUID {
	t.Helper()
	u, err := ts.App.Store.UserByLogin(context.Background(), username, false)
	if err != nil || u == nil {
		t.Fatalf("user %q: %v %v", username, u, err)
	}
	return u.ID
}

// restSetFlags sets a user's admin/frozen/suspended flags.
func restSetFlags(t testing.TB, ts *testServer, id uuid.UUID, admin, frozen, suspended bool) {
	t.Helper()
	if err := ts.App.Store.SetUserFlags(context.Background(), id, admin, frozen, suspended); err != nil {
		t.Fatal(err)
	}
}

// restResetAttempts forgets a user's failed password and code checks, for
// tests that fail more checks on purpose than the attempt budget allows.
func restResetAttempts(t testing.TB, ts *testServer, id uuid.UUID) {
	t.Helper()
	if _, err := ts.App.DB.NewDelete().TableExpr("attempt_counters").Where("user_id = ?", id).Exec(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// restEnableTOTP turns two-factor on for a user directly in the database.
func restEnableTOTP(t testing.TB, ts *testServer, id uuid.UUID) {
	t.Helper()
	_, err := ts.App.DB.NewUpdate().Table("users").
		Set("totp_enabled = ?", true).Set("totp_secret = ?", "JBSWY3DPEHPK3PXP").
		Where("id = ?", id).Exec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
}

// restAPIKeyRow is a row of api_keys as the tests insert it.
type restAPIKeyRow struct {
	bun.BaseModel `bun:"table:api_keys"`

	ID                uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID            uuid.UUID  `bun:"user_id,type:uuid"`
	Name              string     `bun:"name"`
	KeyStart          string     `bun:"key_start"`
	Digest            []byte     `bun:"digest"`
	AllowedIPs        string     `bun:"allowed_ips"`
	UserPermissions   string     `bun:"user_permissions"`
	AdminPermissions  string     `bun:"admin_permissions"`
	ServerPermissions string     `bun:"server_permissions"`
	Expires           *time.Time `bun:"expires"`
	Created           time.Time  `bun:"created"`
}

// restKeyOpts describes an API key to insert.
type restKeyOpts struct {
	AllowedIPs      []string
	UserPermissions []string
	Expires         *time.Time
}

// restAPIKey inserts an API key for userID and returns its secret.
func restAPIKey(t testing.TB, ts *testServer, userID uuid.UUID, o restKeyOpts) string {
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
	row := &restAPIKeyRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, Name: "key-" + secret.RandomString(8),
		KeyStart: key[:16], Digest: secret.Digest(key), AllowedIPs: list(o.AllowedIPs),
		UserPermissions: list(o.UserPermissions), AdminPermissions: "[]", ServerPermissions: "[]",
		Expires: o.Expires, Created: time.Now().UTC().Truncate(time.Microsecond)}
	if _, err := ts.App.DB.NewInsert().Model(row).Exec(context.Background()); err != nil {
		t.Fatalf("insert api key: %v", err)
	}
	return key
}

// restKeyClient returns a client that authenticates with an API key only.
func restKeyClient(t testing.TB, ts *testServer, key string) *client {
	c := ts.client(t)
	c.Bearer = key
	return c
}

// restCookieClient returns a client that sends exactly this session cookie
// value (and keeps no jar, so nothing else is sent).
func restCookieClient(t testing.TB, ts *testServer, value string) *client {
	c := ts.client(t)
	c.http.Jar = nil
	c.Header.Set("Cookie", restCookieName+"="+value)
	return c
}

// restSetCookies parses every Set-Cookie of a response.
func restSetCookies(t testing.TB, res *response) []*http.Cookie {
	t.Helper()
	var out []*http.Cookie
	for _, line := range res.Header.Values("Set-Cookie") {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("bad Set-Cookie %q: %v", line, err)
		}
		out = append(out, ck)
	}
	return out
}

// restSessionCookie returns the session cookie a response sets; it fails
// the test when there is none.
func restSessionCookie(t testing.TB, res *response) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == restCookieName {
			if found != nil {
				t.Fatalf("two session cookies set: %q", res.Header.Values("Set-Cookie"))
			}
			found = ck
		}
	}
	if found == nil {
		t.Fatalf("no %s cookie set; Set-Cookie: %q", restCookieName, res.Header.Values("Set-Cookie"))
	}
	return found
}

// restNoSessionCookie fails when a response sets the session cookie.
func restNoSessionCookie(t testing.TB, res *response) {
	t.Helper()
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == restCookieName {
			t.Errorf("unexpected session cookie: %q", res.Header.Values("Set-Cookie"))
		}
	}
}

// restWantErrors checks the status and that the errors list holds exactly
// want (in any order: the contract fixes the set, not the order).
func restWantErrors(t testing.TB, res *response, status int, want ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	restWantErrorBody(t, res)
	got := slices.Clone(res.Errors(t))
	w := slices.Clone(want)
	slices.Sort(got)
	slices.Sort(w)
	if !slices.Equal(got, w) {
		t.Errorf("errors %q, want %q", res.Errors(t), want)
	}
}

// restWantErrorPrefixes checks the status and that there is exactly one
// message per prefix, each starting with it (for rules whose wording the
// contract leaves open).
func restWantErrorPrefixes(t testing.TB, res *response, status int, prefixes ...string) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
	restWantErrorBody(t, res)
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

// restWantErrorBody checks the error body is exactly {"errors":[strings]}.
func restWantErrorBody(t testing.TB, res *response) {
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

// restWantEmpty checks a 200 {} answer.
func restWantEmpty(t testing.TB, res *response) {
	t.Helper()
	if res.Status != http.StatusOK || strings.TrimSpace(string(res.Body)) != "{}" {
		t.Errorf("want 200 {}, got %d %s", res.Status, res.Body)
	}
}

// restWantStatus checks the status alone.
func restWantStatus(t testing.TB, res *response, status int) {
	t.Helper()
	if res.Status != status {
		t.Errorf("status %d, want %d; body %s", res.Status, status, res.Body)
	}
}

// restAccount fetches GET /api/client/account and returns the user object.
func restAccount(t testing.TB, c *client) map[string]any {
	t.Helper()
	res := c.do(http.MethodGet, "/api/client/account", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET account: %d %s", res.Status, res.Body)
	}
	u, ok := res.JSON(t)["user"].(map[string]any)
	if !ok {
		t.Fatalf("GET account: no user object: %s", res.Body)
	}
	return u
}

// restFullUserKeys are the 18 keys of FullUser (REST.md §3).
var restFullUserKeys = []string{"uuid", "username", "role", "avatar", "email", "name_first", "name_last",
	"admin", "frozen", "suspended", "totp_enabled", "totp_last_used", "require_two_factor", "language",
	"toast_position", "start_on_grouped_servers", "has_password", "created"}

// restPublicUserKeys are the keys of User (login two_factor_required).
var restPublicUserKeys = []string{"uuid", "username", "avatar", "totp_enabled", "created"}

var (
	restUUIDRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	restTimestampRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$`)
)

// restKeys returns the sorted keys of m.
func restKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// restWantKeys checks m has exactly the keys want.
func restWantKeys(t testing.TB, what string, m map[string]any, want []string) {
	t.Helper()
	w := slices.Clone(want)
	slices.Sort(w)
	if got := restKeys(m); !slices.Equal(got, w) {
		t.Errorf("%s keys\n got %q\nwant %q", what, got, w)
	}
}

// restCheckTimestamp checks an RFC 3339 UTC timestamp with 6 fractional
// digits that lies within d of now.
func restCheckTimestamp(t testing.TB, what string, v any, d time.Duration) {
	t.Helper()
	s, ok := v.(string)
	if !ok || !restTimestampRE.MatchString(s) {
		t.Errorf("%s = %#v, want RFC 3339 UTC with 6 fractional digits and Z", what, v)
		return
	}
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Errorf("%s = %q: %v", what, s, err)
		return
	}
	if diff := time.Since(ts); diff > d || diff < -d {
		t.Errorf("%s = %q is %v away from now", what, s, diff)
	}
}

// restCheckFullUser checks u is a FullUser: exactly the 18 keys with the
// right JSON types.
func restCheckFullUser(t testing.TB, u map[string]any) {
	t.Helper()
	restWantKeys(t, "FullUser", u, restFullUserKeys)
	if s, _ := u["uuid"].(string); !restUUIDRE.MatchString(s) {
		t.Errorf("uuid = %#v, want a lowercase hyphenated UUID", u["uuid"])
	}
	for _, k := range []string{"username", "email", "name_first", "name_last", "language", "toast_position"} {
		if _, ok := u[k].(string); !ok {
			t.Errorf("%s = %#v, want a string", k, u[k])
		}
	}
	for _, k := range []string{"admin", "frozen", "suspended", "totp_enabled", "require_two_factor",
		"start_on_grouped_servers", "has_password"} {
		if _, ok := u[k].(bool); !ok {
			t.Errorf("%s = %#v, want a boolean", k, u[k])
		}
	}
	for _, k := range []string{"role", "avatar", "totp_last_used"} {
		if v, present := u[k]; !present || v != nil {
			t.Errorf("%s = %#v (present %v), want null", k, v, present)
		}
	}
	restCheckTimestamp(t, "created", u["created"], time.Hour)
}

// restNoSecrets fails when the server's log holds any of secrets. It also
// makes sure the log is not empty, so the check is not vacuous.
func restNoSecrets(t testing.TB, ts *testServer, secrets ...string) {
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

// restLong returns n copies of c.
func restLong(c string, n int) string { return strings.Repeat(c, n) }
