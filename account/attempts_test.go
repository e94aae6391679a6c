package account_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// tfUpdateEmail confirms an e-mail change of u with password: the plain
// password check of the attempt budget.
func tfUpdateEmail(e *env, u *user, email, password string) error {
	a, err := e.svc.Authenticate(e.ctx, cookie(u.Token))
	if err != nil {
		return err
	}
	_, err = e.svc.UpdateEmail(e.ctx, a.Actor, account.UpdateEmailInput{Email: email, Password: password})
	return err
}

// tfWrong returns (and remembers) a wrong password for u.
func tfWrong(e *env, u *user) string {
	w := "wrong-" + u.Password
	e.secret(w)
	return w
}

// tfStoredToken stores a confirmation token for u directly, as a login
// earlier would have, and returns it.
func tfStoredToken(t *testing.T, e *env, u *user) string {
	t.Helper()
	tok := secret.RandomString(48)
	e.secret(tok)
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	if err := e.store.CreateLoginToken(e.ctx, &model.LoginToken{ID: uuid.New(), UserID: u.ID, KeyStart: tok[:16],
		Digest: secret.Digest(tok), Expires: now.Add(5 * time.Minute), Created: now}); err != nil {
		t.Fatalf("store login token: %v", err)
	}
	return tok
}

// Five failed checks spend the budget; every check, right or wrong, is
// then refused until the window ends.
func TestAttemptsBudget(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		u := e.register("tfbudget")
		other := e.register("tfbudgetother")
		wrong := tfWrong(e, u)

		for i := range 5 {
			err := tfUpdateEmail(e, u, "tfbudget.new@example.com", wrong)
			tfWantInvalidPassword(t, err)
			if c := tfAttempts(t, e, u); c.Failures != i+1 {
				t.Errorf("after %d failures: counter %+v", i+1, c)
			}
		}
		before := tfSnapshot(t, e, u)
		tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbudget.new@example.com", u.Password), 300)
		tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbudget.new@example.com", wrong), 300)
		_, err := e.svc.ChangePassword(e.ctx, e.actor(u.Token), account.ChangePasswordInput{Password: u.Password, NewPassword: "tf-budget-new-password"})
		tfWantRateLimited(t, err, 300)
		res, err := e.login(account.LoginInput{User: "tfbudget", Password: u.Password})
		tfWantRateLimited(t, err, 300)
		if res != nil {
			t.Errorf("login result %+v", res)
		}
		_, err = e.login(account.LoginInput{User: "tfbudget@example.com", Password: wrong})
		tfWantRateLimited(t, err, 300)
		tfUnchanged(t, e, u, before)
		if c := tfAttempts(t, e, u); c.Failures != 5 {
			t.Errorf("refused checks were charged: %+v", c)
		}

		t.Run("OtherAccountsUnaffected", func(t *testing.T) {
			e.mustLogin(t, "tfbudgetother", other.Password)
			if err := tfUpdateEmail(e, other, "tfbudgetother.new@example.com", other.Password); err != nil {
				t.Fatalf("update email of another account: %v", err)
			}
		})

		t.Run("RetryAfterCountsDown", func(t *testing.T) {
			e.clock.Advance(4*time.Minute + 30*time.Second + 500*time.Millisecond)
			tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbudget.new@example.com", u.Password), 30)
			e.clock.Advance(29*time.Second + 500*time.Millisecond - time.Microsecond)
			tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbudget.new@example.com", u.Password), 1)
			tfUnchanged(t, e, u, before)
		})

		t.Run("WindowEnds", func(t *testing.T) {
			e.clock.Advance(time.Microsecond)
			if err := tfUpdateEmail(e, u, "tfbudget.new@example.com", u.Password); err != nil {
				t.Fatalf("update email after the window: %v", err)
			}
			if got := e.reload(u.User).Email; got != "tfbudget.new@example.com" {
				t.Errorf("email = %q", got)
			}
			e.mustLogin(t, "tfbudget", u.Password)
			// A new window: five failures again before a refusal.
			for range 5 {
				tfWantInvalidPassword(t, tfUpdateEmail(e, u, "tfbudget.other@example.com", wrong))
			}
			tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbudget.other@example.com", u.Password), 300)
		})
	})
}

// Password, TOTP and recovery-code failures of every flow draw on one
// budget.
func TestAttemptsSharedBudget(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfshared")
		tfResetAttempts(t, e, a.user)
		tok := tfLoginToken(t, e, a.user)
		wrong := tfWrong(e, a.user)

		tfWantInvalidPassword(t, tfUpdateEmail(e, a.user, "tfshared.new@example.com", wrong))
		_, err := e.svc.ChangePassword(e.ctx, e.actor(a.Token), account.ChangePasswordInput{Password: wrong, NewPassword: "tf-shared-new-password"})
		tfWantInvalidPassword(t, err)
		_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(tfWrongCode(t, e, a.Secret), a.Password))
		tfWantCodeErr(t, err, "invalid confirmation code")
		_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(secret.RandomString(10), a.Password))
		tfWantCodeErr(t, err, "invalid recovery code")
		// The fifth failure is still evaluated.
		_, err = tfCheckpoint(e, tok, tfWrongCode(t, e, a.Secret))
		tfWantCodeErr(t, err, "invalid confirmation code")

		before := tfSnapshot(t, e, a.user)
		code := tfNextCode(t, e, a)
		res, err := tfCheckpoint(e, tok, code)
		tfWantRateLimited(t, err, 300)
		if res != nil {
			t.Errorf("checkpoint result %+v", res)
		}
		_, err = tfCheckpoint(e, tok, a.Codes[0])
		tfWantRateLimited(t, err, 300)
		_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(code, a.Password))
		tfWantRateLimited(t, err, 300)
		_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(a.Codes[0], a.Password))
		tfWantRateLimited(t, err, 300)
		_, err = e.login(account.LoginInput{User: "tfshared", Password: a.Password})
		tfWantRateLimited(t, err, 300)
		tfWantRateLimited(t, tfUpdateEmail(e, a.user, "tfshared.new@example.com", a.Password), 300)
		tfUnchanged(t, e, a.user, before)

		// A pending setup's enable shares it too.
		p := e.register("tfsharedp")
		psec := tfSetup(t, e, p)
		for range 5 {
			_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(p.Token), tfInput(tfWrongCode(t, e, psec), p.Password))
			tfWantCodeErr(t, err, "invalid confirmation code")
		}
		pbefore := tfSnapshot(t, e, p)
		_, err = e.svc.EnableTwoFactor(e.ctx, e.actor(p.Token), tfInput(tfCode(t, e, psec, 0), p.Password))
		tfWantRateLimited(t, err, 300)
		tfUnchanged(t, e, p, pbefore)

		// When the window ends, every check works again.
		e.clock.Advance(5 * time.Minute)
		res, err = tfCheckpoint(e, tfLoginToken(t, e, a.user), tfNextCode(t, e, a))
		if err != nil {
			t.Fatalf("checkpoint after the window: %v", err)
		}
		e.actor(res.SessionToken)
		pres, err := e.svc.EnableTwoFactor(e.ctx, e.actor(p.Token), tfInput(tfCode(t, e, psec, 0), p.Password))
		if err != nil {
			t.Fatalf("enable after the window: %v", err)
		}
		e.secret(pres.RecoveryCodes...)
	})
}

// Successful checks are refunded: they never use the budget up.
func TestAttemptsSuccessRefunds(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		u := e.register("tfrefund")
		wrong := tfWrong(e, u)
		for range 4 {
			tfWantInvalidPassword(t, tfUpdateEmail(e, u, "tfrefund.x@example.com", wrong))
		}
		for i := range 3 {
			if err := tfUpdateEmail(e, u, fmt.Sprintf("tfrefund.%d@example.com", i), u.Password); err != nil {
				t.Fatalf("success %d after 4 failures: %v", i, err)
			}
		}
		e.mustLogin(t, "tfrefund", u.Password)
		// The fifth failure is evaluated, not refused ...
		tfWantInvalidPassword(t, tfUpdateEmail(e, u, "tfrefund.x@example.com", wrong))
		// ... and spends the budget.
		tfWantRateLimited(t, tfUpdateEmail(e, u, "tfrefund.x@example.com", u.Password), 300)
		if got := e.reload(u.User).Email; got != "tfrefund.2@example.com" {
			t.Errorf("email = %q", got)
		}
	})
}

// Each budget spent without a success in between blocks twice as long as
// the one before, from the start of its window; a sign-in resets that.
func TestAttemptsBackoff(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		u := e.register("tfbackoff")
		wrong := tfWrong(e, u)
		spend := func(t *testing.T, block time.Duration) {
			t.Helper()
			for range 5 {
				tfWantInvalidPassword(t, tfUpdateEmail(e, u, "tfbackoff.x@example.com", wrong))
			}
			tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbackoff.x@example.com", u.Password), int(block/time.Second))
		}
		spend(t, 5*time.Minute)
		e.clock.Advance(5 * time.Minute)
		spend(t, 10*time.Minute)
		e.clock.Advance(5 * time.Minute)
		tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbackoff.x@example.com", u.Password), 300)
		e.clock.Advance(5 * time.Minute)
		spend(t, 20*time.Minute)
		e.clock.Advance(20*time.Minute - time.Second)
		tfWantRateLimited(t, tfUpdateEmail(e, u, "tfbackoff.x@example.com", u.Password), 1)
		e.clock.Advance(time.Second)
		// A right password confirming a change is refunded but does not
		// end the run: the next budget still blocks twice as long.
		if err := tfUpdateEmail(e, u, "tfbackoff.ok@example.com", u.Password); err != nil {
			t.Fatalf("update email after the block: %v", err)
		}
		e.clock.Advance(5 * time.Minute)
		spend(t, 40*time.Minute)
		e.clock.Advance(40 * time.Minute)
		// A sign-in ends the run: the next budget blocks five minutes again.
		e.mustLogin(t, "tfbackoff", u.Password)
		e.clock.Advance(5 * time.Minute)
		spend(t, 5*time.Minute)
	})
}

// Code failures have a limit of their own that a password sign-in does
// not end: at 100 in a row TOTP codes are refused with no wait to wait
// out; a recovery code still works and ends the run, as does the
// operator's disable-2fa.
func TestAttemptsCodeLimit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfcodelimit")
		tfResetAttempts(t, e, a.user)

		// Wrong codes, then a password sign-in: the code run goes on.
		tok := tfLoginToken(t, e, a.user)
		for range 3 {
			_, err := tfCheckpoint(e, tok, tfWrongCode(t, e, a.Secret))
			tfWantCodeErr(t, err, "invalid confirmation code")
		}
		tok = tfLoginToken(t, e, a.user)
		if c := tfAttempts(t, e, a.user); c.CodeFailures != 3 || c.Consecutive != 0 {
			t.Fatalf("counter %+v after a sign-in, want 3 code failures and no run", c)
		}

		// The hundredth failure is still evaluated; then TOTP is refused,
		// with no wait, whatever the window and whatever sign-in.
		tfSetCodeFailures(t, e, a.user, 99)
		_, err := tfCheckpoint(e, tok, tfWrongCode(t, e, a.Secret))
		tfWantCodeErr(t, err, "invalid confirmation code")
		before := tfSnapshot(t, e, a.user)
		res, err := tfCheckpoint(e, tok, tfNextCode(t, e, a))
		tfWantCodesLocked(t, err)
		if res != nil {
			t.Errorf("checkpoint result %+v", res)
		}
		tfUnchanged(t, e, a.user, before)
		e.clock.Advance(48 * time.Hour)
		tok = tfLoginToken(t, e, a.user)
		before = tfSnapshot(t, e, a.user)
		_, err = tfCheckpoint(e, tok, tfNextCode(t, e, a))
		tfWantCodesLocked(t, err)
		_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(tfNextCode(t, e, a), a.Password))
		tfWantCodesLocked(t, err)
		tfUnchanged(t, e, a.user, before)
		if c := tfAttempts(t, e, a.user); c.CodeFailures != 100 {
			t.Errorf("counter %+v: refused codes were charged", c)
		}

		// Recovery codes are still checked, and a right one ends the run.
		_, err = tfCheckpoint(e, tok, secret.RandomString(10))
		tfWantCodeErr(t, err, "invalid recovery code")
		res, err = tfCheckpoint(e, tok, a.Codes[0])
		if err != nil {
			t.Fatalf("checkpoint with a recovery code: %v", err)
		}
		e.actor(res.SessionToken)
		if c := tfAttempts(t, e, a.user); c.CodeFailures != 0 || c.Consecutive != 0 {
			t.Errorf("counter %+v after a recovery code, want the runs ended", c)
		}
		res, err = tfCheckpoint(e, tfLoginToken(t, e, a.user), tfNextCode(t, e, a))
		if err != nil {
			t.Fatalf("TOTP after the recovery code: %v", err)
		}
		e.actor(res.SessionToken)

		// The operator's disable-2fa ends the run too, so a new setup is
		// not refused by the old factor's failures.
		tfSetCodeFailures(t, e, a.user, 120)
		if _, err := e.svc.DisableTwoFactorFor(e.ctx, "tfcodelimit"); err != nil {
			t.Fatalf("disable-2fa: %v", err)
		}
		if c := tfAttempts(t, e, a.user); c.CodeFailures != 0 {
			t.Errorf("counter %+v after disable-2fa", c)
		}
	})
}

// A refusal tells the real wait: spent budgets in a row (each refused
// check billed as a failure) block twice as long each time, up to a day,
// and the announced wait is the block's remaining time.
func TestAttemptsRefusalTellsTheWait(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfwait")
		tfResetAttempts(t, e, a.user)
		wrong := tfWrong(e, a.user)
		block := 5 * time.Minute
		for round := 1; round <= 10; round++ {
			if err := e.svc.ChargeRefusedChecks(e.ctx, e.actor(a.Token), 50); err != nil {
				t.Fatalf("round %d: charge: %v", round, err)
			}
			if c := tfAttempts(t, e, a.user); c.Failures != 5 || c.Consecutive != 5*round || c.CodeFailures != 5*round {
				t.Fatalf("round %d: counter %+v, want 5 failures, %d in a row", round, c, 5*round)
			}
			tfWantRateLimited(t, tfUpdateEmail(e, a.user, "tfwait.x@example.com", wrong), int(block/time.Second))
			e.clock.Advance(block - time.Minute)
			tfWantRateLimited(t, tfUpdateEmail(e, a.user, "tfwait.x@example.com", wrong), 60)
			e.clock.Advance(time.Minute)
			block = min(2*block, 24*time.Hour)
		}
		// The last block is over: the checks it refused run again.
		tfWantInvalidPassword(t, tfUpdateEmail(e, a.user, "tfwait.x@example.com", wrong))
		res, err := tfCheckpoint(e, tfStoredToken(t, e, a.user), tfNextCode(t, e, a))
		if err != nil {
			t.Fatalf("checkpoint after the block: %v", err)
		}
		e.actor(res.SessionToken)
	})
}

// tfSetCodeFailures sets u's stored run of code failures.
func tfSetCodeFailures(t *testing.T, e *env, u *user, n int) {
	t.Helper()
	if _, err := e.d.ExecContext(e.ctx, "UPDATE attempt_counters SET code_failures = ? WHERE user_id = ?", n, u.ID); err != nil {
		t.Fatalf("set code failures: %v", err)
	}
}

// tfWantCodesLocked checks the refusal of a TOTP code past the limit:
// its own message and no wait.
func tfWantCodesLocked(t *testing.T, err error) {
	t.Helper()
	me := wantErr(t, err, model.CodeRateLimited, "too many failed codes, use a recovery code")
	if me.RetryAfter != 0 || !me.NoWait {
		t.Errorf("RetryAfter = %v, NoWait %v, want no wait", me.RetryAfter, me.NoWait)
	}
}

// Checks refused unevaluated are billed as failures, until the budget
// refuses: the budget is then spent for the rest of the window.
func TestAttemptsChargeRefusedChecks(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())

		t.Run("NoActor", func(t *testing.T) {
			if err := e.svc.ChargeRefusedChecks(e.ctx, nil, 50); err != nil {
				t.Fatalf("charge without an actor: %v", err)
			}
			if err := e.svc.ChargeRefusedChecks(e.ctx, &model.Actor{}, 50); err != nil {
				t.Fatalf("charge without a user: %v", err)
			}
			if n := e.count("attempt_counters", ""); n != 0 {
				t.Errorf("attempt counters = %d, want 0", n)
			}
		})

		t.Run("ChargesExactlyN", func(t *testing.T) {
			u := e.register("tfchargen")
			wrong := tfWrong(e, u)
			if err := e.svc.ChargeRefusedChecks(e.ctx, e.actor(u.Token), 0); err != nil {
				t.Fatal(err)
			}
			if c := tfAttempts(t, e, u); c.Failures != 0 {
				t.Errorf("counter %+v after charging 0", c)
			}
			if err := e.svc.ChargeRefusedChecks(e.ctx, e.actor(u.Token), 3); err != nil {
				t.Fatal(err)
			}
			tfWantInvalidPassword(t, tfUpdateEmail(e, u, "tfchargen.x@example.com", wrong))
			tfWantInvalidPassword(t, tfUpdateEmail(e, u, "tfchargen.x@example.com", wrong))
			tfWantRateLimited(t, tfUpdateEmail(e, u, "tfchargen.x@example.com", u.Password), 300)
		})

		t.Run("SpendsTheBudget", func(t *testing.T) {
			a := tfEnabled(t, e, "tfchargeall")
			tfResetAttempts(t, e, a.user)
			tok := tfLoginToken(t, e, a.user)
			if err := e.svc.ChargeRefusedChecks(e.ctx, e.actor(a.Token), 50); err != nil {
				t.Fatalf("charge: %v", err)
			}
			if c := tfAttempts(t, e, a.user); c.Failures != 5 || c.Consecutive != 5 {
				t.Errorf("counter %+v, want the budget of 5 charged and no more", c)
			}
			before := tfSnapshot(t, e, a.user)
			code := tfNextCode(t, e, a)
			_, err := tfCheckpoint(e, tok, code)
			tfWantRateLimited(t, err, 300)
			_, err = e.svc.DisableTwoFactor(e.ctx, e.actor(a.Token), tfInput(code, a.Password))
			tfWantRateLimited(t, err, 300)
			e.clock.Advance(5*time.Minute - time.Second)
			_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(tfNextCode(t, e, a), a.Password))
			tfWantRateLimited(t, err, 1)
			tfUnchanged(t, e, a.user, before)
			e.clock.Advance(time.Second)
			res, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(a.Token), tfInput(tfNextCode(t, e, a), a.Password))
			if err != nil {
				t.Fatalf("regenerate after the window: %v", err)
			}
			e.secret(res.RecoveryCodes...)
		})
	})
}

// Parallel guesses are charged one after the other before any is
// evaluated: no more than the budget is ever checked.
func TestAttemptsConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())

		t.Run("WrongPasswords", func(t *testing.T) {
			u := e.register("tfconcpw")
			wrong := tfWrong(e, u)
			actor := e.actor(u.Token)
			before := tfSnapshot(t, e, u)
			errs := tfRace(20, func(int) error {
				_, err := e.svc.UpdateEmail(e.ctx, actor, account.UpdateEmailInput{Email: "tfconcpw.x@example.com", Password: wrong})
				return err
			})
			tfCountRace(t, errs, "invalid password", 5)
			tfUnchanged(t, e, u, before)
			if c := tfAttempts(t, e, u); c.Failures != 5 {
				t.Errorf("counter %+v, want 5 failures", c)
			}
		})

		t.Run("WrongCodes", func(t *testing.T) {
			a := tfEnabled(t, e, "tfconccode")
			tfResetAttempts(t, e, a.user)
			toks := make([]string, 20)
			for i := range toks {
				toks[i] = tfLoginToken(t, e, a.user)
			}
			tfResetAttempts(t, e, a.user)
			before := tfSnapshot(t, e, a.user)
			errs := tfRace(20, func(i int) error {
				_, err := tfCheckpoint(e, toks[i], secret.RandomString(10))
				return err
			})
			tfCountRace(t, errs, "invalid recovery code", 5)
			tfUnchanged(t, e, a.user, before)
		})
	})
}

// tfWantRefused checks a refusal by the attempt budget, whatever the
// wait it announces.
func tfWantRefused(t *testing.T, err error) {
	t.Helper()
	if model.ErrorCode(err) != model.CodeRateLimited {
		t.Fatalf("err = %v, want rate limited", err)
	}
	me := asError(t, err)
	var secs int
	if _, scanErr := fmt.Sscanf(me.Message, "too many attempts, retry in %ds", &secs); scanErr != nil || secs < 1 ||
		me.Message != fmt.Sprintf("too many attempts, retry in %ds", secs) || me.RetryAfter != time.Duration(secs)*time.Second {
		t.Errorf("refusal %q, RetryAfter %v", me.Message, me.RetryAfter)
	}
}

// tfCountRace checks that exactly n calls were evaluated and failed with
// msg and that every other was refused by the budget.
func tfCountRace(t *testing.T, errs []error, msg string, n int) {
	t.Helper()
	evaluated := 0
	for i, err := range errs {
		me := asError(t, err)
		switch {
		case me.Message == msg:
			evaluated++
		case me.Code == model.CodeRateLimited && me.Message == "too many attempts, retry in 300s":
		default:
			t.Errorf("call %d: %v, want %q or rate limited", i, err, msg)
		}
	}
	if evaluated != n {
		t.Errorf("%d checks evaluated, want exactly %d", evaluated, n)
	}
}
