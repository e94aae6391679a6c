package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// A SetupError says what is wrong with the database DATABASE_URL names and
// what to do about it, in words an operator can act on: which directory
// cannot be created, which role needs which GRANT. It never holds a
// password. Unwrap reaches the driver's error.
type SetupError struct {
	Msg string
	Err error
}

func (e *SetupError) Error() string { return e.Msg }
func (e *SetupError) Unwrap() error { return e.Err }

// Explain returns err, which a step of start-up on d returned (Migrate,
// Pending, CheckWritable, a first query), as a *SetupError naming what to
// fix when it is one of the usual mistakes: a PostgreSQL role without the
// right to create tables, a read-only database, a full disk. The
// driver's own message follows in parentheses. Any other error, and one
// already explained, is returned unchanged.
func (d *DB) Explain(err error) error {
	if err == nil {
		return nil
	}
	var se *SetupError
	if errors.As(err, &se) {
		return err
	}
	var msg string
	if d.Dialect == Postgres {
		msg = d.explainPostgres(err)
	} else {
		msg = d.explainSQLite(err)
	}
	if msg == "" {
		return err
	}
	return &SetupError{Msg: msg + " (" + err.Error() + ")", Err: err}
}

// explainOpen explains why the first connection failed. Unlike Explain it
// always answers, with the driver's message as the last resort.
func (d *DB) explainOpen(err error, secret string) error {
	var msg string
	if d.Dialect == Postgres {
		msg = d.explainPostgresConnect(err)
	} else {
		msg = d.explainSQLiteOpen(err)
	}
	return &SetupError{Msg: scrub(msg, secret), Err: err}
}

// scrub removes a password from a message, in case a driver quoted it.
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	for _, s := range []string{secret, url.QueryEscape(secret), url.PathEscape(secret)} {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	return msg
}

// uid describes the user the server runs as, for a message telling an
// operator whose permissions matter.
func uid() string {
	if id := os.Geteuid(); id >= 0 {
		return fmt.Sprintf("uid %d, the user the server runs as", id)
	}
	return "the user the server runs as"
}

// makeDir creates the database's directory, explaining a failure.
func makeDir(dir string) error {
	err := os.MkdirAll(dir, 0o750)
	if err == nil {
		return nil
	}
	var pe *os.PathError
	failed := dir
	if errors.As(err, &pe) {
		failed = pe.Path
	}
	switch {
	case errors.Is(err, syscall.ENOTDIR), errors.Is(err, os.ErrExist):
		// A component of the path is a file. Name it.
		for p := dir; ; p = filepath.Dir(p) {
			if fi, serr := os.Stat(p); serr == nil && !fi.IsDir() {
				return fmt.Errorf("cannot create directory %s: %s is a file, not a directory: choose another path", dir, p)
			}
			if filepath.Dir(p) == p {
				break
			}
		}
		return fmt.Errorf("cannot create directory %s: %s is not a directory: choose another path", dir, failed)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("cannot create directory %s: permission denied in %s (%s): create it yourself, make %s writable, or choose another path",
			failed, filepath.Dir(failed), uid(), filepath.Dir(failed))
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("cannot create directory %s: %s is on a read-only file system: choose a path on a writable one", failed, filepath.Dir(failed))
	}
	return fmt.Errorf("cannot create directory %s: %v", failed, reason(err))
}

// reason is an operating-system error without the operation and path
// that the message around it already names.
func reason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// probeDir reports whether a file can be created in dir, the way SQLite
// creates the database and its -wal and -shm files, by creating one.
func probeDir(dir string) error {
	f, err := os.CreateTemp(dir, ".accountd-write-check-*")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// sqliteCode is the primary result code of an SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() & 0xff
	}
	return 0
}

// explainSQLiteOpen explains a failed first connection to an SQLite file:
// usually the file system, which SQLite reports only as "unable to open
// database file (14)".
func (d *DB) explainSQLiteOpen(err error) string {
	t := d.target
	if why := fileProblem(t); why != "" {
		return t.setting() + ": " + why
	}
	if sqliteCode(err) == sqlite3.SQLITE_NOTADB {
		return fmt.Sprintf("%s: %s is not an SQLite database: point DATABASE_URL at the server's database file, or at a path that does not exist yet", t.setting(), t.Path)
	}
	return fmt.Sprintf("%s: cannot open the SQLite database %s: %v", t.setting(), t.Path, err)
}

// fileProblem looks at an SQLite database file and its directory for what
// stops SQLite from opening or writing it, and says what to do; "" when
// it finds nothing wrong.
func fileProblem(t Target) string {
	if t.Path == ":memory:" {
		return ""
	}
	dir := filepath.Dir(t.Path)
	fi, err := os.Stat(t.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if t.Mode == "ro" || t.Mode == "rw" {
			return fmt.Sprintf("%s does not exist, and mode=%s does not create it", t.Path, t.Mode)
		}
		if perr := probeDir(dir); perr != nil {
			return dirProblem(t.Path, dir, perr)
		}
		return ""
	case err != nil:
		return fmt.Sprintf("cannot look at %s: %v", t.Path, reason(err))
	case fi.IsDir():
		return fmt.Sprintf("%s is a directory, not a database file: name a file in it, such as %s", t.Path, filepath.Join(t.Path, "panel.db"))
	}
	if t.Mode != "ro" {
		if f, err := os.OpenFile(t.Path, os.O_RDWR, 0); err != nil {
			return notWritable(t.Path, err)
		} else {
			f.Close()
		}
	} else if f, err := os.Open(t.Path); err != nil {
		return fmt.Sprintf("cannot read %s: %v: make it readable by %s", t.Path, reason(err), uid())
	} else {
		f.Close()
	}
	// SQLite creates the -wal and -shm files next to the database when
	// they are missing, which needs the directory.
	for _, side := range []string{t.Path + "-wal", t.Path + "-shm"} {
		if _, err := os.Stat(side); errors.Is(err, os.ErrNotExist) {
			if perr := probeDir(dir); perr != nil {
				return dirProblem(side, dir, perr)
			}
			break
		}
	}
	return ""
}

// dirProblem says why file cannot be created in dir.
func dirProblem(file, dir string, err error) string {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Sprintf("cannot create %s: directory %s is not writable (permission denied): make it writable by %s, or choose another path", file, dir, uid())
	case errors.Is(err, syscall.EROFS):
		return fmt.Sprintf("cannot create %s: directory %s is on a read-only file system: choose a path on a writable one", file, dir)
	}
	return fmt.Sprintf("cannot create %s in directory %s: %v", file, dir, reason(err))
}

// notWritable says why the database file cannot be opened for writing.
func notWritable(path string, err error) string {
	switch {
	case errors.Is(err, os.ErrPermission):
		return fmt.Sprintf("the database file %s cannot be written (permission denied): make it, its -wal and -shm files and its directory writable by %s", path, uid())
	case errors.Is(err, syscall.EROFS):
		return fmt.Sprintf("the database file %s is on a read-only file system: remount it read-write, or move the database", path)
	}
	return fmt.Sprintf("the database file %s cannot be opened for writing: %v", path, reason(err))
}

// explainSQLite explains an error of a statement on an open SQLite
// database; "" when it is not about the database's setup.
func (d *DB) explainSQLite(err error) string {
	t := d.target
	switch sqliteCode(err) {
	case sqlite3.SQLITE_READONLY:
		return t.setting() + ": " + d.sqliteReadOnlyReason()
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		if why := fileProblem(t); why != "" {
			return t.setting() + ": " + why
		}
	case sqlite3.SQLITE_FULL:
		return fmt.Sprintf("%s: the disk holding %s is full: free space there, or move the database", t.setting(), t.Path)
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Sprintf("%s: %s is damaged or not an SQLite database: restore it from a backup", t.setting(), t.Path)
	}
	return ""
}

// sqliteReadOnlyReason says why SQLite refuses to write, and what to do.
func (d *DB) sqliteReadOnlyReason() string {
	t := d.target
	switch {
	case t.Mode == "ro":
		return fmt.Sprintf("the database %s is open read-only because DATABASE_URL sets mode=ro: remove it", t.Path)
	case t.QueryOnly:
		return fmt.Sprintf("the database %s is open read-only because DATABASE_URL sets _pragma=query_only: remove it", t.Path)
	}
	if why := fileProblem(t); why != "" {
		return why
	}
	return fmt.Sprintf("SQLite opened the database %s read-only: make it, its -wal and -shm files and its directory writable by %s, then restart", t.Path, uid())
}

var (
	deniedSchema = regexp.MustCompile(`permission denied for schema (.+)$`)
	deniedObject = regexp.MustCompile(`(?:permission denied for|must be owner of) (table|sequence|index|relation|function|type) (.+)$`)
)

// explainPostgres explains an error of a statement on an open PostgreSQL
// database; "" when it is not about the database's setup.
func (d *DB) explainPostgres(err error) string {
	t := d.target
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return ""
	}
	role, dbname := quoteIdent(t.User), quoteIdent(t.Database)
	switch pgErr.Code {
	case "42501": // insufficient_privilege
		if m := deniedSchema.FindStringSubmatch(pgErr.Message); m != nil {
			schema := m[1]
			return fmt.Sprintf("%s: role %q may not create tables in schema %q of database %q on %s: "+
				"run GRANT CREATE ON SCHEMA %s TO %s (as the schema's owner or a superuser), or make %s the schema's owner (ALTER SCHEMA %s OWNER TO %s)",
				t.setting(), t.User, schema, t.Database, t.Addr(), quoteIdent(schema), role, role, quoteIdent(schema), role)
		}
		if m := deniedObject.FindStringSubmatch(pgErr.Message); m != nil {
			kind, name := m[1], m[2]
			return fmt.Sprintf("%s: role %q may not change %s %s of database %q on %s, which another role owns: "+
				"run the migrations as its owner (accountd migrate with the owner's DATABASE_URL), or make %s the owner (ALTER %s %s OWNER TO %s)",
				t.setting(), t.User, kind, name, t.Database, t.Addr(), role, strings.ToUpper(kind), quoteIdent(name), role)
		}
		if strings.Contains(pgErr.Message, "permission denied for database") {
			return fmt.Sprintf("%s: role %q may not create schemas or objects in database %q on %s: run GRANT CREATE ON DATABASE %s TO %s (as the database's owner)",
				t.setting(), t.User, t.Database, t.Addr(), dbname, role)
		}
		return fmt.Sprintf("%s: role %q lacks a privilege in database %q on %s: grant it, or run the migrations as the database's owner",
			t.setting(), t.User, t.Database, t.Addr())
	case "3F000": // invalid_schema_name: nowhere to create tables
		path := d.searchPath()
		return fmt.Sprintf("%s: role %q has no schema to create tables in, in database %q on %s: no schema of its search_path (%s) exists "+
			"with USAGE granted to it: create one (CREATE SCHEMA %s AUTHORIZATION %s) or run GRANT USAGE, CREATE ON SCHEMA <schema> TO %s",
			t.setting(), t.User, t.Database, t.Addr(), path, role, role, role)
	case "25006": // read_only_sql_transaction
		return t.setting() + ": " + d.postgresReadOnlyReason(context.Background())
	case "53100": // disk_full
		return fmt.Sprintf("%s: the PostgreSQL server at %s has run out of disk space", t.setting(), t.Addr())
	case "3D000", "28P01", "28000":
		return d.explainPostgresConnect(err)
	}
	return ""
}

// searchPath is the role's search_path, for a message; "?" if it cannot
// be read.
func (d *DB) searchPath() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var p string
	if err := d.DB.DB.QueryRowContext(ctx, "SHOW search_path").Scan(&p); err != nil {
		return "?"
	}
	return p
}

// explainPostgresConnect explains a failed connection to PostgreSQL.
func (d *DB) explainPostgresConnect(err error) string {
	t := d.target
	role, dbname := quoteIdent(t.User), quoteIdent(t.Database)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "3D000": // invalid_catalog_name
			return fmt.Sprintf("%s: database %q does not exist on the PostgreSQL server at %s: create it (CREATE DATABASE %s OWNER %s, as a superuser), or correct the database name in DATABASE_URL",
				t.setting(), t.Database, t.Addr(), dbname, role)
		case "28P01": // invalid_password
			return fmt.Sprintf("%s: the PostgreSQL server at %s refused the password of role %q: correct the password in DATABASE_URL (it is not shown here)",
				t.setting(), t.Addr(), t.User)
		case "28000": // invalid_authorization_specification
			if strings.Contains(pgErr.Message, "does not exist") {
				return fmt.Sprintf("%s: role %q does not exist on the PostgreSQL server at %s: create it (CREATE ROLE %s LOGIN PASSWORD '…') or correct the user in DATABASE_URL",
					t.setting(), t.User, t.Addr(), role)
			}
			return fmt.Sprintf("%s: the PostgreSQL server at %s does not let role %q sign in to database %q: %s (see its pg_hba.conf)",
				t.setting(), t.Addr(), t.User, t.Database, pgErr.Message)
		case "42501": // insufficient_privilege: here, CONNECT
			return fmt.Sprintf("%s: role %q may not connect to database %q on %s: run GRANT CONNECT ON DATABASE %s TO %s (as the database's owner or a superuser)",
				t.setting(), t.User, t.Database, t.Addr(), dbname, role)
		case "53300": // too_many_connections
			return fmt.Sprintf("%s: the PostgreSQL server at %s has no connection left for role %q: %s", t.setting(), t.Addr(), t.User, pgErr.Message)
		case "57P03": // cannot_connect_now
			return fmt.Sprintf("%s: the PostgreSQL server at %s is not accepting connections yet: %s", t.setting(), t.Addr(), pgErr.Message)
		}
		return fmt.Sprintf("%s: the PostgreSQL server at %s refused role %q, database %q: %s (SQLSTATE %s)",
			t.setting(), t.Addr(), t.User, t.Database, pgErr.Message, pgErr.Code)
	}
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("%s: nothing accepts connections at %s (connection refused): is PostgreSQL running there, and are DATABASE_URL's host and port right?",
			t.setting(), t.Addr())
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s: cannot resolve the host %q: correct the host in DATABASE_URL", t.setting(), t.Host)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("%s: no answer from %s within 10 s: is the host right, and does every firewall on the way let the connection through?",
			t.setting(), t.Addr())
	}
	return fmt.Sprintf("%s: cannot connect to the PostgreSQL server at %s as role %q, database %q: %v",
		t.setting(), t.Addr(), t.User, t.Database, innermost(err))
}

// innermost is the last error of err's chain: the cause without the
// wrappers, which repeat the user and database already named.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}
