package rest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
)

func restRegisterBody(username, email string) restBody {
	return restBody{"username": username, "email": email, "name_first": "Alice",
		"name_last": "Liddell", "password": "correct horse"}
}

func TestRESTRegisterHappyPath(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		before := time.Now()
		res := c.Do(http.MethodPost, "/api/auth/register", restRegisterBody("alice", "alice@example.com"))
		if res.Status != http.StatusOK {
			t.Fatalf("register: %d %s", res.Status, res.Body)
		}
		body := res.JSON(t)

		t.Run("body", func(t *testing.T) {
			apptest.WantKeys(t, "register body", body, []string{"user"})
			u, _ := body["user"].(map[string]any)
			restCheckFullUser(t, u)
			want := map[string]any{"username": "alice", "email": "alice@example.com", "name_first": "Alice",
				"name_last": "Liddell", "admin": true, "frozen": false, "suspended": false, "totp_enabled": false,
				"require_two_factor": false, "language": "en", "toast_position": "bottom_right",
				"start_on_grouped_servers": false, "has_password": true}
			for k, v := range want {
				if u[k] != v {
					t.Errorf("%s = %#v, want %#v", k, u[k], v)
				}
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
		})

		t.Run("cookie", func(t *testing.T) {
			ck := restSessionCookie(t, res)
			line := res.Header.Get("Set-Cookie")
			if !ck.HttpOnly {
				t.Errorf("cookie not HttpOnly: %s", line)
			}
			if ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("cookie SameSite %v, want Lax: %s", ck.SameSite, line)
			}
			if ck.Path != "/" {
				t.Errorf("cookie Path %q, want /: %s", ck.Path, line)
			}
			if ck.Secure {
				t.Errorf("cookie Secure on an http APP_URL: %s", line)
			}
			want := before.Add(168 * time.Hour)
			if d := ck.Expires.Sub(want); d < -time.Minute || d > time.Minute {
				t.Errorf("cookie Expires %v, want ≈ %v: %s", ck.Expires, want, line)
			}
			if ck.MaxAge < 0 {
				t.Errorf("cookie Max-Age %d on a fresh session: %s", ck.MaxAge, line)
			}
			if len(ck.Value) < 32 {
				t.Errorf("cookie value too short to be a session token: %q", ck.Value)
			}
			// The cookie signs the client in.
			u := restAccount(t, c)
			if u["username"] != "alice" || u["uuid"] != apptest.Get(body, "user", "uuid") {
				t.Errorf("GET account after register: %v", u)
			}
		})

		t.Run("second user is not admin", func(t *testing.T) {
			c2 := ts.Client(t)
			res := c2.Do(http.MethodPost, "/api/auth/register", restRegisterBody("bob", "bob@example.com"))
			if res.Status != http.StatusOK {
				t.Fatalf("register bob: %d %s", res.Status, res.Body)
			}
			u, _ := res.JSON(t)["user"].(map[string]any)
			restCheckFullUser(t, u)
			if u["admin"] != false {
				t.Errorf("second user admin = %v", u["admin"])
			}
			if u["uuid"] == apptest.Get(body, "user", "uuid") {
				t.Errorf("two users share a uuid")
			}
			if restAccount(t, c2)["admin"] != false {
				t.Errorf("GET account: bob is admin")
			}
			if restAccount(t, c)["admin"] != true {
				t.Errorf("GET account: alice is no longer admin")
			}
		})
	})
}

func TestRESTRegisterSecureCookieOnHTTPS(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) {
		cfg.AppURL, _ = url.Parse("https://panel.example.com")
	}, func(t *testing.T, ts *apptest.Server) {
		_, responses := restLoginAfterRegister(t, ts)
		for name, res := range responses {
			t.Run(name, func(t *testing.T) {
				ck := restSessionCookie(t, res)
				if !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
					t.Errorf("cookie attributes on https: %q", res.Header.Values("Set-Cookie"))
				}
			})
		}
		t.Run("logout clears with the same attributes", func(t *testing.T) {
			c := apptest.CookieClient(t, ts, restSessionCookie(t, responses["login"]).Value)
			res := c.Do(http.MethodPost, "/api/client/account/logout", nil)
			apptest.WantEmpty(t, res)
			ck := restSessionCookie(t, res)
			if !ck.Secure || !ck.HttpOnly || ck.Path != "/" || ck.MaxAge >= 0 {
				t.Errorf("clearing cookie on https: %q", res.Header.Values("Set-Cookie"))
			}
		})
	})
}

// restLoginAfterRegister registers alice and logs her in again, returning
// both responses by name.
func restLoginAfterRegister(t *testing.T, ts *apptest.Server) (*apptest.Client, map[string]*apptest.Response) {
	t.Helper()
	c := ts.Client(t)
	reg := c.Do(http.MethodPost, "/api/auth/register", restRegisterBody("alice", "alice@example.com"))
	apptest.WantStatus(t, reg, http.StatusOK)
	_, login := apptest.Login(t, ts, "alice", "correct horse")
	apptest.WantStatus(t, login, http.StatusOK)
	return c, map[string]*apptest.Response{"register": reg, "login": login}
}

// TestRESTFullUserShape compares FullUser, wherever it appears, with the 18
// keys of REST.md §3: no more, no fewer, and the right types.
func TestRESTFullUserShape(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c, responses := restLoginAfterRegister(t, ts)
		get := c.Do(http.MethodGet, "/api/client/account", nil)
		apptest.WantStatus(t, get, http.StatusOK)
		responses["get account"] = get
		for name, res := range responses {
			t.Run(name, func(t *testing.T) {
				body := res.JSON(t)
				if name == "login" {
					apptest.WantKeys(t, "login body", body, []string{"type", "user"})
					if body["type"] != "completed" {
						t.Errorf("type = %v", body["type"])
					}
				} else {
					apptest.WantKeys(t, name+" body", body, []string{"user"})
				}
				u, ok := body["user"].(map[string]any)
				if !ok {
					t.Fatalf("no user object: %s", res.Body)
				}
				if len(u) != 18 {
					t.Errorf("FullUser has %d keys, want 18", len(u))
				}
				restCheckFullUser(t, u)
				for _, forbidden := range []string{"password", "password_hash", "totp_secret", "id"} {
					if _, ok := u[forbidden]; ok {
						t.Errorf("FullUser leaks %q", forbidden)
					}
				}
			})
		}
	})
}

func TestRESTRegisterValidation(t *testing.T) {
	t.Parallel()
	const pattern = "username: does not match pattern /^[a-zA-Z0-9_]+$/"
	type tc struct {
		name string
		// set overrides fields of a valid body (nil deletes the field).
		set map[string]any
		// ok means 200; else want lists the exact errors, or prefixes the
		// exact number of errors with those prefixes (wording left open).
		ok       bool
		want     []string
		prefixes []string
	}
	cases := []tc{
		{name: "username 2", set: map[string]any{"username": "ab"}, want: []string{"username: length is lower than 3"}},
		{name: "username 3", set: map[string]any{"username": "abc"}, ok: true},
		{name: "username 15", set: map[string]any{"username": strings.Repeat("u", 15)}, ok: true},
		{name: "username 16", set: map[string]any{"username": strings.Repeat("v", 16)}, want: []string{"username: length is greater than 15"}},
		{name: "username underscore digits", set: map[string]any{"username": "A_b_9"}, ok: true},
		{name: "username hyphen", set: map[string]any{"username": "bad-name"}, want: []string{pattern}},
		{name: "username space", set: map[string]any{"username": "bad name"}, want: []string{pattern}},
		{name: "username dot", set: map[string]any{"username": "bad.name"}, want: []string{pattern}},
		{name: "username non-ascii", set: map[string]any{"username": "ålice"}, want: []string{pattern}},
		{name: "username newline", set: map[string]any{"username": "alice\n"}, want: []string{pattern}},
		{name: "username empty", set: map[string]any{"username": ""}, want: []string{"username: length is lower than 3", pattern}},
		{name: "username 2 and pattern", set: map[string]any{"username": "a-"}, want: []string{"username: length is lower than 3", pattern}},
		{name: "name_first 0", set: map[string]any{"name_first": ""}, want: []string{"name_first: length is lower than 1"}},
		{name: "name_first 1", set: map[string]any{"name_first": "A"}, ok: true},
		{name: "name_first 255", set: map[string]any{"name_first": strings.Repeat("a", 255)}, ok: true},
		{name: "name_first 255 multibyte", set: map[string]any{"name_first": strings.Repeat("é", 255)}, ok: true},
		{name: "name_first 256", set: map[string]any{"name_first": strings.Repeat("a", 256)}, want: []string{"name_first: length is greater than 255"}},
		{name: "name_last 0", set: map[string]any{"name_last": ""}, want: []string{"name_last: length is lower than 1"}},
		{name: "name_last 1", set: map[string]any{"name_last": "L"}, ok: true},
		{name: "name_last 255", set: map[string]any{"name_last": strings.Repeat("b", 255)}, ok: true},
		{name: "name_last 256", set: map[string]any{"name_last": strings.Repeat("b", 256)}, want: []string{"name_last: length is greater than 255"}},
		{name: "password 7", set: map[string]any{"password": "1234567"}, want: []string{"password: length is lower than 8"}},
		{name: "password 8", set: map[string]any{"password": "12345678"}, ok: true},
		{name: "password 512", set: map[string]any{"password": strings.Repeat("p", 512)}, ok: true},
		{name: "password 513", set: map[string]any{"password": strings.Repeat("p", 513)}, want: []string{"password: length is greater than 512"}},
		{name: "email no at", set: map[string]any{"email": "not-an-email"}, prefixes: []string{"email: "}},
		{name: "email no local part", set: map[string]any{"email": "@example.com"}, prefixes: []string{"email: "}},
		{name: "email no domain", set: map[string]any{"email": "alice@"}, prefixes: []string{"email: "}},
		{name: "email two ats", set: map[string]any{"email": "a@b@example.com"}, prefixes: []string{"email: "}},
		{name: "email with display name", set: map[string]any{"email": "Alice <alice@example.com>"}, prefixes: []string{"email: "}},
		{name: "email with space", set: map[string]any{"email": "ali ce@example.com"}, prefixes: []string{"email: "}},
		{name: "email empty", set: map[string]any{"email": ""}, prefixes: []string{"email: "}},
		{name: "all missing", set: map[string]any{"username": nil, "email": nil, "name_first": nil, "name_last": nil, "password": nil},
			want: nil, prefixes: nil},
		{name: "several rules at once", set: map[string]any{"username": "a!", "email": "nope", "name_first": "",
			"name_last": strings.Repeat("x", 256), "password": "short"}},
	}
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		for i, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				body := restRegisterBody(fmt.Sprintf("user%d", i), fmt.Sprintf("user%d@example.com", i))
				for k, v := range c.set {
					if v == nil {
						delete(body, k)
					} else {
						body[k] = v
					}
				}
				res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", body)
				switch {
				case c.ok:
					if res.Status != http.StatusOK {
						t.Fatalf("want 200, got %d %s", res.Status, res.Body)
					}
					u, _ := res.JSON(t)["user"].(map[string]any)
					for k, v := range c.set {
						if k != "password" && u[k] != v {
							t.Errorf("%s = %#v, want %#v", k, u[k], v)
						}
					}
					restSessionCookie(t, res)
					// The accepted password signs in.
					if _, login := apptest.Login(t, ts, body["username"].(string), body["password"].(string)); login.Status != http.StatusOK {
						t.Errorf("login with the registered password: %d %s", login.Status, login.Body)
					}
				case c.name == "all missing":
					apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, "username: length is lower than 3", pattern,
						"email: ", "name_first: length is lower than 1", "name_last: length is lower than 1",
						"password: length is lower than 8")
					restNoSessionCookie(t, res)
				case c.name == "several rules at once":
					apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, "username: length is lower than 3", pattern,
						"email: ", "name_first: length is lower than 1", "name_last: length is greater than 255",
						"password: length is lower than 8")
					for _, e := range res.Errors(t) {
						if strings.HasPrefix(e, "email: ") {
							continue
						}
						found := false
						for _, w := range []string{"username: length is lower than 3", pattern, "name_first: length is lower than 1",
							"name_last: length is greater than 255", "password: length is lower than 8"} {
							found = found || e == w
						}
						if !found {
							t.Errorf("unexpected message %q", e)
						}
					}
					restNoSessionCookie(t, res)
				case c.prefixes != nil:
					apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, c.prefixes...)
					restNoSessionCookie(t, res)
				default:
					apptest.WantErrors(t, res, http.StatusBadRequest, c.want...)
					restNoSessionCookie(t, res)
				}
			})
		}
		t.Run("rejected sign-ups created nothing", func(t *testing.T) {
			for i, c := range cases {
				if c.ok {
					continue
				}
				u, err := ts.App.Store.UserByLogin(t.Context(), fmt.Sprintf("user%d@example.com", i), true)
				if err != nil || u != nil {
					t.Errorf("case %q left a user behind: %v %v", c.name, u, err)
				}
			}
		})
	})
}

func TestRESTRegisterDisabled(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.RegistrationEnabled = false }, func(t *testing.T, ts *apptest.Server) {
		for _, tc := range []struct {
			name string
			body map[string]any
		}{
			{"valid body", restRegisterBody("alice", "alice@example.com")},
			{"invalid body", map[string]any{"username": "a"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", tc.body)
				apptest.WantErrors(t, res, http.StatusBadRequest, "registration is disabled")
				restNoSessionCookie(t, res)
			})
		}
		if u, _ := ts.App.Store.UserByLogin(t.Context(), "alice", false); u != nil {
			t.Errorf("a user was created with registration disabled")
		}
	})
}

func TestRESTRegisterDuplicate(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", restRegisterBody("Alice", "Alice@Example.com"))
		apptest.WantStatus(t, res, http.StatusOK)
		for _, tc := range []struct{ name, username, email string }{
			{"same username", "Alice", "other1@example.com"},
			{"username lower case", "alice", "other2@example.com"},
			{"username upper case", "ALICE", "other3@example.com"},
			{"same email", "other4", "Alice@Example.com"},
			{"email lower case", "other5", "alice@example.com"},
			{"email upper case", "other6", "ALICE@EXAMPLE.COM"},
			{"both", "aLiCe", "alice@EXAMPLE.com"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", restRegisterBody(tc.username, tc.email))
				apptest.WantErrors(t, res, http.StatusBadRequest, "user with username or email already exists")
				restNoSessionCookie(t, res)
			})
		}
		// The original account is untouched.
		_, login := apptest.Login(t, ts, "alice", "correct horse")
		apptest.WantStatus(t, login, http.StatusOK)
		if apptest.Get(login.JSON(t), "user", "username") != "Alice" || apptest.Get(login.JSON(t), "user", "email") != "Alice@Example.com" {
			t.Errorf("original account changed: %s", login.Body)
		}
	})
}
