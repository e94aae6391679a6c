package rest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"accountd/app/apptest"
	"accountd/secret"
)

func TestRESTLogin(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		// RegisterREST gives Alice the e-mail alice@example.com.
		alice := apptest.Register(t, ts, "Alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		aliceUUID := restAccount(t, alice.Client)["uuid"]

		t.Run("success", func(t *testing.T) {
			for _, login := range []string{"Alice", "alice", "ALICE", "aLiCe", "alice@example.com", "ALICE@EXAMPLE.COM", "Alice@Example.Com"} {
				t.Run(login, func(t *testing.T) {
					before := time.Now()
					c, res := apptest.Login(t, ts, login, "alice password")
					if res.Status != http.StatusOK {
						t.Fatalf("login: %d %s", res.Status, res.Body)
					}
					body := res.JSON(t)
					apptest.WantKeys(t, "login body", body, []string{"type", "user"})
					if body["type"] != "completed" {
						t.Errorf("type = %v, want completed", body["type"])
					}
					u, _ := body["user"].(map[string]any)
					restCheckFullUser(t, u)
					if u["uuid"] != aliceUUID || u["username"] != "Alice" || u["email"] != "alice@example.com" {
						t.Errorf("logged in as %v", u)
					}
					ck := restSessionCookie(t, res)
					if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
						t.Errorf("cookie attributes: %q", res.Header.Values("Set-Cookie"))
					}
					if d := ck.Expires.Sub(before.Add(168 * time.Hour)); d < -time.Minute || d > time.Minute {
						t.Errorf("cookie Expires %v, want ≈ now+168h", ck.Expires)
					}
					// The new session works on its own, independent of the jar.
					if restAccount(t, c)["uuid"] != aliceUUID {
						t.Errorf("session of the login is not Alice's")
					}
					if restAccount(t, apptest.CookieClient(t, ts, ck.Value))["uuid"] != aliceUUID {
						t.Errorf("cookie value does not authenticate")
					}
				})
			}
		})

		t.Run("each login is a new session", func(t *testing.T) {
			_, a := apptest.Login(t, ts, "alice", "alice password")
			_, b := apptest.Login(t, ts, "alice", "alice password")
			if restSessionCookie(t, a).Value == restSessionCookie(t, b).Value {
				t.Errorf("two logins got the same session token")
			}
		})

		t.Run("failures are indistinguishable", func(t *testing.T) {
			var first []byte
			for _, tc := range []struct {
				name string
				body map[string]any
			}{
				{"wrong password", map[string]any{"user": "alice", "password": "wrong password"}},
				{"wrong password by email", map[string]any{"user": "alice@example.com", "password": "wrong password"}},
				{"password of another user", map[string]any{"user": "alice", "password": "bob password"}},
				{"password case", map[string]any{"user": "alice", "password": "ALICE PASSWORD"}},
				{"password prefix", map[string]any{"user": "alice", "password": "alice passwor"}},
				{"unknown user", map[string]any{"user": "nobody", "password": "alice password"}},
				{"unknown email", map[string]any{"user": "nobody@example.com", "password": "alice password"}},
				{"username with @ is an email lookup", map[string]any{"user": "alice@", "password": "alice password"}},
				{"missing user", map[string]any{"password": "alice password"}},
				{"missing password", map[string]any{"user": "alice"}},
				{"empty password", map[string]any{"user": "alice", "password": ""}},
				{"empty object", map[string]any{}},
				{"overlong password", map[string]any{"user": "alice", "password": strings.Repeat("p", 513)}},
				{"overlong user", map[string]any{"user": strings.Repeat("u", 300), "password": "alice password"}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					res := ts.Client(t).Do(http.MethodPost, "/api/auth/login", tc.body)
					apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
					restNoSessionCookie(t, res)
					if first == nil {
						first = res.Body
					} else if !bytes.Equal(first, res.Body) {
						t.Errorf("body %s differs from %s", res.Body, first)
					}
				})
			}
		})

		t.Run("a failed login leaves the account usable", func(t *testing.T) {
			if _, res := apptest.Login(t, ts, "bob", "bob password"); res.Status != http.StatusOK {
				t.Errorf("bob login: %d %s", res.Status, res.Body)
			}
			restAccount(t, bob.Client)
		})

		t.Run("two-factor required", func(t *testing.T) {
			restEnableTOTP(t, ts, bob.ID)
			for _, login := range []string{"bob", "BOB", "bob@example.com"} {
				t.Run(login, func(t *testing.T) {
					_, res := apptest.Login(t, ts, login, "bob password")
					if res.Status != http.StatusOK {
						t.Fatalf("login: %d %s", res.Status, res.Body)
					}
					body := res.JSON(t)
					apptest.WantKeys(t, "two-factor body", body, []string{"type", "user", "token"})
					if body["type"] != "two_factor_required" {
						t.Errorf("type = %v", body["type"])
					}
					u, _ := body["user"].(map[string]any)
					apptest.WantKeys(t, "User", u, restPublicUserKeys)
					if s, _ := u["uuid"].(string); !restUUIDRE.MatchString(s) || s != apptest.UserID(t, ts, "bob").String() {
						t.Errorf("uuid = %v", u["uuid"])
					}
					if u["username"] != "bob" || u["totp_enabled"] != true {
						t.Errorf("user = %v", u)
					}
					if v, ok := u["avatar"]; !ok || v != nil {
						t.Errorf("avatar = %#v", v)
					}
					restCheckTimestamp(t, "created", u["created"], time.Hour)
					tok, _ := body["token"].(string)
					if len(tok) != 48 || !secret.IsAlphanumeric(tok) {
						t.Errorf("token %q: want 48 alphanumerics", tok)
					}
					if len(res.Header.Values("Set-Cookie")) != 0 {
						t.Errorf("Set-Cookie on two_factor_required: %q", res.Header.Values("Set-Cookie"))
					}
					// The token is no session.
					apptest.WantErrors(t, apptest.CookieClient(t, ts, tok).Do(http.MethodGet, "/api/client/account", nil),
						http.StatusUnauthorized, "invalid session")
				})
			}
			t.Run("wrong password still fails the same way", func(t *testing.T) {
				_, res := apptest.Login(t, ts, "bob", "wrong password")
				apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
				if bytes.Contains(res.Body, []byte("two_factor")) {
					t.Errorf("failure reveals two-factor: %s", res.Body)
				}
			})
		})

		t.Run("no password or token in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, "alice password", "bob password", "wrong password", "JBSWY3DPEHPK3PXP")
		})
	})
}
