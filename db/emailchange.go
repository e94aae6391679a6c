package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// emailVerificationRow is the email_verifications table (migration 0011).
type emailVerificationRow struct {
	bun.BaseModel `bun:"table:email_verifications,alias:ev"`

	ID       uuid.UUID `bun:"id,pk,type:uuid"`
	UserID   uuid.UUID `bun:"user_id,type:uuid"`
	Email    string    `bun:"email"`
	KeyStart string    `bun:"key_start"`
	Digest   []byte    `bun:"digest"`
	Created  time.Time `bun:"created"`
	Expires  time.Time `bun:"expires"`
}

func (r *emailVerificationRow) model() *model.EmailVerification {
	return &model.EmailVerification{ID: r.ID, UserID: r.UserID, Email: r.Email, KeyStart: r.KeyStart, Digest: r.Digest,
		Created: r.Created.UTC(), Expires: r.Expires.UTC()}
}

// ReplaceEmailVerification makes v its user's one pending verification,
// deleting any earlier one (whose link stops working). A taken lookup
// prefix is a *model.DuplicateError ("key_start").
func (s *Store) ReplaceEmailVerification(ctx context.Context, v *model.EmailVerification) (err error) {
	defer wrap(&err, "db.ReplaceEmailVerification")
	return s.InTx(ctx, func(ctx context.Context) error {
		if _, err := s.conn(ctx).NewDelete().Model((*emailVerificationRow)(nil)).Where("user_id = ?", v.UserID).Exec(ctx); err != nil {
			return err
		}
		_, err := s.conn(ctx).NewInsert().Model(&emailVerificationRow{ID: v.ID, UserID: v.UserID, Email: v.Email,
			KeyStart: v.KeyStart, Digest: v.Digest, Created: v.Created, Expires: v.Expires}).Exec(ctx)
		return translate(err)
	})
}

// EmailVerificationByKeyStart returns the verification with the given
// lookup prefix, or nil, nil. Expired ones are returned too.
func (s *Store) EmailVerificationByKeyStart(ctx context.Context, keyStart string) (_ *model.EmailVerification, err error) {
	defer wrap(&err, "db.EmailVerificationByKeyStart")
	var r emailVerificationRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("key_start = ?", keyStart).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model(), nil
}

// PendingEmailVerification returns userID's verification if it has not
// expired at now, or nil, nil.
func (s *Store) PendingEmailVerification(ctx context.Context, userID uuid.UUID, now time.Time) (_ *model.EmailVerification, err error) {
	defer wrap(&err, "db.PendingEmailVerification")
	var r emailVerificationRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("user_id = ?", userID).Where("expires > ?", now).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model(), nil
}

// ConsumeEmailVerification deletes the verification if it has not expired
// at now and reports whether it did: the link's single use, one
// conditional statement, so of two concurrent uses exactly one sees it
// deleted.
func (s *Store) ConsumeEmailVerification(ctx context.Context, id uuid.UUID, now time.Time) (_ bool, err error) {
	defer wrap(&err, "db.ConsumeEmailVerification")
	return affected(s.conn(ctx).NewDelete().Model((*emailVerificationRow)(nil)).
		Where("id = ?", id).Where("expires > ?", now).Exec(ctx))
}

// DeleteEmailVerifications deletes userID's pending verification, if any,
// and reports whether there was one.
func (s *Store) DeleteEmailVerifications(ctx context.Context, userID uuid.UUID) (_ bool, err error) {
	defer wrap(&err, "db.DeleteEmailVerifications")
	return affected(s.conn(ctx).NewDelete().Model((*emailVerificationRow)(nil)).Where("user_id = ?", userID).Exec(ctx))
}

// DeleteExpiredEmailVerifications deletes at most limit verifications that
// expired at or before now and returns how many.
func (s *Store) DeleteExpiredEmailVerifications(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteExpiredEmailVerifications")
	return s.purge(ctx, (*emailVerificationRow)(nil), "ev", "ev.expires <= ?", limit, now)
}

// ConfirmEmail makes email the user's address and marks it verified; an
// unknown id changes nothing and is no error. A taken address is a
// *model.DuplicateError ("email").
func (s *Store) ConfirmEmail(ctx context.Context, id uuid.UUID, email string, now time.Time) (err error) {
	defer wrap(&err, "db.ConfirmEmail")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).
		Set("email = ?", email).Set("email_key = ?", FoldKey(email)).Set("email_verified = ?", true).
		Set("updated = ?", now).Exec(ctx)
	return translate(err)
}

// SetEmailVerified marks the user's current address verified (a password
// reset mailed to it was used); an unknown id changes nothing.
func (s *Store) SetEmailVerified(ctx context.Context, id uuid.UUID) (err error) {
	defer wrap(&err, "db.SetEmailVerified")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).Set("email_verified = ?", true).Exec(ctx)
	return err
}
