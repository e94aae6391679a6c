package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationLockID is the PostgreSQL advisory-lock key migrations hold. An
// advisory lock belongs to the connection, so a crashed migrator cannot
// leave it behind the way a lock row in a table can.
const migrationLockID = 7_351_842_209

// Migrate applies every embedded migration not yet applied, each in its own
// transaction, and returns the versions it applied. Several servers may call
// it at the same moment: they take turns and the later ones find nothing to
// do. On failure it returns the versions applied so far and an error
// starting "migrate", with the version when one failed ("migrate
// 0002_activity_brin: …").
func (d *DB) Migrate(ctx context.Context) ([]string, error) {
	files, err := fs.Glob(migrationFiles, "migrations/"+string(d.Dialect)+"/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)

	conn, err := d.DB.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()

	switch d.Dialect {
	case Postgres:
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID); err != nil {
			return nil, fmt.Errorf("migrate: take lock: %w", err)
		}
		// Unlock on a fresh context so a cancelled ctx still releases it;
		// closing the connection would release it too.
		defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock($1)", migrationLockID) //nolint:errcheck
	}

	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version text PRIMARY KEY,
		applied text NOT NULL
	)`); err != nil {
		return nil, fmt.Errorf("migrate: create schema_migrations: %w", err)
	}

	if err := d.refuseNewer(ctx, conn, files); err != nil {
		return nil, err
	}
	var applied []string
	for _, f := range files {
		version := migrationVersion(f)
		done, err := d.applyOne(ctx, conn, f, version)
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", version, err)
		}
		if done {
			applied = append(applied, version)
		}
	}
	return applied, nil
}

// refuseNewer fails when the database holds migrations this build does not
// have: a newer build migrated it, and this one would run on a schema it
// was not written for. Migrations only go forward, so the way back from an
// upgrade is the backup taken before it (README: Upgrades).
func (d *DB) refuseNewer(ctx context.Context, conn *sql.Conn, files []string) error {
	known := make(map[string]bool, len(files))
	for _, f := range files {
		known[migrationVersion(f)] = true
	}
	rows, err := conn.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	defer rows.Close()
	var unknown []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("migrate: read schema_migrations: %w", err)
		}
		if !known[v] {
			unknown = append(unknown, v)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	if len(unknown) > 0 {
		return fmt.Errorf("migrate: the database has migrations this build does not know (%s): a newer accountd migrated it; "+
			"run that version, or restore the backup taken before the upgrade", strings.Join(unknown, ", "))
	}
	return nil
}

// migrationVersion is the version a migration file records: its name
// without the directory and ".sql".
func migrationVersion(file string) string {
	return strings.TrimSuffix(file[strings.LastIndexByte(file, '/')+1:], ".sql")
}

// applyOne runs one migration file in a transaction unless it is recorded
// as applied. On SQLite the transaction is IMMEDIATE (see sqliteDSN), which
// is the lock: a second migrator waits for it, and a crash rolls it back.
func (d *DB) applyOne(ctx context.Context, conn *sql.Conn, file, version string) (bool, error) {
	body, err := migrationFiles.ReadFile(file)
	if err != nil {
		return false, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback() //nolint:errcheck

	var n int
	if err := tx.QueryRowContext(ctx, d.rebind("SELECT count(*) FROM schema_migrations WHERE version = ?"), version).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 {
		return false, nil
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, d.rebind("INSERT INTO schema_migrations (version, applied) VALUES (?, ?)"),
		version, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// rebind turns ? placeholders into $n ones for PostgreSQL.
func (d *DB) rebind(q string) string {
	if d.Dialect != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Pending reports how many embedded migrations are not applied yet; the
// readiness check uses it. Before the first migration (no
// schema_migrations table) it returns an error.
func (d *DB) Pending(ctx context.Context) (_ int, err error) {
	defer wrap(&err, "db.Pending")
	files, err := fs.Glob(migrationFiles, "migrations/"+string(d.Dialect)+"/*.sql")
	if err != nil {
		return 0, err
	}
	var n int
	if err := d.NewSelect().Table("schema_migrations").ColumnExpr("count(*)").Scan(ctx, &n); err != nil {
		return 0, err
	}
	return len(files) - n, nil
}
