package rest_test

// GET /api/auth/verify, the forward-auth check reverse proxies ask about
// every request to an app they protect (ours): the headers it answers
// with, its refusals, ?permission=, HEAD, its cost and its place outside
// the per-IP limit.

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"accountd/account"
	"accountd/app"
	"accountd/app/apptest"
	"accountd/model"
	"accountd/rest"
	"accountd/secret"
	"accountd/web"
)

// rvPath is the route under test.
const rvPath = rest.VerifyPath

// rvHeaders are the X-Auth-* headers a 200 carries.
var rvHeaders = []string{"X-Auth-User-Id", "X-Auth-Username", "X-Auth-Email", "X-Auth-Admin", "X-Auth-Key-Id", "X-Auth-Permissions"}

// rvWant is what a 200 of the route must say.
type rvWant struct {
	user        *apptest.User
	admin       bool
	keyID       string // "" for a session
	permissions string // the X-Auth-Permissions value
}

// rvQuery builds ?permission=… for each name.
func rvQuery(perms ...string) string {
	if len(perms) == 0 {
		return ""
	}
	return "?permission=" + strings.Join(perms, "&permission=")
}

// rvHead sends HEAD requests with c; the kit's OpenAPI check expects a
// body, which HEAD answers have not.
func rvHead(c *apptest.Client) *apptest.Client {
	return c.WithoutOpenAPI("HEAD answers have no body, which the kit's check expects")
}

// rvWantOK checks a 200 of the route: the headers, the body repeating
// them, no cache, no ETag and no cookie.
func rvWantOK(t testing.TB, res *apptest.Response, want rvWant) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", res.Status, res.Body)
	}
	h := res.Header
	for name, value := range map[string]string{
		"X-Auth-User-Id": want.user.ID.String(), "X-Auth-Username": want.user.Username, "X-Auth-Email": want.user.Email,
		"X-Auth-Admin": map[bool]string{true: "true", false: "false"}[want.admin], "X-Auth-Permissions": want.permissions,
		"Cache-Control": "no-store",
	} {
		if got := h.Values(name); len(got) != 1 || got[0] != value {
			t.Errorf("%s: %q, want exactly %q", name, got, value)
		}
	}
	if got := h.Values("X-Auth-Key-Id"); (want.keyID == "" && len(got) != 0) || (want.keyID != "" && !slices.Equal(got, []string{want.keyID})) {
		t.Errorf("X-Auth-Key-Id: %q, want %q", got, want.keyID)
	}
	for _, name := range []string{"ETag", "Set-Cookie"} {
		if v := h.Values(name); len(v) != 0 {
			t.Errorf("%s: %q, want none", name, v)
		}
	}
	var body struct {
		UserID      string   `json:"user_id"`
		Username    string   `json:"username"`
		Email       string   `json:"email"`
		Admin       bool     `json:"admin"`
		KeyID       *string  `json:"key_id"`
		Permissions []string `json:"permissions"`
	}
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("body: %v: %s", err, res.Body)
	}
	apptest.WantKeys(t, "verify body", res.JSON(t), []string{"user_id", "username", "email", "admin", "key_id", "permissions"})
	if body.UserID != want.user.ID.String() || body.Username != want.user.Username || body.Email != want.user.Email ||
		body.Admin != want.admin || strings.Join(body.Permissions, ",") != want.permissions {
		t.Errorf("body %s does not repeat the headers %v", res.Body, h)
	}
	if (want.keyID == "") != (body.KeyID == nil) || (body.KeyID != nil && *body.KeyID != want.keyID) {
		t.Errorf("body key_id %v, want %q", body.KeyID, want.keyID)
	}
}

// rvWantRefused checks an error answer: the contract's error body, no
// X-Auth-* header, no cookie.
func rvWantRefused(t testing.TB, res *apptest.Response, status int, messages ...string) {
	t.Helper()
	apptest.WantErrors(t, res, status, messages...)
	if cc := res.Header.Get("Cache-Control"); status != http.StatusMethodNotAllowed && status != http.StatusNotFound && cc != "no-store" {
		t.Errorf("%d answer: Cache-Control %q, want no-store", status, cc)
	}
	for _, name := range append(slices.Clone(rvHeaders), "Set-Cookie") {
		if v := res.Header.Values(name); len(v) != 0 {
			t.Errorf("%d answer carries %s: %q", status, name, v)
		}
	}
}

// rvCreateKey creates an API key over REST with these user permissions
// and returns its secret and uuid.
func rvCreateKey(t testing.TB, c *apptest.Client, perms ...string) (key, id string) {
	t.Helper()
	if perms == nil {
		perms = []string{}
	}
	res := c.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{"name": "proxy-" + secret.RandomString(6), "user_permissions": perms})
	var created struct {
		Key    string `json:"key"`
		APIKey struct {
			UUID string `json:"uuid"`
		} `json:"api_key"`
	}
	if err := json.Unmarshal(res.Body, &created); res.Status != http.StatusOK || err != nil || created.Key == "" {
		t.Fatalf("create api key: %d %s", res.Status, res.Body)
	}
	return created.Key, created.APIKey.UUID
}

func TestRESTVerifySession(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password") // the first account: an administrator
		bob := apptest.Register(t, ts, "bob", "bob password")

		t.Run("a session cookie: 200, every user permission", func(t *testing.T) {
			rvWantOK(t, alice.Do(http.MethodGet, rvPath, nil), rvWant{user: alice, admin: true, permissions: "*"})
			rvWantOK(t, bob.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
		})
		t.Run("any permission of the catalog is held", func(t *testing.T) {
			rvWantOK(t, bob.Do(http.MethodGet, rvPath+rvQuery("activity.read"), nil), rvWant{user: bob, permissions: "*"})
			catalog, err := model.LoadPermissionCatalog()
			if err != nil {
				t.Fatal(err)
			}
			rvWantOK(t, bob.Do(http.MethodGet, rvPath+rvQuery(catalog.AllUser()...), nil), rvWant{user: bob, permissions: "*"})
		})
		t.Run("HEAD: the same answer without a body", func(t *testing.T) {
			res := rvHead(bob.Client).Do(http.MethodHead, rvPath+rvQuery("sessions.read"), nil)
			apptest.WantStatus(t, res, http.StatusOK)
			if len(res.Body) != 0 {
				t.Errorf("HEAD body %q", res.Body)
			}
			get := bob.Do(http.MethodGet, rvPath+rvQuery("sessions.read"), nil)
			for _, name := range append(slices.Clone(rvHeaders), "Cache-Control", "Content-Type") {
				if !slices.Equal(res.Header.Values(name), get.Header.Values(name)) {
					t.Errorf("HEAD %s %q, GET %q", name, res.Header.Values(name), get.Header.Values(name))
				}
			}
			anon := rvHead(ts.Client(t)).Do(http.MethodHead, rvPath, nil)
			apptest.WantStatus(t, anon, http.StatusUnauthorized)
			if len(anon.Body) != 0 || anon.Header.Get("X-Auth-User-Id") != "" || anon.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("HEAD without credentials: %v %q", anon.Header, anon.Body)
			}
		})
		t.Run("If-None-Match passed on by a proxy: still 200", func(t *testing.T) {
			for _, tag := range []string{"*", `"0123456789abcdef0123456789abcdef"`} {
				c := apptest.CookieClient(t, ts, apptest.CookieValue(t, bob.Client))
				c.Header.Set("If-None-Match", tag)
				rvWantOK(t, c.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
			}
		})
	})
}

func TestRESTVerifyAPIKey(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		key, id := rvCreateKey(t, bob.Client, "activity.read", "sessions.read")
		bot := apptest.KeyClient(t, ts, key)

		t.Run("an API key: 200, its id and its permissions", func(t *testing.T) {
			rvWantOK(t, bot.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, keyID: id, permissions: "activity.read,sessions.read"})
			adminKey, adminID := rvCreateKey(t, alice.Client, "account.infos")
			rvWantOK(t, apptest.KeyClient(t, ts, adminKey).Do(http.MethodGet, rvPath, nil),
				rvWant{user: alice, admin: true, keyID: adminID, permissions: "account.infos"})
		})
		t.Run("a key without permissions: an empty list, still sent", func(t *testing.T) {
			none, noneID := rvCreateKey(t, bob.Client)
			rvWantOK(t, apptest.KeyClient(t, ts, none).Do(http.MethodGet, rvPath, nil), rvWant{user: bob, keyID: noneID, permissions: ""})
			rvWantRefused(t, apptest.KeyClient(t, ts, none).Do(http.MethodGet, rvPath+rvQuery("activity.read"), nil),
				http.StatusForbidden, "you do not have permission to perform this action: activity.read")
		})
		t.Run("the header wins over the cookie", func(t *testing.T) {
			c := apptest.CookieClient(t, ts, apptest.CookieValue(t, alice.Client))
			c.Bearer = key
			rvWantOK(t, c.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, keyID: id, permissions: "activity.read,sessions.read"})
		})
		t.Run("permissions held: 200; one not held: 403 naming it", func(t *testing.T) {
			want := rvWant{user: bob, keyID: id, permissions: "activity.read,sessions.read"}
			rvWantOK(t, bot.Do(http.MethodGet, rvPath+rvQuery("activity.read"), nil), want)
			rvWantOK(t, bot.Do(http.MethodGet, rvPath+rvQuery("sessions.read", "activity.read"), nil), want)
			rvWantOK(t, bot.Do(http.MethodGet, rvPath+rvQuery("activity.read", "activity.read"), nil), want)
			rvWantRefused(t, bot.Do(http.MethodGet, rvPath+rvQuery("sessions.delete"), nil),
				http.StatusForbidden, "you do not have permission to perform this action: sessions.delete")
			rvWantRefused(t, bot.Do(http.MethodGet, rvPath+rvQuery("activity.read", "sessions.delete", "sessions.read"), nil),
				http.StatusForbidden, "you do not have permission to perform this action: sessions.delete")
			head := rvHead(bot).Do(http.MethodHead, rvPath+rvQuery("api-keys.read"), nil)
			apptest.WantStatus(t, head, http.StatusForbidden)
			if len(head.Body) != 0 || head.Header.Get("X-Auth-User-Id") != "" {
				t.Errorf("HEAD refused: %v %q", head.Header, head.Body)
			}
		})
		t.Run("networks: the key's allowed_ips hold", func(t *testing.T) {
			far := apptest.APIKey(t, ts, bob.ID, apptest.KeyOpts{AllowedIPs: []string{"203.0.113.0/24"}})
			rvWantRefused(t, apptest.KeyClient(t, ts, far).Do(http.MethodGet, rvPath, nil),
				http.StatusForbidden, "ip address not allowed for this api key")
			near := apptest.APIKey(t, ts, bob.ID, apptest.KeyOpts{AllowedIPs: []string{"127.0.0.1/32"}})
			rvWantOK(t, apptest.KeyClient(t, ts, near).Do(http.MethodGet, rvPath, nil),
				rvWant{user: bob, keyID: rakID(t, ts, near), permissions: ""})
		})
	})
}

func TestRESTVerifyQuery(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		bob := apptest.Register(t, ts, "bob", "bob password")
		bot := apptest.KeyClient(t, ts, rakKey(t, ts, bob.ID, "activity.read"))
		for _, c := range []*apptest.Client{bob.Client, bot} {
			// An unknown name is a mistake in the proxy's configuration,
			// not a permission nobody holds, and is refused before the
			// permissions are checked.
			rvWantRefused(t, c.Do(http.MethodGet, rvPath+rvQuery("activity.raed"), nil),
				http.StatusBadRequest, "permission: invalid permission: activity.raed")
			rvWantRefused(t, c.Do(http.MethodGet, rvPath+rvQuery("sessions.delete", "nope", ""), nil),
				http.StatusBadRequest, "permission: invalid permission: nope", "permission: invalid permission: ")
			// The names are the catalog's user permissions: admin and
			// server permissions are not checked here.
			rvWantRefused(t, c.Do(http.MethodGet, rvPath+rvQuery("users.read"), nil),
				http.StatusBadRequest, "permission: invalid permission: users.read")
			// A misspelled parameter must not drop the check.
			rvWantRefused(t, c.Do(http.MethodGet, rvPath+"?permissions=activity.read&x=1", nil),
				http.StatusBadRequest, "permissions: unknown parameter", "x: unknown parameter")
			rvWantRefused(t, c.Do(http.MethodGet, rvPath+"?permission=%zz", nil), http.StatusBadRequest, "invalid query string")
		}
		// Authentication comes first: without credentials the query is
		// not looked at.
		rvWantRefused(t, ts.Client(t).Do(http.MethodGet, rvPath+rvQuery("nope"), nil), http.StatusUnauthorized, "missing authorization")
	})
}

func TestRESTVerifyRefusals(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")

		t.Run("no or junk credentials: 401", func(t *testing.T) {
			rvWantRefused(t, ts.Client(t).Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "missing authorization")
			for cookie, msg := range map[string]string{
				"junk":                        "invalid authorization cookie",
				secret.RandomString(48):       "invalid session",
				secret.RandomString(47):       "invalid authorization cookie",
				secret.RandomString(47) + "-": "invalid authorization cookie",
			} {
				rvWantRefused(t, apptest.CookieClient(t, ts, cookie).Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, msg)
			}
			for header, msg := range map[string]string{
				"Bearer c7sp_" + secret.RandomString(43): "invalid api key",
				"Bearer c7sp_" + secret.RandomString(42): "invalid authorization header",
				"Basic Ym9iOmJvYiBwYXNzd29yZA==":         "invalid authorization header",
				"":                                       "invalid authorization header",
			} {
				c := ts.Client(t)
				c.Header.Set("Authorization", header)
				rvWantRefused(t, c.Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, msg)
			}
		})
		t.Run("a revoked session: 401 on the very next request", func(t *testing.T) {
			other, res := apptest.Login(t, ts, "bob", bob.Password)
			apptest.WantStatus(t, res, http.StatusOK)
			rvWantOK(t, other.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
			apptest.WantStatus(t, bob.Do(http.MethodDelete, "/api/client/account/sessions/"+apptest.SessionID(t, ts, other), nil), http.StatusOK)
			rvWantRefused(t, other.Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "invalid session")
		})
		t.Run("after logout: 401", func(t *testing.T) {
			c, res := apptest.Login(t, ts, "bob", bob.Password)
			apptest.WantStatus(t, res, http.StatusOK)
			stale := apptest.CookieClient(t, ts, apptest.CookieValue(t, c))
			rvWantOK(t, stale.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
			apptest.WantStatus(t, c.Do(http.MethodPost, "/api/client/account/logout", nil), http.StatusOK)
			rvWantRefused(t, stale.Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "invalid session")
		})
		t.Run("a deleted, recreated or expired key: 401", func(t *testing.T) {
			key, id := rvCreateKey(t, bob.Client, "activity.read")
			bot := apptest.KeyClient(t, ts, key)
			rvWantOK(t, bot.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, keyID: id, permissions: "activity.read"})
			apptest.WantStatus(t, bob.Do(http.MethodDelete, "/api/client/account/api-keys/"+id, nil), http.StatusOK)
			rvWantRefused(t, bot.Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "invalid api key")

			key, id = rvCreateKey(t, bob.Client)
			rvWantOK(t, apptest.KeyClient(t, ts, key).Do(http.MethodGet, rvPath, nil), rvWant{user: bob, keyID: id})
			fresh := rakRecreate(t, bob.Client, id)
			rvWantRefused(t, apptest.KeyClient(t, ts, key).Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "invalid api key")
			rvWantOK(t, apptest.KeyClient(t, ts, fresh).Do(http.MethodGet, rvPath, nil), rvWant{user: bob, keyID: id})

			past := time.Now().Add(-time.Minute)
			expired := apptest.APIKey(t, ts, bob.ID, apptest.KeyOpts{Expires: &past})
			rvWantRefused(t, apptest.KeyClient(t, ts, expired).Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "invalid api key")
		})
		t.Run("an idle-expired session: 401", func(t *testing.T) {
			c, res := apptest.Login(t, ts, "bob", bob.Password)
			apptest.WantStatus(t, res, http.StatusOK)
			clock.advance(ts.App.Config.SessionDuration + time.Minute)
			rvWantRefused(t, c.Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "invalid session")
		})
	})
}

// TestRESTVerifyAccountStates: the gates of every /api/client route other
// than the account page itself hold here too (REST.md §2): a suspended
// account and one that must enable two-factor first are refused; a frozen
// one, which may not change anything but may still sign in and read, passes.
func TestRESTVerifyAccountStates(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		bot := apptest.KeyClient(t, ts, rakKey(t, ts, bob.ID, "activity.read"))

		restSetFlags(t, ts, bob.ID, false, true, false)
		rvWantOK(t, bob.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
		rvWantOK(t, bot.Do(http.MethodGet, rvPath+rvQuery("activity.read"), nil), rvWant{user: bob, keyID: rakID(t, ts, bot.Bearer), permissions: "activity.read"})

		restSetFlags(t, ts, bob.ID, false, false, true)
		for _, c := range []*apptest.Client{bob.Client, bot} {
			rvWantRefused(t, c.Do(http.MethodGet, rvPath, nil), http.StatusForbidden, "account is suspended")
			rvWantRefused(t, c.Do(http.MethodGet, rvPath+rvQuery("nope"), nil), http.StatusForbidden, "account is suspended")
		}
		restSetFlags(t, ts, bob.ID, false, false, false)
		rvWantOK(t, bob.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
	})
	restServer(t, func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		rvWantRefused(t, bob.Do(http.MethodGet, rvPath, nil), http.StatusForbidden, "two-factor authentication required")
		restEnableTOTP(t, ts, bob.ID)
		rvWantOK(t, bob.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
	})
}

func TestRESTVerifyMethods(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		bob := apptest.Register(t, ts, "bob", "bob password")
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			res := bob.Do(method, rvPath, nil)
			rvWantRefused(t, res, http.StatusMethodNotAllowed, "method not allowed")
			if allow := res.Header.Get("Allow"); allow != "GET, HEAD" {
				t.Errorf("%s: Allow %q, want GET, HEAD", method, allow)
			}
		}
		rvWantRefused(t, bob.Do(http.MethodGet, rvPath+"/", nil), http.StatusNotFound, "route not found")
	})
}

// TestRESTVerifyNeverShowsTheCredential: neither the headers nor the body
// of any answer hold the cookie or the key, not even when the session's
// use is recorded, when every other route re-issues the cookie (sliding
// expiry); the use is still recorded.
func TestRESTVerifyNeverShowsTheCredential(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		cookie := apptest.CookieValue(t, bob.Client)
		key, _ := rvCreateKey(t, bob.Client, "activity.read")
		secrets := append(rakSecretForms(key), cookie, cookie[16:])
		check := func(t *testing.T, res *apptest.Response) {
			t.Helper()
			var all strings.Builder
			for name, values := range res.Header {
				all.WriteString(name + ": " + strings.Join(values, ", ") + "\n")
			}
			all.Write(res.Body)
			for _, s := range secrets {
				if strings.Contains(all.String(), s) {
					t.Errorf("%d answer holds a credential (%q…):\n%s", res.Status, s[:8], all.String())
				}
			}
		}
		lastUsed := func() time.Time {
			var at time.Time
			err := ts.App.DB.NewSelect().Table("sessions").Column("last_used").Where("key_start = ?", cookie[:16]).
				Scan(context.Background(), &at)
			if err != nil {
				t.Fatal(err)
			}
			return at
		}

		c := apptest.CookieClient(t, ts, cookie)
		for _, path := range []string{rvPath, rvPath + rvQuery("activity.read"), rvPath + rvQuery("nope"), rvPath + "?x=1"} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				client := func(c *apptest.Client) *apptest.Client {
					if method == http.MethodHead {
						return rvHead(c)
					}
					return c
				}
				// Each request a minute after the last: the session's use
				// is recorded every time.
				clock.advance(time.Minute)
				before := lastUsed()
				check(t, client(c).Do(method, path, nil))
				if !lastUsed().After(before) {
					t.Errorf("%s %s: the session's use was not recorded", method, path)
				}
				check(t, client(apptest.KeyClient(t, ts, key)).Do(method, path, nil))
			}
		}
		// Refused because of the account, after authentication succeeded.
		restSetFlags(t, ts, bob.ID, false, false, true)
		clock.advance(time.Minute)
		res := c.Do(http.MethodGet, rvPath, nil)
		apptest.WantStatus(t, res, http.StatusForbidden)
		check(t, res)
		restSetFlags(t, ts, bob.ID, false, false, false)
		// The check is not vacuous: the account route re-issues the cookie
		// under the same conditions.
		clock.advance(time.Minute)
		if res := c.Do(http.MethodGet, "/api/client/account", nil); !strings.Contains(strings.Join(res.Header.Values("Set-Cookie"), ""), cookie) {
			t.Errorf("GET /api/client/account did not re-issue the cookie: %v", res.Header)
		}
		apptest.NoSecrets(t, ts, key, cookie)
	})
}

// TestRESTVerifyCost: after a credential's first use, each check is one
// SQL query and no write, with the per-IP limit on as in production (on
// PostgreSQL its shared counter would otherwise write a lease now and
// then).
func TestRESTVerifyCost(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) {
		cfg.RateLimit = true
		cfg.RateLimits[web.RateClient] = web.RateRule{Limit: 1, Window: time.Hour}
	}, func(t *testing.T, ts *apptest.Server) {
		bob := apptest.Register(t, ts, "bob", "bob password")
		bot := apptest.KeyClient(t, ts, rakKey(t, ts, bob.ID, "activity.read"))
		for _, c := range []*apptest.Client{bob.Client, bot} {
			apptest.WantStatus(t, c.Do(http.MethodGet, rvPath, nil), http.StatusOK) // may record the first use
			const n = 20
			q0, w0 := ts.App.DB.Queries(), ts.App.DB.Writes()
			for i := range n {
				query := ""
				if i%2 == 0 {
					query = rvQuery("activity.read")
				}
				apptest.WantStatus(t, c.Do(http.MethodGet, rvPath+query, nil), http.StatusOK)
			}
			if q, w := ts.App.DB.Queries()-q0, ts.App.DB.Writes()-w0; q != n || w != 0 {
				t.Errorf("%d checks: %d queries and %d writes, want %d and 0", n, q, w, n)
			}
		}
	})
}

// TestRESTVerifyOutsideTheRateLimit: a proxy asks the check about every
// request of the app it protects, assets included, so the check does not
// count against the per-IP request limit (nginx would turn a 429 into a
// 500), and a spent budget does not refuse it; the rest of /api/ stays
// limited. The OpenAPI document says so too.
func TestRESTVerifyOutsideTheRateLimit(t *testing.T) {
	t.Parallel()
	doc, err := openapi3.NewLoader().LoadFromData(rest.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	op := doc.Paths.Find(rvPath).Get
	if limited, ok := op.Extensions["x-per-ip-limit"].(bool); !ok || limited {
		t.Errorf("rest/openapi.json: %s has x-per-ip-limit %v, want false", rvPath, op.Extensions["x-per-ip-limit"])
	}
	if op.Responses.Value("429") != nil {
		t.Errorf("rest/openapi.json documents a 429 for %s", rvPath)
	}
	const limit = 3
	restServer(t, func(cfg *app.Config) {
		cfg.RateLimit = true
		cfg.RateLimits[web.RateClient] = web.RateRule{Limit: limit, Window: time.Hour}
	}, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "alice", "alice password") // sign-up has a limit of its own
		bob := apptest.Register(t, ts, "bob", "bob password")
		anon := ts.Client(t)
		for range 3 * limit {
			res := bob.Do(http.MethodGet, rvPath, nil)
			rvWantOK(t, res, rvWant{user: bob, permissions: "*"})
			if v := res.Header.Get("X-RateLimit-Limit"); v != "" {
				t.Errorf("X-RateLimit-Limit %q on the check", v)
			}
			rvWantRefused(t, anon.Do(http.MethodGet, rvPath, nil), http.StatusUnauthorized, "missing authorization")
		}
		for range limit {
			apptest.WantStatus(t, bob.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
		}
		apptest.WantErrorPrefixes(t, bob.Do(http.MethodGet, "/api/client/account", nil), http.StatusTooManyRequests, "you are ratelimited, retry in ")
		rvWantOK(t, bob.Do(http.MethodGet, rvPath, nil), rvWant{user: bob, permissions: "*"})
	})
}
