package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"

	"accountd/db"
)

const backupUsage = `usage: accountd backup --to FILE

Writes a consistent copy of the SQLite database of DATABASE_URL to FILE,
which must not exist yet, while servers may go on using the database. The
copy holds password hashes and two-factor secrets: it is readable by its
owner only. A PostgreSQL database is backed up with pg_dump instead; for
one the command prints the pg_dump command line to run.`

// backupCommand writes a copy of the SQLite database; see backupUsage.
func backupCommand(ctx context.Context, e *env, args []string) error {
	var to string
	_, err := parseArgs(e, "backup", backupUsage, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "the backup file to write (it must not exist)")
	})
	if err != nil {
		return err
	}
	if to == "" {
		return &usageError{msg: "missing --to", usage: backupUsage}
	}
	rawURL := e.cfg.DatabaseURL
	if db.IsPostgresURL(rawURL) {
		return fmt.Errorf("DATABASE_URL is a PostgreSQL database, which accountd does not back up: use pg_dump "+
			"(it asks for the password, or reads PGPASSWORD or ~/.pgpass):\n  %s", db.PgDumpCommand(rawURL, to))
	}
	if err := sqliteExists(rawURL); err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	d, err := db.Open(ctx, rawURL)
	if err != nil {
		return err
	}
	defer d.Close()
	size, err := d.Backup(ctx, to)
	if err != nil {
		return err
	}
	where, err := filepath.Abs(to)
	if err != nil {
		where = to
	}
	fmt.Fprintf(e.io.out, "wrote %s (%d bytes)\n", where, size)
	return nil
}

// sqliteExists checks that a SQLite URL names a database file that
// exists: opening one that does not would create it.
func sqliteExists(rawURL string) error {
	path, err := db.SQLiteFile(rawURL)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no SQLite database at %s", path)
	} else if err != nil {
		return err
	}
	return nil
}

const copyUsage = `usage: accountd copy --from DATABASE_URL --to DATABASE_URL

Copies every table of one database into another: SQLite to PostgreSQL,
PostgreSQL to SQLite, or between two databases of one engine. The source is
only read, in one snapshot, and must be at this accountd's latest schema
(run accountd migrate on it first). The target is migrated and must hold no
rows; it is filled in one transaction, so a failed copy leaves it empty.
Rows written to the source after the copy started are not copied: stop the
servers first. Prints each table and its row count.`

// copyCommand moves every table between databases; see copyUsage.
func copyCommand(ctx context.Context, e *env, args []string) error {
	var from, to string
	_, err := parseArgs(e, "copy", copyUsage, args, 0, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "the database to copy (postgres://… or sqlite:PATH)")
		fs.StringVar(&to, "to", "", "the empty database to copy into (postgres://… or sqlite:PATH)")
	})
	if err != nil {
		return err
	}
	switch {
	case from == "":
		return &usageError{msg: "missing --from", usage: copyUsage}
	case to == "":
		return &usageError{msg: "missing --to", usage: copyUsage}
	case from == to:
		return &usageError{msg: "--from and --to name the same database", usage: copyUsage}
	}
	if !db.IsPostgresURL(from) {
		if err := sqliteExists(from); err != nil {
			return fmt.Errorf("--from: %w", err)
		}
	}
	src, err := db.Open(ctx, from)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer src.Close()
	dst, err := db.Open(ctx, to)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer dst.Close()

	e.log.Info("copy started", "from", redactedURL(from), "to", redactedURL(to))
	counts, err := db.Copy(ctx, src, dst)
	if err != nil {
		return err
	}
	var total int64
	w := tabwriter.NewWriter(e.io.out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(w, "table\trows")
	for _, c := range counts {
		fmt.Fprintf(w, "%s\t%d\n", c.Table, c.Rows)
		total += c.Rows
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.io.out, "copied %d rows in %d tables; every table's count matches the source\n", total, len(counts))
	e.log.Info("copy done", "tables", len(counts), "rows", total)
	return nil
}

// redactedURL is a DATABASE_URL fit for a log line: a password replaced
// by "xxxxx".
func redactedURL(raw string) string {
	if !db.IsPostgresURL(raw) {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://…"
	}
	return u.Redacted()
}
