package account_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

func TestAPIKeyQuota(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.MaxAPIKeys = 3
		e := newEnv(t, d, cfg)
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		full := func(t *testing.T, a *model.Actor, name string) {
			t.Helper()
			before := akSnap(e)
			nk, err := akTryCreate(e, a, akIn(name))
			wantErr(t, err, model.CodeQuotaExceeded, "maximum number of api keys reached")
			if nk != nil {
				t.Errorf("result = %+v", nk)
			}
			akUnchanged(t, e, before)
		}
		k1 := akCreate(e, a, akIn("one"))
		akCreate(e, a, akIn("two"))
		mgr := akCreate(e, a, akIn("three", model.PermAPIKeysCreate))

		t.Run("ErrFull", func(t *testing.T) {
			e := akSub(e, t)
			full(t, a, "four")
			full(t, e.keyActor(mgr.Secret), "four")
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 3 {
				t.Errorf("alice has %d keys, want 3", n)
			}
		})

		t.Run("PerUser", func(t *testing.T) {
			e := akSub(e, t)
			akCreate(e, e.actor(bob.Token), akIn("one"))
		})

		t.Run("DeleteFreesASlot", func(t *testing.T) {
			e := akSub(e, t)
			if err := e.svc.DeleteAPIKey(e.ctx, a, k1.Key.ID); err != nil {
				t.Fatal(err)
			}
			k1 = akCreate(e, a, account.APIKeyFields{Name: ptr("temporary"), SetExpires: true, Expires: ptr(e.clock.Now().Add(time.Hour))})
			full(t, a, "four")
		})

		var temporary *account.NewAPIKey
		t.Run("ExpiredKeysDoNotCount", func(t *testing.T) {
			e := akSub(e, t)
			e.clock.Advance(time.Hour)
			// The expired key's name is free again; the new key replaces it.
			temporary = akCreate(e, a, akIn("temporary"))
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 3 {
				t.Errorf("alice has %d key rows, want 3: the expired one is purged", n)
			}
			if n := e.count("api_keys", "id = ?", k1.Key.ID); n != 0 {
				t.Error("the expired key is still stored")
			}
			if got := akReread(e, alice.ID, temporary.Key.ID); got == nil || got.Name != "temporary" {
				t.Errorf("new key = %s", akDump(got))
			}
			full(t, a, "four")
		})

		t.Run("ExpiredKeysFreeTheirNameBelowQuota", func(t *testing.T) {
			e := akSub(e, t)
			if temporary == nil {
				t.Fatal("the previous step created no key")
			}
			for _, id := range []uuid.UUID{mgr.Key.ID, temporary.Key.ID} {
				if err := e.svc.DeleteAPIKey(e.ctx, a, id); err != nil {
					t.Fatal(err)
				}
			}
			old := akCreate(e, a, account.APIKeyFields{Name: ptr("reused"), SetExpires: true, Expires: ptr(e.clock.Now().Add(time.Minute))})
			// Still live: the name is taken.
			before := akSnap(e)
			_, err := akTryCreate(e, a, akIn("reused"))
			wantErr(t, err, model.CodeConflict, "api key with name already exists")
			akUnchanged(t, e, before)
			e.clock.Advance(time.Minute)
			nk := akCreate(e, a, akIn("reused"))
			if nk.Key.ID == old.Key.ID || e.count("api_keys", "user_id = ? AND name = ?", alice.ID, "reused") != 1 ||
				e.count("api_keys", "id = ?", old.Key.ID) != 0 {
				t.Error("the expired key was not replaced")
			}
		})
	})
}

// akRace runs n calls at once and returns their errors.
func akRace(n int, call func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestAPIKeyConcurrentCreatesHoldTheQuota(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.MaxAPIKeys = 25
		e := newEnv(t, d, cfg)
		_, alice, _ := akUsers(e)
		for range 24 {
			e.newAPIKey(alice.User, keyOpts{})
		}
		actors := make([]*model.Actor, 20)
		for i := range actors {
			actors[i] = e.actor(alice.Token)
		}
		errs := akRace(len(actors), func(i int) error {
			_, err := akTryCreate(e, actors[i], akIn(fmt.Sprintf("racer %02d", i)))
			return err
		})
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if model.ErrorCode(err) != model.CodeQuotaExceeded || asError(t, err).Message != "maximum number of api keys reached" {
				t.Errorf("create %d: %v, want quota_exceeded", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", ok)
		}
		if n := e.count("api_keys", "user_id = ?", alice.ID); n != 25 {
			t.Errorf("alice has %d keys, want exactly the quota, 25", n)
		}
		if n := len(e.events(alice.User, model.EventAPIKeyCreate)); n != 1 {
			t.Errorf("%d api-key:create events, want 1", n)
		}
	})
}

func TestAPIKeyConcurrentCreatesSameName(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAPIKeysCreate}})
		actors := make([]*model.Actor, 10)
		for i := range actors {
			if i%2 == 0 {
				actors[i] = e.actor(alice.Token)
			} else {
				actors[i] = e.keyActor(key)
			}
		}
		errs := akRace(len(actors), func(i int) error {
			_, err := akTryCreate(e, actors[i], akIn("shared name"))
			return err
		})
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if model.ErrorCode(err) != model.CodeConflict || asError(t, err).Message != "api key with name already exists" {
				t.Errorf("create %d: %v, want conflict", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", ok)
		}
		if n := e.count("api_keys", "user_id = ? AND name = ?", alice.ID, "shared name"); n != 1 {
			t.Errorf("%d keys named %q, want 1", n, "shared name")
		}
		if n := len(e.events(alice.User, model.EventAPIKeyCreate)); n != 1 {
			t.Errorf("%d api-key:create events, want 1", n)
		}
	})
}
