package account

import (
	"context"
	"time"
)

// rateLimitRetention is how long a counter window is kept: longer than
// every window (the per-IP limits' and the account throttles'), so only
// ended ones go, on both engines.
const rateLimitRetention = 24 * time.Hour

// staleAttemptAge is how long the budget of an unknown sign-in identifier
// outlives its last use or block: twice the longest block, so a guesser
// who pauses does not find a fresh budget sooner than a real account would
// give one.
const staleAttemptAge = 2 * maxBlock

// CleanupResult counts what one clean-up pass deleted.
type CleanupResult struct {
	APIKeys     int
	LoginTokens int
	Sessions    int
	Activities  int
	RateLimits  int
	// LoginAttempts counts the budgets of unknown sign-in identifiers.
	LoginAttempts int
	// SecurityKeys counts registrations left unfinished past
	// WEBAUTHN_TIMEOUT; Ceremonies, sign-in challenges never answered.
	SecurityKeys int
	Ceremonies   int
	// ResetTokens counts expired password-reset links; EmailVerifications
	// expired address confirmations.
	ResetTokens        int
	EmailVerifications int
}

// Cleanup deletes what has expired: API keys past their expiry and
// sessions idle past SESSION_DURATION (both already invisible and refused,
// so only storage is reclaimed), two-factor confirmation tokens, activity
// older than ACTIVITY_RETENTION, counter windows that ended a day ago and
// budgets of unknown sign-in identifiers unused for two days, security-key
// registrations and sign-in ceremonies older than WEBAUTHN_TIMEOUT, and
// expired password-reset and address-confirmation tokens, so no table grows
// without bound. Each statement deletes a bounded batch,
// so a large backlog never holds locks for long; a pass repeats batches
// until one comes back short.
func (s *Service) Cleanup(ctx context.Context) (CleanupResult, error) {
	var res CleanupResult
	now := s.now()
	for _, job := range []struct {
		n   *int
		del func(context.Context, time.Time, int) (int, error)
	}{
		{&res.APIKeys, func(ctx context.Context, now time.Time, limit int) (int, error) {
			return s.apiKeys.DeleteExpiredAPIKeys(ctx, nil, now, limit)
		}},
		{&res.LoginTokens, s.twoFactor.DeleteExpiredLoginTokens},
		{&res.Sessions, func(ctx context.Context, now time.Time, limit int) (int, error) {
			return s.sessions.DeleteIdleSessions(ctx, now.Add(-s.cfg.SessionDuration), limit)
		}},
		{&res.Activities, func(ctx context.Context, now time.Time, limit int) (int, error) {
			return s.activities.DeleteActivitiesBefore(ctx, now.Add(-s.cfg.ActivityRetention), limit)
		}},
		{&res.RateLimits, func(ctx context.Context, now time.Time, limit int) (int, error) {
			return s.throttle.DeleteRateLimitsBefore(ctx, now.Add(-rateLimitRetention), limit)
		}},
		{&res.LoginAttempts, func(ctx context.Context, now time.Time, limit int) (int, error) {
			return s.attempts.DeleteStaleLoginAttempts(ctx, now.Add(-staleAttemptAge), limit)
		}},
		{&res.SecurityKeys, func(ctx context.Context, now time.Time, limit int) (int, error) {
			return s.securityKeys.DeletePendingSecurityKeys(ctx, now.Add(-s.cfg.SecurityKeys.timeout()), limit)
		}},
		{&res.Ceremonies, s.securityKeys.DeleteExpiredCeremonies},
		{&res.ResetTokens, s.resetTokens.DeleteExpiredResetTokens},
		{&res.EmailVerifications, s.emailVerifications.DeleteExpiredEmailVerifications},
	} {
		for {
			n, err := job.del(ctx, now, purgeBatch)
			*job.n += n
			if err != nil {
				return res, err
			}
			if n < purgeBatch {
				break
			}
		}
	}
	return res, nil
}
