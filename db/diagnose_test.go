package db_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/secret"
)

// wantMessage checks that err is a *db.SetupError whose message holds
// every want and none of leaks.
func wantMessage(t *testing.T, err error, want []string, leaks ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	var se *db.SetupError
	if !errors.As(err, &se) {
		t.Errorf("%T %q is not a *db.SetupError", err, err)
	}
	msg := err.Error()
	t.Logf("message: %s", msg)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q lacks %q", msg, w)
		}
	}
	for _, l := range leaks {
		if strings.Contains(msg, l) {
			t.Errorf("error %q holds %q", msg, l)
		}
	}
}

// A directory that cannot be created because part of its path is a file
// fails the same way for root, so this runs everywhere. The path is
// relative: the message names the absolute one.
func TestOpenSQLiteParentIsAFile(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// This very file stands in the way.
	_, err = db.Open(context.Background(), "sqlite:diagnose_test.go/data/panel.db")
	wantMessage(t, err, []string{
		"DATABASE_URL=sqlite:diagnose_test.go/data/panel.db",
		"cannot create directory " + filepath.Join(wd, "diagnose_test.go", "data"),
		filepath.Join(wd, "diagnose_test.go") + " is a file, not a directory",
	}, "unable to open database file")
	if _, err := os.Stat("diagnose_test.go"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSQLitePathIsADirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := db.Open(context.Background(), "sqlite:"+dir)
	wantMessage(t, err, []string{"DATABASE_URL=sqlite:" + dir, dir + " is a directory, not a database file"}, "(14)")
}

func TestOpenSQLiteNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "panel.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database\n", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := db.Open(context.Background(), "sqlite:"+path)
	wantMessage(t, err, []string{"DATABASE_URL=sqlite:" + path, path + " is not an SQLite database"})
}

// skipIfRoot skips a test of file permissions, which root ignores.
func skipIfRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions; the tests with mode=ro and query_only cover the read-only checks")
	}
}

func TestOpenSQLiteUnwritableDirectory(t *testing.T) {
	skipIfRoot(t)
	dir := filepath.Join(t.TempDir(), "locked")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })

	t.Run("directory to create", func(t *testing.T) {
		_, err := db.Open(context.Background(), "sqlite:"+dir+"/data/panel.db")
		wantMessage(t, err, []string{"DATABASE_URL=sqlite:" + dir + "/data/panel.db",
			"cannot create directory " + filepath.Join(dir, "data") + ": permission denied", "make " + dir + " writable"})
	})
	t.Run("file to create", func(t *testing.T) {
		_, err := db.Open(context.Background(), "sqlite:"+dir+"/panel.db")
		wantMessage(t, err, []string{"cannot create " + filepath.Join(dir, "panel.db"),
			"directory " + dir + " is not writable (permission denied)"}, "(14)")
	})
}

// A database file the server may read but not write opens, and
// CheckWritable says why it cannot be written.
func TestCheckWritableSQLiteFilePermissions(t *testing.T) {
	skipIfRoot(t)
	path := filepath.Join(t.TempDir(), "panel.db")
	d := dbtest.Open(t, dbtest.Engine{Name: "sqlite", URL: "sqlite:" + path})
	d.Close()
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	ro, err := db.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.CheckWritable(context.Background())
	if !errors.Is(err, db.ErrReadOnly) {
		t.Fatalf("CheckWritable = %v, want ErrReadOnly", err)
	}
	wantMessage(t, err, []string{path, "cannot be written (permission denied)"})
}

// Read-only by URL works for root too: mode=ro and query_only are two
// ways SQLite refuses writes, and CheckWritable names each.
func TestCheckWritableSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "panel.db")
	d := dbtest.Open(t, dbtest.Engine{Name: "sqlite", URL: "sqlite:" + path})
	if err := d.CheckWritable(context.Background()); err != nil {
		t.Fatalf("CheckWritable on a writable database = %v", err)
	}
	for _, c := range []struct{ query, want string }{
		{"mode=ro", "DATABASE_URL sets mode=ro"},
		{"_pragma=query_only(1)", "DATABASE_URL sets _pragma=query_only"},
	} {
		t.Run(c.query, func(t *testing.T) {
			raw := "sqlite:" + path + "?" + c.query
			ro, err := db.Open(context.Background(), raw)
			if err != nil {
				t.Fatal(err)
			}
			defer ro.Close()
			err = ro.CheckWritable(context.Background())
			if !errors.Is(err, db.ErrReadOnly) {
				t.Fatalf("CheckWritable = %v, want ErrReadOnly", err)
			}
			wantMessage(t, err, []string{"DATABASE_URL=" + raw, path, c.want})
			// A write fails, and Explain says the same.
			_, werr := ro.ExecContext(context.Background(), "DELETE FROM schema_migrations")
			if werr == nil {
				t.Fatal("a write succeeded")
			}
			wantMessage(t, ro.Explain(werr), []string{"DATABASE_URL=" + raw, c.want})
		})
	}
}

func TestOpenSQLiteUnknownParameter(t *testing.T) {
	raw := "sqlite:" + filepath.Join(t.TempDir(), "panel.db") + "?cache=shared"
	_, err := db.Open(context.Background(), raw)
	if err == nil || !strings.Contains(err.Error(), `unknown SQLite parameter "cache"`) || !strings.Contains(err.Error(), "DATABASE_URL=") {
		t.Fatalf("Open(%s) = %v, want the unknown parameter named", raw, err)
	}
}

func TestTargetSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "panel.db")
	d, err := db.Open(context.Background(), "sqlite:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.Target(); got.Dialect != db.SQLite || got.Path != path || got.URL != "sqlite:"+path {
		t.Fatalf("Target = %+v", got)
	}
}

// Nothing listens on port 1: the error names the address and the
// variable, and never the password.
func TestOpenPostgresRefused(t *testing.T) {
	_, err := db.Open(context.Background(), "postgres://app:hunter2-secret@127.0.0.1:1/panel?sslmode=disable")
	wantMessage(t, err, []string{"DATABASE_URL (postgres://app@127.0.0.1:1/panel)", "127.0.0.1:1", "connection refused"},
		"hunter2-secret")
}

// pgBase is TEST_DATABASE_URL, or a skip.
func pgBase(t *testing.T) *url.URL {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		t.Skip("TEST_DATABASE_URL not set")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// pgAdmin opens TEST_DATABASE_URL, closed when t ends.
func pgAdmin(t *testing.T) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), os.Getenv("TEST_DATABASE_URL"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// pgExec runs statements as TEST_DATABASE_URL's role.
func pgExec(t *testing.T, d *db.DB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		if _, err := d.ExecContext(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// pgRole creates a login role with no privileges, dropped (with what it
// owns) when t ends, and returns its name.
func pgRole(t *testing.T, admin *db.DB) string {
	t.Helper()
	role := "accountd_t_" + strings.ToLower(secret.RandomString(10))
	pgExec(t, admin, "CREATE ROLE "+role+" LOGIN")
	t.Cleanup(func() {
		for _, s := range []string{"DROP OWNED BY " + role + " CASCADE", "DROP ROLE " + role} {
			if _, err := admin.ExecContext(context.Background(), s); err != nil {
				t.Errorf("%s: %v", s, err)
			}
		}
	})
	// A server whose pg_hba.conf asks for peer or password authentication
	// (a fresh Debian install does, on the local socket) lets no new role
	// in without an OS user or a password: then there is nothing to test.
	if d, err := db.Open(context.Background(), asRole(pgBase(t), role, "public")); err != nil {
		if strings.Contains(err.Error(), "authentication") {
			t.Skipf("the server does not let a new role in: %v", err)
		}
	} else {
		d.Close()
	}
	return role
}

// pgSchema creates a schema owned by TEST_DATABASE_URL's role, dropped
// when t ends.
func pgSchema(t *testing.T, admin *db.DB) string {
	t.Helper()
	schema := "t_" + strings.ToLower(secret.RandomString(12))
	pgExec(t, admin, "CREATE SCHEMA "+schema)
	t.Cleanup(func() { admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	return schema
}

// asRole is base with role as the user (and a password the server, on
// trust authentication, ignores) and search_path set.
func asRole(base *url.URL, role, schema string) string {
	u := *base
	u.User = url.UserPassword(role, "hunter2-secret")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// A role that may use a schema but not create in it fails the first
// migration with the GRANT that fixes it.
func TestMigratePostgresWithoutCreate(t *testing.T) {
	base := pgBase(t)
	admin := pgAdmin(t)
	role, schema := pgRole(t, admin), pgSchema(t, admin)
	pgExec(t, admin, "GRANT USAGE ON SCHEMA "+schema+" TO "+role)

	d, err := db.Open(context.Background(), asRole(base, role, schema))
	if err != nil {
		t.Fatalf("open as %s: %v", role, err)
	}
	defer d.Close()
	_, err = d.Migrate(context.Background())
	if err == nil {
		t.Fatal("migrated without CREATE")
	}
	dbname := strings.TrimPrefix(base.Path, "/")
	wantMessage(t, d.Explain(err), []string{
		`role "` + role + `" may not create tables in schema "` + schema + `" of database "` + dbname + `"`,
		"GRANT CREATE ON SCHEMA " + schema + " TO " + role,
		"ALTER SCHEMA " + schema + " OWNER TO " + role,
		"DATABASE_URL (postgres://" + role + "@" + base.Host,
	}, "hunter2-secret")

	// With the grant, the same role migrates.
	pgExec(t, admin, "GRANT CREATE ON SCHEMA "+schema+" TO "+role)
	if _, err := d.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate after the grant: %v", err)
	}
}

// A role whose search_path has no schema it may use has nowhere to create
// tables.
func TestMigratePostgresWithoutUsage(t *testing.T) {
	base := pgBase(t)
	admin := pgAdmin(t)
	role, schema := pgRole(t, admin), pgSchema(t, admin)
	d, err := db.Open(context.Background(), asRole(base, role, schema))
	if err != nil {
		t.Fatalf("open as %s: %v", role, err)
	}
	defer d.Close()
	_, err = d.Migrate(context.Background())
	wantMessage(t, d.Explain(err), []string{`role "` + role + `" has no schema to create tables in`, schema,
		"GRANT USAGE, CREATE ON SCHEMA <schema> TO " + role}, "hunter2-secret")
}

// A role without CONNECT on the database is told which GRANT to ask for.
func TestOpenPostgresWithoutConnect(t *testing.T) {
	base := pgBase(t)
	admin := pgAdmin(t)
	role := pgRole(t, admin)
	dbname := "accountd_t_" + strings.ToLower(secret.RandomString(10))
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+dbname); err != nil {
		t.Skipf("TEST_DATABASE_URL's role cannot create a database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(context.Background(), "DROP DATABASE "+dbname+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database: %v", err)
		}
	})
	pgExec(t, admin, "REVOKE CONNECT ON DATABASE "+dbname+" FROM PUBLIC")

	u := *base
	u.Path = "/" + dbname
	_, err := db.Open(context.Background(), asRole(&u, role, "public"))
	wantMessage(t, err, []string{`role "` + role + `" may not connect to database "` + dbname + `"`,
		"GRANT CONNECT ON DATABASE " + dbname + " TO " + role}, "hunter2-secret")
}

func TestOpenPostgresNoSuchDatabase(t *testing.T) {
	base := pgBase(t)
	u := *base
	u.User = url.UserPassword(base.User.Username(), "hunter2-secret")
	u.Path = "/accountd_no_such_database"
	_, err := db.Open(context.Background(), u.String())
	wantMessage(t, err, []string{`database "accountd_no_such_database" does not exist`, base.Host,
		"CREATE DATABASE accountd_no_such_database", "DATABASE_URL ("}, "hunter2-secret")
}

// A read-only session (here by DATABASE_URL, as on a standby or with
// default_transaction_read_only) fails CheckWritable, and a migration
// says where the setting comes from.
func TestCheckWritablePostgres(t *testing.T) {
	base := pgBase(t)
	admin := pgAdmin(t)
	schema := pgSchema(t, admin)
	u := *base
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	d, err := db.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.CheckWritable(context.Background()); err != nil {
		t.Fatalf("CheckWritable on a writable database = %v", err)
	}

	q.Set("default_transaction_read_only", "on")
	u.RawQuery = q.Encode()
	ro, err := db.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	err = ro.CheckWritable(context.Background())
	if !errors.Is(err, db.ErrReadOnly) {
		t.Fatalf("CheckWritable = %v, want ErrReadOnly", err)
	}
	wantMessage(t, err, []string{"default_transaction_read_only is on (set by: client)", "remove it from DATABASE_URL"})
	_, err = ro.Migrate(context.Background())
	wantMessage(t, ro.Explain(err), []string{"is read-only", "default_transaction_read_only"})
}

func TestHasUsers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if has, err := d.HasUsers(ctx); err != nil || has {
			t.Fatalf("HasUsers on a fresh database = %v, %v", has, err)
		}
		if err := db.NewStore(d).CreateUser(ctx, newUser("alice"), true); err != nil {
			t.Fatal(err)
		}
		if has, err := d.HasUsers(ctx); err != nil || !has {
			t.Fatalf("HasUsers with one user = %v, %v", has, err)
		}
	})
}
