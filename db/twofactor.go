package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"
)

// The two-factor state lives in the users table (totp_* columns and
// recovery_salt); the recovery codes themselves are in recoverycode.go and
// the tokens of the login checkpoint in logintoken.go.

// EnsurePendingTOTPSecret makes secret the pending one, created at now,
// unless two-factor is enabled or the pending secret was created after
// staleBefore; it returns the pending secret in effect afterwards (the one
// kept or secret), or "" when two-factor is enabled or the user unknown.
// The update is conditional, so two setups racing on a stale or missing
// secret agree on one: on PostgreSQL the second re-checks the row the
// first wrote and finds it fresh; on SQLite writes take turns.
func (s *Store) EnsurePendingTOTPSecret(ctx context.Context, userID uuid.UUID, secret string, now, staleBefore time.Time) (_ string, err error) {
	defer wrap(&err, "db.EnsurePendingTOTPSecret")
	var pending string
	err = s.InTx(ctx, func(ctx context.Context) error {
		wrote, err := affected(s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
			Set("totp_secret = ?", secret).Set("totp_secret_created = ?", now).
			Where("id = ?", userID).Where("totp_enabled = ?", false).
			WhereGroup(" AND ", func(q *bun.UpdateQuery) *bun.UpdateQuery {
				return q.Where("totp_secret IS NULL").WhereOr("totp_secret_created IS NULL").
					WhereOr("totp_secret_created <= ?", staleBefore)
			}).Exec(ctx))
		if err != nil || wrote {
			pending = secret
			return err
		}
		var row userRow
		err = s.conn(ctx).NewSelect().Model(&row).Column("totp_enabled", "totp_secret").
			Where("id = ?", userID).Scan(ctx)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return nil
		case err != nil:
			return err
		case !row.TOTPEnabled && row.TOTPSecret != nil:
			pending = *row.TOTPSecret
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return pending, nil
}

// EnableTwoFactor turns two-factor on with the pending secret it was
// confirmed with, recording the step of the confirming code. It is a
// compare-and-set: it writes only if two-factor is still off, the pending
// secret is still secret, and the step is later than any used before; it
// reports whether it wrote.
func (s *Store) EnableTwoFactor(ctx context.Context, userID uuid.UUID, secret string, step int64, now time.Time, salt []byte) (_ bool, err error) {
	defer wrap(&err, "db.EnableTwoFactor")
	return affected(s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_enabled = ?", true).Set("totp_last_step = ?", step).Set("totp_last_used = ?", now).
		Set("recovery_salt = ?", salt).Set("totp_secret_created = NULL").Set("updated = ?", now).
		Where("id = ?", userID).Where("totp_enabled = ?", false).Where("totp_secret = ?", secret).
		Where("totp_last_step < ?", step).Exec(ctx))
}

// UseTOTPStep records that a code of step was accepted, unless a code of
// that step or a later one already was (or two-factor is off): the
// compare-and-set that makes every code single-use, even for two requests
// at the same instant. It reports whether it wrote.
func (s *Store) UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64, now time.Time) (_ bool, err error) {
	defer wrap(&err, "db.UseTOTPStep")
	return affected(s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_last_step = ?", step).Set("totp_last_used = ?", now).
		Where("id = ?", userID).Where("totp_enabled = ?", true).Where("totp_last_step < ?", step).Exec(ctx))
}

// DisableTwoFactor turns two-factor off and forgets its secret, recovery
// codes and last use. The last used step is kept, so a code accepted
// before cannot be accepted again after a quick re-enable. It reports
// false, nil when two-factor was not on.
func (s *Store) DisableTwoFactor(ctx context.Context, userID uuid.UUID, now time.Time) (_ bool, err error) {
	defer wrap(&err, "db.DisableTwoFactor")
	ok, err := affected(s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set("totp_enabled = ?", false).Set("totp_secret = NULL").Set("totp_secret_created = NULL").Set("totp_last_used = NULL").
		Set("recovery_salt = NULL").Set("updated = ?", now).
		Where("id = ?", userID).Where("totp_enabled = ?", true).Exec(ctx))
	if !ok || err != nil {
		return ok, err
	}
	_, err = s.conn(ctx).NewDelete().Model((*recoveryCodeRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
	return true, err
}

// SetTwoFactor records a user's two-factor state as given, without the
// checks of EnableTwoFactor; an unknown id changes nothing and is no error.
// A secret written this way has no creation time, so a setup replaces it
// rather than handing it out.
func (s *Store) SetTwoFactor(ctx context.Context, id uuid.UUID, enabled bool, secret *string) (err error) {
	defer wrap(&err, "db.SetTwoFactor")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).
		Set("totp_enabled = ?", enabled).Set("totp_secret = ?", secret).Set("totp_secret_created = NULL").Exec(ctx)
	return err
}
