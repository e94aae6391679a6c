package account_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"accountd/account"
	"accountd/db/dbtest"
	"accountd/model"
)

// Helpers of the tests of the flows that mail (reset_test.go,
// emailchange_test.go, notices_test.go): the outbox as the sender would
// read it, and the tokens its links carry.

// testAppURL is the APP_URL of the mail tests, with a trailing slash the
// links must not double.
const testAppURL = "https://panel.example.com/"

// mailConfig is the default configuration with an APP_URL.
func mailConfig() account.Config {
	cfg := defaultConfig()
	cfg.AppURL = testAppURL
	return cfg
}

// mailClient is the client the mail tests' unauthenticated calls come
// from.
var mailClient = model.Client{IP: clientIP, UserAgent: clientUA}

// mails returns the whole outbox, oldest first, once the work the service
// started after its answers is done.
func (e *env) mails() []*model.Mail {
	e.t.Helper()
	e.svc.Wait()
	ms, err := dbtest.Mails(e.ctx, e.d)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, m := range ms {
		if tok := linkToken(m.Data.Link); tok != "" {
			e.secret(tok)
		}
	}
	return ms
}

// mailsOf returns the outbox's mails of template, oldest first.
func (e *env) mailsOf(template string) []*model.Mail {
	e.t.Helper()
	var out []*model.Mail
	for _, m := range e.mails() {
		if m.Template == template {
			out = append(out, m)
		}
	}
	return out
}

// lastMail returns the newest mail of template; it fails the test when
// there is none.
func (e *env) lastMail(template string) *model.Mail {
	e.t.Helper()
	ms := e.mailsOf(template)
	if len(ms) == 0 {
		e.t.Fatalf("no %s mail in the outbox", template)
	}
	return ms[len(ms)-1]
}

// wantMails checks that the outbox holds exactly n mails of template.
func (e *env) wantMails(template string, n int) []*model.Mail {
	e.t.Helper()
	ms := e.mailsOf(template)
	if len(ms) != n {
		e.t.Fatalf("%d %s mails in the outbox, want %d: %+v", len(ms), template, n, ms)
	}
	return ms
}

// linkToken is the token a mail's link carries ("" if none).
func linkToken(link string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.Query().Get("token")
}

// mailToken checks that m's link is APP_URL + path with a token of 96
// alphanumerics and returns the token.
func mailToken(t *testing.T, m *model.Mail, path string) string {
	t.Helper()
	want := strings.TrimSuffix(testAppURL, "/") + path + "?token="
	if !strings.HasPrefix(m.Data.Link, want) {
		t.Fatalf("%s link %q, want it to start with %q", m.Template, m.Data.Link, want)
	}
	tok := linkToken(m.Data.Link)
	if len(tok) != 96 || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		t.Fatalf("%s token %q: want 96 letters and digits", m.Template, tok)
	}
	if m.Data.Link != want+tok {
		t.Fatalf("%s link %q carries more than the token", m.Template, m.Data.Link)
	}
	return tok
}

// wantMailUser checks that a mail is about u and shows u's public fields
// only.
func wantMailUser(t *testing.T, m *model.Mail, u *model.User) {
	t.Helper()
	if m.UserID == nil || *m.UserID != u.ID {
		t.Errorf("%s mail is about %v, want %s", m.Template, m.UserID, u.ID)
	}
	if m.Data.User != model.MailUserOf(u) {
		t.Errorf("%s mail user %+v, want %+v", m.Template, m.Data.User, model.MailUserOf(u))
	}
	if m.Data.App != (model.MailApp{Name: "Calagopus", URL: testAppURL}) {
		t.Errorf("%s mail app %+v", m.Template, m.Data.App)
	}
}

// wantNoticeEvent checks a notice's circumstances: the test client's
// address and user agent (none for an operator's change), at the clock's
// time.
func wantNoticeEvent(t *testing.T, e *env, m *model.Mail, byOperator bool) {
	t.Helper()
	ev := m.Data.Event
	if ev == nil {
		t.Fatalf("%s mail has no event", m.Template)
	}
	wantIP, wantUA := clientIP.String(), clientUA
	if byOperator {
		wantIP, wantUA = "", ""
	}
	if ev.IP != wantIP || ev.UserAgent != wantUA || !ev.Time.Equal(e.clock.Now().UTC().Truncate(time.Microsecond)) {
		t.Errorf("%s event %+v, want ip %q ua %q at %s", m.Template, ev, wantIP, wantUA, e.clock.Now())
	}
}
