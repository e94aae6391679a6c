package apptest

// Security-key helpers the REST and GraphQL tests share: a software
// browser on the default APP_URL's origin, and the REST ceremonies.

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"accountd/passkey/passkeytest"
	"accountd/secret"
)

// PasskeyOrigin is the origin WebAuthn ceremonies run on with the default
// APP_URL (http://localhost:8000, RP ID localhost).
const PasskeyOrigin = "http://localhost:8000"

// Browser is an honest browser on PasskeyOrigin, sending binary members in
// enc.
func Browser(enc passkeytest.Encoding) *passkeytest.Client {
	return &passkeytest.Client{Origin: PasskeyOrigin, Encoding: enc}
}

// RawJSON re-encodes a decoded JSON value, to hand options to the
// software authenticator.
func RawJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Credential decodes a public_key_credential for a request body.
func Credential(t testing.TB, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// CreateSecurityKeyREST begins a registration named name and returns the
// answer's security_key uuid and options.
func CreateSecurityKeyREST(t testing.TB, c *Client, name string, usernameless bool) (string, []byte) {
	t.Helper()
	res := c.Do(http.MethodPost, "/api/client/account/security-keys", map[string]any{"name": name, "allow_usernameless_login": usernameless})
	if res.Status != http.StatusOK {
		t.Fatalf("create security key %q: %d %s", name, res.Status, res.Body)
	}
	body := res.JSON(t)
	id, _ := Get(body, "security_key", "uuid").(string)
	return id, RawJSON(t, body["options"])
}

// RegisterSecurityKeyREST registers cred under name through b and returns
// the key's uuid.
func RegisterSecurityKeyREST(t testing.TB, c *Client, name string, b *passkeytest.Client, cred *passkeytest.Credential) string {
	t.Helper()
	id, opts := CreateSecurityKeyREST(t, c, name, true)
	answer, err := b.Create(opts, cred)
	if err != nil {
		t.Fatal(err)
	}
	res := c.Do(http.MethodPost, "/api/client/account/security-keys/"+id+"/challenge",
		map[string]any{"public_key_credential": Credential(t, answer)})
	if res.Status != http.StatusOK {
		t.Fatalf("finish security key %q: %d %s", name, res.Status, res.Body)
	}
	return id
}

// SecurityKeyOptionsREST begins a sign-in (path is
// /api/auth/login/security-key?user=… or …/discoverable) and returns the
// challenge's uuid and the options.
func SecurityKeyOptionsREST(t testing.TB, c *Client, path string) (string, []byte) {
	t.Helper()
	res := c.Do(http.MethodGet, path, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
	}
	body := res.JSON(t)
	id, _ := body["uuid"].(string)
	return id, RawJSON(t, body["options"])
}

// EnableTwoFactorREST turns two-factor on for u through the API, with a
// code of the current step, and returns the secret.
func EnableTwoFactorREST(t testing.TB, u *User) string {
	t.Helper()
	setup := u.Do(http.MethodGet, "/api/client/account/two-factor", nil).JSON(t)
	sec, _ := setup["secret"].(string)
	code, err := secret.TOTPCode(sec, secret.TOTPStep(time.Now()), secret.TOTPDigits)
	if err != nil {
		t.Fatal(err)
	}
	res := u.Do(http.MethodPost, "/api/client/account/two-factor", map[string]any{"code": code, "password": u.Password})
	if res.Status != http.StatusOK {
		t.Fatalf("enable two-factor: %d %s", res.Status, res.Body)
	}
	return sec
}
