package db

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
)

// The catalog reads below describe a database as it is, from the engine's
// own catalog (sqlite_master and its pragmas; information_schema and
// pg_constraint for the current schema): Copy relies on them, not on a
// list kept by hand, so a table a new migration adds is copied without a
// change here.

// catalogQuerier is what the catalog reads run on: a *sql.DB or a *sql.Tx.
type catalogQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// catalogColumn is one column of a table, with the type its declaration (SQLite)
// or the catalog (PostgreSQL) gives it.
type catalogColumn struct {
	name, typ string
}

// catalogTables lists the tables of the database's current schema by name,
// without SQLite's internal ones (sqlite_…).
func catalogTables(ctx context.Context, q catalogQuerier, d Dialect) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = $1`
	arg := "table"
	if d == Postgres {
		query = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = $1`
		arg = "BASE TABLE"
	}
	names, err := catalogStrings(ctx, q, query, arg)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	out := names[:0]
	for _, n := range names {
		if d == SQLite && strings.HasPrefix(n, "sqlite_") {
			continue
		}
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

// catalogColumns lists a table's columns in their order.
func catalogColumns(ctx context.Context, q catalogQuerier, d Dialect, table string) ([]catalogColumn, error) {
	query := `SELECT name, type FROM pragma_table_info($1) ORDER BY cid`
	if d == Postgres {
		query = `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`
	}
	rows, err := q.QueryContext(ctx, query, table)
	if err != nil {
		return nil, fmt.Errorf("list the columns of %s: %w", table, err)
	}
	defer rows.Close()
	var out []catalogColumn
	for rows.Next() {
		var c catalogColumn
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			return nil, fmt.Errorf("list the columns of %s: %w", table, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the columns of %s: %w", table, err)
	}
	return out, nil
}

// catalogReferences lists the tables that table's foreign keys refer to.
func catalogReferences(ctx context.Context, q catalogQuerier, d Dialect, table string) ([]string, error) {
	query := `SELECT DISTINCT "table" FROM pragma_foreign_key_list($1)`
	if d == Postgres {
		query = `SELECT DISTINCT r.relname FROM pg_constraint k
			JOIN pg_class c ON c.oid = k.conrelid
			JOIN pg_class r ON r.oid = k.confrelid
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE k.contype = 'f' AND n.nspname = current_schema() AND c.relname = $1`
	}
	refs, err := catalogStrings(ctx, q, query, table)
	if err != nil {
		return nil, fmt.Errorf("list the foreign keys of %s: %w", table, err)
	}
	return refs, nil
}

// catalogStrings runs a query of one text column.
func catalogStrings(ctx context.Context, q catalogQuerier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// fkOrder orders tables so that every table comes after the tables
// its foreign keys refer to (a reference to itself aside), and otherwise
// by name. refs gives each table's references; a reference to a table not
// in the list, or a cycle, is an error.
func fkOrder(names []string, refs map[string][]string) ([]string, error) {
	waiting := make(map[string]map[string]bool, len(names))
	for _, n := range names {
		waiting[n] = map[string]bool{}
	}
	for _, n := range names {
		for _, r := range refs[n] {
			if r == n {
				continue
			}
			if _, ok := waiting[r]; !ok {
				return nil, fmt.Errorf("table %s refers to %s, which is not copied", n, r)
			}
			waiting[n][r] = true
		}
	}
	var order []string
	for len(waiting) > 0 {
		var ready []string
		for n, deps := range waiting {
			if len(deps) == 0 {
				ready = append(ready, n)
			}
		}
		if len(ready) == 0 {
			var rest []string
			for n := range waiting {
				rest = append(rest, n)
			}
			sort.Strings(rest)
			return nil, fmt.Errorf("the foreign keys of %s form a cycle", strings.Join(rest, ", "))
		}
		sort.Strings(ready)
		for _, n := range ready {
			delete(waiting, n)
			for _, deps := range waiting {
				delete(deps, n)
			}
		}
		order = append(order, ready...)
	}
	return order, nil
}

// quotedName quotes a table or column name for either engine.
func quotedName(name string) string {
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
