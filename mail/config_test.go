package mail_test

import (
	"net/url"
	"strings"
	"testing"

	"accountd/mail"
)

func TestParseSMTPURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]mail.SMTP{
		"smtp://relay.example.com":                        {Host: "relay.example.com", Port: 587, StartTLS: true},
		"smtp://user:p%40ss@relay.example.com:2525":       {Host: "relay.example.com", Port: 2525, Username: "user", Password: "p@ss", StartTLS: true},
		"smtp://127.0.0.1:25?starttls=off":                {Host: "127.0.0.1", Port: 25},
		"smtp://localhost?starttls=on":                    {Host: "localhost", Port: 587, StartTLS: true},
		"smtps://apikey:secret@smtp.example.com":          {Host: "smtp.example.com", Port: 465, Username: "apikey", Password: "secret", ImplicitTLS: true},
		"smtps://smtp.example.com:1465/":                  {Host: "smtp.example.com", Port: 1465, ImplicitTLS: true},
		"smtp://only-user@[2001:db8::1]:25?starttls=off":  {Host: "2001:db8::1", Port: 25, Username: "only-user"},
		"smtp://user:pa:ss@relay.example.com?starttls=on": {Host: "relay.example.com", Port: 587, Username: "user", Password: "pa:ss", StartTLS: true},
	} {
		got, err := mail.ParseSMTPURL(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if *got != want {
			t.Errorf("%s = %+v, want %+v", raw, *got, want)
		}
	}
	s, _ := mail.ParseSMTPURL("smtp://user:hunter2@relay.example.com:2525?starttls=off")
	if got := s.String(); got != "smtp://user@relay.example.com:2525?starttls=off" {
		t.Errorf("String() = %q, want the URL without the password", got)
	}
}

// A bad SMTP_URL is refused with a message that never holds the password,
// however the URL is broken.
func TestParseSMTPURLErrors(t *testing.T) {
	t.Parallel()
	const pw = "S3cretPw"
	for _, raw := range []string{
		"http://user:" + pw + "@relay.example.com",
		"smtp://user:" + pw + "@",
		"smtp://user:" + pw + "@relay.example.com:99999",
		"smtp://user:" + pw + "@relay.example.com:x",
		"smtp://user:" + pw + "/x@relay.example.com",
		"smtp://user:" + pw,
		"smtp://user:1234567@",
		"smtp://user:" + pw + "@relay.example.com/path",
		"smtp://user:" + pw + "@relay.example.com?starttls=maybe",
		"smtps://user:" + pw + "@relay.example.com?starttls=off",
		"smtp://relay.example.com?" + pw + "=1",
		"smtp://relay.example.com?password=" + pw,
		"smtp://:" + pw + "@relay.example.com",
		"smtp://user:" + pw + "@relay example.com",
		"smtp://user:%zz" + pw + "@relay.example.com",
		"relay.example.com:25",
		"user:" + pw + "@relay.example.com",
	} {
		_, err := mail.ParseSMTPURL(raw)
		if err == nil {
			t.Errorf("%s: accepted", raw)
			continue
		}
		if strings.Contains(err.Error(), pw) || strings.Contains(err.Error(), "1234567") {
			t.Errorf("%s: the error shows the password: %v", raw, err)
		}
	}
}

func TestParseFrom(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"noreply@panel.example.com":                `<noreply@panel.example.com>`,
		"Panel <noreply@panel.example.com>":        `"Panel" <noreply@panel.example.com>`,
		`"Panel, Inc." <noreply@example.com>`:      `"Panel, Inc." <noreply@example.com>`,
		"=?utf-8?q?Caf=C3=A9?= <cafe@example.com>": `=?utf-8?q?Caf=C3=A9?= <cafe@example.com>`,
	} {
		a, err := mail.ParseFrom(in)
		if err != nil || a.String() != want {
			t.Errorf("ParseFrom(%q) = %v, %v, want %s", in, a, err, want)
		}
	}
	for _, bad := range []string{"", "panel", "a@b, c@d", "Panel <noreply@example.com>\r\nBcc: x@example.com",
		"Pa\nnel <noreply@example.com>", "<>", "noreply@"} {
		if _, err := mail.ParseFrom(bad); err == nil {
			t.Errorf("ParseFrom(%q) accepted", bad)
		}
	}

	u, _ := url.Parse("https://panel.example.com:8443/base")
	a, err := mail.DefaultFrom("Calagopus", u)
	if err != nil || a.String() != `"Calagopus" <noreply@panel.example.com>` {
		t.Errorf("DefaultFrom = %v, %v", a, err)
	}
	u, _ = url.Parse("http://[::1]:8000")
	if _, err := mail.DefaultFrom("Calagopus", u); err == nil || !strings.Contains(err.Error(), "MAIL_FROM") {
		t.Errorf("DefaultFrom of an IPv6 host = %v, want an error that says to set MAIL_FROM", err)
	}
	u, _ = url.Parse("http://localhost:8000")
	if _, err := mail.DefaultFrom("Cala\ngopus", u); err == nil {
		t.Error("DefaultFrom accepted a line break in APP_NAME")
	}
}
