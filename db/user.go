package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// userRow is the users table.
type userRow struct {
	bun.BaseModel `bun:"table:users,alias:u"`

	ID                    uuid.UUID  `bun:"id,pk,type:uuid"`
	Username              string     `bun:"username"`
	UsernameKey           string     `bun:"username_key"`
	Email                 string     `bun:"email"`
	EmailKey              string     `bun:"email_key"`
	EmailVerified         bool       `bun:"email_verified"`
	NameFirst             string     `bun:"name_first"`
	NameLast              string     `bun:"name_last"`
	Role                  *string    `bun:"role"`
	Avatar                *string    `bun:"avatar"`
	Admin                 bool       `bun:"admin"`
	Frozen                bool       `bun:"frozen"`
	Suspended             bool       `bun:"suspended"`
	Language              string     `bun:"language"`
	ToastPosition         string     `bun:"toast_position"`
	StartOnGroupedServers bool       `bun:"start_on_grouped_servers"`
	RequireTwoFactor      bool       `bun:"require_two_factor"`
	PasswordHash          *string    `bun:"password_hash"`
	TOTPEnabled           bool       `bun:"totp_enabled"`
	TOTPSecret            *string    `bun:"totp_secret"`
	TOTPLastStep          int64      `bun:"totp_last_step"`
	TOTPLastUsed          *time.Time `bun:"totp_last_used"`
	RecoverySalt          []byte     `bun:"recovery_salt"`
	Created               time.Time  `bun:"created"`
	Updated               time.Time  `bun:"updated"`
}

func (r *userRow) model() *model.User {
	return &model.User{
		ID: r.ID, Username: r.Username, Email: r.Email, EmailVerified: r.EmailVerified, NameFirst: r.NameFirst, NameLast: r.NameLast,
		Role: r.Role, Avatar: r.Avatar, Admin: r.Admin, Frozen: r.Frozen, Suspended: r.Suspended,
		Language: r.Language, ToastPosition: r.ToastPosition, StartOnGroupedServers: r.StartOnGroupedServers,
		RequireTwoFactor: r.RequireTwoFactor, PasswordHash: r.PasswordHash, TOTPEnabled: r.TOTPEnabled,
		TOTPSecret: r.TOTPSecret, TOTPLastStep: r.TOTPLastStep, TOTPLastUsed: utcPtr(r.TOTPLastUsed),
		RecoverySalt: r.RecoverySalt, Created: r.Created.UTC(),
	}
}

func userRowFrom(u *model.User) *userRow {
	return &userRow{
		ID: u.ID, Username: u.Username, UsernameKey: FoldKey(u.Username), Email: u.Email, EmailKey: FoldKey(u.Email),
		EmailVerified: u.EmailVerified, NameFirst: u.NameFirst, NameLast: u.NameLast, Role: u.Role, Avatar: u.Avatar, Admin: u.Admin,
		Frozen: u.Frozen, Suspended: u.Suspended, Language: u.Language, ToastPosition: u.ToastPosition,
		StartOnGroupedServers: u.StartOnGroupedServers, RequireTwoFactor: u.RequireTwoFactor,
		PasswordHash: u.PasswordHash, TOTPEnabled: u.TOTPEnabled, TOTPSecret: u.TOTPSecret,
		TOTPLastStep: u.TOTPLastStep, TOTPLastUsed: u.TOTPLastUsed, Created: u.Created, Updated: u.Created,
	}
}

// CreateUser inserts u. With firstIsAdmin, u becomes an admin exactly when
// no other user exists; the check and the insert are one statement inside
// a transaction that (on PostgreSQL) holds an advisory lock, so two
// simultaneous first sign-ups cannot both become admin. A taken username
// or e-mail address is a *model.DuplicateError ("username", "email").
func (s *Store) CreateUser(ctx context.Context, u *model.User, firstIsAdmin bool) (err error) {
	defer wrap(&err, "db.CreateUser")
	return s.InTx(ctx, func(ctx context.Context) error {
		if firstIsAdmin {
			if s.dialect == Postgres {
				if _, err := s.conn(ctx).ExecContext(ctx, "SELECT pg_advisory_xact_lock(?)", int64(7_351_842_210)); err != nil {
					return err
				}
			}
			exists, err := s.conn(ctx).NewSelect().Model((*userRow)(nil)).Limit(1).Exists(ctx)
			if err != nil {
				return err
			}
			u.Admin = !exists
		}
		_, err := s.conn(ctx).NewInsert().Model(userRowFrom(u)).Exec(ctx)
		return translate(err)
	})
}

// UserByID returns the user with id, or nil, nil.
func (s *Store) UserByID(ctx context.Context, id uuid.UUID) (_ *model.User, err error) {
	defer wrap(&err, "db.UserByID")
	var r userRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model(), nil
}

// UserByLogin returns the user whose username (or, with byEmail, e-mail
// address) matches login case-insensitively, or nil, nil.
func (s *Store) UserByLogin(ctx context.Context, login string, byEmail bool) (_ *model.User, err error) {
	defer wrap(&err, "db.UserByLogin")
	col := "username_key"
	if byEmail {
		col = "email_key"
	}
	var r userRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("? = ?", bun.Ident(col), FoldKey(login)).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model(), nil
}

// UpdateUser writes only the fields p sets; an unknown id changes nothing
// and is no error. A taken username is a *model.DuplicateError
// ("username").
func (s *Store) UpdateUser(ctx context.Context, id uuid.UUID, p model.UserPatch, now time.Time) (err error) {
	defer wrap(&err, "db.UpdateUser")
	if p.Empty() {
		return nil
	}
	q := s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).Set("updated = ?", now)
	if p.Username != nil {
		q = q.Set("username = ?", *p.Username).Set("username_key = ?", FoldKey(*p.Username))
	}
	if p.NameFirst != nil {
		q = q.Set("name_first = ?", *p.NameFirst)
	}
	if p.NameLast != nil {
		q = q.Set("name_last = ?", *p.NameLast)
	}
	if p.Language != nil {
		q = q.Set("language = ?", *p.Language)
	}
	if p.ToastPosition != nil {
		q = q.Set("toast_position = ?", *p.ToastPosition)
	}
	if p.StartOnGroupedServers != nil {
		q = q.Set("start_on_grouped_servers = ?", *p.StartOnGroupedServers)
	}
	_, err = q.Exec(ctx)
	return translate(err)
}

// SetEmail changes a user's e-mail address; an unknown id changes nothing
// and is no error. A taken address is a *model.DuplicateError ("email").
// Nobody has confirmed the new address, so it is not verified, unless it
// is the old one in other letter case (the same mailbox).
func (s *Store) SetEmail(ctx context.Context, id uuid.UUID, email string, now time.Time) (err error) {
	defer wrap(&err, "db.SetEmail")
	key := FoldKey(email)
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).
		Set("email_verified = CASE WHEN email_key = ? THEN email_verified ELSE ? END", key, false).
		Set("email = ?", email).Set("email_key = ?", key).Set("updated = ?", now).Exec(ctx)
	return translate(err)
}

// SetPasswordHash replaces a user's password hash; an unknown id changes
// nothing and is no error.
func (s *Store) SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, now time.Time) (err error) {
	defer wrap(&err, "db.SetPasswordHash")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).
		Set("password_hash = ?", hash).Set("updated = ?", now).Exec(ctx)
	return err
}

// UpgradePasswordHash replaces a user's hash only if it is still old, so a
// concurrent password change is never overwritten by a login's rehash.
// When it is no longer old (or the id is unknown) it writes nothing and
// returns no error.
func (s *Store) UpgradePasswordHash(ctx context.Context, id uuid.UUID, old, hash string) (err error) {
	defer wrap(&err, "db.UpgradePasswordHash")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).Where("password_hash = ?", old).
		Set("password_hash = ?", hash).Exec(ctx)
	return err
}

// SetUserFlags sets the operator-controlled states of a user (admin,
// frozen, suspended); used by sub-commands and tests. An unknown id
// changes nothing and is no error.
func (s *Store) SetUserFlags(ctx context.Context, id uuid.UUID, admin, frozen, suspended bool) (err error) {
	defer wrap(&err, "db.SetUserFlags")
	_, err = s.conn(ctx).NewUpdate().Model((*userRow)(nil)).Where("id = ?", id).
		Set("admin = ?", admin).Set("frozen = ?", frozen).Set("suspended = ?", suspended).Exec(ctx)
	return err
}
