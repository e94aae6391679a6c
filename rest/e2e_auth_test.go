package rest_test

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/secret"
)

// restClientRoutes are the authenticated routes, with a body each accepts.
var restClientRoutes = []struct {
	method, path string
	body         any
}{
	{http.MethodGet, "/api/client/account", nil},
	{http.MethodPatch, "/api/client/account", map[string]any{}},
	{http.MethodPut, "/api/client/account/email", map[string]any{"email": "x@example.com", "password": "x"}},
	{http.MethodPut, "/api/client/account/password", map[string]any{"password": "x", "new_password": "xxxxxxxx"}},
	{http.MethodPost, "/api/client/account/logout", nil},
	{http.MethodGet, "/api/client/permissions", nil},
}

func TestRESTAuthCredentials(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		aliceCookie := apptest.CookieValue(t, alice.Client)

		type tc struct {
			name   string
			header map[string]string
			want   string
		}
		cases := []tc{
			{"no credentials", nil, "missing authorization"},
			{"cookie: too short", map[string]string{"Cookie": apptest.CookieName + "=abc"}, "invalid authorization cookie"},
			{"cookie: empty", map[string]string{"Cookie": apptest.CookieName + "="}, "invalid authorization cookie"},
			{"cookie: 47 chars", map[string]string{"Cookie": apptest.CookieName + "=" + secret.RandomString(47)}, "invalid authorization cookie"},
			{"cookie: 49 chars", map[string]string{"Cookie": apptest.CookieName + "=" + secret.RandomString(49)}, "invalid authorization cookie"},
			{"cookie: non-alphanumeric", map[string]string{"Cookie": apptest.CookieName + "=" + secret.RandomString(47) + "-"}, "invalid authorization cookie"},
			{"cookie: unknown session", map[string]string{"Cookie": apptest.CookieName + "=" + secret.RandomString(48)}, "invalid session"},
			{"cookie: right key_start, wrong rest", map[string]string{"Cookie": apptest.CookieName + "=" + aliceCookie[:16] + secret.RandomString(32)}, "invalid session"},
			{"cookie: other name is no credential", map[string]string{"Cookie": "session=" + aliceCookie}, "missing authorization"},
			{"header: empty", map[string]string{"Authorization": ""}, "invalid authorization header"},
			{"header: Bearer only", map[string]string{"Authorization": "Bearer"}, "invalid authorization header"},
			{"header: Bearer space", map[string]string{"Authorization": "Bearer "}, "invalid authorization header"},
			{"header: Basic", map[string]string{"Authorization": "Basic YWxpY2U6YWxpY2UgcGFzc3dvcmQ="}, "invalid authorization header"},
			{"header: no scheme", map[string]string{"Authorization": "c7sp_" + secret.RandomString(43)}, "invalid authorization header"},
			{"header: wrong prefix", map[string]string{"Authorization": "Bearer c7sq_" + secret.RandomString(43)}, "invalid authorization header"},
			{"header: 42 chars", map[string]string{"Authorization": "Bearer c7sp_" + secret.RandomString(42)}, "invalid authorization header"},
			{"header: 44 chars", map[string]string{"Authorization": "Bearer c7sp_" + secret.RandomString(44)}, "invalid authorization header"},
			{"header: non-alphanumeric", map[string]string{"Authorization": "Bearer c7sp_" + secret.RandomString(42) + "_"}, "invalid authorization header"},
			{"header: session token as bearer", map[string]string{"Authorization": "Bearer " + aliceCookie}, "invalid authorization header"},
			{"header: unknown key", map[string]string{"Authorization": "Bearer c7sp_" + secret.RandomString(43)}, "invalid api key"},
			{"header: lower-case scheme, unknown key", map[string]string{"Authorization": "bearer c7sp_" + secret.RandomString(43)}, "invalid api key"},
			{"header wins over a valid cookie: unknown key", map[string]string{"Cookie": apptest.CookieName + "=" + aliceCookie,
				"Authorization": "Bearer c7sp_" + secret.RandomString(43)}, "invalid api key"},
			{"header wins over a valid cookie: malformed", map[string]string{"Cookie": apptest.CookieName + "=" + aliceCookie,
				"Authorization": "Token abc"}, "invalid authorization header"},
			{"header wins over a valid cookie: empty", map[string]string{"Cookie": apptest.CookieName + "=" + aliceCookie,
				"Authorization": ""}, "invalid authorization header"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				cl := ts.Client(t)
				cl.HTTP.Jar = nil
				for k, v := range c.header {
					cl.Header[k] = []string{v}
				}
				for _, r := range restClientRoutes {
					res := cl.Do(r.method, r.path, r.body)
					apptest.WantErrors(t, res, http.StatusUnauthorized, c.want)
					if t.Failed() {
						t.Fatalf("on %s %s", r.method, r.path)
					}
				}
			})
		}
		t.Run("the valid cookie alone works", func(t *testing.T) {
			if restAccount(t, apptest.CookieClient(t, ts, aliceCookie))["username"] != "alice" {
				t.Errorf("cookie does not authenticate")
			}
		})
		t.Run("no credential in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, aliceCookie, "alice password", "YWxpY2U6YWxpY2UgcGFzc3dvcmQ=")
		})
	})
}

func TestRESTLogout(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		other, _ := apptest.Login(t, ts, "alice", "alice password")
		old := apptest.CookieValue(t, alice.Client)

		t.Run("logout", func(t *testing.T) {
			res := alice.Do(http.MethodPost, "/api/client/account/logout", nil)
			apptest.WantEmpty(t, res)
			var cleared bool
			for _, ck := range restSetCookies(t, res) {
				if ck.Name != apptest.CookieName {
					continue
				}
				if ck.Value != "" {
					t.Errorf("cleared cookie still has a value: %q", res.Header.Values("Set-Cookie"))
				}
				if ck.MaxAge < 0 || (!ck.Expires.IsZero() && ck.Expires.Before(time.Now())) {
					cleared = true
				}
				if ck.Path != "/" || !ck.HttpOnly {
					t.Errorf("clearing cookie must match the original's Path/HttpOnly: %q", res.Header.Values("Set-Cookie"))
				}
			}
			if !cleared {
				t.Errorf("logout did not clear the cookie: %q", res.Header.Values("Set-Cookie"))
			}
		})
		t.Run("the browser is signed out", func(t *testing.T) {
			apptest.WantErrors(t, alice.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "missing authorization")
		})
		t.Run("the old cookie value is dead at once", func(t *testing.T) {
			replay := apptest.CookieClient(t, ts, old)
			for _, r := range restClientRoutes {
				apptest.WantErrors(t, replay.Do(r.method, r.path, r.body), http.StatusUnauthorized, "invalid session")
			}
		})
		t.Run("other sessions survive", func(t *testing.T) {
			restAccount(t, other)
		})
		t.Run("logging out twice", func(t *testing.T) {
			c := apptest.CookieClient(t, ts, apptest.CookieValue(t, other))
			apptest.WantEmpty(t, c.Do(http.MethodPost, "/api/client/account/logout", nil))
			apptest.WantErrors(t, c.Do(http.MethodPost, "/api/client/account/logout", nil), http.StatusUnauthorized, "invalid session")
		})
		t.Run("logout ignores a body", func(t *testing.T) {
			c, _ := apptest.Login(t, ts, "alice", "alice password")
			apptest.WantEmpty(t, c.Raw(http.MethodPost, "/api/client/account/logout", "text/plain", strings.NewReader("bye")))
		})
		t.Run("under an API key", func(t *testing.T) {
			key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"account.infos"}})
			kc := apptest.KeyClient(t, ts, key)
			res := kc.Do(http.MethodPost, "/api/client/account/logout", nil)
			apptest.WantErrors(t, res, http.StatusBadRequest, "unable to log out when not using session authentication")
			restNoSessionCookie(t, res)
			// The key keeps working.
			restAccount(t, kc)
			// Also when a session cookie is sent along: the header wins.
			c, _ := apptest.Login(t, ts, "alice", "alice password")
			c.Bearer = key
			apptest.WantErrors(t, c.Do(http.MethodPost, "/api/client/account/logout", nil),
				http.StatusBadRequest, "unable to log out when not using session authentication")
			c.Bearer = ""
			restAccount(t, c)
			apptest.NoSecrets(t, ts, key, old, "alice password")
		})
	})
}

func TestRESTAPIKeyAuth(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		ctx := context.Background()

		t.Run("valid key", func(t *testing.T) {
			key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})
			u := restAccount(t, apptest.KeyClient(t, ts, key))
			restCheckFullUser(t, u)
			if u["username"] != "alice" {
				t.Errorf("key authenticates as %v", u["username"])
			}
			// An API key never gets a cookie.
			res := apptest.KeyClient(t, ts, key).Do(http.MethodGet, "/api/client/account", nil)
			restNoSessionCookie(t, res)
		})
		t.Run("expired key", func(t *testing.T) {
			past := time.Now().Add(-time.Minute).UTC()
			key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{Expires: &past})
			apptest.WantErrors(t, apptest.KeyClient(t, ts, key).Do(http.MethodGet, "/api/client/account", nil),
				http.StatusUnauthorized, "invalid api key")
		})
		t.Run("key not yet expired", func(t *testing.T) {
			future := time.Now().Add(time.Hour).UTC()
			key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{Expires: &future})
			restAccount(t, apptest.KeyClient(t, ts, key))
		})
		t.Run("deleted key fails on the next request", func(t *testing.T) {
			key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})
			kc := apptest.KeyClient(t, ts, key)
			restAccount(t, kc)
			if _, err := ts.App.DB.NewDelete().Table("api_keys").Where("key_start = ?", key[:16]).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			apptest.WantErrors(t, kc.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid api key")
		})
		t.Run("right key_start, wrong secret", func(t *testing.T) {
			key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})
			forged := key[:16] + secret.RandomString(len(key)-16)
			apptest.WantErrors(t, apptest.KeyClient(t, ts, forged).Do(http.MethodGet, "/api/client/account", nil),
				http.StatusUnauthorized, "invalid api key")
		})

		t.Run("allowed_ips", func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				allowed []string
				xff     string
				ok      bool
			}{
				{"empty list allows all", nil, "", true},
				{"loopback allowed", []string{"127.0.0.0/8"}, "", true},
				{"exact host allowed", []string{"10.0.0.1/32", "127.0.0.1/32"}, "", true},
				{"not in list", []string{"10.0.0.0/8"}, "", false},
				{"forged X-Forwarded-For from an untrusted peer", []string{"10.0.0.0/8"}, "10.1.1.1", false},
				{"forged X-Forwarded-For chain", []string{"10.0.0.0/8"}, "10.1.1.1, 10.2.2.2", false},
				{"IPv6 list only", []string{"2001:db8::/32"}, "", false},
			} {
				t.Run(tc.name, func(t *testing.T) {
					key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{AllowedIPs: tc.allowed})
					kc := apptest.KeyClient(t, ts, key)
					if tc.xff != "" {
						kc.Header.Set("X-Forwarded-For", tc.xff)
					}
					for _, r := range restClientRoutes[:1] {
						res := kc.Do(r.method, r.path, r.body)
						if tc.ok {
							apptest.WantStatus(t, res, http.StatusOK)
						} else {
							apptest.WantErrors(t, res, http.StatusForbidden, "ip address not allowed for this api key")
						}
					}
					// The check runs on every route, before anything else.
					if !tc.ok {
						for _, r := range restClientRoutes[1:] {
							apptest.WantErrors(t, kc.Do(r.method, r.path, r.body), http.StatusForbidden, "ip address not allowed for this api key")
						}
					}
				})
			}
		})
	})
}

func TestRESTAPIKeyTrustedProxy(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{AllowedIPs: []string{"10.0.0.0/8"}})
		for _, tc := range []struct {
			name string
			xff  []string
			ok   bool
		}{
			{"no header: the proxy itself", nil, false},
			{"client in the list", []string{"10.1.1.1"}, true},
			{"client in the list behind a second trusted proxy", []string{"10.1.1.1, 127.0.0.2"}, true},
			{"right-most untrusted entry decides (allowed)", []string{"203.0.113.9, 10.1.1.1"}, true},
			{"right-most untrusted entry decides (refused)", []string{"10.1.1.1, 203.0.113.9"}, false},
			{"several header lines", []string{"10.9.9.9", "203.0.113.9"}, false},
			{"client outside the list", []string{"192.0.2.1"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				kc := apptest.KeyClient(t, ts, key)
				if tc.xff != nil {
					kc.Header["X-Forwarded-For"] = tc.xff
				}
				res := kc.Do(http.MethodGet, "/api/client/account", nil)
				if tc.ok {
					apptest.WantStatus(t, res, http.StatusOK)
				} else {
					apptest.WantErrors(t, res, http.StatusForbidden, "ip address not allowed for this api key")
				}
			})
		}
	})
}

func TestRESTCustomCookieName(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.SessionCookie = "panel_sid" }, func(t *testing.T, ts *apptest.Server) {
		res := ts.Client(t).Do(http.MethodPost, "/api/auth/register", restRegisterBody("alice", "alice@example.com"))
		apptest.WantStatus(t, res, http.StatusOK)
		var value string
		for _, ck := range restSetCookies(t, res) {
			switch ck.Name {
			case "panel_sid":
				value = ck.Value
				if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
					t.Errorf("cookie attributes: %q", res.Header.Values("Set-Cookie"))
				}
			case apptest.CookieName:
				t.Errorf("the default cookie name is set: %q", res.Header.Values("Set-Cookie"))
			}
		}
		if value == "" {
			t.Fatalf("no panel_sid cookie: %q", res.Header.Values("Set-Cookie"))
		}
		c := ts.Client(t)
		c.HTTP.Jar = nil
		c.Header.Set("Cookie", "panel_sid="+value)
		restAccount(t, c)
		// The value under the default name is no credential.
		apptest.WantErrors(t, apptest.CookieClient(t, ts, value).Do(http.MethodGet, "/api/client/account", nil),
			http.StatusUnauthorized, "missing authorization")
	})
}
