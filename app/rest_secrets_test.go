package app_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestRESTNoSecretInLogs runs every REST flow, including failures, and
// then checks that no password, session token, confirmation token or API
// key reached the server log (SECURITY.md "No secret ever appears in a log
// line").
func TestRESTNoSecretInLogs(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *testServer) {
		const (
			alicePW  = "Alice-Pass-4f1e9c"
			aliceNew = "Alice-New-77d0aa"
			bobPW    = "Bob-Pass-2b8e31"
			wrongPW  = "Wrong-Pass-90af3c"
			bodyPW   = "Body-Pass-c3d2e1"
		)
		var secrets []string
		alice := restRegister(t, ts, "alice", alicePW)
		secrets = append(secrets, restCookieValue(t, alice.client))
		bob := restRegister(t, ts, "bob", bobPW)
		secrets = append(secrets, restCookieValue(t, bob.client))

		// Logins: good, bad, by e-mail, two-factor.
		c, res := restLogin(t, ts, "alice@example.com", alicePW)
		restWantStatus(t, res, http.StatusOK)
		secrets = append(secrets, restSessionCookie(t, res).Value)
		_, res = restLogin(t, ts, "alice", wrongPW)
		restWantStatus(t, res, http.StatusBadRequest)
		_, res = restLogin(t, ts, "nobody", wrongPW)
		restWantStatus(t, res, http.StatusBadRequest)
		restEnableTOTP(t, ts, bob.ID)
		_, res = restLogin(t, ts, "bob", bobPW)
		restWantStatus(t, res, http.StatusOK)
		if tok, _ := res.JSON(t)["token"].(string); tok != "" {
			secrets = append(secrets, tok)
		} else {
			t.Errorf("no confirmation token: %s", res.Body)
		}

		// Malformed bodies holding a password.
		for _, body := range []string{`{"user":"alice","password":"` + bodyPW, `{"password":` + bodyPW + `}`, `["` + bodyPW + `"]`} {
			restWantStatus(t, ts.client(t).raw(http.MethodPost, "/api/auth/login", "application/json", strings.NewReader(body)), http.StatusBadRequest)
			restWantStatus(t, alice.raw(http.MethodPut, "/api/client/account/password", "application/json", strings.NewReader(body)), http.StatusBadRequest)
		}
		restWantStatus(t, ts.client(t).raw(http.MethodPost, "/api/auth/login", "text/plain", strings.NewReader(bodyPW)), http.StatusBadRequest)

		// API keys: good, unknown, from a refused address.
		key := restAPIKey(t, ts, alice.ID, restKeyOpts{UserPermissions: []string{"account.infos"}})
		refused := restAPIKey(t, ts, alice.ID, restKeyOpts{AllowedIPs: []string{"10.0.0.0/8"}})
		unknown := "c7sp_" + strings.Repeat("Zz9", 14) + "Z"
		secrets = append(secrets, key, refused, unknown)
		restWantStatus(t, restKeyClient(t, ts, key).do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "K"}), http.StatusOK)
		restWantStatus(t, restKeyClient(t, ts, refused).do(http.MethodGet, "/api/client/account", nil), http.StatusForbidden)
		restWantStatus(t, restKeyClient(t, ts, unknown).do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		restWantStatus(t, restKeyClient(t, ts, key).do(http.MethodPost, "/api/client/account/logout", nil), http.StatusBadRequest)

		// Account changes with right and wrong passwords.
		restWantStatus(t, alice.do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "a2@example.com", "password": wrongPW}), http.StatusForbidden)
		restWantStatus(t, alice.do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "a2@example.com", "password": alicePW}), http.StatusOK)
		restWantStatus(t, alice.do(http.MethodPut, "/api/client/account/password", map[string]any{"password": wrongPW, "new_password": aliceNew}), http.StatusForbidden)
		restWantStatus(t, alice.do(http.MethodPut, "/api/client/account/password", map[string]any{"password": alicePW, "new_password": "short"}), http.StatusBadRequest)
		restWantStatus(t, alice.do(http.MethodPut, "/api/client/account/password", map[string]any{"password": alicePW, "new_password": aliceNew}), http.StatusOK)

		// Revoked and forged cookies.
		restWantStatus(t, c.do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		forged := strings.Repeat("Ab1", 16)
		secrets = append(secrets, forged)
		restWantStatus(t, restCookieClient(t, ts, forged).do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized)
		restWantStatus(t, alice.do(http.MethodPost, "/api/client/account/logout", nil), http.StatusOK)

		restNoSecrets(t, ts, append(secrets, alicePW, aliceNew, bobPW, wrongPW, bodyPW, "JBSWY3DPEHPK3PXP")...)
		// Digests are secrets too in a sense; make sure the key's lookup
		// prefix is the most that is logged.
		for _, s := range secrets {
			if len(s) > 20 && strings.Contains(ts.LogText(), s[len(s)-20:]) {
				t.Errorf("the log holds the tail of a credential")
			}
		}
	})
}
