package account_test

import (
	"strings"
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// TestSecretsNeverRecorded runs every flow that touches a secret and then
// scans every activity row, every error text and the credential tables.
// (Every other test's activity rows are scanned too, by newEnv's cleanup.)
func TestSecretsNeverRecorded(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		bob := e.register("bob")
		var errs []error
		collect := func(err error) {
			if err == nil {
				t.Fatal("want an error")
			}
			errs = append(errs, err)
		}
		wrong := "wrong-secret-password"
		e.secret(wrong)

		// Login: failures and successes, with and without two-factor.
		for _, in := range []account.LoginInput{
			{User: "alice", Password: wrong},
			{User: "nobody", Password: alice.Password},
			{User: "alice@example.com", Password: wrong},
			{User: "alice", Password: strings.Repeat("s", 513)},
		} {
			_, err := e.login(in)
			collect(err)
		}
		e.mustLogin(t, "alice", alice.Password)
		e.setColumn(bob.User, "totp_enabled", true)
		res, err := e.login(account.LoginInput{User: "bob", Password: bob.Password})
		if err != nil || !res.TwoFactorRequired() {
			t.Fatalf("two-factor login: %+v %v", res, err)
		}
		e.setColumn(bob.User, "totp_enabled", false)
		oldHashes := []string{e.passwordHash(alice.User), e.passwordHash(bob.User)}
		e.secret(oldHashes...)

		actor := e.actor(alice.Token)
		// UpdateEmail failures and success.
		_, err = e.svc.UpdateEmail(e.ctx, actor, account.UpdateEmailInput{Email: "new@example.com", Password: wrong})
		collect(err)
		_, err = e.svc.UpdateEmail(e.ctx, actor, account.UpdateEmailInput{Email: "bob@example.com", Password: alice.Password})
		collect(err)
		_, err = e.svc.UpdateEmail(e.ctx, actor, account.UpdateEmailInput{Email: "bad", Password: strings.Repeat("x", 513)})
		collect(err)
		_, err = e.withStore(&failingStore{Store: e.store, failEvent: model.EventEmailChanged}).svc.UpdateEmail(e.ctx, actor,
			account.UpdateEmailInput{Email: "new@example.com", Password: alice.Password})
		collect(err)
		if _, err := e.svc.UpdateEmail(e.ctx, actor, account.UpdateEmailInput{Email: "new@example.com", Password: alice.Password}); err != nil {
			t.Fatal(err)
		}

		// ChangePassword failures and success, via the session and a key.
		newPw := "the-new-secret-password"
		e.secret(newPw)
		_, err = e.svc.ChangePassword(e.ctx, actor, account.ChangePasswordInput{Password: wrong, NewPassword: newPw})
		collect(err)
		_, err = e.svc.ChangePassword(e.ctx, actor, account.ChangePasswordInput{Password: alice.Password, NewPassword: "short"})
		collect(err)
		_, err = e.withStore(&failingStore{Store: e.store, failEvent: model.EventPasswordChanged}).svc.ChangePassword(e.ctx, actor,
			account.ChangePasswordInput{Password: alice.Password, NewPassword: newPw})
		collect(err)
		if _, err := e.svc.ChangePassword(e.ctx, actor, account.ChangePasswordInput{Password: alice.Password, NewPassword: newPw}); err != nil {
			t.Fatal(err)
		}
		key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountPassword, model.PermAccountInfos}})
		newPw2 := "the-third-secret-password"
		e.secret(newPw2)
		if _, err := e.svc.ChangePassword(e.ctx, e.keyActor(key), account.ChangePasswordInput{Password: newPw, NewPassword: newPw2}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateAccount(e.ctx, e.keyActor(key), account.UpdateAccountInput{NameFirst: ptr("A")}); err != nil {
			t.Fatal(err)
		}
		e.secret(e.passwordHash(alice.User))

		secrets := e.allSecrets()
		t.Run("Errors", func(t *testing.T) {
			for _, err := range errs {
				assertNoSecretInError(t, err, secrets...)
				for _, m := range model.AsError(err).Messages() {
					for _, s := range secrets {
						if holdsSecret(m, s) {
							t.Errorf("client message %q contains a secret", m)
						}
					}
				}
			}
		})
		t.Run("Activities", func(t *testing.T) {
			if n := e.count("activities", ""); n < 5 {
				t.Fatalf("only %d activities recorded", n)
			}
			e.assertNoSecretsInActivities()
		})
		t.Run("CredentialTables", func(t *testing.T) {
			for _, table := range []string{"sessions", "login_tokens", "api_keys"} {
				var starts []string
				if err := d.NewSelect().Table(table).Column("key_start").Scan(e.ctx, &starts); err != nil {
					t.Fatal(err)
				}
				for _, ks := range starts {
					if len(ks) != 16 {
						t.Errorf("%s: key_start %q is not a 16-character prefix", table, ks)
					}
				}
			}
			var uas []string
			if err := d.NewSelect().Table("sessions").Column("user_agent").Scan(e.ctx, &uas); err != nil {
				t.Fatal(err)
			}
			for _, ua := range uas {
				for _, s := range secrets {
					if holdsSecret(ua, s) {
						t.Errorf("session user agent holds a secret")
					}
				}
			}
		})
	})
}

// TestHoldsSecret pins the leak check itself: a code is found as a value or
// a word, not as chance digits inside an identifier.
func TestHoldsSecret(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		text, secret string
		want         bool
	}{
		{`{"uuid":"01a24dd7-05d9-7122-a0b7-3e8d634505e5"}`, "634505", false},
		{`{"code":"634505"}`, "634505", true},
		{`{"code":634505}`, "634505", true},
		{`code 634505 used`, "634505", true},
		{`x634505`, "634505", false},
		{`634505`, "634505", true},
		{`a 634505x 634505`, "634505", true},
		{`prefix-c7sp_waEjhqaBoIu-rest`, "c7sp_waEjhqaBoIu", true},
	} {
		if got := holdsSecret(c.text, c.secret); got != c.want {
			t.Errorf("holdsSecret(%q, %q) = %v, want %v", c.text, c.secret, got, c.want)
		}
	}
}
