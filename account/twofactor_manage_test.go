package account_test

import (
	"strings"
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestTwoFactorDisable(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())

		wantOff := func(t *testing.T, a *tfAccount, res *account.TwoFactorResult, lastStep int64) {
			t.Helper()
			if res == nil || res.User == nil || res.User.TOTPEnabled {
				t.Errorf("result = %+v, want the account with two-factor off", res)
			} else if res.RecoveryCodes != nil {
				t.Errorf("disabling returned recovery codes %v", res.RecoveryCodes)
			}
			for _, u := range []*model.User{e.reload(a.User), e.actor(a.Token).User} {
				if u.TOTPEnabled || u.TOTPSecret != nil || len(u.RecoverySalt) != 0 || u.TOTPLastUsed != nil {
					t.Errorf("after disabling: enabled %v secret %v salt %x last used %v; want all cleared",
						u.TOTPEnabled, u.TOTPSecret, u.RecoverySalt, u.TOTPLastUsed)
				}
				if u.TOTPLastStep != lastStep {
					t.Errorf("last step = %d, want %d kept", u.TOTPLastStep, lastStep)
				}
			}
			if n := tfRecoveryCount(t, e, a.user); n != 0 {
				t.Errorf("recovery codes = %d after disabling, want 0", n)
			}
		}

		t.Run("WithTOTP", func(t *testing.T) {
			a := tfEnabled(t, e, "tfdistotp")
			code := tfNextCode(t, e, a)
			step, _ := secret.MatchTOTP(a.Secret, code, e.clock.Now())
			res, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(code, a.Password))
			if err != nil {
				t.Fatalf("disable: %v", err)
			}
			wantOff(t, a, res, step)
			tfEvent(t, e, a.user, model.EventTwoFactorDisable, 1, `{"using":"two-factor"}`, nil)
			t.Run("ErrNotEnabled", func(t *testing.T) {
				before := tfSnapshot(t, e, a.user)
				_, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(a.Codes[0], a.Password))
				wantErr(t, err, model.CodeConflict, "two-factor authentication is not enabled")
				_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(tfCode(t, e, a.Secret, 1), "wrong password"))
				wantErr(t, err, model.CodeConflict, "two-factor authentication is not enabled")
				_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(a.Codes[0], a.Password))
				wantErr(t, err, model.CodeConflict, "two-factor authentication is not enabled")
				tfUnchanged(t, e, a.user, before)
			})
		})

		t.Run("WithRecoveryCode", func(t *testing.T) {
			a := tfEnabled(t, e, "tfdisrec")
			last := e.reload(a.User).TOTPLastStep
			key, id := e.newAPIKey(a.User, keyOpts{UserPerms: []string{model.PermAccountTwoFactor}})
			res, err := e.svc.DisableTwoFactor(e.ctx, e.keyActor(key), tfInput(a.Codes[9], a.Password))
			if err != nil {
				t.Fatalf("disable: %v", err)
			}
			wantOff(t, a, res, last)
			tfEvent(t, e, a.user, model.EventTwoFactorDisable, 1, `{"using":"recovery-code"}`, &id)
		})

		t.Run("Errors", func(t *testing.T) {
			a := tfEnabled(t, e, "tfdiserr")
			wrong := "wrong-" + a.Password
			e.secret(wrong)
			swapped := strings.Map(func(r rune) rune {
				switch {
				case 'a' <= r && r <= 'z':
					return r - 'a' + 'A'
				case 'A' <= r && r <= 'Z':
					return r - 'A' + 'a'
				}
				return r
			}, a.Codes[0])
			long := strings.Repeat("p", 513)
			for _, c := range []struct {
				name string
				in   account.TwoFactorInput
				want func(t *testing.T, err error)
			}{
				{"WrongTOTP", tfInput(tfWrongCode(t, e, a.Secret), a.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code")
				}},
				{"WrongRecoveryCode", tfInput(secret.RandomString(10), a.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid recovery code")
				}},
				{"RecoveryCodeOtherCase", tfInput(swapped, a.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid recovery code")
				}},
				{"RecoveryCodeNotAlphanumeric", tfInput("abcde-ghij", a.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid recovery code")
				}},
				{"Length7", tfInput("1234567", a.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code length")
				}},
				{"Length8", tfInput(a.Codes[0][:8], a.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code length")
				}},
				{"Length9WrongPassword", tfInput(a.Codes[0][:9], wrong), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code length")
				}},
				{"WrongPasswordRightTOTP", tfInput(tfCode(t, e, a.Secret, 1), wrong), tfWantInvalidPassword},
				{"WrongPasswordRightRecoveryCode", tfInput(a.Codes[0], wrong), tfWantInvalidPassword},
				{"Code5", tfInput("12345", a.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is lower than 6"))
				}},
				{"Code11", tfInput(a.Codes[0]+"x", a.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is greater than 10"))
				}},
				{"Password513", tfInput(a.Codes[0], long), func(t *testing.T, err error) {
					wantFields(t, err, fe("password", "length is greater than 512"))
				}},
				{"Password512", tfInput(a.Codes[0], strings.Repeat("p", 512)), tfWantInvalidPassword},
				{"Both", tfInput("", long), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is lower than 6"), fe("password", "length is greater than 512"))
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					for _, op := range []struct {
						name string
						call func(*model.Actor, account.TwoFactorInput) (*account.TwoFactorResult, error)
					}{
						{"Disable", func(a *model.Actor, in account.TwoFactorInput) (*account.TwoFactorResult, error) {
							return e.svc.DisableTwoFactor(e.ctx, a, in)
						}},
						{"Regenerate", func(a *model.Actor, in account.TwoFactorInput) (*account.TwoFactorResult, error) {
							return e.svc.RegenerateRecoveryCodes(e.ctx, a, in)
						}},
					} {
						t.Run(op.name, func(t *testing.T) {
							tfResetAttempts(t, e, a.user)
							before := tfSnapshot(t, e, a.user)
							res, err := op.call(e.actor(a.Token), c.in)
							c.want(t, err)
							if res != nil {
								t.Errorf("result = %+v", res)
							}
							assertNoSecretInError(t, err, c.in.Code, c.in.Password, a.Password)
							tfUnchanged(t, e, a.user, before)
						})
					}
				})
			}

			t.Run("LengthNotCharged", func(t *testing.T) {
				tfResetAttempts(t, e, a.user)
				for range 8 {
					_, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput("12345678", wrong))
					tfWantCodeErr(t, err, "invalid confirmation code length")
				}
				if c := tfAttempts(t, e, a.user); c.Failures != 0 || c.Consecutive != 0 {
					t.Errorf("attempts = %+v, want none charged", c)
				}
			})

			t.Run("Permission", func(t *testing.T) {
				key, _ := e.newAPIKey(a.User, keyOpts{UserPerms: []string{model.PermAccountPassword, model.PermAccountEmail}})
				before := tfSnapshot(t, e, a.user)
				_, err := e.svc.DisableTwoFactor(e.ctx, e.keyActor(key), tfInput(a.Codes[0], a.Password))
				wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.two-factor")
				_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.keyActor(key), tfInput(a.Codes[0], a.Password))
				wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.two-factor")
				tfUnchanged(t, e, a.user, before)
			})

			t.Run("ErrUnauthenticated", func(t *testing.T) {
				_, err := e.svc.DisableTwoFactor(e.ctx, nil, tfInput(a.Codes[0], a.Password))
				wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
				_, err = e.svc.RegenerateRecoveryCodes(e.ctx, nil, tfInput(a.Codes[0], a.Password))
				wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
			})

			t.Run("UsedRecoveryCode", func(t *testing.T) {
				tfResetAttempts(t, e, a.user)
				// Spent at the login checkpoint, the code is gone.
				res, err := tfCheckpoint(e, tfLoginToken(t, e, a.user), a.Codes[1])
				if err != nil {
					t.Fatalf("checkpoint: %v", err)
				}
				if res.SessionToken == "" {
					t.Fatal("checkpoint gave no session")
				}
				before := tfSnapshot(t, e, a.user)
				_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(a.Codes[1], a.Password))
				tfWantCodeErr(t, err, "invalid recovery code")
				tfUnchanged(t, e, a.user, before)
				if n := tfRecoveryCount(t, e, a.user); n != 9 {
					t.Errorf("recovery codes = %d, want 9", n)
				}
			})

			t.Run("NothingConsumed", func(t *testing.T) {
				// Every refused request left the codes it carried usable.
				tfResetAttempts(t, e, a.user)
				res, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(a.Codes[0], a.Password))
				if err != nil {
					t.Fatalf("disable: %v", err)
				}
				wantOff(t, a, res, e.reload(a.User).TOTPLastStep)
			})
		})
	})
}

func TestTwoFactorRegenerateRecoveryCodes(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfregen")

		res, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(tfNextCode(t, e, a), a.Password))
		if err != nil {
			t.Fatalf("regenerate: %v", err)
		}
		e.secret(res.RecoveryCodes...)
		tfWantCodes(t, e, a.user, res.RecoveryCodes)
		if res.User == nil || !res.User.TOTPEnabled {
			t.Errorf("user = %+v, want two-factor still on", res.User)
		}
		tfEvent(t, e, a.user, model.EventRecoveryCodesRegenerated, 1, `{"using":"two-factor"}`, nil)
		old := a.Codes
		a.Codes = res.RecoveryCodes

		t.Run("OldCodesFail", func(t *testing.T) {
			for _, c := range old {
				tfResetAttempts(t, e, a.user)
				before := tfSnapshot(t, e, a.user)
				_, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(c, a.Password))
				tfWantCodeErr(t, err, "invalid recovery code")
				tfUnchanged(t, e, a.user, before)
			}
		})

		t.Run("WithRecoveryCode", func(t *testing.T) {
			res, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(a.Codes[3], a.Password))
			if err != nil {
				t.Fatalf("regenerate with a recovery code: %v", err)
			}
			e.secret(res.RecoveryCodes...)
			tfWantCodes(t, e, a.user, res.RecoveryCodes)
			tfEvent(t, e, a.user, model.EventRecoveryCodesRegenerated, 2, `{"using":"recovery-code"}`, nil)
			for _, c := range a.Codes {
				tfResetAttempts(t, e, a.user)
				_, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(c, a.Password))
				tfWantCodeErr(t, err, "invalid recovery code")
			}
			a.Codes = res.RecoveryCodes
		})

		t.Run("NewCodesWork", func(t *testing.T) {
			res, err := tfCheckpoint(e, tfLoginToken(t, e, a.user), a.Codes[5])
			if err != nil {
				t.Fatalf("checkpoint with a new code: %v", err)
			}
			e.actor(res.SessionToken)
			if _, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(a.Codes[6], a.Password)); err != nil {
				t.Fatalf("disable with a new code: %v", err)
			}
		})
	})
}

// A suspended user reaches no two-factor route: every path but the
// account itself and logout answers 403 account is suspended.
func TestTwoFactorSuspended(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfsuspended")
		p := e.register("tfsusppend")
		psec := tfSetup(t, e, p)
		e.setFlags(a.User, false, true)
		e.setFlags(p.User, false, true)

		t.Run("Setup", func(t *testing.T) {
			q := e.register("tfsuspsetup")
			e.setFlags(q.User, false, true)
			before := tfSnapshot(t, e, q)
			_, err := e.svc.BeginTwoFactorSetup(e.ctx, e.actor(q.Token))
			wantErr(t, err, model.CodeForbidden, "account is suspended")
			tfUnchanged(t, e, q, before)
		})
		t.Run("Enable", func(t *testing.T) {
			before := tfSnapshot(t, e, p)
			_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(p.Token), tfInput(tfCode(t, e, psec, 0), p.Password))
			wantErr(t, err, model.CodeForbidden, "account is suspended")
			tfUnchanged(t, e, p, before)
		})
		t.Run("Regenerate", func(t *testing.T) {
			before := tfSnapshot(t, e, a.user)
			_, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(a.Codes[1], a.Password))
			wantErr(t, err, model.CodeForbidden, "account is suspended")
			tfUnchanged(t, e, a.user, before)
		})
		t.Run("Disable", func(t *testing.T) {
			before := tfSnapshot(t, e, a.user)
			_, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(tfNextCode(t, e, a), a.Password))
			wantErr(t, err, model.CodeForbidden, "account is suspended")
			tfUnchanged(t, e, a.user, before)
		})
	})
}

func TestTwoFactorDisableFor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		for _, c := range []struct{ name, username, email, login string }{
			{"ByUsername", "TFOpUser", "tfopuser@example.com", "tfopuser"},
			{"ByEmail", "tfopmail", "TFOpMail@Example.com", "tfopmail@EXAMPLE.com"},
		} {
			t.Run(c.name, func(t *testing.T) {
				in := registerInput(c.username)
				in.Email = c.email
				a := tfEnableUser(t, e, e.registerWith(in))
				last := e.reload(a.User).TOTPLastStep
				tok := tfLoginTokenAs(t, e, a, c.login)
				got, err := e.svc.DisableTwoFactorFor(e.ctx, c.login)
				if err != nil {
					t.Fatalf("disable for %q: %v", c.login, err)
				}
				if got == nil || got.ID != a.ID {
					t.Errorf("returned user %+v, want %s", got, a.ID)
				}
				u := e.reload(a.User)
				if u.TOTPEnabled || u.TOTPSecret != nil || len(u.RecoverySalt) != 0 || u.TOTPLastStep != last {
					t.Errorf("after disabling: enabled %v secret %v salt %x step %d", u.TOTPEnabled, u.TOTPSecret, u.RecoverySalt, u.TOTPLastStep)
				}
				if n := tfRecoveryCount(t, e, a.user); n != 0 {
					t.Errorf("recovery codes = %d, want 0", n)
				}
				acts := e.events(a.User, model.EventTwoFactorDisable)
				if len(acts) != 1 {
					t.Fatalf("disable events = %d, want 1", len(acts))
				}
				assertData(t, acts[0], `{"by":"operator"}`)
				if acts[0].IP != nil || acts[0].APIKeyID != nil {
					t.Errorf("operator event ip/key = %v/%v, want none", acts[0].IP, acts[0].APIKeyID)
				}
				// A confirmation token handed out before no longer signs in.
				res, err := tfCheckpoint(e, tok, a.Codes[0])
				tfWantInvalidToken(t, res, err)
				// Signing in now needs the password only.
				if res := e.mustLogin(t, c.login, a.Password); res.User.ID != a.ID {
					t.Errorf("signed in as %s", res.User.Username)
				}

				before := tfSnapshot(t, e, a.user)
				_, err = e.svc.DisableTwoFactorFor(e.ctx, c.login)
				wantErr(t, err, model.CodeConflict, "two-factor authentication is not enabled")
				tfUnchanged(t, e, a.user, before)
			})
		}
		t.Run("ErrNotFound", func(t *testing.T) {
			for _, login := range []string{"nobody", "nobody@example.com", ""} {
				activities := e.count("activities", "")
				u, err := e.svc.DisableTwoFactorFor(e.ctx, login)
				wantErr(t, err, model.CodeNotFound, "user not found")
				if u != nil {
					t.Errorf("user = %+v", u)
				}
				if n := e.count("activities", ""); n != activities {
					t.Errorf("activities = %d, want %d", n, activities)
				}
			}
		})
	})
}

// tfLoginTokenAs signs a in with the given login and returns the
// confirmation token.
func tfLoginTokenAs(t *testing.T, e *env, a *tfAccount, login string) string {
	t.Helper()
	res, err := e.login(account.LoginInput{User: login, Password: a.Password})
	if err != nil || !res.TwoFactorRequired() {
		t.Fatalf("login %q: %+v %v, want a confirmation token", login, res, err)
	}
	return res.ConfirmationToken
}
