package account_test

import (
	"testing"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// errOf drops RevokeSession's own-session flag where a test looks at the
// error alone.
func errOf(_ bool, err error) error { return err }

// TestCheckOwnAccount: a user's private lists are read only by that user's
// own session or key; another account's user object is refused, whatever
// path led to it.
func TestCheckOwnAccount(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		a := e.actor(alice.Token)
		ka, _ := saKey(t, e, alice.User, model.PermAPIKeysRead)

		for name, actor := range map[string]*model.Actor{"Session": a, "APIKey": ka} {
			t.Run(name, func(t *testing.T) {
				if err := e.svc.CheckOwnAccount(actor, alice.User); err != nil {
					t.Errorf("own account: %v", err)
				}
				wantErr(t, e.svc.CheckOwnAccount(actor, bob.User), model.CodeForbidden, "not your account")
				wantErr(t, e.svc.CheckOwnAccount(actor, nil), model.CodeForbidden, "not your account")
			})
		}
		t.Run("ErrNoActor", func(t *testing.T) {
			wantErr(t, e.svc.CheckOwnAccount(nil, alice.User), model.CodeUnauthenticated, "missing authorization")
		})
	})
}
