package db_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
)

// TestEnsurePendingTOTPSecret: the pending secret is kept while it is
// younger than the cut-off and replaced once older; enabling and disabling
// forget its age, so a later setup starts afresh; two concurrent setups
// agree on one secret.
func TestEnsurePendingTOTPSecret(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		const life = 15 * time.Minute
		t0 := time.Date(2026, 8, 22, 12, 0, 0, 0, time.UTC)
		ensure := func(t *testing.T, id uuid.UUID, secret string, now time.Time) string {
			t.Helper()
			got, err := s.EnsurePendingTOTPSecret(ctx, id, secret, now, now.Add(-life))
			if err != nil {
				t.Fatalf("EnsurePendingTOTPSecret: %v", err)
			}
			return got
		}
		u := newUser("pending")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}

		if got := ensure(t, u.ID, "FIRST", t0); got != "FIRST" {
			t.Fatalf("no pending secret yet: got %q, want the new one", got)
		}
		if got := ensure(t, u.ID, "SECOND", t0.Add(life-time.Second)); got != "FIRST" {
			t.Errorf("within the lifetime: got %q, want the first kept", got)
		}
		if got := ensure(t, u.ID, "THIRD", t0.Add(life)); got != "THIRD" {
			t.Errorf("at the lifetime: got %q, want a new one", got)
		}
		if cur, err := s.UserByID(ctx, u.ID); err != nil || cur.TOTPSecret == nil || *cur.TOTPSecret != "THIRD" {
			t.Fatalf("stored pending secret: %v, %v", cur, err)
		}

		// A secret written without an age (before the migration, or by an
		// operator) is replaced.
		if err := s.SetTwoFactor(ctx, u.ID, false, ptr("LEGACY")); err != nil {
			t.Fatal(err)
		}
		if got := ensure(t, u.ID, "FOURTH", t0.Add(life)); got != "FOURTH" {
			t.Errorf("a secret without a creation time: got %q, want it replaced", got)
		}

		// Enabled: nothing written, nothing handed out.
		now := t0.Add(life)
		if ok, err := s.EnableTwoFactor(ctx, u.ID, "FOURTH", 1, now, []byte("salt")); err != nil || !ok {
			t.Fatalf("enable: %v %v", ok, err)
		}
		if got := ensure(t, u.ID, "FIFTH", now); got != "" {
			t.Errorf("two-factor on: got %q, want none", got)
		}
		if cur, _ := s.UserByID(ctx, u.ID); !cur.TOTPEnabled || *cur.TOTPSecret != "FOURTH" {
			t.Errorf("the enabled secret was touched: %+v", cur)
		}
		// Disabled right after: the next setup is fresh, not the old secret.
		if ok, err := s.DisableTwoFactor(ctx, u.ID, now); err != nil || !ok {
			t.Fatalf("disable: %v %v", ok, err)
		}
		if got := ensure(t, u.ID, "SIXTH", now); got != "SIXTH" {
			t.Errorf("after disabling: got %q, want a new one", got)
		}

		if got := ensure(t, uuid.New(), "NOBODY", now); got != "" {
			t.Errorf("unknown user: got %q", got)
		}

		t.Run("ConcurrentSetupsAgree", func(t *testing.T) {
			v := newUser("racing")
			if err := s.CreateUser(ctx, v, false); err != nil {
				t.Fatal(err)
			}
			got, errs := make([]string, 4), make([]error, 4)
			var wg sync.WaitGroup
			for i := range got {
				wg.Go(func() {
					got[i], errs[i] = s.EnsurePendingTOTPSecret(ctx, v.ID, string(rune('A'+i)), t0, t0.Add(-life))
				})
			}
			wg.Wait()
			for i := range got {
				if errs[i] != nil {
					t.Fatalf("setup %d: %v", i, errs[i])
				}
				if got[i] != got[0] || got[i] == "" {
					t.Fatalf("concurrent setups returned %q, want one secret", got)
				}
			}
		})
	})
}

func ptr[T any](v T) *T { return &v }
