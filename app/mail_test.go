package app_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/mail"
	"accountd/mail/mailtest"
	"accountd/model"
	"accountd/secret"
)

// TestMailSenderWiring: the server's sender delivers the outbox through
// SMTP_URL from APP_NAME at APP_URL's host, counts it on /metrics (every
// template's series there from the start), and RunMailSender logs the
// SMTP server without its password.
func TestMailSenderWiring(t *testing.T) {
	t.Parallel()
	serverTLS, roots := mailtest.SelfSigned(t)
	const password = "Sm7pPassw0rd"
	srv := mailtest.NewServer(t, mailtest.Options{TLS: serverTLS, Username: "mailer", Password: password})
	apptest.EachServer(t, func(cfg *app.Config) {
		s, err := mail.ParseSMTPURL(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		s.TLSConfig = &tls.Config{RootCAs: roots}
		cfg.Mail.SMTP = s
	}, func(t *testing.T, ts *apptest.Server) {
		before := len(srv.Messages())
		link := "http://localhost:8000/auth/reset-password?token=" + secret.RandomString(96)
		m := &model.Mail{ID: uuid.New(), Template: model.MailPasswordReset, To: "carol@example.com", Created: time.Now().UTC(),
			Data: model.MailData{User: model.MailUser{UUID: uuid.NewString(), Username: "carol", Email: "carol@example.com"},
				App: model.MailApp{Name: "Calagopus", URL: "http://localhost:8000"}, Link: link, ExpiresIn: "20 minutes"}}
		if err := ts.App.Store.EnqueueMail(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); ts.App.RunMailSender(ctx) }()
		got := srv.Wait(before + 1)[before]
		cancel()
		<-done
		if got.From != "noreply@localhost" || got.To[0] != "carol@example.com" || got.Subject != "Calagopus - Password Reset" ||
			!strings.Contains(got.Text, link) || got.Header.Get("From") != `"Calagopus" <noreply@localhost>` || !got.TLS ||
			got.Authenticated != "mailer" {
			t.Fatalf("mail: from %s to %v, %q, From: %q\n%s", got.From, got.To, got.Subject, got.Header.Get("From"), got.Text)
		}
		scrape := metricsGet(t, ts.URL+"/metrics")
		scrape.want(t, `mail_sent_total{template="password_reset"}`, 1)
		for _, name := range model.MailTemplates() {
			scrape.want(t, `mail_failed_total{reason="expired",template="`+name+`"}`, 0)
		}
		scrape.want(t, `mail_outbox_unsent`, 0)
		logs := ts.LogText()
		if !strings.Contains(logs, `msg="mail sender started" smtp=smtp://mailer@`+srv.Addr()) ||
			strings.Contains(logs, password) || strings.Contains(logs, "token=") {
			t.Fatalf("log:\n%s", logs)
		}
	})
}
