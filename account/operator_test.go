package account_test

import (
	"fmt"
	"strings"
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/passkey/passkeytest"
)

// TestOperatorFindUser: an operator names an account by id, e-mail address
// or username, as sign-in matches them; anything else is not found.
func TestOperatorFindUser(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("OpAlice")
		e.register("OpBob")
		for _, ref := range []string{alice.ID.String(), "opalice", "OPALICE", "opalice@example.com", " OpAlice@Example.com "} {
			u, err := e.svc.FindUser(e.ctx, ref)
			if err != nil || u.ID != alice.ID {
				t.Errorf("FindUser(%q) = %v, %v; want alice", ref, u, err)
			}
		}
		for _, ref := range []string{"", "nobody", "nobody@example.com", "01a24dd7-05d9-7122-a0b7-3e8d634505e5", "opalic", "opalice@"} {
			_, err := e.svc.FindUser(e.ctx, ref)
			wantErr(t, err, model.CodeNotFound, "user not found")
		}
	})
}

// TestOperatorListUsers pages through every account in creation order and
// searches usernames and addresses literally.
func TestOperatorListUsers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		var want []string
		for i := range 7 {
			want = append(want, e.register(fmt.Sprintf("list_%d", i)).Username)
		}
		e.register("other_x")
		want = append(want, "other_x")

		var got []string
		after := ""
		pages := 0
		for {
			users, more, err := e.svc.ListUsers(e.ctx, model.ListQuery{First: 3, After: after})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, u := range users {
				got = append(got, u.Username)
			}
			if !more {
				break
			}
			after = account.UserCursor(users[len(users)-1])
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || pages != 3 {
			t.Errorf("listed %v in %d pages, want %v in 3", got, pages, want)
		}

		users, more, err := e.svc.ListUsers(e.ctx, model.ListQuery{First: 100, Search: "LIST_"})
		if err != nil || more || len(users) != 7 {
			t.Errorf("search LIST_: %d users, more=%v, %v; want 7", len(users), more, err)
		}
		// "_" is a literal, not LIKE's any-character.
		users, _, err = e.svc.ListUsers(e.ctx, model.ListQuery{First: 100, Search: "r_x"})
		if err != nil || len(users) != 1 || users[0].Username != "other_x" {
			t.Errorf("search r_x: %v, %v", users, err)
		}
		users, _, err = e.svc.ListUsers(e.ctx, model.ListQuery{First: 100, Search: "t%x"})
		if err != nil || len(users) != 0 {
			t.Errorf("search t%%x matched %d users", len(users))
		}
		// By address too.
		users, _, err = e.svc.ListUsers(e.ctx, model.ListQuery{First: 100, Search: "list_3@"})
		if err != nil || len(users) != 1 {
			t.Errorf("search by address: %v, %v", users, err)
		}

		for _, q := range []model.ListQuery{{First: 0}, {First: 101}, {First: 10, After: "junk"}} {
			if _, _, err := e.svc.ListUsers(e.ctx, q); model.ErrorCode(err) != model.CodeInvalid {
				t.Errorf("ListUsers(%+v) = %v, want invalid", q, err)
			}
		}
	})
}

// TestOperatorSetPassword: the new password follows sign-up's rules, works
// at once, the old one stops, every session and unfinished sign-in ends,
// API keys stay, and the change is recorded as the operator's.
func TestOperatorSetPassword(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("setpw")
		other := e.register("setpw_other")
		second := e.newSession(alice.User)
		key, _ := e.newAPIKey(alice.User, keyOpts{})
		hash := e.passwordHash(alice.User)

		for _, pw := range []string{"", "seven77", strings.Repeat("p", 513)} {
			_, _, err := e.svc.SetPasswordFor(e.ctx, "setpw", pw)
			if me := asError(t, err); me.Code != model.CodeInvalid || len(me.Fields) != 1 || me.Fields[0].Field != "password" {
				t.Errorf("password of %d characters: %v", len(pw), err)
			}
		}
		if e.passwordHash(alice.User) != hash {
			t.Fatal("a refused password changed the hash")
		}
		if _, _, err := e.svc.SetPasswordFor(e.ctx, "nobody", "a fine password"); model.ErrorCode(err) != model.CodeNotFound {
			t.Fatalf("unknown user: %v", err)
		}

		newPw := "operator chose this"
		e.secret(newPw)
		u, ended, err := e.svc.SetPasswordFor(e.ctx, "setpw@example.com", newPw)
		if err != nil || u.ID != alice.ID || ended != 2 {
			t.Fatalf("SetPasswordFor = %v, %d, %v; want alice, 2 sessions", u, ended, err)
		}
		for _, tok := range []string{alice.Token, second} {
			if a, err := e.svc.Authenticate(e.ctx, cookie(tok)); err == nil && a != nil && a.Actor != nil {
				t.Error("a session outlived the operator's password change")
			}
		}
		e.keyActor(key) // keys stay
		e.actor(other.Token)
		if _, err := e.svc.Login(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, account.LoginInput{User: "setpw", Password: alice.Password}); err == nil {
			t.Error("the old password still signs in")
		}
		if _, err := e.svc.Login(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, account.LoginInput{User: "setpw", Password: newPw}); err != nil {
			t.Errorf("the new password: %v", err)
		}
		evs := e.events(alice.User, model.EventPasswordChanged)
		if len(evs) != 1 {
			t.Fatalf("%d password events, want 1", len(evs))
		}
		assertData(t, evs[0], `{"by":"operator","revoked_sessions":2,"revoked_api_keys":0}`)
		if evs[0].IP != nil || evs[0].APIKeyID != nil {
			t.Errorf("operator event has an IP or key: %+v", evs[0])
		}
	})
}

// TestOperatorFlags: each state turns on and off once, is recorded once
// per change, takes effect on the user's next request, and setting a state
// that already holds changes and records nothing.
func TestOperatorFlags(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		e.register("flags_first") // the first account is an administrator
		bob := e.register("flags")
		for _, c := range []struct {
			flag     model.UserFlag
			on, off  string
			get      func(*model.User) bool
			inEffect func() bool
		}{
			{model.FlagAdmin, model.EventAdminGranted, model.EventAdminRevoked, func(u *model.User) bool { return u.Admin },
				func() bool { return e.actor(bob.Token).User.Admin }},
			{model.FlagSuspended, model.EventSuspended, model.EventUnsuspended, func(u *model.User) bool { return u.Suspended },
				func() bool {
					_, err := e.svc.ListSessions(e.ctx, e.actor(bob.Token), model.ListQuery{Page: 1, PerPage: 10})
					return model.ErrorCode(err) == model.CodeForbidden
				}},
			{model.FlagFrozen, model.EventFrozen, model.EventUnfrozen, func(u *model.User) bool { return u.Frozen },
				func() bool {
					_, err := e.svc.UpdateAccount(e.ctx, e.actor(bob.Token), account.UpdateAccountInput{NameFirst: ptr("X")})
					return err != nil && strings.Contains(err.Error(), "frozen")
				}},
		} {
			t.Run(string(c.flag), func(t *testing.T) {
				for _, step := range []struct {
					on, changed bool
				}{{true, true}, {true, false}, {false, true}, {false, false}} {
					u, changed, err := e.svc.SetUserFlag(e.ctx, bob.Username, c.flag, step.on)
					if err != nil || u.ID != bob.ID || changed != step.changed {
						t.Fatalf("SetUserFlag(%v) = %v, %v; want changed=%v", step.on, changed, err, step.changed)
					}
					if got := c.get(e.reload(bob.User)); got != step.on {
						t.Fatalf("stored %v, want %v", got, step.on)
					}
					if got := c.inEffect(); got != step.on {
						t.Fatalf("in effect on the next request: %v, want %v", got, step.on)
					}
				}
				for _, ev := range []string{c.on, c.off} {
					evs := e.events(bob.User, ev)
					if len(evs) != 1 {
						t.Fatalf("%d × %s, want 1", len(evs), ev)
					}
					assertData(t, evs[0], `{"by":"operator"}`)
				}
			})
		}
		if _, _, err := e.svc.SetUserFlag(e.ctx, "flags", "superuser", true); model.ErrorCode(err) != model.CodeInvalid {
			t.Errorf("unknown flag: %v", err)
		}
		if _, _, err := e.svc.SetUserFlag(e.ctx, "nobody", model.FlagAdmin, true); model.ErrorCode(err) != model.CodeNotFound {
			t.Errorf("unknown user: %v", err)
		}
	})
}

// TestOperatorSignOut ends every session, with --api-keys every key, and
// nothing of other users.
func TestOperatorSignOut(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		carol := e.register("signout")
		other := e.register("signout_2")
		e.newSession(carol.User)
		key, _ := e.newAPIKey(carol.User, keyOpts{})
		otherKey, _ := e.newAPIKey(other.User, keyOpts{})

		u, sessions, keys, err := e.svc.SignOutUser(e.ctx, "signout", false)
		if err != nil || u.ID != carol.ID || sessions != 2 || keys != 0 {
			t.Fatalf("SignOutUser = %d sessions, %d keys, %v; want 2, 0", sessions, keys, err)
		}
		if e.sessionCount(carol.User) != 0 {
			t.Error("sessions left")
		}
		e.keyActor(key)
		_, sessions, keys, err = e.svc.SignOutUser(e.ctx, carol.ID.String(), true)
		if err != nil || sessions != 0 || keys != 1 {
			t.Fatalf("SignOutUser with keys = %d, %d, %v; want 0, 1", sessions, keys, err)
		}
		if a, err := e.svc.Authenticate(e.ctx, bearer(key)); err == nil && a != nil && a.Actor != nil {
			t.Error("the key still works")
		}
		e.actor(other.Token)
		e.keyActor(otherKey)

		evs := e.events(carol.User, model.EventSessionDeleteAll)
		if len(evs) != 2 {
			t.Fatalf("%d sign-out events, want 2", len(evs))
		}
		assertData(t, evs[0], `{"by":"operator","deleted":0}`)
		assertData(t, evs[1], `{"by":"operator","deleted":2}`)
		kevs := e.events(carol.User, model.EventAPIKeyDeleteAll)
		if len(kevs) != 1 {
			t.Fatalf("%d key events, want 1", len(kevs))
		}
		assertData(t, kevs[0], `{"by":"operator","deleted":1}`)
	})
}

// TestOperatorDeleteUser deletes the account with everything it owns and
// leaves the others alone.
func TestOperatorDeleteUser(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		dave := e.register("deleteme")
		other := e.register("keepme")
		key, _ := e.newAPIKey(dave.User, keyOpts{})
		e.newAPIKey(other.User, keyOpts{})

		u, err := e.svc.DeleteUser(e.ctx, "deleteme")
		if err != nil || u.ID != dave.ID {
			t.Fatalf("DeleteUser = %v, %v", u, err)
		}
		for _, table := range []string{"users", "sessions", "api_keys", "activities"} {
			col := "user_id"
			if table == "users" {
				col = "id"
			}
			if n := e.count(table, col+" = ?", dave.ID); n != 0 {
				t.Errorf("%d rows of the deleted user left in %s", n, table)
			}
		}
		if e.count("users", "id = ?", other.ID) != 1 || e.count("api_keys", "user_id = ?", other.ID) != 1 {
			t.Error("another user's rows went too")
		}
		for _, c := range []account.Credentials{cookie(dave.Token), bearer(key)} {
			if a, err := e.svc.Authenticate(e.ctx, c); err == nil && a != nil && a.Actor != nil {
				t.Error("a credential of the deleted user still works")
			}
		}
		e.actor(other.Token)
		if _, err := e.svc.DeleteUser(e.ctx, "deleteme"); model.ErrorCode(err) != model.CodeNotFound {
			t.Errorf("second delete: %v", err)
		}
	})
}

// TestOperatorShowUser counts what the account holds: sessions, keys,
// recovery codes and security keys (a registration left unfinished is not
// one).
func TestOperatorShowUser(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, skConfig())
		u := e.register("showme")
		e.newSession(u.User)
		e.newAPIKey(u.User, keyOpts{})
		e.skRegister(u, "laptop", passkeytest.ES256)
		e.skBegin(u, "unfinished", false)
		got, err := e.svc.ShowUser(e.ctx, "showme")
		if err != nil || got.User.ID != u.ID || got.Sessions != 2 || got.APIKeys != 1 || got.SecurityKeys != 1 || got.RecoveryCodes != 0 {
			t.Fatalf("ShowUser = %+v, %v; want 2 sessions, 1 key, 1 security key", got, err)
		}
		if _, err := e.svc.ShowUser(e.ctx, "nobody"); model.ErrorCode(err) != model.CodeNotFound {
			t.Errorf("unknown user: %v", err)
		}
	})
}
