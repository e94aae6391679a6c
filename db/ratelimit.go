package db

import (
	"context"
	"time"
)

// Hit counts one request of key in a fixed window of rate_limits that starts with the
// window's first hit (see AddHits).
func (s *Store) Hit(ctx context.Context, key string, now time.Time, window time.Duration) (_ time.Time, _ int, err error) {
	defer wrap(&err, "db.Hit")
	return s.addHits(ctx, key, now, window, 1)
}

// AddHits counts n requests of key in a fixed window of rate_limits that
// starts with the window's first hit: one atomic upsert, so every server on
// the database shares the count and concurrent hits can neither be lost nor
// let one request too many through. It returns the window's start and its
// hits, these n included.
func (s *Store) AddHits(ctx context.Context, key string, now time.Time, window time.Duration, n int) (_ time.Time, _ int, err error) {
	defer wrap(&err, "db.AddHits")
	return s.addHits(ctx, key, now, window, n)
}

func (s *Store) addHits(ctx context.Context, key string, now time.Time, window time.Duration, n int) (time.Time, int, error) {
	var row struct {
		WindowStart time.Time `bun:"window_start"`
		Hits        int       `bun:"hits"`
	}
	expired := now.Add(-window)
	err := s.conn(ctx).NewRaw(`INSERT INTO rate_limits AS r (key, window_start, hits) VALUES (?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET
			window_start = CASE WHEN r.window_start <= ? THEN excluded.window_start ELSE r.window_start END,
			hits = CASE WHEN r.window_start <= ? THEN excluded.hits ELSE r.hits + excluded.hits END
		RETURNING window_start, hits`, key, now, n, expired, expired).Scan(ctx, &row)
	if err != nil {
		return time.Time{}, 0, err
	}
	return row.WindowStart.UTC(), row.Hits, nil
}

// CountHits returns the window of key still open at now (one that started
// after now-window, the condition under which Hit counts on rather than
// starting afresh) and its hits; zero values when there is none. It only
// reads, so a check of a limit costs no write.
func (s *Store) CountHits(ctx context.Context, key string, now time.Time, window time.Duration) (_ time.Time, _ int, err error) {
	defer wrap(&err, "db.CountHits")
	var rows []struct {
		WindowStart time.Time `bun:"window_start"`
		Hits        int       `bun:"hits"`
	}
	err = s.conn(ctx).NewRaw("SELECT window_start, hits FROM rate_limits WHERE key = ? AND window_start > ?",
		key, now.Add(-window)).Scan(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return time.Time{}, 0, err
	}
	return rows[0].WindowStart.UTC(), rows[0].Hits, nil
}

// DeleteRateLimitsBefore deletes at most limit rate-limit windows that
// started before before (long over: every window is shorter) and returns
// how many.
func (s *Store) DeleteRateLimitsBefore(ctx context.Context, before time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteRateLimitsBefore")
	var keys []string
	err = s.conn(ctx).NewRaw("SELECT key FROM rate_limits WHERE window_start < ? LIMIT ?", before, limit).Scan(ctx, &keys)
	if err != nil || len(keys) == 0 {
		return 0, err
	}
	in, list := s.anyOf("key", keys)
	return rowCount(s.conn(ctx).NewRaw("DELETE FROM rate_limits WHERE "+in+" AND window_start < ?", list, before).Exec(ctx))
}
