package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// TableCount is a table and the number of rows it holds.
type TableCount struct {
	Table string
	Rows  int64
}

// ErrNotEmpty is the error, wrapped with the table's name, of a copy into
// a database that already holds rows.
var ErrNotEmpty = errors.New("the database is not empty")

// migrationsTable is the migrations' bookkeeping. A copy leaves it out:
// the target gets its own from its own migration run.
const migrationsTable = "schema_migrations"

// copyParams bounds the values of one INSERT of a copy, under both
// engines' limits on the parameters of a statement (SQLite 32766,
// PostgreSQL 65535); copyRows bounds its rows.
const (
	copyParams = 30000
	copyRows   = 500
)

// Copy copies every row of every table of src into dst and returns each
// table's row count, in the order the tables were copied.
//
// The source is only read, in one snapshot (a read transaction on SQLite,
// REPEATABLE READ on PostgreSQL), and must already be at the latest schema
// this binary knows: Copy refuses one that is behind (run migrate on it
// first) or ahead (use the binary that migrated it). Rows written to the
// source after the snapshot began are not copied.
//
// The target must hold no row in any table (an error wrapping ErrNotEmpty
// names the table); it is migrated, then filled in one transaction, so a
// failure leaves it empty, and the transaction commits only once every
// table's count in it matches the source's.
//
// The tables are the source catalog's, less schema_migrations, in an order
// that satisfies their foreign keys; the target must have the same tables
// and columns. Values are converted to the target's representation by the
// column types of the target's catalog (see valueKind); digests and hashes are
// copied as they are stored.
func Copy(ctx context.Context, src, dst *DB) (_ []TableCount, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("copy: %w", err)
		}
	}()
	if err := src.atLatest(ctx); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	// Before migrating the target: a database that holds rows is refused
	// as it is, not first brought up to date.
	if err := refuseNonEmpty(ctx, dst.DB.DB, dst.Dialect); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if _, err := dst.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	if err := dst.atLatest(ctx); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}

	snapshot := &sql.TxOptions{ReadOnly: true}
	if src.Dialect == Postgres {
		snapshot.Isolation = sql.LevelRepeatableRead
	}
	from, err := src.DB.DB.BeginTx(ctx, snapshot)
	if err != nil {
		return nil, fmt.Errorf("source: begin: %w", err)
	}
	defer from.Rollback() //nolint:errcheck // read only: nothing to lose
	to, err := dst.DB.DB.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("target: begin: %w", err)
	}
	defer to.Rollback() //nolint:errcheck // after Commit it does nothing

	plans, err := copyPlans(ctx, from, src.Dialect, to, dst.Dialect)
	if err != nil {
		return nil, err
	}
	// Again inside the transaction: a server started on the target since
	// the first check may have written.
	if err := refuseNonEmpty(ctx, to, dst.Dialect); err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	counts := make([]TableCount, 0, len(plans))
	for _, p := range plans {
		n, err := p.copy(ctx, from, to, dst.Dialect)
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", p.table, err)
		}
		counts = append(counts, TableCount{Table: p.table, Rows: n})
	}
	for _, c := range counts {
		want, err := copyCount(ctx, from, c.Table)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		got, err := copyCount(ctx, to, c.Table)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		if want != c.Rows || got != c.Rows {
			return nil, fmt.Errorf("table %s: %d rows in the source, %d read, %d in the target", c.Table, want, c.Rows, got)
		}
	}
	if err := to.Commit(); err != nil {
		return nil, fmt.Errorf("target: commit: %w", err)
	}
	return counts, nil
}

// atLatest reports, as an error, a database whose applied migrations are
// not exactly the ones embedded in this binary.
func (d *DB) atLatest(ctx context.Context) error {
	files, err := fs.Glob(migrationFiles, "migrations/"+string(d.Dialect)+"/*.sql")
	if err != nil {
		return err
	}
	known := make(map[string]bool, len(files))
	for _, f := range files {
		known[strings.TrimSuffix(f[strings.LastIndexByte(f, '/')+1:], ".sql")] = true
	}
	names, err := catalogTables(ctx, d.DB.DB, d.Dialect)
	if err != nil {
		return err
	}
	if i := sort.SearchStrings(names, migrationsTable); i == len(names) || names[i] != migrationsTable {
		return errors.New("the database has no schema (it was never migrated): run `accountd migrate` on it first")
	}
	applied, err := catalogStrings(ctx, d.DB.DB, "SELECT version FROM "+migrationsTable)
	if err != nil {
		return fmt.Errorf("read the applied migrations: %w", err)
	}
	for _, v := range applied {
		if !known[v] {
			return fmt.Errorf("the database has migration %s, which this accountd does not know: use the accountd that applied it", v)
		}
		delete(known, v)
	}
	if len(known) > 0 {
		return fmt.Errorf("%d migrations are not applied: run `accountd migrate` on it first", len(known))
	}
	return nil
}

// refuseNonEmpty returns an error wrapping ErrNotEmpty, naming the first table
// by name that holds a row.
func refuseNonEmpty(ctx context.Context, q catalogQuerier, d Dialect) error {
	names, err := catalogTables(ctx, q, d)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == migrationsTable {
			continue
		}
		rows, err := q.QueryContext(ctx, "SELECT 1 FROM "+quotedName(n)+" LIMIT 1")
		if err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		found := rows.Next()
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", n, err)
		}
		if found {
			return fmt.Errorf("%w: table %s holds rows (copy only into an empty database)", ErrNotEmpty, n)
		}
	}
	return nil
}

// copyCount counts a table's rows.
func copyCount(ctx context.Context, q catalogQuerier, table string) (int64, error) {
	rows, err := q.QueryContext(ctx, "SELECT count(*) FROM "+quotedName(table))
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	defer rows.Close()
	var n int64
	if rows.Next() {
		if err := rows.Scan(&n); err != nil {
			return 0, fmt.Errorf("count %s: %w", table, err)
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}

// tablePlan is how one table is copied: its columns, each with the kind
// the target stores.
type tablePlan struct {
	table   string
	columns []string
	kinds   []valueKind
}

// copyPlans reads both catalogs and returns the tables to copy in the
// order their foreign keys need. Both sides must have the same tables
// and columns (they are at the same migration, so a difference means a
// schema changed by hand).
func copyPlans(ctx context.Context, from catalogQuerier, fromDialect Dialect, to catalogQuerier, toDialect Dialect) ([]tablePlan, error) {
	srcTables, err := catalogTables(ctx, from, fromDialect)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	dstTables, err := catalogTables(ctx, to, toDialect)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	srcTables, dstTables = withoutName(srcTables, migrationsTable), withoutName(dstTables, migrationsTable)
	if a, b := strings.Join(srcTables, ", "), strings.Join(dstTables, ", "); a != b {
		return nil, fmt.Errorf("the source has the tables %s but the target %s", a, b)
	}
	refs := make(map[string][]string, len(srcTables))
	for _, t := range srcTables {
		if refs[t], err = catalogReferences(ctx, from, fromDialect, t); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
	}
	order, err := fkOrder(srcTables, refs)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	plans := make([]tablePlan, 0, len(order))
	for _, t := range order {
		srcCols, err := catalogColumns(ctx, from, fromDialect, t)
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		dstCols, err := catalogColumns(ctx, to, toDialect, t)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		have := make(map[string]bool, len(srcCols))
		for _, c := range srcCols {
			have[c.name] = true
		}
		p := tablePlan{table: t}
		for _, c := range dstCols {
			if !have[c.name] {
				return nil, fmt.Errorf("table %s: column %s is in the target but not in the source", t, c.name)
			}
			delete(have, c.name)
			k, ok := columnKind(toDialect, c.typ)
			if !ok {
				return nil, fmt.Errorf("table %s: column %s has the type %q, which the copy does not know", t, c.name, c.typ)
			}
			p.columns = append(p.columns, c.name)
			p.kinds = append(p.kinds, k)
		}
		for c := range have {
			return nil, fmt.Errorf("table %s: column %s is in the source but not in the target", t, c)
		}
		plans = append(plans, p)
	}
	return plans, nil
}

func withoutName(list []string, name string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if s != name {
			out = append(out, s)
		}
	}
	return out
}

// copy streams the table's rows from the source into multi-row INSERTs on
// the target and returns how many it copied.
func (p *tablePlan) copy(ctx context.Context, from, to *sql.Tx, target Dialect) (int64, error) {
	quoted := make([]string, len(p.columns))
	for i, c := range p.columns {
		quoted[i] = quotedName(c)
	}
	cols := strings.Join(quoted, ", ")
	rows, err := from.QueryContext(ctx, "SELECT "+cols+" FROM "+quotedName(p.table))
	if err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	defer rows.Close()

	perBatch := min(copyRows, max(1, copyParams/len(p.columns)))
	insert := "INSERT INTO " + quotedName(p.table) + " (" + cols + ") VALUES "
	var full string // the statement of a full batch, built once
	batch := make([]any, 0, perBatch*len(p.columns))
	flush := func() error {
		n := len(batch) / len(p.columns)
		if n == 0 {
			return nil
		}
		stmt := full
		if n != perBatch || full == "" {
			stmt = insert + insertValueLists(n, len(p.columns))
			if n == perBatch {
				full = stmt
			}
		}
		if _, err := to.ExecContext(ctx, stmt, batch...); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		batch = batch[:0]
		return nil
	}

	vals := make([]any, len(p.columns))
	dest := make([]any, len(p.columns))
	for i := range vals {
		dest[i] = &vals[i]
	}
	var copied int64
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		for i, v := range vals {
			cv, err := convertValue(v, p.kinds[i], target)
			if err != nil {
				return 0, fmt.Errorf("column %s: %w", p.columns[i], err)
			}
			batch = append(batch, cv)
		}
		copied++
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read: %w", err)
	}
	if err := flush(); err != nil {
		return 0, err
	}
	return copied, nil
}

// insertValueLists is "($1, $2), ($3, $4)" for rows rows of n columns: numbered
// parameters, which both engines take.
func insertValueLists(rows, n int) string {
	var b strings.Builder
	p := 0
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range n {
			if c > 0 {
				b.WriteString(", ")
			}
			p++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(p))
		}
		b.WriteByte(')')
	}
	return b.String()
}
