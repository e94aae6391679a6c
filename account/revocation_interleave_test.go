package account_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// riInjector stands in for the transactor and the user store of a service
// and, once armed, runs an operation at the worst moment of the next
// transaction that takes a user's lock: after every check the service made
// before the transaction (the request's authentication, the password's
// verification), just before the lock is granted — as if the operation had
// committed while the transaction waited for the lock. It does so by failing
// that LockUser (the transaction's first statement, so nothing was written),
// running the operation and running the transaction again. The interleaving
// is therefore exact and the same on both engines, where the concurrency
// test (revocation_race_test.go) can only make it likely.
type riInjector struct {
	account.Transactor
	account.UserStore

	mu     sync.Mutex
	before func()
}

var errRIInject = errors.New("riInjector: run the operation here")

func (x *riInjector) arm(op func()) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.before = op
}

func (x *riInjector) LockUser(ctx context.Context, id uuid.UUID) error {
	x.mu.Lock()
	armed := x.before != nil
	x.mu.Unlock()
	if armed {
		return errRIInject
	}
	return x.UserStore.LockUser(ctx, id)
}

func (x *riInjector) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	err := x.Transactor.InTx(ctx, fn)
	if !errors.Is(err, errRIInject) {
		return err
	}
	x.mu.Lock()
	op := x.before
	x.before = nil
	x.mu.Unlock()
	op()
	return x.Transactor.InTx(ctx, fn)
}

// riEnv returns a service on e's database whose next locking transaction
// runs what the injector is armed with first.
func riEnv(e *env) (*env, *riInjector) {
	x := &riInjector{Transactor: e.store, UserStore: e.store}
	st := storesOf(e.store)
	st.Tx, st.Users = x, x
	return e.withService(st, sharedHasher(e.t), e.svc.Config()), x
}

// TestRevocationInterleavings runs each mint with a revocation committed
// between its checks and its transaction: the mint must fail the way the
// next request would, and leave nothing behind.
func TestRevocationInterleavings(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		w, x := riEnv(e)
		// arm makes op the next injection, which the subtest must reach.
		arm := func(t *testing.T, op func()) {
			x.arm(op)
			t.Cleanup(func() {
				x.mu.Lock()
				defer x.mu.Unlock()
				if x.before != nil {
					t.Error("no transaction took the user's lock: the injected operation never ran")
					x.before = nil
				}
			})
		}
		n := 0
		newUser := func() (*user, *model.Actor, *model.Actor) {
			n++
			u := e.register("ri" + string(rune('a'+n)))
			return u, e.actor(u.Token), e.actor(e.newSession(u.User))
		}
		changePassword := func(a *model.Actor, u *user, revokeKeys bool) func() {
			return func() {
				_, err := e.svc.ChangePassword(e.ctx, a, account.ChangePasswordInput{
					Password: u.Password, NewPassword: u.Password + "-new", RevokeAPIKeys: revokeKeys})
				if err != nil {
					t.Fatalf("injected password change: %v", err)
				}
			}
		}
		login := func(s *env, u *user, password string) (*account.LoginResult, error) {
			return s.login(account.LoginInput{User: u.Username, Password: password})
		}

		t.Run("LoginAfterPasswordChange", func(t *testing.T) {
			u, a, _ := newUser()
			arm(t, changePassword(a, u, false))
			_, err := login(w, u, u.Password)
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
			if got := e.sessionCount(u.User); got != 1 {
				t.Errorf("sessions = %d, want A's only", got)
			}
		})

		t.Run("TwoFactorLoginAfterPasswordChange", func(t *testing.T) {
			u, a, _ := newUser()
			tfEnableUser(t, e, u)
			arm(t, changePassword(a, u, false))
			_, err := login(w, u, u.Password)
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
			if got := e.count("login_tokens", "user_id = ?", u.ID); got != 0 {
				t.Errorf("%d confirmation tokens minted with the old password", got)
			}
		})

		t.Run("LoginAfterRehashOfTheSamePassword", func(t *testing.T) {
			// Another sign-in replaced the hash, not the password: the
			// sign-in verifies again and goes through.
			u, _, _ := newUser()
			arm(t, func() {
				h, err := sharedHasher(t).Hash(e.ctx, u.Password)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.store.UpgradePasswordHash(e.ctx, u.ID, e.passwordHash(u.User), h); err != nil {
					t.Fatal(err)
				}
			})
			res, err := login(w, u, u.Password)
			if err != nil || res.SessionToken == "" {
				t.Fatalf("login after a rehash: %+v, %v", res, err)
			}
			e.actor(res.SessionToken)
		})

		t.Run("LoginAfterTwoFactorEnabled", func(t *testing.T) {
			// Two-factor turned on meanwhile: the sign-in stops at the
			// checkpoint instead of minting a session.
			u, _, _ := newUser()
			arm(t, func() { tfEnableUser(t, e, u) })
			res, err := login(w, u, u.Password)
			if err != nil || !res.TwoFactorRequired() || res.SessionToken != "" {
				t.Fatalf("login = %+v, %v; want a confirmation token only", res, err)
			}
		})

		t.Run("CheckpointAfterPasswordChange", func(t *testing.T) {
			u, a, _ := newUser()
			tf := tfEnableUser(t, e, u)
			tok := tfLoginToken(t, e, u)
			arm(t, changePassword(a, u, false))
			_, err := tfCheckpoint(w, tok, tf.Codes[0])
			me := asError(t, err)
			if me.Code != model.CodeInvalid || me.Message != "invalid confirmation token" {
				t.Fatalf("checkpoint = %v, want invalid confirmation token", err)
			}
			if got := e.sessionCount(u.User); got != 1 {
				t.Errorf("sessions = %d, want A's only", got)
			}
		})

		t.Run("CreateAPIKeyAfterRevokeOthers", func(t *testing.T) {
			u, a, b := newUser()
			arm(t, func() {
				if _, err := e.svc.RevokeOtherSessions(e.ctx, a); err != nil {
					t.Fatal(err)
				}
			})
			_, err := akTryCreate(w, b, akIn("late"))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			if got := e.count("api_keys", "user_id = ?", u.ID); got != 0 {
				t.Errorf("%d keys created by a revoked session", got)
			}
		})

		t.Run("CreateAPIKeyByRecreatedKey", func(t *testing.T) {
			u, a, _ := newUser()
			key, id := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermAPIKeysCreate}})
			k := e.keyActor(key)
			arm(t, func() {
				if _, err := akRecreate(e, a, id); err != nil {
					t.Fatal(err)
				}
			})
			_, err := akTryCreate(w, k, akIn("late"))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
			if got := e.count("api_keys", "user_id = ?", u.ID); got != 1 {
				t.Errorf("keys = %d, want the recreated one only", got)
			}
		})

		t.Run("CreateAPIKeyByDeletedKey", func(t *testing.T) {
			u, a, _ := newUser()
			key, id := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermAPIKeysCreate}})
			k := e.keyActor(key)
			arm(t, func() {
				if err := e.svc.DeleteAPIKey(e.ctx, a, id); err != nil {
					t.Fatal(err)
				}
			})
			_, err := akTryCreate(w, k, akIn("late"))
			wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
			if got := e.count("api_keys", "user_id = ?", u.ID); got != 0 {
				t.Errorf("%d keys created by a deleted key", got)
			}
		})

		t.Run("RecreateAPIKeyAfterRevokeSession", func(t *testing.T) {
			u, a, b := newUser()
			key, id := e.newAPIKey(u.User, keyOpts{})
			arm(t, func() {
				if _, err := e.svc.RevokeSession(e.ctx, a, b.Session.ID); err != nil {
					t.Fatal(err)
				}
			})
			_, err := akRecreate(w, b, id)
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.keyActor(key) // the old secret still works: nothing was recreated
		})

		t.Run("ChangePasswordBySignedOutSession", func(t *testing.T) {
			u, a, b := newUser()
			arm(t, changePassword(a, u, false))
			_, err := w.svc.ChangePassword(e.ctx, b, account.ChangePasswordInput{Password: u.Password, NewPassword: "b's own password"})
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.actor(u.Token) // A's session was not ended by B's change
		})

		t.Run("ChangePasswordWithReplacedPassword", func(t *testing.T) {
			// A key (not revoked: revokeApiKeys false) confirmed the
			// password A has just replaced.
			u, a, _ := newUser()
			key, _ := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermAccountPassword}})
			k := e.keyActor(key)
			arm(t, changePassword(a, u, false))
			_, err := w.svc.ChangePassword(e.ctx, k, account.ChangePasswordInput{Password: u.Password, NewPassword: "the key's password"})
			if model.ErrorCode(err) != model.CodeInvalidPassword {
				t.Fatalf("change = %v, want invalid password", err)
			}
			e.actor(u.Token)
			e.mustLogin(t, u.Username, u.Password+"-new")
		})
	})
}
