package app_test

// End-to-end tests of two-factor authentication over GraphQL: the same
// journey as over REST, the QR code, the userErrors of every failure, the
// TWO_FACTOR_REQUIREMENT gate, concurrent use of one code, and documents
// that alias code-checking fields. Helpers start with "gtf"; the database
// and TOTP helpers of rest_twofactor_test.go are shared.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image/png"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"accountd/account"
	"accountd/app"
	"accountd/secret"
)

const (
	gtfStatusFields  = `twoFactor { enabled lastUsedAt recoveryCodesRemaining }`
	gtfSetupDoc      = `mutation { beginTwoFactorSetup { otpauthUrl secret qrCode ` + gqlUserErrorFields + ` } }`
	gtfEnableDoc     = `mutation($input: EnableTwoFactorInput!) { enableTwoFactor(input: $input) { user { id ` + gtfStatusFields + ` } recoveryCodes ` + gqlUserErrorFields + ` } }`
	gtfDisableDoc    = `mutation($input: DisableTwoFactorInput!) { disableTwoFactor(input: $input) { user { id ` + gtfStatusFields + ` } ` + gqlUserErrorFields + ` } }`
	gtfRegenDoc      = `mutation($input: RegenerateRecoveryCodesInput!) { regenerateRecoveryCodes(input: $input) { recoveryCodes ` + gqlUserErrorFields + ` } }`
	gtfCheckpointDoc = `mutation($input: LoginCheckpointInput!) { loginCheckpoint(input: $input) { user { id username ` + gtfStatusFields + ` } ` + gqlUserErrorFields + ` } }`
	gtfStatusDoc     = `{ viewer { id ` + gtfStatusFields + ` } }`
)

// gtfUser is an account registered over GraphQL and its signed-in client.
type gtfUser struct {
	*client
	Username string
	Email    string
	Password string
	ID       uuid.UUID
}

// gtfRegister signs up username over GraphQL.
func gtfRegister(t testing.TB, ts *testServer, username, password string) *gtfUser {
	t.Helper()
	c, u := gqlRegister(t, ts, username, password)
	id, err := uuid.Parse(fmt.Sprint(u["id"]))
	if err != nil {
		t.Fatalf("register %s: id %v: %v", username, u["id"], err)
	}
	return &gtfUser{client: c, Username: username, Email: strings.ToLower(username) + "@example.com", Password: password, ID: id}
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
func gtfSetup(t testing.TB, c *client, email string) string {
	t.Helper()
	r := c.gql(gtfSetupDoc, nil)
	gqlWantUserErrs(t, r, "beginTwoFactorSetup")
	p, _ := get(r.Data, "beginTwoFactorSetup").(map[string]any)
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
func gtfCodes(t testing.TB, r *gqlResponse, op string) []string {
	t.Helper()
	gqlWantUserErrs(t, r, op)
	list, _ := get(r.Data, op, "recoveryCodes").([]any)
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
	return gqlIn(map[string]any{"code": code, "password": password})
}

// gtfEnable sets up and enables two-factor for u over GraphQL.
func gtfEnable(t testing.TB, ts *testServer, u *gtfUser) (*rtfOTP, []string) {
	t.Helper()
	otp := &rtfOTP{Secret: gtfSetup(t, u.client, u.Email), last: rtfSnapshot(t, ts, u.ID).LastStep}
	code, step := otp.next(t)
	codes := gtfCodes(t, u.gql(gtfEnableDoc, gtfIn(code, u.Password)), "enableTwoFactor")
	otp.accepted(step)
	return otp, codes
}

// gtfLoginToken signs in with a password on an account with two-factor and
// returns the confirmation token.
func gtfLoginToken(t testing.TB, ts *testServer, login, password string) string {
	t.Helper()
	r := ts.client(t).gql(gqlLoginDoc, gqlIn(map[string]any{"user": login, "password": password}))
	gqlWantUserErrs(t, r, "login")
	p, _ := get(r.Data, "login").(map[string]any)
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
func gtfCheckpoint(t testing.TB, ts *testServer, token, code string) (*client, *gqlResponse) {
	t.Helper()
	c := ts.client(t)
	return c, c.gql(gtfCheckpointDoc, gqlIn(map[string]any{"confirmationToken": token, "code": code}))
}

// gtfWantSignedIn checks a successful loginCheckpoint for user id: the
// user with two-factor on, a session cookie that works on its own.
func gtfWantSignedIn(t testing.TB, ts *testServer, c *client, r *gqlResponse, id uuid.UUID) {
	t.Helper()
	gqlWantUserErrs(t, r, "loginCheckpoint")
	u, _ := get(r.Data, "loginCheckpoint", "user").(map[string]any)
	if u == nil || u["id"] != id.String() || get(u, "twoFactor", "enabled") != true || get(u, "twoFactor", "lastUsedAt") == nil {
		t.Fatalf("loginCheckpoint user: %s", r.Raw)
	}
	ck := gqlWantSessionCookie(t, ts, r)
	for _, cl := range []*client{c, gqlCookieClient(t, ts, ck.Value)} {
		if v := gqlViewer(t, cl); v == nil || v["id"] != id.String() {
			t.Errorf("the checkpoint's session is not %s's: %v", id, v)
		}
	}
}

// gtfWantRefused checks that data.<op> holds exactly want as userErrors,
// that no session cookie was set and nothing changed; then it forgets the
// failure the request cost.
func gtfWantRefused(t testing.TB, ts *testServer, id uuid.UUID, before rtfState, r *gqlResponse, op string, want ...gqlUserErr) {
	t.Helper()
	gqlWantUserErrs(t, r, op, want...)
	for k, v := range get(r.Data, op).(map[string]any) {
		if k != "userErrors" && v != nil {
			t.Errorf("data.%s.%s = %v on a refusal, want null", op, k, v)
		}
	}
	gqlWantNoSessionCookie(t, ts, r)
	rtfWantUnchanged(t, ts, id, before)
	restResetAttempts(t, ts, id)
}

// The userErrors of the contract.
func gtfCodeErr(msg string) gqlUserErr {
	return gqlUserErr{Field: gqlField("code"), Message: msg, Code: "INVALID"}
}

func gtfConflict(msg string) gqlUserErr { return gqlUserErr{Message: msg, Code: "CONFLICT"} }

var (
	gtfBadPassword   = gqlUserErr{Field: gqlField("password"), Message: "invalid password", Code: "INVALID_PASSWORD"}
	gtfBadToken      = gqlUserErr{Field: gqlField("confirmationToken"), Message: "invalid confirmation token", Code: "INVALID"}
	gtfNotConfigured = gqlUserErr{Message: "two-factor authentication has not been configured", Code: "NOT_CONFIGURED"}
	gtfPasswordLong  = gqlUserErr{Field: gqlField("password"), Message: "length is greater than 512", Code: "INVALID"}
)

// gtfWantRateLimited checks a top-level RATE_LIMITED error on field with
// a positive retryAfter that the message repeats.
func gtfWantRateLimited(t testing.TB, r *gqlResponse, field string) {
	t.Helper()
	msg, ext := gqlTopError(t, r, "RATE_LIMITED", field)
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
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		alice := gtfRegister(t, ts, "Alice", "alice password")
		secrets := []string{alice.Password}
		var codes6 []string

		sec := gtfSetup(t, alice.client, alice.Email)
		secrets = append(secrets, sec)
		if st := rtfSnapshot(t, ts, alice.ID); st.Enabled || st.Secret != sec {
			t.Fatalf("after setup: %+v", st)
		}
		otp := &rtfOTP{Secret: sec}

		// Enable with a code of the secret just returned.
		code, step := otp.next(t)
		codes6 = append(codes6, code)
		r := alice.gql(gtfEnableDoc, gtfIn(code, alice.Password))
		recovery := gtfCodes(t, r, "enableTwoFactor")
		otp.accepted(step)
		secrets = append(secrets, recovery...)
		if get(r.Data, "enableTwoFactor", "user", "twoFactor", "enabled") != true ||
			get(r.Data, "enableTwoFactor", "user", "twoFactor", "recoveryCodesRemaining") != float64(10) ||
			get(r.Data, "enableTwoFactor", "user", "twoFactor", "lastUsedAt") == nil {
			t.Errorf("enableTwoFactor user: %s", r.Raw)
		}
		// The secret is not handed out again.
		if strings.Contains(string(alice.gql(gtfStatusDoc, nil).Raw), sec) {
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
		r = alice.gql(gqlLogoutDoc, nil)
		gqlWantUserErrs(t, r, "logout")
		if gqlViewer(t, alice.client) != nil {
			t.Fatalf("still signed in after logout")
		}
		tok := login()
		before := rtfSnapshot(t, ts, alice.ID)
		code, step = otp.next(t)
		codes6 = append(codes6, code)
		c, r := gtfCheckpoint(t, ts, tok, code)
		gtfWantSignedIn(t, ts, c, r, alice.ID)
		otp.accepted(step)
		secrets = append(secrets, gqlSessionCookie(t, ts, c))
		if after := rtfSnapshot(t, ts, alice.ID); after.Sessions != before.Sessions+1 || after.LastStep != step {
			t.Errorf("after the checkpoint: %+v, want one new session and step %d", after, step)
		}

		// The same code again: refused.
		tok = login()
		_, r = gtfCheckpoint(t, ts, tok, code)
		gtfWantRefused(t, ts, alice.ID, rtfSnapshot(t, ts, alice.ID), r, "loginCheckpoint", gtfCodeErr("this code has already been used"))

		// A recovery code, once.
		c, r = gtfCheckpoint(t, ts, login(), recovery[0])
		gtfWantSignedIn(t, ts, c, r, alice.ID)
		if get(r.Data, "loginCheckpoint", "user", "twoFactor", "recoveryCodesRemaining") != float64(9) {
			t.Errorf("recoveryCodesRemaining: %s", r.Raw)
		}
		_, r = gtfCheckpoint(t, ts, login(), recovery[0])
		gtfWantRefused(t, ts, alice.ID, rtfSnapshot(t, ts, alice.ID), r, "loginCheckpoint", gtfCodeErr("invalid recovery code"))

		// Regenerate: the old codes fail, a new one works.
		fresh := gtfCodes(t, c.gql(gtfRegenDoc, gtfIn(recovery[1], alice.Password)), "regenerateRecoveryCodes")
		secrets = append(secrets, fresh...)
		for _, rc := range fresh {
			if slices.Contains(recovery, rc) {
				t.Errorf("regenerated code %q was in the old set", rc)
			}
		}
		for _, old := range []string{recovery[2], recovery[9]} {
			_, r = gtfCheckpoint(t, ts, login(), old)
			gtfWantRefused(t, ts, alice.ID, rtfSnapshot(t, ts, alice.ID), r, "loginCheckpoint", gtfCodeErr("invalid recovery code"))
		}
		c, r = gtfCheckpoint(t, ts, login(), fresh[0])
		gtfWantSignedIn(t, ts, c, r, alice.ID)

		// Disable with a recovery code.
		r = c.gql(gtfDisableDoc, gtfIn(fresh[1], alice.Password))
		gqlWantUserErrs(t, r, "disableTwoFactor")
		if get(r.Data, "disableTwoFactor", "user", "twoFactor", "enabled") != false ||
			get(r.Data, "disableTwoFactor", "user", "twoFactor", "recoveryCodesRemaining") != float64(0) {
			t.Errorf("disableTwoFactor user: %s", r.Raw)
		}
		if st := rtfSnapshot(t, ts, alice.ID); st.Enabled || st.Secret != "" || st.NumCodes != 0 || st.LastStep != otp.last {
			t.Errorf("after disable: %+v", st)
		}

		// Login completes without the checkpoint.
		r = ts.client(t).gql(gqlLoginDoc, gqlIn(map[string]any{"user": "alice", "password": alice.Password}))
		gqlWantUserErrs(t, r, "login")
		if get(r.Data, "login", "twoFactorRequired") != false || get(r.Data, "login", "confirmationToken") != nil ||
			get(r.Data, "login", "user", "id") != alice.ID.String() {
			t.Errorf("login after disable: %s", r.Raw)
		}
		gqlWantSessionCookie(t, ts, r)

		t.Run("activity", func(t *testing.T) {
			events := rtfEvents(t, ts, alice.ID)
			for want, n := range map[string]int{
				`account:two-factor.enable {}`:                                1,
				`auth:checkpoint {}`:                                          7,
				`auth:success {"using":"two-factor"}`:                         1,
				`auth:success {"using":"recovery-code"}`:                      2,
				`account:two-factor.recovery-codes {"using":"recovery-code"}`: 1,
				`account:two-factor.disable {"using":"recovery-code"}`:        1,
				`auth:success {"using":"password"}`:                           1,
			} {
				if got := rtfCountEvent(events, want); got != n {
					t.Errorf("%d × %s, want %d; activity:\n%s", got, want, n, strings.Join(events, "\n"))
				}
			}
		})

		t.Run("no secret in the log", func(t *testing.T) {
			restNoSecrets(t, ts, secrets...)
			rtfNoCodesInLog(t, ts, codes6...)
		})
	})
}

func TestGraphQLTwoFactorQRCode(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(func(cfg *app.Config) { cfg.AppName = "Panel" }), func(t *testing.T, ts *testServer) {
		c, _ := gqlRegister(t, ts, "quinn", "quinn password")
		for range 3 {
			r := c.gql(gtfSetupDoc, nil)
			gqlWantUserErrs(t, r, "beginTwoFactorSetup")
			p := get(r.Data, "beginTwoFactorSetup").(map[string]any)
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
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		gtfRegister(t, ts, "admin", "admin password") // the first account is an admin
		erin := gtfRegister(t, ts, "erin", "erin password")
		refused := func(t *testing.T, r *gqlResponse, op string, want ...gqlUserErr) {
			t.Helper()
			gtfWantRefused(t, ts, erin.ID, rtfSnapshot(t, ts, erin.ID), r, op, want...)
		}
		enable := func(code, password string) *gqlResponse {
			return erin.gql(gtfEnableDoc, gtfIn(code, password))
		}

		t.Run("enable before setup", func(t *testing.T) {
			refused(t, enable("123456", erin.Password), "enableTwoFactor", gtfNotConfigured)
		})
		t.Run("disable and regenerate while off", func(t *testing.T) {
			for _, op := range []string{"disableTwoFactor", "regenerateRecoveryCodes"} {
				doc := map[string]string{"disableTwoFactor": gtfDisableDoc, "regenerateRecoveryCodes": gtfRegenDoc}[op]
				refused(t, erin.gql(doc, gtfIn("123456", erin.Password)), op, gtfConflict("two-factor authentication is not enabled"))
				refused(t, erin.gql(doc, gtfIn("12345678", "wrong password")), op, gtfConflict("two-factor authentication is not enabled"))
			}
		})

		stale := gtfSetup(t, erin.client, erin.Email)
		otp := &rtfOTP{Secret: gtfSetup(t, erin.client, erin.Email)}
		code, step := otp.next(t)
		wrong := rtfWrongCode(t, otp.Secret)
		t.Run("enable", func(t *testing.T) {
			for _, tc := range []struct {
				name, code, password string
				want                 []gqlUserErr
			}{
				{"code too short", "12345", erin.Password, []gqlUserErr{gtfCodeErr("length is lower than 6")}},
				{"code too long", code + "1", erin.Password, []gqlUserErr{gtfCodeErr("length is greater than 6")}},
				{"password too long", code, restLong("p", 513), []gqlUserErr{gtfPasswordLong}},
				{"both", "", restLong("p", 513), []gqlUserErr{gtfCodeErr("length is lower than 6"), gtfPasswordLong}},
				{"wrong password", code, "wrong password", []gqlUserErr{gtfBadPassword}},
				{"wrong password and code", wrong, "wrong password", []gqlUserErr{gtfBadPassword}},
				{"wrong code", wrong, erin.Password, []gqlUserErr{gtfCodeErr("invalid confirmation code")}},
				{"code of the replaced secret", rtfCodeAt(t, stale, step), erin.Password, []gqlUserErr{gtfCodeErr("invalid confirmation code")}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					refused(t, enable(tc.code, tc.password), "enableTwoFactor", tc.want...)
				})
			}
		})

		var recovery []string
		t.Run("the right code still works", func(t *testing.T) {
			recovery = gtfCodes(t, enable(code, erin.Password), "enableTwoFactor")
			otp.accepted(step)
		})
		if recovery == nil {
			t.FailNow()
		}

		t.Run("already enabled", func(t *testing.T) {
			refused(t, erin.gql(gtfSetupDoc, nil), "beginTwoFactorSetup", gtfConflict("two-factor authentication is already enabled"))
			next, _ := otp.next(t)
			refused(t, enable(next, erin.Password), "enableTwoFactor", gtfConflict("two-factor authentication is already enabled"))
			refused(t, enable(next, "wrong password"), "enableTwoFactor", gtfConflict("two-factor authentication is already enabled"))
		})

		used := rtfCodeAt(t, otp.Secret, otp.last)
		for _, op := range []string{"disableTwoFactor", "regenerateRecoveryCodes"} {
			doc := map[string]string{"disableTwoFactor": gtfDisableDoc, "regenerateRecoveryCodes": gtfRegenDoc}[op]
			t.Run(op, func(t *testing.T) {
				for _, tc := range []struct {
					name, code, password string
					want                 []gqlUserErr
				}{
					{"code too short", "12345", erin.Password, []gqlUserErr{gtfCodeErr("length is lower than 6")}},
					{"code too long", recovery[0] + "x", erin.Password, []gqlUserErr{gtfCodeErr("length is greater than 10")}},
					{"password too long", recovery[0], restLong("p", 513), []gqlUserErr{gtfPasswordLong}},
					{"length 7", "1234567", erin.Password, []gqlUserErr{gtfCodeErr("invalid confirmation code length")}},
					{"length 8", "12345678", "wrong password", []gqlUserErr{gtfCodeErr("invalid confirmation code length")}},
					{"length 9", recovery[0][:9], erin.Password, []gqlUserErr{gtfCodeErr("invalid confirmation code length")}},
					{"wrong password", recovery[0], "wrong password", []gqlUserErr{gtfBadPassword}},
					{"wrong TOTP", wrong, erin.Password, []gqlUserErr{gtfCodeErr("invalid confirmation code")}},
					{"wrong recovery code", rtfWrongRecovery, erin.Password, []gqlUserErr{gtfCodeErr("invalid recovery code")}},
					{"recovery code in the wrong case", rtfSwapCase(recovery[0]), erin.Password, []gqlUserErr{gtfCodeErr("invalid recovery code")}},
					{"used TOTP code", used, erin.Password, []gqlUserErr{gtfCodeErr("this code has already been used")}},
				} {
					t.Run(tc.name, func(t *testing.T) {
						refused(t, erin.gql(doc, gtfIn(tc.code, tc.password)), op, tc.want...)
					})
				}
			})
		}

		t.Run("checkpoint", func(t *testing.T) {
			tok := gtfLoginToken(t, ts, "erin", erin.Password)
			checkpoint := func(token, code string) *gqlResponse {
				_, r := gtfCheckpoint(t, ts, token, code)
				return r
			}
			for _, tc := range []struct {
				name, token, code string
				want              gqlUserErr
			}{
				{"code too short", tok, "12345", gtfCodeErr("length is lower than 6")},
				{"code too long", tok, recovery[0] + "x", gtfCodeErr("length is greater than 10")},
				{"length 8", tok, "12345678", gtfCodeErr("invalid confirmation code length")},
				{"empty token", "", recovery[0], gtfBadToken},
				{"unknown token", secret.RandomString(48), recovery[0], gtfBadToken},
				{"forged token", tok[:16] + secret.RandomString(32), recovery[0], gtfBadToken},
				{"token off by one", rtfOffByOne(tok), recovery[0], gtfBadToken},
				{"wrong TOTP", tok, wrong, gtfCodeErr("invalid confirmation code")},
				{"wrong recovery code", tok, rtfWrongRecovery, gtfCodeErr("invalid recovery code")},
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
				rtfExpireLoginTokens(t, ts, erin.ID)
				refused(t, checkpoint(tok, recovery[1]), "loginCheckpoint", gtfBadToken)
			})
		})

		t.Run("frozen", func(t *testing.T) {
			fay := gtfRegister(t, ts, "fay", "fay password")
			sec := gtfSetup(t, fay.client, fay.Email)
			gqlSetFlags(t, ts, "fay", true, false)
			before := rtfSnapshot(t, ts, fay.ID)
			gtfWantRefused(t, ts, fay.ID, before, fay.gql(gtfSetupDoc, nil), "beginTwoFactorSetup", gtfConflict("account is frozen"))
			code, _ := (&rtfOTP{Secret: sec}).next(t)
			gtfWantRefused(t, ts, fay.ID, before, fay.gql(gtfEnableDoc, gtfIn(code, fay.Password)), "enableTwoFactor", gtfConflict("account is frozen"))
		})

		t.Run("no secret in the log", func(t *testing.T) {
			restNoSecrets(t, ts, append([]string{erin.Password, otp.Secret, stale}, recovery...)...)
			rtfNoCodesInLog(t, ts, code)
		})
	})
}

func TestGraphQLTwoFactorPermission(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		kim := gtfRegister(t, ts, "kim", "kim password")
		kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, kim.ID.String(), []string{"account.email", "account.password"}))
		anon := ts.client(t)
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
				before := rtfSnapshot(t, ts, kim.ID)
				msg, ext := gqlTopError(t, kc.gql(tc.doc, tc.vars), "FORBIDDEN", tc.op)
				if ext["permission"] != "account.two-factor" || msg != "you do not have permission to perform this action: account.two-factor" {
					t.Errorf("FORBIDDEN %q %v", msg, ext)
				}
				gqlTopError(t, anon.gql(tc.doc, tc.vars), "UNAUTHENTICATED", tc.op)
				rtfWantUnchanged(t, ts, kim.ID, before)
			})
		}
		t.Run("a key with account.two-factor", func(t *testing.T) {
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, kim.ID.String(), []string{"account.two-factor"}))
			otp := &rtfOTP{Secret: gtfSetup(t, kc, kim.Email)}
			recovery := gtfCodes(t, kc.gql(gtfEnableDoc, gtfIn(rtfMustNext(t, otp), kim.Password)), "enableTwoFactor")
			r := kc.gql(gtfDisableDoc, gtfIn(recovery[0], kim.Password))
			gqlWantUserErrs(t, r, "disableTwoFactor")
		})
	})
}

func TestGraphQLTwoFactorGate(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }), func(t *testing.T, ts *testServer) {
		gtfRegister(t, ts, "admin", "admin password")
		gina := gtfRegister(t, ts, "gina", "gina password")
		const keysDoc = `{ viewer { id apiKeys { totalCount } } }`

		msg, _ := gqlTopError(t, gina.gql(keysDoc, nil), "FORBIDDEN", "viewer")
		if msg != "two-factor authentication required" {
			t.Errorf("message %q", msg)
		}
		v := gqlViewer(t, gina.client)
		if v == nil || v["requireTwoFactor"] != true || get(v, "twoFactor", "enabled") != false {
			t.Errorf("viewer: %v", v)
		}
		r := gqlLogin(t, ts, "gina", gina.Password).gql(gqlLogoutDoc, nil)
		gqlWantUserErrs(t, r, "logout")
		gtfEnable(t, ts, gina)
		r = gina.gql(keysDoc, nil)
		gqlNoErrors(t, r)
		if get(r.Data, "viewer", "apiKeys", "totalCount") != float64(0) {
			t.Errorf("apiKeys after enabling: %s", r.Raw)
		}
	})
}

// gtfAliasDoc is one mutation with n aliased disableTwoFactor fields, each
// with a different wrong code of sec.
func gtfAliasDoc(t testing.TB, sec string, n int) string {
	t.Helper()
	now := secret.TOTPStep(time.Now())
	valid := map[string]bool{}
	for s := now - 3; s <= now+3; s++ {
		valid[rtfCodeAt(t, sec, s)] = true
	}
	var b strings.Builder
	b.WriteString(`mutation($p: String!) {`)
	for i, fields := 0, 0; fields < n; i++ {
		code := fmt.Sprintf("%06d", i*7919%1000000)
		if valid[code] {
			continue
		}
		fmt.Fprintf(&b, ` a%d: disableTwoFactor(input: {code: "%s", password: $p}) { userErrors { message } }`, fields, code)
		fields++
	}
	b.WriteString(` }`)
	return b.String()
}

func TestGraphQLTwoFactorAliasing(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		ali := gtfRegister(t, ts, "ali", "ali password")
		otp, recovery := gtfEnable(t, ts, ali)
		before := rtfSnapshot(t, ts, ali.ID)

		t.Run("50 aliased guesses are refused as a whole", func(t *testing.T) {
			r := ali.gql(gtfAliasDoc(t, otp.Secret, 50), map[string]any{"p": ali.Password})
			gqlTopError(t, r, "GRAPHQL_VALIDATION_FAILED", "")
			if r.Data != nil {
				t.Errorf("data %v: nothing may be evaluated", r.Data)
			}
			rtfWantUnchanged(t, ts, ali.ID, before)
			if v := gqlViewer(t, ali.client); get(v, "twoFactor", "enabled") != true {
				t.Errorf("two-factor is off after the aliased document: %v", v)
			}
		})

		// GraphQL over HTTP: a response to application/graphql-response+json
		// whose request failed before execution MUST have a 4xx status, as
		// the server's other validation failures do.
		t.Run("the refusal has the status of any other validation failure", func(t *testing.T) {
			c := ts.client(t)
			c.Header.Set("Accept", "application/graphql-response+json")
			other := c.gql(`mutation { nope }`, nil)
			gqlTopError(t, other, "GRAPHQL_VALIDATION_FAILED", "")
			// Two aliased logins: signed out, so nothing is billed.
			r := c.gql(`mutation { a: login(input: {user: "ali", password: "x"}) { twoFactorRequired }
				b: login(input: {user: "ali", password: "y"}) { twoFactorRequired } }`, nil)
			gqlTopError(t, r, "GRAPHQL_VALIDATION_FAILED", "")
			if r.Status < 400 || r.Status != other.Status {
				t.Errorf("status %d, want %d as for any other validation failure\n got   %s\n other %s",
					r.Status, other.Status, r.Raw, other.Raw)
			}
		})

		t.Run("and bill the budget: even the right code is refused", func(t *testing.T) {
			code, _ := otp.next(t)
			rtfWantTooMany(t, ali.do(http.MethodDelete, rtfTwoFactorPath, map[string]any{"code": code, "password": ali.Password}))
			rtfWantTooMany(t, ali.do(http.MethodPost, rtfRecoveryPath, map[string]any{"code": recovery[0], "password": ali.Password}))
			gtfWantRateLimited(t, ali.gql(gtfDisableDoc, gtfIn(code, ali.Password)), "disableTwoFactor")
			gtfWantRateLimited(t, ali.gql(gtfRegenDoc, gtfIn(recovery[0], ali.Password)), "regenerateRecoveryCodes")
			// The password is part of the same budget.
			r := ts.client(t).gql(gqlLoginDoc, gqlIn(map[string]any{"user": "ali", "password": ali.Password}))
			gtfWantRateLimited(t, r, "login")
			gqlWantNoSessionCookie(t, ts, r)
			rtfWantUnchanged(t, ts, ali.ID, before)
		})

		t.Run("once the budget has recovered the right code works", func(t *testing.T) {
			rtfAgeAttempts(t, ts, ali.ID)
			rtfWantRecoveryCodes(t, ali.do(http.MethodPost, rtfRecoveryPath, map[string]any{"code": recovery[0], "password": ali.Password}))
			r := ali.gql(gtfDisableDoc, gtfIn(rtfMustNext(t, otp), ali.Password))
			gqlWantUserErrs(t, r, "disableTwoFactor")
			if get(r.Data, "disableTwoFactor", "user", "twoFactor", "enabled") != false {
				t.Errorf("disableTwoFactor: %s", r.Raw)
			}
		})
	})
}

func TestGraphQLTwoFactorAliasingVariants(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		vic := gtfRegister(t, ts, "vic", "vic password")
		_, recovery := gtfEnable(t, ts, vic)
		tok := gtfLoginToken(t, ts, "vic", vic.Password)
		refusedWhole := func(t *testing.T, c *client, doc string, vars map[string]any) {
			t.Helper()
			before := rtfSnapshot(t, ts, vic.ID)
			r := c.gql(doc, vars)
			gqlTopError(t, r, "GRAPHQL_VALIDATION_FAILED", "")
			if r.Data != nil {
				t.Errorf("data %v: nothing may be evaluated", r.Data)
			}
			gqlWantNoSessionCookie(t, ts, r)
			rtfWantUnchanged(t, ts, vic.ID, before)
			restResetAttempts(t, ts, vic.ID)
		}
		checkpointIn := map[string]any{"confirmationToken": tok, "code": recovery[0]}

		t.Run("two checkpoints with the right code", func(t *testing.T) {
			refusedWhole(t, ts.client(t), `mutation($in: LoginCheckpointInput!) {
				a: loginCheckpoint(input: $in) { user { id } }
				b: loginCheckpoint(input: $in) { user { id } } }`, map[string]any{"in": checkpointIn})
		})
		t.Run("two logins with the right password", func(t *testing.T) {
			refusedWhole(t, ts.client(t), `mutation($in: LoginInput!) {
				a: login(input: $in) { twoFactorRequired }
				b: login(input: $in) { twoFactorRequired } }`,
				map[string]any{"in": map[string]any{"user": "vic", "password": vic.Password}})
		})
		t.Run("a login and a checkpoint", func(t *testing.T) {
			refusedWhole(t, ts.client(t), `mutation($l: LoginInput!, $c: LoginCheckpointInput!) {
				login(input: $l) { twoFactorRequired }
				loginCheckpoint(input: $c) { user { id } } }`,
				map[string]any{"l": map[string]any{"user": "vic", "password": vic.Password}, "c": checkpointIn})
		})
		t.Run("the second field in a fragment", func(t *testing.T) {
			refusedWhole(t, vic.client, `mutation($in: DisableTwoFactorInput!) {
				disableTwoFactor(input: $in) { userErrors { message } } ...more }
				fragment more on Mutation { again: disableTwoFactor(input: $in) { userErrors { message } } }`,
				gtfIn(recovery[1], vic.Password))
		})
		t.Run("the second field in an inline fragment", func(t *testing.T) {
			refusedWhole(t, vic.client, `mutation($in: RegenerateRecoveryCodesInput!) {
				regenerateRecoveryCodes(input: $in) { recoveryCodes }
				... on Mutation { b: regenerateRecoveryCodes(input: $in) { recoveryCodes } } }`,
				gtfIn(recovery[1], vic.Password))
		})
		t.Run("different checking fields", func(t *testing.T) {
			refusedWhole(t, vic.client, `mutation($e: UpdateEmailInput!, $d: DisableTwoFactorInput!) {
				updateEmail(input: $e) { userErrors { message } }
				disableTwoFactor(input: $d) { userErrors { message } } }`,
				map[string]any{"e": map[string]any{"email": "new@example.com", "password": vic.Password}, "d": gtfIn(recovery[1], vic.Password)["input"]})
		})
		t.Run("nothing was spent: the token and the codes work", func(t *testing.T) {
			c, r := gtfCheckpoint(t, ts, tok, recovery[0])
			gtfWantSignedIn(t, ts, c, r, vic.ID)
			if get(r.Data, "loginCheckpoint", "user", "twoFactor", "recoveryCodesRemaining") != float64(9) {
				t.Errorf("recoveryCodesRemaining: %s", r.Raw)
			}
			r = c.gql(gtfDisableDoc, gtfIn(recovery[1], vic.Password))
			gqlWantUserErrs(t, r, "disableTwoFactor")
			if u := gqlDBUser(t, ts, "vic"); u.TOTPEnabled || u.Email != "vic@example.com" {
				t.Errorf("after disable: enabled %v, email %s", u.TOTPEnabled, u.Email)
			}
		})
	})
}

// gtfOutcome classifies a concurrent answer: "ok" for a success, else the
// userErrors or top-level error code.
func gtfOutcome(r *gqlResponse, op string) string {
	if len(r.Errors) > 0 {
		return fmt.Sprint(r.Errors[0].Extensions["code"])
	}
	var body struct {
		Data map[string]struct {
			UserErrors []gqlUserErr `json:"userErrors"`
		} `json:"data"`
	}
	if err := gqlJSONUnmarshal(r.Raw, &body); err != nil {
		return "undecodable: " + string(r.Raw)
	}
	ue := body.Data[op].UserErrors
	if len(ue) == 0 {
		return "ok"
	}
	return fmt.Sprint(ue)
}

// gtfTally checks that exactly one of the answers succeeded and the rest
// are one of losers or RATE_LIMITED.
func gtfTally(t *testing.T, answers []*gqlResponse, op string, losers ...gqlUserErr) int {
	t.Helper()
	allowed := map[string]bool{"RATE_LIMITED": true}
	for _, l := range losers {
		allowed[fmt.Sprint([]gqlUserErr{l})] = true
	}
	winner, wins := -1, 0
	seen := map[string]int{}
	for i, r := range answers {
		o := gtfOutcome(r, op)
		seen[o]++
		switch {
		case o == "ok":
			winner, wins = i, wins+1
		case !allowed[o]:
			t.Errorf("unexpected answer: %s", r.Raw)
		case o == "RATE_LIMITED":
			if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra <= 0 {
				t.Errorf("RATE_LIMITED without a positive retryAfter: %s", r.Raw)
			}
		}
	}
	if wins != 1 {
		t.Fatalf("%d successes, want exactly 1: %v", wins, seen)
	}
	t.Logf("outcomes: %v", seen)
	return winner
}

// gtfParallel runs doc with vars from each client, all at once.
func gtfParallel(t *testing.T, clients []*client, doc string, vars map[string]any, perClient func(i int) map[string]any) []*gqlResponse {
	t.Helper()
	out := make([]*gqlResponse, len(clients))
	errs := make([]error, len(clients))
	rtfParallel(len(clients), func(i int) {
		v := vars
		if perClient != nil {
			v = perClient(i)
		}
		out[i], errs[i] = gqlTry(clients[i], doc, v)
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestGraphQLTwoFactorConcurrentRecoveryCode(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		rex := gtfRegister(t, ts, "rex", "rex password")
		_, recovery := gtfEnable(t, ts, rex)
		tokens := make([]string, 20)
		clients := make([]*client, 20)
		for i := range tokens {
			tokens[i] = gtfLoginToken(t, ts, "rex", rex.Password)
			clients[i] = ts.client(t)
		}
		before := rtfSnapshot(t, ts, rex.ID)
		answers := gtfParallel(t, clients, gtfCheckpointDoc, nil, func(i int) map[string]any {
			return gqlIn(map[string]any{"confirmationToken": tokens[i], "code": recovery[0]})
		})
		w := gtfTally(t, answers, "loginCheckpoint", gtfCodeErr("invalid recovery code"))
		gqlWantSessionCookie(t, ts, answers[w])
		for i, r := range answers {
			if i != w {
				gqlWantNoSessionCookie(t, ts, r)
			}
		}
		after := rtfSnapshot(t, ts, rex.ID)
		if after.Sessions != before.Sessions+1 || after.NumCodes != 9 {
			t.Errorf("before %+v\nafter %+v: want exactly one new session and one code spent", before, after)
		}
		restResetAttempts(t, ts, rex.ID)
		_, r := gtfCheckpoint(t, ts, gtfLoginToken(t, ts, "rex", rex.Password), recovery[0])
		gqlWantUserErrs(t, r, "loginCheckpoint", gtfCodeErr("invalid recovery code"))
	})
}

func TestGraphQLTwoFactorConcurrentTOTPCode(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		dan := gtfRegister(t, ts, "dan", "dan password")
		otp, _ := gtfEnable(t, ts, dan)
		clients := make([]*client, 20)
		for i := range clients {
			clients[i] = dan.client
		}
		code, _ := otp.next(t)
		answers := gtfParallel(t, clients, gtfDisableDoc, gtfIn(code, dan.Password), nil)
		gtfTally(t, answers, "disableTwoFactor", gtfCodeErr("this code has already been used"),
			gtfConflict("two-factor authentication is not enabled"))
		if st := rtfSnapshot(t, ts, dan.ID); st.Enabled || st.NumCodes != 0 {
			t.Errorf("after the disable: %+v", st)
		}
		if n := rtfCountEvent(rtfEvents(t, ts, dan.ID), `account:two-factor.disable {"using":"two-factor"}`); n != 1 {
			t.Errorf("%d disable events, want 1", n)
		}
	})
}

// TestGraphQLTwoFactorSuspended: for a suspended account the two-factor
// mutations are FORBIDDEN (GRAPHQL.md: suspended is a top-level error) and
// change nothing.
func TestGraphQLTwoFactorSuspended(t *testing.T) {
	t.Parallel()
	eachServer(t, gqlConfig(nil), func(t *testing.T, ts *testServer) {
		gtfRegister(t, ts, "admin", "admin password") // the first account is an admin
		for _, tc := range []struct {
			name, op, doc string
			prep          func(u *gtfUser) map[string]any
		}{
			{"setup", "beginTwoFactorSetup", gtfSetupDoc, func(u *gtfUser) map[string]any { return nil }},
			{"enable", "enableTwoFactor", gtfEnableDoc, func(u *gtfUser) map[string]any {
				code, _ := (&rtfOTP{Secret: gtfSetup(t, u.client, u.Email)}).next(t)
				return gtfIn(code, u.Password)
			}},
			{"regenerate", "regenerateRecoveryCodes", gtfRegenDoc, func(u *gtfUser) map[string]any {
				_, recovery := gtfEnable(t, ts, u)
				return gtfIn(recovery[0], u.Password)
			}},
			{"disable", "disableTwoFactor", gtfDisableDoc, func(u *gtfUser) map[string]any {
				_, recovery := gtfEnable(t, ts, u)
				return gtfIn(recovery[0], u.Password)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := gtfRegister(t, ts, "s_"+tc.name, tc.name+" password")
				vars := tc.prep(u)
				gqlSetFlags(t, ts, u.Username, false, true)
				before := rtfSnapshot(t, ts, u.ID)
				r := u.gql(tc.doc, vars)
				if len(r.Errors) == 0 {
					t.Errorf("want FORBIDDEN, got %s", r.Raw)
				} else if msg, _ := gqlTopError(t, r, "FORBIDDEN", tc.op); msg != "account is suspended" {
					t.Errorf("message %q", msg)
				}
				rtfWantUnchanged(t, ts, u.ID, before)
			})
		}
	})
}
