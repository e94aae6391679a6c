package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// recoveryCodeRow is the recovery_codes table. Only digests are stored,
// salted with the user's recovery_salt.
type recoveryCodeRow struct {
	bun.BaseModel `bun:"table:recovery_codes,alias:rc"`

	ID      uuid.UUID `bun:"id,pk,type:uuid"`
	UserID  uuid.UUID `bun:"user_id,type:uuid"`
	Digest  []byte    `bun:"digest"`
	Created time.Time `bun:"created"`
}

// CountRecoveryCodes returns how many unused recovery codes a user has (0
// for an unknown user).
func (s *Store) CountRecoveryCodes(ctx context.Context, userID uuid.UUID) (_ int, err error) {
	defer wrap(&err, "db.CountRecoveryCodes")
	return count(ctx, s.conn(ctx).NewSelect().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID))
}

// ReplaceRecoveryCodes deletes every recovery code of userID and stores
// the given digests, under a new salt. Two equal digests are a
// *model.DuplicateError.
func (s *Store) ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, salt []byte, digests [][]byte, now time.Time) (err error) {
	defer wrap(&err, "db.ReplaceRecoveryCodes")
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
	_, err = s.conn(ctx).NewInsert().Model(&rows).Exec(ctx)
	return translate(err)
}

// UseRecoveryCode consumes the recovery code with the given digest: one
// DELETE whose affected-row count decides, so of two concurrent uses of a
// code exactly one succeeds. It reports false, nil when no code matches.
func (s *Store) UseRecoveryCode(ctx context.Context, userID uuid.UUID, digest []byte) (_ bool, err error) {
	defer wrap(&err, "db.UseRecoveryCode")
	return affected(s.conn(ctx).NewDelete().Model((*recoveryCodeRow)(nil)).
		Where("user_id = ?", userID).Where("digest = ?", digest).Exec(ctx))
}
