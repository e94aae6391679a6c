package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/passkey/passkeytest"
	"accountd/web"
)

const skAPI = "/api/client/account/security-keys"

// skAnswer has b answer options with cred, as a request body member.
func skAnswer(t *testing.T, b *passkeytest.Client, opts []byte, cred *passkeytest.Credential, create bool) map[string]any {
	t.Helper()
	var raw json.RawMessage
	var err error
	if create {
		raw, err = b.Create(opts, cred)
	} else {
		raw, err = b.Get(opts, cred)
	}
	if err != nil {
		t.Fatal(err)
	}
	return apptest.Credential(t, raw)
}

// TestRESTSecurityKeys registers, lists, renames and deletes keys, with
// the panel's standard base64 and with base64url, and checks the objects
// and options member by member.
func TestRESTSecurityKeys(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")

		res := alice.Do(http.MethodPost, skAPI, map[string]any{"name": "laptop"})
		apptest.WantStatus(t, res, http.StatusOK)
		body := res.JSON(t)
		apptest.WantKeys(t, "create answer", body, []string{"security_key", "options"})
		key := body["security_key"].(map[string]any)
		apptest.WantKeys(t, "security key", key, []string{"uuid", "name", "credential_id", "last_used", "created"})
		if key["credential_id"] != "" || key["last_used"] != nil || key["name"] != "laptop" {
			t.Errorf("pending key %v", key)
		}
		restCheckTimestamp(t, "created", key["created"], time.Minute)
		_, top := apptest.OrderedObject(t, res.Body)
		keys, members := apptest.OrderedObject(t, top["options"])
		if strings.Join(keys, ",") != "publicKey" {
			t.Errorf("options members %v", keys)
		}
		order, pk := apptest.OrderedObject(t, members["publicKey"])
		if got := strings.Join(order, ","); got != "rp,user,challenge,pubKeyCredParams,timeout,excludeCredentials,authenticatorSelection,attestation,extensions" {
			t.Errorf("creation options members in the order %s", got)
		}
		if string(pk["excludeCredentials"]) != "[]" || !bytes.Contains(pk["user"], []byte(`"name":"alice@example.com","displayName":"alice"`)) ||
			string(pk["rp"]) != `{"name":"Calagopus","id":"localhost"}` || strings.Contains(string(members["publicKey"]), "null") {
			t.Errorf("creation options %s", members["publicKey"])
		}
		_, ext := apptest.OrderedObject(t, pk["extensions"])
		if string(ext["enforceCredentialProtectionPolicy"]) != "false" || string(ext["credProps"]) != "true" {
			t.Errorf("extensions %s", pk["extensions"])
		}

		// The panel's front end sends standard base64 with padding.
		id := key["uuid"].(string)
		cred := passkeytest.NewCredential(passkeytest.ES256)
		res = alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{
			"public_key_credential": skAnswer(t, &passkeytest.Client{Origin: apptest.PasskeyOrigin, Encoding: passkeytest.Std, ExtensionsMember: true},
				apptest.RawJSON(t, body["options"]), cred, true)})
		apptest.WantStatus(t, res, http.StatusOK)
		credID := res.JSON(t)["credential_id"].(string)
		if credID == "" || strings.ContainsAny(credID, "+/=") {
			t.Errorf("credential_id %q, want base64url without padding", credID)
		}
		rs := passkeytest.NewCredential(passkeytest.RS256)
		phone := apptest.RegisterSecurityKeyREST(t, alice.Client, "phone", apptest.Browser(passkeytest.URL), rs)

		// The new key is excluded from the next registration.
		_, opts := apptest.CreateSecurityKeyREST(t, alice.Client, "third", false)
		if !bytes.Contains(opts, []byte(`{"id":"`+credID+`","type":"public-key"}`)) {
			t.Errorf("excludeCredentials of %s", opts)
		}

		list := alice.Do(http.MethodGet, skAPI+"?per_page=10", nil)
		apptest.WantStatus(t, list, http.StatusOK)
		page := list.JSON(t)["security_keys"].(map[string]any)
		data := page["data"].([]any)
		if page["total"] != 2.0 || len(data) != 2 || data[0].(map[string]any)["credential_id"] != credID || data[1].(map[string]any)["uuid"] != phone {
			t.Errorf("list %s", list.Body)
		}
		if got := alice.Do(http.MethodGet, skAPI+"?search=PHO", nil).JSON(t); apptest.Get(got, "security_keys", "total") != 1.0 {
			t.Errorf("search: %v", got)
		}
		if got := bob.Do(http.MethodGet, skAPI, nil).JSON(t); apptest.Get(got, "security_keys", "total") != 0.0 {
			t.Errorf("bob sees %v", got)
		}

		apptest.WantEmpty(t, alice.Do(http.MethodPatch, skAPI+"/"+id, map[string]any{"name": "work laptop"}))
		apptest.WantErrors(t, alice.Do(http.MethodPatch, skAPI+"/"+id, map[string]any{"name": "phone"}), http.StatusConflict, "security key with name already exists")
		apptest.WantErrors(t, alice.Do(http.MethodPatch, skAPI+"/"+id, map[string]any{"name": "x"}), http.StatusBadRequest, "name: length is lower than 3")
		apptest.WantErrors(t, bob.Do(http.MethodPatch, skAPI+"/"+id, map[string]any{"name": "mine"}), http.StatusNotFound, "security key not found")
		apptest.WantErrors(t, bob.Do(http.MethodDelete, skAPI+"/"+id, nil), http.StatusNotFound, "security key not found")
		apptest.WantErrors(t, alice.Do(http.MethodDelete, skAPI+"/not-a-uuid", nil), http.StatusBadRequest, "invalid uuid")
		apptest.WantEmpty(t, alice.Do(http.MethodDelete, skAPI+"/"+phone, nil))
		apptest.WantErrors(t, alice.Do(http.MethodDelete, skAPI+"/"+phone, nil), http.StatusNotFound, "security key not found")

		acts := alice.Do(http.MethodGet, "/api/client/account/activity?search=security-key", nil).JSON(t)
		var events []string
		for _, a := range apptest.Get(acts, "activities", "data").([]any) {
			events = append(events, a.(map[string]any)["event"].(string))
		}
		if strings.Join(events, ",") != "security-key:delete,user:security-key.update,security-key:create,security-key:create" {
			t.Errorf("events %v", events)
		}
	})
}

// TestRESTSecurityKeyRegistrationErrors: the registration's refusals, with
// the contract's statuses and messages.
func TestRESTSecurityKeyRegistrationErrors(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.WebAuthn.MaxKeys = 2 }, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI, map[string]any{"name": "ab"}), http.StatusBadRequest, "name: length is lower than 3")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI, map[string]any{}), http.StatusBadRequest, "name: length is lower than 3")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI, map[string]any{"name": strings.Repeat("k", 32)}), http.StatusBadRequest, "name: length is greater than 31")

		key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"security-keys.create", "security-keys.read"}})
		bot := apptest.KeyClient(t, ts, key)
		apptest.WantErrors(t, bot.Do(http.MethodPost, skAPI, map[string]any{"name": "bot key"}), http.StatusForbidden,
			"security keys can only be registered from a session")
		apptest.WantStatus(t, bot.Do(http.MethodGet, skAPI, nil), http.StatusOK)
		weak := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{}))
		apptest.WantErrors(t, weak.Do(http.MethodGet, skAPI, nil), http.StatusForbidden,
			"you do not have permission to perform this action: security-keys.read")

		id, opts := apptest.CreateSecurityKeyREST(t, alice.Client, "one", false)
		apptest.WantErrors(t, bot.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{"public_key_credential": map[string]any{}}),
			http.StatusForbidden, "security keys can only be registered from a session")
		apptest.CreateSecurityKeyREST(t, alice.Client, "two", false)
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI, map[string]any{"name": "three"}), http.StatusExpectationFailed,
			"maximum number of security keys reached")
		// Retrying a name replaces its pending key.
		id, opts = apptest.CreateSecurityKeyREST(t, alice.Client, "one", false)
		apptest.WantErrors(t, bob.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{"public_key_credential": map[string]any{}}),
			http.StatusNotFound, "security key not found")
		apptest.WantErrors(t, alice.Do(http.MethodPatch, skAPI+"/"+id, map[string]any{"name": "renamed"}), http.StatusBadRequest,
			"security key not setup yet")

		b := apptest.Browser(passkeytest.URL)
		for name, c := range map[string]*passkeytest.Client{
			"wrong origin":         {Origin: "https://evil.example"},
			"wrong RP ID":          {Origin: apptest.PasskeyOrigin, RPID: "evil.example"},
			"no user verification": {Origin: apptest.PasskeyOrigin, NoUserVerification: true},
		} {
			res := alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{
				"public_key_credential": skAnswer(t, c, opts, passkeytest.NewCredential(passkeytest.ES256), true)})
			apptest.WantErrors(t, res, http.StatusBadRequest, "failed to finish security key registration")
			_ = name
		}
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{
			"public_key_credential": skAnswer(t, b, opts, passkeytest.NewCredential(passkeytest.EdDSA), true)}),
			http.StatusBadRequest, "failed to finish security key registration")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{}),
			http.StatusBadRequest, "failed to finish security key registration")
		cred := passkeytest.NewCredential(passkeytest.ES256)
		apptest.WantStatus(t, alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{"public_key_credential": skAnswer(t, b, opts, cred, true)}), http.StatusOK)
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{"public_key_credential": skAnswer(t, b, opts, cred, true)}),
			http.StatusConflict, "security key already setup")
		// Bob cannot register Alice's credential.
		bid, bopts := apptest.CreateSecurityKeyREST(t, bob.Client, "stolen", false)
		apptest.WantErrors(t, bob.Do(http.MethodPost, skAPI+"/"+bid+"/challenge", map[string]any{"public_key_credential": skAnswer(t, b, bopts, cred, true)}),
			http.StatusConflict, "security key is already registered")
		apptest.WantErrors(t, bob.Do(http.MethodPost, skAPI+"/"+bid, map[string]any{}), http.StatusMethodNotAllowed, "method not allowed")

		// Frozen: no registration or rename; list and delete stay.
		restSetFlags(t, ts, bob.ID, false, true, false)
		apptest.WantErrors(t, bob.Do(http.MethodPost, skAPI, map[string]any{"name": "frozen"}), http.StatusConflict, "account is frozen")
		apptest.WantErrors(t, bob.Do(http.MethodPost, skAPI+"/"+bid+"/challenge", map[string]any{"public_key_credential": map[string]any{}}),
			http.StatusConflict, "account is frozen")
		apptest.WantStatus(t, bob.Do(http.MethodGet, skAPI, nil), http.StatusOK)
		apptest.WantEmpty(t, bob.Do(http.MethodDelete, skAPI+"/"+bid, nil))
	})
}

// TestRESTSecurityKeyExpiredRegistration: a pending key older than
// WEBAUTHN_TIMEOUT is deleted by its answer, which is refused.
func TestRESTSecurityKeyExpiredRegistration(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		id, opts := apptest.CreateSecurityKeyREST(t, alice.Client, "late", false)
		_, err := ts.App.DB.NewUpdate().Table("security_keys").Set("created = ?", time.Now().UTC().Add(-6*time.Minute)).
			Where("id = ?", uuid.MustParse(id)).Exec(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		answer := skAnswer(t, apptest.Browser(passkeytest.URL), opts, passkeytest.NewCredential(passkeytest.ES256), true)
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{"public_key_credential": answer}),
			http.StatusBadRequest, "invalid or expired challenge")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI+"/"+id+"/challenge", map[string]any{"public_key_credential": answer}),
			http.StatusNotFound, "security key not found")
	})
}

// TestRESTSecurityKeyLogin signs in with a key, with and without a
// username, in both base64 alphabets, and answers the two-factor
// checkpoint with a key.
func TestRESTSecurityKeyLogin(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		cred := passkeytest.NewCredential(passkeytest.ES256)
		keyID := apptest.RegisterSecurityKeyREST(t, alice.Client, "laptop", apptest.Browser(passkeytest.URL), cred)

		for _, tc := range []struct {
			get, post string
			enc       passkeytest.Encoding
		}{
			{"/api/auth/login/security-key?user=ALICE", "/api/auth/login/security-key", passkeytest.Std},
			{"/api/auth/login/security-key?user=alice%40example.com", "/api/auth/login/security-key", passkeytest.URL},
			{"/api/auth/login/security-key/discoverable", "/api/auth/login/security-key/discoverable", passkeytest.Std},
		} {
			c := ts.Client(t)
			res := c.Do(http.MethodGet, tc.get, nil)
			apptest.WantStatus(t, res, http.StatusOK)
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q", tc.get, cc)
			}
			body := res.JSON(t)
			apptest.WantKeys(t, "options answer", body, []string{"uuid", "options"})
			_, top := apptest.OrderedObject(t, res.Body)
			_, optsObj := apptest.OrderedObject(t, top["options"])
			order, pk := apptest.OrderedObject(t, optsObj["publicKey"])
			want := "challenge,timeout,rpId,allowCredentials,userVerification"
			if strings.Contains(tc.get, "discoverable") {
				want += ",extensions"
				if string(pk["allowCredentials"]) != "[]" || string(pk["extensions"]) != `{"uvm":true}` {
					t.Errorf("discoverable options %v", pk)
				}
			} else if !bytes.Contains(pk["allowCredentials"], []byte(`"type":"public-key"`)) {
				t.Errorf("allowCredentials %s", pk["allowCredentials"])
			}
			if got := strings.Join(order, ","); got != want {
				t.Errorf("request options members %s, want %s", got, want)
			}
			answer := skAnswer(t, &passkeytest.Client{Origin: apptest.PasskeyOrigin, Encoding: tc.enc}, apptest.RawJSON(t, body["options"]), cred, false)
			res = c.Do(http.MethodPost, tc.post, map[string]any{"uuid": body["uuid"], "public_key_credential": answer})
			apptest.WantStatus(t, res, http.StatusOK)
			got := res.JSON(t)
			apptest.WantKeys(t, "sign-in answer", got, []string{"user"})
			restCheckFullUser(t, got["user"].(map[string]any))
			restSessionCookie(t, res)
			if restAccount(t, c)["username"] != "alice" {
				t.Error("the new session is not alice's")
			}
			// The challenge was spent.
			apptest.WantErrors(t, c.Do(http.MethodPost, tc.post, map[string]any{"uuid": body["uuid"], "public_key_credential": answer}),
				http.StatusBadRequest, "invalid or expired challenge")
		}
		acts := alice.Do(http.MethodGet, "/api/client/account/activity?search=auth:success", nil).JSON(t)
		first := apptest.Get(acts, "activities", "data").([]any)[0].(map[string]any)
		if d := first["data"].(map[string]any); d["using"] != "security-key" || d["uuid"] != keyID {
			t.Errorf("auth:success data %v", d)
		}

		// Unknown names and accounts without keys get the same options.
		bob := apptest.Register(t, ts, "bob", "bob password")
		for _, user := range []string{"nobody", "bob"} {
			_, opts := apptest.SecurityKeyOptionsREST(t, ts.Client(t), "/api/auth/login/security-key?user="+user)
			if !bytes.Contains(opts, []byte(`"allowCredentials":[]`)) {
				t.Errorf("%s: %s", user, opts)
			}
		}

		// The checkpoint of a password sign-in, answered with the key.
		apptest.EnableTwoFactorREST(t, alice)
		c, res := apptest.Login(t, ts, "alice", alice.Password)
		apptest.WantStatus(t, res, http.StatusOK)
		tok := res.JSON(t)["token"].(string)
		apptest.WantErrors(t, c.Do(http.MethodGet, "/api/auth/login/checkpoint/security-key?confirmation_token=nope", nil),
			http.StatusBadRequest, "invalid confirmation token")
		opts := c.Do(http.MethodGet, "/api/auth/login/checkpoint/security-key?confirmation_token="+tok, nil)
		apptest.WantStatus(t, opts, http.StatusOK)
		apptest.WantKeys(t, "checkpoint options answer", opts.JSON(t), []string{"options"})
		answer := skAnswer(t, apptest.Browser(passkeytest.Std), apptest.RawJSON(t, opts.JSON(t)["options"]), cred, false)
		res = c.Do(http.MethodPost, "/api/auth/login/checkpoint", map[string]any{"confirmation_token": tok, "public_key_credential": answer})
		apptest.WantStatus(t, res, http.StatusOK)
		restSessionCookie(t, res)
		if restAccount(t, c)["username"] != "alice" {
			t.Error("the checkpoint's session is not alice's")
		}
		_ = bob
	})
}

// TestRESTSecurityKeyLoginErrors: the sign-in's refusals.
func TestRESTSecurityKeyLoginErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		cred := passkeytest.NewCredential(passkeytest.ES256)
		keyID := apptest.RegisterSecurityKeyREST(t, alice.Client, "laptop", apptest.Browser(passkeytest.URL), cred)
		bob := apptest.Register(t, ts, "bob", "bob password")
		bobCred := passkeytest.NewCredential(passkeytest.ES256)
		apptest.RegisterSecurityKeyREST(t, bob.Client, "bob key", apptest.Browser(passkeytest.URL), bobCred)
		c := ts.Client(t)
		const login = "/api/auth/login/security-key"
		post := func(path, id string, answer map[string]any) *apptest.Response {
			return c.Do(http.MethodPost, path, map[string]any{"uuid": id, "public_key_credential": answer})
		}

		apptest.WantErrors(t, c.Do(http.MethodGet, login, nil), http.StatusBadRequest, "user: required")
		apptest.WantErrors(t, post(login, uuid.NewString(), map[string]any{}), http.StatusBadRequest, "invalid or expired challenge")
		apptest.WantErrors(t, post(login, "nope", map[string]any{}), http.StatusBadRequest, "invalid or expired challenge")
		apptest.WantErrors(t, c.Raw(http.MethodPost, login, "text/plain", strings.NewReader("x")), http.StatusBadRequest,
			"invalid payload: unsupported content type")

		for name, b := range map[string]*passkeytest.Client{
			"wrong origin":         {Origin: "https://evil.example"},
			"wrong RP ID":          {Origin: apptest.PasskeyOrigin, RPID: "evil.example"},
			"no user verification": {Origin: apptest.PasskeyOrigin, NoUserVerification: true},
		} {
			id, opts := apptest.SecurityKeyOptionsREST(t, c, login+"?user=alice")
			apptest.WantErrors(t, post(login, id, skAnswer(t, b, opts, cred, false)), http.StatusBadRequest,
				"failed to finish security key authentication")
			_ = name
		}
		apptest.ResetAttempts(t, ts, alice.ID)
		// A cloned authenticator: a counter that goes backwards.
		id, opts := apptest.SecurityKeyOptionsREST(t, c, login+"?user=alice")
		apptest.WantStatus(t, post(login, id, skAnswer(t, apptest.Browser(passkeytest.URL), opts, cred, false)), http.StatusOK)
		back := cred.Counter - 1
		id, opts = apptest.SecurityKeyOptionsREST(t, c, login+"?user=alice")
		apptest.WantErrors(t, post(login, id, skAnswer(t, &passkeytest.Client{Origin: apptest.PasskeyOrigin, Counter: &back}, opts, cred, false)),
			http.StatusBadRequest, "failed to finish security key authentication")
		// Another account's key, a foreign credential, a key deleted since.
		id, opts = apptest.SecurityKeyOptionsREST(t, c, login+"?user=alice")
		apptest.WantErrors(t, post(login, id, skAnswer(t, apptest.Browser(passkeytest.URL), opts, bobCred, false)), http.StatusNotFound, "user not found")
		id, opts = apptest.SecurityKeyOptionsREST(t, c, login+"/discoverable")
		stranger := passkeytest.NewCredential(passkeytest.ES256)
		stranger.UserHandle = alice.ID[:]
		apptest.WantErrors(t, post(login+"/discoverable", id, skAnswer(t, apptest.Browser(passkeytest.URL), opts, stranger, false)),
			http.StatusNotFound, "user not found")
		id, opts = apptest.SecurityKeyOptionsREST(t, c, login+"?user=alice")
		answer := skAnswer(t, apptest.Browser(passkeytest.URL), opts, cred, false)
		apptest.WantEmpty(t, alice.Do(http.MethodDelete, skAPI+"/"+keyID, nil))
		apptest.WantErrors(t, post(login, id, answer), http.StatusNotFound, "user not found")
		// A challenge of the other route.
		id, opts = apptest.SecurityKeyOptionsREST(t, c, login+"/discoverable")
		apptest.WantErrors(t, post(login, id, skAnswer(t, apptest.Browser(passkeytest.URL), opts, bobCred, false)),
			http.StatusBadRequest, "invalid or expired challenge")
		// A username-less answer without a user handle.
		id, opts = apptest.SecurityKeyOptionsREST(t, c, login+"/discoverable")
		apptest.WantErrors(t, post(login+"/discoverable", id, skAnswer(t, &passkeytest.Client{Origin: apptest.PasskeyOrigin, UserHandle: []byte{}}, opts, bobCred, false)),
			http.StatusBadRequest, "failed to finish security key authentication")
	})
}

// TestRESTSecurityKeyLoginAttempts: failed assertions are charged to the
// account's attempt budget; the sixth is refused with 429 unevaluated.
func TestRESTSecurityKeyLoginAttempts(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		cred := passkeytest.NewCredential(passkeytest.ES256)
		apptest.RegisterSecurityKeyREST(t, alice.Client, "laptop", apptest.Browser(passkeytest.URL), cred)
		c := ts.Client(t)
		evil := &passkeytest.Client{Origin: "https://evil.example"}
		for range 5 {
			id, opts := apptest.SecurityKeyOptionsREST(t, c, "/api/auth/login/security-key/discoverable")
			apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login/security-key/discoverable",
				map[string]any{"uuid": id, "public_key_credential": skAnswer(t, evil, opts, cred, false)}),
				http.StatusBadRequest, "failed to finish security key authentication")
		}
		id, opts := apptest.SecurityKeyOptionsREST(t, c, "/api/auth/login/security-key/discoverable")
		res := c.Do(http.MethodPost, "/api/auth/login/security-key/discoverable",
			map[string]any{"uuid": id, "public_key_credential": skAnswer(t, apptest.Browser(passkeytest.URL), opts, cred, false)})
		apptest.WantErrorPrefixes(t, res, http.StatusTooManyRequests, "too many attempts, retry in ")
		if res.Header.Get("Retry-After") == "" {
			t.Error("429 without Retry-After")
		}
	})
}

// TestRESTSecurityKeySettings: WEBAUTHN_ENABLED=false and
// WEBAUTHN_ALLOW_DISCOVERABLE=false, which come before the per-IP limit.
func TestRESTSecurityKeySettings(t *testing.T) {
	t.Parallel()
	off := func(cfg *app.Config) {
		cfg.WebAuthn.Enabled = false
		for _, r := range []string{web.RateSecurityKey, web.RateSecurityKeyOptions, web.RateSecurityKeyDiscoverable} {
			cfg.RateLimits[r] = web.RateRule{Limit: 2, Window: 5 * time.Minute}
		}
	}
	apptest.EachServer(t, off, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		c := ts.Client(t)
		for range 12 { // past any per-IP limit: still the setting's answer
			apptest.WantErrors(t, c.Do(http.MethodGet, "/api/auth/login/security-key?user=alice", nil), http.StatusBadRequest, "security keys are disabled")
		}
		apptest.WantErrors(t, c.Do(http.MethodGet, "/api/auth/login/security-key/discoverable", nil), http.StatusBadRequest, "security keys are disabled")
		apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login/security-key", map[string]any{"uuid": uuid.NewString()}),
			http.StatusBadRequest, "security keys are disabled")
		apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login/security-key/discoverable", map[string]any{}),
			http.StatusBadRequest, "security keys are disabled")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI, map[string]any{"name": "laptop"}), http.StatusBadRequest, "security keys are disabled")
		apptest.WantErrors(t, alice.Do(http.MethodPost, skAPI+"/"+uuid.NewString()+"/challenge", map[string]any{}),
			http.StatusBadRequest, "security keys are disabled")
		apptest.WantStatus(t, alice.Do(http.MethodGet, skAPI, nil), http.StatusOK)
		apptest.WantErrors(t, alice.Do(http.MethodDelete, skAPI+"/"+uuid.NewString(), nil), http.StatusNotFound, "security key not found")
	})
	apptest.EachServer(t, func(cfg *app.Config) { cfg.WebAuthn.AllowDiscoverable = false }, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		for range 12 {
			apptest.WantErrors(t, c.Do(http.MethodGet, "/api/auth/login/security-key/discoverable", nil), http.StatusBadRequest,
				"usernameless security key login is disabled")
		}
		apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login/security-key/discoverable", map[string]any{}), http.StatusBadRequest,
			"usernameless security key login is disabled")
		apptest.WantStatus(t, c.Do(http.MethodGet, "/api/auth/login/security-key?user=x", nil), http.StatusOK)
		// A passkey is not asked for.
		alice := apptest.Register(t, ts, "alice", "alice password")
		_, opts := apptest.CreateSecurityKeyREST(t, alice.Client, "laptop", true)
		if !bytes.Contains(opts, []byte(`"residentKey":"discouraged"`)) || !bytes.Contains(opts, []byte(`"requireResidentKey":false`)) {
			t.Errorf("options %s", opts)
		}
	})
}

// TestRESTSecurityKeyRateLimits: RATE_LIMIT_SECURITY_KEY counts each
// options route on a counter of its own and both answers on one.
func TestRESTSecurityKeyRateLimits(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, func(cfg *app.Config) {
		for _, r := range []string{web.RateSecurityKey, web.RateSecurityKeyOptions, web.RateSecurityKeyDiscoverable} {
			cfg.RateLimits[r] = web.RateRule{Limit: 2, Window: 5 * time.Minute}
		}
	}, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		for _, path := range []string{"/api/auth/login/security-key?user=x", "/api/auth/login/security-key/discoverable"} {
			for range 2 {
				res := c.Do(http.MethodGet, path, nil)
				apptest.WantStatus(t, res, http.StatusOK)
				if res.Header.Get("X-RateLimit-Limit") != "2" {
					t.Errorf("%s: X-RateLimit-Limit %q", path, res.Header.Get("X-RateLimit-Limit"))
				}
			}
			apptest.WantErrorPrefixes(t, c.Do(http.MethodGet, path, nil), http.StatusTooManyRequests, "you are ratelimited, retry in ")
		}
		// The answers share one counter.
		apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login/security-key", map[string]any{"uuid": "x"}), http.StatusBadRequest, "invalid or expired challenge")
		apptest.WantErrors(t, c.Do(http.MethodPost, "/api/auth/login/security-key/discoverable", map[string]any{"uuid": "x"}), http.StatusBadRequest, "invalid or expired challenge")
		apptest.WantErrorPrefixes(t, c.Do(http.MethodPost, "/api/auth/login/security-key", map[string]any{"uuid": "x"}), http.StatusTooManyRequests, "you are ratelimited, retry in ")
		// A body that does not parse comes before the limit.
		apptest.WantErrors(t, c.Raw(http.MethodPost, "/api/auth/login/security-key", "", nil), http.StatusBadRequest, "invalid payload: missing content type header")
	})
}

// TestRESTSecurityKeyAcrossServers: a ceremony begun on one server is
// finished on another sharing the database, as behind a load balancer.
func TestRESTSecurityKeyAcrossServers(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		other, err := app.NewWithDB(ts.App.Config, ts.App.DB, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		second := httptest.NewServer(other.Handler())
		defer second.Close()
		u := apptest.Register(t, ts, "carol", "carol password")
		cred := passkeytest.NewCredential(passkeytest.ES256)
		// Registration: begun here, finished there.
		id, opts := apptest.CreateSecurityKeyREST(t, u.Client, "laptop", true)
		answer := skAnswer(t, apptest.Browser(passkeytest.URL), opts, cred, true)
		res := sendJSON(t, second.URL+skAPI+"/"+id+"/challenge", apptest.CookieValue(t, u.Client), ts.App.Config.SessionCookie,
			map[string]any{"public_key_credential": answer})
		if res.StatusCode != http.StatusOK {
			t.Fatalf("finish on the second server: %d", res.StatusCode)
		}
		// Sign-in: begun there, finished here.
		r2, err := http.Get(second.URL + "/api/auth/login/security-key?user=carol")
		if err != nil {
			t.Fatal(err)
		}
		var begun map[string]any
		json.NewDecoder(r2.Body).Decode(&begun) //nolint:errcheck
		r2.Body.Close()
		c := ts.Client(t)
		res2 := c.Do(http.MethodPost, "/api/auth/login/security-key", map[string]any{"uuid": begun["uuid"],
			"public_key_credential": skAnswer(t, apptest.Browser(passkeytest.Std), apptest.RawJSON(t, begun["options"]), cred, false)})
		apptest.WantStatus(t, res2, http.StatusOK)
	})
}

// sendJSON posts body to url with a session cookie, outside the checked
// client (another server's address).
func sendJSON(t *testing.T, url, cookie, cookieName string, body any) *http.Response {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", cookieName+"="+cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}
