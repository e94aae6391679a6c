package account_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// withVerifyChanges turns EMAIL_VERIFY_CHANGES on in cfg.
func withVerifyChanges(cfg account.Config) account.Config {
	cfg.EmailVerifyChanges = true
	return cfg
}

// changeEmail asks for u's address to become email and fails the test on
// an error.
func (e *env) changeEmail(u *user, email string) *model.User {
	e.t.Helper()
	got, err := e.svc.UpdateEmail(e.ctx, e.actor(u.Token), account.UpdateEmailInput{Email: email, Password: u.Password})
	if err != nil {
		e.t.Fatalf("change %s's address to %q: %v", u.Username, email, err)
	}
	return got
}

// confirm confirms an address with a token.
func (e *env) confirm(tok string) (*model.User, error) {
	return e.svc.ConfirmEmail(e.ctx, mailClient, account.ConfirmEmailInput{Token: tok})
}

// pending returns u's pending address ("" for none).
func (e *env) pending(u *model.User) string {
	e.t.Helper()
	p, err := e.svc.PendingEmail(e.ctx, e.reload(u))
	if err != nil {
		e.t.Fatal(err)
	}
	if p == nil {
		return ""
	}
	return *p
}

func TestEmailChangeVerified(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withVerifyChanges(mailConfig()))
		alice := e.register("alice")
		oldTok := e.resetToken(alice.User) // a reset link mailed to the old address

		got := e.changeEmail(alice, "Alice.New@example.org")
		if got.Email != "alice@example.com" || e.reload(alice.User).Email != "alice@example.com" {
			t.Fatalf("the address changed before its confirmation: %q", got.Email)
		}
		if p := e.pending(alice.User); p != "Alice.New@example.org" {
			t.Errorf("pending %q", p)
		}
		// The link goes to the new address, the notice to the old one.
		c := e.lastMail(model.MailEmailChangeConfirm)
		if c.To != "Alice.New@example.org" || c.Data.NewEmail != "Alice.New@example.org" || c.Data.ExpiresIn != "24 hours" {
			t.Errorf("confirmation mail %+v", c)
		}
		wantMailUser(t, c, alice.User)
		tok := mailToken(t, c, "/auth/confirm-email")
		n := e.lastMail(model.MailEmailChangeNotice)
		if n.To != "alice@example.com" || n.Data.NewEmail != "A***@e***.org" || n.Data.Link != "" {
			t.Errorf("notice %+v", n)
		}
		wantNoticeEvent(t, e, n, false)
		acts := e.events(alice.User, model.EventEmailChangeRequested)
		if len(acts) != 1 {
			t.Fatalf("%d change requests recorded", len(acts))
		}
		assertData(t, acts[0], `{"old":"alice@example.com","new":"Alice.New@example.org"}`)
		if len(e.events(alice.User, model.EventEmailChanged)) != 0 {
			t.Error("account:email-changed recorded before the confirmation")
		}
		// Until then the old address signs in.
		e.mustLogin(t, "alice@example.com", alice.Password)

		e.clock.Advance(23 * time.Hour)
		u, err := e.confirm(tok)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "Alice.New@example.org" || !u.EmailVerified {
			t.Errorf("after the confirmation: %q verified %v", u.Email, u.EmailVerified)
		}
		if p := e.pending(alice.User); p != "" {
			t.Errorf("pending %q after the confirmation", p)
		}
		acts = e.events(alice.User, model.EventEmailChanged)
		if len(acts) != 1 || acts[0].IP == nil || *acts[0].IP != clientIP.String() {
			t.Fatalf("account:email-changed events %+v", acts)
		}
		assertData(t, acts[0], `{"old":"alice@example.com","new":"Alice.New@example.org"}`)
		e.mustLogin(t, "alice.new@EXAMPLE.org", alice.Password)
		if _, err := e.login(account.LoginInput{User: "alice@example.com", Password: alice.Password}); err == nil {
			t.Error("the old address still signs in")
		}
		// Single use; the old address's reset link is dead.
		_, err = e.confirm(tok)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		_, err = e.reset(oldTok, "a brand new password", false)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		// Sessions are not touched by a change of address.
		e.actor(alice.Token)
	})
}

func TestEmailChangeNewerReplacesOlder(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withVerifyChanges(mailConfig()))
		alice := e.register("alice")
		e.changeEmail(alice, "first@example.com")
		first := mailToken(t, e.lastMail(model.MailEmailChangeConfirm), account.ConfirmEmailPath)
		e.changeEmail(alice, "second@example.com")
		second := mailToken(t, e.lastMail(model.MailEmailChangeConfirm), account.ConfirmEmailPath)
		if p := e.pending(alice.User); p != "second@example.com" {
			t.Errorf("pending %q", p)
		}
		if n := e.count("email_verifications", "user_id = ?", alice.ID); n != 1 {
			t.Errorf("%d pending verifications", n)
		}
		_, err := e.confirm(first)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		if u, err := e.confirm(second); err != nil || u.Email != "second@example.com" {
			t.Fatalf("confirm: %v %v", u, err)
		}
		e.wantMails(model.MailEmailChangeNotice, 2)

		// Asking for the current address again withdraws a pending change.
		e.changeEmail(alice, "third@example.com")
		third := mailToken(t, e.lastMail(model.MailEmailChangeConfirm), account.ConfirmEmailPath)
		e.changeEmail(alice, "Second@Example.com")
		if p := e.pending(alice.User); p != "" {
			t.Errorf("pending %q", p)
		}
		_, err = e.confirm(third)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
	})
}

func TestEmailChangeTaken(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withVerifyChanges(mailConfig()))
		alice := e.register("alice")
		e.register("bob")
		before := len(e.mails())

		// Taken when asked: refused, and no mail.
		_, err := e.svc.UpdateEmail(e.ctx, e.actor(alice.Token), account.UpdateEmailInput{Email: "BOB@example.com", Password: alice.Password})
		wantErr(t, err, model.CodeConflict, "email already in use")
		if len(e.mails()) != before || e.pending(alice.User) != "" {
			t.Fatal("a refused change mailed or is pending")
		}

		// Taken meanwhile: the confirmation is refused, the address stays,
		// and the link stays valid for when the address is free again.
		e.changeEmail(alice, "carol@example.com")
		tok := mailToken(t, e.lastMail(model.MailEmailChangeConfirm), account.ConfirmEmailPath)
		carol := e.register("carol")
		_, err = e.confirm(tok)
		wantErr(t, err, model.CodeConflict, "email already in use")
		if u := e.reload(alice.User); u.Email != "alice@example.com" {
			t.Fatalf("address %q", u.Email)
		}
		if p := e.pending(alice.User); p != "carol@example.com" {
			t.Errorf("pending %q", p)
		}
		if _, err := e.svc.DeleteUser(e.ctx, carol.ID.String()); err != nil {
			t.Fatal(err)
		}
		if u, err := e.confirm(tok); err != nil || u.Email != "carol@example.com" {
			t.Fatalf("confirm once free: %v %v", u, err)
		}
	})
}

func TestEmailChangeBadTokens(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withVerifyChanges(mailConfig()))
		alice := e.register("alice")
		e.changeEmail(alice, "new@example.com")
		tok := mailToken(t, e.lastMail(model.MailEmailChangeConfirm), account.ConfirmEmailPath)
		reset := e.resetToken(alice.User)
		mailed := len(e.mails())
		for name, bad := range map[string]string{
			"unknown":       secret.RandomString(96),
			"forged suffix": tok[:16] + secret.RandomString(80),
			"not alnum":     tok[:95] + "=",
			"reset token":   reset,
		} {
			_, err := e.confirm(bad)
			if me := wantErr(t, err, model.CodeInvalid, "invalid or expired token"); me.Field != "token" {
				t.Errorf("%s: field %q", name, me.Field)
			}
		}
		_, err := e.confirm(tok[:95])
		wantFields(t, err, fe("token", "length is lower than 96"))
		_, err = e.confirm(tok + "x")
		wantFields(t, err, fe("token", "length is greater than 96"))
		_, err = e.confirm("")
		wantFields(t, err, fe("token", "length is lower than 96"))

		// A frozen account does not move.
		e.setFlags(alice.User, true, false)
		_, err = e.confirm(tok)
		wantErr(t, err, model.CodeConflict, "account is frozen")
		e.setFlags(alice.User, false, false)

		// Expired after 24 hours.
		e.clock.Advance(24 * time.Hour)
		_, err = e.confirm(tok)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
		if p := e.pending(alice.User); p != "" {
			t.Errorf("an expired change is still pending: %q", p)
		}
		if u := e.reload(alice.User); u.Email != "alice@example.com" {
			t.Errorf("address %q", u.Email)
		}
		if n := len(e.mails()); n != mailed {
			t.Errorf("refused confirmations mailed %d times", n-mailed)
		}
	})
}

// With EMAIL_VERIFY_CHANGES off the change is immediate, as in the panel;
// the old address is still told, and the new one is not verified.
func TestEmailChangeImmediate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, withVerifyChanges(mailConfig()))
		alice := e.register("alice")
		e.setColumn(alice.User, "email_verified", true)
		e.changeEmail(alice, "pending@example.com") // left pending, then superseded
		oldReset := e.resetToken(alice.User)

		e = e.withConfig(mailConfig())
		got := e.changeEmail(alice, "now@example.com")
		if got.Email != "now@example.com" || got.EmailVerified {
			t.Fatalf("after the change: %q verified %v", got.Email, got.EmailVerified)
		}
		if p := e.pending(alice.User); p != "" {
			t.Errorf("pending %q", p)
		}
		e.wantMails(model.MailEmailChangeConfirm, 1) // the earlier, verified request's only
		n := e.lastMail(model.MailEmailChangeNotice)
		if n.To != "alice@example.com" || n.Data.NewEmail != "n***@e***.com" {
			t.Errorf("notice %+v", n)
		}
		wantNoticeEvent(t, e, n, false)
		assertData(t, e.events(alice.User, model.EventEmailChanged)[0], `{"old":"alice@example.com","new":"now@example.com"}`)
		_, err := e.reset(oldReset, "a brand new password", false)
		wantErr(t, err, model.CodeInvalid, "invalid or expired token")
	})
}

// A change of letter case only is the same mailbox: applied at once, with
// no link and no notice, and the address stays verified.
func TestEmailChangeCaseOnly(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, verify := range []bool{true, false} {
			cfg := mailConfig()
			cfg.EmailVerifyChanges = verify
			e := newEnv(t, d, cfg)
			u := e.register("user" + strings.ToUpper(uuid.NewString()[:4]))
			e.setColumn(u.User, "email_verified", true)
			before := len(e.mails())
			got := e.changeEmail(u, strings.ToUpper(u.Email))
			if got.Email != strings.ToUpper(u.Email) || !got.EmailVerified {
				t.Errorf("verify %v: %q verified %v", verify, got.Email, got.EmailVerified)
			}
			if len(e.mails()) != before {
				t.Errorf("verify %v: a case change mailed", verify)
			}
		}
	})
}

func TestEmailVerifySignup(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := mailConfig()
		cfg.EmailVerifySignup = true
		e := newEnv(t, d, cfg)
		alice := e.register("alice")
		if alice.EmailVerified || e.reload(alice.User).EmailVerified {
			t.Fatal("a new account is verified")
		}
		m := e.lastMail(model.MailEmailVerify)
		if m.To != "alice@example.com" || m.Data.ExpiresIn != "24 hours" || m.Data.NewEmail != "" {
			t.Errorf("verification mail %+v", m)
		}
		wantMailUser(t, m, alice.User)
		tok := mailToken(t, m, account.ConfirmEmailPath)
		// Unverified accounts sign in and work; nothing is pending.
		e.mustLogin(t, "alice", alice.Password)
		if p := e.pending(alice.User); p != "" {
			t.Errorf("pending %q", p)
		}
		u, err := e.confirm(tok)
		if err != nil || !u.EmailVerified || u.Email != "alice@example.com" {
			t.Fatalf("confirm: %+v %v", u, err)
		}
		acts := e.events(alice.User, model.EventEmailVerified)
		if len(acts) != 1 {
			t.Fatalf("%d account:email-verified events", len(acts))
		}
		assertData(t, acts[0], `{"email":"alice@example.com"}`)
		if len(e.events(alice.User, model.EventEmailChanged)) != 0 {
			t.Error("a verification recorded a change")
		}

		// Off (the default): no mail, and the address is not verified.
		e = e.withConfig(mailConfig())
		bob := e.register("bob")
		if e.reload(bob.User).EmailVerified {
			t.Error("bob is verified")
		}
		e.wantMails(model.MailEmailVerify, 1)
	})
}

// Accounts that existed before migration 0011 count as verified: the
// column's default is what an existing row gets.
func TestEmailVerifiedDefaultForExistingAccounts(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, mailConfig())
		id := uuid.New()
		now := time.Now().UTC().Truncate(time.Microsecond)
		if _, err := d.ExecContext(e.ctx, `INSERT INTO users (id, username, username_key, email, email_key, name_first, name_last,
			created, updated) VALUES (?, 'old', 'old', 'old@example.com', 'old@example.com', 'Old', 'Timer', ?, ?)`, id, now, now); err != nil {
			t.Fatal(err)
		}
		u, err := e.store.UserByID(e.ctx, id)
		if err != nil || u == nil || !u.EmailVerified {
			t.Fatalf("existing account: %+v %v", u, err)
		}
	})
}

// CR and LF cannot reach a mail's headers: an address holding them is
// refused everywhere, and a name holding them is only ever template data,
// never a header (the recipient is the bare address).
func TestEmailHeaderInjection(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := withVerifyChanges(mailConfig())
		cfg.EmailVerifySignup = true
		e := newEnv(t, d, cfg)
		for _, bad := range []string{"eve@example.com\r\nBcc: all@example.com", "eve\n@example.com", "eve@example.com\r", "Eve <eve@example.com>"} {
			in := registerInput("eve")
			in.Email = bad
			_, err := e.svc.Register(e.ctx, mailClient, in)
			wantFieldsLoose(t, err, fe("email", msgInvalidEmail))
		}
		in := registerInput("eve")
		in.NameFirst = "Eve\r\nBcc: all@example.com"
		in.NameLast = "X\nSubject: pwned"
		eve := e.registerWith(in)
		m := e.lastMail(model.MailEmailVerify)
		if m.To != "eve@example.com" {
			t.Fatalf("recipient %q", m.To)
		}
		if m.Data.User.NameFirst != in.NameFirst {
			t.Errorf("name in the data %q", m.Data.User.NameFirst)
		}
		_, err := e.svc.UpdateEmail(e.ctx, e.actor(eve.Token), account.UpdateEmailInput{Email: "x@example.com\r\nBcc: all@example.com", Password: eve.Password})
		wantFieldsLoose(t, err, fe("email", msgInvalidEmail))
		err = e.svc.RequestPasswordReset(e.ctx, mailClient, account.RequestPasswordResetInput{Email: "eve@example.com\r\nBcc: all@example.com"})
		wantFieldsLoose(t, err, fe("email", "not a valid email: …"))
		for _, m := range e.mails() {
			if strings.ContainsAny(m.To, "\r\n") {
				t.Errorf("recipient %q", m.To)
			}
		}
	})
}

// A change refused for any reason mails nothing.
func TestEmailChangeRefusedSendsNothing(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, verify := range []bool{true, false} {
			cfg := mailConfig()
			cfg.EmailVerifyChanges = verify
			e := newEnv(t, d, cfg)
			u := e.register("user" + strings.ToUpper(uuid.NewString()[:4]))
			wrong := "not the password"
			e.secret(wrong)
			_, err := e.svc.UpdateEmail(e.ctx, e.actor(u.Token), account.UpdateEmailInput{Email: "x" + u.Email, Password: wrong})
			wantErr(t, err, model.CodeInvalidPassword, "invalid password")
			e.setFlags(u.User, true, false)
			_, err = e.svc.UpdateEmail(e.ctx, e.actor(u.Token), account.UpdateEmailInput{Email: "x" + u.Email, Password: u.Password})
			wantErr(t, err, model.CodeConflict, "account is frozen")
			// The change's last write fails: everything rolls back.
			e.setFlags(u.User, false, false)
			event := model.EventEmailChangeRequested
			if !verify {
				event = model.EventEmailChanged
			}
			failing := e.withStore(&failingStore{Store: e.store, failEvent: event})
			_, err = failing.svc.UpdateEmail(e.ctx, e.actor(u.Token), account.UpdateEmailInput{Email: "y" + u.Email, Password: u.Password})
			if model.ErrorCode(err) != model.CodeInternal {
				t.Fatalf("verify %v: failing store: %v", verify, err)
			}
			if ms := e.mails(); len(ms) != 0 {
				t.Errorf("verify %v: mails %+v", verify, ms)
			}
			if e.reload(u.User).Email != u.Email {
				t.Errorf("verify %v: the address changed", verify)
			}
			if _, err := e.svc.DeleteUser(e.ctx, u.ID.String()); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestEmailChangeNoticeSaysWhetherItWaits: the old address's notice says
// the change is requested when it waits for a confirmation, and made when
// it is immediate.
func TestEmailChangeNoticeSaysWhetherItWaits(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		for _, verify := range []bool{true, false} {
			cfg := mailConfig()
			cfg.EmailVerifyChanges = verify
			e := newEnv(t, d, cfg)
			name := "waits_no"
			if verify {
				name = "waits_yes"
			}
			u := e.register(name)
			e.changeEmail(u, name+".new@example.org")
			var notice *model.Mail
			for _, m := range e.mailsOf(model.MailEmailChangeNotice) {
				if m.To == u.Email {
					notice = m
				}
			}
			if notice == nil || notice.Data.Pending != verify {
				t.Errorf("EMAIL_VERIFY_CHANGES=%v: notice %+v, want Pending=%v", verify, notice, verify)
			}
		}
	})
}
