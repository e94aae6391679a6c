package account_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// requestReset asks for a reset of email and fails the test on an error.
func (e *env) requestReset(email string) {
	e.t.Helper()
	if err := e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: email}); err != nil {
		e.t.Fatalf("request reset %q: %v", email, err)
	}
	e.svc.Wait()
}

// resetToken asks for a reset of u's address and returns the token of the
// link mailed to it.
func (e *env) resetToken(u *model.User) string {
	e.t.Helper()
	before := len(e.mailsOf(model.MailPasswordReset))
	e.requestReset(u.Email)
	ms := e.mailsOf(model.MailPasswordReset)
	if len(ms) != before+1 {
		e.t.Fatalf("%d reset mails after the request, want %d", len(ms), before+1)
	}
	return mailToken(e.t, ms[len(ms)-1], account.ResetPasswordPath)
}

// reset completes a reset.
func (e *env) reset(tok, password string, revokeKeys bool) (*account.ResetPasswordResult, error) {
	e.secret(password)
	return e.svc.ResetPassword(e.ctx, mailClient, account.ResetPasswordInput{Token: tok, NewPassword: password, RevokeAPIKeys: revokeKeys})
}

func TestPasswordResetFlow(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		e.register("bob")
		other := e.newSession(alice.User)
		key, _ := e.newAPIKey(alice.User, keyOpts{})
		e.setColumn(alice.User, "email_verified", false)

		// The address is matched case-insensitively; the mail goes to the
		// address as the account stores it.
		e.requestReset("ALICE@Example.com")
		m := e.lastMail(model.MailPasswordReset)
		if m.To != alice.Email {
			t.Errorf("mail to %q, want %q", m.To, alice.Email)
		}
		wantMailUser(t, m, alice.User)
		if m.Data.ExpiresIn != "20 minutes" || m.Data.Event != nil || m.Data.NewEmail != "" || m.Data.Detail != "" {
			t.Errorf("mail data %+v", m.Data)
		}
		tok := mailToken(t, m, "/auth/reset-password")

		// Stored as its first 16 characters and a digest, valid 20 minutes.
		var rows []struct {
			KeyStart string    `bun:"key_start"`
			Digest   []byte    `bun:"digest"`
			Created  time.Time `bun:"created"`
			Expires  time.Time `bun:"expires"`
		}
		if err := e.d.NewSelect().Table("password_reset_tokens").Column("key_start", "digest", "created", "expires").
			Where("user_id = ?", alice.ID).Scan(e.ctx, &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].KeyStart != tok[:16] || !bytes.Equal(rows[0].Digest, secret.Digest(tok)) ||
			!rows[0].Created.Equal(testStart) || !rows[0].Expires.Equal(testStart.Add(20*time.Minute)) {
			t.Fatalf("stored tokens %+v", rows)
		}
		acts := e.events(alice.User, model.EventPasswordResetRequested)
		if len(acts) != 1 || acts[0].IP == nil || *acts[0].IP != clientIP.String() || acts[0].APIKeyID != nil {
			t.Fatalf("email:password-reset events %+v", acts)
		}
		assertData(t, acts[0], `{"user_agent":"account-test/1.0"}`)

		newPw := "a brand new password"
		res, err := e.reset(tok, newPw, false)
		if err != nil {
			t.Fatal(err)
		}
		if res.RevokedSessions != 2 || res.RevokedAPIKeys != 0 {
			t.Errorf("result %+v, want 2 sessions and no key revoked", res)
		}
		// Signed out everywhere; the API key stays; the new password
		// works, the old one not.
		if n := e.sessionCount(alice.User); n != 0 {
			t.Errorf("%d sessions left", n)
		}
		for _, tok := range []string{alice.Token, other} {
			if _, err := e.svc.Authenticate(e.ctx, cookie(tok)); model.ErrorCode(err) != model.CodeUnauthenticated {
				t.Errorf("a session survived the reset: %v", err)
			}
		}
		e.keyActor(key)
		if _, err := e.login(account.LoginInput{User: "alice", Password: alice.Password}); model.ErrorCode(err) != model.CodeInvalidCredentials {
			t.Errorf("old password: %v", err)
		}
		e.mustLogin(t, "alice", newPw)
		u := e.reload(alice.User)
		if !u.HasPassword() || !u.EmailVerified {
			t.Errorf("after the reset: has password %v, verified %v", u.HasPassword(), u.EmailVerified)
		}
		acts = e.events(alice.User, model.EventPasswordReset)
		if len(acts) != 1 || acts[0].IP == nil || *acts[0].IP != clientIP.String() {
			t.Fatalf("auth:reset-password events %+v", acts)
		}
		assertData(t, acts[0], `{"user_agent":"account-test/1.0"}`)
		// The notice of the new password.
		n := e.lastMail(model.MailNoticePasswordChanged)
		if n.To != alice.Email {
			t.Errorf("notice to %q", n.To)
		}
		wantNoticeEvent(t, e, n, false)

		// Single use.
		_, err = e.reset(tok, "yet another password", false)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		if e.count("password_reset_tokens", "") != 0 {
			t.Error("a token is left")
		}
	})
}

// A request for an address no account has gets the same answer and does
// the same work before it: the same statements, the same writes (the rate
// limit counters). Only what follows the answer differs: nothing at all.
func TestPasswordResetUnknownAddress(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		e.register("alice")
		var held []func()
		e.svc.Background = func(run func()) { held = append(held, run) }

		cost := func(email string) (queries, writes int64) {
			q, w := d.Queries(), d.Writes()
			if err := e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: email}); err != nil {
				t.Fatalf("request %q: %v", email, err)
			}
			return d.Queries() - q, d.Writes() - w
		}
		for i := range 3 {
			kq, kw := cost("alice@example.com")
			uq, uw := cost(fmt.Sprintf("nobody%d@example.com", i))
			if kq != uq || kw != uw {
				t.Errorf("request %d: known address %d statements (%d writes), unknown %d (%d)", i, kq, kw, uq, uw)
			}
		}
		if len(held) != 3 {
			t.Fatalf("%d background runs held, want one per known request", len(held))
		}
		for _, run := range held {
			run()
		}
		e.svc.Wait()
		// Of the three requests within 20 minutes, one mail.
		e.wantMails(model.MailPasswordReset, 1)
		if n := e.count("password_reset_tokens", ""); n != 1 {
			t.Errorf("%d tokens, want 1", n)
		}
		for _, m := range e.mails() {
			if strings.HasPrefix(m.To, "nobody") {
				t.Errorf("a mail to an unknown address: %+v", m)
			}
		}
	})
}

func TestPasswordResetQuietPeriod(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		first := e.resetToken(alice.User)
		e.clock.Advance(19*time.Minute + 59*time.Second)
		e.requestReset("alice@example.com")
		e.wantMails(model.MailPasswordReset, 1)
		if n := len(e.events(alice.User, model.EventPasswordResetRequested)); n != 1 {
			t.Errorf("%d email:password-reset events, want 1", n)
		}
		// Twenty minutes on, the first token has expired and a new one is
		// mailed.
		e.clock.Advance(time.Second)
		second := e.resetToken(alice.User)
		if second == first {
			t.Fatal("the same token twice")
		}
		_, err := e.reset(first, "a brand new password", false)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		if _, err := e.reset(second, "a brand new password", false); err != nil {
			t.Fatal(err)
		}
		// A used token does not count: the next request mails again.
		e.requestReset("alice@example.com")
		e.wantMails(model.MailPasswordReset, 3)
	})
}

func TestPasswordResetBadTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		tok := e.resetToken(alice.User)
		hash := e.passwordHash(alice.User)
		pw := "a brand new password"

		for name, bad := range map[string]string{
			"unknown":        secret.RandomString(96),
			"forged suffix":  tok[:16] + secret.RandomString(80),
			"one changed":    tok[:95] + string(rune('a'+(tok[95]-'a'+1)%26)),
			"not alnum":      tok[:95] + "-",
			"non-ASCII":      tok[:95] + "é",
			"lower-cased":    strings.ToLower(tok),
			"session token":  alice.Token + alice.Token,
			"whitespace pad": " " + tok[:95],
		} {
			if bad == tok {
				continue // lower-casing a token without capitals
			}
			_, err := e.reset(bad, pw, false)
			wantErr(t, err, model.CodeInvalid, "invalid or expired token")
			if e.passwordHash(alice.User) != hash {
				t.Fatalf("%s: the password changed", name)
			}
		}

		// Length: exactly 96, the panel's messages.
		_, err := e.reset(tok[:95], pw, false)
		wantFields(t, err, fe("token", "length is lower than 96"))
		_, err = e.reset(tok+"a", pw, false)
		wantFields(t, err, fe("token", "length is greater than 96"))
		_, err = e.reset("", "short", false)
		wantFields(t, err, fe("token", "length is lower than 96"), fe("new_password", "length is lower than 8"))
		_, err = e.reset(tok, strings.Repeat("p", 513), false)
		wantFields(t, err, fe("new_password", "length is greater than 512"))

		// A confirmation token of an address is not a reset token.
		e.svc = e.withConfig(withVerifyChanges(mailConfig())).svc
		e.changeEmail(alice, "alice.new@example.com")
		confirm := mailToken(t, e.lastMail(model.MailEmailChangeConfirm), account.ConfirmEmailPath)
		_, err = e.reset(confirm, pw, false)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")

		// Expired at 20 minutes.
		e.clock.Advance(20 * time.Minute)
		_, err = e.reset(tok, pw, false)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		if e.passwordHash(alice.User) != hash {
			t.Fatal("the password changed")
		}
		// None of it mailed anything or signed anyone out.
		e.wantMails(model.MailNoticePasswordChanged, 0)
		if e.sessionCount(alice.User) != 1 || len(e.events(alice.User, model.EventPasswordReset)) != 0 {
			t.Error("a refused reset left a trace")
		}
	})
}

// Two resets with one token at once: exactly one succeeds, on both
// engines.
func TestPasswordResetConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		for round := range 3 {
			e.clock.Advance(21 * time.Minute)
			tok := e.resetToken(alice.User)
			const n = 8
			var wg sync.WaitGroup
			errs := make([]error, n)
			start := make(chan struct{})
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					pw := fmt.Sprintf("password %d of round %d", i, round)
					e.secret(pw)
					_, errs[i] = e.svc.ResetPassword(context.Background(), mailClient,
						account.ResetPasswordInput{Token: tok, NewPassword: pw})
				}()
			}
			close(start)
			wg.Wait()
			won := -1
			for i, err := range errs {
				switch {
				case err == nil && won >= 0:
					t.Fatalf("round %d: resets %d and %d both succeeded", round, won, i)
				case err == nil:
					won = i
				default:
					wantErr(t, err, model.CodeInvalid, "invalid or expired token")
				}
			}
			if won < 0 {
				t.Fatalf("round %d: no reset succeeded", round)
			}
			e.mustLogin(t, "alice", fmt.Sprintf("password %d of round %d", won, round))
		}
		if n := len(e.events(alice.User, model.EventPasswordReset)); n != 3 {
			t.Errorf("%d auth:reset-password events, want 3", n)
		}
	})
}

func TestPasswordResetRevokesAPIKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		e.newAPIKey(alice.User, keyOpts{})
		e.newAPIKey(alice.User, keyOpts{})
		bobKey, _ := e.newAPIKey(bob.User, keyOpts{})
		res, err := e.reset(e.resetToken(alice.User), "a brand new password", true)
		if err != nil {
			t.Fatal(err)
		}
		if res.RevokedAPIKeys != 2 || res.RevokedSessions != 1 {
			t.Errorf("result %+v, want 2 keys and 1 session", res)
		}
		if n := e.count("api_keys", "user_id = ?", alice.ID); n != 0 {
			t.Errorf("%d keys left", n)
		}
		e.keyActor(bobKey)
		e.actor(bob.Token)
	})
}

func TestPasswordResetFrozenAccount(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		tok := e.resetToken(alice.User)
		hash := e.passwordHash(alice.User)
		e.setFlags(alice.User, true, false)
		_, err := e.reset(tok, "a brand new password", false)
		wantErr(t, err, model.CodeConflict, "account is frozen")
		if e.passwordHash(alice.User) != hash || e.sessionCount(alice.User) != 1 {
			t.Fatal("a frozen account changed")
		}
		e.wantMails(model.MailNoticePasswordChanged, 0)
		// The token was not spent: it works once the account is unfrozen.
		e.setFlags(alice.User, false, false)
		if _, err := e.reset(tok, "a brand new password", false); err != nil {
			t.Fatal(err)
		}
		// A suspended account may reset, as in the panel.
		e.setFlags(alice.User, false, true)
		e.clock.Advance(21 * time.Minute)
		if _, err := e.reset(e.resetToken(alice.User), "another new password", false); err != nil {
			t.Fatal(err)
		}
	})
}

// Two-factor is untouched: after a reset the sign-in still stops at the
// checkpoint.
func TestPasswordResetKeepsTwoFactor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		e.setColumn(alice.User, "totp_enabled", true)
		e.setColumn(alice.User, "totp_secret", "JBSWY3DPEHPK3PXP")
		pending, err := e.login(account.LoginInput{User: "alice", Password: alice.Password})
		if err != nil || !pending.TwoFactorRequired() {
			t.Fatalf("login: %+v %v", pending, err)
		}
		newPw := "a brand new password"
		if _, err := e.reset(e.resetToken(alice.User), newPw, false); err != nil {
			t.Fatal(err)
		}
		u := e.reload(alice.User)
		if !u.TOTPEnabled || u.TOTPSecret == nil || *u.TOTPSecret != "JBSWY3DPEHPK3PXP" {
			t.Fatalf("two-factor after the reset: %+v", u)
		}
		// The confirmation token of the old password is gone.
		if n := e.count("login_tokens", "user_id = ?", alice.ID); n != 0 {
			t.Errorf("%d confirmation tokens left", n)
		}
		res, err := e.login(account.LoginInput{User: "alice", Password: newPw})
		if err != nil || !res.TwoFactorRequired() || res.SessionToken != "" {
			t.Fatalf("login after the reset: %+v %v", res, err)
		}
	})
}

// The request's validation is the panel's, in its order and words.
func TestPasswordResetRequestValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		req := func(email string) error {
			return e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: email})
		}
		domain := strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 58) + ".com"
		long := strings.Repeat("a", 64) + "@" + domain // 255 bytes
		if err := req(long); err != nil {
			t.Errorf("255 bytes: %v", err)
		}
		for in, want := range map[string][]model.FieldError{
			"":                   {fe("email", "not a valid email: value is empty")},
			"alice":              {fe("email", "not a valid email: value is missing `@`")},
			"al ice@example.com": {fe("email", "not a valid email: user contains unexpected characters")},
			" alice@example.com": {fe("email", "not a valid email: user contains unexpected characters")},
			"alice@example.com ": {fe("email", "not a valid email: domain contains unexpected characters")},
			"alice@example.com\r\nBcc: x@evil.example": {fe("email", "not a valid email: domain contains unexpected characters")},
			"alice\r\n@example.com":                    {fe("email", "not a valid email: user contains unexpected characters")},
			"alice@exam_ple.com":                       {fe("email", "not a valid email: domain contains unexpected characters")},
			"alice@":                                   {fe("email", "not a valid email: domain contains unexpected characters")},
			strings.Repeat("a", 65) + "@example.com":   {fe("email", "not a valid email: user length exceeded maximum of 64 characters")},
			"a@" + strings.Repeat("b", 300): {fe("email", "not a valid email: domain length exceeded maximum of 255 characters"),
				fe("email", "length is greater than 255")},
			long + "d":               {fe("email", "length is greater than 255")},
			strings.Repeat("x", 300): {fe("email", "not a valid email: value is missing `@`"), fe("email", "length is greater than 255")},
		} {
			err := req(in)
			if err == nil {
				t.Errorf("%q accepted", in)
				continue
			}
			wantFields(t, err, want...)
		}
		for _, ok := range []string{"a@b", "first.last+tag@example.co.uk", "x@[192.0.2.1]", "x@[2001:db8::1]", "zoe@bücher.de", "O'Brien@example.com"} {
			if err := req(ok); err != nil {
				t.Errorf("%q refused: %v", ok, err)
			}
		}
		e.svc.Wait()
	})
}

// The per-address limit: the per-IP limit's numbers, on the address
// case-folded, whether or not it is an account's.
func TestPasswordResetAddressLimit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := mailConfig()
		cfg.ForgotLimit = account.Limit{Hits: 3, Window: time.Hour}
		e := newEnv(t, d, cfg)
		e.register("alice")
		req := func(email string) error {
			return e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: email})
		}
		for _, email := range []string{"alice@example.com", "ALICE@example.com", "Alice@Example.COM"} {
			if err := req(email); err != nil {
				t.Fatalf("%q: %v", email, err)
			}
		}
		err := req("aLiCe@eXample.com")
		me := wantErr(t, err, model.CodeRateLimited, "you are ratelimited, retry in 3600s")
		if me.RetryAfter != time.Hour {
			t.Errorf("retry after %s", me.RetryAfter)
		}
		// Other addresses, known or not, have their own counter.
		for range 3 {
			if err := req("nobody@example.com"); err != nil {
				t.Fatal(err)
			}
		}
		wantErr(t, req("NOBODY@example.com"), model.CodeRateLimited, "you are ratelimited, retry in 3600s")
		// The window ends an hour after its first request.
		e.clock.Advance(time.Hour)
		if err := req("alice@example.com"); err != nil {
			t.Fatal(err)
		}
		e.svc.Wait()
		// The counters hold no address.
		var keys []string
		if err := e.d.NewSelect().Table("rate_limits").Column("key").Scan(e.ctx, &keys); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if strings.Contains(strings.ToLower(k), "alice") || strings.Contains(strings.ToLower(k), "nobody") {
				t.Errorf("rate limit key %q holds the address", k)
			}
		}
	})
}

// The per-IP limit is counted after validation, through LimitIP: an
// invalid request is answered as such and not counted.
func TestPasswordResetIPLimitAfterValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		counted := map[string]int{}
		var mu sync.Mutex
		e.svc.LimitIP = func(_ context.Context, rule string) error {
			mu.Lock()
			defer mu.Unlock()
			counted[rule]++
			if counted[rule] > 2 {
				return &model.Error{Code: model.CodeRateLimited, Message: "you are ratelimited, retry in 1s", RetryAfter: time.Second}
			}
			return nil
		}
		forgot := func(email string) error {
			return e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: email})
		}
		reset := func(tok string) error {
			_, err := e.svc.ResetPassword(e.ctx, mailClient, account.ResetPasswordInput{Token: tok, NewPassword: "a brand new password"})
			return err
		}
		for range 5 {
			wantFields(t, forgot("bad"), fe("email", "not a valid email: value is missing `@`"))
			wantFields(t, reset("short"), fe("token", "length is lower than 96"))
		}
		if counted[account.RateForgot] != 0 || counted[account.RateReset] != 0 {
			t.Fatalf("invalid requests were counted: %v", counted)
		}
		for range 2 {
			if err := forgot("nobody@example.com"); err != nil {
				t.Fatal(err)
			}
			wantErr(t, reset(secret.RandomString(96)), model.CodeInvalid, "invalid or expired token")
		}
		wantErr(t, forgot("nobody@example.com"), model.CodeRateLimited, "you are ratelimited, retry in 1s")
		wantErr(t, reset(secret.RandomString(96)), model.CodeRateLimited, "you are ratelimited, retry in 1s")
		e.svc.Wait()
	})
}

// An account deleted between the request and its mail gets none, and the
// failure stays in the background.
func TestPasswordResetAccountGoneMeanwhile(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		e.register("alice")
		var held []func()
		e.svc.Background = func(run func()) { held = append(held, run) }
		if err := e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: "alice@example.com"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.DeleteUser(e.ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		for _, run := range held {
			run()
		}
		e.svc.Wait()
		if ms := e.mails(); len(ms) != 0 {
			t.Fatalf("mails %+v", ms)
		}
	})
}
