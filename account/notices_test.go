package account_test

import (
	"encoding/json"
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// wantNotice checks that the outbox holds exactly n notices of template,
// the last to u's address with the test client's circumstances (none for
// an operator's change) and detail.
func (e *env) wantNotice(template string, n int, u *model.User, byOperator bool, detail string) {
	e.t.Helper()
	ms := e.wantMails(template, n)
	if n == 0 {
		return
	}
	m := ms[n-1]
	if m.To != u.Email {
		e.t.Errorf("%s to %q, want %q", template, m.To, u.Email)
	}
	wantMailUser(e.t, m, u)
	wantNoticeEvent(e.t, e, m, byOperator)
	if m.Data.Detail != detail || m.Data.Link != "" || m.Data.NewEmail != "" {
		e.t.Errorf("%s data %+v, want detail %q and no link", template, m.Data, detail)
	}
}

func TestNoticePasswordChanged(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		wrong := "not the password"
		e.secret(wrong)
		_, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: wrong, NewPassword: "a new password"})
		wantErr(t, err, model.CodeInvalidPassword, "invalid password")
		e.wantNotice(model.MailNoticePasswordChanged, 0, nil, false, "")

		newPw := "a new password"
		e.secret(newPw)
		if _, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: alice.Password, NewPassword: newPw}); err != nil {
			t.Fatal(err)
		}
		e.wantNotice(model.MailNoticePasswordChanged, 1, alice.User, false, "")

		// By an operator: no address, no browser.
		opPw := "the operator's choice"
		e.secret(opPw)
		if _, _, err := e.svc.SetPasswordFor(e.ctx, "alice", opPw); err != nil {
			t.Fatal(err)
		}
		e.wantNotice(model.MailNoticePasswordChanged, 2, alice.User, true, "")

		// By a reset (reset_test.go checks its circumstances).
		if _, err := e.reset(e.resetToken(alice.User), "a reset password", false); err != nil {
			t.Fatal(err)
		}
		e.wantNotice(model.MailNoticePasswordChanged, 3, alice.User, false, "")
	})
}

func TestNoticeTwoFactor(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		sec := tfSetup(t, e, alice)
		// A refused enable (wrong code) sends nothing.
		_, err := e.svc.EnableTwoFactor(e.ctx, e.actor(alice.Token), account.TwoFactorInput{Code: "000000", Password: alice.Password})
		if err == nil {
			t.Fatal("a wrong code enabled two-factor")
		}
		e.wantNotice(model.MailNoticeTwoFactorEnabled, 0, nil, false, "")
		res, err := e.svc.EnableTwoFactor(e.ctx, e.actor(alice.Token), account.TwoFactorInput{Code: tfCode(t, e, sec, 0), Password: alice.Password})
		if err != nil {
			t.Fatal(err)
		}
		e.secret(res.RecoveryCodes...)
		a := &tfAccount{user: alice, Secret: sec, Codes: res.RecoveryCodes}
		e.wantNotice(model.MailNoticeTwoFactorEnabled, 1, alice.User, false, "")

		// New recovery codes: refused with a wrong password, then done.
		wrong := "not the password"
		e.secret(wrong)
		_, err = e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(alice.Token), account.TwoFactorInput{Code: a.Codes[0], Password: wrong})
		wantErr(t, err, model.CodeInvalidPassword, "invalid password")
		e.wantNotice(model.MailNoticeRecoveryCodes, 0, nil, false, "")
		regen, err := e.svc.RegenerateRecoveryCodes(e.ctx, e.actor(alice.Token), account.TwoFactorInput{Code: a.Codes[0], Password: alice.Password})
		if err != nil {
			t.Fatal(err)
		}
		e.secret(regen.RecoveryCodes...)
		e.wantNotice(model.MailNoticeRecoveryCodes, 1, alice.User, false, "")

		if _, err := e.svc.DisableTwoFactor(e.ctx, e.actor(alice.Token), account.TwoFactorInput{Code: regen.RecoveryCodes[0], Password: alice.Password}); err != nil {
			t.Fatal(err)
		}
		e.wantNotice(model.MailNoticeTwoFactorOff, 1, alice.User, false, "")

		// The operator's way back in is told too.
		e.clock.Advance(secret.TOTPPeriod)
		tfEnableUser(t, e, alice)
		if _, err := e.svc.DisableTwoFactorFor(e.ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		e.wantNotice(model.MailNoticeTwoFactorOff, 2, alice.User, true, "")
		e.wantMails(model.MailNoticeTwoFactorEnabled, 2)
		assertNoSecretsInMails(e)
	})
}

func TestNoticeAPIKeyCreated(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		nk := akCreate(e, e.actor(alice.Token), akIn("deploy bot"))
		e.wantNotice(model.MailNoticeAPIKeyCreated, 1, alice.User, false, "deploy bot")
		// A refused key (the name is taken) sends nothing; nor do an
		// edit, a recreate or a deletion.
		if _, err := akTryCreate(e, e.actor(alice.Token), akIn("deploy bot")); err == nil {
			t.Fatal("a duplicate name was accepted")
		}
		if _, err := e.svc.UpdateAPIKey(e.ctx, e.actor(alice.Token), nk.Key.ID, akIn("renamed")); err != nil {
			t.Fatal(err)
		}
		re, err := e.svc.RecreateAPIKey(e.ctx, e.actor(alice.Token), nk.Key.ID)
		if err != nil {
			t.Fatal(err)
		}
		akRemember(e, re)
		e.wantNotice(model.MailNoticeAPIKeyCreated, 1, alice.User, false, "deploy bot")
		akRemember(e, nk)
		assertNoSecretsInMails(e)
	})
}

func TestNoticeNewDevice(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		alice := e.register("alice")
		// The sign-up is not a new device.
		e.wantMails(model.MailNoticeNewDevice, 0)

		// A failed sign-in is not one either.
		wrong := "not the password"
		e.secret(wrong)
		if _, err := e.login(account.LoginInput{User: "alice", Password: wrong}); err == nil {
			t.Fatal("a wrong password signed in")
		}
		e.wantMails(model.MailNoticeNewDevice, 0)

		first := e.mustLogin(t, "alice", alice.Password)
		e.wantNotice(model.MailNoticeNewDevice, 1, alice.User, false, clientUA)
		// The same browser again: no notice.
		if _, err := e.login(account.LoginInput{User: "alice", Password: alice.Password, Device: first.DeviceToken}); err != nil {
			t.Fatal(err)
		}
		e.wantMails(model.MailNoticeNewDevice, 1)
		// Another browser, or one with another account's cookie: a notice.
		bob := e.register("bob")
		bobs := e.mustLogin(t, "bob", bob.Password)
		e.wantNotice(model.MailNoticeNewDevice, 2, bob.User, false, clientUA)
		if _, err := e.login(account.LoginInput{User: "alice", Password: alice.Password, Device: bobs.DeviceToken}); err != nil {
			t.Fatal(err)
		}
		e.wantNotice(model.MailNoticeNewDevice, 3, alice.User, false, clientUA)

		// Through the two-factor checkpoint: the device is made, and told,
		// when the code is accepted, not at the password.
		a := tfEnableUser(t, e, alice)
		res, err := e.login(account.LoginInput{User: "alice", Password: alice.Password})
		if err != nil || !res.TwoFactorRequired() {
			t.Fatalf("login: %+v %v", res, err)
		}
		e.wantMails(model.MailNoticeNewDevice, 3)
		cp, err := e.svc.LoginCheckpoint(e.ctx, mailClient, account.CheckpointInput{ConfirmationToken: res.ConfirmationToken, Code: tfNextCode(t, e, a)})
		if err != nil {
			t.Fatal(err)
		}
		e.secret(cp.SessionToken, cp.DeviceToken)
		e.wantNotice(model.MailNoticeNewDevice, 4, alice.User, false, clientUA)
		assertNoSecretsInMails(e)
	})
}

// assertNoSecretsInMails scans every queued mail's data but its link, whose
// token is the one secret a mail may carry, for the test's secrets (link
// tokens included: e.mails remembers them).
func assertNoSecretsInMails(e *env) {
	e.t.Helper()
	secrets := e.allSecrets()
	for _, m := range e.mails() {
		d := m.Data
		d.Link = ""
		b, err := json.Marshal(d)
		if err != nil {
			e.t.Fatal(err)
		}
		text := string(b) + m.To
		for _, s := range secrets {
			if holdsSecret(text, s) {
				e.t.Errorf("%s mail holds a secret (%.12s…): %s", m.Template, s, text)
			}
		}
	}
}
