//go:build explain

// The query-plan check of the list and revoke queries at scale. It is not
// part of the default test run (it inserts 1.1 million rows); run it with
// scripts/explain-lists.sh, which sets TEST_DATABASE_URL and the build tag.

package db_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// The data set: one heavy user owning a fifth of the history and of the
// sessions and 50 keys; a thousand others sharing the rest.
const (
	explainActivities = 1_000_000
	explainSessions   = 100_000
	explainAPIKeys    = 20_000
)

var explainSeed = []string{
	`INSERT INTO users (id, username, username_key, email, email_key, name_first, name_last, created, updated)
	 SELECT md5('u' || i)::uuid, 'user' || i, 'user' || i, 'user' || i || '@example.com', 'user' || i || '@example.com',
	        'A', 'B', now(), now()
	 FROM generate_series(0, 1000) AS i`,
	fmt.Sprintf(`INSERT INTO activities (id, user_id, event, ip, data, created)
	 SELECT md5('a' || i)::uuid,
	        CASE WHEN i %% 5 = 0 THEN md5('u0')::uuid ELSE md5('u' || (1 + i %% 1000))::uuid END,
	        (ARRAY['account:update', 'auth:success', 'api-key:create', 'session:delete', 'account:password-changed'])[1 + (i / 5) %% 5],
	        '203.0.113.7', '{}', now() - make_interval(secs => i)
	 FROM generate_series(1, %d) AS i`, explainActivities),
	fmt.Sprintf(`INSERT INTO sessions (id, user_id, key_start, digest, ip, user_agent, last_used, created, last_used_hour)
	 SELECT md5('s' || i)::uuid,
	        CASE WHEN i %% 5 = 0 THEN md5('u0')::uuid ELSE md5('u' || (1 + i %% 1000))::uuid END,
	        substr(md5('k' || i), 1, 16), decode(md5('d' || i), 'hex'), '203.0.113.7',
	        'Mozilla/5.0 agent ' || (i %% 50), now() - make_interval(secs => i), now() - make_interval(secs => 2 * i),
	        date_trunc('hour', now() - make_interval(secs => i), 'UTC')
	 FROM generate_series(1, %d) AS i`, explainSessions),
	fmt.Sprintf(`INSERT INTO api_keys (id, user_id, name, key_start, digest, created)
	 SELECT md5('k' || i)::uuid,
	        CASE WHEN i <= 50 THEN md5('u0')::uuid ELSE md5('u' || (1 + i %% 1000))::uuid END,
	        'key ' || i, 'c7sp_' || substr(md5('ks' || i), 1, 11), decode(md5('kd' || i), 'hex'),
	        now() - make_interval(secs => i)
	 FROM generate_series(1, %d) AS i`, explainAPIKeys),
	// What autovacuum would have done by the time the tables are this big.
	`VACUUM ANALYZE`,
}

// captureHook records the SQL of every statement, as sent.
type captureHook struct {
	mu      sync.Mutex
	queries []string
}

func (h *captureHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context { return ctx }

func (h *captureHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if op := e.Operation(); op != "BEGIN" && op != "ROLLBACK" && op != "COMMIT" {
		h.queries = append(h.queries, e.Query)
	}
}

func (h *captureHook) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	q := h.queries
	h.queries = nil
	return q
}

var errRollback = errors.New("roll back")

// TestExplainListPlans fills PostgreSQL, runs each list's first page and
// each revoke through the real store, and checks with EXPLAIN ANALYZE that
// every one of those statements reads its table through an index.
func TestExplainListPlans(t *testing.T) {
	var engine *dbtest.Engine
	for _, e := range dbtest.Engines(t) {
		if e.Name == "postgres" {
			engine = &e
		}
	}
	if engine == nil {
		t.Skip("TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	d := dbtest.Open(t, *engine)
	start := time.Now()
	for _, q := range explainSeed {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	t.Logf("seeded %d activities, %d sessions, %d api keys in %s", explainActivities, explainSessions, explainAPIKeys,
		time.Since(start).Round(time.Millisecond))

	hook := &captureHook{}
	d.AddQueryHook(hook)
	store := db.NewStore(d)
	var heavy uuid.UUID
	if err := d.NewRaw("SELECT md5('u0')::uuid").Scan(ctx, &heavy); err != nil {
		t.Fatal(err)
	}
	var light uuid.UUID
	if err := d.NewRaw("SELECT md5('u7')::uuid").Scan(ctx, &light); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	first := model.ListQuery{Keyset: true, First: 25}
	offset := model.ListQuery{Page: 1, PerPage: 25}

	cases := []struct {
		name  string
		table string
		run   func(ctx context.Context) error
		// reportOnly marks a plan that is printed but not held to the
		// index rule (see the search case).
		reportOnly bool
	}{
		{"activity, first page (GraphQL)", "activities", func(ctx context.Context) error {
			_, _, err := store.ListActivities(ctx, heavy, first)
			return err
		}, false},
		{"activity, first page of a light user", "activities", func(ctx context.Context) error {
			_, _, err := store.ListActivities(ctx, light, first)
			return err
		}, false},
		{"sessions, first page of a light user", "sessions", func(ctx context.Context) error {
			_, _, err := store.ListSessions(ctx, light, now.Add(-7*24*time.Hour), first)
			return err
		}, false},
		{"activity, first page (REST)", "activities", func(ctx context.Context) error {
			_, _, err := store.ListActivities(ctx, heavy, offset)
			return err
		}, false},
		{"activity, page after a cursor", "activities", func(ctx context.Context) error {
			items, _, err := store.ListActivities(ctx, heavy, model.ListQuery{Keyset: true, First: 1000})
			if err != nil || len(items) == 0 {
				return fmt.Errorf("no rows: %v", err)
			}
			last := items[len(items)-1]
			hook.take()
			q := first
			q.Cursor = &model.Cursor{Time: last.Created, ID: last.ID}
			_, _, err = store.ListActivities(ctx, heavy, q)
			return err
		}, false},
		{"activity, search", "activities", func(ctx context.Context) error {
			q := first
			q.Search = "password"
			_, _, err := store.ListActivities(ctx, heavy, q)
			return err
		}, true}, // a substring filter no btree serves: the planner may scan
		{"sessions, first page", "sessions", func(ctx context.Context) error {
			_, _, err := store.ListSessions(ctx, heavy, now.Add(-7*24*time.Hour), first)
			return err
		}, false},
		{"api keys, first page", "api_keys", func(ctx context.Context) error {
			_, _, err := store.ListAPIKeys(ctx, heavy, now, first)
			return err
		}, false},
		{"revoke one session", "sessions", func(ctx context.Context) error {
			var id uuid.UUID
			if err := d.NewRaw("SELECT id FROM sessions WHERE user_id = ? ORDER BY created DESC LIMIT 1", heavy).Scan(ctx, &id); err != nil {
				return err
			}
			hook.take()
			_, err := store.DeleteSessionReturning(ctx, heavy, id)
			return err
		}, false},
		{"revoke all other sessions", "sessions", func(ctx context.Context) error {
			var id uuid.UUID
			if err := d.NewRaw("SELECT id FROM sessions WHERE user_id = ? LIMIT 1", heavy).Scan(ctx, &id); err != nil {
				return err
			}
			hook.take()
			_, err := store.DeleteOtherSessions(ctx, heavy, &id)
			return err
		}, false},
		{"retention batch, activity", "activities", func(ctx context.Context) error {
			_, err := store.DeleteActivitiesBefore(ctx, now.Add(-time.Duration(explainActivities-500)*time.Second), 1000)
			return err
		}, false},
		{"retention batch, sessions", "sessions", func(ctx context.Context) error {
			_, err := store.DeleteIdleSessions(ctx, now.Add(-time.Duration(explainSessions-500)*time.Second), 1000)
			return err
		}, false},
	}
	seqScan := regexp.MustCompile(`Seq Scan on (activities|sessions|api_keys)\b`)
	for _, c := range cases {
		hook.take()
		// The statement runs for real but is rolled back, so each case
		// sees the data set as seeded.
		var queries []string
		err := store.InTx(ctx, func(ctx context.Context) error {
			if err := c.run(ctx); err != nil {
				return err
			}
			queries = hook.take()
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(queries) == 0 {
			t.Fatalf("%s: ran no statement", c.name)
		}
		for _, q := range queries {
			plan := explain(t, d, q)
			fmt.Printf("=== %s\n%s\n%s\n\n", c.name, shorten(q), plan)
			if c.reportOnly {
				continue
			}
			if seqScan.MatchString(plan) {
				t.Errorf("%s: sequential scan:\n%s", c.name, plan)
			}
			if !strings.Contains(plan, "Index") || !strings.Contains(plan, c.table) {
				t.Errorf("%s: no index scan on %s:\n%s", c.name, c.table, plan)
			}
		}
	}
}

// explain runs EXPLAIN ANALYZE on q in a transaction it rolls back, so the
// revokes delete nothing for good.
func explain(t *testing.T, d *db.DB, q string) string {
	t.Helper()
	var lines []string
	err := d.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
		rows, err := tx.QueryContext(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING OFF) "+q)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			lines = append(lines, line)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("explain: %v", err)
	}
	return strings.Join(lines, "\n")
}

// shorten keeps printed statements readable (a purge lists 1000 ids).
func shorten(q string) string {
	if len(q) <= 400 {
		return q
	}
	return q[:400] + "…"
}
