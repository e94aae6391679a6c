package account_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

func TestUpdateEmail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")

		t.Run("Success", func(t *testing.T) {
			e.clock.Advance(time.Second)
			got, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{
				Email: "Alice.New@Example.com", Password: alice.Password})
			if err != nil {
				t.Fatalf("update email: %v", err)
			}
			if got.Email != "Alice.New@Example.com" || e.reload(alice.User).Email != "Alice.New@Example.com" {
				t.Errorf("email = %q", got.Email)
			}
			acts := e.events(alice.User, model.EventEmailChanged)
			if len(acts) != 1 {
				t.Fatalf("account:email-changed events = %d, want 1", len(acts))
			}
			assertData(t, acts[0], `{"old":"alice@example.com","new":"Alice.New@Example.com"}`)
			if strings.Contains(string(acts[0].Data), alice.Password) || strings.Contains(strings.ToLower(string(acts[0].Data)), "password") {
				t.Errorf("activity data %s mentions the password", acts[0].Data)
			}
			if acts[0].IP == nil || *acts[0].IP != clientIP.String() || acts[0].APIKeyID != nil {
				t.Errorf("activity ip/key = %v/%v", acts[0].IP, acts[0].APIKeyID)
			}
			alice.Email = "Alice.New@Example.com"
			// Sign-in follows the address.
			e.mustLogin(t, "alice.new@example.com", alice.Password)
			_, err = e.login(account.LoginInput{User: "alice@example.com", Password: alice.Password})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
		})

		t.Run("OwnAddressOtherCase", func(t *testing.T) {
			if _, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{
				Email: "alice.new@example.com", Password: alice.Password}); err != nil {
				t.Fatalf("changing the case of one's own address: %v", err)
			}
			alice.Email = "alice.new@example.com"
		})

		t.Run("ErrWrongPassword", func(t *testing.T) {
			events := e.count("activities", "")
			wrong := "not-" + alice.Password
			e.secret(wrong)
			_, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "x@example.com", Password: wrong})
			me := wantErr(t, err, model.CodeInvalidPassword, "invalid password")
			if me.Field != "password" {
				t.Errorf("field = %q", me.Field)
			}
			assertNoSecretInError(t, err, wrong, alice.Password)
			if got := e.reload(alice.User).Email; got != alice.Email {
				t.Errorf("email = %q, want unchanged %q", got, alice.Email)
			}
			if n := e.count("activities", ""); n != events {
				t.Errorf("activities = %d, want %d", n, events)
			}
			// The empty password is just wrong, too.
			_, err = e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "x@example.com"})
			wantErr(t, err, model.CodeInvalidPassword, "invalid password")
		})

		t.Run("ErrEmailInUse", func(t *testing.T) {
			for _, addr := range []string{"bob@example.com", "BOB@example.com", "Bob@EXAMPLE.COM"} {
				t.Run(addr, func(t *testing.T) {
					events := e.count("activities", "")
					_, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: addr, Password: alice.Password})
					me := wantErr(t, err, model.CodeConflict, "email already in use")
					if me.Field != "email" {
						t.Errorf("field = %q", me.Field)
					}
					assertNoSecretInError(t, err, alice.Password)
					if got := e.reload(alice.User).Email; got != alice.Email {
						t.Errorf("email = %q", got)
					}
					if got := e.reload(bob.User).Email; got != "bob@example.com" {
						t.Errorf("bob's email = %q", got)
					}
					if n := e.count("activities", ""); n != events {
						t.Errorf("activities = %d, want %d", n, events)
					}
				})
			}
		})

		t.Run("Validation", func(t *testing.T) {
			long := strings.Repeat("p", 513)
			e.secret(long)
			for _, c := range []struct {
				name string
				in   account.UpdateEmailInput
				want []model.FieldError
			}{
				{"ErrEmpty", account.UpdateEmailInput{Email: "", Password: alice.Password}, []model.FieldError{fe("email", "length is lower than 1")}},
				{"ErrInvalid", account.UpdateEmailInput{Email: "nope", Password: alice.Password}, []model.FieldError{fe("email", msgInvalidEmail)}},
				{"ErrDotless", account.UpdateEmailInput{Email: "a@b", Password: alice.Password}, []model.FieldError{fe("email", msgInvalidEmail)}},
				{"ErrDisplayName", account.UpdateEmailInput{Email: "A <a@example.com>", Password: alice.Password}, []model.FieldError{fe("email", msgInvalidEmail)}},
				{"ErrTooLong", account.UpdateEmailInput{Email: strings.Repeat("e", 244) + "@example.com", Password: alice.Password}, []model.FieldError{fe("email", "length is greater than 255")}},
				{"ErrPasswordTooLong", account.UpdateEmailInput{Email: "ok@example.com", Password: long}, []model.FieldError{fe("password", "length is greater than 512")}},
				{"ErrBoth", account.UpdateEmailInput{Email: "nope", Password: long}, []model.FieldError{fe("email", msgInvalidEmail), fe("password", "length is greater than 512")}},
			} {
				t.Run(c.name, func(t *testing.T) {
					_, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), c.in)
					wantFields(t, err, c.want...)
					assertNoSecretInError(t, err, c.in.Password)
					if got := e.reload(alice.User).Email; got != alice.Email {
						t.Errorf("email = %q", got)
					}
				})
			}
		})

		t.Run("ErrFrozen", func(t *testing.T) {
			e.setFlags(alice.User, true, false)
			defer e.setFlags(alice.User, false, false)
			_, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "frozen@example.com", Password: alice.Password})
			wantErr(t, err, model.CodeConflict, "account is frozen")
			// The state check comes before the password check.
			_, err = e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "frozen@example.com", Password: "wrong-password"})
			wantErr(t, err, model.CodeConflict, "account is frozen")
			if got := e.reload(alice.User).Email; got != alice.Email {
				t.Errorf("email = %q", got)
			}
		})

		t.Run("ErrSuspended", func(t *testing.T) {
			e.setFlags(alice.User, false, true)
			defer e.setFlags(alice.User, false, false)
			_, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "susp@example.com", Password: alice.Password})
			wantErr(t, err, model.CodeForbidden, "account is suspended")
		})

		t.Run("APIKeyPermission", func(t *testing.T) {
			without, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountInfos, model.PermAccountPassword}})
			with, withID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountEmail}})
			_, err := e.svc.UpdateEmail(e.ctx, e.keyActor(without), account.UpdateEmailInput{Email: "key@example.com", Password: alice.Password})
			me := wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.email")
			if me.Permission != model.PermAccountEmail {
				t.Errorf("permission = %q", me.Permission)
			}
			// The permission is checked before the password: a key without
			// it cannot probe passwords.
			_, err = e.svc.UpdateEmail(e.ctx, e.keyActor(without), account.UpdateEmailInput{Email: "key@example.com", Password: "wrong-password"})
			wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.email")
			// Validation comes before the permission.
			_, err = e.svc.UpdateEmail(e.ctx, e.keyActor(without), account.UpdateEmailInput{Email: "nope", Password: alice.Password})
			wantFields(t, err, fe("email", msgInvalidEmail))

			got, err := e.svc.UpdateEmail(e.ctx, e.keyActor(with), account.UpdateEmailInput{Email: "key@example.com", Password: alice.Password})
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != "key@example.com" {
				t.Errorf("email = %q", got.Email)
			}
			act := e.events(alice.User, model.EventEmailChanged)[0]
			assertData(t, act, `{"old":"alice.new@example.com","new":"key@example.com"}`)
			if act.APIKeyID == nil || *act.APIKeyID != withID {
				t.Errorf("activity api key = %v", act.APIKeyID)
			}
			alice.Email = "key@example.com"
		})

		t.Run("ActivityInSameTransaction", func(t *testing.T) {
			f := e.withStore(&failingStore{Store: e.store, failEvent: model.EventEmailChanged})
			_, err := f.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "rolled@example.com", Password: alice.Password})
			if model.ErrorCode(err) != model.CodeInternal {
				t.Fatalf("err = %v, want internal", err)
			}
			if got := e.reload(alice.User).Email; got != alice.Email {
				t.Errorf("email = %q: the change survived its failed activity record", got)
			}
		})
	})
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")

		t.Run("Validation", func(t *testing.T) {
			rep := strings.Repeat
			e.secret(rep("n", 513), rep("p", 513))
			for _, c := range []struct {
				name string
				in   account.ChangePasswordInput
				want []model.FieldError
			}{
				{"ErrNewTooShort", account.ChangePasswordInput{Password: alice.Password, NewPassword: "abcdefg"}, []model.FieldError{fe("new_password", "length is lower than 8")}},
				{"ErrNewEmpty", account.ChangePasswordInput{Password: alice.Password}, []model.FieldError{fe("new_password", "length is lower than 8")}},
				{"ErrNewTooShortMultiByte", account.ChangePasswordInput{Password: alice.Password, NewPassword: rep("ü", 7)}, []model.FieldError{fe("new_password", "length is lower than 8")}},
				{"ErrNewTooLong", account.ChangePasswordInput{Password: alice.Password, NewPassword: rep("n", 513)}, []model.FieldError{fe("new_password", "length is greater than 512")}},
				{"ErrCurrentTooLong", account.ChangePasswordInput{Password: rep("p", 513), NewPassword: "new-password"}, []model.FieldError{fe("password", "length is greater than 512")}},
				{"ErrBoth", account.ChangePasswordInput{Password: rep("p", 513), NewPassword: "short"}, []model.FieldError{fe("password", "length is greater than 512"), fe("new_password", "length is lower than 8")}},
			} {
				t.Run(c.name, func(t *testing.T) {
					hash := e.passwordHash(alice.User)
					_, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), c.in)
					wantFields(t, err, c.want...)
					assertNoSecretInError(t, err, c.in.Password, c.in.NewPassword)
					if e.passwordHash(alice.User) != hash {
						t.Error("password changed")
					}
				})
			}
		})

		t.Run("ErrWrongPassword", func(t *testing.T) {
			other := e.newSession(alice.User)
			hash := e.passwordHash(alice.User)
			wrong, newPw := "wrong-"+alice.Password, "never-set-password"
			e.secret(wrong, newPw)
			_, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: wrong, NewPassword: newPw})
			me := wantErr(t, err, model.CodeInvalidPassword, "invalid password")
			if me.Field != "password" {
				t.Errorf("field = %q", me.Field)
			}
			assertNoSecretInError(t, err, wrong, newPw, alice.Password)
			if e.passwordHash(alice.User) != hash {
				t.Error("password changed")
			}
			e.actor(other) // no session revoked
			if n := len(e.events(alice.User, model.EventPasswordChanged)); n != 0 {
				t.Errorf("account:password-changed events = %d, want 0", n)
			}
		})

		t.Run("RevokesOtherSessions", func(t *testing.T) {
			s2, s3 := e.newSession(alice.User), e.newSession(alice.User)
			key1, _ := e.newAPIKey(alice.User, keyOpts{})
			bobSession := e.newSession(bob.User)
			aliceSessions := e.sessionCount(alice.User)
			current := e.actor(alice.Token)
			newPw := "brand-new-password-1"
			e.secret(newPw)
			e.clock.Advance(time.Second)
			res, err := e.svc.ChangePassword(e.ctx, current, account.ChangePasswordInput{Password: alice.Password, NewPassword: newPw})
			if err != nil {
				t.Fatalf("change password: %v", err)
			}
			if res.RevokedSessions != aliceSessions-1 || res.RevokedAPIKeys != 0 {
				t.Errorf("revoked sessions/keys = %d/%d, want %d/0", res.RevokedSessions, res.RevokedAPIKeys, aliceSessions-1)
			}
			if res.User == nil || res.User.ID != alice.ID {
				t.Errorf("user = %+v", res.User)
			}
			for _, tok := range []string{s2, s3} {
				_, err := e.svc.Authenticate(e.ctx, cookie(tok))
				wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			}
			e.actor(alice.Token) // the session that made the change lives on
			e.actor(bob.Token)   // other users are untouched
			e.actor(bobSession)
			e.keyActor(key1) // keys stay unless asked
			if n := e.sessionCount(alice.User); n != 1 {
				t.Errorf("alice's sessions = %d, want 1", n)
			}
			h := e.passwordHash(alice.User)
			if !strings.HasPrefix(h, "$argon2id$") {
				t.Errorf("new hash = %q", h)
			}
			acts := e.events(alice.User, model.EventPasswordChanged)
			if len(acts) != 1 {
				t.Fatalf("account:password-changed events = %d, want 1", len(acts))
			}
			assertData(t, acts[0], mustJSON(t, map[string]int{"revoked_sessions": aliceSessions - 1, "revoked_api_keys": 0}))
			if acts[0].APIKeyID != nil {
				t.Errorf("activity api key = %v", acts[0].APIKeyID)
			}

			old := alice.Password
			alice.Password = newPw
			e.mustLogin(t, "alice", newPw)
			_, err = e.login(account.LoginInput{User: "alice", Password: old})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
			// The new password confirms the next change, the old does not.
			_, err = e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "a2@example.com", Password: old})
			wantErr(t, err, model.CodeInvalidPassword, "invalid password")
		})

		t.Run("RevokeAPIKeys", func(t *testing.T) {
			k1, _ := e.newAPIKey(alice.User, keyOpts{})
			k2, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountPassword}})
			bobKey, _ := e.newAPIKey(bob.User, keyOpts{})
			keys := e.count("api_keys", "user_id = ?", alice.ID)
			newPw := "another-new-password"
			e.secret(newPw)
			res, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{
				Password: alice.Password, NewPassword: newPw, RevokeAPIKeys: true})
			if err != nil {
				t.Fatal(err)
			}
			alice.Password = newPw
			if res.RevokedAPIKeys != keys {
				t.Errorf("revoked keys = %d, want %d", res.RevokedAPIKeys, keys)
			}
			for _, k := range []string{k1, k2} {
				_, err := e.svc.Authenticate(e.ctx, bearer(k))
				wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
			}
			e.keyActor(bobKey)
			act := e.events(alice.User, model.EventPasswordChanged)[0]
			assertData(t, act, mustJSON(t, map[string]int{"revoked_sessions": res.RevokedSessions, "revoked_api_keys": keys}))
		})

		t.Run("ViaAPIKeyRevokesAllSessions", func(t *testing.T) {
			e.newSession(alice.User)
			key, keyID := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountPassword}})
			sessions := e.sessionCount(alice.User)
			if sessions < 2 {
				t.Fatalf("sessions = %d", sessions)
			}
			newPw := "key-set-password-1"
			e.secret(newPw)
			res, err := e.svc.ChangePassword(e.ctx, e.keyActor(key), account.ChangePasswordInput{Password: alice.Password, NewPassword: newPw})
			if err != nil {
				t.Fatal(err)
			}
			alice.Password = newPw
			if res.RevokedSessions != sessions {
				t.Errorf("revoked sessions = %d, want all %d", res.RevokedSessions, sessions)
			}
			if n := e.sessionCount(alice.User); n != 0 {
				t.Errorf("sessions = %d, want 0", n)
			}
			_, err = e.svc.Authenticate(e.ctx, cookie(alice.Token))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
			e.keyActor(key)
			e.actor(bob.Token)
			act := e.events(alice.User, model.EventPasswordChanged)[0]
			if act.APIKeyID == nil || *act.APIKeyID != keyID {
				t.Errorf("activity api key = %v, want %v", act.APIKeyID, keyID)
			}
			alice.Token = e.mustLogin(t, "alice", newPw).SessionToken
		})

		t.Run("ErrAPIKeyWithoutPermission", func(t *testing.T) {
			key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountInfos, model.PermAccountEmail}})
			hash := e.passwordHash(alice.User)
			_, err := e.svc.ChangePassword(e.ctx, e.keyActor(key), account.ChangePasswordInput{Password: alice.Password, NewPassword: "whatever-password"})
			me := wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: account.password")
			if me.Permission != model.PermAccountPassword {
				t.Errorf("permission = %q", me.Permission)
			}
			if e.passwordHash(alice.User) != hash {
				t.Error("password changed")
			}
		})

		t.Run("ErrFrozen", func(t *testing.T) {
			e.setFlags(alice.User, true, false)
			defer e.setFlags(alice.User, false, false)
			other := e.newSession(alice.User)
			_, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: alice.Password, NewPassword: "frozen-password"})
			wantErr(t, err, model.CodeConflict, "account is frozen")
			e.actor(other)
		})

		t.Run("ActivityInSameTransaction", func(t *testing.T) {
			other := e.newSession(alice.User)
			key, _ := e.newAPIKey(alice.User, keyOpts{})
			hash := e.passwordHash(alice.User)
			f := e.withStore(&failingStore{Store: e.store, failEvent: model.EventPasswordChanged})
			newPw := "rolled-back-password"
			e.secret(newPw)
			_, err := f.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{
				Password: alice.Password, NewPassword: newPw, RevokeAPIKeys: true})
			if model.ErrorCode(err) != model.CodeInternal {
				t.Fatalf("err = %v, want internal", err)
			}
			assertNoSecretInError(t, err, alice.Password, newPw)
			if e.passwordHash(alice.User) != hash {
				t.Error("the password change survived its failed activity record")
			}
			e.actor(other)
			e.keyActor(key)
		})
	})
}

// Concurrent edits racing for one username or e-mail address: exactly one
// wins, the others get the conflict, nobody an internal error.
func TestConcurrentProfileConflicts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		users := []*user{e.register("user1"), e.register("user2"), e.register("user3")}
		race := func(t *testing.T, call func(u *user) error, msg string) {
			t.Helper()
			errs := make([]error, len(users))
			var wg sync.WaitGroup
			for i, u := range users {
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = call(u) }()
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				if err == nil {
					ok++
					continue
				}
				if model.ErrorCode(err) != model.CodeConflict || asError(t, err).Message != msg {
					t.Errorf("user %d: %v, want conflict %q", i, err, msg)
				}
			}
			if ok != 1 {
				t.Errorf("%d edits succeeded, want exactly 1", ok)
			}
		}
		t.Run("Username", func(t *testing.T) {
			actors := map[*user]*model.Actor{}
			for _, u := range users {
				actors[u] = e.actor(u.Token)
			}
			race(t, func(u *user) error {
				_, err := e.svc.UpdateAccount(e.ctx, actors[u], account.UpdateAccountInput{Username: ptr("Taken")})
				return err
			}, "username already taken")
			if n := e.count("users", "username_key = ?", "taken"); n != 1 {
				t.Errorf("users named taken = %d", n)
			}
		})
		t.Run("Email", func(t *testing.T) {
			actors := map[*user]*model.Actor{}
			for _, u := range users {
				actors[u] = e.actor(u.Token)
			}
			race(t, func(u *user) error {
				_, err := e.svc.UpdateEmail(e.ctx, actors[u], account.UpdateEmailInput{Email: "Shared@example.com", Password: u.Password})
				return err
			}, "email already in use")
			if n := len(e.events(users[0].User, model.EventEmailChanged)) + len(e.events(users[1].User, model.EventEmailChanged)) +
				len(e.events(users[2].User, model.EventEmailChanged)); n != 1 {
				t.Errorf("account:email-changed events = %d, want 1", n)
			}
		})
	})
}
