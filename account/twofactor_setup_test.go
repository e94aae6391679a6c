package account_test

import (
	"encoding/base32"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestTwoFactorSetup(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")

		var first string
		t.Run("SecretAndURL", func(t *testing.T) {
			s, err := e.svc.BeginTwoFactorSetup(e.ctx, e.actor(alice.Token))
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			e.secret(s.Secret)
			first = s.Secret
			if len(s.Secret) != 32 {
				t.Errorf("secret %q: %d characters, want 32", s.Secret, len(s.Secret))
			}
			raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s.Secret)
			if err != nil || len(raw) != 20 {
				t.Errorf("secret %q: %d bytes, %v; want 20 bytes of unpadded base32", s.Secret, len(raw), err)
			}
			want := "otpauth://totp/Calagopus:alice@example.com?secret=" + s.Secret + "&issuer=Calagopus"
			if s.URL != want {
				t.Errorf("URL = %q, want %q", s.URL, want)
			}
			cur := e.reload(alice.User)
			if cur.TOTPEnabled || cur.TOTPSecret == nil || *cur.TOTPSecret != s.Secret {
				t.Errorf("stored: enabled %v secret %v, want the pending secret", cur.TOTPEnabled, cur.TOTPSecret)
			}
			if n := tfRecoveryCount(t, e, alice); n != 0 {
				t.Errorf("recovery codes = %d before enabling", n)
			}
		})

		t.Run("URLEscaping", func(t *testing.T) {
			cfg := defaultConfig()
			cfg.AppName = "Game Panel"
			e2 := e.withConfig(cfg)
			in := registerInput("tfplus")
			in.Email = "tf+plus@example.com"
			u := e2.registerWith(in)
			s, err := e2.svc.BeginTwoFactorSetup(e.ctx, e2.actor(u.Token))
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			e.secret(s.Secret)
			want := "otpauth://totp/Game%20Panel:tf+plus@example.com?secret=" + s.Secret + "&issuer=Game%20Panel"
			if s.URL != want {
				t.Errorf("URL = %q, want %q", s.URL, want)
			}
			p, err := url.Parse(s.URL)
			if err != nil {
				t.Fatalf("parse %q: %v", s.URL, err)
			}
			if p.Scheme != "otpauth" || p.Host != "totp" || p.Path != "/Game Panel:tf+plus@example.com" ||
				p.Query().Get("issuer") != "Game Panel" || p.Query().Get("secret") != s.Secret {
				t.Errorf("URL parses to %q %q %q %v", p.Scheme, p.Host, p.Path, p.Query())
			}
		})

		t.Run("SecondSetupWithinLifetimeKeepsPending", func(t *testing.T) {
			// A reload of the setup page shows the secret just scanned.
			e.clock.Advance(account.PendingTwoFactorLifetime - time.Minute)
			s, err := e.svc.BeginTwoFactorSetup(e.ctx, e.actor(alice.Token))
			if err != nil {
				t.Fatalf("setup: %v", err)
			}
			if s.Secret != first {
				t.Fatalf("a second setup within the lifetime returned another secret")
			}
			if want := "otpauth://totp/Calagopus:alice@example.com?secret=" + first + "&issuer=Calagopus"; s.URL != want {
				t.Errorf("URL = %q, want %q", s.URL, want)
			}
			if got := e.reload(alice.User).TOTPSecret; got == nil || *got != first {
				t.Errorf("pending secret = %v, want the first", got)
			}
		})

		t.Run("SetupAfterLifetimeReplacesPending", func(t *testing.T) {
			stale := e.actor(alice.Token) // read while the first secret is pending
			e.clock.Advance(time.Minute)  // the first is now PendingTwoFactorLifetime old
			second := tfSetup(t, e, alice)
			if second == first {
				t.Fatal("a setup past the lifetime returned the old secret")
			}
			if got := e.reload(alice.User).TOTPSecret; got == nil || *got != second {
				t.Errorf("pending secret = %v, want the second", got)
			}
			if again := tfSetup(t, e, alice); again != second {
				t.Errorf("the new secret is not kept in turn")
			}
			tfResetAttempts(t, e, alice)
			before := tfSnapshot(t, e, alice)
			// A code of the first secret no longer enables: neither on a
			// fresh request nor on one that read the account before.
			_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(alice.Token), tfInput(tfCode(t, e, first, 0), alice.Password))
			tfWantCodeErr(t, err, "invalid confirmation code")
			_, err = e.svc.EnableTwoFactor(e.ctx, stale, tfInput(tfCode(t, e, first, 0), alice.Password))
			tfWantCodeErr(t, err, "invalid confirmation code")
			tfUnchanged(t, e, alice, before)
			// A code of the second does.
			res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(alice.Token), tfInput(tfCode(t, e, second, 0), alice.Password))
			if err != nil {
				t.Fatalf("enable with the second secret: %v", err)
			}
			e.secret(res.RecoveryCodes...)
			if got := e.reload(alice.User); !got.TOTPEnabled || *got.TOTPSecret != second {
				t.Errorf("enabled %v with secret %v, want the second", got.TOTPEnabled, got.TOTPSecret)
			}
		})

		t.Run("EnableWithTheKeptSecret", func(t *testing.T) {
			u := e.register("tfstable")
			sec := tfSetup(t, e, u)
			e.clock.Advance(5 * time.Minute)
			if again := tfSetup(t, e, u); again != sec {
				t.Fatalf("second setup returned another secret")
			}
			// Codes of the secret shown twice enable, from a request that
			// read the account before the second setup or after it.
			res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec, 0), u.Password))
			if err != nil {
				t.Fatalf("enable with the kept secret: %v", err)
			}
			e.secret(res.RecoveryCodes...)
			if got := e.reload(u.User); !got.TOTPEnabled || got.TOTPSecret == nil || *got.TOTPSecret != sec {
				t.Errorf("enabled %v with secret %v, want the kept one", got.TOTPEnabled, got.TOTPSecret)
			}
		})

		t.Run("DisabledThenSetupAgainIsFresh", func(t *testing.T) {
			a := tfEnabled(t, e, "tfagain")
			// Within the lifetime of the secret it was enabled with.
			e.clock.Advance(secret.TOTPPeriod)
			if _, err := e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(tfNextCode(t, e, a), a.Password)); err != nil {
				t.Fatalf("disable: %v", err)
			}
			fresh := tfSetup(t, e, a.user)
			if fresh == a.Secret {
				t.Fatal("a setup after disabling handed out the old secret")
			}
			if again := tfSetup(t, e, a.user); again != fresh {
				t.Errorf("the fresh secret is not kept in turn")
			}
		})

		t.Run("ErrAlreadyEnabled", func(t *testing.T) {
			before := tfSnapshot(t, e, alice)
			s, err := e.svc.BeginTwoFactorSetup(e.ctx, e.actor(alice.Token))
			wantErr(t, err, model.CodeConflict, "two-factor authentication is already enabled")
			if s != nil {
				t.Errorf("setup = %+v", s)
			}
			tfUnchanged(t, e, alice, before)
		})

		t.Run("ErrFrozen", func(t *testing.T) {
			u := e.register("tffrozen")
			e.setFlags(u.User, true, false)
			before := tfSnapshot(t, e, u)
			_, err := e.svc.BeginTwoFactorSetup(e.ctx, e.actor(u.Token))
			wantErr(t, err, model.CodeConflict, "account is frozen")
			tfUnchanged(t, e, u, before)
			if e.reload(u.User).TOTPSecret != nil {
				t.Error("a frozen account got a pending secret")
			}
		})

		t.Run("Permission", func(t *testing.T) {
			u := e.register("tfkeysetup")
			key, _ := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermAccountInfos, model.PermAccountPassword}})
			_, err := e.svc.BeginTwoFactorSetup(e.ctx, e.keyActor(key))
			wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.two-factor")
			if e.reload(u.User).TOTPSecret != nil {
				t.Error("a refused key stored a pending secret")
			}
			key2, _ := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermAccountTwoFactor}})
			s, err := e.svc.BeginTwoFactorSetup(e.ctx, e.keyActor(key2))
			if err != nil {
				t.Fatalf("setup with account.two-factor: %v", err)
			}
			e.secret(s.Secret)
		})

		t.Run("ErrUnauthenticated", func(t *testing.T) {
			_, err := e.svc.BeginTwoFactorSetup(e.ctx, nil)
			wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
		})
	})
}

func TestTwoFactorEnable(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())

		t.Run("Success", func(t *testing.T) {
			u := e.register("tfenable")
			sec := tfSetup(t, e, u)
			code := tfCode(t, e, sec, 0)
			res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(code, u.Password))
			if err != nil {
				t.Fatalf("enable: %v", err)
			}
			e.secret(res.RecoveryCodes...)
			tfWantCodes(t, e, u, res.RecoveryCodes)
			step := secret.TOTPStep(e.clock.Now())
			for _, got := range []*model.User{res.User, e.reload(u.User), e.actor(u.Token).User} {
				if got == nil || !got.TOTPEnabled || got.TOTPSecret == nil || *got.TOTPSecret != sec || got.TOTPLastStep != step {
					t.Errorf("user after enabling = %+v, want enabled with the secret and step %d", got, step)
				}
			}
			if n := tfRecoveryCount(t, e, u); n != 10 {
				t.Errorf("recovery codes remaining = %d, want 10", n)
			}
			tfEvent(t, e, u, model.EventTwoFactorEnable, 1, `{}`, nil)

			t.Run("SameCodeAgain", func(t *testing.T) {
				before := tfSnapshot(t, e, u)
				_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(code, u.Password))
				wantErr(t, err, model.CodeConflict, "two-factor authentication is already enabled")
				_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(u.Token), tfInput(code, u.Password))
				tfWantCodeErr(t, err, "this code has already been used")
				_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(u.Token), tfInput(code, u.Password))
				tfWantCodeErr(t, err, "this code has already been used")
				tfUnchanged(t, e, u, before)
			})

			t.Run("QuickReEnableKeepsUsedStep", func(t *testing.T) {
				tfResetAttempts(t, e, u)
				if _, err := e.svc.DisableTwoFactor(e.ctx, e.actor(u.Token), tfInput(res.RecoveryCodes[0], u.Password)); err != nil {
					t.Fatalf("disable: %v", err)
				}
				sec2 := tfSetup(t, e, u)
				before := tfSnapshot(t, e, u)
				// The new secret's code of the step already used is refused.
				_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec2, 0), u.Password))
				tfWantCodeErr(t, err, "this code has already been used")
				_, err = e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec2, -1), u.Password))
				tfWantCodeErr(t, err, "this code has already been used")
				tfUnchanged(t, e, u, before)
				res2, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec2, 1), u.Password))
				if err != nil {
					t.Fatalf("enable with a later step: %v", err)
				}
				e.secret(res2.RecoveryCodes...)
				tfWantCodes(t, e, u, res2.RecoveryCodes)
				// Enabling replaced every earlier code.
				tfResetAttempts(t, e, u)
				before = tfSnapshot(t, e, u)
				_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(u.Token), tfInput(res.RecoveryCodes[1], u.Password))
				tfWantCodeErr(t, err, "invalid recovery code")
				tfUnchanged(t, e, u, before)
				tfEvent(t, e, u, model.EventTwoFactorEnable, 2, `{}`, nil)
			})
		})

		t.Run("Errors", func(t *testing.T) {
			u := e.register("tfenerr")
			unconfigured := e.register("tfnosetup")
			enabled := tfEnabled(t, e, "tfenabled")
			sec := tfSetup(t, e, u)
			wrong := "wrong-" + u.Password
			e.secret(wrong)
			long := strings.Repeat("p", 513)
			for _, c := range []struct {
				name string
				u    *user
				in   account.TwoFactorInput
				want func(t *testing.T, err error)
			}{
				{"WrongCode", u, tfInput(tfWrongCode(t, e, sec), u.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code")
				}},
				{"CodeOfStepTooFarBack", u, tfInput(tfCode(t, e, sec, -2), u.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code")
				}},
				{"CodeNotDigits", u, tfInput("abcdef", u.Password), func(t *testing.T, err error) {
					tfWantCodeErr(t, err, "invalid confirmation code")
				}},
				{"WrongPassword", u, tfInput(tfCode(t, e, sec, 0), wrong), tfWantInvalidPassword},
				{"EmptyPassword", u, tfInput(tfCode(t, e, sec, 0), ""), tfWantInvalidPassword},
				{"WrongPasswordAndCode", u, tfInput(tfWrongCode(t, e, sec), wrong), tfWantInvalidPassword},
				{"Password512", u, tfInput(tfCode(t, e, sec, 0), strings.Repeat("p", 512)), tfWantInvalidPassword},
				{"NotConfigured", unconfigured, tfInput("123456", unconfigured.Password), func(t *testing.T, err error) {
					wantErr(t, err, model.CodeNotConfigured, "two-factor authentication has not been configured")
				}},
				{"NotConfiguredWrongPassword", unconfigured, tfInput("123456", wrong), func(t *testing.T, err error) {
					wantErr(t, err, model.CodeNotConfigured, "two-factor authentication has not been configured")
				}},
				{"AlreadyEnabled", enabled.user, tfInput(tfCode(t, e, enabled.Secret, 1), enabled.Password), func(t *testing.T, err error) {
					wantErr(t, err, model.CodeConflict, "two-factor authentication is already enabled")
				}},
				{"AlreadyEnabledWrongPassword", enabled.user, tfInput(tfCode(t, e, enabled.Secret, 1), wrong), func(t *testing.T, err error) {
					wantErr(t, err, model.CodeConflict, "two-factor authentication is already enabled")
				}},
				{"CodeEmpty", u, tfInput("", u.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is lower than 6"))
				}},
				{"Code5", u, tfInput("12345", u.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is lower than 6"))
				}},
				{"Code7", u, tfInput("1234567", u.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is greater than 6"))
				}},
				{"Code10", u, tfInput("1234567890", u.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is greater than 6"))
				}},
				{"Password513", u, tfInput(tfCode(t, e, sec, 0), long), func(t *testing.T, err error) {
					wantFields(t, err, fe("password", "length is greater than 512"))
				}},
				{"CodeAndPassword", u, tfInput("12345", long), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is lower than 6"), fe("password", "length is greater than 512"))
				}},
				{"ValidationBeforeState", enabled.user, tfInput("1234567", enabled.Password), func(t *testing.T, err error) {
					wantFields(t, err, fe("code", "length is greater than 6"))
				}},
			} {
				t.Run(c.name, func(t *testing.T) {
					tfResetAttempts(t, e, c.u)
					before := tfSnapshot(t, e, c.u)
					res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(c.u.Token), c.in)
					c.want(t, err)
					if res != nil {
						t.Errorf("result = %+v", res)
					}
					assertNoSecretInError(t, err, c.in.Password, c.in.Code, c.u.Password)
					tfUnchanged(t, e, c.u, before)
				})
			}

			t.Run("Frozen", func(t *testing.T) {
				f := e.register("tffrozenen")
				fsec := tfSetup(t, e, f)
				e.setFlags(f.User, true, false)
				before := tfSnapshot(t, e, f)
				_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(f.Token), tfInput(tfCode(t, e, fsec, 0), f.Password))
				wantErr(t, err, model.CodeConflict, "account is frozen")
				tfUnchanged(t, e, f, before)
				e.setFlags(f.User, false, false)
				if _, err := e.svc.EnableTwoFactor(e.ctx, e.actor(f.Token), tfInput(tfCode(t, e, fsec, 0), f.Password)); err != nil {
					t.Fatalf("enable once unfrozen: %v", err)
				}
			})

			t.Run("Permission", func(t *testing.T) {
				k := e.register("tfkeyenable")
				ksec := tfSetup(t, e, k)
				key, _ := e.newAPIKey(k.User, keyOpts{UserPerms: []string{model.PermAccountPassword}})
				before := tfSnapshot(t, e, k)
				_, err := e.svc.EnableTwoFactor(e.ctx, e.keyActor(key), tfInput(tfCode(t, e, ksec, 0), k.Password))
				wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.two-factor")
				// Validation comes first.
				_, err = e.svc.EnableTwoFactor(e.ctx, e.keyActor(key), tfInput("1", k.Password))
				wantFields(t, err, fe("code", "length is lower than 6"))
				tfUnchanged(t, e, k, before)
				key2, id2 := e.newAPIKey(k.User, keyOpts{UserPerms: []string{model.PermAccountTwoFactor}})
				res, err := e.svc.EnableTwoFactor(e.ctx, e.keyActor(key2), tfInput(tfCode(t, e, ksec, 0), k.Password))
				if err != nil {
					t.Fatalf("enable with account.two-factor: %v", err)
				}
				e.secret(res.RecoveryCodes...)
				tfEvent(t, e, k, model.EventTwoFactorEnable, 1, `{}`, &id2)
			})

			t.Run("ErrUnauthenticated", func(t *testing.T) {
				_, err := e.svc.EnableTwoFactor(e.ctx, nil, tfInput("123456", "x"))
				wantErr(t, err, model.CodeUnauthenticated, "missing authorization")
			})

			t.Run("NothingConsumed", func(t *testing.T) {
				// After every refusal the right code and password still work.
				tfResetAttempts(t, e, u)
				res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec, 0), u.Password))
				if err != nil {
					t.Fatalf("enable: %v", err)
				}
				e.secret(res.RecoveryCodes...)
				tfEvent(t, e, u, model.EventTwoFactorEnable, 1, `{}`, nil)
			})
		})
	})
}

// The TOTP window follows the service clock: one step either way.
func TestTwoFactorTOTPWindow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())

		t.Run("Enable", func(t *testing.T) {
			for _, c := range []struct {
				name   string
				offset int64
				ok     bool
			}{
				{"StepMinus2", -2, false}, {"StepMinus1", -1, true}, {"Step0", 0, true},
				{"StepPlus1", 1, true}, {"StepPlus2", 2, false},
			} {
				t.Run(c.name, func(t *testing.T) {
					u := e.register(fmt.Sprintf("tfwin%d", c.offset+2))
					sec := tfSetup(t, e, u)
					before := tfSnapshot(t, e, u)
					res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec, c.offset), u.Password))
					if !c.ok {
						tfWantCodeErr(t, err, "invalid confirmation code")
						tfUnchanged(t, e, u, before)
						return
					}
					if err != nil {
						t.Fatalf("enable with a code of step %+d: %v", c.offset, err)
					}
					e.secret(res.RecoveryCodes...)
					if want := secret.TOTPStep(e.clock.Now()) + c.offset; res.User.TOTPLastStep != want {
						t.Errorf("last step = %d, want %d", res.User.TOTPLastStep, want)
					}
				})
			}
		})

		t.Run("IncreasingSteps", func(t *testing.T) {
			u := e.register("tfsteps")
			sec := tfSetup(t, e, u)
			res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec, -1), u.Password))
			if err != nil {
				t.Fatalf("enable with step -1: %v", err)
			}
			e.secret(res.RecoveryCodes...)
			base := secret.TOTPStep(e.clock.Now())
			check := func(t *testing.T, offset int64, want string) {
				t.Helper()
				tfResetAttempts(t, e, u)
				before := tfSnapshot(t, e, u)
				res, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(u.Token), tfInput(tfCode(t, e, sec, offset), u.Password))
				if want != "" {
					tfWantCodeErr(t, err, want)
					tfUnchanged(t, e, u, before)
					return
				}
				if err != nil {
					t.Fatalf("code of step %+d: %v", offset, err)
				}
				e.secret(res.RecoveryCodes...)
				if got, want := e.reload(u.User).TOTPLastStep, secret.TOTPStep(e.clock.Now())+offset; got != want {
					t.Errorf("last step = %d, want %d", got, want)
				}
			}
			check(t, -1, "this code has already been used")
			check(t, 0, "")
			check(t, 0, "this code has already been used")
			check(t, -1, "this code has already been used")
			check(t, -2, "invalid confirmation code")
			check(t, 2, "invalid confirmation code")
			check(t, 1, "")
			check(t, 1, "this code has already been used")
			// A step later: the window moved, the code of base+1 is now
			// step −1 and still used; base+2 is accepted.
			e.clock.Advance(secret.TOTPPeriod)
			if secret.TOTPStep(e.clock.Now()) != base+1 {
				t.Fatal("the clock did not move one step")
			}
			check(t, 0, "this code has already been used")
			check(t, 1, "")
			check(t, 1, "this code has already been used")
			check(t, 2, "invalid confirmation code")
		})
	})
}
