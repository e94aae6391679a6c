package rest_test

// End-to-end tests of two-factor authentication over REST: setup, enable,
// the login checkpoint, recovery codes, disable, the contract's error rows,
// the TWO_FACTOR_REQUIREMENT gate, the attempt budget and concurrent use of
// one code. Helpers start with "rtf"; the ones that read the database or
// compute codes are in app/apptest (twofactor.go), where the GraphQL tests
// use them too. The error rows are in e2e_twofactor_codes_test.go, the
// attempt budget and concurrency in e2e_twofactor_attempts_test.go.

import (
	"encoding/base32"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
	"accountd/secret"
)

// rtfSetup calls GET two-factor and checks the answer's shape; it returns
// the pending secret.
func rtfSetup(t testing.TB, c *apptest.Client, email string) string {
	t.Helper()
	res := c.Do(http.MethodGet, apptest.TwoFactorPath, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET two-factor: %d %s", res.Status, res.Body)
	}
	body := res.JSON(t)
	apptest.WantKeys(t, "two-factor setup", body, []string{"otp_url", "secret"})
	sec, _ := body["secret"].(string)
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(sec)
	if len(sec) != 32 || err != nil || len(raw) != 20 {
		t.Fatalf("secret %q: want 32 base32 characters without padding for 20 bytes (%v)", sec, err)
	}
	want := "otpauth://totp/Calagopus:" + email + "?secret=" + sec + "&issuer=Calagopus"
	if body["otp_url"] != want {
		t.Errorf("otp_url\n got %v\nwant %s", body["otp_url"], want)
	}
	return sec
}

// rtfEnable sets up and enables two-factor for u and returns its
// authenticator and recovery codes.
func rtfEnable(t testing.TB, ts *apptest.Server, u *apptest.User) (*apptest.OTP, []string) {
	t.Helper()
	otp := &apptest.OTP{Secret: rtfSetup(t, u.Client, u.Email), Last: apptest.TwoFactorSnapshot(t, ts, u.ID).LastStep}
	code, step := otp.Next(t)
	codes := apptest.WantRecoveryCodes(t, u.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": code, "password": u.Password}))
	otp.Accepted(step)
	return otp, codes
}

// rtfLoginToken signs in with a password on an account with two-factor and
// returns the confirmation token.
func rtfLoginToken(t testing.TB, ts *apptest.Server, login, password string) string {
	t.Helper()
	c := ts.Client(t)
	res := c.Do(http.MethodPost, "/api/auth/login", map[string]any{"user": login, "password": password})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", login, res.Status, res.Body)
	}
	body := res.JSON(t)
	apptest.WantKeys(t, "login body", body, []string{"type", "user", "token"})
	if body["type"] != "two_factor_required" {
		t.Fatalf("login type %v, want two_factor_required", body["type"])
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie on two_factor_required: %q", sc)
	}
	tok, _ := body["token"].(string)
	if len(tok) != 48 || !secret.IsAlphanumeric(tok) {
		t.Fatalf("token %q: want 48 alphanumerics", tok)
	}
	return tok
}

// rtfCheckpoint posts a confirmation token and a code from a fresh client.
func rtfCheckpoint(t testing.TB, ts *apptest.Server, token, code string) (*apptest.Client, *apptest.Response) {
	t.Helper()
	c := ts.Client(t)
	return c, c.Do(http.MethodPost, apptest.CheckpointPath, map[string]any{"confirmation_token": token, "code": code})
}

// rtfWantSignedIn checks a successful checkpoint: {"user": FullUser} of
// user id with two-factor on, and a session cookie that works on its own.
func rtfWantSignedIn(t testing.TB, ts *apptest.Server, res *apptest.Response, id uuid.UUID) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("checkpoint: %d %s", res.Status, res.Body)
	}
	body := res.JSON(t)
	apptest.WantKeys(t, "checkpoint body", body, []string{"user"})
	u, _ := body["user"].(map[string]any)
	apptest.WantKeys(t, "FullUser", u, restFullUserKeys)
	if u["uuid"] != id.String() || u["totp_enabled"] != true {
		t.Errorf("checkpoint user: %v", u)
	}
	restCheckTimestamp(t, "totp_last_used", u["totp_last_used"], time.Hour)
	ck := restSessionCookie(t, res)
	if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Errorf("cookie attributes: %q", res.Header.Values("Set-Cookie"))
	}
	if got := restAccount(t, apptest.CookieClient(t, ts, ck.Value))["uuid"]; got != id.String() {
		t.Errorf("the checkpoint's session is %v's, want %s", got, id)
	}
}

// rtfWantRefused checks an error answer that set no cookie and changed
// nothing, then forgets the failure it cost, so the next row starts with
// a full attempt budget.
func rtfWantRefused(t testing.TB, ts *apptest.Server, id uuid.UUID, before apptest.TwoFactorState, res *apptest.Response, status int, msgs ...string) {
	t.Helper()
	apptest.WantErrors(t, res, status, msgs...)
	restNoSessionCookie(t, res)
	apptest.TwoFactorUnchanged(t, ts, id, before)
	apptest.ResetAttempts(t, ts, id)
}

func TestRESTTwoFactorJourney(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "Alice", "alice password")
		var secrets, codes6 []string

		if acc := restAccount(t, alice.Client); acc["totp_enabled"] != false || acc["totp_last_used"] != nil {
			t.Fatalf("a new account has two-factor: %v", acc)
		}

		// Setup: a pending secret, handed out again while it is young,
		// replaced by a new one once it is not.
		first := rtfSetup(t, alice.Client, alice.Email)
		if again := rtfSetup(t, alice.Client, alice.Email); again != first {
			t.Fatalf("a second setup returned another secret")
		}
		apptest.AgePendingSecret(t, ts, alice.ID, time.Hour)
		sec := rtfSetup(t, alice.Client, alice.Email)
		if sec == first {
			t.Fatalf("an expired pending secret was handed out again")
		}
		if st := apptest.TwoFactorSnapshot(t, ts, alice.ID); st.Secret != sec || st.Enabled {
			t.Fatalf("after setup: %+v", st)
		}
		if acc := restAccount(t, alice.Client); acc["totp_enabled"] != false {
			t.Fatalf("setup alone turned two-factor on: %v", acc)
		}
		otp := &apptest.OTP{Secret: sec}
		secrets = append(secrets, first, sec)

		// Enable with a code of the secret just returned.
		code, step := otp.Next(t)
		codes6 = append(codes6, code)
		res := alice.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": code, "password": alice.Password})
		recovery := apptest.WantRecoveryCodes(t, res)
		otp.Accepted(step)
		secrets = append(secrets, recovery...)
		acc := restAccount(t, alice.Client)
		if acc["totp_enabled"] != true {
			t.Fatalf("after enable: totp_enabled = %v", acc["totp_enabled"])
		}
		restCheckTimestamp(t, "totp_last_used", acc["totp_last_used"], time.Hour)
		st := apptest.TwoFactorSnapshot(t, ts, alice.ID)
		if !st.Enabled || st.Secret != sec || st.LastStep != step || st.NumCodes != 10 || st.Salt == "" {
			t.Fatalf("after enable: %+v", st)
		}
		for _, rc := range recovery {
			if strings.Contains(st.Codes, hex.EncodeToString([]byte(rc))) ||
				strings.Contains(st.Codes, hex.EncodeToString(secret.Digest(rc))) {
				t.Errorf("recovery code %q is stored in plain or as a fast digest", rc)
			}
		}

		// login signs in with the password and returns the confirmation
		// token, kept for the log check.
		login := func() string {
			tok := rtfLoginToken(t, ts, "alice", alice.Password)
			secrets = append(secrets, tok)
			return tok
		}

		// Logout ends the session.
		cookie := apptest.GQLSessionCookie(t, ts, alice.Client)
		if cookie == "" {
			t.Fatal("the registered client holds no session cookie")
		}
		apptest.WantEmpty(t, alice.Do(http.MethodPost, "/api/client/account/logout", nil))
		apptest.WantErrors(t, apptest.CookieClient(t, ts, cookie).Do(http.MethodGet, "/api/client/account", nil),
			http.StatusUnauthorized, "invalid session")

		// Login stops at the checkpoint; a TOTP code completes it.
		tok := login()
		sessions := apptest.CountUserRows(t, ts, "sessions", alice.ID)
		code, step = otp.Next(t)
		codes6 = append(codes6, code)
		c, res := rtfCheckpoint(t, ts, tok, code)
		rtfWantSignedIn(t, ts, res, alice.ID)
		otp.Accepted(step)
		secrets = append(secrets, restSessionCookie(t, res).Value)
		if got := restAccount(t, c)["uuid"]; got != alice.ID.String() {
			t.Errorf("the client's own jar is signed in as %v", got)
		}
		if n := apptest.CountUserRows(t, ts, "sessions", alice.ID); n != sessions+1 {
			t.Errorf("sessions %d after the checkpoint, want %d", n, sessions+1)
		}
		if st := apptest.TwoFactorSnapshot(t, ts, alice.ID); st.LastStep != step {
			t.Errorf("last step %d, want %d", st.LastStep, step)
		}

		// The same code again, with a new token: refused.
		tok = login()
		before := apptest.TwoFactorSnapshot(t, ts, alice.ID)
		_, res = rtfCheckpoint(t, ts, tok, code)
		rtfWantRefused(t, ts, alice.ID, before, res, http.StatusBadRequest, "this code has already been used")

		// A recovery code completes a login once.
		tok = login()
		_, res = rtfCheckpoint(t, ts, tok, recovery[0])
		rtfWantSignedIn(t, ts, res, alice.ID)
		if n := apptest.TwoFactorSnapshot(t, ts, alice.ID).NumCodes; n != 9 {
			t.Errorf("%d recovery codes left, want 9", n)
		}
		tok = login()
		before = apptest.TwoFactorSnapshot(t, ts, alice.ID)
		_, res = rtfCheckpoint(t, ts, tok, recovery[0])
		rtfWantRefused(t, ts, alice.ID, before, res, http.StatusBadRequest, "invalid recovery code")

		// Regenerate (with a recovery code): the old set is gone.
		tok = login()
		_, res = rtfCheckpoint(t, ts, tok, recovery[1])
		rtfWantSignedIn(t, ts, res, alice.ID)
		c = apptest.CookieClient(t, ts, restSessionCookie(t, res).Value)
		fresh := apptest.WantRecoveryCodes(t, c.Do(http.MethodPost, apptest.RecoveryPath, map[string]any{"code": recovery[2], "password": alice.Password}))
		secrets = append(secrets, fresh...)
		for _, rc := range fresh {
			if slices.Contains(recovery, rc) {
				t.Errorf("regenerated code %q was in the old set", rc)
			}
		}
		if n := apptest.TwoFactorSnapshot(t, ts, alice.ID).NumCodes; n != 10 {
			t.Errorf("%d recovery codes after regenerate, want 10", n)
		}
		for _, old := range []string{recovery[3], recovery[9]} {
			tok = login()
			before = apptest.TwoFactorSnapshot(t, ts, alice.ID)
			_, res = rtfCheckpoint(t, ts, tok, old)
			rtfWantRefused(t, ts, alice.ID, before, res, http.StatusBadRequest, "invalid recovery code")
		}
		tok = login()
		_, res = rtfCheckpoint(t, ts, tok, fresh[0])
		rtfWantSignedIn(t, ts, res, alice.ID)

		// Disable with a recovery code: the secret and the codes are gone,
		// the last used step stays.
		apptest.WantEmpty(t, c.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": fresh[1], "password": alice.Password}))
		st = apptest.TwoFactorSnapshot(t, ts, alice.ID)
		if st.Enabled || st.Secret != "" || st.NumCodes != 0 || st.Salt != "" || st.LastUsed != "" || st.LastStep != otp.Last {
			t.Errorf("after disable: %+v (last step want %d)", st, otp.Last)
		}
		if acc := restAccount(t, c); acc["totp_enabled"] != false || acc["totp_last_used"] != nil {
			t.Errorf("after disable: totp_enabled %v, totp_last_used %v", acc["totp_enabled"], acc["totp_last_used"])
		}

		// Login completes without a checkpoint.
		lc, res := apptest.Login(t, ts, "alice", alice.Password)
		if res.Status != http.StatusOK || res.JSON(t)["type"] != "completed" {
			t.Fatalf("login after disable: %d %s", res.Status, res.Body)
		}
		restCheckFullUser(t, res.JSON(t)["user"].(map[string]any))
		restSessionCookie(t, res)
		restAccount(t, lc)

		t.Run("activity", func(t *testing.T) {
			events := apptest.Events(t, ts, alice.ID)
			for want, n := range map[string]int{
				`account:two-factor.enable {}`:                                1,
				`auth:checkpoint {}`:                                          8,
				`auth:success {"using":"two-factor"}`:                         1,
				`auth:success {"using":"recovery-code"}`:                      3,
				`account:two-factor.recovery-codes {"using":"recovery-code"}`: 1,
				`account:two-factor.disable {"using":"recovery-code"}`:        1,
				`auth:success {"using":"password"}`:                           1,
			} {
				if got := apptest.CountEvent(events, want); got != n {
					t.Errorf("%d × %s, want %d; activity:\n%s", got, want, n, strings.Join(events, "\n"))
				}
			}
			for _, e := range events {
				for _, s := range secrets {
					if strings.Contains(e, s) {
						t.Errorf("activity %q holds a secret", e)
					}
				}
			}
		})

		t.Run("no secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, append([]string{alice.Password}, secrets...)...)
			apptest.NoCodesInLog(t, ts, codes6...)
		})
	})
}

func TestRESTTwoFactorSetupErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		frank := apptest.Register(t, ts, "frank", "frank password")
		t.Run("frozen", func(t *testing.T) {
			restSetFlags(t, ts, frank.ID, true, true, false)
			before := apptest.TwoFactorSnapshot(t, ts, frank.ID)
			rtfWantRefused(t, ts, frank.ID, before, frank.Do(http.MethodGet, apptest.TwoFactorPath, nil), http.StatusConflict, "account is frozen")
			if before.Secret != "" {
				t.Errorf("a pending secret exists: %+v", before)
			}
			restSetFlags(t, ts, frank.ID, true, false, false)
		})

		t.Run("already enabled", func(t *testing.T) {
			rtfEnable(t, ts, frank)
			before := apptest.TwoFactorSnapshot(t, ts, frank.ID)
			rtfWantRefused(t, ts, frank.ID, before, frank.Do(http.MethodGet, apptest.TwoFactorPath, nil),
				http.StatusConflict, "two-factor authentication is already enabled")
		})

		t.Run("unauthenticated", func(t *testing.T) {
			apptest.WantErrors(t, ts.Client(t).Do(http.MethodGet, apptest.TwoFactorPath, nil), http.StatusUnauthorized, "missing authorization")
		})
	})
}

func TestRESTTwoFactorEnableErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		erin := apptest.Register(t, ts, "erin", "erin password")
		enable := func(code, password string) *apptest.Response {
			return erin.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": code, "password": password})
		}
		refused := func(t *testing.T, res *apptest.Response, status int, msgs ...string) {
			t.Helper()
			rtfWantRefused(t, ts, erin.ID, apptest.TwoFactorSnapshot(t, ts, erin.ID), res, status, msgs...)
		}

		t.Run("not configured", func(t *testing.T) {
			before := apptest.TwoFactorSnapshot(t, ts, erin.ID)
			rtfWantRefused(t, ts, erin.ID, before, enable("123456", erin.Password),
				http.StatusUnauthorized, "two-factor authentication has not been configured")
		})

		// A setup whose secret a later setup replaced, once it had
		// outlived the time a pending secret is handed out again.
		stale := rtfSetup(t, erin.Client, erin.Email)
		apptest.AgePendingSecret(t, ts, erin.ID, time.Hour)
		otp := &apptest.OTP{Secret: rtfSetup(t, erin.Client, erin.Email)}
		if otp.Secret == stale {
			t.Fatal("an expired pending secret was handed out again")
		}
		code, step := otp.Next(t)
		wrong := apptest.WrongCode(t, otp.Secret)

		for _, tc := range []struct {
			name     string
			body     map[string]any
			status   int
			messages []string
		}{
			{"empty body", map[string]any{}, http.StatusBadRequest, []string{"code: length is lower than 6"}},
			{"code too short", map[string]any{"code": "12345", "password": erin.Password}, http.StatusBadRequest,
				[]string{"code: length is lower than 6"}},
			{"code too long", map[string]any{"code": code + "0", "password": erin.Password}, http.StatusBadRequest,
				[]string{"code: length is greater than 6"}},
			{"recovery-code length", map[string]any{"code": "abcdefghij", "password": erin.Password}, http.StatusBadRequest,
				[]string{"code: length is greater than 6"}},
			{"password too long", map[string]any{"code": code, "password": strings.Repeat("p", 513)}, http.StatusBadRequest,
				[]string{"password: length is greater than 512"}},
			{"both", map[string]any{"code": "1", "password": strings.Repeat("p", 513)}, http.StatusBadRequest,
				[]string{"code: length is lower than 6", "password: length is greater than 512"}},
			{"wrong password, right code", map[string]any{"code": code, "password": "wrong password"}, http.StatusForbidden,
				[]string{"invalid password"}},
			{"empty password", map[string]any{"code": code, "password": ""}, http.StatusForbidden, []string{"invalid password"}},
			{"wrong password and wrong code", map[string]any{"code": wrong, "password": "wrong password"}, http.StatusForbidden,
				[]string{"invalid password"}},
			{"wrong code", map[string]any{"code": wrong, "password": erin.Password}, http.StatusBadRequest,
				[]string{"invalid confirmation code"}},
			{"letters", map[string]any{"code": "abcdef", "password": erin.Password}, http.StatusBadRequest,
				[]string{"invalid confirmation code"}},
			{"code of the replaced secret", map[string]any{"code": apptest.CodeAt(t, stale, step), "password": erin.Password},
				http.StatusBadRequest, []string{"invalid confirmation code"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				refused(t, erin.Do(http.MethodPost, apptest.TwoFactorPath, tc.body), tc.status, tc.messages...)
			})
		}

		var recovery0 string
		t.Run("the right code still works", func(t *testing.T) {
			recovery0 = apptest.WantRecoveryCodes(t, enable(code, erin.Password))[0]
			otp.Accepted(step)
		})

		t.Run("already enabled", func(t *testing.T) {
			c2, _ := otp.Next(t)
			refused(t, enable(c2, erin.Password), http.StatusConflict, "two-factor authentication is already enabled")
			// The state is checked before the password.
			refused(t, enable(c2, "wrong password"), http.StatusConflict, "two-factor authentication is already enabled")
			// Validation comes first.
			refused(t, enable("1", erin.Password), http.StatusBadRequest, "code: length is lower than 6")
		})

		t.Run("a used step stays used after a quick re-enable", func(t *testing.T) {
			recovery := apptest.WantRecoveryCodes(t, erin.Do(http.MethodPost, apptest.RecoveryPath, map[string]any{"code": recovery0, "password": erin.Password}))
			apptest.WantEmpty(t, erin.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": recovery[0], "password": erin.Password}))
			again := &apptest.OTP{Secret: rtfSetup(t, erin.Client, erin.Email), Last: otp.Last}
			// A code of the new secret at the step last used is refused.
			refused(t, enable(apptest.CodeAt(t, again.Secret, otp.Last), erin.Password), http.StatusBadRequest, "this code has already been used")
			code, step := again.Next(t)
			apptest.WantRecoveryCodes(t, enable(code, erin.Password))
			again.Accepted(step)
		})

		t.Run("frozen", func(t *testing.T) {
			fay := apptest.Register(t, ts, "fay", "fay password")
			sec := rtfSetup(t, fay.Client, fay.Email)
			restSetFlags(t, ts, fay.ID, false, true, false)
			before := apptest.TwoFactorSnapshot(t, ts, fay.ID)
			res := fay.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": apptest.CodeAt(t, sec, secret.TOTPStep(time.Now())), "password": fay.Password})
			rtfWantRefused(t, ts, fay.ID, before, res, http.StatusConflict, "account is frozen")
			// Frozen comes before "not configured".
			gus := apptest.Register(t, ts, "gus", "gus password")
			restSetFlags(t, ts, gus.ID, false, true, false)
			before = apptest.TwoFactorSnapshot(t, ts, gus.ID)
			res = gus.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": "123456", "password": gus.Password})
			rtfWantRefused(t, ts, gus.ID, before, res, http.StatusConflict, "account is frozen")
		})
	})
}
