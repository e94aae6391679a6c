package rest_test

// GET /api/client/account/two-factor writes the pending secret, so it is
// guarded like a state-changing request: a browser request from another
// site is refused (a link there cannot break a setup in progress), and
// the secret stays the same while it is young (a reload shows the secret
// the user has just scanned).

import (
	"net/http"
	"testing"
	"time"

	"accountd/account"
	"accountd/app/apptest"
)

func TestRESTTwoFactorSetupCrossSiteAndStable(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		cookie := apptest.CookieValue(t, alice.Client)
		// browser is a client sending the session cookie with the
		// headers a browser adds.
		browser := func(site, origin string) *apptest.Client {
			c := apptest.CookieClient(t, ts, cookie)
			if site != "" {
				c.Header.Set("Sec-Fetch-Site", site)
			}
			if origin != "" {
				c.Header.Set("Origin", origin)
			}
			return c
		}
		// pending is the stored pending secret and when it was made.
		pending := func(t *testing.T) [2]string {
			t.Helper()
			return [2]string{apptest.TwoFactorSnapshot(t, ts, alice.ID).Secret, apptest.PendingSecretCreated(t, ts, alice.ID)}
		}

		var first string
		t.Run("no browser headers: twice the same secret", func(t *testing.T) {
			first = rtfSetup(t, alice.Client, alice.Email)
			if again := rtfSetup(t, alice.Client, alice.Email); again != first {
				t.Errorf("a second GET returned another secret")
			}
			if got := pending(t); got[0] != first || got[1] == "" {
				t.Errorf("stored %q, want the secret with its creation time", got)
			}
		})

		t.Run("same-origin browser GET: the same secret", func(t *testing.T) {
			if got := rtfSetup(t, browser("same-origin", ""), alice.Email); got != first {
				t.Errorf("same-origin GET returned another secret")
			}
			if got := rtfSetup(t, browser("", ts.URL), alice.Email); got != first {
				t.Errorf("GET with a matching Origin returned another secret")
			}
		})

		// From here the pending secret has expired, so a GET that got
		// through would replace it: the refusals below must leave it.
		apptest.AgePendingSecret(t, ts, alice.ID, account.PendingTwoFactorLifetime+time.Minute)
		for _, tc := range []struct{ name, site, origin string }{
			{"cross-site", "cross-site", ""},
			{"cross-site with an Origin", "cross-site", "https://evil.example"},
			{"same-site, another origin", "same-site", "http://evil.localhost"},
			{"no Sec-Fetch-Site, another Origin", "", "https://evil.example"},
		} {
			t.Run("refused: "+tc.name, func(t *testing.T) {
				before, tf := pending(t), apptest.TwoFactorSnapshot(t, ts, alice.ID)
				c := browser(tc.site, tc.origin)
				res := c.Do(http.MethodGet, apptest.TwoFactorPath, nil)
				apptest.WantErrors(t, res, http.StatusForbidden, "cross-origin request refused")
				restNoSessionCookie(t, res)
				head := c.WithoutOpenAPI("the kit's check expects a body, which HEAD answers have not")
				if res := head.Do(http.MethodHead, apptest.TwoFactorPath, nil); res.Status != http.StatusForbidden {
					t.Errorf("HEAD: %d, want 403", res.Status)
				}
				if after := pending(t); after != before {
					t.Errorf("the pending secret changed: %q → %q", before, after)
				}
				apptest.TwoFactorUnchanged(t, ts, alice.ID, tf)
			})
		}

		var second string
		t.Run("after the lifetime: a new secret, then kept", func(t *testing.T) {
			second = rtfSetup(t, browser("same-origin", ""), alice.Email)
			if second == first {
				t.Fatal("an expired pending secret was handed out again")
			}
			if again := rtfSetup(t, alice.Client, alice.Email); again != second {
				t.Errorf("the new secret is not kept")
			}
		})

		t.Run("a trusted origin (APP_URL) may, as for a POST", func(t *testing.T) {
			if got := rtfSetup(t, browser("cross-site", "http://localhost:8000"), alice.Email); got != second {
				t.Errorf("got another secret")
			}
		})

		t.Run("enabling takes a code of the secret shown twice", func(t *testing.T) {
			otp := &apptest.OTP{Secret: second}
			code, step := otp.Next(t)
			apptest.WantRecoveryCodes(t, alice.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": code, "password": alice.Password}))
			otp.Accepted(step)
			if st := apptest.TwoFactorSnapshot(t, ts, alice.ID); !st.Enabled || st.Secret != second {
				t.Errorf("enabled %v with %q, want the kept secret", st.Enabled, st.Secret)
			}
		})
	})
}
