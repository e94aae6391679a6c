package account_test

import (
	"bytes"
	"encoding/base32"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// tfAccount is a user with two-factor on: its secret and the recovery
// codes enabling handed out.
type tfAccount struct {
	*user
	Secret string
	Codes  []string
}

// tfCode returns the TOTP code of sec for the step offset steps away from
// the service clock's.
func tfCode(t *testing.T, e *env, sec string, offset int64) string {
	t.Helper()
	c, err := secret.TOTPCode(sec, secret.TOTPStep(e.clock.Now())+offset, secret.TOTPDigits)
	if err != nil {
		t.Fatalf("totp code: %v", err)
	}
	e.secret(c)
	return c
}

// tfSetup begins a setup for u and returns the pending secret.
func tfSetup(t *testing.T, e *env, u *user) string {
	t.Helper()
	s, err := e.svc.BeginTwoFactorSetup(e.ctx, e.actor(u.Token))
	if err != nil {
		t.Fatalf("begin setup for %s: %v", u.Username, err)
	}
	e.secret(s.Secret)
	return s.Secret
}

// tfEnableUser turns two-factor on for u with a code of the current step.
func tfEnableUser(t *testing.T, e *env, u *user) *tfAccount {
	t.Helper()
	sec := tfSetup(t, e, u)
	res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(u.Token), account.TwoFactorInput{Code: tfCode(t, e, sec, 0), Password: u.Password})
	if err != nil {
		t.Fatalf("enable two-factor for %s: %v", u.Username, err)
	}
	e.secret(res.RecoveryCodes...)
	return &tfAccount{user: u, Secret: sec, Codes: res.RecoveryCodes}
}

// tfEnabled registers name and turns two-factor on for it.
func tfEnabled(t *testing.T, e *env, name string) *tfAccount {
	t.Helper()
	return tfEnableUser(t, e, e.register(name))
}

// tfNextCode returns a code the service accepts next for a: the earliest
// step of the window after the last one used, moving the clock on a step
// when the window has none left.
func tfNextCode(t *testing.T, e *env, a *tfAccount) string {
	t.Helper()
	for {
		last := e.reload(a.User).TOTPLastStep
		cur := secret.TOTPStep(e.clock.Now())
		for off := int64(-1); off <= 1; off++ {
			if cur+off > last {
				return tfCode(t, e, a.Secret, off)
			}
		}
		e.clock.Advance(secret.TOTPPeriod)
	}
}

// tfWrongCode returns a six-digit code of no step near the clock.
func tfWrongCode(t *testing.T, e *env, sec string) string {
	t.Helper()
	window := map[string]bool{}
	for off := int64(-1); off <= 1; off++ {
		window[tfCode(t, e, sec, off)] = true
	}
	for off := int64(100); ; off++ {
		if c := tfCode(t, e, sec, off); !window[c] {
			return c
		}
	}
}

// tfResetAttempts forgets u's attempt counter, so a test can make more
// failed checks than one budget allows.
func tfResetAttempts(t *testing.T, e *env, u *user) {
	t.Helper()
	if _, err := e.d.ExecContext(e.ctx, "DELETE FROM attempt_counters WHERE user_id = ?", u.ID); err != nil {
		t.Fatalf("reset attempts: %v", err)
	}
}

// tfCounter is a user's stored attempt counter.
type tfCounter struct {
	Failures     int        `bun:"failures"`
	Consecutive  int        `bun:"consecutive"`
	BlockedUntil *time.Time `bun:"blocked_until"`
}

func tfAttempts(t *testing.T, e *env, u *user) tfCounter {
	t.Helper()
	var rows []tfCounter
	if err := e.d.NewSelect().Table("attempt_counters").Column("failures", "consecutive", "blocked_until").
		Where("user_id = ?", u.ID).Scan(e.ctx, &rows); err != nil {
		t.Fatalf("read attempts: %v", err)
	}
	if len(rows) == 0 {
		return tfCounter{}
	}
	return rows[0]
}

// tfLoginToken signs u in with the password and returns the confirmation
// token the checkpoint needs.
func tfLoginToken(t *testing.T, e *env, u *user) string {
	t.Helper()
	res, err := e.login(account.LoginInput{User: u.Username, Password: u.Password})
	if err != nil {
		t.Fatalf("login %s: %v", u.Username, err)
	}
	if !res.TwoFactorRequired() || res.SessionToken != "" || res.Session != nil {
		t.Fatalf("login %s: %+v, want a confirmation token only", u.Username, res)
	}
	return res.ConfirmationToken
}

// tfCheckpoint completes a two-factor login.
func tfCheckpoint(e *env, tok, code string) (*account.LoginResult, error) {
	res, err := e.svc.LoginCheckpoint(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA},
		account.CheckpointInput{ConfirmationToken: tok, Code: code})
	if res != nil {
		e.secret(res.SessionToken)
	}
	return res, err
}

// tfInput is a two-factor confirmation.
func tfInput(code, password string) account.TwoFactorInput {
	return account.TwoFactorInput{Code: code, Password: password}
}

// tfWantRateLimited checks the refusal of a check the budget does not
// allow, secs seconds before it would.
func tfWantRateLimited(t *testing.T, err error, secs int) {
	t.Helper()
	me := wantErr(t, err, model.CodeRateLimited, fmt.Sprintf("too many attempts, retry in %ds", secs))
	if me.RetryAfter != time.Duration(secs)*time.Second {
		t.Errorf("RetryAfter = %v, want %ds", me.RetryAfter, secs)
	}
}

// tfWantCodeErr checks a refused code, which names the code field.
func tfWantCodeErr(t *testing.T, err error, msg string) {
	t.Helper()
	me := wantErr(t, err, model.CodeInvalid, msg)
	if me.Field != "code" {
		t.Errorf("field = %q, want code", me.Field)
	}
}

// tfWantInvalidPassword checks the refusal of a wrong current password.
func tfWantInvalidPassword(t *testing.T, err error) {
	t.Helper()
	me := wantErr(t, err, model.CodeInvalidPassword, "invalid password")
	if me.Field != "password" {
		t.Errorf("field = %q, want password", me.Field)
	}
}

// tfWantInvalidToken checks the refusal of a confirmation token.
func tfWantInvalidToken(t *testing.T, res *account.LoginResult, err error) {
	t.Helper()
	me := wantErr(t, err, model.CodeInvalid, "invalid confirmation token")
	if me.Field != "confirmation_token" {
		t.Errorf("field = %q, want confirmation_token", me.Field)
	}
	if res != nil {
		t.Errorf("result = %+v, want none", res)
	}
}

// tfState is everything a two-factor request may change.
type tfState struct {
	Enabled    bool
	Secret     string
	LastStep   int64
	Salt       string
	Codes      []string
	Activities int
	Sessions   int
	Tokens     int
	Email      string
	Hash       string
}

func tfSnapshot(t *testing.T, e *env, u *user) tfState {
	t.Helper()
	cur := e.reload(u.User)
	s := tfState{Enabled: cur.TOTPEnabled, LastStep: cur.TOTPLastStep, Salt: fmt.Sprintf("%x", cur.RecoverySalt),
		Activities: e.count("activities", "user_id = ?", u.ID), Sessions: e.sessionCount(u.User),
		Tokens: e.count("login_tokens", "user_id = ?", u.ID), Email: cur.Email, Hash: e.passwordHash(u.User)}
	if cur.TOTPSecret != nil {
		s.Secret = *cur.TOTPSecret
	}
	for _, d := range tfDigests(t, e, u) {
		s.Codes = append(s.Codes, fmt.Sprintf("%x", d))
	}
	return s
}

// tfUnchanged checks that u is as before shows it.
func tfUnchanged(t *testing.T, e *env, u *user, before tfState) {
	t.Helper()
	if after := tfSnapshot(t, e, u); !reflect.DeepEqual(after, before) {
		t.Errorf("a refused request changed the account:\n before %+v\n after  %+v", before, after)
	}
}

// tfDigests returns the stored recovery-code digests of u, in a stable order.
func tfDigests(t *testing.T, e *env, u *user) [][]byte {
	t.Helper()
	var rows []struct {
		Digest []byte `bun:"digest"`
	}
	if err := e.d.NewSelect().Table("recovery_codes").Column("digest").Where("user_id = ?", u.ID).
		OrderExpr("digest").Scan(e.ctx, &rows); err != nil {
		t.Fatalf("read recovery codes: %v", err)
	}
	ds := make([][]byte, len(rows))
	for i, r := range rows {
		ds[i] = r.Digest
	}
	return ds
}

// tfRecoveryCount is how many unused recovery codes u has.
func tfRecoveryCount(t *testing.T, e *env, u *user) int {
	t.Helper()
	n, err := e.svc.RecoveryCodesRemaining(e.ctx, u.User)
	if err != nil {
		t.Fatalf("recovery codes remaining: %v", err)
	}
	if c := e.count("recovery_codes", "user_id = ?", u.ID); c != n {
		t.Errorf("RecoveryCodesRemaining = %d, rows = %d", n, c)
	}
	return n
}

// tfWantCodes checks a freshly issued set of recovery codes: ten distinct
// codes of ten alphanumerics, stored as slow salted digests only.
func tfWantCodes(t *testing.T, e *env, u *user, codes []string) {
	t.Helper()
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 10 || !secret.IsAlphanumeric(c) {
			t.Errorf("recovery code %q: want 10 characters [A-Za-z0-9]", c)
		}
		if seen[c] {
			t.Errorf("recovery code %q repeated", c)
		}
		seen[c] = true
	}
	salt := e.reload(u.User).RecoverySalt
	if len(salt) < 16 {
		t.Fatalf("recovery salt of %d bytes", len(salt))
	}
	digests := tfDigests(t, e, u)
	if len(digests) != 10 {
		t.Fatalf("%d stored recovery codes, want 10", len(digests))
	}
	stored := map[string]bool{}
	for _, d := range digests {
		stored[string(d)] = true
	}
	for _, c := range codes {
		for _, d := range digests {
			if bytes.Contains(d, []byte(c)) {
				t.Errorf("a stored digest holds recovery code %q", c)
			}
		}
		if stored[string(secret.Digest(c))] {
			t.Errorf("recovery code %q is stored as its plain SHA-256", c)
		}
		k, err := sharedHasher(t).Derive(e.ctx, c, salt)
		if err != nil {
			t.Fatal(err)
		}
		if !stored[string(k)] {
			t.Errorf("recovery code %q: no stored digest is its salted argon2id key", c)
		}
	}
	// No code in clear anywhere in the user or code tables.
	for _, table := range []string{"users", "recovery_codes"} {
		var rows []map[string]any
		if err := e.d.NewSelect().Table(table).Scan(e.ctx, &rows); err != nil {
			t.Fatalf("read %s: %v", table, err)
		}
		for _, r := range rows {
			for col, v := range r {
				var s string
				switch v := v.(type) {
				case []byte:
					s = string(v)
				case nil:
					continue
				default:
					s = fmt.Sprint(v)
				}
				for _, c := range codes {
					if strings.Contains(s, c) {
						t.Errorf("%s.%s holds recovery code %q", table, col, c)
					}
				}
			}
		}
	}
}

// tfEvent checks that u has n events named event, the newest with data
// want, the client address and the API key keyID (nil: none).
func tfEvent(t *testing.T, e *env, u *user, event string, n int, want string, keyID *uuid.UUID) {
	t.Helper()
	acts := e.events(u.User, event)
	if len(acts) != n {
		t.Fatalf("%s events = %d, want %d", event, len(acts), n)
	}
	if n == 0 {
		return
	}
	assertData(t, acts[0], want)
	if acts[0].IP == nil || *acts[0].IP != clientIP.String() {
		t.Errorf("%s ip = %v, want %s", event, acts[0].IP, clientIP)
	}
	if !reflect.DeepEqual(acts[0].APIKeyID, keyID) {
		t.Errorf("%s api key = %v, want %v", event, acts[0].APIKeyID, keyID)
	}
}

func TestTwoFactorSetup(t *testing.T) {
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

		t.Run("SecondSetupReplacesPending", func(t *testing.T) {
			stale := e.actor(alice.Token) // read while the first secret is pending
			second := tfSetup(t, e, alice)
			if second == first {
				t.Fatal("a second setup returned the same secret")
			}
			if got := e.reload(alice.User).TOTPSecret; got == nil || *got != second {
				t.Errorf("pending secret = %v, want the second", got)
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

func TestTwoFactorDisable(t *testing.T) {
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

func TestTwoFactorRequirement(t *testing.T) {
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

// tfRace runs call n times at once and returns the errors.
func tfRace(n int, call func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// tfOneWinner checks that exactly one call succeeded and that every other
// was refused for one of the allowed reasons (a rate-limit refusal always
// allowed).
func tfOneWinner(t *testing.T, errs []error, allowed ...string) {
	t.Helper()
	ok := 0
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		me := asError(t, err)
		if me.Code == model.CodeRateLimited && strings.HasPrefix(me.Message, "too many attempts, retry in ") {
			continue
		}
		found := false
		for _, a := range allowed {
			found = found || me.Message == a
		}
		if !found || me.Code == model.CodeInternal {
			t.Errorf("call %d: %v, want one of %q or rate limited", i, err, allowed)
		}
	}
	if ok != 1 {
		t.Errorf("%d calls succeeded, want exactly 1", ok)
	}
}

func TestTwoFactorConcurrent(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		const n = 20

		t.Run("CheckpointSameRecoveryCode", func(t *testing.T) {
			a := tfEnabled(t, e, "tfracerec")
			toks := make([]string, n)
			for i := range toks {
				toks[i] = tfLoginToken(t, e, a.user)
			}
			sessions := e.sessionCount(a.User)
			successes := len(e.events(a.User, model.EventAuthSuccess))
			errs := tfRace(n, func(i int) error {
				_, err := tfCheckpoint(e, toks[i], a.Codes[0])
				return err
			})
			tfOneWinner(t, errs, "invalid recovery code")
			if got := e.sessionCount(a.User); got != sessions+1 {
				t.Errorf("sessions = %d, want %d: exactly one", got, sessions+1)
			}
			if got := len(e.events(a.User, model.EventAuthSuccess)); got != successes+1 {
				t.Errorf("auth:success events = %d, want %d", got, successes+1)
			}
			if got := tfRecoveryCount(t, e, a.user); got != 9 {
				t.Errorf("recovery codes = %d, want 9", got)
			}
			if got := e.count("login_tokens", "user_id = ?", a.ID); got != n-1 {
				t.Errorf("login tokens = %d, want %d: only the winner's used", got, n-1)
			}
		})

		t.Run("CheckpointSameTOTP", func(t *testing.T) {
			a := tfEnabled(t, e, "tfracetotp")
			toks := make([]string, n)
			for i := range toks {
				toks[i] = tfLoginToken(t, e, a.user)
			}
			code := tfNextCode(t, e, a)
			step, _ := secret.MatchTOTP(a.Secret, code, e.clock.Now())
			sessions := e.sessionCount(a.User)
			errs := tfRace(n, func(i int) error {
				_, err := tfCheckpoint(e, toks[i], code)
				return err
			})
			tfOneWinner(t, errs, "this code has already been used")
			if got := e.sessionCount(a.User); got != sessions+1 {
				t.Errorf("sessions = %d, want %d: exactly one", got, sessions+1)
			}
			if got := e.reload(a.User).TOTPLastStep; got != step {
				t.Errorf("last step = %d, want %d", got, step)
			}
		})

		t.Run("DisableSameTOTP", func(t *testing.T) {
			a := tfEnabled(t, e, "tfracedis")
			code := tfNextCode(t, e, a)
			actor := e.actor(a.Token)
			errs := tfRace(n, func(int) error {
				_, err := e.svc.DisableTwoFactor(e.ctx, actor, tfInput(code, a.Password))
				return err
			})
			tfOneWinner(t, errs, "this code has already been used", "two-factor authentication is not enabled")
			if u := e.reload(a.User); u.TOTPEnabled || u.TOTPSecret != nil {
				t.Errorf("after the race: enabled %v secret %v", u.TOTPEnabled, u.TOTPSecret)
			}
			if got := tfRecoveryCount(t, e, a.user); got != 0 {
				t.Errorf("recovery codes = %d, want 0", got)
			}
			if got := len(e.events(a.User, model.EventTwoFactorDisable)); got != 1 {
				t.Errorf("disable events = %d, want 1", got)
			}
		})

		t.Run("RegenerateSameRecoveryCode", func(t *testing.T) {
			a := tfEnabled(t, e, "tfraceregen")
			actor := e.actor(a.Token)
			var mu sync.Mutex
			var fresh []string
			errs := tfRace(n, func(int) error {
				res, err := e.svc.RegenerateRecoveryCodes(e.ctx, actor, tfInput(a.Codes[0], a.Password))
				if err == nil {
					e.secret(res.RecoveryCodes...)
					mu.Lock()
					fresh = res.RecoveryCodes
					mu.Unlock()
				}
				return err
			})
			tfOneWinner(t, errs, "invalid recovery code")
			if got := len(e.events(a.User, model.EventRecoveryCodesRegenerated)); got != 1 {
				t.Errorf("regenerate events = %d, want 1", got)
			}
			if fresh != nil {
				tfWantCodes(t, e, a.user, fresh)
			}
		})
	})
}
