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
)

// TestSecurityKeyStore: the conditional writes that decide whether a
// credential, a counter or a challenge is accepted, and the duplicates the
// unique indexes refuse, on both engines.
func TestSecurityKeyStore(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		u := newUser("skstore")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		pending := func(name string) *model.SecurityKey {
			t.Helper()
			k := &model.SecurityKey{ID: uuid.New(), UserID: u.ID, Name: name, Challenge: []byte{1, 2, 3}, Created: now}
			if err := s.CreateSecurityKey(ctx, k); err != nil {
				t.Fatalf("create %s: %v", name, err)
			}
			return k
		}
		a := pending("alpha")
		var dup *model.DuplicateError
		if err := s.CreateSecurityKey(ctx, &model.SecurityKey{ID: uuid.New(), UserID: u.ID, Name: "alpha", Created: now}); !errors.As(err, &dup) || dup.Field != "name" {
			t.Errorf("a taken name: %v", err)
		}
		a.CredentialID, a.PublicKey, a.SignCount, a.Transports = []byte("cred-a"), []byte{9}, 3, []string{"usb"}
		if ok, err := s.FinishSecurityKey(ctx, a); err != nil || !ok {
			t.Fatalf("finish: %v %v", ok, err)
		}
		if ok, err := s.FinishSecurityKey(ctx, a); err != nil || ok {
			t.Errorf("finishing twice: %v %v, want false", ok, err)
		}
		b := pending("beta")
		b.CredentialID = []byte("cred-a")
		if _, err := s.FinishSecurityKey(ctx, b); !errors.As(err, &dup) || dup.Field != "credential_id" {
			t.Errorf("a taken credential: %v", err)
		}
		if err := s.RenameSecurityKey(ctx, b.ID, "alpha"); !errors.As(err, &dup) || dup.Field != "name" {
			t.Errorf("a rename to a taken name: %v", err)
		}

		got, err := s.SecurityKeyByCredentialID(ctx, []byte("cred-a"))
		if err != nil || got == nil || got.ID != a.ID || got.SignCount != 3 || got.Challenge != nil || len(got.Transports) != 1 {
			t.Fatalf("by credential: %+v %v", got, err)
		}
		if n, _ := s.CountSecurityKeys(ctx, u.ID, false); n != 2 {
			t.Errorf("%d keys, want 2 (one pending)", n)
		}
		if n, _ := s.CountSecurityKeys(ctx, u.ID, true); n != 1 {
			t.Errorf("%d configured keys, want 1", n)
		}
		ids, err := s.CredentialIDs(ctx, []uuid.UUID{u.ID, uuid.New()})
		if err != nil || len(ids) != 1 || string(ids[0]) != "cred-a" {
			t.Errorf("credential ids %q %v", ids, err)
		}

		// The counter only goes up; 0 stays acceptable while it is 0.
		for _, tc := range []struct {
			count uint32
			ok    bool
		}{{3, false}, {2, false}, {4, true}, {0, false}} {
			if ok, err := s.UseSecurityKey(ctx, a.ID, tc.count, false, now); err != nil || ok != tc.ok {
				t.Errorf("counter %d: %v %v, want %v", tc.count, ok, err, tc.ok)
			}
		}
		zero := pending("zero")
		zero.CredentialID, zero.PublicKey = []byte("cred-zero"), []byte{9}
		if _, err := s.FinishSecurityKey(ctx, zero); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.UseSecurityKey(ctx, zero.ID, 0, true, now); err != nil || !ok {
			t.Errorf("a counter of 0 on a key that has none: %v %v", ok, err)
		}

		// A ceremony is consumed exactly once, even by concurrent answers.
		c := &model.SecurityKeyCeremony{ID: uuid.New(), Kind: model.CeremonyLogin, Challenge: []byte{7}, UserIDs: []uuid.UUID{u.ID},
			Expires: now.Add(time.Minute), Created: now}
		if err := s.CreateCeremony(ctx, c); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for range 8 {
			wg.Go(func() {
				got, err := s.ConsumeCeremony(ctx, c.ID)
				if err != nil {
					t.Error(err)
					return
				}
				if got != nil {
					mu.Lock()
					won++
					mu.Unlock()
					if got.Kind != model.CeremonyLogin || len(got.UserIDs) != 1 || got.UserIDs[0] != u.ID || string(got.Challenge) != "\x07" {
						t.Errorf("consumed %+v", got)
					}
				}
			})
		}
		wg.Wait()
		if won != 1 {
			t.Errorf("%d consumers got the ceremony, want 1", won)
		}

		// Clean-up: pending keys and ceremonies past their time only.
		old := &model.SecurityKeyCeremony{ID: uuid.New(), Kind: model.CeremonyDiscoverable, Challenge: []byte{1},
			Expires: now.Add(-time.Second), Created: now.Add(-time.Minute)}
		if err := s.CreateCeremony(ctx, old); err != nil {
			t.Fatal(err)
		}
		if n, err := s.DeleteExpiredCeremonies(ctx, now, 10); err != nil || n != 1 {
			t.Errorf("expired ceremonies deleted: %d %v", n, err)
		}
		if n, err := s.DeletePendingSecurityKeys(ctx, now.Add(time.Second), 10); err != nil || n != 1 {
			t.Errorf("pending keys deleted: %d %v, want 1 (beta)", n, err)
		}
		if n, _ := s.CountSecurityKeys(ctx, u.ID, false); n != 2 {
			t.Errorf("%d keys left, want the 2 configured ones", n)
		}
	})
}
