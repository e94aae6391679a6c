package db_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// The values bun writes into a statement's text reach the engine as bound
// parameters and give the same answers as the literals did, for every kind
// of value bun writes.
func TestLiftedStatementsRun(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			d := dbtest.Open(t, e)
			var (
				s    string
				n    int64
				b    bool
				blob []byte
			)
			blobLit := `X'00ff'`
			if d.Dialect == db.Postgres {
				blobLit = `'\x00ff'::bytea`
			}
			err := d.NewRaw(`SELECT 'o''reilly' || 'x', 40 + 2, 2.5 > 1, `+blobLit).Scan(t.Context(), &s, &n, &b, &blob)
			if err != nil {
				t.Fatal(err)
			}
			if s != "o'reillyx" || n != 42 || !b || !reflect.DeepEqual(blob, []byte{0, 0xff}) {
				t.Fatalf("got %q %d %v %x", s, n, b, blob)
			}
		})
	}
}

// The number of distinct statements PostgreSQL is sent is fixed by the
// code, not by the data: after a thousand different credentials, a
// thousand junk ones and a thousand rate-limit keys, every connection of
// the pool holds a handful of prepared statements. Without bound
// parameters it would hold one per credential, up to the driver's cache
// of 512, and evict and re-prepare on every request.
func TestStatementsAreFixedByTheCode(t *testing.T) {
	e := postgresOnly(t)
	d := dbtest.Open(t, e)
	st := db.NewStore(d)
	ctx := t.Context()
	u := newUser("many")
	if err := st.CreateUser(ctx, u, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	const n = 1000
	for i := range n {
		tok := secret.RandomString(48)
		sess := &model.Session{ID: uuid.New(), UserID: u.ID, KeyStart: tok[:16], Digest: secret.Digest(tok),
			IP: fmt.Sprintf("10.0.%d.%d", i/250, i%250), UserAgent: "ua", LastUsed: now.Add(-time.Hour), Created: now}
		if err := st.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		got, _, err := st.SessionByKeyStart(ctx, sess.KeyStart)
		if err != nil || got == nil {
			t.Fatalf("session %d: %v %v", i, got, err)
		}
		if _, err := st.TouchSession(ctx, sess.ID, sess.IP, "ua", now.Add(time.Duration(i)), now); err != nil {
			t.Fatal(err)
		}
		if s, _, err := st.SessionByKeyStart(ctx, secret.RandomString(16)); err != nil || s != nil {
			t.Fatalf("junk cookie: %v %v", s, err)
		}
		if k, _, err := st.APIKeyByKeyStart(ctx, "c7sp_"+secret.RandomString(11)); err != nil || k != nil {
			t.Fatalf("junk key: %v %v", k, err)
		}
		if _, _, err := st.Hit(ctx, fmt.Sprintf("client|192.0.2.%d", i), now.Add(time.Duration(i)), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	afterRequests := preparedStatements(t, d)
	if len(afterRequests) > 12 {
		t.Fatalf("%d distinct statements prepared after %d credentials, want a handful:\n%v", len(afterRequests), n, afterRequests)
	}
	t.Logf("%d distinct statements after %d credentials, %d junk ones and %d rate-limit keys", len(afterRequests), n, n, n)

	// Clean-up batches of every size are one statement each, not one per
	// size (IN lists would be).
	for _, size := range []int{1, 2, 3, 7, 50, 100} {
		if _, err := st.DeleteRateLimitsBefore(ctx, now.Add(time.Hour), size); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DeleteIdleSessions(ctx, now.Add(time.Hour), size); err != nil {
			t.Fatal(err)
		}
	}
	afterCleanup := preparedStatements(t, d)
	if added := len(afterCleanup) - len(afterRequests); added > 4 {
		t.Fatalf("clean-up batches of 6 sizes added %d statements, want 2 per table:\n%v", added, afterCleanup)
	}
}

// preparedStatements returns the statements the pool's idle connections
// hold prepared.
func preparedStatements(t *testing.T, d *db.DB) map[string]bool {
	t.Helper()
	ctx := t.Context()
	conns := d.Pool().AcquireAllIdle(ctx)
	if len(conns) == 0 {
		t.Fatal("no idle connections to inspect")
	}
	distinct := map[string]bool{}
	for _, c := range conns {
		rows, err := c.Query(ctx, "SELECT statement FROM pg_prepared_statements")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			distinct[s] = true
		}
		rows.Close()
		c.Release()
	}
	return distinct
}

// postgresOnly returns the PostgreSQL engine, skipping the test when
// TEST_DATABASE_URL is not set (CI sets it).
func postgresOnly(t *testing.T) dbtest.Engine {
	t.Helper()
	for _, e := range dbtest.Engines(t) {
		if e.Name == "postgres" {
			return e
		}
	}
	t.Skip("needs PostgreSQL: set TEST_DATABASE_URL")
	return dbtest.Engine{}
}
