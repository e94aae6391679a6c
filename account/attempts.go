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
// After hardStopAfter consecutive failures, code checks stay refused until
// a password sign-in succeeds: whoever is guessing codes then has to know
// the password again.
const (
	attemptBudget = 5
	attemptWindow = 5 * time.Minute
	maxBlock      = 24 * time.Hour
	hardStopAfter = 50
)

// checkKind says what an attempt verifies.
type checkKind int

const (
	// checkLoginKind is the password of a sign-in: its success ends a run
	// of failures, and with it a hard stop.
	checkLoginKind checkKind = iota
	// checkPasswordKind is the password confirming a change of a signed-in
	// account. Its success is refunded but ends no run: otherwise whoever
	// knows the password would reset the back-off before every code guess
	// of a two-factor change.
	checkPasswordKind
	// checkCodeKind is a TOTP or recovery code.
	checkCodeKind
)

// errTooManyAttempts is the refusal of a check the budget does not allow.
func errTooManyAttempts(wait time.Duration) error {
	secs := model.RetrySeconds(wait)
	return &model.Error{Code: model.CodeRateLimited, Message: fmt.Sprintf("too many attempts, retry in %ds", secs),
		RetryAfter: time.Duration(secs) * time.Second}
}

// attempt charges one check of kind to userID's budget, runs check, and
// refunds the charge unless check failed in a way the user caused (an
// internal error costs the user nothing). A refused charge returns the
// rate-limit error without running check.
func (s *Service) attempt(ctx context.Context, userID uuid.UUID, kind checkKind, check func() error) error {
	if err := s.chargeAttempt(ctx, userID, kind); err != nil {
		if s.OnAttemptRefused != nil && model.ErrorCode(err) == model.CodeRateLimited {
			s.OnAttemptRefused()
		}
		return err
	}
	err := check()
	if err == nil || model.ErrorCode(err) == model.CodeInternal {
		endRun := err == nil && kind != checkPasswordKind
		if rerr := s.refundAttempt(ctx, userID, endRun); rerr != nil && err == nil {
			return rerr
		}
	}
	return err
}

// chargeAttempt counts one check as failed in advance, or refuses it.
func (s *Service) chargeAttempt(ctx context.Context, userID uuid.UUID, kind checkKind) error {
	var refused error
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		now := s.now()
		c, err := s.attempts.LockAttempts(ctx, userID, now)
		if err != nil {
			return err
		}
		if c.BlockedUntil != nil && now.Before(*c.BlockedUntil) {
			refused = errTooManyAttempts(c.BlockedUntil.Sub(now))
			return nil
		}
		if kind == checkCodeKind && c.Consecutive >= hardStopAfter {
			refused = errTooManyAttempts(attemptWindow)
			return nil
		}
		if now.Sub(c.WindowStart) >= attemptWindow {
			c.Failures, c.WindowStart = 0, now
		}
		c.Failures++
		c.Consecutive++
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

// refundAttempt takes back a charge, and any block the charge itself set.
// endRun also ends the run of consecutive failures (and with it a hard
// stop, which only a sign-in can still pass).
func (s *Service) refundAttempt(ctx context.Context, userID uuid.UUID, endRun bool) error {
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		c, err := s.attempts.LockAttempts(ctx, userID, s.now())
		if err != nil {
			return err
		}
		if c.Failures > 0 {
			c.Failures--
		}
		if c.Consecutive > 0 {
			c.Consecutive--
		}
		if endRun {
			c.Consecutive = 0
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

// ChargeRefusedChecks bills an account for checks it sent but that were
// refused unevaluated because they came all in one request (GraphQL
// aliases): as if each had been sent alone and failed, until the budget
// refuses. Aliasing therefore buys no guesses, and costs what guessing
// one at a time would.
func (s *Service) ChargeRefusedChecks(ctx context.Context, actor *model.Actor, n int) error {
	if actor == nil || actor.User == nil {
		return nil
	}
	for range n {
		if err := s.chargeAttempt(ctx, actor.User.ID, checkCodeKind); err != nil {
			if model.ErrorCode(err) == model.CodeRateLimited {
				return nil
			}
			return err
		}
	}
	return nil
}
