package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// resetTokenRow is the password_reset_tokens table (migration 0009).
type resetTokenRow struct {
	bun.BaseModel `bun:"table:password_reset_tokens,alias:prt"`

	ID       uuid.UUID `bun:"id,pk,type:uuid"`
	UserID   uuid.UUID `bun:"user_id,type:uuid"`
	KeyStart string    `bun:"key_start"`
	Digest   []byte    `bun:"digest"`
	Created  time.Time `bun:"created"`
	Expires  time.Time `bun:"expires"`
}

// CreateResetToken stores a password reset token. A taken lookup prefix
// is a *model.DuplicateError ("key_start").
func (s *Store) CreateResetToken(ctx context.Context, t *model.PasswordResetToken) (err error) {
	defer wrap(&err, "db.CreateResetToken")
	_, err = s.conn(ctx).NewInsert().Model(&resetTokenRow{ID: t.ID, UserID: t.UserID, KeyStart: t.KeyStart,
		Digest: t.Digest, Created: t.Created, Expires: t.Expires}).Exec(ctx)
	return translate(err)
}

// ResetTokenCreatedSince reports whether userID has a token created after
// since. A used token is deleted, so only unused ones (expired or not)
// count.
func (s *Store) ResetTokenCreatedSince(ctx context.Context, userID uuid.UUID, since time.Time) (_ bool, err error) {
	defer wrap(&err, "db.ResetTokenCreatedSince")
	return s.conn(ctx).NewSelect().Model((*resetTokenRow)(nil)).
		Where("user_id = ?", userID).Where("created > ?", since).Exists(ctx)
}

// ResetTokenByKeyStart returns the token with the given lookup prefix, or
// nil, nil. Expired tokens are returned too.
func (s *Store) ResetTokenByKeyStart(ctx context.Context, keyStart string) (_ *model.PasswordResetToken, err error) {
	defer wrap(&err, "db.ResetTokenByKeyStart")
	var r resetTokenRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("key_start = ?", keyStart).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &model.PasswordResetToken{ID: r.ID, UserID: r.UserID, KeyStart: r.KeyStart, Digest: r.Digest,
		Created: r.Created.UTC(), Expires: r.Expires.UTC()}, nil
}

// ConsumeResetToken deletes the token if it has not expired at now and
// reports whether it did: the token's single use, one conditional
// statement, so of two concurrent uses exactly one sees it deleted.
func (s *Store) ConsumeResetToken(ctx context.Context, id uuid.UUID, now time.Time) (_ bool, err error) {
	defer wrap(&err, "db.ConsumeResetToken")
	return affected(s.conn(ctx).NewDelete().Model((*resetTokenRow)(nil)).
		Where("id = ?", id).Where("expires > ?", now).Exec(ctx))
}

// DeleteResetTokens deletes every reset token of userID and returns how
// many.
func (s *Store) DeleteResetTokens(ctx context.Context, userID uuid.UUID) (_ int, err error) {
	defer wrap(&err, "db.DeleteResetTokens")
	return rowCount(s.conn(ctx).NewDelete().Model((*resetTokenRow)(nil)).Where("user_id = ?", userID).Exec(ctx))
}

// DeleteExpiredResetTokens deletes at most limit reset tokens that expired
// at or before now and returns how many.
func (s *Store) DeleteExpiredResetTokens(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteExpiredResetTokens")
	return s.purge(ctx, (*resetTokenRow)(nil), "prt", "prt.expires <= ?", limit, now)
}
