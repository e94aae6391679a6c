package apptest

// Mail helpers of the end-to-end tests of the flows that mail (password
// reset, address confirmation, notices): the outbox as the sender would
// read it, and the tokens its links carry, taken from there and used
// against the server as a person who got the mail would.

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"accountd/db/dbtest"
	"accountd/model"
)

// Mails returns the whole outbox, oldest first, once the work the service
// started after its answers (a reset's mail) is done.
func Mails(t testing.TB, ts *Server) []*model.Mail {
	t.Helper()
	ts.App.Service.Wait()
	ms, err := dbtest.Mails(context.Background(), ts.App.DB)
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

// MailsOf returns the outbox's mails of template to the address to ("" for
// any), oldest first.
func MailsOf(t testing.TB, ts *Server, template, to string) []*model.Mail {
	t.Helper()
	var out []*model.Mail
	for _, m := range Mails(t, ts) {
		if m.Template == template && (to == "" || m.To == to) {
			out = append(out, m)
		}
	}
	return out
}

// LastMail returns the newest mail of template to the address to ("" for
// any), failing the test when there is none.
func LastMail(t testing.TB, ts *Server, template, to string) *model.Mail {
	t.Helper()
	ms := MailsOf(t, ts, template, to)
	if len(ms) == 0 {
		t.Fatalf("no %s mail to %q in the outbox", template, to)
	}
	return ms[len(ms)-1]
}

// MailToken checks that m's link is the server's APP_URL + path with a
// token of 96 letters and digits, and returns the token.
func MailToken(t testing.TB, ts *Server, m *model.Mail, path string) string {
	t.Helper()
	want := strings.TrimRight(ts.App.Config.AppURL.String(), "/") + path + "?token="
	tok, ok := strings.CutPrefix(m.Data.Link, want)
	if !ok {
		t.Fatalf("%s link %q, want %s<token>", m.Template, m.Data.Link, want)
	}
	if u, err := url.Parse(m.Data.Link); err != nil || len(u.Query()) != 1 || u.Query().Get("token") != tok {
		t.Fatalf("%s link %q: the token is not its only parameter", m.Template, m.Data.Link)
	}
	if len(tok) != 96 || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		t.Fatalf("%s token %q: want 96 letters and digits", m.Template, tok)
	}
	return tok
}

// ResetToken asks for a password reset of email over REST and returns the
// token of the link mailed for it.
func ResetToken(t testing.TB, c *Client, email string) string {
	t.Helper()
	before := len(MailsOf(t, c.Server, model.MailPasswordReset, ""))
	WantEmpty(t, c.Do("POST", "/api/auth/password/forgot", map[string]any{"email": email}))
	ms := MailsOf(t, c.Server, model.MailPasswordReset, "")
	if len(ms) != before+1 {
		t.Fatalf("%d reset mails after asking for %s, want %d", len(ms), email, before+1)
	}
	return MailToken(t, c.Server, ms[len(ms)-1], "/auth/reset-password")
}
