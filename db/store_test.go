package db_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func newUser(name string) *model.User {
	h := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	return &model.User{ID: uuid.New(), Username: name, Email: name + "@example.com", NameFirst: "A", NameLast: "B",
		Language: "en", ToastPosition: "bottom_right", PasswordHash: &h, Created: time.Now().UTC().Truncate(time.Microsecond)}
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := context.Background()
			var wg sync.WaitGroup
			applied := make([][]string, 3)
			errs := make([]error, 3)
			for i := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d, err := db.Open(ctx, e.URL)
					if err != nil {
						errs[i] = err
						return
					}
					defer d.Close()
					applied[i], errs[i] = d.Migrate(ctx)
				}()
			}
			wg.Wait()
			seen := map[string]int{}
			for i := range 3 {
				if errs[i] != nil {
					t.Fatalf("migrator %d: %v", i, errs[i])
				}
				for _, v := range applied[i] {
					seen[v]++
				}
			}
			if len(seen) < 2 || seen["0001_init"] != 1 {
				t.Fatalf("applied %v, want every migration from 0001_init on", applied)
			}
			for v, n := range seen {
				if n != 1 {
					t.Fatalf("migration %s applied %d times, want exactly once: %v", v, n, applied)
				}
			}
			d := dbtest.Open(t, e)
			if n, err := d.Pending(ctx); err != nil || n != 0 {
				t.Fatalf("Pending = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestUsers(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)

		first, second := newUser("Alice"), newUser("bob")
		if err := s.CreateUser(ctx, first, true); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateUser(ctx, second, true); err != nil {
			t.Fatal(err)
		}
		if !first.Admin || second.Admin {
			t.Fatalf("admin flags = %v, %v; want only the first user admin", first.Admin, second.Admin)
		}

		t.Run("DuplicateUsernameCaseInsensitive", func(t *testing.T) {
			dup := newUser("ALICE")
			dup.Email = "other@example.com"
			err := s.CreateUser(ctx, dup, false)
			var de *model.DuplicateError
			if !errors.As(err, &de) || de.Field != "username" {
				t.Fatalf("err = %v, want duplicate username", err)
			}
		})
		t.Run("DuplicateEmail", func(t *testing.T) {
			dup := newUser("carol")
			dup.Email = "ALICE@example.com"
			err := s.CreateUser(ctx, dup, false)
			var de *model.DuplicateError
			if !errors.As(err, &de) || de.Field != "email" {
				t.Fatalf("err = %v, want duplicate email", err)
			}
		})
		t.Run("LookupCaseInsensitive", func(t *testing.T) {
			u, err := s.UserByLogin(ctx, "aLiCe", false)
			if err != nil || u == nil || u.ID != first.ID {
				t.Fatalf("by username: %v, %v", u, err)
			}
			u, err = s.UserByLogin(ctx, "Alice@Example.COM", true)
			if err != nil || u == nil || u.ID != first.ID {
				t.Fatalf("by email: %v, %v", u, err)
			}
			u, err = s.UserByLogin(ctx, "nobody", false)
			if err != nil || u != nil {
				t.Fatalf("unknown: %v, %v", u, err)
			}
		})
		t.Run("PatchWritesOnlyItsFields", func(t *testing.T) {
			nf, lang := "Alicia", "de"
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); _ = s.UpdateUser(ctx, first.ID, model.UserPatch{NameFirst: &nf}, time.Now()) }()
			go func() { defer wg.Done(); _ = s.UpdateUser(ctx, first.ID, model.UserPatch{Language: &lang}, time.Now()) }()
			wg.Wait()
			u, err := s.UserByID(ctx, first.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.NameFirst != nf || u.Language != lang || u.NameLast != "B" {
				t.Fatalf("after concurrent patches: %+v", u)
			}
		})
	})
}

func TestSessions(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		u := newUser("alice")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		tok := secret.RandomString(48)
		sess := &model.Session{ID: uuid.New(), UserID: u.ID, KeyStart: tok[:16], Digest: secret.Digest(tok),
			IP: "127.0.0.1", UserAgent: "test", LastUsed: now, Created: now}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		before := d.Queries()
		got, gotUser, err := s.SessionByKeyStart(ctx, tok[:16])
		if err != nil || got == nil {
			t.Fatalf("lookup: %v %v", got, err)
		}
		if q := d.Queries() - before; q != 1 {
			t.Fatalf("lookup took %d queries, want 1", q)
		}
		if gotUser.ID != u.ID || !secret.DigestEqual(got.Digest, sess.Digest) || !got.LastUsed.Equal(now) {
			t.Fatalf("lookup returned %+v / %+v", got, gotUser)
		}

		wrote, err := s.TouchSession(ctx, sess.ID, "::1", "ua", now.Add(time.Second), now)
		if err != nil || wrote {
			t.Fatalf("touch within the interval: wrote=%v err=%v", wrote, err)
		}
		wrote, err = s.TouchSession(ctx, sess.ID, "::1", "ua", now.Add(time.Minute), now.Add(time.Second))
		if err != nil || !wrote {
			t.Fatalf("touch after the interval: wrote=%v err=%v", wrote, err)
		}

		other := newUser("bob")
		if err := s.CreateUser(ctx, other, false); err != nil {
			t.Fatal(err)
		}
		if got, err := s.SessionByID(ctx, u.ID, sess.ID); err != nil || got == nil || got.ID != sess.ID || !secret.DigestEqual(got.Digest, sess.Digest) {
			t.Fatalf("SessionByID = %+v, %v", got, err)
		}
		if got, err := s.SessionByID(ctx, other.ID, sess.ID); err != nil || got != nil {
			t.Fatalf("SessionByID of another user = %+v, %v; want nil, nil", got, err)
		}
		if ok, err := s.DeleteSession(ctx, other.ID, sess.ID); err != nil || ok {
			t.Fatalf("another user's delete: ok=%v err=%v", ok, err)
		}
		if ok, err := s.DeleteSession(ctx, u.ID, sess.ID); err != nil || !ok {
			t.Fatalf("own delete: ok=%v err=%v", ok, err)
		}
		if got, _, _ := s.SessionByKeyStart(ctx, tok[:16]); got != nil {
			t.Fatal("deleted session still found")
		}
		if got, err := s.SessionByID(ctx, u.ID, sess.ID); err != nil || got != nil {
			t.Fatalf("SessionByID of a deleted session = %+v, %v; want nil, nil", got, err)
		}
	})
}

func TestTransactionRollsBack(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		u := newUser("alice")
		boom := errors.New("boom")
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.CreateUser(ctx, u, false); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v", err)
		}
		if got, err := s.UserByID(ctx, u.ID); err != nil || got != nil {
			t.Fatalf("user survived the rollback: %v %v", got, err)
		}
	})
}
