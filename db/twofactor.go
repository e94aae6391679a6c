package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// SetPendingTOTPSecret stores the secret a setup hands out, unless
// two-factor is already enabled; it reports whether it wrote.
func (s *Store) SetPendingTOTPSecret(ctx context.Context, userID uuid.UUID, secret string) (bool, error) {
	res, err := s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Set("totp_secret = ?", secret).
		Where("id = ?", userID).Where("totp_enabled = ?", false).Exec(ctx)
	return affected(res, err)
}

// EnableTwoFactor turns two-factor on with the pending secret it was
// confirmed with, recording the step of the confirming code. It is a
// compare-and-set: it writes only if two-factor is still off, the pending
// secret is still secret, and the step is later than any used before.
func (s *Store) EnableTwoFactor(ctx context.Context, userID uuid.UUID, secret string, step int64, now time.Time, salt []byte) (bool, error) {
	res, err := s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_enabled = ?", true).Set("totp_last_step = ?", step).Set("totp_last_used = ?", now).
		Set("recovery_salt = ?", salt).Set("updated = ?", now).
		Where("id = ?", userID).Where("totp_enabled = ?", false).Where("totp_secret = ?", secret).
		Where("totp_last_step < ?", step).Exec(ctx)
	return affected(res, err)
}

// UseTOTPStep records that a code of step was accepted, unless a code of
// that step or a later one already was: the compare-and-set that makes
// every code single-use, even for two requests at the same instant.
func (s *Store) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64, now time.Time) (bool, error) {
	res, err := s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_last_step = ?", step).Set("totp_last_used = ?", now).
		Where("id = ?", userID).Where("totp_enabled = ?", true).Where("totp_last_step < ?", step).Exec(ctx)
	return affected(res, err)
}

// DisableTwoFactor turns two-factor off and forgets its secret, recovery
// codes and last use. The last used step is kept, so a code accepted
// before cannot be accepted again after a quick re-enable.
func (s *Store) DisableTwoFactor(ctx context.Context, userID uuid.UUID, now time.Time) (bool, error) {
	res, err := s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_enabled = ?", false).Set("totp_secret = NULL").Set("totp_last_used = NULL").
		Set("recovery_salt = NULL").Set("updated = ?", now).
		Where("id = ?", userID).Where("totp_enabled = ?", true).Exec(ctx)
	if ok, err := affected(res, err); !ok || err != nil {
		return ok, err
	}
	_, err = s.conn(ctx).NewDelete().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
	return true, err
}

// ReplaceRecoveryCodes deletes every recovery code of userID and stores
// the given digests, under a new salt.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, salt []byte, digests [][]byte, now time.Time) error {
	if _, err := s.conn(ctx).NewDelete().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx); err != nil {
		return err
	}
	if _, err := s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Set("recovery_salt = ?", salt).
		Where("id = ?", userID).Exec(ctx); err != nil {
		return err
	}
	rows := make([]recoveryCodeRow, len(digests))
	for i, d := range digests {
		rows[i] = recoveryCodeRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, Digest: d, Created: now}
	}
	_, err := s.conn(ctx).NewInsert().Model(&rows).Exec(ctx)
	return translate(err)
}

// UseRecoveryCode consumes the recovery code with the given digest: one
// DELETE whose affected-row count decides, so of two concurrent uses of a
// code exactly one succeeds.
func (s *Store) UseRecoveryCode(ctx context.Context, userID uuid.UUID, digest []byte) (bool, error) {
	res, err := s.conn(ctx).NewDelete().Model((*recoveryCodeRow)(nil)).
		Where("user_id = ?", userID).Where("digest = ?", digest).Exec(ctx)
	return affected(res, err)
}

// loginTokenWithUser is one row of the checkpoint's lookup.
type loginTokenWithUser struct {
	loginTokenRow `bun:",extend"`
	User          *userRow `bun:"rel:belongs-to,join:user_id=id"`
}

// LoginTokenByKeyStart returns the confirmation token with the given lookup
// prefix and its user, or nils.
func (s *Store) LoginTokenByKeyStart(ctx context.Context, keyStart string) (*model.LoginToken, *model.User, error) {
	var r loginTokenWithUser
	err := s.conn(ctx).NewSelect().Model(&r).Relation("User").Where("lt.key_start = ?", keyStart).Scan(ctx)
	if noRows(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	t := &model.LoginToken{ID: r.ID, UserID: r.UserID, KeyStart: r.KeyStart, Digest: r.Digest, Attempts: r.Attempts,
		Expires: r.Expires.UTC(), Created: r.Created.UTC()}
	return t, r.User.model(), nil
}

// CountLoginTokenAttempt charges one code attempt to a confirmation token,
// unless it has used max already; it reports whether the attempt may go on.
func (s *Store) CountLoginTokenAttempt(ctx context.Context, id uuid.UUID, max int) (bool, error) {
	res, err := s.conn(ctx).NewUpdate().Model((*loginTokenRow)(nil)).Set("attempts = attempts + 1").
		Where("id = ?", id).Where("attempts < ?", max).Exec(ctx)
	return affected(res, err)
}

// ConsumeLoginToken deletes a confirmation token and reports whether it
// was still there: the single use of the token.
func (s *Store) ConsumeLoginToken(ctx context.Context, id uuid.UUID) (bool, error) {
	res, err := s.conn(ctx).NewDelete().Model((*loginTokenRow)(nil)).Where("id = ?", id).Exec(ctx)
	return affected(res, err)
}

// attemptRow is the attempt_counters table.
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
// checks of one account are charged one after the other.
func (s *Store) LockAttempts(ctx context.Context, userID uuid.UUID, now time.Time) (*model.AttemptCounter, error) {
	_, err := s.conn(ctx).NewInsert().Model(&attemptRow{UserID: userID, WindowStart: now}).
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

// SaveAttempts writes an attempt counter back.
func (s *Store) SaveAttempts(ctx context.Context, c *model.AttemptCounter) error {
	_, err := s.conn(ctx).NewUpdate().Model(&attemptRow{UserID: c.UserID, Failures: c.Failures,
		WindowStart: c.WindowStart, Consecutive: c.Consecutive, BlockedUntil: c.BlockedUntil}).WherePK().Exec(ctx)
	return err
}
