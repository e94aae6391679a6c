package db

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// ListUsers returns a page of every account in id order — ids are
// time-ordered (UUIDv7), so oldest first — read along the primary key, so
// each page of a million-account listing reads only its own rows. search
// matches the username or the e-mail address, literally and ignoring case.
// Only Keyset paging with a cursor's ID is supported: the list is the
// operators' tool, which reads it front to back.
func (s *Store) ListUsers(ctx context.Context, lq model.ListQuery) (_ []*model.User, more bool, err error) {
	defer wrap(&err, "db.ListUsers")
	var rows []userRow
	q := s.conn(ctx).NewSelect().Model(&rows)
	if lq.Search != "" {
		pattern := "%" + escapeLike(strings.ToLower(lq.Search)) + "%"
		fold := foldFunc(s.dialect)
		q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where(fold+"(u.username) LIKE ? ESCAPE '\\'", pattern).
				WhereOr(fold+"(u.email) LIKE ? ESCAPE '\\'", pattern)
		})
	}
	if lq.Cursor != nil {
		q = q.Where("u.id > ?", lq.Cursor.ID)
	}
	if err := q.OrderExpr("u.id ASC").Limit(int64(lq.Limit() + 1)).Scan(ctx); err != nil {
		return nil, false, err
	}
	rows, more = trimPage(rows, lq.Limit())
	out := make([]*model.User, len(rows))
	for i := range rows {
		out[i] = rows[i].model()
	}
	return out, more, nil
}

// flagColumn returns the column of an operator-controlled state: the
// column name in SetUserFlag's SQL comes only from here.
func flagColumn(flag model.UserFlag) (string, bool) {
	switch flag {
	case model.FlagAdmin:
		return "admin", true
	case model.FlagSuspended:
		return "suspended", true
	case model.FlagFrozen:
		return "frozen", true
	}
	return "", false
}

// SetUserFlag sets one operator-controlled state of a user, as a
// compare-and-set: it reports whether the value changed, and a state that
// already held writes nothing.
func (s *Store) SetUserFlag(ctx context.Context, id uuid.UUID, flag model.UserFlag, on bool) (_ bool, err error) {
	defer wrap(&err, "db.SetUserFlag")
	col, ok := flagColumn(flag)
	if !ok {
		return false, fmt.Errorf("unknown user flag %q", flag)
	}
	n, err := rowCount(s.conn(ctx).NewUpdate().Model((*userRow)(nil)).
		Set(col+" = ?", on).Where("id = ?", id).Where(col+" <> ?", on).Exec(ctx))
	return n > 0, err
}

// DeleteUser deletes a user; the foreign keys delete what the user owned.
func (s *Store) DeleteUser(ctx context.Context, id uuid.UUID) (_ bool, err error) {
	defer wrap(&err, "db.DeleteUser")
	n, err := rowCount(s.conn(ctx).NewDelete().Model((*userRow)(nil)).Where("id = ?", id).Exec(ctx))
	return n > 0, err
}
