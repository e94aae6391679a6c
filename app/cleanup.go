package app

import (
	"context"
	"time"
)

// RunCleanup deletes expired rows every CLEANUP_INTERVAL until ctx ends.
// Every server runs it; the deletes are idempotent, so replicas only
// share the work.
func (a *App) RunCleanup(ctx context.Context) {
	t := time.NewTicker(a.Config.CleanupInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := a.Service.Cleanup(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.Logger.ErrorContext(ctx, "clean-up failed", "err", err)
			}
			continue
		}
		// Sent and given-up mail, a week after it was queued.
		mails, err := a.Mail.Prune(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.Logger.ErrorContext(ctx, "clean-up failed", "err", err)
			}
			continue
		}
		a.Logger.DebugContext(ctx, "clean-up done", "api_keys", res.APIKeys, "login_tokens", res.LoginTokens,
			"sessions", res.Sessions, "activities", res.Activities, "rate_limits", res.RateLimits, "login_attempts", res.LoginAttempts,
			"security_keys", res.SecurityKeys, "ceremonies", res.Ceremonies, "reset_tokens", res.ResetTokens,
			"email_verifications", res.EmailVerifications, "mails", mails)
	}
}
