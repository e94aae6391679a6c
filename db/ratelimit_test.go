package db_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"accountd/db"
	"accountd/db/dbtest"
)

// The clean-up's query for ended rate-limit windows reads an index, not
// every client's window. On PostgreSQL sequential scans are priced out so
// that the plan shows whether an index can serve the query at all, however
// small the test's table.
func TestRateLimitCleanupUsesAnIndex(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			d := dbtest.Open(t, e)
			ctx := context.Background()
			st := db.NewStore(d)
			for _, k := range []string{"a", "b", "c"} {
				if _, _, err := st.Hit(ctx, k, time.Now().UTC(), time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			tx, err := d.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback() //nolint:errcheck // read-only
			explain := "EXPLAIN QUERY PLAN "
			if d.Dialect == db.Postgres {
				explain = "EXPLAIN "
				if _, err := tx.ExecContext(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
					t.Fatal(err)
				}
			}
			rows, err := tx.QueryContext(ctx, explain+"SELECT key FROM rate_limits WHERE window_start < ? LIMIT 1000", time.Now().UTC())
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var plan strings.Builder
			for rows.Next() {
				cols, _ := rows.Columns()
				vals := make([]any, len(cols))
				for i := range vals {
					vals[i] = new(any)
				}
				if err := rows.Scan(vals...); err != nil {
					t.Fatal(err)
				}
				for _, v := range vals {
					plan.WriteString(strings.TrimSpace(strings.ReplaceAll(toString(*v.(*any)), "\n", " ")) + " ")
				}
				plan.WriteString("\n")
			}
			if !strings.Contains(plan.String(), "rate_limits_window_start") {
				t.Fatalf("the clean-up does not use rate_limits_window_start:\n%s", plan.String())
			}
		})
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case []byte:
		return string(v)
	case string:
		return v
	}
	return ""
}
