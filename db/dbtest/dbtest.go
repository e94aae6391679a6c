// Package dbtest gives tests real databases: a fresh SQLite file always,
// and a fresh PostgreSQL schema whenever TEST_DATABASE_URL is set.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"accountd/db"
	"accountd/secret"
)

// Engine names a database a test can run against.
type Engine struct {
	Name string
	// URL is the DATABASE_URL of a fresh, empty database for this test.
	URL string
}

// Engines returns SQLite and, when TEST_DATABASE_URL is set, PostgreSQL,
// each a fresh database dropped when tb ends.
func Engines(tb testing.TB) []Engine {
	tb.Helper()
	out := []Engine{{Name: "sqlite", URL: "sqlite:" + filepath.Join(tb.TempDir(), "test.db")}}
	if base := os.Getenv("TEST_DATABASE_URL"); base != "" {
		out = append(out, Engine{Name: "postgres", URL: postgresSchema(tb, base)})
	}
	return out
}

// postgresSchema creates a schema of its own for this test and returns a
// URL whose connections use it, so tests never see each other's rows.
func postgresSchema(tb testing.TB, base string) string {
	tb.Helper()
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close()
	schema := "t_" + strings.ToLower(secret.RandomString(12))
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		admin, err := db.Open(context.Background(), base)
		if err != nil {
			tb.Errorf("drop schema: %v", err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop schema: %v", err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens and migrates the engine's database, closing it when tb ends.
func Open(tb testing.TB, e Engine) *db.DB {
	tb.Helper()
	d, err := db.Open(context.Background(), e.URL)
	if err != nil {
		tb.Fatalf("open %s: %v", e.Name, err)
	}
	tb.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(context.Background()); err != nil {
		tb.Fatalf("migrate %s: %v", e.Name, err)
	}
	return d
}

// Each runs fn as a subtest once per engine, on a fresh migrated database.
func Each(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, e := range Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			fn(t, Open(t, e))
		})
	}
}

// Name describes an engine set for benchmark names.
func Name(e Engine) string { return fmt.Sprintf("db=%s", e.Name) }
