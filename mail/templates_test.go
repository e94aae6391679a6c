package mail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"accountd/mail"
	"accountd/model"
)

// TestEmbeddedTemplates: every mail renders a subject, a text and an HTML
// body; the password reset says what REST.md §7.3 asks; values are
// escaped in HTML and the notices say what happened, when, from where
// and what to do.
func TestEmbeddedTemplates(t *testing.T) {
	t.Parallel()
	tpl, err := mail.LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	subjects := map[string]bool{}
	for _, name := range model.MailTemplates() {
		d := mail.SampleData()
		d.User.NameFirst = "<b>Sam</b>"
		r, err := tpl.Render(name, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if subjects[r.Subject] || !strings.HasPrefix(r.Subject, "Panel - ") {
			t.Errorf("%s: subject %q (each mail's own, after the application's name)", name, r.Subject)
		}
		subjects[r.Subject] = true
		if strings.Contains(r.HTML, "<b>Sam</b>") || !strings.Contains(r.HTML, "&lt;b&gt;Sam&lt;/b&gt;") {
			t.Errorf("%s: the HTML body does not escape the name", name)
		}
		if !strings.Contains(r.Text, "Hello <b>Sam</b>,") || !strings.Contains(r.Text, "https://panel.example.com") {
			t.Errorf("%s: text body:\n%s", name, r.Text)
		}
		if strings.HasPrefix(name, "notice_") || name == model.MailEmailChangeNotice {
			for _, want := range []string{"203.0.113.7", "Mozilla/5.0 (sample)", "6 May 2026 at 10:15 UTC", "If this was not you"} {
				if !strings.Contains(r.Text, want) || !strings.Contains(r.HTML, want) {
					t.Errorf("%s: does not say %q", name, want)
				}
			}
		}
	}
	r, err := tpl.Render(model.MailPasswordReset, mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Panel - Password Reset" || !strings.Contains(r.Text, "expires in 20 minutes") ||
		!strings.Contains(r.Text, "If you did not request a password reset, you can ignore this mail") {
		t.Fatalf("password reset:\n%s\n%s", r.Subject, r.Text)
	}
	r, err = tpl.Render(model.MailEmailChangeNotice, mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Text, "n***@e***.org") || strings.Contains(r.Text+r.HTML, "new.address@example.org") {
		t.Fatalf("the notice shows the new address unmasked:\n%s", r.Text)
	}
	// The notice says whether the change waits for a confirmation.
	for _, pending := range []bool{true, false} {
		d := mail.SampleData()
		d.Pending = pending
		r, err := tpl.Render(model.MailEmailChangeNotice, d)
		if err != nil {
			t.Fatal(err)
		}
		waits := strings.Contains(r.Text, "was requested") && strings.Contains(r.Text, "Once the new address is confirmed") &&
			strings.Contains(r.HTML, "was requested")
		made := strings.Contains(r.Text, "was changed to") && strings.Contains(r.Text, "From now on") &&
			strings.Contains(r.HTML, "was changed to")
		if waits != pending || made == pending {
			t.Errorf("notice with Pending=%v:\n%s", pending, r.Text)
		}
	}
	if _, err := tpl.Render("no_such_mail", mail.SampleData()); err == nil {
		t.Fatal("an unknown template rendered")
	}
}

// TestTemplateOverride: a file in MAIL_TEMPLATES_DIR replaces the embedded
// one of its name; a broken one, a misnamed one, one without its subject
// line or its link, or one whose subject shows the link, stops the start
// naming the file.
func TestTemplateOverride(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(model.MailPasswordReset+".txt", "Subject: Reset at {{.App.Name}}\n\nGo to {{.Link}} within {{.ExpiresIn}}.\n")
	write(model.MailNoticeNewDevice+".html", `{{define "content"}}<p>New device: {{.Detail}}</p>{{end}}`)
	write("README.md", "not a template, ignored")
	tpl, err := mail.LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tpl.Render(model.MailPasswordReset, mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if r.Subject != "Reset at Panel" || !strings.HasPrefix(r.Text, "Go to https://panel.example.com/auth/sample?token=") {
		t.Fatalf("the override is not used: %q\n%s", r.Subject, r.Text)
	}
	if !strings.Contains(r.HTML, "Reset your password") {
		t.Fatal("the embedded HTML of the same mail is not used")
	}
	r, err = tpl.Render(model.MailNoticeNewDevice, mail.SampleData())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.HTML, "<p>New device: sample detail</p>") || !strings.Contains(r.HTML, "<!DOCTYPE html>") {
		t.Fatalf("the HTML override is not used in the layout:\n%s", r.HTML)
	}

	for _, bad := range []struct{ file, src, says string }{
		{model.MailPasswordReset + ".txt", "Subject: x\n\n{{.Link}", "unexpected"},
		{model.MailPasswordReset + ".txt", "Subject: x\n\n{{.Nope}} {{.Link}}", "Nope"},
		{model.MailPasswordReset + ".txt", "Reset: {{.Link}}\n", "Subject"},
		{model.MailPasswordReset + ".txt", "Subject: x\n\nno link here\n", "link"},
		{model.MailPasswordReset + ".txt", "Subject: reset {{.Link}}\n\n{{.Link}}\n", "must not show the link"},
		{model.MailEmailVerify + ".html", `{{define "content"}}<a href="{{.Lnk}}">x</a>{{end}}`, "Lnk"},
		{"layout.html", `<html>{{template "content" .}}{{.App.Nme}}</html>`, "Nme"},
		{"pasword_reset.txt", "Subject: x\n\n{{.Link}}\n", "not a template's name"},
	} {
		t.Run(bad.file+" "+bad.says, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, bad.file)
			if err := os.WriteFile(p, []byte(bad.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := mail.LoadTemplates(dir)
			if err == nil || !strings.Contains(err.Error(), "MAIL_TEMPLATES_DIR: "+p) || !strings.Contains(err.Error(), bad.says) {
				t.Fatalf("LoadTemplates = %v, want it to name %s and say %q", err, p, bad.says)
			}
		})
	}
	if _, err := mail.LoadTemplates(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "MAIL_TEMPLATES_DIR=") {
		t.Fatalf("a missing directory: %v", err)
	}
}
