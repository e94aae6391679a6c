package rest_test

// Helpers of the REST end-to-end tests (e2e_*_test.go) that only these
// tests use; what the app and GraphQL tests also need is in app/apptest.
// Every name starts with "rest" so it cannot clash with helpers other test
// files of this package add.

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
)

// restServer is apptest.EachServer with the REST tests' base configuration
// (per-IP rate limits off so that many sign-ups from 127.0.0.1 are not
// throttled; the kit already makes hashing cheap), then configure on top.
func restServer(t *testing.T, configure func(*app.Config), fn func(t *testing.T, ts *apptest.Server)) {
	t.Helper()
	apptest.EachServer(t, func(cfg *app.Config) {
		cfg.RateLimit = false
		if configure != nil {
			configure(cfg)
		}
	}, fn)
}

// restSetFlags sets a user's admin/frozen/suspended flags.
func restSetFlags(t testing.TB, ts *apptest.Server, id uuid.UUID, admin, frozen, suspended bool) {
	t.Helper()
	if err := ts.App.Store.SetUserFlags(context.Background(), id, admin, frozen, suspended); err != nil {
		t.Fatal(err)
	}
}

// restEnableTOTP turns two-factor on for a user directly in the database.
func restEnableTOTP(t testing.TB, ts *apptest.Server, id uuid.UUID) {
	t.Helper()
	_, err := ts.App.DB.NewUpdate().Table("users").
		Set("totp_enabled = ?", true).Set("totp_secret = ?", "JBSWY3DPEHPK3PXP").
		Where("id = ?", id).Exec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
}

// restSetCookies parses every Set-Cookie of a response.
func restSetCookies(t testing.TB, res *apptest.Response) []*http.Cookie {
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
func restSessionCookie(t testing.TB, res *apptest.Response) *http.Cookie {
	t.Helper()
	var found *http.Cookie
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == apptest.CookieName {
			if found != nil {
				t.Fatalf("two session cookies set: %q", res.Header.Values("Set-Cookie"))
			}
			found = ck
		}
	}
	if found == nil {
		t.Fatalf("no %s cookie set; Set-Cookie: %q", apptest.CookieName, res.Header.Values("Set-Cookie"))
	}
	return found
}

// restNoSessionCookie fails when a response sets the session cookie.
func restNoSessionCookie(t testing.TB, res *apptest.Response) {
	t.Helper()
	for _, ck := range restSetCookies(t, res) {
		if ck.Name == apptest.CookieName {
			t.Errorf("unexpected session cookie: %q", res.Header.Values("Set-Cookie"))
		}
	}
}

// restAccount fetches GET /api/client/account and returns the user object.
func restAccount(t testing.TB, c *apptest.Client) map[string]any {
	t.Helper()
	res := c.Do(http.MethodGet, "/api/client/account", nil)
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
	apptest.WantKeys(t, "FullUser", u, restFullUserKeys)
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
