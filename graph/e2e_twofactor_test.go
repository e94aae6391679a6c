package graph_test

// End-to-end tests of two-factor authentication over GraphQL: the same
// journey as over REST, the QR code, the userErrors of every failure, the
// TWO_FACTOR_REQUIREMENT gate, concurrent use of one code, and documents
// that alias code-checking fields. Helpers start with "gtf"; the database
// and TOTP helpers are shared with the REST tests (app/apptest). Aliasing
// and concurrency are in e2e_twofactor_concurrency_test.go.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"accountd/account"
	"accountd/app"
	"accountd/app/apptest"
	"accountd/secret"
)

const (
	gtfStatusFields  = `twoFactor { enabled lastUsedAt recoveryCodesRemaining }`
	gtfSetupDoc      = `mutation { beginTwoFactorSetup { otpauthUrl secret qrCode ` + apptest.GQLUserErrorFields + ` } }`
	gtfEnableDoc     = `mutation($input: EnableTwoFactorInput!) { enableTwoFactor(input: $input) { user { id ` + gtfStatusFields + ` } recoveryCodes ` + apptest.GQLUserErrorFields + ` } }`
	gtfDisableDoc    = `mutation($input: DisableTwoFactorInput!) { disableTwoFactor(input: $input) { user { id ` + gtfStatusFields + ` } ` + apptest.GQLUserErrorFields + ` } }`
	gtfRegenDoc      = `mutation($input: RegenerateRecoveryCodesInput!) { regenerateRecoveryCodes(input: $input) { recoveryCodes ` + apptest.GQLUserErrorFields + ` } }`
	gtfCheckpointDoc = `mutation($input: LoginCheckpointInput!) { loginCheckpoint(input: $input) { user { id username ` + gtfStatusFields + ` } ` + apptest.GQLUserErrorFields + ` } }`
	gtfStatusDoc     = `{ viewer { id ` + gtfStatusFields + ` } }`
)

// gtfUser is an account registered over GraphQL and its signed-in client.
type gtfUser struct {
	*apptest.Client
	Username string
	Email    string
	Password string
	ID       uuid.UUID
}

// gtfRegister signs up username over GraphQL.
func gtfRegister(t testing.TB, ts *apptest.Server, username, password string) *gtfUser {
	t.Helper()
	c, u := apptest.GQLRegister(t, ts, username, password)
	id, err := uuid.Parse(fmt.Sprint(u["id"]))
	if err != nil {
		t.Fatalf("register %s: id %v: %v", username, u["id"], err)
	}
	return &gtfUser{Client: c, Username: username, Email: strings.ToLower(username) + "@example.com", Password: password, ID: id}
}

// gtfReadQR decodes a PNG data URI and reads the QR code in it.
func gtfReadQR(t testing.TB, dataURI string) string {
	t.Helper()
	const prefix = "data:image/png;base64,"
	if !strings.HasPrefix(dataURI, prefix) {
		t.Fatalf("qrCode %.40q… is not a PNG data URI", dataURI)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(dataURI, prefix))
	if err != nil {
		t.Fatalf("qrCode base64: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("qrCode PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatalf("qrCode bitmap: %v", err)
	}
	// A pure code on a quiet zone, as a phone sees it on screen; the
	// decoder's photo-oriented finder search occasionally misses a valid
	// code, so it is told so.
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("qrCode holds no readable QR code: %v", err)
	}
	return res.GetText()
}

// gtfSetup runs beginTwoFactorSetup and checks the payload: the otpauth URL
// exactly, a 32-character secret, and a QR code that reads back as the URL.
// It returns the secret.
func gtfSetup(t testing.TB, c *apptest.Client, email string) string {
	t.Helper()
	r := c.GQL(gtfSetupDoc, nil)
	gqlWantUserErrs(t, r, "beginTwoFactorSetup")
	p, _ := apptest.Get(r.Data, "beginTwoFactorSetup").(map[string]any)
	sec, _ := p["secret"].(string)
	if len(sec) != 32 {
		t.Fatalf("secret %q: want 32 base32 characters", sec)
	}
	want := "otpauth://totp/Calagopus:" + email + "?secret=" + sec + "&issuer=Calagopus"
	if p["otpauthUrl"] != want {
		t.Errorf("otpauthUrl\n got %v\nwant %s", p["otpauthUrl"], want)
	}
	qr, _ := p["qrCode"].(string)
	if got := gtfReadQR(t, qr); got != p["otpauthUrl"] {
		t.Errorf("the QR code reads\n %q\nwant the otpauthUrl\n %q", got, p["otpauthUrl"])
	}
	return sec
}

// gtfCodes checks data.<op>.recoveryCodes: ten distinct codes of ten
// alphanumerics, and no userErrors. It returns them.
func gtfCodes(t testing.TB, r *apptest.GQLResponse, op string) []string {
	t.Helper()
	gqlWantUserErrs(t, r, op)
	list, _ := apptest.Get(r.Data, op, "recoveryCodes").([]any)
	var codes []string
	for _, v := range list {
		s, _ := v.(string)
		if len(s) != 10 || !secret.IsAlphanumeric(s) || slices.Contains(codes, s) {
			t.Errorf("recovery code %q: want 10 characters [A-Za-z0-9], each once", v)
		}
		codes = append(codes, s)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10: %s", len(codes), r.Raw)
	}
	return codes
}

// gtfIn is the input of a code-checking mutation.
func gtfIn(code, password string) map[string]any {
	return apptest.GQLIn(map[string]any{"code": code, "password": password})
}

// gtfEnable sets up and enables two-factor for u over GraphQL.
func gtfEnable(t testing.TB, ts *apptest.Server, u *gtfUser) (*apptest.OTP, []string) {
	t.Helper()
	otp := &apptest.OTP{Secret: gtfSetup(t, u.Client, u.Email), Last: apptest.TwoFactorSnapshot(t, ts, u.ID).LastStep}
	code, step := otp.Next(t)
	codes := gtfCodes(t, u.GQL(gtfEnableDoc, gtfIn(code, u.Password)), "enableTwoFactor")
	otp.Accepted(step)
	return otp, codes
}

// gtfLoginToken signs in with a password on an account with two-factor and
// returns the confirmation token.
func gtfLoginToken(t testing.TB, ts *apptest.Server, login, password string) string {
	t.Helper()
	r := ts.Client(t).GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": login, "password": password}))
	gqlWantUserErrs(t, r, "login")
	p, _ := apptest.Get(r.Data, "login").(map[string]any)
	if p["twoFactorRequired"] != true || p["user"] != nil {
		t.Fatalf("login %s: want twoFactorRequired and no user: %s", login, r.Raw)
	}
	gqlWantNoSessionCookie(t, ts, r)
	tok, _ := p["confirmationToken"].(string)
	if len(tok) != 48 || !secret.IsAlphanumeric(tok) {
		t.Fatalf("confirmationToken %q: want 48 alphanumerics", tok)
	}
	return tok
}

// gtfCheckpoint runs loginCheckpoint from a fresh client.
func gtfCheckpoint(t testing.TB, ts *apptest.Server, token, code string) (*apptest.Client, *apptest.GQLResponse) {
	t.Helper()
	c := ts.Client(t)
	return c, c.GQL(gtfCheckpointDoc, apptest.GQLIn(map[string]any{"confirmationToken": token, "code": code}))
}

// gtfWantSignedIn checks a successful loginCheckpoint for user id: the
// user with two-factor on, a session cookie that works on its own.
func gtfWantSignedIn(t testing.TB, ts *apptest.Server, c *apptest.Client, r *apptest.GQLResponse, id uuid.UUID) {
	t.Helper()
	gqlWantUserErrs(t, r, "loginCheckpoint")
	u, _ := apptest.Get(r.Data, "loginCheckpoint", "user").(map[string]any)
	if u == nil || u["id"] != id.String() || apptest.Get(u, "twoFactor", "enabled") != true || apptest.Get(u, "twoFactor", "lastUsedAt") == nil {
		t.Fatalf("loginCheckpoint user: %s", r.Raw)
	}
	ck := gqlWantSessionCookie(t, ts, r)
	for _, cl := range []*apptest.Client{c, apptest.GQLCookieClient(t, ts, ck.Value)} {
		if v := apptest.GQLViewer(t, cl); v == nil || v["id"] != id.String() {
			t.Errorf("the checkpoint's session is not %s's: %v", id, v)
		}
	}
}

// gtfWantRefused checks that data.<op> holds exactly want as userErrors,
// that no session cookie was set and nothing changed; then it forgets the
// failure the request cost.
func gtfWantRefused(t testing.TB, ts *apptest.Server, id uuid.UUID, before apptest.TwoFactorState, r *apptest.GQLResponse, op string, want ...apptest.GQLUserErr) {
	t.Helper()
	gqlWantUserErrs(t, r, op, want...)
	for k, v := range apptest.Get(r.Data, op).(map[string]any) {
		if k != "userErrors" && v != nil {
			t.Errorf("data.%s.%s = %v on a refusal, want null", op, k, v)
		}
	}
	gqlWantNoSessionCookie(t, ts, r)
	apptest.TwoFactorUnchanged(t, ts, id, before)
	apptest.ResetAttempts(t, ts, id)
}

// The userErrors of the contract.
func gtfCodeErr(msg string) apptest.GQLUserErr {
	return apptest.GQLUserErr{Field: gqlField("code"), Message: msg, Code: "INVALID"}
}

func gtfConflict(msg string) apptest.GQLUserErr {
	return apptest.GQLUserErr{Message: msg, Code: "CONFLICT"}
}

var (
	gtfBadPassword   = apptest.GQLUserErr{Field: gqlField("password"), Message: "invalid password", Code: "INVALID_PASSWORD"}
	gtfBadToken      = apptest.GQLUserErr{Field: gqlField("confirmationToken"), Message: "invalid confirmation token", Code: "INVALID"}
	gtfNotConfigured = apptest.GQLUserErr{Message: "two-factor authentication has not been configured", Code: "NOT_CONFIGURED"}
	gtfPasswordLong  = apptest.GQLUserErr{Field: gqlField("password"), Message: "length is greater than 512", Code: "INVALID"}
)

// gtfWantRateLimited checks a top-level RATE_LIMITED error on field with
// a positive retryAfter that the message repeats.
func gtfWantRateLimited(t testing.TB, r *apptest.GQLResponse, field string) {
	t.Helper()
	msg, ext := apptest.GQLTopError(t, r, "RATE_LIMITED", field)
	ra, _ := ext["retryAfter"].(float64)
	if ra <= 0 || ra > 300 {
		t.Errorf("extensions.retryAfter = %v, want 1..300", ext["retryAfter"])
	}
	if want := fmt.Sprintf("too many attempts, retry in %ds", int(ra)); msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
}

func TestGraphQLTwoFactorJourney(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice := gtfRegister(t, ts, "Alice", "alice password")
		secrets := []string{alice.Password}
		var codes6 []string

		sec := gtfSetup(t, alice.Client, alice.Email)
		secrets = append(secrets, sec)
		if st := apptest.TwoFactorSnapshot(t, ts, alice.ID); st.Enabled || st.Secret != sec {
			t.Fatalf("after setup: %+v", st)
		}
		otp := &apptest.OTP{Secret: sec}

		// Enable with a code of the secret just returned.
		code, step := otp.Next(t)
		codes6 = append(codes6, code)
		r := alice.GQL(gtfEnableDoc, gtfIn(code, alice.Password))
		recovery := gtfCodes(t, r, "enableTwoFactor")
		otp.Accepted(step)
		secrets = append(secrets, recovery...)
		if apptest.Get(r.Data, "enableTwoFactor", "user", "twoFactor", "enabled") != true ||
			apptest.Get(r.Data, "enableTwoFactor", "user", "twoFactor", "recoveryCodesRemaining") != float64(10) ||
			apptest.Get(r.Data, "enableTwoFactor", "user", "twoFactor", "lastUsedAt") == nil {
			t.Errorf("enableTwoFactor user: %s", r.Raw)
		}
		// The secret is not handed out again.
		if strings.Contains(string(alice.GQL(gtfStatusDoc, nil).Raw), sec) {
			t.Errorf("the viewer shows the secret")
		}

		// login signs in with the password and returns the confirmation
		// token, kept for the log check.
		login := func() string {
			tok := gtfLoginToken(t, ts, "alice", alice.Password)
			secrets = append(secrets, tok)
			return tok
		}

		// Logout, then login stops at the checkpoint.
		r = alice.GQL(apptest.GQLLogoutDoc, nil)
		gqlWantUserErrs(t, r, "logout")
		if apptest.GQLViewer(t, alice.Client) != nil {
			t.Fatalf("still signed in after logout")
		}
		tok := login()
		before := apptest.TwoFactorSnapshot(t, ts, alice.ID)
		code, step = otp.Next(t)
		codes6 = append(codes6, code)
		c, r := gtfCheckpoint(t, ts, tok, code)
		gtfWantSignedIn(t, ts, c, r, alice.ID)
		otp.Accepted(step)
		secrets = append(secrets, apptest.GQLSessionCookie(t, ts, c))
		if after := apptest.TwoFactorSnapshot(t, ts, alice.ID); after.Sessions != before.Sessions+1 || after.LastStep != step {
			t.Errorf("after the checkpoint: %+v, want one new session and step %d", after, step)
		}

		// The same code again: refused.
		tok = login()
		_, r = gtfCheckpoint(t, ts, tok, code)
		gtfWantRefused(t, ts, alice.ID, apptest.TwoFactorSnapshot(t, ts, alice.ID), r, "loginCheckpoint", gtfCodeErr("this code has already been used"))

		// A recovery code, once.
		c, r = gtfCheckpoint(t, ts, login(), recovery[0])
		gtfWantSignedIn(t, ts, c, r, alice.ID)
		if apptest.Get(r.Data, "loginCheckpoint", "user", "twoFactor", "recoveryCodesRemaining") != float64(9) {
			t.Errorf("recoveryCodesRemaining: %s", r.Raw)
		}
		_, r = gtfCheckpoint(t, ts, login(), recovery[0])
		gtfWantRefused(t, ts, alice.ID, apptest.TwoFactorSnapshot(t, ts, alice.ID), r, "loginCheckpoint", gtfCodeErr("invalid recovery code"))

		// Regenerate: the old codes fail, a new one works.
		fresh := gtfCodes(t, c.GQL(gtfRegenDoc, gtfIn(recovery[1], alice.Password)), "regenerateRecoveryCodes")
		secrets = append(secrets, fresh...)
		for _, rc := range fresh {
			if slices.Contains(recovery, rc) {
				t.Errorf("regenerated code %q was in the old set", rc)
			}
		}
		for _, old := range []string{recovery[2], recovery[9]} {
			_, r = gtfCheckpoint(t, ts, login(), old)
			gtfWantRefused(t, ts, alice.ID, apptest.TwoFactorSnapshot(t, ts, alice.ID), r, "loginCheckpoint", gtfCodeErr("invalid recovery code"))
		}
		c, r = gtfCheckpoint(t, ts, login(), fresh[0])
		gtfWantSignedIn(t, ts, c, r, alice.ID)

		// Disable with a recovery code.
		r = c.GQL(gtfDisableDoc, gtfIn(fresh[1], alice.Password))
		gqlWantUserErrs(t, r, "disableTwoFactor")
		if apptest.Get(r.Data, "disableTwoFactor", "user", "twoFactor", "enabled") != false ||
			apptest.Get(r.Data, "disableTwoFactor", "user", "twoFactor", "recoveryCodesRemaining") != float64(0) {
			t.Errorf("disableTwoFactor user: %s", r.Raw)
		}
		if st := apptest.TwoFactorSnapshot(t, ts, alice.ID); st.Enabled || st.Secret != "" || st.NumCodes != 0 || st.LastStep != otp.Last {
			t.Errorf("after disable: %+v", st)
		}

		// Login completes without the checkpoint.
		r = ts.Client(t).GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "alice", "password": alice.Password}))
		gqlWantUserErrs(t, r, "login")
		if apptest.Get(r.Data, "login", "twoFactorRequired") != false || apptest.Get(r.Data, "login", "confirmationToken") != nil ||
			apptest.Get(r.Data, "login", "user", "id") != alice.ID.String() {
			t.Errorf("login after disable: %s", r.Raw)
		}
		gqlWantSessionCookie(t, ts, r)

		t.Run("activity", func(t *testing.T) {
			events := apptest.Events(t, ts, alice.ID)
			for want, n := range map[string]int{
				`account:two-factor.enable {}`:                                1,
				`auth:checkpoint {}`:                                          7,
				`auth:success {"using":"two-factor"}`:                         1,
				`auth:success {"using":"recovery-code"}`:                      2,
				`account:two-factor.recovery-codes {"using":"recovery-code"}`: 1,
				`account:two-factor.disable {"using":"recovery-code"}`:        1,
				`auth:success {"using":"password"}`:                           1,
			} {
				if got := apptest.CountEvent(events, want); got != n {
					t.Errorf("%d × %s, want %d; activity:\n%s", got, want, n, strings.Join(events, "\n"))
				}
			}
		})

		t.Run("no secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, secrets...)
			apptest.NoCodesInLog(t, ts, codes6...)
		})
	})
}

func TestGraphQLTwoFactorQRCode(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.AppName = "Panel" }), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "quinn", "quinn password")
		for range 3 {
			r := c.GQL(gtfSetupDoc, nil)
			gqlWantUserErrs(t, r, "beginTwoFactorSetup")
			p := apptest.Get(r.Data, "beginTwoFactorSetup").(map[string]any)
			sec, _ := p["secret"].(string)
			want := "otpauth://totp/Panel:quinn@example.com?secret=" + sec + "&issuer=Panel"
			if p["otpauthUrl"] != want {
				t.Errorf("otpauthUrl %v, want %s", p["otpauthUrl"], want)
			}
			if got := gtfReadQR(t, p["qrCode"].(string)); got != want {
				t.Errorf("the QR code reads %q, want %q", got, want)
			}
		}
	})
}

func TestGraphQLTwoFactorErrors(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		gtfRegister(t, ts, "admin", "admin password") // the first account is an admin
		erin := gtfRegister(t, ts, "erin", "erin password")
		refused := func(t *testing.T, r *apptest.GQLResponse, op string, want ...apptest.GQLUserErr) {
			t.Helper()
			gtfWantRefused(t, ts, erin.ID, apptest.TwoFactorSnapshot(t, ts, erin.ID), r, op, want...)
		}
		enable := func(code, password string) *apptest.GQLResponse {
			return erin.GQL(gtfEnableDoc, gtfIn(code, password))
		}

		t.Run("enable before setup", func(t *testing.T) {
			refused(t, enable("123456", erin.Password), "enableTwoFactor", gtfNotConfigured)
		})
		t.Run("disable and regenerate while off", func(t *testing.T) {
			for _, op := range []string{"disableTwoFactor", "regenerateRecoveryCodes"} {
				doc := map[string]string{"disableTwoFactor": gtfDisableDoc, "regenerateRecoveryCodes": gtfRegenDoc}[op]
				refused(t, erin.GQL(doc, gtfIn("123456", erin.Password)), op, gtfConflict("two-factor authentication is not enabled"))
				refused(t, erin.GQL(doc, gtfIn("12345678", "wrong password")), op, gtfConflict("two-factor authentication is not enabled"))
			}
		})

		// A setup whose secret a later setup replaced, once it had
		// outlived the time a pending secret is handed out again.
		stale := gtfSetup(t, erin.Client, erin.Email)
		apptest.AgePendingSecret(t, ts, erin.ID, time.Hour)
		otp := &apptest.OTP{Secret: gtfSetup(t, erin.Client, erin.Email)}
		if otp.Secret == stale {
			t.Fatal("an expired pending secret was handed out again")
		}
		code, step := otp.Next(t)
		wrong := apptest.WrongCode(t, otp.Secret)
		t.Run("enable", func(t *testing.T) {
			for _, tc := range []struct {
				name, code, password string
				want                 []apptest.GQLUserErr
			}{
				{"code too short", "12345", erin.Password, []apptest.GQLUserErr{gtfCodeErr("length is lower than 6")}},
				{"code too long", code + "1", erin.Password, []apptest.GQLUserErr{gtfCodeErr("length is greater than 6")}},
				{"password too long", code, strings.Repeat("p", 513), []apptest.GQLUserErr{gtfPasswordLong}},
				{"both", "", strings.Repeat("p", 513), []apptest.GQLUserErr{gtfCodeErr("length is lower than 6"), gtfPasswordLong}},
				{"wrong password", code, "wrong password", []apptest.GQLUserErr{gtfBadPassword}},
				{"wrong password and code", wrong, "wrong password", []apptest.GQLUserErr{gtfBadPassword}},
				{"wrong code", wrong, erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid confirmation code")}},
				{"code of the replaced secret", apptest.CodeAt(t, stale, step), erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid confirmation code")}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					refused(t, enable(tc.code, tc.password), "enableTwoFactor", tc.want...)
				})
			}
		})

		var recovery []string
		t.Run("the right code still works", func(t *testing.T) {
			recovery = gtfCodes(t, enable(code, erin.Password), "enableTwoFactor")
			otp.Accepted(step)
		})
		if recovery == nil {
			t.FailNow()
		}

		t.Run("already enabled", func(t *testing.T) {
			refused(t, erin.GQL(gtfSetupDoc, nil), "beginTwoFactorSetup", gtfConflict("two-factor authentication is already enabled"))
			next, _ := otp.Next(t)
			refused(t, enable(next, erin.Password), "enableTwoFactor", gtfConflict("two-factor authentication is already enabled"))
			refused(t, enable(next, "wrong password"), "enableTwoFactor", gtfConflict("two-factor authentication is already enabled"))
		})

		used := apptest.CodeAt(t, otp.Secret, otp.Last)
		for _, op := range []string{"disableTwoFactor", "regenerateRecoveryCodes"} {
			doc := map[string]string{"disableTwoFactor": gtfDisableDoc, "regenerateRecoveryCodes": gtfRegenDoc}[op]
			t.Run(op, func(t *testing.T) {
				for _, tc := range []struct {
					name, code, password string
					want                 []apptest.GQLUserErr
				}{
					{"code too short", "12345", erin.Password, []apptest.GQLUserErr{gtfCodeErr("length is lower than 6")}},
					{"code too long", recovery[0] + "x", erin.Password, []apptest.GQLUserErr{gtfCodeErr("length is greater than 10")}},
					{"password too long", recovery[0], strings.Repeat("p", 513), []apptest.GQLUserErr{gtfPasswordLong}},
					{"length 7", "1234567", erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid confirmation code length")}},
					{"length 8", "12345678", "wrong password", []apptest.GQLUserErr{gtfCodeErr("invalid confirmation code length")}},
					{"length 9", recovery[0][:9], erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid confirmation code length")}},
					{"wrong password", recovery[0], "wrong password", []apptest.GQLUserErr{gtfBadPassword}},
					{"wrong TOTP", wrong, erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid confirmation code")}},
					{"wrong recovery code", apptest.WrongRecoveryCode, erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid recovery code")}},
					{"recovery code in the wrong case", apptest.SwapCase(recovery[0]), erin.Password, []apptest.GQLUserErr{gtfCodeErr("invalid recovery code")}},
					{"used TOTP code", used, erin.Password, []apptest.GQLUserErr{gtfCodeErr("this code has already been used")}},
				} {
					t.Run(tc.name, func(t *testing.T) {
						refused(t, erin.GQL(doc, gtfIn(tc.code, tc.password)), op, tc.want...)
					})
				}
			})
		}

		t.Run("checkpoint", func(t *testing.T) {
			tok := gtfLoginToken(t, ts, "erin", erin.Password)
			checkpoint := func(token, code string) *apptest.GQLResponse {
				_, r := gtfCheckpoint(t, ts, token, code)
				return r
			}
			for _, tc := range []struct {
				name, token, code string
				want              apptest.GQLUserErr
			}{
				{"code too short", tok, "12345", gtfCodeErr("length is lower than 6")},
				{"code too long", tok, recovery[0] + "x", gtfCodeErr("length is greater than 10")},
				{"length 8", tok, "12345678", gtfCodeErr("invalid confirmation code length")},
				{"empty token", "", recovery[0], gtfBadToken},
				{"unknown token", secret.RandomString(48), recovery[0], gtfBadToken},
				{"forged token", tok[:16] + secret.RandomString(32), recovery[0], gtfBadToken},
				{"token off by one", apptest.OffByOne(tok), recovery[0], gtfBadToken},
				{"wrong TOTP", tok, wrong, gtfCodeErr("invalid confirmation code")},
				{"wrong recovery code", tok, apptest.WrongRecoveryCode, gtfCodeErr("invalid recovery code")},
				{"used TOTP code", tok, used, gtfCodeErr("this code has already been used")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					refused(t, checkpoint(tc.token, tc.code), "loginCheckpoint", tc.want)
				})
			}
			t.Run("used token", func(t *testing.T) {
				c, r := gtfCheckpoint(t, ts, tok, recovery[0])
				gtfWantSignedIn(t, ts, c, r, erin.ID)
				refused(t, checkpoint(tok, recovery[1]), "loginCheckpoint", gtfBadToken)
			})
			t.Run("expired token", func(t *testing.T) {
				tok := gtfLoginToken(t, ts, "erin", erin.Password)
				apptest.ExpireLoginTokens(t, ts, erin.ID)
				refused(t, checkpoint(tok, recovery[1]), "loginCheckpoint", gtfBadToken)
			})
		})

		t.Run("frozen", func(t *testing.T) {
			fay := gtfRegister(t, ts, "fay", "fay password")
			sec := gtfSetup(t, fay.Client, fay.Email)
			gqlSetFlags(t, ts, "fay", true, false)
			before := apptest.TwoFactorSnapshot(t, ts, fay.ID)
			gtfWantRefused(t, ts, fay.ID, before, fay.GQL(gtfSetupDoc, nil), "beginTwoFactorSetup", gtfConflict("account is frozen"))
			code, _ := (&apptest.OTP{Secret: sec}).Next(t)
			gtfWantRefused(t, ts, fay.ID, before, fay.GQL(gtfEnableDoc, gtfIn(code, fay.Password)), "enableTwoFactor", gtfConflict("account is frozen"))
		})

		t.Run("no secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, append([]string{erin.Password, otp.Secret, stale}, recovery...)...)
			apptest.NoCodesInLog(t, ts, code)
		})
	})
}

func TestGraphQLTwoFactorPermission(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		kim := gtfRegister(t, ts, "kim", "kim password")
		kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, kim.ID.String(), []string{"account.email", "account.password"}))
		anon := ts.Client(t)
		for _, tc := range []struct {
			op, doc string
			vars    map[string]any
		}{
			{"beginTwoFactorSetup", gtfSetupDoc, nil},
			{"enableTwoFactor", gtfEnableDoc, gtfIn("123456", kim.Password)},
			{"disableTwoFactor", gtfDisableDoc, gtfIn("123456", kim.Password)},
			{"regenerateRecoveryCodes", gtfRegenDoc, gtfIn("123456", kim.Password)},
		} {
			t.Run(tc.op, func(t *testing.T) {
				before := apptest.TwoFactorSnapshot(t, ts, kim.ID)
				msg, ext := apptest.GQLTopError(t, kc.GQL(tc.doc, tc.vars), "FORBIDDEN", tc.op)
				if ext["permission"] != "account.two-factor" || msg != "you do not have permission to perform this action: account.two-factor" {
					t.Errorf("FORBIDDEN %q %v", msg, ext)
				}
				apptest.GQLTopError(t, anon.GQL(tc.doc, tc.vars), "UNAUTHENTICATED", tc.op)
				apptest.TwoFactorUnchanged(t, ts, kim.ID, before)
			})
		}
		t.Run("a key with account.two-factor", func(t *testing.T) {
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, kim.ID.String(), []string{"account.two-factor"}))
			otp := &apptest.OTP{Secret: gtfSetup(t, kc, kim.Email)}
			recovery := gtfCodes(t, kc.GQL(gtfEnableDoc, gtfIn(apptest.MustNext(t, otp), kim.Password)), "enableTwoFactor")
			r := kc.GQL(gtfDisableDoc, gtfIn(recovery[0], kim.Password))
			gqlWantUserErrs(t, r, "disableTwoFactor")
		})
	})
}

func TestGraphQLTwoFactorGate(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }), func(t *testing.T, ts *apptest.Server) {
		gtfRegister(t, ts, "admin", "admin password")
		gina := gtfRegister(t, ts, "gina", "gina password")
		const keysDoc = `{ viewer { id apiKeys { totalCount } } }`

		msg, _ := apptest.GQLTopError(t, gina.GQL(keysDoc, nil), "FORBIDDEN", "viewer")
		if msg != "two-factor authentication required" {
			t.Errorf("message %q", msg)
		}
		v := apptest.GQLViewer(t, gina.Client)
		if v == nil || v["requireTwoFactor"] != true || apptest.Get(v, "twoFactor", "enabled") != false {
			t.Errorf("viewer: %v", v)
		}
		r := gqlLogin(t, ts, "gina", gina.Password).GQL(apptest.GQLLogoutDoc, nil)
		gqlWantUserErrs(t, r, "logout")
		gtfEnable(t, ts, gina)
		r = gina.GQL(keysDoc, nil)
		apptest.GQLNoErrors(t, r)
		if apptest.Get(r.Data, "viewer", "apiKeys", "totalCount") != float64(0) {
			t.Errorf("apiKeys after enabling: %s", r.Raw)
		}
	})
}
