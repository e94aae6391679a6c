// Package db is the storage layer: bun on PostgreSQL or embedded SQLite,
// the embedded migrations of each, and the repositories the account
// service depends on. Unique violations are translated into
// *model.DuplicateError, and every other error leaves a Store method
// prefixed with the method's name ("db.UpdateAPIKey: …"), wrapped so that
// errors.Is and errors.As still reach the driver's error.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"modernc.org/sqlite"
)

// Dialect names the engine behind a DB.
type Dialect string

// The supported engines.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DB is an open database with the engine it runs on.
type DB struct {
	*bun.DB
	Dialect Dialect
	counts  *queryCounts
	// pool is PostgreSQL's connection pool, shared by bun (through
	// database/sql) and the hand-written hot path, which uses it directly.
	pool *pgxpool.Pool
	// target is where DATABASE_URL points, for logs and error messages.
	target Target
}

// Target is where the database is: what start-up logs and errors name.
func (d *DB) Target() Target { return d.target }

// Close closes the database and, on PostgreSQL, its pool.
func (d *DB) Close() error {
	err := d.DB.Close()
	if d.pool != nil {
		d.pool.Close()
	}
	return err
}

// Queries returns how many SQL statements this DB has run: benchmarks
// divide it by the number of requests.
func (d *DB) Queries() int64 { return d.counts.all.Load() }

// Writes returns how many of those statements were not SELECTs.
func (d *DB) Writes() int64 { return d.counts.writes.Load() }

// Open connects to the database named by url: "postgres://…" or
// "postgresql://…" for PostgreSQL; "sqlite:PATH", "file:PATH" or a bare
// path for SQLite, whose directory is created if missing. It fails when
// the URL is unusable or the database does not answer a ping within 10
// seconds, with an error that names DATABASE_URL, where it points (never
// the password) and, for the usual mistakes, what to do: a directory that
// cannot be created or written, a PostgreSQL server that cannot be reached,
// a database that does not exist, a role that may not connect.
func Open(ctx context.Context, rawURL string) (*DB, error) {
	var (
		sqldb   *sql.DB
		dialect Dialect
		bdb     *bun.DB
		pool    *pgxpool.Pool
		target  Target
		secret  string
	)
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		cfg, err := pgxpool.ParseConfig(rawURL)
		if err != nil {
			// pgx's message quotes the URL, password included: name the step only.
			return nil, fmt.Errorf("open postgres: DATABASE_URL is not a usable PostgreSQL URL")
		}
		cc := cfg.ConnConfig
		secret = cc.Password
		target = Target{Dialect: Postgres, Host: cc.Host, Port: cc.Port, Database: cc.Database, User: cc.User}
		if target.Database == "" {
			// PostgreSQL's default, which the server applies.
			target.Database = cc.User
		}
		target.URL = postgresURL(target.Host, target.Port, target.Database, target.User)
		cfg.MaxConns = 25
		cfg.MaxConnIdleTime = 5 * time.Minute
		pool, err = pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, &SetupError{Msg: scrub(fmt.Sprintf("%s: %v", target.setting(), err), secret), Err: err}
		}
		// database/sql borrows the pool's connections and gives each back
		// after use, so the pool alone decides how many there are.
		sqldb = sql.OpenDB(bindConnector{inner: stdlib.GetPoolConnector(pool), postgres: true})
		sqldb.SetMaxIdleConns(0)
		sqldb.SetMaxOpenConns(int(cfg.MaxConns))
		dialect = Postgres
		bdb = bun.NewDB(sqldb, pgdialect.New())
	default:
		dsn, t, err := sqliteDSN(rawURL)
		if err != nil {
			return nil, err
		}
		target = t
		connector, err := sqlite.NewConnector(dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		sqldb = sql.OpenDB(bindConnector{inner: connector})
		// Readers run in parallel under WAL; writers queue on the busy
		// timeout. A modest pool keeps that queue short.
		sqldb.SetMaxOpenConns(8)
		sqldb.SetMaxIdleConns(8)
		dialect = SQLite
		bdb = bun.NewDB(sqldb, sqlitedialect.New())
	}
	d := &DB{DB: bdb, Dialect: dialect, counts: &queryCounts{}, pool: pool, target: target}
	bdb.AddQueryHook(countHook{d.counts})
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := ping(pingCtx, sqldb, dialect); err != nil {
		d.Close()
		return nil, d.explainOpen(err, secret)
	}
	return d, nil
}

// ping opens the first connection. On SQLite it tries again while the file
// is busy: the first connections to a new file switch it to WAL, which
// needs the file to themselves, and SQLite refuses the loser of two such
// switches at once without waiting out the busy timeout — two processes
// (a server and a command, several migrators) opening a new database
// together must not fail for that.
func ping(ctx context.Context, sqldb *sql.DB, dialect Dialect) error {
	for {
		err := sqldb.PingContext(ctx)
		if err == nil || dialect != SQLite || !sqliteBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sqliteBusy reports whether err is SQLite's SQLITE_BUSY (any extended
// code of it).
func sqliteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == 5
}

// sqliteDSN turns "sqlite:PATH" (or a bare path) into a modernc DSN whose
// pragmas apply to every pooled connection: WAL so readers never block on
// the writer, a busy timeout so writers wait instead of failing with
// SQLITE_BUSY, foreign keys on, and IMMEDIATE transactions so a write
// transaction takes the write lock up front instead of failing to upgrade.
// The URL may add mode=ro|rw|rwc and further _pragma=NAME(VALUE)
// parameters, which SQLite applies after these; any other parameter is
// refused rather than ignored. The directory is created here, so that a
// failure names it.
func sqliteDSN(raw string) (string, Target, error) {
	path := raw
	for _, p := range []string{"sqlite://", "sqlite:", "file:"} {
		if strings.HasPrefix(path, p) {
			path = strings.TrimPrefix(path, p)
			break
		}
	}
	var rawQuery string
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path, rawQuery = path[:i], path[i+1:]
	}
	if path == "" {
		return "", Target{}, fmt.Errorf("DATABASE_URL %q: no SQLite path", raw)
	}
	if strings.Contains(raw, "://") && !strings.HasPrefix(raw, "sqlite://") {
		// Name the scheme only: the rest of a URL may hold a password.
		scheme, _, _ := strings.Cut(raw, "://")
		return "", Target{}, fmt.Errorf("DATABASE_URL: unsupported scheme %q (want postgres:// or sqlite:PATH)", scheme)
	}
	t := Target{Dialect: SQLite, URL: raw, Path: path}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	if rawQuery != "" {
		extra, err := url.ParseQuery(rawQuery)
		if err != nil {
			return "", Target{}, fmt.Errorf("DATABASE_URL=%s: unreadable parameters: %v", raw, err)
		}
		for k, vs := range extra {
			switch k {
			case "mode":
				switch m := vs[len(vs)-1]; m {
				case "ro", "rw", "rwc", "memory":
					t.Mode = m
					q.Set("mode", m)
				default:
					return "", Target{}, fmt.Errorf("DATABASE_URL=%s: mode=%s: want ro, rw, rwc or memory", raw, m)
				}
			case "_pragma":
				for _, v := range vs {
					if p := strings.ToLower(strings.ReplaceAll(v, " ", "")); strings.HasPrefix(p, "query_only(") &&
						!strings.HasPrefix(p, "query_only(0") && !strings.HasPrefix(p, "query_only(false") &&
						!strings.HasPrefix(p, "query_only(off") && !strings.HasPrefix(p, "query_only(no") {
						t.QueryOnly = true
					}
					q.Add("_pragma", v)
				}
			default:
				return "", Target{}, fmt.Errorf("DATABASE_URL=%s: unknown SQLite parameter %q (known: mode, _pragma)", raw, k)
			}
		}
	}
	if path == ":memory:" || t.Mode == "memory" {
		t.Path = ":memory:"
		return "file:" + path + "?" + q.Encode(), t, nil
	}
	if abs, err := filepath.Abs(path); err == nil {
		t.Path = abs
	}
	if err := makeDir(filepath.Dir(t.Path)); err != nil {
		return "", Target{}, &SetupError{Msg: t.setting() + ": " + err.Error(), Err: err}
	}
	return "file:" + path + "?" + q.Encode(), t, nil
}

type queryCounts struct{ all, writes atomic.Int64 }

// countHook counts statements; it is how benchmarks report queries and
// writes per request.
type countHook struct{ c *queryCounts }

func (h countHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	h.c.all.Add(1)
	if op := e.Operation(); op != "SELECT" {
		h.c.writes.Add(1)
	}
	return ctx
}

func (countHook) AfterQuery(context.Context, *bun.QueryEvent) {}
