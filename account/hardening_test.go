package account_test

import (
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// A stored hash in no known format (a bad import) must fail like a wrong
// password, not with an internal error that tells the account exists.
func TestMalformedStoredHashFailsLikeWrongPassword(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		e.setColumn(alice.User, "password_hash", "$argon2id$garbage")

		_, err := e.svc.Login(e.ctx, model.Client{IP: clientIP}, account.LoginInput{User: "alice", Password: alice.Password})
		wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")

		_, err = e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "new@example.com", Password: alice.Password})
		wantErr(t, err, model.CodeInvalidPassword, "invalid password")
	})
}

// A two-factor confirmation token was earned with the old password; a
// password change must void it.
func TestChangePasswordVoidsPendingConfirmationTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		e.setColumn(alice.User, "totp_enabled", true)
		res, err := e.svc.Login(e.ctx, model.Client{IP: clientIP}, account.LoginInput{User: "alice", Password: alice.Password})
		if err != nil || !res.TwoFactorRequired() {
			t.Fatalf("login: %v %+v", err, res)
		}
		e.secret(res.ConfirmationToken)
		if n := e.count("login_tokens", "user_id = ?", alice.ID); n != 1 {
			t.Fatalf("%d pending tokens, want 1", n)
		}
		_, err = e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{
			Password: alice.Password, NewPassword: "a brand new password"})
		if err != nil {
			t.Fatal(err)
		}
		e.secret("a brand new password")
		if n := e.count("login_tokens", "user_id = ?", alice.ID); n != 0 {
			t.Fatalf("%d pending tokens survived the password change", n)
		}
	})
}
