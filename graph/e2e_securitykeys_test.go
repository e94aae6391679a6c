package graph_test

// End-to-end tests of the security-key operations over GraphQL. Helpers of
// this file start with "gsk".

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/passkey/passkeytest"
	"accountd/web"
)

const (
	gskKeyFields = `id name credentialId lastUsedAt createdAt`
	gskBeginDoc  = `mutation($input: BeginSecurityKeyRegistrationInput!) { beginSecurityKeyRegistration(input: $input) {
		securityKey { ` + gskKeyFields + ` } options ` + apptest.GQLUserErrorFields + ` } }`
	gskFinishDoc = `mutation($input: FinishSecurityKeyRegistrationInput!) { finishSecurityKeyRegistration(input: $input) {
		securityKey { ` + gskKeyFields + ` } ` + apptest.GQLUserErrorFields + ` } }`
	gskUpdateDoc = `mutation($input: UpdateSecurityKeyInput!) { updateSecurityKey(input: $input) {
		securityKey { ` + gskKeyFields + ` } ` + apptest.GQLUserErrorFields + ` } }`
	gskDeleteDoc = `mutation($input: DeleteSecurityKeyInput!) { deleteSecurityKey(input: $input) {
		deletedSecurityKeyId ` + apptest.GQLUserErrorFields + ` } }`
	gskListDoc = `query($first: Int, $after: String, $search: String) { viewer { securityKeys(first: $first, after: $after, search: $search) {
		totalCount edges { cursor node { ` + gskKeyFields + ` } } pageInfo { hasNextPage endCursor } } } }`
	gskLoginBeginDoc = `mutation($input: BeginPasskeyLoginInput!) { beginPasskeyLogin(input: $input) {
		challengeId options ` + apptest.GQLUserErrorFields + ` } }`
	gskLoginFinishDoc = `mutation($input: FinishPasskeyLoginInput!) { finishPasskeyLogin(input: $input) {
		user { id username } ` + apptest.GQLUserErrorFields + ` } }`
	gskCheckpointBeginDoc = `mutation($input: BeginSecurityKeyCheckpointInput!) { beginSecurityKeyCheckpoint(input: $input) {
		options ` + apptest.GQLUserErrorFields + ` } }`
	gskCheckpointDoc = `mutation($input: LoginCheckpointInput!) { loginCheckpoint(input: $input) {
		user { id username } ` + apptest.GQLUserErrorFields + ` } }`
)

// gskRegister registers cred named name for c over GraphQL and returns
// the key's id.
func gskRegister(t *testing.T, c *apptest.Client, name string, b *passkeytest.Client, cred *passkeytest.Credential) string {
	t.Helper()
	r := c.GQL(gskBeginDoc, apptest.GQLIn(map[string]any{"name": name, "allowUsernamelessLogin": true}))
	gqlWantUserErrs(t, r, "beginSecurityKeyRegistration")
	id, _ := apptest.Get(r.Data, "beginSecurityKeyRegistration", "securityKey", "id").(string)
	// The PublicKeyCredentialCreationOptionsJSON itself, not REST's {"publicKey": …}.
	if apptest.Get(r.Data, "beginSecurityKeyRegistration", "options", "challenge") == nil ||
		apptest.Get(r.Data, "beginSecurityKeyRegistration", "options", "user", "displayName") == nil {
		t.Fatalf("options %s", r.Raw)
	}
	answer, err := b.Create(apptest.RawJSON(t, apptest.Get(r.Data, "beginSecurityKeyRegistration", "options")), cred)
	if err != nil {
		t.Fatal(err)
	}
	r = c.GQL(gskFinishDoc, apptest.GQLIn(map[string]any{"id": id, "publicKeyCredential": json.RawMessage(answer)}))
	gqlWantUserErrs(t, r, "finishSecurityKeyRegistration")
	return id
}

// gskSignIn begins a sign-in (user nil: username-less) and answers it.
func gskSignIn(t *testing.T, c *apptest.Client, user any, b *passkeytest.Client, cred *passkeytest.Credential) *apptest.GQLResponse {
	t.Helper()
	in := map[string]any{}
	if user != nil {
		in["user"] = user
	}
	r := c.GQL(gskLoginBeginDoc, apptest.GQLIn(in))
	gqlWantUserErrs(t, r, "beginPasskeyLogin")
	if apptest.Get(r.Data, "beginPasskeyLogin", "options", "rpId") != "localhost" {
		t.Fatalf("options %s", r.Raw)
	}
	answer, err := b.Get(apptest.RawJSON(t, apptest.Get(r.Data, "beginPasskeyLogin", "options")), cred)
	if err != nil {
		t.Fatal(err)
	}
	return c.GQL(gskLoginFinishDoc, apptest.GQLIn(map[string]any{
		"challengeId": apptest.Get(r.Data, "beginPasskeyLogin", "challengeId"), "publicKeyCredential": json.RawMessage(answer)}))
}

// TestGraphQLSecurityKeys: register, list, rename and delete keys, and
// sign in with them, with and without a username.
func TestGraphQLSecurityKeys(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, _ := apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		cred := passkeytest.NewCredential(passkeytest.ES256)
		id := gskRegister(t, alice, "laptop", apptest.Browser(passkeytest.Std), cred)
		gskRegister(t, alice, "phone", apptest.Browser(passkeytest.URL), passkeytest.NewCredential(passkeytest.RS256))

		r := alice.GQL(gskListDoc, map[string]any{"first": 1})
		apptest.GQLNoErrors(t, r)
		conn := apptest.Get(r.Data, "viewer", "securityKeys").(map[string]any)
		edges := conn["edges"].([]any)
		if conn["totalCount"] != 2.0 || len(edges) != 1 || apptest.Get(edges[0], "node", "id") != id ||
			apptest.Get(conn, "pageInfo", "hasNextPage") != true {
			t.Fatalf("list %s", r.Raw)
		}
		if cid, _ := apptest.Get(edges[0], "node", "credentialId").(string); cid == "" || strings.ContainsAny(cid, "+/=") {
			t.Errorf("credentialId %q", cid)
		}
		r = alice.GQL(gskListDoc, map[string]any{"after": apptest.Get(conn, "pageInfo", "endCursor")})
		if apptest.Get(r.Data, "viewer", "securityKeys", "edges").([]any)[0].(map[string]any)["node"].(map[string]any)["name"] != "phone" {
			t.Errorf("second page %s", r.Raw)
		}

		r = alice.GQL(gskUpdateDoc, apptest.GQLIn(map[string]any{"id": id, "name": "work laptop"}))
		gqlWantUserErrs(t, r, "updateSecurityKey")
		if apptest.Get(r.Data, "updateSecurityKey", "securityKey", "name") != "work laptop" {
			t.Errorf("rename %s", r.Raw)
		}
		gqlWantUserErrs(t, alice.GQL(gskUpdateDoc, apptest.GQLIn(map[string]any{"id": id, "name": "phone"})), "updateSecurityKey",
			apptest.GQLUserErr{Field: gqlField("name"), Message: "security key with name already exists", Code: "CONFLICT"})
		gqlWantUserErrs(t, alice.GQL(gskUpdateDoc, apptest.GQLIn(map[string]any{"id": id, "name": "x"})), "updateSecurityKey",
			apptest.GQLUserErr{Field: gqlField("name"), Message: "length is lower than 3", Code: "INVALID"})

		// Sign in with a username (or e-mail), then without one.
		for _, user := range []any{"alice", "ALICE@example.com", nil} {
			c := ts.Client(t)
			r := gskSignIn(t, c, user, apptest.Browser(passkeytest.Std), cred)
			gqlWantUserErrs(t, r, "finishPasskeyLogin")
			if apptest.Get(r.Data, "finishPasskeyLogin", "user", "username") != "alice" {
				t.Fatalf("sign-in %v: %s", user, r.Raw)
			}
			gqlWantSessionCookie(t, ts, r)
			if apptest.Get(apptest.GQLViewer(t, c), "username") != "alice" {
				t.Errorf("sign-in %v: the session is not alice's", user)
			}
		}

		// Refusals as userErrors.
		bob, _ := apptest.GQLRegister(t, ts, "bob", apptest.GQLPassword)
		gqlWantUserErrs(t, bob.GQL(gskDeleteDoc, apptest.GQLIn(map[string]any{"id": id})), "deleteSecurityKey",
			apptest.GQLUserErr{Field: gqlField("id"), Message: "security key not found", Code: "NOT_FOUND"})
		stranger := passkeytest.NewCredential(passkeytest.ES256)
		r = gskSignIn(t, ts.Client(t), "alice", apptest.Browser(passkeytest.URL), stranger)
		gqlWantUserErrs(t, r, "finishPasskeyLogin", apptest.GQLUserErr{Message: "user not found", Code: "NOT_FOUND"})
		r = gskSignIn(t, ts.Client(t), "alice", &passkeytest.Client{Origin: "https://evil.example"}, cred)
		gqlWantUserErrs(t, r, "finishPasskeyLogin",
			apptest.GQLUserErr{Field: gqlField("publicKeyCredential"), Message: "failed to finish security key authentication", Code: "INVALID"})
		r = ts.Client(t).GQL(gskLoginFinishDoc, apptest.GQLIn(map[string]any{"challengeId": "nope", "publicKeyCredential": map[string]any{}}))
		gqlWantUserErrs(t, r, "finishPasskeyLogin",
			apptest.GQLUserErr{Field: gqlField("publicKeyCredential"), Message: "invalid or expired challenge", Code: "INVALID"})

		r = alice.GQL(gskDeleteDoc, apptest.GQLIn(map[string]any{"id": id}))
		gqlWantUserErrs(t, r, "deleteSecurityKey")
		if apptest.Get(r.Data, "deleteSecurityKey", "deletedSecurityKeyId") != id {
			t.Errorf("delete %s", r.Raw)
		}
	})
}

// TestGraphQLSecurityKeyRefusals: registration through an API key, and
// two sign-in answers in one document.
func TestGraphQLSecurityKeyRefusals(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.GQLPassword)
		bot := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"security-keys.create"}}))
		r := bot.GQL(gskBeginDoc, apptest.GQLIn(map[string]any{"name": "bot key"}))
		apptest.GQLTopError(t, r, "FORBIDDEN", "beginSecurityKeyRegistration")
		r = bot.GQL(gskListDoc, nil)
		if _, ext := apptest.GQLTopError(t, r, "FORBIDDEN", ""); ext["permission"] != "security-keys.read" {
			t.Errorf("extensions %v", ext)
		}
		r = alice.GQL(gskBeginDoc, apptest.GQLIn(map[string]any{"name": "ab"}))
		gqlWantUserErrs(t, r, "beginSecurityKeyRegistration",
			apptest.GQLUserErr{Field: gqlField("name"), Message: "length is lower than 3", Code: "INVALID"})

		// At most one answer per document: aliases gain no guesses.
		r = ts.Client(t).GQL(`mutation { a: finishPasskeyLogin(input: {challengeId: "x", publicKeyCredential: {}}) { userErrors { message } }
			b: finishPasskeyLogin(input: {challengeId: "y", publicKeyCredential: {}}) { userErrors { message } } }`, nil)
		if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("two answers in one document: %s", r.Raw)
		}
	})
	apptest.EachServer(t, func(cfg *app.Config) { cfg.WebAuthn.Enabled = false }, func(t *testing.T, ts *apptest.Server) {
		r := ts.Client(t).GQL(gskLoginBeginDoc, apptest.GQLIn(map[string]any{}))
		gqlWantUserErrs(t, r, "beginPasskeyLogin", apptest.GQLUserErr{Message: "security keys are disabled", Code: "INVALID"})
	})
	apptest.EachServer(t, func(cfg *app.Config) {
		cfg.RateLimits[web.RateSecurityKeyOptions] = web.RateRule{Limit: 1, Window: cfg.RateLimits[web.RateLogin].Window}
	}, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		gqlWantUserErrs(t, c.GQL(gskLoginBeginDoc, apptest.GQLIn(map[string]any{"user": "x"})), "beginPasskeyLogin")
		r := c.GQL(gskLoginBeginDoc, apptest.GQLIn(map[string]any{"user": "x"}))
		if _, ext := apptest.GQLTopError(t, r, "RATE_LIMITED", "beginPasskeyLogin"); ext["retryAfter"] == nil {
			t.Errorf("no retryAfter: %s", r.Raw)
		}
	})
}

// TestGraphQLSecurityKeyCheckpoint answers loginCheckpoint with a key.
func TestGraphQLSecurityKeyCheckpoint(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", apptest.GQLPassword)
		cred := passkeytest.NewCredential(passkeytest.ES256)
		apptest.RegisterSecurityKeyREST(t, alice.Client, "laptop", apptest.Browser(passkeytest.URL), cred)
		apptest.EnableTwoFactorREST(t, alice)

		c := ts.Client(t)
		r := c.GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "alice", "password": apptest.GQLPassword}))
		apptest.GQLNoErrors(t, r)
		tok, _ := apptest.Get(r.Data, "login", "confirmationToken").(string)
		r = c.GQL(gskCheckpointBeginDoc, apptest.GQLIn(map[string]any{"confirmationToken": "nope"}))
		gqlWantUserErrs(t, r, "beginSecurityKeyCheckpoint",
			apptest.GQLUserErr{Field: gqlField("confirmationToken"), Message: "invalid confirmation token", Code: "INVALID"})
		r = c.GQL(gskCheckpointBeginDoc, apptest.GQLIn(map[string]any{"confirmationToken": tok}))
		gqlWantUserErrs(t, r, "beginSecurityKeyCheckpoint")
		answer, err := apptest.Browser(passkeytest.URL).Get(apptest.RawJSON(t, apptest.Get(r.Data, "beginSecurityKeyCheckpoint", "options")), cred)
		if err != nil {
			t.Fatal(err)
		}
		r = c.GQL(gskCheckpointDoc, apptest.GQLIn(map[string]any{"confirmationToken": tok, "publicKeyCredential": json.RawMessage(answer)}))
		gqlWantUserErrs(t, r, "loginCheckpoint")
		gqlWantSessionCookie(t, ts, r)
		if apptest.Get(apptest.GQLViewer(t, c), "username") != "alice" {
			t.Error("the checkpoint's session is not alice's")
		}
		// Neither a code nor a key.
		r = c.GQL(gskCheckpointDoc, apptest.GQLIn(map[string]any{"confirmationToken": tok}))
		if r.Status != http.StatusOK || len(apptest.GQLUserErrs(t, r, "loginCheckpoint")) == 0 {
			t.Errorf("no code: %s", r.Raw)
		}
	})
}
