package account_test

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
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
	CodeFailures int        `bun:"code_failures"`
	BlockedUntil *time.Time `bun:"blocked_until"`
}

func tfAttempts(t *testing.T, e *env, u *user) tfCounter {
	t.Helper()
	var rows []tfCounter
	if err := e.d.NewSelect().Table("attempt_counters").Column("failures", "consecutive", "code_failures", "blocked_until").
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
		e.secret(res.SessionToken, res.DeviceToken)
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
