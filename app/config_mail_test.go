package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/mail"
	"accountd/model"
)

func TestConfigMailDefaults(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mail
	if m.SMTP != nil || m.From.String() != `"Calagopus" <noreply@localhost>` || m.Dir != "data/mail" || m.MaxAge != 24*time.Hour ||
		m.TemplatesDir != "" || m.Templates == nil {
		t.Fatalf("mail defaults differ from the documented table: %+v", m)
	}
	c, err = app.LoadConfig(env(map[string]string{"APP_NAME": "Game Panel", "APP_URL": "https://panel.example.com:8443"}))
	if err != nil || c.Mail.From.String() != `"Game Panel" <noreply@panel.example.com>` {
		t.Fatalf("default sender from APP_NAME and APP_URL: %v, %v", c.Mail.From, err)
	}
}

func TestConfigMailValues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, model.MailPasswordReset+".txt"), []byte("Subject: Reset\n\n{{.Link}}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := app.LoadConfig(env(map[string]string{
		"SMTP_URL": "smtps://mailer:pa%2Fss@smtp.example.com", "MAIL_FROM": "Panel Mail <mail@example.com>",
		"MAIL_DIR": "/var/spool/panel", "MAIL_MAX_AGE": "2h", "MAIL_TEMPLATES_DIR": dir,
	}))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mail
	want := mail.SMTP{Host: "smtp.example.com", Port: 465, Username: "mailer", Password: "pa/ss", ImplicitTLS: true}
	if m.SMTP == nil || *m.SMTP != want || m.From.String() != `"Panel Mail" <mail@example.com>` || m.Dir != "/var/spool/panel" ||
		m.MaxAge != 2*time.Hour || m.TemplatesDir != dir {
		t.Fatalf("mail values not taken: %+v %+v", m, m.SMTP)
	}
	r, err := m.Templates.Render(model.MailPasswordReset, mail.SampleData())
	if err != nil || r.Subject != "Reset" {
		t.Fatalf("the override is not used: %+v %v", r, err)
	}
}

// Each bad mail setting stops the start with a message naming it; a bad
// SMTP_URL never shows its password; a broken template is named by its
// file.
func TestConfigMailErrors(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	broken := t.TempDir()
	brokenFile := filepath.Join(broken, model.MailNoticeNewDevice+".html")
	if err := os.WriteFile(brokenFile, []byte(`{{define "content"}}{{.Unknown}}{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, value, says string }{
		{"SMTP_URL", "smtp://user:Hunter2Pw@", "SMTP_URL"},
		{"SMTP_URL", "smtp://user:Hunter2Pw@relay.example.com?starttls=sometimes", "SMTP_URL"},
		{"SMTP_URL", "imap://user:Hunter2Pw@relay.example.com", "SMTP_URL"},
		{"MAIL_FROM", "noreply", "MAIL_FROM"},
		{"MAIL_FROM", "Panel <noreply@example.com>\nBcc: x@example.com", "MAIL_FROM"},
		{"MAIL_DIR", file, "MAIL_DIR"},
		{"MAIL_MAX_AGE", "a day", "MAIL_MAX_AGE"},
		{"MAIL_MAX_AGE", "30s", "MAIL_MAX_AGE"},
		{"MAIL_TEMPLATES_DIR", filepath.Join(broken, "missing"), "MAIL_TEMPLATES_DIR"},
		{"MAIL_TEMPLATES_DIR", broken, brokenFile},
		{"APP_URL", "http://[::1]:8000", "MAIL_FROM"},
	} {
		_, err := app.LoadConfig(env(map[string]string{tc.name: tc.value}))
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s=%q: err = %v, want it to say %s", tc.name, tc.value, err, tc.says)
		}
		if err != nil && strings.Contains(err.Error(), "Hunter2Pw") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
	// With MAIL_FROM set, an APP_URL host that makes no address is fine.
	if _, err := app.LoadConfig(env(map[string]string{"APP_URL": "http://[::1]:8000", "MAIL_FROM": "noreply@example.com"})); err != nil {
		t.Fatal(err)
	}
}
