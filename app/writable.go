package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"accountd/db"
)

// writeCheckTTL is how long /readyz trusts a check that found the
// database writable. Load balancers poll every few seconds, and a
// database seldom turns read-only; a check that found it read-only is
// repeated at every poll instead, so a fixed database is seen at once.
const writeCheckTTL = 5 * time.Second

// writeCheck is /readyz's memory of whether the database can be written.
type writeCheck struct {
	mu      sync.Mutex
	okUntil time.Time
	// failing is whether the last check found the database read-only; the
	// log says so when that changes, not at every poll.
	failing bool
	// now is the clock; nil is time.Now.
	now func() time.Time
}

// readOnly returns why the database cannot be written, nil when it can,
// and an error when the check itself failed.
func (a *App) readOnly(ctx context.Context) (readOnly, err error) {
	w := &a.writes
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now
	if w.now != nil {
		now = w.now
	}
	if now().Before(w.okUntil) {
		return nil, nil
	}
	err = a.DB.CheckWritable(ctx)
	switch {
	case err == nil:
		if w.failing {
			a.Logger.InfoContext(ctx, "database can be written again")
			w.failing = false
		}
		w.okUntil = now().Add(writeCheckTTL)
		return nil, nil
	case errors.Is(err, db.ErrReadOnly):
		if !w.failing {
			a.Logger.ErrorContext(ctx, "database cannot be written: /readyz fails until it can", "error", err)
			w.failing = true
		}
		return err, nil
	}
	return nil, err
}
