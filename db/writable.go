package db

import (
	"context"
	"errors"
	"fmt"
)

// ErrReadOnly is wrapped by CheckWritable's error when the database
// answers but cannot be written.
var ErrReadOnly = errors.New("the database cannot be written")

// CheckWritable reports whether the server can write to its database,
// cheaply enough for a readiness probe: it takes no lock and writes
// nothing. On SQLite it asks a pooled connection whether SQLite opened
// the file read-only (no write permission, a read-only file system,
// mode=ro) or has query_only on; on PostgreSQL, in one round trip,
// whether the session is read-only (a standby in recovery, or
// default_transaction_read_only on). It returns nil when the database can
// be written; a *SetupError wrapping ErrReadOnly that says why and what to
// do when it cannot; any other error when it could not find out.
func (d *DB) CheckWritable(ctx context.Context) error {
	var why string
	var err error
	if d.Dialect == Postgres {
		why, err = d.postgresReadOnly(ctx)
	} else {
		why, err = d.sqliteReadOnly(ctx)
	}
	if err != nil {
		return fmt.Errorf("db.CheckWritable: %w", err)
	}
	if why == "" {
		return nil
	}
	return &SetupError{Msg: d.target.setting() + ": " + why, Err: ErrReadOnly}
}

// readOnlyReporter is the part of modernc's connection that says whether
// SQLite opened a database read-only (sqlite3_db_readonly).
type readOnlyReporter interface {
	IsReadOnly(schema string) (bool, error)
}

// sqliteReadOnly returns why SQLite will not write, or "".
func (d *DB) sqliteReadOnly(ctx context.Context) (string, error) {
	conn, err := d.DB.DB.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var readOnly bool
	err = conn.Raw(func(dc any) error {
		if b, ok := dc.(*bindConn); ok {
			dc = b.Conn
		}
		r, ok := dc.(readOnlyReporter)
		if !ok {
			return errors.New("the SQLite driver cannot tell whether the database is read-only")
		}
		readOnly, err = r.IsReadOnly("main")
		return err
	})
	if err != nil {
		return "", err
	}
	var queryOnly int
	if err := conn.QueryRowContext(ctx, "PRAGMA query_only").Scan(&queryOnly); err != nil {
		return "", err
	}
	switch {
	case readOnly:
		return d.sqliteReadOnlyReason(), nil
	case queryOnly != 0:
		if d.target.QueryOnly {
			return fmt.Sprintf("the database %s is open read-only because DATABASE_URL sets _pragma=query_only: remove it", d.target.Path), nil
		}
		return fmt.Sprintf("PRAGMA query_only is on for the database %s", d.target.Path), nil
	}
	return "", nil
}

// postgresReadOnly returns why PostgreSQL will not write, or "".
func (d *DB) postgresReadOnly(ctx context.Context) (string, error) {
	var recovery bool
	var readOnly string
	if err := d.DB.DB.QueryRowContext(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").
		Scan(&recovery, &readOnly); err != nil {
		return "", err
	}
	if !recovery && readOnly != "on" {
		return "", nil
	}
	return d.postgresReadOnlyReason(ctx), nil
}

// postgresReadOnlyReason says why PostgreSQL sessions are read-only, and
// where to turn that off.
func (d *DB) postgresReadOnlyReason(ctx context.Context) string {
	t := d.target
	var recovery bool
	var source string
	err := d.DB.DB.QueryRowContext(ctx,
		"SELECT pg_is_in_recovery(), coalesce((SELECT source FROM pg_settings WHERE name = 'default_transaction_read_only'), '')").
		Scan(&recovery, &source)
	switch {
	case err != nil:
		return fmt.Sprintf("database %q on %s is read-only: point DATABASE_URL at a primary server, or turn default_transaction_read_only off", t.Database, t.Addr())
	case recovery:
		return fmt.Sprintf("the PostgreSQL server at %s is a standby (in recovery), which cannot be written: point DATABASE_URL at the primary", t.Addr())
	}
	fix := "turn it off where it is set"
	switch source {
	case "client":
		fix = "remove it from DATABASE_URL (or PGOPTIONS)"
	case "user":
		fix = fmt.Sprintf("run ALTER ROLE %s RESET default_transaction_read_only", quoteIdent(t.User))
	case "database":
		fix = fmt.Sprintf("run ALTER DATABASE %s RESET default_transaction_read_only", quoteIdent(t.Database))
	case "database user":
		fix = fmt.Sprintf("run ALTER ROLE %s IN DATABASE %s RESET default_transaction_read_only", quoteIdent(t.User), quoteIdent(t.Database))
	case "configuration file":
		fix = "set it to off in postgresql.conf and reload the server"
	}
	return fmt.Sprintf("database %q on %s is read-only for role %q because default_transaction_read_only is on (set by: %s): %s",
		t.Database, t.Addr(), t.User, source, fix)
}

// HasUsers reports whether any account exists: while none does, the first
// to sign up becomes an administrator (see Store.CreateUser), which
// start-up warns about.
func (d *DB) HasUsers(ctx context.Context) (_ bool, err error) {
	defer wrap(&err, "db.HasUsers")
	return d.NewSelect().Model((*userRow)(nil)).Limit(1).Exists(ctx)
}
