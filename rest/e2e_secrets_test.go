package rest_test

import (
	"net/http"
	"strings"
	"testing"

	"accountd/app/apptest"
)

// TestRESTNoSecretInLogs runs every REST flow, including failures, and
// then checks that no password, session token, confirmation token or API
// key reached the server log (SECURITY.md "No secret ever appears in a log
// line").
func TestRESTNoSecretInLogs(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		const (
			alicePW  = "Alice-Pass-4f1e9c"
			aliceNew = "Alice-New-77d0aa"
			bobPW    = "Bob-Pass-2b8e31"
			wrongPW  = "Wrong-Pass-90af3c"
			bodyPW   = "Body-Pass-c3d2e1"
		)
		var secrets []string
		alice := apptest.Register(t, ts, "alice", alicePW)
		secrets = append(secrets, apptest.CookieValue(t, alice.Client))
		bob := apptest.Register(t, ts, "bob", bobPW)
		secrets = append(secrets, apptest.CookieValue(t, bob.Client))

		// Logins: good, bad, by e-mail, two-factor.
		c, res := apptest.Login(t, ts, "alice@example.com", alicePW)
		apptest.WantStatus(t, res, http.StatusOK)
		secrets = append(secrets, restSessionCookie(t, res).Value)
		_, res = apptest.Login(t, ts, "alice", wrongPW)
		apptest.WantStatus(t, res, http.StatusBadRequest)
		_, res = apptest.Login(t, ts, "nobody", wrongPW)
		apptest.WantStatus(t, res, http.StatusBadRequest)
		restEnableTOTP(t, ts, bob.ID)
		_, res = apptest.Login(t, ts, "bob", bobPW)
		apptest.WantStatus(t, res, http.StatusOK)
		if tok, _ := res.JSON(t)["token"].(string); tok != "" {
			secrets = append(secrets, tok)
		} else {
			t.Errorf("no confirmation token: %s", res.Body)
		}

		// Malformed bodies holding a password.
		for _, body := range []string{`{"user":"alice","password":"` + bodyPW, `{"password":` + bodyPW + `}`, `["` + bodyPW + `"]`} {
			apptest.WantStatus(t, ts.Client(t).Raw(http.MethodPost, "/api/auth/login", "application/json", strings.NewReader(body)), http.StatusBadRequest)
			apptest.WantStatus(t, alice.Raw(http.MethodPut, "/api/client/account/password", "application/json", strings.NewReader(body)), http.StatusBadRequest)
		}
		apptest.WantStatus(t, ts.Client(t).Raw(http.MethodPost, "/api/auth/login", "text/plain", strings.NewReader(bodyPW)), http.StatusBadRequest)

		// API keys: good, unknown, from a refused address.
		key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"account.infos"}})
		refused := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{AllowedIPs: []string{"10.0.0.0/8"}})
		unknown := "c7sp_" + strings.Repeat("Zz9", 14) + "Z"
		secrets = append(secrets, key, refused, unknown)
		apptest.WantStatus(t, apptest.KeyClient(t, ts, key).Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "K"}), http.StatusOK)
		apptest.WantStatus(t, apptest.KeyClient(t, ts, refused).Do(http.MethodGet, "/api/client/account", nil), http.StatusForbidden)
		apptest.WantStatus(t, apptest.KeyClient(t, ts, unknown).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		apptest.WantStatus(t, apptest.KeyClient(t, ts, key).Do(http.MethodPost, "/api/client/account/logout", nil), http.StatusBadRequest)

		// Account changes with right and wrong passwords.
		apptest.WantStatus(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "a2@example.com", "password": wrongPW}), http.StatusForbidden)
		apptest.WantStatus(t, alice.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "a2@example.com", "password": alicePW}), http.StatusOK)
		apptest.WantStatus(t, alice.Do(http.MethodPut, "/api/client/account/password", map[string]any{"password": wrongPW, "new_password": aliceNew}), http.StatusForbidden)
		apptest.WantStatus(t, alice.Do(http.MethodPut, "/api/client/account/password", map[string]any{"password": alicePW, "new_password": "short"}), http.StatusBadRequest)
		apptest.WantStatus(t, alice.Do(http.MethodPut, "/api/client/account/password", map[string]any{"password": alicePW, "new_password": aliceNew}), http.StatusOK)

		// Revoked and forged cookies.
		apptest.WantStatus(t, c.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		forged := strings.Repeat("Ab1", 16)
		secrets = append(secrets, forged)
		apptest.WantStatus(t, apptest.CookieClient(t, ts, forged).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		apptest.WantStatus(t, alice.Do(http.MethodPost, "/api/client/account/logout", nil), http.StatusOK)

		apptest.NoSecrets(t, ts, append(secrets, alicePW, aliceNew, bobPW, wrongPW, bodyPW, "JBSWY3DPEHPK3PXP")...)
		// Digests are secrets too in a sense; make sure the key's lookup
		// prefix is the most that is logged.
		for _, s := range secrets {
			if len(s) > 20 && strings.Contains(ts.LogText(), s[len(s)-20:]) {
				t.Errorf("the log holds the tail of a credential")
			}
		}
	})
}
