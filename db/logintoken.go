package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// loginTokenRow is the login_tokens table: the short-lived token a
// password sign-in of a two-factor account hands out, to be confirmed with
// a code at the checkpoint.
type loginTokenRow struct {
	bun.BaseModel `bun:"table:login_tokens,alias:lt"`

	ID       uuid.UUID `bun:"id,pk,type:uuid"`
	UserID   uuid.UUID `bun:"user_id,type:uuid"`
	KeyStart string    `bun:"key_start"`
	Digest   []byte    `bun:"digest"`
	Attempts int       `bun:"attempts"`
	Expires  time.Time `bun:"expires"`
	Created  time.Time `bun:"created"`
}

// loginTokenWithUser is one row of the checkpoint's lookup.
type loginTokenWithUser struct {
	loginTokenRow `bun:",extend"`
	User          *userRow `bun:"rel:belongs-to,join:user_id=id"`
}

// CreateLoginToken stores a two-factor confirmation token. A taken lookup
// prefix is a *model.DuplicateError ("key_start").
func (s *Store) CreateLoginToken(ctx context.Context, t *model.LoginToken) (err error) {
	defer wrap(&err, "db.CreateLoginToken")
	_, err = s.conn(ctx).NewInsert().Model(&loginTokenRow{ID: t.ID, UserID: t.UserID, KeyStart: t.KeyStart,
		Digest: t.Digest, Attempts: t.Attempts, Expires: t.Expires, Created: t.Created}).Exec(ctx)
	return translate(err)
}

// LoginTokenByKeyStart returns the confirmation token with the given lookup
// prefix and its user, or nil, nil, nil. Expired tokens are returned too.
func (s *Store) LoginTokenByKeyStart(ctx context.Context, keyStart string) (_ *model.LoginToken, _ *model.User, err error) {
	defer wrap(&err, "db.LoginTokenByKeyStart")
	var r loginTokenWithUser
	err = s.conn(ctx).NewSelect().Model(&r).Relation("User").Where("lt.key_start = ?", keyStart).Scan(ctx)
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
// unless it has used max already; it reports whether the attempt may go on
// (false, nil also for an unknown token).
func (s *Store) CountLoginTokenAttempt(ctx context.Context, id uuid.UUID, max int) (_ bool, err error) {
	defer wrap(&err, "db.CountLoginTokenAttempt")
	return affected(s.conn(ctx).NewUpdate().Model((*loginTokenRow)(nil)).Set("attempts = attempts + 1").
		Where("id = ?", id).Where("attempts < ?", max).Exec(ctx))
}

// ConsumeLoginToken deletes a confirmation token and reports whether it
// was still there (false, nil if not): the single use of the token.
func (s *Store) ConsumeLoginToken(ctx context.Context, id uuid.UUID) (_ bool, err error) {
	defer wrap(&err, "db.ConsumeLoginToken")
	return affected(s.conn(ctx).NewDelete().Model((*loginTokenRow)(nil)).Where("id = ?", id).Exec(ctx))
}

// DeleteLoginTokens deletes every pending confirmation token of userID;
// none is no error.
func (s *Store) DeleteLoginTokens(ctx context.Context, userID uuid.UUID) (err error) {
	defer wrap(&err, "db.DeleteLoginTokens")
	_, err = s.conn(ctx).NewDelete().Model((*loginTokenRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
	return err
}

// DeleteExpiredLoginTokens deletes at most limit confirmation tokens that
// expired at or before now and returns how many.
func (s *Store) DeleteExpiredLoginTokens(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteExpiredLoginTokens")
	return s.purge(ctx, (*loginTokenRow)(nil), "lt", "lt.expires <= ?", limit, now)
}
