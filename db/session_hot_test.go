package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// Recording a session's use changes no indexed column within the hour, so
// PostgreSQL makes those writes in place (HOT) without touching any of the
// table's indexes; the hour's change is the one write that does.
func TestSessionTouchIsHOT(t *testing.T) {
	d := dbtest.Open(t, postgresOnly(t))
	st := db.NewStore(d)
	ctx := context.Background()
	u := newUser("hot")
	if err := st.CreateUser(ctx, u, false); err != nil {
		t.Fatal(err)
	}
	hour := time.Now().UTC().Truncate(time.Hour)
	tok := secret.RandomString(48)
	sess := &model.Session{ID: uuid.New(), UserID: u.ID, KeyStart: tok[:16], Digest: secret.Digest(tok),
		IP: "192.0.2.1", UserAgent: "ua", LastUsed: hour, Created: hour}
	if err := st.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	const touches = 30
	var updated, hot int64
	err := st.InTx(ctx, func(ctx context.Context) error {
		for i := 1; i <= touches; i++ {
			now := hour.Add(time.Duration(i) * 40 * time.Second) // 20 minutes, one hour
			if wrote, err := st.TouchSession(ctx, sess.ID, "192.0.2.1", "ua", now, now.Add(-30*time.Second)); err != nil || !wrote {
				t.Fatalf("touch %d: %v %v", i, wrote, err)
			}
		}
		// The transaction's own counters: no wait for the statistics
		// collector.
		return db.StoreConn(ctx, st).NewRaw(`SELECT pg_stat_get_xact_tuples_updated('sessions'::regclass),
			pg_stat_get_xact_tuples_hot_updated('sessions'::regclass)`).Scan(ctx, &updated, &hot)
	})
	if err != nil {
		t.Fatal(err)
	}
	if updated != touches || hot != touches {
		t.Fatalf("%d of %d session touches were HOT, want all", hot, updated)
	}
	// The next hour's first touch moves the index column, and the clean-up
	// still finds the session by it once it is idle.
	later := hour.Add(90 * time.Minute)
	if wrote, err := st.TouchSession(ctx, sess.ID, "192.0.2.1", "ua", later, later.Add(-30*time.Second)); err != nil || !wrote {
		t.Fatalf("touch in the next hour: %v %v", wrote, err)
	}
	if n, err := st.DeleteIdleSessions(ctx, later, 100); err != nil || n != 0 {
		t.Fatalf("a session used at the cut-off was deleted: %d %v", n, err)
	}
	if n, err := st.DeleteIdleSessions(ctx, later.Add(time.Microsecond), 100); err != nil || n != 1 {
		t.Fatalf("the idle session was not deleted: %d %v", n, err)
	}
}
