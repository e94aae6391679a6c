package account_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// rrIterations is how many times each race is run per engine, each time on
// a fresh user: the interleavings differ from run to run, and a run that
// lets one credential through is a failure.
const rrIterations = 30

// rrMaxTries bounds each racing loop; rrTriesAfter is how many more tries a
// loop makes once the revocation has returned, so some of them certainly
// run after it.
const (
	rrMaxTries   = 40
	rrTriesAfter = 2
)

// rrCred is a credential a racing goroutine obtained, and how.
type rrCred struct {
	kind  string // "session", "key" or "confirmation"
	how   string // the race that minted it, for the failure message
	value string
}

// rrLoot is every credential the racing goroutines obtained.
type rrLoot struct {
	mu    sync.Mutex
	creds []rrCred
	errs  []string // unexpected errors
}

func (l *rrLoot) add(kind, how, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.creds = append(l.creds, rrCred{kind, how, value})
}

func (l *rrLoot) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprintf(format, args...))
}

// rrLoop calls try until it says stop, rrMaxTries calls, or rrTriesAfter
// calls after done was set.
func rrLoop(done *atomic.Bool, try func(n int) (stop bool)) {
	after := 0
	for n := range rrMaxTries {
		if done.Load() {
			if after++; after > rrTriesAfter {
				return
			}
		}
		if try(n) {
			return
		}
	}
}

// rrRun starts every fn at the same moment (a barrier) and waits for all.
func rrRun(fns ...func()) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, fn := range fns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn()
		}()
	}
	close(start)
	wg.Wait()
}

// rrAllowed reports whether err is one of the refusals a racing request may
// get: the code and one of the messages.
func rrAllowed(err error, code model.Code, msgs ...string) bool {
	var me *model.Error
	if !errors.As(err, &me) || me.Code != code {
		return false
	}
	for _, m := range msgs {
		if me.Message == m {
			return true
		}
	}
	return false
}

// rrRateLimited reports a refusal by the account's attempt budget, which
// old-password sign-ins exhaust once the password has changed.
func rrRateLimited(err error) bool { return model.ErrorCode(err) == model.CodeRateLimited }

// TestRevocationRace races each revoking operation against requests of the
// credentials it revokes that are already past authentication (their actor
// was resolved before the revocation, as a request in flight has it) and
// against sign-ins that checked the old password. Whatever the
// interleaving, nothing those requests obtained may work afterwards.
func TestRevocationRace(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.MaxAPIKeys = 10_000 // the loops create many keys; the quota is not what is tested
		e := newEnv(t, d, cfg)

		t.Run("ChangePassword", func(t *testing.T) {
			start := time.Now()
			for i := range rrIterations {
				rrChangePassword(t, e, i, i%2 == 1)
			}
			t.Logf("%d iterations in %v", rrIterations, time.Since(start).Round(time.Millisecond))
		})

		t.Run("RevokeOtherSessions", func(t *testing.T) {
			// A clock that moves on at every reading: the service reads it
			// inside each locked transaction when it records the activity,
			// so the records' times give the order the transactions ran in.
			se := newEnv(t, d, cfg)
			se.svc.Now = func() time.Time { return se.clock.Advance(time.Microsecond) }
			start := time.Now()
			for i := range rrIterations {
				rrRevokeOthers(t, se, i)
			}
			t.Logf("%d iterations in %v", rrIterations, time.Since(start).Round(time.Millisecond))
		})
	})
}

// rrChangePassword: session A changes the password with revokeApiKeys while
// session B creates keys and recreates key R, API key K creates keys, and
// someone signs in with the old password (through the checkpoint when
// twoFactor).
func rrChangePassword(t *testing.T, e *env, i int, twoFactor bool) {
	t.Helper()
	u := e.register(fmt.Sprintf("rrcp%d", i))
	var codes []string
	if twoFactor {
		codes = tfEnableUser(t, e, u).Codes
	}
	actorA := e.actor(u.Token)
	actorB := e.actor(e.newSession(u.User))
	keyK, _ := e.newAPIKey(u.User, keyOpts{UserPerms: []string{model.PermAPIKeysCreate}})
	actorK := e.keyActor(keyK)
	keyR, idR := e.newAPIKey(u.User, keyOpts{})

	loot := &rrLoot{}
	loot.add("key", "key K itself", keyK)
	loot.add("key", "key R itself", keyR)
	var done atomic.Bool
	rrRun(
		func() {
			defer done.Store(true)
			_, err := e.svc.ChangePassword(e.ctx, actorA, account.ChangePasswordInput{
				Password: u.Password, NewPassword: u.Password + "-new", RevokeAPIKeys: true})
			if err != nil {
				loot.fail("change password: %v", err)
			}
		},
		func() { // (a) session B creates keys
			rrLoop(&done, func(n int) bool {
				nk, err := akTryCreate(e, actorB, akIn(fmt.Sprintf("b-%d", n)))
				switch {
				case err == nil:
					loot.add("key", "created by session B", nk.Secret)
				case rrAllowed(err, model.CodeUnauthenticated, "invalid session"):
					return true
				default:
					loot.fail("create by B: %v", err)
					return true
				}
				return false
			})
		},
		func() { // (b) session B recreates key R
			rrLoop(&done, func(int) bool {
				nk, err := akRecreate(e, actorB, idR)
				switch {
				case err == nil:
					loot.add("key", "key R recreated by session B", nk.Secret)
				case rrAllowed(err, model.CodeUnauthenticated, "invalid session"),
					rrAllowed(err, model.CodeNotFound, "api key not found"):
					return true
				default:
					loot.fail("recreate by B: %v", err)
					return true
				}
				return false
			})
		},
		func() { // (c) sign-ins with the old password
			rrLoop(&done, func(n int) bool {
				res, err := e.login(account.LoginInput{User: u.Username, Password: u.Password})
				switch {
				case err == nil:
				case rrAllowed(err, model.CodeInvalidCredentials, "invalid username or password"), rrRateLimited(err):
					return false
				default:
					loot.fail("login: %v", err)
					return true
				}
				if !twoFactor {
					loot.add("session", "old-password sign-in", res.SessionToken)
					return false
				}
				loot.add("confirmation", "old-password sign-in", res.ConfirmationToken)
				if n >= len(codes)-1 {
					return false // the last code is kept for the final checks
				}
				cres, err := tfCheckpoint(e, res.ConfirmationToken, codes[n])
				switch {
				case err == nil:
					loot.add("session", "checkpoint of an old-password confirmation token", cres.SessionToken)
				case rrAllowed(err, model.CodeInvalid, "invalid confirmation token"), rrRateLimited(err):
				default:
					loot.fail("checkpoint: %v", err)
					return true
				}
				return false
			})
		},
		func() { // (d) API key K creates keys
			rrLoop(&done, func(n int) bool {
				nk, err := akTryCreate(e, actorK, akIn(fmt.Sprintf("k-%d", n)))
				switch {
				case err == nil:
					loot.add("key", "created by key K", nk.Secret)
				case rrAllowed(err, model.CodeUnauthenticated, "invalid api key"):
					return true
				default:
					loot.fail("create by K: %v", err)
					return true
				}
				return false
			})
		},
	)

	where := fmt.Sprintf("iteration %d (two-factor %v)", i, twoFactor)
	for _, msg := range loot.errs {
		t.Errorf("%s: unexpected error: %s", where, msg)
	}
	rrWantDead(t, e, where, loot, codes)
	// B's own session must be gone too, and no other.
	if n := e.count("sessions", "user_id = ? AND id <> ?", u.ID, actorA.Session.ID); n != 0 {
		t.Errorf("%s: %d sessions besides A's survive the password change", where, n)
	}
	if _, err := e.svc.Authenticate(e.ctx, cookie(u.Token)); err != nil {
		t.Errorf("%s: A's own session: %v", where, err)
	}
}

// rrWantDead checks that every credential of loot is refused: sessions and
// keys by Authenticate, confirmation tokens by the checkpoint (with the last
// recovery code of codes, which stays unused unless a token works).
func rrWantDead(t *testing.T, e *env, where string, loot *rrLoot, codes []string) {
	t.Helper()
	for _, c := range loot.creds {
		var err error
		switch c.kind {
		case "session":
			_, err = e.svc.Authenticate(e.ctx, cookie(c.value))
		case "key":
			_, err = e.svc.Authenticate(e.ctx, bearer(c.value))
		case "confirmation":
			_, err = tfCheckpoint(e, c.value, codes[len(codes)-1])
		}
		if err == nil {
			t.Errorf("%s: a %s (%s) obtained during the race still works after the password change", where, c.kind, c.how)
		}
	}
}

// rrRevokeOthers: session A ends every other session while session B, in
// flight, creates keys. Keys B created before the revocation are B's to
// keep (the revocation ends sessions, not keys); a key whose creation ran
// after it must not exist.
func rrRevokeOthers(t *testing.T, e *env, i int) {
	t.Helper()
	u := e.register(fmt.Sprintf("rrro%d", i))
	actorA := e.actor(u.Token)
	tokB := e.newSession(u.User)
	actorB := e.actor(tokB)

	type minted struct {
		id           uuid.UUID
		secret       string
		startedAfter bool
	}
	var (
		mu   sync.Mutex
		got  []minted
		errs []string
		done atomic.Bool
	)
	rrRun(
		func() {
			defer done.Store(true)
			if _, err := e.svc.RevokeOtherSessions(e.ctx, actorA); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("revoke others: %v", err))
				mu.Unlock()
			}
		},
		func() {
			rrLoop(&done, func(n int) bool {
				after := done.Load()
				nk, err := akTryCreate(e, actorB, akIn(fmt.Sprintf("b-%d", n)))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					got = append(got, minted{nk.Key.ID, nk.Secret, after})
				case rrAllowed(err, model.CodeUnauthenticated, "invalid session"):
					return true
				default:
					errs = append(errs, fmt.Sprintf("create by B: %v", err))
					return true
				}
				return false
			})
		},
	)

	where := fmt.Sprintf("iteration %d", i)
	for _, msg := range errs {
		t.Errorf("%s: unexpected error: %s", where, msg)
	}
	if _, err := e.svc.Authenticate(e.ctx, cookie(tokB)); err == nil {
		t.Errorf("%s: B's session survives", where)
	}
	// The order the transactions ran in, from their activity records.
	at := map[string]time.Time{}
	var revoked time.Time
	for _, a := range e.activities(u.User) {
		switch a.Event {
		case model.EventSessionDeleteAll:
			revoked = a.Created
		case model.EventAPIKeyCreate:
			var d struct {
				UUID string `json:"uuid"`
			}
			if err := json.Unmarshal(a.Data, &d); err != nil {
				t.Fatalf("%s: activity data %s: %v", where, a.Data, err)
			}
			at[d.UUID] = a.Created
		}
	}
	if revoked.IsZero() {
		t.Fatalf("%s: no %s record", where, model.EventSessionDeleteAll)
	}
	for _, m := range got {
		if m.startedAfter {
			t.Errorf("%s: B created a key with a request started after its session was revoked", where)
		}
		created, ok := at[m.id.String()]
		if !ok {
			t.Errorf("%s: key %s has no creation record", where, m.id)
			continue
		}
		if created.After(revoked) {
			t.Errorf("%s: B's key %s was created after the revocation and exists", where, m.id)
		}
	}
}
