package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"accountd/db"
	"accountd/secret"
)

// RolePassword is the password RestrictedRole's URL carries: servers on
// trust authentication ignore it, and tests check it is never repeated.
const RolePassword = "hunter2-secret"

// RestrictedRole creates, on TEST_DATABASE_URL's server, a login role with
// no privileges and a schema the role may use but not create in, both
// dropped when tb ends, and returns the role, the schema and a DATABASE_URL
// that connects as the role (with RolePassword) with that schema as its
// search_path: a database an operator forgot to grant rights on. It skips
// tb without TEST_DATABASE_URL, or where the server lets no new role in
// (peer or password authentication, as a fresh install has on its socket).
func RestrictedRole(tb testing.TB) (role, schema, dbURL string) {
	tb.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		tb.Skip("TEST_DATABASE_URL not set")
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	suffix := strings.ToLower(secret.RandomString(10))
	role, schema = "accountd_t_"+suffix, "t_"+suffix
	tb.Cleanup(func() {
		defer admin.Close()
		for _, s := range []string{"DROP SCHEMA IF EXISTS " + schema + " CASCADE", "DROP OWNED BY " + role + " CASCADE", "DROP ROLE IF EXISTS " + role} {
			if _, err := admin.ExecContext(context.Background(), s); err != nil {
				tb.Errorf("%s: %v", s, err)
			}
		}
	})
	for _, s := range []string{"CREATE ROLE " + role + " LOGIN", "CREATE SCHEMA " + schema, "GRANT USAGE ON SCHEMA " + schema + " TO " + role} {
		if _, err := admin.ExecContext(ctx, s); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	u.User = url.UserPassword(role, RolePassword)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	dbURL = u.String()
	if d, err := db.Open(ctx, dbURL); err != nil {
		if strings.Contains(err.Error(), "authentication") {
			tb.Skipf("the server does not let a new role in: %v", err)
		}
		tb.Fatalf("open as %s: %v", role, err)
	} else {
		d.Close()
	}
	return role, schema, dbURL
}

// PostgresTarget is how the start-up log names the PostgreSQL database of
// dbURL: "host=… port=… dbname=… user=…", read as the driver reads the URL
// (a socket directory given as ?host=… included), never with the password.
func PostgresTarget(tb testing.TB, dbURL string) string {
	tb.Helper()
	cfg, err := pgconn.ParseConfig(dbURL)
	if err != nil {
		tb.Fatalf("parse %s: %v", dbURL, err)
	}
	dbname := cfg.Database
	if dbname == "" {
		dbname = cfg.User
	}
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s", cfg.Host, cfg.Port, dbname, cfg.User)
}
