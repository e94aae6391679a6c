package db

import (
	"context"
	"database/sql"
	"errors"

	"accountd/model"
)

// The authentication read is the one query every authenticated request
// makes, so it is written by hand: fixed SQL with a bound parameter
// (prepared once per connection, its plan cached), scanned straight into
// the row structs without bun's query building and reflection. On
// PostgreSQL it runs on the pool directly, without database/sql's value
// conversions. Everything else about it is as for any Store method.

const authUserColumns = `u.id, u.username, u.username_key, u.email, u.email_key, u.email_verified, u.name_first, u.name_last,
	u.role, u.avatar, u.admin, u.frozen, u.suspended, u.language, u.toast_position,
	u.start_on_grouped_servers, u.require_two_factor, u.password_hash, u.totp_enabled, u.totp_secret,
	u.totp_last_step, u.totp_last_used, u.recovery_salt, u.created, u.updated`

const sessionAuthQuery = `SELECT s.id, s.user_id, s.key_start, s.digest, s.ip, s.user_agent, s.last_used,
	s.created, s.device_id, ` + authUserColumns + `
FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.key_start = $1`

const apiKeyAuthQuery = `SELECT k.id, k.user_id, k.name, k.key_start, k.digest, k.allowed_ips,
	k.user_permissions, k.admin_permissions, k.server_permissions, k.last_used, k.expires, k.created, ` + authUserColumns + `
FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_start = $1`

// targets are the scan destinations of authUserColumns, in order.
func (r *userRow) targets(dst []any) []any {
	return append(dst, &r.ID, &r.Username, &r.UsernameKey, &r.Email, &r.EmailKey, &r.EmailVerified, &r.NameFirst, &r.NameLast,
		&r.Role, &r.Avatar, &r.Admin, &r.Frozen, &r.Suspended, &r.Language, &r.ToastPosition,
		&r.StartOnGroupedServers, &r.RequireTwoFactor, &r.PasswordHash, &r.TOTPEnabled, &r.TOTPSecret,
		&r.TOTPLastStep, &r.TOTPLastUsed, &r.RecoverySalt, &r.Created, &r.Updated)
}

// authRow is one row of either authentication query.
type authRow struct {
	session sessionRow
	key     apiKeyRow
	user    userRow
	dst     [40]any
}

func (r *authRow) sessionTargets() []any {
	s := &r.session
	return r.user.targets(append(r.dst[:0], &s.ID, &s.UserID, &s.KeyStart, &s.Digest, &s.IP, &s.UserAgent,
		&s.LastUsed, &s.Created, &s.DeviceID))
}

func (r *authRow) keyTargets() []any {
	k := &r.key
	return r.user.targets(append(r.dst[:0], &k.ID, &k.UserID, &k.Name, &k.KeyStart, &k.Digest, &k.AllowedIPs,
		&k.UserPermissions, &k.AdminPermissions, &k.ServerPermissions, &k.LastUsed, &k.Expires, &k.Created))
}

// SessionByKeyStart returns the session with the given lookup prefix and
// its user, in one indexed query (the per-request authentication cost), or
// nil, nil, nil. Idle sessions are returned too.
func (s *Store) SessionByKeyStart(ctx context.Context, keyStart string) (_ *model.Session, _ *model.User, err error) {
	defer wrap(&err, "db.SessionByKeyStart")
	var r authRow
	found, err := s.authRead(ctx, sessionAuthQuery, keyStart, r.sessionTargets())
	if !found || err != nil {
		return nil, nil, err
	}
	return r.session.model(), r.user.model(), nil
}

// APIKeyByKeyStart returns the key with the given lookup prefix and its
// user, in one indexed query, or nil, nil, nil. Expired keys are returned
// too.
func (s *Store) APIKeyByKeyStart(ctx context.Context, keyStart string) (_ *model.APIKey, _ *model.User, err error) {
	defer wrap(&err, "db.APIKeyByKeyStart")
	var r authRow
	found, err := s.authRead(ctx, apiKeyAuthQuery, keyStart, r.keyTargets())
	if !found || err != nil {
		return nil, nil, err
	}
	k, err := r.key.model()
	if err != nil {
		return nil, nil, err
	}
	return k, r.user.model(), nil
}

// authRead runs one authentication query and reports whether it found a
// row. A transaction in ctx is not used: authentication never runs in one.
func (s *Store) authRead(ctx context.Context, query, keyStart string, dst []any) (bool, error) {
	s.open.counts.all.Add(1)
	if s.open.pool == nil {
		err := s.db.DB.QueryRowContext(ctx, query, keyStart).Scan(dst...)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	}
	rows, err := s.open.pool.Query(ctx, query, keyStart)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if !decodeAuthRow(rows.FieldDescriptions(), rows.RawValues(), dst) {
		if err := rows.Scan(dst...); err != nil {
			return false, err
		}
	}
	rows.Close()
	return true, rows.Err()
}
