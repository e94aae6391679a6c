package db

import (
	"context"
	"strings"

	"github.com/uptrace/bun"

	"accountd/model"
)

// listOrder says how one of a user's lists is sorted and searched. Every
// list is ordered by (time, id) and has an index on (user_id, time, id) in
// that direction, so a page — first or after a cursor — reads only its own
// rows.
type listOrder struct {
	timeCol   string // the sort column, qualified by the table alias
	idCol     string
	searchCol string // the column `search` matches
	desc      bool
}

// applyList adds a list query's search, position and limit to q. It asks
// for one row more than the page holds, so the caller learns whether
// another page follows without counting.
func (s *Store) applyList(q *bun.SelectQuery, lq model.ListQuery, o listOrder) *bun.SelectQuery {
	q = s.applySearch(q, lq.Search, o.searchCol)
	dir, cmp := "ASC", ">"
	if o.desc {
		dir, cmp = "DESC", "<"
	}
	if lq.Keyset && lq.Cursor != nil {
		q = q.Where("("+o.timeCol+", "+o.idCol+") "+cmp+" (?, ?)", lq.Cursor.Time, lq.Cursor.ID)
	}
	q = q.OrderExpr(o.timeCol + " " + dir + ", " + o.idCol + " " + dir).Limit(int64(lq.Limit() + 1))
	if off := lq.Offset(); off > 0 {
		q = q.Offset(int64(off))
	}
	return q
}

// applySearch filters q to rows whose col contains search, literally and
// ignoring case: %, _ and \ in search are escaped, and the value is a
// bound argument, never SQL.
func (s *Store) applySearch(q *bun.SelectQuery, search, col string) *bun.SelectQuery {
	if search == "" {
		return q
	}
	return q.Where(foldFunc(s.dialect)+"("+col+") LIKE ? ESCAPE '\\'", "%"+escapeLike(strings.ToLower(search))+"%")
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// escapeLike makes s match itself in a LIKE pattern with ESCAPE '\'.
func escapeLike(s string) string { return likeEscaper.Replace(s) }

// trimPage cuts the look-ahead row off a page and reports whether there
// was one.
func trimPage[T any](rows []T, limit int) ([]T, bool) {
	if len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}

// count runs q as a COUNT(*).
func count(ctx context.Context, q *bun.SelectQuery) (int, error) {
	n, err := q.Count(ctx)
	return int(n), err
}
