package account_test

import (
	"context"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// countingAttempts counts the attempt-store calls of a service, to compare
// the work done for a real and an unknown identifier without timing it.
type countingAttempts struct {
	account.AttemptStore
	locks, saves atomic.Int32
}

func (c *countingAttempts) LockAttempts(ctx context.Context, id uuid.UUID, now time.Time) (*model.AttemptCounter, error) {
	c.locks.Add(1)
	return c.AttemptStore.LockAttempts(ctx, id, now)
}

func (c *countingAttempts) LockLoginAttempts(ctx context.Context, login string, byEmail bool, now time.Time) (*model.AttemptCounter, error) {
	c.locks.Add(1)
	return c.AttemptStore.LockLoginAttempts(ctx, login, byEmail, now)
}

func (c *countingAttempts) SaveAttempts(ctx context.Context, ac *model.AttemptCounter) error {
	c.saves.Add(1)
	return c.AttemptStore.SaveAttempts(ctx, ac)
}

// An identifier that names no account is refused after exactly as many
// tries as a real account, with identical errors and the same store
// writes, and is stored only as a digest.
func TestAttemptsUnknownIdentifier(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		u := e.register("tfknown")
		e.register("tfknown2")
		wrong := tfWrong(e, u)
		type step struct {
			err          error
			locks, saves int32
		}
		run := func(login string) []step {
			cs := &countingAttempts{AttemptStore: e.store}
			st := storesOf(e.store)
			st.Attempts = cs
			se := e.withService(st, sharedHasher(t), e.svc.Config())
			var steps []step
			for range 7 {
				l0, s0 := cs.locks.Load(), cs.saves.Load()
				_, err := se.login(account.LoginInput{User: login, Password: wrong})
				steps = append(steps, step{err, cs.locks.Load() - l0, cs.saves.Load() - s0})
			}
			return steps
		}
		for _, pair := range [][2]string{{"tfknown", "tfNoSuchUser"}, {"TFknown2@example.com", "NoSuch@Example.com"}} {
			// Different accounts: the two spellings of one account share
			// its budget.
			known, unknown := run(pair[0]), run(pair[1])
			for i := range known {
				k, n := known[i], unknown[i]
				if !reflect.DeepEqual(asError(t, k.err), asError(t, n.err)) || k.locks != n.locks || k.saves != n.saves {
					t.Errorf("%v try %d: known %v (%d locks, %d saves), unknown %v (%d locks, %d saves)",
						pair, i+1, k.err, k.locks, k.saves, n.err, n.locks, n.saves)
				}
				if i < 5 {
					wantErr(t, n.err, model.CodeInvalidCredentials, "invalid username or password")
				} else {
					tfWantRateLimited(t, n.err, 300)
				}
			}
		}

		// Folded as the lookup folds: another spelling shares the budget.
		_, err := e.login(account.LoginInput{User: "noSUCH@example.COM", Password: wrong})
		tfWantRateLimited(t, err, 300)

		var subjects []string
		if err := e.d.NewSelect().Table("login_attempt_counters").Column("subject").Scan(e.ctx, &subjects); err != nil {
			t.Fatal(err)
		}
		if len(subjects) != 2 {
			t.Errorf("subjects %q, want 2", subjects)
		}
		digest := regexp.MustCompile(`^login:[0-9a-f]{64}$`)
		for _, s := range subjects {
			if !digest.MatchString(s) || strings.Contains(strings.ToLower(s), "nosuch") {
				t.Errorf("subject %q is not a digest", s)
			}
		}
	})
}
