package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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
	CodeFailures int        `bun:"code_failures"`
	BlockedUntil *time.Time `bun:"blocked_until"`
}

// loginAttemptRow is the login_attempt_counters table: the same limit for
// a sign-in identifier that names no account, keyed by a digest of it.
type loginAttemptRow struct {
	bun.BaseModel `bun:"table:login_attempt_counters,alias:lac"`

	Subject      string     `bun:"subject,pk"`
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
		Consecutive: r.Consecutive, CodeFailures: r.CodeFailures, BlockedUntil: utcPtr(r.BlockedUntil)}, nil
}

// LoginSubject is the key of the attempt counter of a sign-in identifier:
// "login:" and the SHA-256 hex of its kind and of the identifier folded as
// UserByLogin folds it, so every spelling the lookup treats as one name
// shares one budget, and the stored key does not reveal the name.
func LoginSubject(login string, byEmail bool) string {
	kind := "username:"
	if byEmail {
		kind = "email:"
	}
	sum := sha256.Sum256([]byte(kind + FoldKey(login)))
	return "login:" + hex.EncodeToString(sum[:])
}

// LockLoginAttempts is LockAttempts for a sign-in identifier that names no
// account: the same two statements on login_attempt_counters, so the work
// done does not tell whether the account exists. The counter's Subject is
// set and its UserID zero.
func (s *Store) LockLoginAttempts(ctx context.Context, login string, byEmail bool, now time.Time) (_ *model.AttemptCounter, err error) {
	defer wrap(&err, "db.LockLoginAttempts")
	return s.lockSubjectAttempts(ctx, LoginSubject(login, byEmail), now)
}

// lockSubjectAttempts locks (creating) the counter of subject.
func (s *Store) lockSubjectAttempts(ctx context.Context, subject string, now time.Time) (*model.AttemptCounter, error) {
	_, err := s.conn(ctx).NewInsert().Model(&loginAttemptRow{Subject: subject, WindowStart: now}).
		On("CONFLICT (subject) DO NOTHING").Exec(ctx)
	if err != nil {
		return nil, err
	}
	var r loginAttemptRow
	q := s.conn(ctx).NewSelect().Model(&r).Where("lac.subject = ?", subject)
	if s.dialect == Postgres {
		q = q.For("UPDATE")
	}
	if err := q.Scan(ctx); err != nil {
		return nil, err
	}
	return &model.AttemptCounter{Subject: r.Subject, Failures: r.Failures, WindowStart: r.WindowStart.UTC(),
		Consecutive: r.Consecutive, BlockedUntil: utcPtr(r.BlockedUntil)}, nil
}

// SaveAttempts writes an attempt counter back, to the table it was read
// from (Subject set: login_attempt_counters); a counter not stored (see
// LockAttempts) changes nothing and is no error.
func (s *Store) SaveAttempts(ctx context.Context, c *model.AttemptCounter) (err error) {
	defer wrap(&err, "db.SaveAttempts")
	if c.DeviceID != nil {
		return s.saveDeviceAttempts(ctx, c)
	}
	if c.Subject != "" {
		_, err = s.conn(ctx).NewUpdate().Model(&loginAttemptRow{Subject: c.Subject, Failures: c.Failures,
			WindowStart: c.WindowStart, Consecutive: c.Consecutive, BlockedUntil: c.BlockedUntil}).WherePK().Exec(ctx)
		return err
	}
	_, err = s.conn(ctx).NewUpdate().Model(&attemptRow{UserID: c.UserID, Failures: c.Failures, WindowStart: c.WindowStart,
		Consecutive: c.Consecutive, CodeFailures: c.CodeFailures, BlockedUntil: c.BlockedUntil}).WherePK().Exec(ctx)
	return err
}

// DeleteStaleLoginAttempts deletes at most limit counters of sign-in
// identifiers that name no account whose window started, and whose block
// ended, before the given time, and returns how many: names cycled by a
// guesser must not make the table grow for ever.
func (s *Store) DeleteStaleLoginAttempts(ctx context.Context, before time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteStaleLoginAttempts")
	const stale = "lac.window_start < ? AND (lac.blocked_until IS NULL OR lac.blocked_until < ?)"
	var subjects []string
	err = s.conn(ctx).NewSelect().Model((*loginAttemptRow)(nil)).Column("lac.subject").
		Where(stale, before, before).Limit(int64(limit)).Scan(ctx, &subjects)
	if err != nil || len(subjects) == 0 {
		return 0, err
	}
	in, list := s.anyOf("lac.subject", subjects)
	return rowCount(s.conn(ctx).NewDelete().Model((*loginAttemptRow)(nil)).
		Where(in, list).Where(stale, before, before).Exec(ctx))
}
