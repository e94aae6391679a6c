package db_test

import (
	"context"
	"strings"
	"testing"

	"accountd/db"
	"accountd/db/dbtest"
)

// TestMigrateRefusesANewerDatabase: a database a newer build migrated is
// refused, by name of what this build lacks, and left as it was; without
// the stranger, the same database migrates as before.
func TestMigrateRefusesANewerDatabase(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied) VALUES ('9999_from_the_future', 'x')"); err != nil {
			t.Fatal(err)
		}
		applied, err := d.Migrate(ctx)
		if err == nil || !strings.Contains(err.Error(), "9999_from_the_future") || !strings.Contains(err.Error(), "newer accountd") || len(applied) != 0 {
			t.Fatalf("Migrate = %v, %v; want a refusal naming 9999_from_the_future", applied, err)
		}
		if _, err := d.ExecContext(ctx, "DELETE FROM schema_migrations WHERE version = '9999_from_the_future'"); err != nil {
			t.Fatal(err)
		}
		if applied, err := d.Migrate(ctx); err != nil || len(applied) != 0 {
			t.Fatalf("Migrate after = %v, %v; want nothing to do", applied, err)
		}
	})
}
