package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// ErrBackupPostgres is Backup's refusal of a PostgreSQL database, which
// pg_dump backs up (see PgDumpCommand).
var ErrBackupPostgres = errors.New("a PostgreSQL database is backed up with pg_dump")

// Backup writes a consistent copy of the SQLite database to path, a file
// that must not exist yet, and returns its size. It is VACUUM INTO: one
// read transaction, so it may run while servers use the database (under
// WAL their writes go on meanwhile; the copy is the database as it was
// when the backup began), and the copy is compact and complete on its
// own, with no -wal file beside it. An existing file, even an empty one,
// is refused and left as it is. The copy holds every password hash and
// two-factor secret, so it is created readable by its owner only. On
// PostgreSQL it returns ErrBackupPostgres.
func (d *DB) Backup(ctx context.Context, path string) (_ int64, err error) {
	defer wrap(&err, "backup")
	if d.Dialect != SQLite {
		return 0, ErrBackupPostgres
	}
	// O_EXCL makes the refusal of an existing file atomic; VACUUM INTO
	// itself would accept an empty one.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return 0, fmt.Errorf("%s already exists: a backup never overwrites a file, choose a new name", path)
	}
	if err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	written := false
	defer func() {
		if !written {
			os.Remove(path) //nolint:errcheck // ours, and the error is already being returned
		}
	}()
	if _, err := d.DB.DB.ExecContext(ctx, "VACUUM INTO $1", path); err != nil {
		return 0, err
	}
	// VACUUM INTO syncs its output only under synchronous=FULL, and the
	// server runs with NORMAL: sync it (and its directory entry) before
	// reporting it written.
	if err := fsyncPath(path); err != nil {
		return 0, err
	}
	if err := fsyncPath(filepath.Dir(path)); err != nil {
		return 0, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	written = true
	return st.Size(), nil
}

// fsyncPath flushes a file or directory to stable storage.
func fsyncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// IsPostgresURL reports whether a DATABASE_URL names a PostgreSQL
// database, as Open decides it.
func IsPostgresURL(rawURL string) bool {
	return strings.HasPrefix(rawURL, "postgres://") || strings.HasPrefix(rawURL, "postgresql://")
}

// SQLiteFile returns the file a SQLite DATABASE_URL ("sqlite:PATH",
// "file:PATH" or a bare path) names, as Open reads it, without opening or
// creating anything.
func SQLiteFile(rawURL string) (string, error) {
	if IsPostgresURL(rawURL) {
		return "", errors.New("not a SQLite database")
	}
	path := rawURL
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	path, _, _ = strings.Cut(path, "?")
	switch {
	case path == "":
		return "", errors.New("no SQLite path")
	case strings.Contains(rawURL, "://") && !strings.HasPrefix(rawURL, "sqlite://"):
		scheme, _, _ := strings.Cut(rawURL, "://")
		return "", fmt.Errorf("unsupported scheme %q", scheme)
	}
	return path, nil
}

// PgDumpCommand returns the pg_dump command line that backs up the
// PostgreSQL database of rawURL into file in pg_dump's custom format (the
// one pg_restore reads): host, port, user, database and schema (a single
// search_path) from the URL, the password never. pg_dump asks for the
// password, or takes it from PGPASSWORD or ~/.pgpass.
func PgDumpCommand(rawURL, file string) string {
	args := []string{"pg_dump", "--format=custom"}
	var env []string
	if u, err := url.Parse(rawURL); err == nil {
		q := u.Query()
		host := u.Hostname()
		if host == "" {
			host = q.Get("host")
		}
		if host != "" {
			args = append(args, "--host="+shellWord(host))
		}
		if p := u.Port(); p != "" {
			args = append(args, "--port="+shellWord(p))
		}
		if u.User != nil && u.User.Username() != "" {
			args = append(args, "--username="+shellWord(u.User.Username()))
		}
		if s := q.Get("search_path"); s != "" && !strings.ContainsAny(s, ", ") {
			args = append(args, "--schema="+shellWord(s))
		}
		if db := strings.TrimPrefix(u.Path, "/"); db != "" {
			args = append(args, "--dbname="+shellWord(db))
		}
		if m := q.Get("sslmode"); m != "" {
			env = append(env, "PGSSLMODE="+shellWord(m))
		}
	}
	args = append(args, "--file="+shellWord(file))
	return strings.Join(append(env, args...), " ")
}

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	safe := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
