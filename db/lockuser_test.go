package db_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// TestLockUserPostgres shows what the service's serialisation of mints and
// revocations rests on (account/revocation.go): on PostgreSQL, LockUser
// makes a second LockUser of the same user, and an update of its row, wait
// for the holder's commit, and the waiter's next statement sees what the
// holder committed; it does not make an insert that merely references the
// user (its foreign key's FOR KEY SHARE) wait, which is what keeps it free
// of deadlocks with transactions that record activity while holding other
// rows.
func TestLockUserPostgres(t *testing.T) {
	if os.Getenv("TEST_DATABASE_URL") == "" {
		t.Skip("TEST_DATABASE_URL not set: the lock is PostgreSQL's (SQLite serialises write transactions)")
	}
	for _, e := range dbtest.Engines(t) {
		if e.Name != "postgres" {
			continue
		}
		d := dbtest.Open(t, e)
		s := db.NewStore(d)
		ctx := context.Background()
		u := newUser("locked")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		// wait runs fn on its own and reports whether it finished within d.
		wait := func(fn func() error, d time.Duration) (<-chan error, bool) {
			done := make(chan error, 1)
			go func() { done <- fn() }()
			select {
			case err := <-done:
				done <- err
				return done, true
			case <-time.After(d):
				return done, false
			}
		}
		now := time.Now().UTC().Truncate(time.Microsecond)

		release := make(chan struct{})
		released := false
		defer func() { // a failure must not leave the holder (and its connection) waiting
			if !released {
				close(release)
			}
		}()
		locked := make(chan struct{})
		holder := make(chan error, 1)
		tok := secret.RandomString(48)
		go func() {
			holder <- s.InTx(ctx, func(ctx context.Context) error {
				if err := s.LockUser(ctx, u.ID); err != nil {
					return err
				}
				close(locked)
				<-release
				return s.CreateSession(ctx, &model.Session{ID: uuid.New(), UserID: u.ID, KeyStart: tok[:16],
					Digest: secret.Digest(tok), IP: "127.0.0.1", UserAgent: "holder", LastUsed: now, Created: now})
			})
		}()
		<-locked

		// An insert referencing the user goes through while the lock is held.
		if _, ok := wait(func() error {
			return s.RecordActivity(ctx, &model.Activity{ID: uuid.New(), UserID: u.ID, Event: "test", Created: now})
		}, 5*time.Second); !ok {
			t.Fatal("an activity insert waited for LockUser's holder")
		}

		// A second locker waits, then sees the holder's session.
		var seen *model.Session
		second, ok := wait(func() error {
			return s.InTx(ctx, func(ctx context.Context) error {
				if err := s.LockUser(ctx, u.ID); err != nil {
					return err
				}
				var err error
				seen, _, err = s.SessionByKeyStart(ctx, tok[:16])
				return err
			})
		}, 300*time.Millisecond)
		if ok {
			t.Fatal("a second LockUser did not wait for the holder")
		}
		// So does an update of the user's row.
		update, ok := wait(func() error { return s.SetPasswordHash(ctx, u.ID, "$argon2id$new", now) }, 300*time.Millisecond)
		if ok {
			t.Fatal("an update of the user's row did not wait for the holder")
		}
		close(release)
		released = true
		for _, ch := range []<-chan error{holder, second, update} {
			select {
			case err := <-ch:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("a waiter never finished")
			}
		}
		if seen == nil {
			t.Fatal("the second locker's read after the lock did not see the holder's committed session")
		}
	}
}
