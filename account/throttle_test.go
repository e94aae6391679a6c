package account_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// The taken-value throttle's limit and window (account/throttle.go), as
// the contract the tests hold it to.
const (
	takenLimit  = 10
	takenWindow = time.Hour
)

// wantThrottled checks a refusal by the taken-value throttle that tells the
// client to retry in wait.
func wantThrottled(t *testing.T, err error, wait time.Duration) {
	t.Helper()
	me := wantErr(t, err, model.CodeRateLimited, fmt.Sprintf("too many attempts, retry in %ds", model.RetrySeconds(wait)))
	if me.RetryAfter != wait {
		t.Errorf("RetryAfter = %v, want %v", me.RetryAfter, wait)
	}
}

func TestTakenThrottle(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		e.register("alice")
		bob := e.register("bob")
		carol := e.register("carol")
		bobActor := func() *model.Actor { return e.actor(bob.Token) }
		rename := func(a *model.Actor, name string) error {
			_, err := e.svc.UpdateAccount(e.ctx, a, account.UpdateAccountInput{Username: ptr(name)})
			return err
		}
		reEmail := func(u *user, email, password string) error {
			_, err := e.svc.UpdateEmail(e.ctx, e.actor(u.Token), account.UpdateEmailInput{Email: email, Password: password})
			return err
		}
		bobUnchanged := func(t *testing.T) {
			t.Helper()
			if u := e.reload(bob.User); u.Username != "bob" || u.Email != "bob@example.com" || u.NameFirst != bob.NameFirst {
				t.Errorf("bob changed: %q %q %q", u.Username, u.Email, u.NameFirst)
			}
		}

		t.Run("TakenAnswersUpToTheLimit", func(t *testing.T) {
			// Username and e-mail answers share one budget.
			for i := range takenLimit {
				if i%2 == 0 {
					wantErr(t, rename(bobActor(), "ALICE"), model.CodeConflict, "username already taken")
				} else {
					wantErr(t, reEmail(bob, "alice@example.com", bob.Password), model.CodeConflict, "email already in use")
				}
			}
			bobUnchanged(t)
		})

		t.Run("ThenEveryChangeIsRefused", func(t *testing.T) {
			e.clock.Advance(10 * time.Minute)
			wait := takenWindow - 10*time.Minute
			wantThrottled(t, rename(bobActor(), "alice"), wait)
			wantThrottled(t, rename(bobActor(), "bob_free"), wait)
			wantThrottled(t, rename(bobActor(), "bob"), wait)
			wantThrottled(t, reEmail(bob, "alice@example.com", bob.Password), wait)
			wantThrottled(t, reEmail(bob, "bob.free@example.com", bob.Password), wait)
			_, err := e.svc.UpdateAccount(e.ctx, bobActor(), account.UpdateAccountInput{Username: ptr("bob_free"), NameFirst: ptr("Never")})
			wantThrottled(t, err, wait)
			bobUnchanged(t)
		})

		t.Run("NoPasswordAttemptIsSpent", func(t *testing.T) {
			for range 10 {
				wantThrottled(t, reEmail(bob, "bob.free@example.com", "wrong password"), takenWindow-10*time.Minute)
			}
			c, err := e.store.LockAttempts(e.ctx, bob.ID, e.clock.Now())
			if err != nil || c.Failures != 0 || c.BlockedUntil != nil {
				t.Errorf("attempt counter %+v, %v: the throttle let password checks through", c, err)
			}
		})

		t.Run("ValidationAndPermissionComeFirst", func(t *testing.T) {
			_, err := e.svc.UpdateAccount(e.ctx, bobActor(), account.UpdateAccountInput{Username: ptr("ab")})
			wantFields(t, err, fe("username", "length is lower than 3"))
			wantFields(t, reEmail(bob, "nope", bob.Password), fe("email", msgInvalidEmail))
			key, _ := e.newAPIKey(bob.User, keyOpts{})
			if err := rename(e.keyActor(key), "bob_free"); model.ErrorCode(err) != model.CodeForbidden {
				t.Errorf("key without account.infos: %v, want forbidden", err)
			}
		})

		t.Run("OtherFieldsAreNotAffected", func(t *testing.T) {
			u, err := e.svc.UpdateAccount(e.ctx, bobActor(), account.UpdateAccountInput{NameFirst: ptr("Robert"), Language: ptr("de")})
			if err != nil || u.NameFirst != "Robert" || u.Language != "de" {
				t.Fatalf("name edit of a throttled account: %+v, %v", u, err)
			}
			bob.NameFirst = "Robert"
		})

		t.Run("OtherAccountsAreNotAffected", func(t *testing.T) {
			wantErr(t, rename(e.actor(carol.Token), "alice"), model.CodeConflict, "username already taken")
			wantErr(t, reEmail(carol, "alice@example.com", carol.Password), model.CodeConflict, "email already in use")
			if err := rename(e.actor(carol.Token), "carol_new"); err != nil {
				t.Errorf("carol's rename: %v", err)
			}
		})

		t.Run("KeysHoldNoValue", func(t *testing.T) {
			if n := e.count("rate_limits", "key = ?", "taken:"+bob.ID.String()); n != 1 {
				t.Errorf("bob's counter rows = %d, want 1", n)
			}
			if n := e.count("rate_limits", "key LIKE ? OR key LIKE ?", "%alice%", "%example%"); n != 0 {
				t.Errorf("%d counter keys hold a tried value", n)
			}
		})

		t.Run("TheWindowsEndLiftsIt", func(t *testing.T) {
			e.clock.Advance(takenWindow - 10*time.Minute - time.Second)
			wantThrottled(t, rename(bobActor(), "bob_free"), time.Second)
			e.clock.Advance(time.Second)
			wantErr(t, rename(bobActor(), "alice"), model.CodeConflict, "username already taken")
			if err := rename(bobActor(), "bob_free"); err != nil {
				t.Fatalf("rename after the window: %v", err)
			}
			if err := reEmail(bob, "bob.free@example.com", bob.Password); err != nil {
				t.Fatalf("e-mail change after the window: %v", err)
			}
			if u := e.reload(bob.User); u.Username != "bob_free" || u.Email != "bob.free@example.com" {
				t.Errorf("bob = %q %q", u.Username, u.Email)
			}
		})
	})
}

// TestTakenThrottleConcurrent sends a burst of taken-value changes: however
// they interleave, exactly takenLimit are told "taken", the rest are
// throttled, and the counter holds every change that reached the write.
func TestTakenThrottleConcurrent(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		e.register("alice")
		bob := e.register("bob")
		actor := e.actor(bob.Token)
		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{Username: ptr("alice")})
			}()
		}
		wg.Wait()
		var taken, throttled int
		for _, err := range errs {
			switch model.ErrorCode(err) {
			case model.CodeConflict:
				taken++
			case model.CodeRateLimited:
				throttled++
			default:
				t.Errorf("unexpected answer %v", err)
			}
		}
		if taken != takenLimit || throttled != n-takenLimit {
			t.Errorf("%d taken and %d throttled answers, want %d and %d", taken, throttled, takenLimit, n-takenLimit)
		}
		_, hits, err := e.store.CountHits(e.ctx, "taken:"+bob.ID.String(), e.clock.Now(), takenWindow)
		if err != nil || hits < takenLimit || hits > n {
			t.Errorf("counter = %d, %v: want %d..%d", hits, err, takenLimit, n)
		}
		if u := e.reload(bob.User); u.Username != "bob" {
			t.Errorf("username = %q", u.Username)
		}
		wantThrottled(t, func() error {
			_, err := e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{Username: ptr("bob_free")})
			return err
		}(), takenWindow)
	})
}
