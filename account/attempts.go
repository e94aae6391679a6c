package account

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"accountd/model"
)

// The attempt rules (REST.md §5, SECURITY.md): every password, TOTP or
// recovery-code check of an account is charged to one budget before it is
// evaluated, and refunded if it succeeds, so only failures use it up and a
// burst of parallel or aliased guesses can never evaluate more than the
// budget. A spent budget blocks the account's checks until its window ends;
// each further spent budget without a success in between doubles the block.
//
// Code guesses also have a limit of their own (NIST 800-63B: at most 100
// consecutive failures): TOTP and recovery-code failures are counted in a
// run that only a successful code check ends — not a password sign-in, or
// whoever knows the password could reset it and guess codes five at a time
// forever. Once the run reaches codeFailureLimit, TOTP codes are refused
// outright: a recovery code (high entropy, still governed by the budget)
// or the operator's `user disable-2fa` is the way back, and ends the run.
const (
	attemptBudget    = 5
	attemptWindow    = 5 * time.Minute
	maxBlock         = 24 * time.Hour
	codeFailureLimit = 100
)

// checkKind says what an attempt verifies.
type checkKind int

const (
	// checkLoginKind is the password of a sign-in: its success ends a run
	// of failures (the doubling), not the run of code failures.
	checkLoginKind checkKind = iota
	// checkPasswordKind is the password confirming a change of a signed-in
	// account. Its success is refunded but ends no run: otherwise whoever
	// knows the password would reset the back-off before every code guess
	// of a two-factor change.
	checkPasswordKind
	// checkTOTPKind is a TOTP code: refused once the code failures reach
	// codeFailureLimit.
	checkTOTPKind
	// checkRecoveryKind is a recovery code: still accepted past the limit.
	checkRecoveryKind
)

// isCode reports whether k checks a second factor.
func (k checkKind) isCode() bool { return k == checkTOTPKind || k == checkRecoveryKind }

// codeKind is the kind of a code by its length, as prepareCode tells them
// apart (a code of neither length fails there, as a TOTP would).
func codeKind(code string) checkKind {
	if len(code) == recoveryCodeLen {
		return checkRecoveryKind
	}
	return checkTOTPKind
}

// errTooManyAttempts is the refusal of a check the budget does not allow;
// wait is the time until the budget allows one again.
func errTooManyAttempts(wait time.Duration) error {
	secs := model.RetrySeconds(wait)
	return &model.Error{Code: model.CodeRateLimited, Message: fmt.Sprintf("too many attempts, retry in %ds", secs),
		RetryAfter: time.Duration(secs) * time.Second}
}

// errCodesLocked refuses a TOTP code past codeFailureLimit. No wait would
// make one acceptable, so it names the way that works instead and is
// NoWait: the 429 goes out without Retry-After (GraphQL: without
// retryAfter), rather than with a wait that ends in another refusal.
func errCodesLocked() error {
	return &model.Error{Code: model.CodeRateLimited, NoWait: true,
		Message: "too many failed codes, use a recovery code"}
}

// budget names the counter a check is charged to: an account's, or that
// of a sign-in identifier naming no account (login set). Unknown
// identifiers get the same rules, the same writes and the same answers as
// accounts (SECURITY.md), so neither a 429 nor its timing tells an
// attacker that an account exists.
//
// One more keeps the owner in while the account's budget is spent by
// someone else (OWASP: lockout must not be a weapon): a known device's
// (deviceID, see devices.go), charged with the sign-ins from that device
// and the password confirmations of the sessions signed in from it. Code
// checks always use the account's budget and code run.
type budget struct {
	userID   uuid.UUID
	login    string
	byEmail  bool
	deviceID *uuid.UUID
}

// accountBudget is the budget of an account.
func accountBudget(userID uuid.UUID) budget { return budget{userID: userID} }

// lock returns b's counter, locked for the transaction.
func (s *Service) lockBudget(ctx context.Context, b budget, now time.Time) (*model.AttemptCounter, error) {
	switch {
	case b.login != "":
		return s.attempts.LockLoginAttempts(ctx, b.login, b.byEmail, now)
	case b.deviceID != nil:
		return s.attempts.LockDeviceAttempts(ctx, *b.deviceID, now)
	}
	return s.attempts.LockAttempts(ctx, b.userID, now)
}

// attempt charges one check of kind to userID's budget, runs check, and
// refunds the charge unless check failed in a way the user caused (an
// internal error costs the user nothing). A refused charge returns the
// rate-limit error without running check.
func (s *Service) attempt(ctx context.Context, userID uuid.UUID, kind checkKind, check func() error) error {
	return s.attemptOn(ctx, accountBudget(userID), kind, check)
}

// attemptOn is attempt on any budget.
func (s *Service) attemptOn(ctx context.Context, b budget, kind checkKind, check func() error) error {
	if b.deviceID != nil {
		// One device's checks run one at a time on this server, charge to
		// refund: a burst of right passwords from the owner's browser is
		// never refused for charges still in flight (devices.go).
		m := s.deviceStripe(*b.deviceID)
		m.Lock()
		defer m.Unlock()
	}
	if err := s.chargeAttempt(ctx, b, kind); err != nil {
		if s.OnAttemptRefused != nil && model.ErrorCode(err) == model.CodeRateLimited {
			s.OnAttemptRefused()
		}
		return err
	}
	err := check()
	if err == nil || model.ErrorCode(err) == model.CodeInternal {
		if rerr := s.refundAttempt(ctx, b, kind, err == nil); rerr != nil && err == nil {
			return rerr
		}
	}
	return err
}

// chargeAttempt counts one check as failed in advance, or refuses it.
func (s *Service) chargeAttempt(ctx context.Context, b budget, kind checkKind) error {
	var refused error
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		now := s.now()
		c, err := s.lockBudget(ctx, b, now)
		if err != nil {
			return err
		}
		// The code limit first: waiting out a block would not help.
		if kind == checkTOTPKind && c.CodeFailures >= codeFailureLimit {
			refused = errCodesLocked()
			return nil
		}
		if c.BlockedUntil != nil && now.Before(*c.BlockedUntil) {
			refused = errTooManyAttempts(c.BlockedUntil.Sub(now))
			return nil
		}
		if now.Sub(c.WindowStart) >= attemptWindow {
			c.Failures, c.WindowStart = 0, now
		}
		c.Failures++
		c.Consecutive++
		if kind.isCode() {
			c.CodeFailures++
		}
		if c.Failures >= attemptBudget {
			until := c.WindowStart.Add(blockFor(c.Consecutive))
			c.BlockedUntil = &until
		}
		return s.attempts.SaveAttempts(ctx, c)
	})
	if err != nil {
		return model.Internal(err)
	}
	return refused
}

// blockFor is how long a spent budget blocks, from the window's start:
// the window itself, doubled for each budget spent before it without a
// success in between, up to maxBlock.
func blockFor(consecutive int) time.Duration {
	d := attemptWindow
	for spent := (consecutive - 1) / attemptBudget; spent > 0 && d < maxBlock; spent-- {
		d *= 2
	}
	return min(d, maxBlock)
}

// refundAttempt takes back a charge of kind, and any block the charge
// itself set. A success of a sign-in or a code also ends the run of
// consecutive failures (the doubling); a code's success ends the run of
// code failures too, which nothing but a code (or the operator) ends.
func (s *Service) refundAttempt(ctx context.Context, b budget, kind checkKind, success bool) error {
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.lockBudget(ctx, b, s.now())
		if err != nil {
			return err
		}
		if c.Failures > 0 {
			c.Failures--
		}
		if c.Consecutive > 0 {
			c.Consecutive--
		}
		if kind.isCode() && c.CodeFailures > 0 {
			c.CodeFailures--
		}
		if success && kind != checkPasswordKind {
			c.Consecutive = 0
		}
		if success && kind.isCode() {
			c.CodeFailures = 0
		}
		if c.Failures < attemptBudget {
			c.BlockedUntil = nil
		}
		return s.attempts.SaveAttempts(ctx, c)
	})
	if err != nil {
		return model.Internal(err)
	}
	return nil
}

// endCodeRun ends userID's run of code failures inside the caller's
// transaction: the operator's `user disable-2fa` gives the account back,
// so a later re-enable is not refused by the run of the old factor.
func (s *Service) endCodeRun(ctx context.Context, userID uuid.UUID) error {
	c, err := s.attempts.LockAttempts(ctx, userID, s.now())
	if err != nil {
		return err
	}
	if c.CodeFailures == 0 {
		return nil
	}
	c.CodeFailures = 0
	return s.attempts.SaveAttempts(ctx, c)
}

// ChargeRefusedChecks bills an account for checks it sent but that were
// refused unevaluated because they came all in one request (GraphQL
// aliases): as if each had been sent alone and failed, until the budget
// refuses. Aliasing therefore buys no guesses, and costs what guessing
// one at a time would. They count as recovery-code failures: code
// failures that, unlike a TOTP, the code limit does not refuse, so the
// bill always reaches the budget.
func (s *Service) ChargeRefusedChecks(ctx context.Context, actor *model.Actor, n int) error {
	if actor == nil || actor.User == nil {
		return nil
	}
	for range n {
		if err := s.chargeAttempt(ctx, accountBudget(actor.User.ID), checkRecoveryKind); err != nil {
			if model.ErrorCode(err) == model.CodeRateLimited {
				return nil
			}
			return err
		}
	}
	return nil
}
