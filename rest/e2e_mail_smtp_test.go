package rest_test

import (
	"context"
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/mail"
	"accountd/mail/mailtest"
)

// mailLinkToken finds the token of a link to path in a delivered mail's
// text part, as a person clicking it would.
func mailLinkToken(t *testing.T, m *mailtest.Message, path string) string {
	t.Helper()
	found := regexp.MustCompile(regexp.QuoteMeta(path) + `\?token=([A-Za-z0-9]{96})`).FindStringSubmatch(m.Text)
	if found == nil {
		t.Fatalf("no %s link in the mail %q:\n%s", path, m.Subject, m.Text)
	}
	return found[1]
}

// waitMail waits for the first mail to `to` whose subject contains
// subject, among those received after skip.
func waitMail(t *testing.T, smtp *mailtest.Server, skip int, to, subject string) *mailtest.Message {
	t.Helper()
	for n := skip + 1; ; n++ {
		ms := smtp.Wait(n)
		for _, m := range ms[skip:] {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) {
				return m
			}
		}
	}
}

// TestMailFlowsOverSMTP: the whole way, through a real SMTP server and the
// sender the server runs — a password reset whose delivered link resets
// the password, and an address change whose delivered link confirms it,
// each with its notice to the account.
func TestMailFlowsOverSMTP(t *testing.T) {
	t.Parallel()
	smtp := mailtest.NewServer(t, mailtest.Options{})
	relay, err := mail.ParseSMTPURL(smtp.URL())
	if err != nil {
		t.Fatal(err)
	}
	apptest.EachServer(t, func(cfg *app.Config) {
		cfg.Mail.SMTP = relay
		cfg.EmailVerifyChanges = true
	}, func(t *testing.T, ts *apptest.Server) {
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); ts.App.RunMailSender(ctx) }()
		t.Cleanup(func() { cancel(); <-stopped })

		// One SMTP server serves both engines' subtests: an address each.
		name := "smtp_" + path.Base(t.Name())[:3]
		alice := apptest.Register(t, ts, name, "the first password")
		c := ts.Client(t)
		skip := len(smtp.Messages())

		// Forgot → the mail → its link → a new password.
		apptest.WantEmpty(t, c.Do(http.MethodPost, restForgotPath, map[string]any{"email": alice.Email}))
		reset := waitMail(t, smtp, skip, alice.Email, "Password Reset")
		if !strings.Contains(reset.HTML, "/auth/reset-password?token=") {
			t.Errorf("the HTML part has no reset link:\n%s", reset.HTML)
		}
		tok := mailLinkToken(t, reset, "/auth/reset-password")
		apptest.WantEmpty(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "the second password"}))
		waitMail(t, smtp, skip, alice.Email, "Your password was changed")
		signedIn, res := apptest.Login(t, ts, name, "the second password")
		apptest.WantStatus(t, res, http.StatusOK)
		// The link is single-use.
		res = c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a third password"})
		apptest.WantStatus(t, res, http.StatusBadRequest)

		// An address change waits for the link sent to the new address;
		// the old one is told.
		newAddr := name + ".new@example.org"
		res = signedIn.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": newAddr, "password": "the second password"})
		apptest.WantStatus(t, res, http.StatusOK)
		confirm := waitMail(t, smtp, skip, newAddr, "Confirm your new e-mail address")
		waitMail(t, smtp, skip, alice.Email, "E-mail address change")
		if got := signedIn.Do(http.MethodGet, "/api/client/account", nil); !strings.Contains(string(got.Body), `"email":"`+alice.Email+`"`) {
			t.Fatalf("the address changed before its confirmation: %s", got.Body)
		}
		res = c.Do(http.MethodPost, "/api/auth/email/confirm", map[string]any{"token": mailLinkToken(t, confirm, "/auth/confirm-email")})
		apptest.WantStatus(t, res, http.StatusOK)
		if got := signedIn.Do(http.MethodGet, "/api/client/account", nil); !strings.Contains(string(got.Body), `"email":"`+newAddr+`"`) {
			t.Errorf("the confirmed address is not the account's: %s", got.Body)
		}

		// Every mail went once (the outbox marks what it sent).
		seen := map[string]int{}
		for _, m := range smtp.Messages() {
			seen[m.MessageID]++
			if seen[m.MessageID] > 1 {
				t.Errorf("mail %s delivered twice", m.MessageID)
			}
		}
	})
}
