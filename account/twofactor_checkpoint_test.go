package account_test

import (
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestTwoFactorRequirement(t *testing.T) {
	t.Parallel()
	for _, policy := range []account.TwoFactorRequirement{account.TwoFactorAdmins, account.TwoFactorAllUsers} {
		t.Run(string(policy), func(t *testing.T) {
			dbtest.Each(t, func(t *testing.T, d *db.DB) {
				cfg := defaultConfig()
				cfg.TwoFactorRequirement = policy
				e := newEnv(t, d, cfg)
				admin := e.register("tfadmin") // the first account is the administrator
				plain := e.register("tfplain")
				if !admin.Admin || plain.Admin {
					t.Fatal("setup: admin flags")
				}
				list := func(u *user) error {
					_, err := e.svc.ListAPIKeys(e.ctx, e.actor(u.Token), model.ListQuery{Page: 1, PerPage: 10})
					return err
				}
				if err := list(plain); policy == account.TwoFactorAdmins && err != nil {
					t.Errorf("a plain user under %s: %v", policy, err)
				} else if policy == account.TwoFactorAllUsers {
					wantErr(t, err, model.CodeForbidden, "two-factor authentication required")
				}

				wantErr(t, list(admin), model.CodeForbidden, "two-factor authentication required")
				_, err := e.svc.UpdateEmail(e.ctx, e.actor(admin.Token), account.UpdateEmailInput{Email: "tfreq@example.com", Password: admin.Password})
				wantErr(t, err, model.CodeForbidden, "two-factor authentication required")
				// The way out stays open: setup and enable.
				sec := tfSetup(t, e, admin)
				res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(admin.Token), tfInput(tfCode(t, e, sec, 0), admin.Password))
				if err != nil {
					t.Fatalf("enable under %s: %v", policy, err)
				}
				e.secret(res.RecoveryCodes...)
				if err := list(admin); err != nil {
					t.Errorf("after enabling: %v", err)
				}
				a := &tfAccount{user: admin, Secret: sec, Codes: res.RecoveryCodes}
				// A session from the checkpoint passes too.
				cres, err := tfCheckpoint(e, tfLoginToken(t, e, admin), tfNextCode(t, e, a))
				if err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
				if err := list(&user{User: admin.User, Token: cres.SessionToken}); err != nil {
					t.Errorf("checkpoint session: %v", err)
				}
			})
		})
	}
}

func TestCheckpoint(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfcheck")

		t.Run("TOTP", func(t *testing.T) {
			sessions := e.sessionCount(a.User)
			tok := tfLoginToken(t, e, a.user)
			if n := len(e.events(a.User, model.EventAuthCheckpoint)); n != 1 {
				t.Errorf("auth:checkpoint events = %d, want 1", n)
			}
			if n := e.sessionCount(a.User); n != sessions {
				t.Errorf("sessions = %d, want %d before the checkpoint", n, sessions)
			}
			code := tfNextCode(t, e, a)
			step, _ := secret.MatchTOTP(a.Secret, code, e.clock.Now())
			res, err := tfCheckpoint(e, tok, code)
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			if res.TwoFactorRequired() || len(res.SessionToken) != 48 || res.Session == nil || res.User == nil || res.User.ID != a.ID {
				t.Fatalf("checkpoint result %+v, want a session of %s", res, a.Username)
			}
			if got := e.actor(res.SessionToken); got.User.ID != a.ID || got.Session.ID != res.Session.ID {
				t.Errorf("the session authenticates as %s", got.User.Username)
			}
			if n := e.sessionCount(a.User); n != sessions+1 {
				t.Errorf("sessions = %d, want %d", n, sessions+1)
			}
			if n := e.count("login_tokens", "user_id = ?", a.ID); n != 0 {
				t.Errorf("login tokens = %d after the checkpoint, want 0", n)
			}
			if got := e.reload(a.User).TOTPLastStep; got != step {
				t.Errorf("last step = %d, want %d", got, step)
			}
			tfEvent(t, e, a.user, model.EventAuthSuccess, 1, `{"using":"two-factor"}`, nil)

			t.Run("TokenReused", func(t *testing.T) {
				res, err := tfCheckpoint(e, tok, tfNextCode(t, e, a))
				tfWantInvalidToken(t, res, err)
			})
			t.Run("SameCodeNewToken", func(t *testing.T) {
				tok2 := tfLoginToken(t, e, a.user)
				before := tfSnapshot(t, e, a.user)
				res, err := tfCheckpoint(e, tok2, code)
				tfWantCodeErr(t, err, "this code has already been used")
				if res != nil {
					t.Errorf("result = %+v", res)
				}
				tfUnchanged(t, e, a.user, before)
				// The token survives a wrong code.
				res, err = tfCheckpoint(e, tok2, tfNextCode(t, e, a))
				if err != nil {
					t.Fatalf("checkpoint with the next code: %v", err)
				}
				if res.SessionToken == "" {
					t.Error("no session")
				}
			})
		})

		t.Run("RecoveryCode", func(t *testing.T) {
			tok := tfLoginToken(t, e, a.user)
			successes := len(e.events(a.User, model.EventAuthSuccess))
			res, err := tfCheckpoint(e, tok, a.Codes[0])
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			e.actor(res.SessionToken)
			tfEvent(t, e, a.user, model.EventAuthSuccess, successes+1, `{"using":"recovery-code"}`, nil)
			if n := tfRecoveryCount(t, e, a.user); n != 9 {
				t.Errorf("recovery codes = %d, want 9", n)
			}
			tok2 := tfLoginToken(t, e, a.user)
			before := tfSnapshot(t, e, a.user)
			res, err = tfCheckpoint(e, tok2, a.Codes[0])
			tfWantCodeErr(t, err, "invalid recovery code")
			if res != nil {
				t.Errorf("result = %+v", res)
			}
			tfUnchanged(t, e, a.user, before)
		})

		t.Run("Errors", func(t *testing.T) {
			b := tfEnabled(t, e, "tfcheckb")
			tfResetAttempts(t, e, a.user)
			tok := tfLoginToken(t, e, a.user)
			forgedSame := tok[:16] + secret.RandomString(32)
			nonAlnum := tok[:47] + "-"
			for _, c := range []struct {
				name string
				in   account.CheckpointInput
				want func(t *testing.T, res *account.LoginResult, err error)
			}{
				{"Forged", account.CheckpointInput{ConfirmationToken: secret.RandomString(48), Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"ForgedSamePrefix", account.CheckpointInput{ConfirmationToken: forgedSame, Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"Short", account.CheckpointInput{ConfirmationToken: tok[:47], Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"Long", account.CheckpointInput{ConfirmationToken: tok + "A", Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"Empty", account.CheckpointInput{Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"NotAlphanumeric", account.CheckpointInput{ConfirmationToken: nonAlnum, Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"SessionToken", account.CheckpointInput{ConfirmationToken: a.Token, Code: tfCode(t, e, a.Secret, 1)}, tfWantInvalidToken},
				{"OtherUsersSessionToken", account.CheckpointInput{ConfirmationToken: b.Token, Code: tfCode(t, e, b.Secret, 1)}, tfWantInvalidToken},
				{"Code5", account.CheckpointInput{ConfirmationToken: tok, Code: "12345"}, func(t *testing.T, res *account.LoginResult, err error) {
					wantFields(t, err, fe("code", "length is lower than 6"))
				}},
				{"Code11", account.CheckpointInput{ConfirmationToken: tok, Code: "12345678901"}, func(t *testing.T, res *account.LoginResult, err error) {
					wantFields(t, err, fe("code", "length is greater than 10"))
				}},
				{"Code8", account.CheckpointInput{ConfirmationToken: tok, Code: "12345678"}, func(t *testing.T, res *account.LoginResult, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code length")
				}},
				{"WrongTOTP", account.CheckpointInput{ConfirmationToken: tok, Code: tfWrongCode(t, e, a.Secret)}, func(t *testing.T, res *account.LoginResult, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code")
				}},
				{"WrongRecoveryCode", account.CheckpointInput{ConfirmationToken: tok, Code: secret.RandomString(10)}, func(t *testing.T, res *account.LoginResult, err error) {
					tfWantCodeErr(t, err, "invalid recovery code")
				}},
				{"OtherUsersCode", account.CheckpointInput{ConfirmationToken: tok, Code: b.Codes[0]}, func(t *testing.T, res *account.LoginResult, err error) {
					tfWantCodeErr(t, err, "invalid recovery code")
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					tfResetAttempts(t, e, a.user)
					tfResetAttempts(t, e, b.user)
					before, beforeB := tfSnapshot(t, e, a.user), tfSnapshot(t, e, b.user)
					res, err := tfCheckpoint(e, c.in.ConfirmationToken, c.in.Code)
					c.want(t, res, err)
					if res != nil {
						t.Errorf("result = %+v", res)
					}
					assertNoSecretInError(t, err, c.in.ConfirmationToken, c.in.Code, tok)
					tfUnchanged(t, e, a.user, before)
					tfUnchanged(t, e, b.user, beforeB)
				})
			}
			// b's token with a's code signs nobody in.
			t.Run("OtherUsersToken", func(t *testing.T) {
				tfResetAttempts(t, e, b.user)
				btok := tfLoginToken(t, e, b.user)
				before, beforeB := tfSnapshot(t, e, a.user), tfSnapshot(t, e, b.user)
				res, err := tfCheckpoint(e, btok, a.Codes[1])
				tfWantCodeErr(t, err, "invalid recovery code")
				if res != nil {
					t.Errorf("result = %+v", res)
				}
				tfUnchanged(t, e, a.user, before)
				tfUnchanged(t, e, b.user, beforeB)
			})
			// After all that, the token and a's codes still work.
			t.Run("TokenSurvives", func(t *testing.T) {
				tfResetAttempts(t, e, a.user)
				res, err := tfCheckpoint(e, tok, tfNextCode(t, e, a))
				if err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
				if res.User.ID != a.ID {
					t.Errorf("signed in as %s", res.User.Username)
				}
			})
		})

		t.Run("Expiry", func(t *testing.T) {
			tfResetAttempts(t, e, a.user)
			tok := tfLoginToken(t, e, a.user)
			e.clock.Advance(5*time.Minute - time.Microsecond)
			tok2 := tfLoginToken(t, e, a.user)
			e.clock.Advance(time.Microsecond)
			before := tfSnapshot(t, e, a.user)
			res, err := tfCheckpoint(e, tok, tfNextCode(t, e, a))
			tfWantInvalidToken(t, res, err)
			tfUnchanged(t, e, a.user, before)
			// The second, five minutes younger, still works.
			res, err = tfCheckpoint(e, tok2, tfNextCode(t, e, a))
			if err != nil {
				t.Fatalf("checkpoint with the younger token: %v", err)
			}
			e.actor(res.SessionToken)
		})

		t.Run("TwoFactorTurnedOffMeanwhile", func(t *testing.T) {
			c := tfEnabled(t, e, "tfcheckoff")
			tok := tfLoginToken(t, e, c.user)
			if _, err := e.svc.DisableTwoFactor(e.ctx, e.actor(c.Token), tfInput(c.Codes[0], c.Password)); err != nil {
				t.Fatalf("disable: %v", err)
			}
			res, err := tfCheckpoint(e, tok, c.Codes[1])
			tfWantInvalidToken(t, res, err)
		})

		// A token allows five codes; the sixth request is refused whatever
		// it carries. The account budget is reset between the attempts so
		// only the token's own limit applies.
		t.Run("TokenAttemptsExhausted", func(t *testing.T) {
			c := tfEnabled(t, e, "tfcheckexh")
			tok := tfLoginToken(t, e, c.user)
			for i := range 5 {
				tfResetAttempts(t, e, c.user)
				code := tfWrongCode(t, e, c.Secret)
				if i%2 == 1 {
					code = secret.RandomString(10)
				}
				_, err := tfCheckpoint(e, tok, code)
				if i%2 == 1 {
					tfWantCodeErr(t, err, "invalid recovery code")
				} else {
					tfWantCodeErr(t, err, "invalid confirmation code")
				}
			}
			tfResetAttempts(t, e, c.user)
			before := tfSnapshot(t, e, c.user)
			res, err := tfCheckpoint(e, tok, tfNextCode(t, e, c))
			tfWantInvalidToken(t, res, err)
			res, err = tfCheckpoint(e, tok, c.Codes[0])
			tfWantInvalidToken(t, res, err)
			tfUnchanged(t, e, c.user, before)
			if n := tfRecoveryCount(t, e, c.user); n != 10 {
				t.Errorf("recovery codes = %d, want 10", n)
			}
			// A new token starts afresh.
			res, err = tfCheckpoint(e, tfLoginToken(t, e, c.user), c.Codes[0])
			if err != nil {
				t.Fatalf("checkpoint with a new token: %v", err)
			}
			e.actor(res.SessionToken)
		})
	})
}
