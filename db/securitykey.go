package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"modernc.org/sqlite"

	"accountd/model"
)

// securityKeyRow is the security_keys table: WebAuthn credentials, and
// pending registrations (no credential_id yet, a challenge).
type securityKeyRow struct {
	bun.BaseModel `bun:"table:security_keys,alias:sk"`

	ID                uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID            uuid.UUID  `bun:"user_id,type:uuid"`
	Name              string     `bun:"name"`
	CredentialID      []byte     `bun:"credential_id"`
	PublicKey         []byte     `bun:"public_key"`
	SignCount         int64      `bun:"sign_count"`
	BackupEligible    bool       `bun:"backup_eligible"`
	BackupState       bool       `bun:"backup_state"`
	AAGUID            []byte     `bun:"aaguid"`
	Transports        string     `bun:"transports"`
	AttestationFormat string     `bun:"attestation_format"`
	Challenge         []byte     `bun:"challenge"`
	LastUsed          *time.Time `bun:"last_used"`
	Created           time.Time  `bun:"created"`
}

func (r *securityKeyRow) model() (*model.SecurityKey, error) {
	k := &model.SecurityKey{ID: r.ID, UserID: r.UserID, Name: r.Name, CredentialID: r.CredentialID, PublicKey: r.PublicKey,
		SignCount: uint32(r.SignCount), BackupEligible: r.BackupEligible, BackupState: r.BackupState, AAGUID: r.AAGUID,
		AttestationFormat: r.AttestationFormat, Challenge: r.Challenge, LastUsed: utcPtr(r.LastUsed), Created: r.Created.UTC()}
	if err := json.Unmarshal([]byte(r.Transports), &k.Transports); err != nil {
		return nil, fmt.Errorf("security key %s: %w", r.ID, err)
	}
	if k.Transports == nil {
		k.Transports = []string{}
	}
	return k, nil
}

// configuredKey is the condition of a key whose registration finished.
const configuredKey = "sk.credential_id IS NOT NULL"

// translateSecurityKey is translate for the security_keys table, whose
// unique indexes translate does not name: a taken name is "name", a taken
// credential "credential_id".
func translateSecurityKey(err error) error {
	var pgErr *pgconn.PgError
	var sqlErr *sqlite.Error
	var where string
	switch {
	case errors.As(err, &pgErr):
		where = pgErr.ConstraintName
	case errors.As(err, &sqlErr):
		where = sqlErr.Error()
	}
	err = translate(err)
	var dup *model.DuplicateError
	if !errors.As(err, &dup) {
		return err
	}
	switch {
	case strings.Contains(where, "credential_id"):
		return &model.DuplicateError{Field: "credential_id"}
	case strings.Contains(where, "security_keys_user_name"), strings.Contains(where, "security_keys.name"):
		return &model.DuplicateError{Field: "name"}
	}
	return err
}

// CreateSecurityKey stores a pending key. A name userID already uses is a
// *model.DuplicateError ("name").
func (s *Store) CreateSecurityKey(ctx context.Context, k *model.SecurityKey) (err error) {
	defer wrap(&err, "db.CreateSecurityKey")
	_, err = s.conn(ctx).NewInsert().Model(&securityKeyRow{ID: k.ID, UserID: k.UserID, Name: k.Name,
		Transports: jsonList(k.Transports), Challenge: k.Challenge, Created: k.Created}).Exec(ctx)
	return translateSecurityKey(err)
}

// DeletePendingSecurityKey deletes userID's pending key named name, if any.
func (s *Store) DeletePendingSecurityKey(ctx context.Context, userID uuid.UUID, name string) (err error) {
	defer wrap(&err, "db.DeletePendingSecurityKey")
	_, err = s.conn(ctx).NewDelete().Model((*securityKeyRow)(nil)).Where("user_id = ?", userID).Where("name = ?", name).
		Where("credential_id IS NULL").Exec(ctx)
	return err
}

// CountSecurityKeys counts userID's keys, pending ones too unless
// configuredOnly.
func (s *Store) CountSecurityKeys(ctx context.Context, userID uuid.UUID, configuredOnly bool) (_ int, err error) {
	defer wrap(&err, "db.CountSecurityKeys")
	q := s.conn(ctx).NewSelect().Model((*securityKeyRow)(nil)).Where("sk.user_id = ?", userID)
	if configuredOnly {
		q = q.Where(configuredKey)
	}
	return count(ctx, q)
}

// SecurityKeyByID returns one of userID's keys, pending or not, or nil,
// nil. Another user's key id matches nothing.
func (s *Store) SecurityKeyByID(ctx context.Context, userID, id uuid.UUID) (_ *model.SecurityKey, err error) {
	defer wrap(&err, "db.SecurityKeyByID")
	return s.oneSecurityKey(ctx, s.conn(ctx).NewSelect().Where("sk.id = ?", id).Where("sk.user_id = ?", userID))
}

// SecurityKeyByCredentialID returns the configured key holding the
// credential, or nil, nil.
func (s *Store) SecurityKeyByCredentialID(ctx context.Context, credentialID []byte) (_ *model.SecurityKey, err error) {
	defer wrap(&err, "db.SecurityKeyByCredentialID")
	return s.oneSecurityKey(ctx, s.conn(ctx).NewSelect().Where("sk.credential_id = ?", credentialID))
}

func (s *Store) oneSecurityKey(ctx context.Context, q *bun.SelectQuery) (*model.SecurityKey, error) {
	var r securityKeyRow
	err := q.Model(&r).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model()
}

// FinishSecurityKey stores a verified credential in the pending key k.ID
// and reports whether the key was still pending (false: finished by
// another request, or deleted). A credential any key holds is a
// *model.DuplicateError ("credential_id").
func (s *Store) FinishSecurityKey(ctx context.Context, k *model.SecurityKey) (_ bool, err error) {
	defer wrap(&err, "db.FinishSecurityKey")
	ok, err := affected(s.conn(ctx).NewUpdate().Model((*securityKeyRow)(nil)).
		Set("credential_id = ?", k.CredentialID).Set("public_key = ?", k.PublicKey).Set("sign_count = ?", int64(k.SignCount)).
		Set("backup_eligible = ?", k.BackupEligible).Set("backup_state = ?", k.BackupState).Set("aaguid = ?", k.AAGUID).
		Set("transports = ?", jsonList(k.Transports)).Set("attestation_format = ?", k.AttestationFormat).
		Set("challenge = NULL").
		Where("id = ?", k.ID).Where("credential_id IS NULL").Exec(ctx))
	return ok, translateSecurityKey(err)
}

// CredentialIDs returns the credential IDs of the configured keys of
// userIDs, oldest key first; none for no users.
func (s *Store) CredentialIDs(ctx context.Context, userIDs []uuid.UUID) (_ [][]byte, err error) {
	defer wrap(&err, "db.CredentialIDs")
	out := [][]byte{}
	if len(userIDs) == 0 {
		return out, nil
	}
	in, list := s.anyOf("sk.user_id", userIDs)
	err = s.conn(ctx).NewSelect().Model((*securityKeyRow)(nil)).Column("sk.credential_id").Where(in, list).
		Where(configuredKey).OrderExpr("sk.created ASC, sk.id ASC").Scan(ctx, &out)
	return out, err
}

// ListSecurityKeys returns a page of userID's configured keys, oldest
// first, and whether more follow.
func (s *Store) ListSecurityKeys(ctx context.Context, userID uuid.UUID, lq model.ListQuery) (_ []*model.SecurityKey, more bool, err error) {
	defer wrap(&err, "db.ListSecurityKeys")
	var rows []securityKeyRow
	q := s.conn(ctx).NewSelect().Model(&rows).Where("sk.user_id = ?", userID).Where(configuredKey)
	if err = s.applyList(q, lq, listOrder{timeCol: "sk.created", idCol: "sk.id", searchCol: "sk.name"}).Scan(ctx); err != nil {
		return nil, false, err
	}
	rows, more = trimPage(rows, lq.Limit())
	out := make([]*model.SecurityKey, len(rows))
	for i := range rows {
		if out[i], err = rows[i].model(); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}

// CountListedSecurityKeys counts userID's configured keys whose name
// contains search.
func (s *Store) CountListedSecurityKeys(ctx context.Context, userID uuid.UUID, search string) (_ int, err error) {
	defer wrap(&err, "db.CountListedSecurityKeys")
	q := s.conn(ctx).NewSelect().Model((*securityKeyRow)(nil)).Where("sk.user_id = ?", userID).Where(configuredKey)
	return count(ctx, s.applySearch(q, search, "sk.name"))
}

// RenameSecurityKey sets a key's name. A name the user already uses is a
// *model.DuplicateError ("name").
func (s *Store) RenameSecurityKey(ctx context.Context, id uuid.UUID, name string) (err error) {
	defer wrap(&err, "db.RenameSecurityKey")
	_, err = s.conn(ctx).NewUpdate().Model((*securityKeyRow)(nil)).Set("name = ?", name).Where("id = ?", id).Exec(ctx)
	return translateSecurityKey(err)
}

// DeleteSecurityKey deletes one of userID's keys and reports whether it
// existed.
func (s *Store) DeleteSecurityKey(ctx context.Context, userID, id uuid.UUID) (_ bool, err error) {
	defer wrap(&err, "db.DeleteSecurityKey")
	return affected(s.conn(ctx).NewDelete().Model((*securityKeyRow)(nil)).Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx))
}

// UseSecurityKey records a verified sign-in: the counter, the backup state
// and the time, unless a higher counter was stored meanwhile (a counter
// of 0 is accepted while the stored one is 0: authenticators without a
// counter). It reports whether it wrote; false for a deleted key too.
func (s *Store) UseSecurityKey(ctx context.Context, id uuid.UUID, signCount uint32, backupState bool, now time.Time) (_ bool, err error) {
	defer wrap(&err, "db.UseSecurityKey")
	q := s.conn(ctx).NewUpdate().Model((*securityKeyRow)(nil)).
		Set("sign_count = ?", int64(signCount)).Set("backup_state = ?", backupState).Set("last_used = ?", now).
		Where("id = ?", id).Where("credential_id IS NOT NULL")
	if signCount == 0 {
		q = q.Where("sign_count = 0")
	} else {
		q = q.Where("sign_count < ?", int64(signCount))
	}
	return affected(q.Exec(ctx))
}

// DeletePendingSecurityKeys deletes at most limit pending keys whose
// registration began before the given time, and returns how many.
func (s *Store) DeletePendingSecurityKeys(ctx context.Context, createdBefore time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeletePendingSecurityKeys")
	return s.purge(ctx, (*securityKeyRow)(nil), "sk", "sk.credential_id IS NULL AND sk.created < ?", limit, createdBefore)
}

// ceremonyRow is the security_key_ceremonies table.
type ceremonyRow struct {
	bun.BaseModel `bun:"table:security_key_ceremonies,alias:skc"`

	ID           uuid.UUID  `bun:"id,pk,type:uuid"`
	Kind         string     `bun:"kind"`
	Challenge    []byte     `bun:"challenge"`
	UserIDs      string     `bun:"user_ids"`
	LoginTokenID *uuid.UUID `bun:"login_token_id,type:uuid"`
	Expires      time.Time  `bun:"expires"`
	Created      time.Time  `bun:"created"`
}

func (r *ceremonyRow) model() (*model.SecurityKeyCeremony, error) {
	c := &model.SecurityKeyCeremony{ID: r.ID, Kind: model.CeremonyKind(r.Kind), Challenge: r.Challenge,
		LoginTokenID: r.LoginTokenID, Expires: r.Expires.UTC(), Created: r.Created.UTC()}
	if err := json.Unmarshal([]byte(r.UserIDs), &c.UserIDs); err != nil {
		return nil, fmt.Errorf("ceremony %s: %w", r.ID, err)
	}
	return c, nil
}

// CreateCeremony stores a sign-in ceremony.
func (s *Store) CreateCeremony(ctx context.Context, c *model.SecurityKeyCeremony) (err error) {
	defer wrap(&err, "db.CreateCeremony")
	ids := c.UserIDs
	if ids == nil {
		ids = []uuid.UUID{}
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = s.conn(ctx).NewInsert().Model(&ceremonyRow{ID: c.ID, Kind: string(c.Kind), Challenge: c.Challenge,
		UserIDs: string(b), LoginTokenID: c.LoginTokenID, Expires: c.Expires, Created: c.Created}).Exec(ctx)
	return translate(err)
}

// ConsumeCeremony deletes a ceremony and returns it; nil, nil when it is
// gone. Of two concurrent answers to one challenge exactly one gets it.
func (s *Store) ConsumeCeremony(ctx context.Context, id uuid.UUID) (_ *model.SecurityKeyCeremony, err error) {
	defer wrap(&err, "db.ConsumeCeremony")
	return s.consumeCeremony(ctx, "id = ?", id)
}

// ConsumeCheckpointCeremony is ConsumeCeremony for the ceremony of a
// confirmation token.
func (s *Store) ConsumeCheckpointCeremony(ctx context.Context, loginTokenID uuid.UUID) (_ *model.SecurityKeyCeremony, err error) {
	defer wrap(&err, "db.ConsumeCheckpointCeremony")
	return s.consumeCeremony(ctx, "login_token_id = ?", loginTokenID)
}

func (s *Store) consumeCeremony(ctx context.Context, cond string, arg any) (*model.SecurityKeyCeremony, error) {
	var rows []ceremonyRow
	if _, err := s.conn(ctx).NewDelete().Model(&rows).Where(cond, arg).Returning("*").Exec(ctx, &rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return rows[0].model()
}

// DeleteCheckpointCeremonies deletes the ceremonies of a confirmation
// token.
func (s *Store) DeleteCheckpointCeremonies(ctx context.Context, loginTokenID uuid.UUID) (err error) {
	defer wrap(&err, "db.DeleteCheckpointCeremonies")
	_, err = s.conn(ctx).NewDelete().Model((*ceremonyRow)(nil)).Where("login_token_id = ?", loginTokenID).Exec(ctx)
	return err
}

// DeleteExpiredCeremonies deletes at most limit ceremonies that expired at
// or before now, and returns how many.
func (s *Store) DeleteExpiredCeremonies(ctx context.Context, now time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteExpiredCeremonies")
	return s.purge(ctx, (*ceremonyRow)(nil), "skc", "skc.expires < ?", limit, now)
}
