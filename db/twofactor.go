package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// The two-factor state lives in the users table (totp_* columns and
// recovery_salt); the recovery codes themselves are in recoverycode.go and
// the tokens of the login checkpoint in logintoken.go.

// SetPendingTOTPSecret stores the secret a setup hands out, unless
// two-factor is already enabled; it reports whether it wrote (false, nil
// also for an unknown user).
func (s *Store) SetPendingTOTPSecret(ctx context.Context, userID uuid.UUID, secret string) (_ bool, err error) {
	defer wrap(&err, "db.SetPendingTOTPSecret")
	return affected(s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Set("totp_secret = ?", secret).
		Where("id = ?", userID).Where("totp_enabled = ?", false).Exec(ctx))
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
		Set("recovery_salt = ?", salt).Set("updated = ?", now).
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
		Set("totp_enabled = ?", false).Set("totp_secret = NULL").Set("totp_last_used = NULL").
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
func (s *Store) SetTwoFactor(ctx context.Context, id uuid.UUID, enabled bool, secret *string) (err error) {
	defer wrap(&err, "db.SetTwoFactor")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).
		Set("totp_enabled = ?", enabled).Set("totp_secret = ?", secret).Exec(ctx)
	return err
}
