package app_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db"
	"accountd/db/dbtest"
)

// withPassword adds a password to a PostgreSQL URL. The test server
// trusts local connections and ignores it; the point is that no log line
// or error repeats it.
func withPassword(t *testing.T, e dbtest.Engine) dbtest.Engine {
	t.Helper()
	if e.Name != "postgres" {
		return e
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "hunter2-secret")
	e.URL = u.String()
	return e
}

// TestStartLog shows what a first start says: where the database is
// (never the password), the URLs to open, built from APP_URL, and while
// nobody has an account, that the first to sign up becomes an
// administrator.
func TestStartLog(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			e := withPassword(t, e)
			ts := apptest.NewServer(t, e, func(cfg *app.Config) {
				cfg.AppURL, _ = url.Parse("https://panel.example.com")
			})
			ctx := context.Background()
			ts.App.LogStart(ctx, "127.0.0.1:8000")
			logs := ts.LogText()

			want := []string{
				`level=INFO msg=endpoints url=https://panel.example.com/ graphql=https://panel.example.com/graphql ` +
					`graphiql=https://panel.example.com/graphiql openapi=https://panel.example.com/api/openapi.json`,
				`level=WARN msg="no account exists yet: the first one to sign up becomes an administrator" ` +
					`fix="on a public instance, create the administrator first: accountd user create --admin`,
			}
			if e.Name == "sqlite" {
				want = append(want, "level=INFO msg=listening addr=127.0.0.1:8000 database=sqlite path="+strings.TrimPrefix(e.URL, "sqlite:")+"\n")
			} else {
				want = append(want, "level=INFO msg=listening addr=127.0.0.1:8000 database=postgres "+dbtest.PostgresTarget(t, e.URL)+"\n")
			}
			for _, w := range want {
				if !strings.Contains(logs, w) {
					t.Errorf("the start-up log lacks\n\t%s\n%s", w, logs)
				}
			}
			if strings.Contains(logs, "hunter2-secret") {
				t.Errorf("the start-up log holds the password:\n%s", logs)
			}

			// Once an account exists, the warning is gone.
			ts.RegisterREST(t, "alice", "correct horse")
			before := strings.Count(ts.LogText(), "first one to sign up")
			ts.App.LogStart(ctx, "127.0.0.1:8000")
			if after := strings.Count(ts.LogText(), "first one to sign up"); after != before {
				t.Errorf("warned about the first sign-up with an account in the database:\n%s", ts.LogText())
			}
		})
	}
}

// Without GraphiQL the log offers no GraphiQL URL, and with sign-up off
// there is no first sign-up to warn about.
func TestStartLogWithoutGraphiQLOrSignUp(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, func(cfg *app.Config) {
		cfg.GraphQLIntrospection = false
		cfg.RegistrationEnabled = false
	}, func(t *testing.T, ts *apptest.Server) {
		ts.App.LogStart(context.Background(), "127.0.0.1:8000")
		logs := ts.LogText()
		if !strings.Contains(logs, "msg=endpoints url=http://localhost:8000/ graphql=http://localhost:8000/graphql openapi=http://localhost:8000/api/openapi.json") {
			t.Errorf("endpoints line wrong:\n%s", logs)
		}
		if strings.Contains(logs, "graphiql") || strings.Contains(logs, "level=WARN") {
			t.Errorf("the log mentions GraphiQL or warns:\n%s", logs)
		}
	})
}

// syncBuffer is a log destination the handlers of a test server and the
// test may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newApp runs app.New on dbURL with a log of its own.
func newApp(t *testing.T, dbURL string) (*app.App, *syncBuffer, error) {
	t.Helper()
	cfg, err := app.LoadConfig(func(name string) string {
		if name == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	fast := apptest.FastArgon2()
	cfg.Argon2 = &fast
	logs := &syncBuffer{}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err == nil {
		t.Cleanup(func() { a.Close() })
	}
	return a, logs, err
}

// readOnlyURL is e's URL opened so that nothing can be written: SQLite's
// query_only, PostgreSQL's default_transaction_read_only (a standby
// behaves the same).
func readOnlyURL(t *testing.T, e dbtest.Engine) string {
	t.Helper()
	if e.Name == "sqlite" {
		return e.URL + "?_pragma=query_only(1)"
	}
	u, err := url.Parse(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	return u.String()
}

// A database that cannot be written but needs no migration: the server
// starts, start-up says so, and /readyz fails with the reason, once in
// the log however often it is polled.
func TestReadOnlyDatabaseFailsReadiness(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			dbtest.Open(t, e) // migrated, then opened read-only
			a, logs, err := newApp(t, readOnlyURL(t, e))
			if err != nil {
				t.Fatalf("start on a read-only, migrated database: %v", err)
			}
			startLog := logs.String()
			if !strings.Contains(startLog, `level=ERROR msg="database cannot be written: /readyz fails until it can"`) ||
				!strings.Contains(startLog, "DATABASE_URL") {
				t.Fatalf("start-up did not say the database cannot be written:\n%s", startLog)
			}
			srv := httptest.NewServer(a.Handler())
			defer srv.Close()
			for range 3 {
				res, err := http.Get(srv.URL + "/readyz")
				if err != nil {
					t.Fatal(err)
				}
				var body bytes.Buffer
				body.ReadFrom(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body.String(), `"database read-only"`) {
					t.Fatalf("/readyz: %d %s, want 503 database read-only", res.StatusCode, body.String())
				}
			}
			if n := strings.Count(logs.String(), "database cannot be written"); n != 1 {
				t.Errorf("the log says %d times that the database cannot be written, want once:\n%s", n, logs)
			}
			// Everything else still answers.
			if res, err := http.Get(srv.URL + "/healthz"); err != nil || res.StatusCode != http.StatusOK {
				t.Errorf("/healthz: %v %v", res, err)
			}
		})
	}
}

// A read-only database that still needs its schema cannot be served:
// start-up fails, saying why and what to change.
func TestReadOnlyDatabaseNeedingMigrationsRefused(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			_, _, err := newApp(t, readOnlyURL(t, e))
			if !errors.Is(err, db.ErrReadOnly) {
				t.Fatalf("start on a read-only, empty database: %v, want ErrReadOnly", err)
			}
			for _, want := range []string{"DATABASE_URL", "read-only", "its schema must be created, which needs writing"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}
}

// Start-up errors about the database reach the operator explained: here
// a directory that cannot be created (root too cannot create one under a
// file).
func TestNewExplainsSQLitePath(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := newApp(t, "sqlite:"+file+"/data/panel.db")
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL=sqlite:"+file+"/data/panel.db: cannot create directory "+file+"/data: "+file+" is a file") {
		t.Fatalf("app.New = %v", err)
	}
}

// A PostgreSQL role that may not create tables is told the GRANT at
// start-up, and its password is never repeated.
func TestNewExplainsPostgresPrivileges(t *testing.T) {
	t.Parallel()
	role, schema, dbURL := dbtest.RestrictedRole(t)
	_, _, err := newApp(t, dbURL)
	if err == nil {
		t.Fatal("started without the right to create tables")
	}
	msg := err.Error()
	for _, want := range []string{`role "` + role + `" may not create tables in schema "` + schema + `"`,
		"GRANT CREATE ON SCHEMA " + schema + " TO " + role, "DATABASE_URL (postgres://" + role + "@"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, dbtest.RolePassword) {
		t.Errorf("error %q holds the password", msg)
	}
}

// LISTEN_ADDR changed and APP_URL left at its default: the logged URLs
// would lead nowhere, and the log says so. An APP_URL elsewhere may be a
// proxy, so it is trusted.
func TestStartLogAppURLMismatch(t *testing.T) {
	t.Parallel()
	sqlite := dbtest.Engines(t)[0]
	for _, c := range []struct {
		appURL, addr string
		warn         bool
	}{
		{"http://localhost:8000", "127.0.0.1:9000", true},
		{"http://127.0.0.1", "127.0.0.1:8080", true},
		{"http://localhost:8000", "0.0.0.0:8000", false},
		{"https://localhost", "[::1]:443", false},
		{"https://panel.example.com", "127.0.0.1:9000", false},
	} {
		ts := apptest.NewServer(t, sqlite, func(cfg *app.Config) { cfg.AppURL, _ = url.Parse(c.appURL) })
		ts.App.LogStart(context.Background(), c.addr)
		if got := strings.Contains(ts.LogText(), "APP_URL names this machine but another port"); got != c.warn {
			t.Errorf("APP_URL=%s, listening on %s: warned %v, want %v\n%s", c.appURL, c.addr, got, c.warn, ts.LogText())
		}
	}
}
