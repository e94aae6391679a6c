package graph_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/model"
	"accountd/secret"
	"accountd/web"
)

// The password reset and the verified address changes over GraphQL: the
// same service as REST's routes, so these tests check the transport —
// payloads, userErrors and their paths, top-level refusals — and that the
// link of the queued mail works end to end.

const (
	gqlRequestResetDoc = `mutation($input: RequestPasswordResetInput!) { requestPasswordReset(input: $input) { accepted ` +
		apptest.GQLUserErrorFields + ` } }`
	gqlResetDoc = `mutation($input: ResetPasswordInput!) { resetPassword(input: $input) { passwordReset revokedSessions revokedApiKeys ` +
		apptest.GQLUserErrorFields + ` } }`
	gqlConfirmDoc = `mutation($input: ConfirmEmailChangeInput!) { confirmEmailChange(input: $input) { email ` +
		apptest.GQLUserErrorFields + ` } }`
	gqlEmailViewerDoc = `{ viewer { email emailVerified pendingEmail } }`
)

// gqlRequestReset asks for a reset of email and checks the answer.
func gqlRequestReset(t *testing.T, c *apptest.Client, email string) *apptest.GQLResponse {
	t.Helper()
	r := c.GQL(gqlRequestResetDoc, apptest.GQLIn(map[string]any{"email": email}))
	gqlWantUserErrs(t, r, "requestPasswordReset")
	if apptest.Get(r.Data, "requestPasswordReset", "accepted") != true {
		t.Fatalf("not accepted: %s", r.Raw)
	}
	return r
}

// gqlEmailViewer returns the viewer's email, emailVerified and
// pendingEmail.
func gqlEmailViewer(t *testing.T, c *apptest.Client) map[string]any {
	t.Helper()
	r := c.GQL(gqlEmailViewerDoc, nil)
	apptest.GQLNoErrors(t, r)
	v, _ := apptest.Get(r.Data, "viewer").(map[string]any)
	if v == nil {
		t.Fatalf("no viewer: %s", r.Raw)
	}
	return v
}

func TestGraphQLPasswordReset(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, _ := apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		bob := ts.Client(t)
		key := gqlInsertAPIKey(t, ts, gqlDBUser(t, ts, "alice").ID.String(), nil)

		// Known and unknown addresses: the same answer, byte for byte.
		known := gqlRequestReset(t, bob, "ALICE@example.com")
		unknown := gqlRequestReset(t, bob, "nobody@example.com")
		if string(known.Raw) != string(unknown.Raw) {
			t.Errorf("answers differ: %s / %s", known.Raw, unknown.Raw)
		}
		ms := apptest.MailsOf(t, ts, model.MailPasswordReset, "")
		if len(ms) != 1 || ms[0].To != "alice@example.com" {
			t.Fatalf("reset mails %+v", ms)
		}
		tok := apptest.MailToken(t, ts, ms[0], "/auth/reset-password")

		r := bob.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": tok, "newPassword": "a new password", "revokeApiKeys": true}))
		gqlWantUserErrs(t, r, "resetPassword")
		if p := apptest.Get(r.Data, "resetPassword").(map[string]any); p["passwordReset"] != true || p["revokedSessions"] != 1.0 ||
			p["revokedApiKeys"] != 1.0 {
			t.Errorf("payload %v", p)
		}
		gqlWantNoSessionCookie(t, ts, r)
		if v := apptest.GQLViewer(t, alice); v != nil {
			t.Errorf("the old session still works: %v", v)
		}
		if v := apptest.GQLViewer(t, gqlKeyClient(t, ts, key)); v != nil {
			t.Errorf("the revoked key still works: %v", v)
		}
		fresh := gqlLogin(t, ts, "alice", "a new password")
		if v := gqlEmailViewer(t, fresh); v["emailVerified"] != true {
			t.Errorf("viewer %v: a used reset proves the address", v)
		}

		// Used.
		r = bob.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": tok, "newPassword": "another password"}))
		gqlWantUserErrs(t, r, "resetPassword", apptest.GQLUserErr{Field: gqlField("token"), Message: "invalid or expired token", Code: "INVALID"})
		if apptest.Get(r.Data, "resetPassword", "passwordReset") != false {
			t.Errorf("payload %s", r.Raw)
		}
		apptest.NoSecrets(t, ts, tok, "a new password")
	})
}

func TestGraphQLPasswordResetErrors(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		c := ts.Client(t)
		r := c.GQL(gqlRequestResetDoc, apptest.GQLIn(map[string]any{"email": "alice"}))
		gqlWantUserErrs(t, r, "requestPasswordReset",
			apptest.GQLUserErr{Field: gqlField("email"), Message: "not a valid email: value is missing `@`", Code: "INVALID"})
		if apptest.Get(r.Data, "requestPasswordReset", "accepted") != false {
			t.Errorf("payload %s", r.Raw)
		}

		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": "short", "newPassword": "short"}))
		gqlWantUserErrs(t, r, "resetPassword",
			apptest.GQLUserErr{Field: gqlField("token"), Message: "length is lower than 96", Code: "INVALID"},
			apptest.GQLUserErr{Field: gqlField("newPassword"), Message: "length is lower than 8", Code: "INVALID"})
		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": secret.RandomString(97), "newPassword": "a new password"}))
		gqlWantUserErrs(t, r, "resetPassword", apptest.GQLUserErr{Field: gqlField("token"), Message: "length is greater than 96", Code: "INVALID"})
		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": secret.RandomString(96), "newPassword": "a new password"}))
		gqlWantUserErrs(t, r, "resetPassword", apptest.GQLUserErr{Field: gqlField("token"), Message: "invalid or expired token", Code: "INVALID"})

		// A frozen account: CONFLICT, the token kept.
		tok := apptest.ResetToken(t, c, "alice@example.com")
		gqlSetFlags(t, ts, "alice", true, false)
		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": tok, "newPassword": "a new password"}))
		gqlWantUserErrs(t, r, "resetPassword", apptest.GQLUserErr{Message: "account is frozen", Code: "CONFLICT"})
		gqlSetFlags(t, ts, "alice", false, false)
		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": tok, "newPassword": "a new password"}))
		gqlWantUserErrs(t, r, "resetPassword")
	})
}

// The per-IP limits are counted per mutation field, after validation, so
// aliases gain nothing; over them a field is refused with RATE_LIMITED.
func TestGraphQLPasswordResetRateLimits(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, func(cfg *app.Config) {
		cfg.RateLimits[web.RateForgot] = web.RateRule{Limit: 2, Window: time.Hour}
		cfg.RateLimits[web.RateReset] = web.RateRule{Limit: 1, Window: 5 * time.Minute}
	}, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		// Invalid requests are not counted.
		for range 3 {
			r := c.GQL(gqlRequestResetDoc, apptest.GQLIn(map[string]any{"email": "nope"}))
			if len(apptest.GQLUserErrs(t, r, "requestPasswordReset")) != 1 {
				t.Fatalf("answer %s", r.Raw)
			}
		}
		r := c.GQL(`mutation { a: requestPasswordReset(input: {email: "a@example.com"}) { accepted }
			b: requestPasswordReset(input: {email: "b@example.com"}) { accepted }
			c: requestPasswordReset(input: {email: "c@example.com"}) { accepted } }`, nil)
		// The third field is refused; its payload cannot be null, so the
		// whole data is.
		_, ext := apptest.GQLTopError(t, r, "RATE_LIMITED", "c")
		if ext["retryAfter"] == nil {
			t.Errorf("no retryAfter: %s", r.Raw)
		}
		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": secret.RandomString(96), "newPassword": "a new password"}))
		gqlWantUserErrs(t, r, "resetPassword", apptest.GQLUserErr{Field: gqlField("token"), Message: "invalid or expired token", Code: "INVALID"})
		r = c.GQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": secret.RandomString(96), "newPassword": "a new password"}))
		apptest.GQLTopError(t, r, "RATE_LIMITED", "resetPassword")
	})
}

// Concurrent resets with one token over GraphQL: exactly one succeeds.
func TestGraphQLPasswordResetConcurrent(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		tok := apptest.ResetToken(t, ts.Client(t), "alice@example.com")
		const n = 8
		ok := make([]bool, n)
		var wg sync.WaitGroup
		for i := range n {
			c := ts.Client(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := c.TryGQL(gqlResetDoc, apptest.GQLIn(map[string]any{"token": tok, "newPassword": fmt.Sprintf("password %d", i)}))
				if err != nil {
					t.Error(err)
					return
				}
				ok[i] = apptest.Get(r.Data, "resetPassword", "passwordReset") == true
			}()
		}
		wg.Wait()
		won := 0
		for _, o := range ok {
			if o {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d resets succeeded, want 1", won)
		}
	})
}

func TestGraphQLEmailChangeVerified(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.EmailVerifyChanges = true }), func(t *testing.T, ts *apptest.Server) {
		alice, _ := apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		apptest.GQLRegister(t, ts, "bob", apptest.GQLPassword)
		if v := gqlEmailViewer(t, alice); v["emailVerified"] != false || v["pendingEmail"] != nil {
			t.Errorf("a new account: %v", v)
		}
		r := alice.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "bob@example.com", "password": apptest.GQLPassword}))
		gqlWantUserErrs(t, r, "updateEmail", apptest.GQLUserErr{Field: gqlField("email"), Message: "email already in use", Code: "CONFLICT"})

		r = alice.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "alice@new.example", "password": apptest.GQLPassword}))
		gqlWantUserErrs(t, r, "updateEmail")
		if apptest.Get(r.Data, "updateEmail", "user", "email") != "alice@example.com" {
			t.Errorf("payload %s", r.Raw)
		}
		if v := gqlEmailViewer(t, alice); v["email"] != "alice@example.com" || v["pendingEmail"] != "alice@new.example" {
			t.Errorf("viewer %v", v)
		}
		tok := apptest.MailToken(t, ts, apptest.LastMail(t, ts, model.MailEmailChangeConfirm, "alice@new.example"), "/auth/confirm-email")
		if n := apptest.LastMail(t, ts, model.MailEmailChangeNotice, "alice@example.com"); n.Data.NewEmail != "a***@n***.example" {
			t.Errorf("notice %+v", n.Data)
		}

		c := ts.Client(t)
		r = c.GQL(gqlConfirmDoc, apptest.GQLIn(map[string]any{"token": strings.ToUpper(tok[:1]) + tok[1:95]}))
		gqlWantUserErrs(t, r, "confirmEmailChange", apptest.GQLUserErr{Field: gqlField("token"), Message: "length is lower than 96", Code: "INVALID"})
		r = c.GQL(gqlConfirmDoc, apptest.GQLIn(map[string]any{"token": apptest.OffByOne(tok)}))
		gqlWantUserErrs(t, r, "confirmEmailChange", apptest.GQLUserErr{Field: gqlField("token"), Message: "invalid or expired token", Code: "INVALID"})
		r = c.GQL(gqlConfirmDoc, apptest.GQLIn(map[string]any{"token": tok}))
		gqlWantUserErrs(t, r, "confirmEmailChange")
		if apptest.Get(r.Data, "confirmEmailChange", "email") != "alice@new.example" {
			t.Errorf("payload %s", r.Raw)
		}
		if v := gqlEmailViewer(t, alice); v["email"] != "alice@new.example" || v["pendingEmail"] != nil || v["emailVerified"] != true {
			t.Errorf("viewer %v", v)
		}
		r = c.GQL(gqlConfirmDoc, apptest.GQLIn(map[string]any{"token": tok}))
		gqlWantUserErrs(t, r, "confirmEmailChange", apptest.GQLUserErr{Field: gqlField("token"), Message: "invalid or expired token", Code: "INVALID"})

		// Taken meanwhile.
		r = alice.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "carol@example.com", "password": apptest.GQLPassword}))
		gqlWantUserErrs(t, r, "updateEmail")
		tok = apptest.MailToken(t, ts, apptest.LastMail(t, ts, model.MailEmailChangeConfirm, "carol@example.com"), "/auth/confirm-email")
		apptest.GQLRegister(t, ts, "carol", apptest.GQLPassword)
		r = c.GQL(gqlConfirmDoc, apptest.GQLIn(map[string]any{"token": tok}))
		gqlWantUserErrs(t, r, "confirmEmailChange", apptest.GQLUserErr{Message: "email already in use", Code: "CONFLICT"})
		if v := gqlEmailViewer(t, alice); v["email"] != "alice@new.example" || v["pendingEmail"] != "carol@example.com" {
			t.Errorf("viewer %v", v)
		}
	})
}

// Sign-up verification over GraphQL: the viewer says unverified until the
// mailed link is confirmed; signing in works meanwhile.
func TestGraphQLEmailVerifySignup(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.EmailVerifySignup = true }), func(t *testing.T, ts *apptest.Server) {
		alice, _ := apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		if v := gqlEmailViewer(t, alice); v["emailVerified"] != false || v["pendingEmail"] != nil {
			t.Errorf("viewer %v", v)
		}
		gqlLogin(t, ts, "alice", apptest.GQLPassword)
		tok := apptest.MailToken(t, ts, apptest.LastMail(t, ts, model.MailEmailVerify, "alice@example.com"), "/auth/confirm-email")
		r := ts.Client(t).GQL(gqlConfirmDoc, apptest.GQLIn(map[string]any{"token": tok}))
		gqlWantUserErrs(t, r, "confirmEmailChange")
		if v := gqlEmailViewer(t, alice); v["emailVerified"] != true || v["email"] != "alice@example.com" {
			t.Errorf("viewer %v", v)
		}
	})
}

// Each security notice through the API: password changed, two-factor on
// and off, new recovery codes, a new API key, a sign-in from a new device.
func TestGraphQLSecurityNotices(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, _ := apptest.GQLRegister(t, ts, "alice", apptest.GQLPassword)
		alice.Header.Set("User-Agent", "notice-test/1.0")
		count := func(template string) int { return len(apptest.MailsOf(t, ts, template, "alice@example.com")) }
		if count(model.MailNoticeNewDevice) != 0 {
			t.Fatal("the sign-up sent a new-device notice")
		}
		gqlLogin(t, ts, "alice", apptest.GQLPassword)
		if count(model.MailNoticeNewDevice) != 1 {
			t.Errorf("no new-device notice")
		}

		r := alice.GQL(`mutation { createApiKey(input: {name: "ci bot"}) { key userErrors { message } } }`, nil)
		apptest.GQLNoErrors(t, r)
		n := apptest.LastMail(t, ts, model.MailNoticeAPIKeyCreated, "alice@example.com")
		if n.Data.Detail != "ci bot" || n.Data.Event == nil || n.Data.Event.UserAgent != "notice-test/1.0" || n.Data.Event.IP != "127.0.0.1" {
			t.Errorf("api key notice %+v", n.Data)
		}
		key, _ := apptest.Get(r.Data, "createApiKey", "key").(string)

		r = alice.GQL(`mutation { beginTwoFactorSetup { secret } }`, nil)
		apptest.GQLNoErrors(t, r)
		sec := apptest.Get(r.Data, "beginTwoFactorSetup", "secret").(string)
		step := secret.TOTPStep(time.Now())
		r = alice.GQL(`mutation($input: EnableTwoFactorInput!) { enableTwoFactor(input: $input) { recoveryCodes userErrors { message } } }`,
			apptest.GQLIn(map[string]any{"code": apptest.CodeAt(t, sec, step), "password": apptest.GQLPassword}))
		gqlWantUserErrs(t, r, "enableTwoFactor")
		codes := apptest.Get(r.Data, "enableTwoFactor", "recoveryCodes").([]any)
		r = alice.GQL(`mutation($input: RegenerateRecoveryCodesInput!) { regenerateRecoveryCodes(input: $input) { recoveryCodes userErrors { message } } }`,
			apptest.GQLIn(map[string]any{"code": codes[0], "password": apptest.GQLPassword}))
		gqlWantUserErrs(t, r, "regenerateRecoveryCodes")
		fresh := apptest.Get(r.Data, "regenerateRecoveryCodes", "recoveryCodes").([]any)
		r = alice.GQL(`mutation($input: DisableTwoFactorInput!) { disableTwoFactor(input: $input) { userErrors { message } } }`,
			apptest.GQLIn(map[string]any{"code": fresh[0], "password": apptest.GQLPassword}))
		gqlWantUserErrs(t, r, "disableTwoFactor")
		r = alice.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "a new password"}))
		gqlWantUserErrs(t, r, "changePassword")

		for _, template := range []string{model.MailNoticeTwoFactorEnabled, model.MailNoticeRecoveryCodes, model.MailNoticeTwoFactorOff,
			model.MailNoticePasswordChanged} {
			if n := count(template); n != 1 {
				t.Errorf("%d %s mails, want 1", n, template)
			}
		}
		// No mail carries a secret: codes, keys, passwords, the TOTP secret.
		secrets := []string{key, sec, apptest.GQLPassword, "a new password"}
		for _, c := range append(codes, fresh...) {
			secrets = append(secrets, c.(string))
		}
		for _, m := range apptest.Mails(t, ts) {
			text := fmt.Sprintf("%+v %+v", m.Data, m.To)
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("%s mail holds a secret: %s", m.Template, text)
				}
			}
		}
		apptest.NoSecrets(t, ts, secrets...)
	})
}
