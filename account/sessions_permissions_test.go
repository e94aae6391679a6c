package account_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// saPermCall is one operation and the permission it needs.
type saPermCall struct {
	name string
	perm string
	call func(e *env, a *model.Actor) error
}

func saPermCalls(target uuid.UUID) []saPermCall {
	return []saPermCall{
		{"ListSessionsKeyset", model.PermSessionsRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListSessions(e.ctx, a, saKeyset(10, "", ""))
			return err
		}},
		{"ListSessionsOffset", model.PermSessionsRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListSessions(e.ctx, a, saOffset(1, 10, "x"))
			return err
		}},
		{"RevokeSession", model.PermSessionsDelete, func(e *env, a *model.Actor) error {
			return errOf(e.svc.RevokeSession(e.ctx, a, target))
		}},
		{"RevokeOtherSessions", model.PermSessionsDelete, func(e *env, a *model.Actor) error {
			_, err := e.svc.RevokeOtherSessions(e.ctx, a)
			return err
		}},
		{"ListActivityKeyset", model.PermActivityRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListActivity(e.ctx, a, saKeyset(10, "", ""))
			return err
		}},
		{"ListActivityOffset", model.PermActivityRead, func(e *env, a *model.Actor) error {
			_, err := e.svc.ListActivity(e.ctx, a, saOffset(1, 10, "x"))
			return err
		}},
	}
}

func TestSessionsPermissions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		targetTok, target := saSession(t, e, alice.User, "target", clientIP.String())
		_, bobSession := saSession(t, e, bob.User, "bob", clientIP.String())

		unchanged := func(t *testing.T) {
			t.Helper()
			if n := e.sessionCount(alice.User); n != 2 {
				t.Errorf("alice has %d sessions, want 2", n)
			}
			if n := e.sessionCount(bob.User); n != 2 {
				t.Errorf("bob has %d sessions, want 2", n)
			}
			e.actor(targetTok)
			e.actor(alice.Token)
			if n := len(e.activities(alice.User)); n != 0 {
				t.Errorf("alice has %d events, want 0", n)
			}
		}

		all := []string{model.PermSessionsRead, model.PermSessionsDelete, model.PermActivityRead}
		for _, held := range [][]string{
			nil,
			{model.PermSessionsRead},
			{model.PermSessionsDelete},
			{model.PermActivityRead},
			{model.PermSessionsRead, model.PermActivityRead},
			{model.PermAccountInfos, model.PermAPIKeysRead, model.PermAPIKeysDelete},
		} {
			t.Run("Holding["+strings.Join(held, ",")+"]", func(t *testing.T) {
				ka, _ := saKey(t, e, alice.User, held...)
				for _, c := range saPermCalls(target) {
					if slices.Contains(held, c.perm) {
						continue
					}
					t.Run(c.name, func(t *testing.T) {
						me := wantErr(t, c.call(e, ka), model.CodeForbidden,
							"you do not have permission to perform this action: "+c.perm)
						if me.Permission != c.perm {
							t.Errorf("permission = %q, want %q", me.Permission, c.perm)
						}
					})
				}
				unchanged(t)
			})
		}

		t.Run("PermissionBeforeLookup", func(t *testing.T) {
			ka, _ := saKey(t, e, alice.User, model.PermSessionsRead)
			for _, id := range []uuid.UUID{bobSession, uuid.New()} {
				wantErr(t, errOf(e.svc.RevokeSession(e.ctx, ka, id)), model.CodeForbidden,
					"you do not have permission to perform this action: sessions.delete")
			}
			unchanged(t)
		})

		t.Run("ValidationBeforePermission", func(t *testing.T) {
			ka, _ := saKey(t, e, alice.User)
			_, err := e.svc.ListSessions(e.ctx, ka, saOffset(0, 10, ""))
			wantFields(t, err, fe("page", "lower than 1"))
			_, err = e.svc.ListActivity(e.ctx, ka, saKeyset(101, "", ""))
			wantFields(t, err, fe("first", "greater than 100"))
		})

		t.Run("HeldPermissionsWork", func(t *testing.T) {
			ka, _ := saKey(t, e, alice.User, all...)
			for _, c := range saPermCalls(target) {
				if c.perm == model.PermSessionsDelete {
					continue
				}
				if err := c.call(e, ka); err != nil {
					t.Errorf("%s: %v", c.name, err)
				}
			}
			if _, err := e.svc.RevokeSession(e.ctx, ka, target); err != nil {
				t.Fatalf("revoke with the permission: %v", err)
			}
			if n := e.count("sessions", "id = ?", target); n != 0 {
				t.Error("session not revoked")
			}
		})
	})
}

func TestActivityPermissions(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		saUpdate(t, e, e.actor(alice.Token), "Recorded")
		for _, held := range [][]string{nil, {model.PermSessionsRead, model.PermSessionsDelete}, {model.PermAccountInfos}} {
			ka, _ := saKey(t, e, alice.User, held...)
			for _, q := range []model.ListQuery{saKeyset(10, "", ""), saOffset(1, 10, ""), saKeyset(10, "", "account")} {
				p, err := e.svc.ListActivity(e.ctx, ka, q)
				me := wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: activity.read")
				if me.Permission != model.PermActivityRead {
					t.Errorf("permission = %q", me.Permission)
				}
				if p != nil {
					t.Errorf("a page came back with the error: %+v", p)
				}
			}
		}
		ka, _ := saKey(t, e, alice.User, model.PermActivityRead)
		if p := saListActivity(t, e, ka, saKeyset(10, "", "")); len(p.Items) != 1 {
			t.Errorf("with activity.read: %d events, want 1", len(p.Items))
		}
	})
}

func TestSessionsSuspendedRefused(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		otherTok, other := saSession(t, e, alice.User, "other", clientIP.String())
		key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermSessionsRead, model.PermSessionsDelete, model.PermActivityRead}})
		saUpdate(t, e, e.actor(alice.Token), "Before")
		e.setFlags(alice.User, false, true)

		for _, c := range []struct {
			name  string
			actor *model.Actor
		}{{"Cookie", e.actor(alice.Token)}, {"APIKey", e.keyActor(key)}} {
			t.Run(c.name, func(t *testing.T) {
				for _, call := range saPermCalls(other) {
					t.Run(call.name, func(t *testing.T) {
						wantErr(t, call.call(e, c.actor), model.CodeForbidden, "account is suspended")
					})
				}
				// The gate comes before the query's validation.
				_, err := e.svc.ListSessions(e.ctx, c.actor, saOffset(0, 0, ""))
				wantErr(t, err, model.CodeForbidden, "account is suspended")
				_, err = e.svc.ListActivity(e.ctx, c.actor, saKeyset(0, "bad", ""))
				wantErr(t, err, model.CodeForbidden, "account is suspended")
			})
		}

		if n := e.sessionCount(alice.User); n != 2 {
			t.Errorf("alice has %d sessions, want 2", n)
		}
		e.actor(otherTok)
		if n := len(e.activities(alice.User)); n != 1 {
			t.Errorf("alice has %d events, want 1", n)
		}

		t.Run("OthersUnaffected", func(t *testing.T) {
			p := saListSessions(t, e, e.actor(bob.Token), saKeyset(10, "", ""))
			if len(p.Items) != 1 {
				t.Errorf("bob lists %d sessions, want 1", len(p.Items))
			}
		})

		t.Run("Reinstated", func(t *testing.T) {
			e.setFlags(alice.User, false, false)
			p := saListSessions(t, e, e.actor(alice.Token), saKeyset(10, "", ""))
			if len(p.Items) != 2 {
				t.Errorf("alice lists %d sessions, want 2", len(p.Items))
			}
		})
	})
}

func TestSessionsNoActor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		other := saSessionID(t, e, alice.Token)
		for _, c := range saPermCalls(other) {
			t.Run(c.name, func(t *testing.T) {
				wantErr(t, c.call(e, nil), model.CodeUnauthenticated, "missing authorization")
				wantErr(t, c.call(e, &model.Actor{}), model.CodeUnauthenticated, "missing authorization")
			})
		}
		if n := e.sessionCount(alice.User); n != 1 {
			t.Errorf("alice has %d sessions, want 1", n)
		}
	})
}
