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
		if f.src == "[]" {
			// Most keys have no allowed IPs and no admin or server
			// permissions: no decoding for those, on every request.
			*f.dst = []string{}
			continue
		}
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

// jsonList encodes a list column; nil is stored as [].
func jsonList(list []string) string {
	if len(list) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(list) // a []string always encodes
	return string(b)
}

// prefixStrings renders allowed networks for storage.
func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// liveKey is the condition of a key that has not expired at now.
const liveKey = "(k.expires IS NULL OR k.expires > ?)"

// TouchAPIKey records a use of the key at most once per interval (see
// TouchSession); an unknown key changes nothing and is no error.
func (s *Store) TouchAPIKey(ctx context.Context, id uuid.UUID, now, since time.Time) (err error) {
	defer wrap(&err, "db.TouchAPIKey")
	_, err = s.conn(ctx).NewUpdate().Model((*apiKeyRow)(nil)).Set("last_used = ?", now).
		Where("id = ?", id).Where("last_used IS NULL OR last_used < ?", since).Exec(ctx)
	return err
}

// CreateAPIKey stores a new key. A name userID already uses, or a taken
// lookup prefix, is a *model.DuplicateError ("name", "key_start").
func (s *Store) CreateAPIKey(ctx context.Context, k *model.APIKey) (err error) {
	defer wrap(&err, "db.CreateAPIKey")
	_, err = s.conn(ctx).NewInsert().Model(&apiKeyRow{
		ID: k.ID, UserID: k.UserID, Name: k.Name, KeyStart: k.KeyStart, Digest: k.Digest,
		AllowedIPs: jsonList(prefixStrings(k.AllowedIPs)), UserPermissions: jsonList(k.UserPermissions),
		AdminPermissions: jsonList(k.AdminPermissions), ServerPermissions: jsonList(k.ServerPermissions),
		LastUsed: k.LastUsed, Expires: k.Expires, Created: k.Created,
	}).Exec(ctx)
	return translate(err)
}

// CountLiveAPIKeys counts userID's keys that have not expired at now: the
// keys the quota counts.
func (s *Store) CountLiveAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time) (_ int, err error) {
	defer wrap(&err, "db.CountLiveAPIKeys")
	return count(ctx, s.conn(ctx).NewSelect().Model((*apiKeyRow)(nil)).Where("k.user_id = ?", userID).
		Where(liveKey, now))
}

// APIKeyByID returns one of userID's live keys, or nil, nil. Another
// user's key id matches nothing.
func (s *Store) APIKeyByID(ctx context.Context, userID, id uuid.UUID, now time.Time) (_ *model.APIKey, err error) {
	defer wrap(&err, "db.APIKeyByID")
	return s.oneAPIKey(ctx, s.conn(ctx).NewSelect().Where("k.id = ?", id).Where("k.user_id = ?", userID).Where(liveKey, now))
}

// UserAPIKeyByKeyStart returns the live key of userID with the given
// lookup prefix, or nil, nil.
func (s *Store) UserAPIKeyByKeyStart(ctx context.Context, userID uuid.UUID, keyStart string, now time.Time) (_ *model.APIKey, err error) {
	defer wrap(&err, "db.UserAPIKeyByKeyStart")
	return s.oneAPIKey(ctx, s.conn(ctx).NewSelect().Where("k.key_start = ?", keyStart).Where("k.user_id = ?", userID).Where(liveKey, now))
}

// oneAPIKey runs q for a single key, returning nil, nil when nothing matches.
func (s *Store) oneAPIKey(ctx context.Context, q *bun.SelectQuery) (*model.APIKey, error) {
	var r apiKeyRow
	err := q.Model(&r).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model()
}

// ListAPIKeys returns a page of userID's live keys, oldest first, and
// whether more follow; an empty page when nothing matches.
func (s *Store) ListAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time, lq model.ListQuery) (_ []*model.APIKey, more bool, err error) {
	defer wrap(&err, "db.ListAPIKeys")
	var rows []apiKeyRow
	q := s.conn(ctx).NewSelect().Model(&rows).Where("k.user_id = ?", userID).Where(liveKey, now)
	err = s.applyList(q, lq, listOrder{timeCol: "k.created", idCol: "k.id", searchCol: "k.name"}).Scan(ctx)
	if err != nil {
		return nil, false, err
	}
	rows, more = trimPage(rows, lq.Limit())
	out := make([]*model.APIKey, len(rows))
	for i := range rows {
		if out[i], err = rows[i].model(); err != nil {
			return nil, false, err
		}
	}
	return out, more, nil
}

// CountAPIKeys counts userID's live keys whose name contains search.
func (s *Store) CountAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time, search string) (_ int, err error) {
	defer wrap(&err, "db.CountAPIKeys")
	q := s.conn(ctx).NewSelect().Model((*apiKeyRow)(nil)).Where("k.user_id = ?", userID).Where(liveKey, now)
	return count(ctx, s.applySearch(q, search, "k.name"))
}

// UpdateAPIKey writes the fields a patch sets, and only those, so that
// concurrent edits of different fields both survive. An unknown id changes
// nothing and is no error; a name the user already uses is a
// *model.DuplicateError ("name").
func (s *Store) UpdateAPIKey(ctx context.Context, id uuid.UUID, p model.APIKeyPatch) (err error) {
	defer wrap(&err, "db.UpdateAPIKey")
	q := s.conn(ctx).NewUpdate().Model((*apiKeyRow)(nil)).Where("id = ?", id)
	if p.Name != nil {
		q = q.Set("name = ?", *p.Name)
	}
	if p.AllowedIPs != nil {
		q = q.Set("allowed_ips = ?", jsonList(prefixStrings(*p.AllowedIPs)))
	}
	if p.UserPermissions != nil {
		q = q.Set("user_permissions = ?", jsonList(*p.UserPermissions))
	}
	if p.AdminPermissions != nil {
		q = q.Set("admin_permissions = ?", jsonList(*p.AdminPermissions))
	}
	if p.ServerPermissions != nil {
		q = q.Set("server_permissions = ?", jsonList(*p.ServerPermissions))
	}
	if p.SetExpires {
		q = q.Set("expires = ?", p.Expires)
	}
	_, err = q.Exec(ctx)
	return translate(err)
}

// ReplaceAPIKeySecret gives a key a new secret: the old one stops working
// with this write. An unknown id changes nothing and is no error; a taken
// lookup prefix is a *model.DuplicateError ("key_start").
func (s *Store) ReplaceAPIKeySecret(ctx context.Context, id uuid.UUID, keyStart string, digest []byte) (err error) {
	defer wrap(&err, "db.ReplaceAPIKeySecret")
	_, err = s.conn(ctx).NewUpdate().Model((*apiKeyRow)(nil)).Set("key_start = ?", keyStart).
		Set("digest = ?", digest).Set("last_used = NULL").Where("id = ?", id).Exec(ctx)
	return translate(err)
}

// DeleteAPIKey deletes one of userID's keys and reports whether it existed
// (false, nil if not).
func (s *Store) DeleteAPIKey(ctx context.Context, userID, id uuid.UUID) (_ bool, err error) {
	defer wrap(&err, "db.DeleteAPIKey")
	return affected(s.conn(ctx).NewDelete().Model((*apiKeyRow)(nil)).Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx))
}

// DeleteAPIKeys deletes every API key of userID and returns how many.
func (s *Store) DeleteAPIKeys(ctx context.Context, userID uuid.UUID) (_ int, err error) {
	defer wrap(&err, "db.DeleteAPIKeys")
	return rowCount(s.conn(ctx).NewDelete().Model((*apiKeyRow)(nil)).Where("user_id = ?", userID).Exec(ctx))
}

// DeleteExpiredAPIKeys deletes keys that expired at or before now — at
// most limit of them, so a large backlog is cleared in short transactions —
// and returns how many. userID, if not nil, restricts it to one user.
func (s *Store) DeleteExpiredAPIKeys(ctx context.Context, userID *uuid.UUID, now time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteExpiredAPIKeys")
	if userID != nil {
		return s.purge(ctx, (*apiKeyRow)(nil), "k", "k.user_id = ? AND k.expires <= ?", limit, *userID, now)
	}
	return s.purge(ctx, (*apiKeyRow)(nil), "k", "k.expires <= ?", limit, now)
}
