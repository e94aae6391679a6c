package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// attemptRow is the attempt_counters table: the per-account limit on
// password, TOTP and recovery-code checks.
type attemptRow struct {
	bun.BaseModel `bun:"table:attempt_counters,alias:ac"`

	UserID       uuid.UUID  `bun:"user_id,pk,type:uuid"`
	Failures     int        `bun:"failures"`
	WindowStart  time.Time  `bun:"window_start"`
	Consecutive  int        `bun:"consecutive"`
	BlockedUntil *time.Time `bun:"blocked_until"`
}

// LockAttempts returns userID's attempt counter, creating it on first use,
// and (inside InTx) holds it until the transaction ends, so concurrent
// checks of one account are charged one after the other. It never returns
// nil without an error; an unknown user is an error (foreign key).
func (s *Store) LockAttempts(ctx context.Context, userID uuid.UUID, now time.Time) (_ *model.AttemptCounter, err error) {
	defer wrap(&err, "db.LockAttempts")
	_, err = s.conn(ctx).NewInsert().Model(&attemptRow{UserID: userID, WindowStart: now}).
		On("CONFLICT (user_id) DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, err
	}
	var r attemptRow
	q := s.conn(ctx).NewSelect().Model(&r).Where("ac.user_id = ?", userID)
	if s.dialect == Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	return &model.AttemptCounter{UserID: r.UserID, Failures: r.Failures, WindowStart: r.WindowStart.UTC(),
		Consecutive: r.Consecutive, BlockedUntil: utcPtr(r.BlockedUntil)}, nil
}

// SaveAttempts writes an attempt counter back; a counter not stored (see
// LockAttempts) changes nothing and is no error.
func (s *Store) SaveAttempts(ctx context.Context, c *model.AttemptCounter) (err error) {
	defer wrap(&err, "db.SaveAttempts")
	_, err = s.conn(ctx).NewUpdate().Model(&attemptRow{UserID: c.UserID, Failures: c.Failures,
		WindowStart: c.WindowStart, Consecutive: c.Consecutive, BlockedUntil: c.BlockedUntil}).WherePK().Exec(ctx)
	return err
}
