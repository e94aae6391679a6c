package db

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// apiKeyRow is the api_keys table. Lists are JSON text, a form both
// engines store alike.
type apiKeyRow struct {
	bun.BaseModel `bun:"table:api_keys,alias:k"`

	ID                uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID            uuid.UUID  `bun:"user_id,type:uuid"`
	Name              string     `bun:"name"`
	KeyStart          string     `bun:"key_start"`
	Digest            []byte     `bun:"digest"`
	AllowedIPs        string     `bun:"allowed_ips"`
	UserPermissions   string     `bun:"user_permissions"`
	AdminPermissions  string     `bun:"admin_permissions"`
	ServerPermissions string     `bun:"server_permissions"`
	LastUsed          *time.Time `bun:"last_used"`
	Expires           *time.Time `bun:"expires"`
	Created           time.Time  `bun:"created"`
}

func (r *apiKeyRow) model() (*model.APIKey, error) {
	k := &model.APIKey{ID: r.ID, UserID: r.UserID, Name: r.Name, KeyStart: r.KeyStart, Digest: r.Digest,
		LastUsed: utcPtr(r.LastUsed), Expires: utcPtr(r.Expires), Created: r.Created.UTC()}
	var ips []string
	for _, f := range []struct {
		src string
		dst *[]string
	}{{r.AllowedIPs, &ips}, {r.UserPermissions, &k.UserPermissions}, {r.AdminPermissions, &k.AdminPermissions}, {r.ServerPermissions, &k.ServerPermissions}} {
		if err := json.Unmarshal([]byte(f.src), f.dst); err != nil {
			return nil, fmt.Errorf("api key %s: %w", r.ID, err)
		}
		if *f.dst == nil {
			*f.dst = []string{}
		}
	}
	k.AllowedIPs = make([]netip.Prefix, 0, len(ips))
	for _, s := range ips {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("api key %s: %w", r.ID, err)
		}
		k.AllowedIPs = append(k.AllowedIPs, p)
	}
	return k, nil
}

// apiKeyWithUser is one row of the authentication query.
type apiKeyWithUser struct {
	apiKeyRow `bun:",extend"`
	User      *userRow `bun:"rel:belongs-to,join:user_id=id"`
}

// APIKeyByKeyStart returns the key with the given lookup prefix and its
// user, in one indexed query, or nils.
func (s *Store) APIKeyByKeyStart(ctx context.Context, keyStart string) (*model.APIKey, *model.User, error) {
	var r apiKeyWithUser
	err := s.conn(ctx).NewSelect().Model(&r).Relation("User").Where("k.key_start = ?", keyStart).Scan(ctx)
	if noRows(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	k, err := r.apiKeyRow.model()
	if err != nil {
		return nil, nil, err
	}
	return k, r.User.model(), nil
}

// TouchAPIKey records a use of the key at most once per interval (see
// TouchSession).
func (s *Store) TouchAPIKey(ctx context.Context, id uuid.UUID, now, since time.Time) error {
	_, err := s.conn(ctx).NewUpdate().Model((*apiKeyRow)(nil)).Set("last_used = ?", now).
		Where("id = ?", id).Where("last_used IS NULL OR last_used < ?", since).Exec(ctx)
	return err
}

// DeleteAPIKeys deletes every API key of userID and returns how many.
func (s *Store) DeleteAPIKeys(ctx context.Context, userID uuid.UUID) (int, error) {
	res, err := s.conn(ctx).NewDelete().Model((*apiKeyRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
