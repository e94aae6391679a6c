package app

import (
	"context"
	"time"

	"accountd/db"
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
		limits, err := a.cleanRateLimits(ctx)
		if err != nil && ctx.Err() == nil {
			a.Logger.ErrorContext(ctx, "rate-limit clean-up failed", "err", err)
		}
		a.Logger.DebugContext(ctx, "clean-up done", "api_keys", res.APIKeys, "login_tokens", res.LoginTokens,
			"sessions", res.Sessions, "activities", res.Activities, "rate_limits", limits)
	}
}

// cleanRateLimits deletes the shared rate-limit windows that ended long
// ago (PostgreSQL keeps them in the database; every window is shorter than
// a day), in batches.
func (a *App) cleanRateLimits(ctx context.Context) (int, error) {
	if a.DB.Dialect != db.Postgres {
		return 0, nil
	}
	total := 0
	for {
		n, err := a.Store.DeleteRateLimitsBefore(ctx, time.Now().Add(-24*time.Hour), 1000)
		total += n
		if err != nil || n < 1000 {
			return total, err
		}
	}
}
