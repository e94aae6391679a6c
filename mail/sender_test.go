package mail_test

import (
	"context"
	"crypto/tls"
	"errors"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/mail"
	"accountd/mail/mailtest"
	"accountd/model"
)

// hasLink are the templates whose point is their link.
var hasLink = map[string]bool{model.MailPasswordReset: true, model.MailEmailChangeConfirm: true, model.MailEmailVerify: true}

// TestSendEveryTemplate: a queued mail of each template reaches a real
// SMTP server with the right envelope, From, To, subject and Message-ID,
// a text and an HTML part, and its link intact in both; the row is then
// sent, its data gone.
func TestSendEveryTemplate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{})
		f := newFixture(t, d, smtpConfig(t, srv.URL()))
		queued := map[string]*model.Mail{}
		for _, name := range model.MailTemplates() {
			queued[name] = f.queue(t, name, "bob+"+name+"@example.com", data(hasLink[name]), f.clock.Now())
		}
		if n := f.flush(t); n != len(queued) {
			t.Fatalf("flush handled %d mails, want %d", n, len(queued))
		}
		msgs := srv.Messages()
		if len(msgs) != len(queued) {
			t.Fatalf("%d mails arrived, want %d", len(msgs), len(queued))
		}
		for _, got := range msgs {
			name := strings.TrimSuffix(strings.TrimPrefix(got.To[0], "bob+"), "@example.com")
			m := queued[name]
			if m == nil {
				t.Fatalf("unexpected recipient %v", got.To)
			}
			t.Run(name, func(t *testing.T) {
				checkDelivered(t, got, m)
				if r := f.row(t, m.ID); r.Sent == nil || r.Data != nil || r.Failed != nil || r.Attempts != 1 {
					t.Errorf("row after delivery: %+v", r)
				}
				if v := f.metric(t, "mail_sent_total", map[string]string{"template": name}); v != 1 {
					t.Errorf("mail_sent_total{template=%q} = %v, want 1", name, v)
				}
			})
		}
		if strings.Contains(f.logs.String(), "token=") {
			t.Fatalf("a link reached the log:\n%s", f.logs)
		}
	})
}

// checkDelivered checks one received mail against the queued one.
func checkDelivered(t *testing.T, got *mailtest.Message, m *model.Mail) {
	t.Helper()
	if got.From != from.Address || len(got.To) != 1 || got.To[0] != m.To {
		t.Errorf("envelope %s → %v, want %s → %s", got.From, got.To, from.Address, m.To)
	}
	if a, err := netmail.ParseAddress(got.Header.Get("From")); err != nil || a.Address != from.Address || a.Name != from.Name {
		t.Errorf("From: %q (%v)", got.Header.Get("From"), err)
	}
	if a, err := netmail.ParseAddress(got.Header.Get("To")); err != nil || a.Address != m.To || a.Name != "Bob Builder" {
		t.Errorf("To: %q (%v)", got.Header.Get("To"), err)
	}
	if want := "<" + m.ID.String() + "@panel.example.com>"; got.MessageID != want {
		t.Errorf("Message-ID %q, want %q", got.MessageID, want)
	}
	if got.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("Auto-Submitted: %q", got.Header.Get("Auto-Submitted"))
	}
	if ct := got.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type %q, want multipart/alternative", ct)
	}
	if !strings.HasPrefix(got.Subject, "Panel - ") || len(got.Subject) < len("Panel - ")+5 {
		t.Errorf("subject %q", got.Subject)
	}
	if m.Template == model.MailPasswordReset && got.Subject != "Panel - Password Reset" {
		t.Errorf("subject %q, want REST.md §7.3's", got.Subject)
	}
	if !strings.Contains(got.Text, "Hello Bob,") || !strings.Contains(got.HTML, "Hello Bob,") || !strings.Contains(got.HTML, "<html") {
		t.Errorf("bodies:\n%s\n---\n%s", got.Text, got.HTML)
	}
	if m.Data.Link != "" {
		if !strings.Contains(got.Text, m.Data.Link) || !strings.Contains(got.HTML, `href="`+m.Data.Link+`"`) {
			t.Errorf("the link %s is not intact in both parts:\n%s\n---\n%s", m.Data.Link, got.Text, got.HTML)
		}
	}
	if strings.HasPrefix(m.Template, "notice_") || m.Template == model.MailEmailChangeNotice {
		for _, want := range []string{"203.0.113.7", "Firefox/140.0", "Wednesday, 6 May 2026 at 10:15 UTC", "If this was not you"} {
			if !strings.Contains(got.Text, want) || !strings.Contains(got.HTML, want) {
				t.Errorf("the notice does not say %q:\n%s\n---\n%s", want, got.Text, got.HTML)
			}
		}
	}
	switch m.Template {
	case model.MailPasswordReset:
		for _, want := range []string{"expires in 20 minutes", "If you did not request a password reset, you can ignore this mail"} {
			if !strings.Contains(got.Text, want) {
				t.Errorf("the text does not say %q:\n%s", want, got.Text)
			}
		}
	case model.MailEmailChangeNotice:
		if !strings.Contains(got.Text, "r***@e***.org") || strings.Contains(got.Text+got.HTML, m.Data.NewEmail) {
			t.Errorf("the new address is not masked:\n%s\n---\n%s", got.Text, got.HTML)
		}
	case model.MailNoticeAPIKeyCreated:
		if !strings.Contains(got.Text, "deploy key") {
			t.Errorf("the key's name is missing:\n%s", got.Text)
		}
	}
}

// TestSMTPOutage: with the SMTP server down every attempt fails and is
// retried after a back-off; the server back (on the same port), every
// queued mail arrives exactly once.
func TestSMTPOutage(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{})
		f := newFixture(t, d, smtpConfig(t, srv.URL()))
		srv.Stop()
		const n = 12
		var ids []uuid.UUID
		for range n {
			ids = append(ids, f.queue(t, model.MailPasswordReset, "bob@example.com", data(true), f.clock.Now()).ID)
		}
		if got := f.flush(t); got != n {
			t.Fatalf("flush handled %d, want %d", got, n)
		}
		r := f.row(t, ids[0])
		if r.Sent != nil || r.Failed != nil || r.Data == nil || r.Attempts != 1 || r.LastError == nil ||
			!strings.Contains(*r.LastError, "refused") || !r.NextAttempt.Equal(f.clock.Now().Add(30*time.Second)) {
			t.Fatalf("row after a failed attempt: %+v (%s)", r, deref(r.LastError))
		}
		if v := f.metric(t, "mail_retries_total", map[string]string{"template": model.MailPasswordReset}); v != n {
			t.Fatalf("mail_retries_total = %v, want %d", v, n)
		}
		// Not due again before the back-off.
		if got := f.flush(t); got != 0 {
			t.Fatalf("flush before the back-off handled %d", got)
		}
		// Still down at the second attempt: the wait doubles.
		f.clock.Add(30 * time.Second)
		if got := f.flush(t); got != n {
			t.Fatalf("second attempt handled %d", got)
		}
		if r := f.row(t, ids[0]); r.Attempts != 2 || !r.NextAttempt.Equal(f.clock.Now().Add(time.Minute)) {
			t.Fatalf("row after the second failure: %+v", r)
		}
		f.sender.RefreshBacklog(context.Background())
		if v := f.metric(t, "mail_outbox_unsent", map[string]string{}); v != n {
			t.Fatalf("mail_outbox_unsent = %v, want %d", v, n)
		}
		if v := f.metric(t, "mail_outbox_oldest_unsent_seconds", map[string]string{}); v != 30 {
			t.Fatalf("mail_outbox_oldest_unsent_seconds = %v, want 30", v)
		}

		srv.Start()
		f.clock.Add(time.Minute)
		if got := f.flush(t); got != n {
			t.Fatalf("flush after the outage handled %d", got)
		}
		f.clock.Add(time.Hour)
		if got := f.flush(t); got != 0 {
			t.Fatalf("a later flush handled %d", got)
		}
		msgs := srv.Messages()
		seen := map[string]int{}
		for _, m := range msgs {
			seen[m.MessageID]++
		}
		if len(msgs) != n || len(seen) != n {
			t.Fatalf("%d mails arrived with %d distinct ids, want %d once each", len(msgs), len(seen), n)
		}
		for _, id := range ids {
			if seen["<"+id.String()+"@panel.example.com>"] != 1 {
				t.Fatalf("mail %s arrived %d times", id, seen["<"+id.String()+"@panel.example.com>"])
			}
			if r := f.row(t, id); r.Sent == nil || r.Data != nil {
				t.Fatalf("row %s after delivery: %+v", id, r)
			}
		}
		f.sender.RefreshBacklog(context.Background())
		if v := f.metric(t, "mail_outbox_unsent", map[string]string{}); v != 0 {
			t.Fatalf("mail_outbox_unsent = %v after delivery", v)
		}
	})
}

// TestTwoSendersOneDatabase: two servers' senders, each with its own
// pool, run their loops on one database at once: 50 mails arrive, each
// exactly once.
func TestTwoSendersOneDatabase(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			srv := mailtest.NewServer(t, mailtest.Options{})
			var senders []*fixture
			for range 2 {
				f := newFixture(t, dbtest.Open(t, e), smtpConfig(t, srv.URL()))
				f.sender.Now = func() time.Time { return time.Now().UTC() }
				f.sender.Poll, f.sender.Batch = time.Millisecond, 3
				senders = append(senders, f)
			}
			const n = 50
			for range n {
				senders[0].queue(t, model.MailNoticeNewDevice, "bob@example.com", data(false), time.Now().UTC())
			}
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for _, f := range senders {
				wg.Go(func() { f.sender.Run(ctx) })
			}
			srv.Wait(n)
			cancel()
			wg.Wait()

			msgs := srv.Messages()
			seen := map[string]bool{}
			for _, m := range msgs {
				if seen[m.MessageID] {
					t.Fatalf("mail %s arrived twice", m.MessageID)
				}
				seen[m.MessageID] = true
			}
			if len(msgs) != n {
				t.Fatalf("%d mails arrived, want %d", len(msgs), n)
			}
			if unsent, _, err := senders[0].store.MailBacklog(context.Background()); err != nil || unsent != 0 {
				t.Fatalf("backlog after delivery: %d, %v", unsent, err)
			}
			a, b := senders[0].metric(t, "mail_sent_total", map[string]string{"template": model.MailNoticeNewDevice}),
				senders[1].metric(t, "mail_sent_total", map[string]string{"template": model.MailNoticeNewDevice})
			if a+b != n {
				t.Fatalf("the senders counted %v + %v mails, want %d", a, b, n)
			}
			t.Logf("sender 1 sent %v, sender 2 sent %v", a, b)
		})
	}
}

// TestGiveUpAfterMaxAge: a mail not delivered within MAIL_MAX_AGE is given
// up with one ERROR line (no data in it), counted, its data cleared, and
// never tried again.
func TestGiveUpAfterMaxAge(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{})
		cfg := smtpConfig(t, srv.URL())
		cfg.MaxAge = 2 * time.Hour
		f := newFixture(t, d, cfg)
		srv.Stop()
		m := f.queue(t, model.MailPasswordReset, "bob@example.com", data(true), f.clock.Now())
		// Retried with a growing wait, the last retry at MAX_AGE.
		for f.clock.Now().Sub(m.Created) <= cfg.MaxAge {
			if got := f.flush(t); got != 1 {
				t.Fatalf("flush handled %d at %s: %+v %s", got, f.clock.Now().Sub(m.Created), f.row(t, m.ID), f.logs)
			}
			f.clock.Add(f.row(t, m.ID).NextAttempt.Sub(f.clock.Now()))
		}
		if got := f.flush(t); got != 1 {
			t.Fatalf("the last flush handled %d", got)
		}
		r := f.row(t, m.ID)
		if r.Failed == nil || r.Sent != nil || r.Data != nil || r.LastError == nil || !strings.HasPrefix(*r.LastError, "expired: ") {
			t.Fatalf("row after MAX_AGE: %+v (%s)", r, deref(r.LastError))
		}
		lines := f.logs.lines("level=ERROR", "mail given up")
		if len(lines) != 1 || !strings.Contains(lines[0], "template=password_reset") || !strings.Contains(lines[0], "reason=expired") ||
			!strings.Contains(lines[0], "mail_id="+m.ID.String()) || !strings.Contains(lines[0], "age=2h0m1s") {
			t.Fatalf("ERROR lines: %q", lines)
		}
		for _, secret := range []string{m.Data.Link, "token=", m.To} {
			if strings.Contains(f.logs.String(), secret) || strings.Contains(*r.LastError, secret) {
				t.Fatalf("%q reached the log or the row:\n%s", secret, f.logs)
			}
		}
		if v := f.metric(t, "mail_failed_total", map[string]string{"template": model.MailPasswordReset, "reason": mail.ReasonExpired}); v != 1 {
			t.Fatalf("mail_failed_total = %v, want 1", v)
		}

		// Never again, even with the server back.
		srv.Start()
		f.clock.Add(24 * time.Hour)
		if got := f.flush(t); got != 0 {
			t.Fatalf("a flush after the give-up handled %d", got)
		}
		if len(srv.Messages()) != 0 || len(f.logs.lines("mail given up")) != 1 {
			t.Fatal("the given-up mail was handled again")
		}
	})
}

// TestHeaderInjection: a recipient or a name that would add a header, and
// a recipient that is not one bare address, send nothing: each row is
// given up at once with an ERROR line, counted, never retried; the good
// mail of the same batch still leaves.
func TestHeaderInjection(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{})
		f := newFixture(t, d, smtpConfig(t, srv.URL()))
		now := f.clock.Now()
		bad := map[string]func(to *string, d *model.MailData){
			"CRLF in the recipient": func(to *string, _ *model.MailData) { *to = "bob@example.com\r\nBcc: eve@evil.example" },
			"LF in the recipient":   func(to *string, _ *model.MailData) { *to = "bob@example.com\nBcc: eve@evil.example" },
			"two recipients":        func(to *string, _ *model.MailData) { *to = "bob@example.com, eve@evil.example" },
			"a name and address":    func(to *string, _ *model.MailData) { *to = "Bob <bob@example.com>" },
			"not an address":        func(to *string, _ *model.MailData) { *to = "bob at example.com" },
			"CRLF in the first name": func(_ *string, d *model.MailData) {
				d.User.NameFirst = "Bob\r\nBcc: eve@evil.example"
			},
			"LF in the last name": func(_ *string, d *model.MailData) { d.User.NameLast = "B\nBcc: eve@evil.example" },
			"no data":             func(_ *string, d *model.MailData) { *d = model.MailData{} },
			"unknown template":    nil,
		}
		ids := map[uuid.UUID]string{}
		for what, change := range bad {
			to, dd, tmpl := "bob@example.com", data(true), model.MailPasswordReset
			if change == nil {
				tmpl = "no_such_template"
			} else {
				change(&to, &dd)
			}
			ids[f.queue(t, tmpl, to, dd, now).ID] = what
		}
		good := f.queue(t, model.MailPasswordReset, "bob@example.com", data(true), now)
		f.flush(t)

		msgs := srv.Messages()
		if len(msgs) != 1 || msgs[0].MessageID != "<"+good.ID.String()+"@panel.example.com>" || len(msgs[0].To) != 1 ||
			strings.Contains(string(msgs[0].Raw), "evil") {
			t.Fatalf("%d mails arrived, want only the good one", len(msgs))
		}
		for id, what := range ids {
			r := f.row(t, id)
			if r.Failed == nil || r.Sent != nil || r.Data != nil || r.LastError == nil || !strings.HasPrefix(*r.LastError, "invalid: ") {
				t.Errorf("%s: row %+v (%s)", what, r, deref(r.LastError))
			}
		}
		if lines := f.logs.lines("level=ERROR", "mail given up", "reason=invalid"); len(lines) != len(bad) {
			t.Fatalf("%d ERROR lines, want %d:\n%s", len(lines), len(bad), f.logs)
		}
		if strings.Contains(f.logs.String(), "evil") || strings.Contains(f.logs.String(), "token=") {
			t.Fatalf("the rows' data reached the log:\n%s", f.logs)
		}
		total := f.metric(t, "mail_failed_total", map[string]string{"template": model.MailPasswordReset, "reason": mail.ReasonInvalid}) +
			f.metric(t, "mail_failed_total", map[string]string{"template": "unknown", "reason": mail.ReasonInvalid})
		if total != float64(len(bad)) {
			t.Fatalf("mail_failed_total{reason=invalid} = %v, want %d", total, len(bad))
		}
		f.clock.Add(time.Hour)
		if got := f.flush(t); got != 0 {
			t.Fatalf("given-up rows handled again: %d", got)
		}
	})
}

// TestRecipientRejected: a permanent refusal of the recipient (5xx to
// RCPT TO) gives the mail up at once, the address kept out of the row's
// error; a temporary one (4xx) is retried.
func TestRecipientRejected(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{Rcpt: func(to string) error {
			if strings.HasPrefix(to, "gone") {
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: no such user"}
			}
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}})
		f := newFixture(t, d, smtpConfig(t, srv.URL()))
		gone := f.queue(t, model.MailPasswordReset, "gone@example.com", data(true), f.clock.Now())
		later := f.queue(t, model.MailPasswordReset, "busy@example.com", data(true), f.clock.Now())
		f.flush(t)
		r := f.row(t, gone.ID)
		if r.Failed == nil || r.LastError == nil || !strings.HasPrefix(*r.LastError, "rejected: ") ||
			strings.Contains(*r.LastError, "gone@example.com") || !strings.Contains(*r.LastError, "[recipient]") {
			t.Fatalf("rejected row: %+v (%s)", r, deref(r.LastError))
		}
		if r := f.row(t, later.ID); r.Failed != nil || r.Sent != nil || r.LastError == nil || !strings.Contains(*r.LastError, "451") {
			t.Fatalf("temporarily refused row: %+v (%s)", r, deref(r.LastError))
		}
		if v := f.metric(t, "mail_failed_total", map[string]string{"template": model.MailPasswordReset, "reason": mail.ReasonRejected}); v != 1 {
			t.Fatalf("mail_failed_total{reason=rejected} = %v", v)
		}
		if strings.Contains(f.logs.String(), "@example.com") {
			t.Fatalf("a recipient reached the log:\n%s", f.logs)
		}
	})
}

// flakyMarks is the real store whose next MarkMailSent fails, as a
// server that stops between the SMTP server's acceptance and the write.
type flakyMarks struct {
	*db.Store
	fail atomic.Bool
}

func (s *flakyMarks) MarkMailSent(ctx context.Context, id uuid.UUID, now time.Time) (bool, error) {
	if s.fail.Swap(false) {
		return false, errors.New("connection lost")
	}
	return s.Store.MarkMailSent(ctx, id, now)
}

// TestAtLeastOnce: a mail whose delivery could not be recorded is sent
// again once its lease has run out — once, with the same Message-ID.
func TestAtLeastOnce(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{})
		f := newFixture(t, d, smtpConfig(t, srv.URL()))
		flaky := &flakyMarks{Store: f.store}
		flaky.fail.Store(true)
		f.sender.Store = flaky
		m := f.queue(t, model.MailPasswordReset, "bob@example.com", data(true), f.clock.Now())
		f.flush(t)
		if len(srv.Messages()) != 1 {
			t.Fatal("not delivered")
		}
		if got := f.flush(t); got != 0 {
			t.Fatalf("claimed again within the lease: %d", got)
		}
		f.clock.Add(f.sender.Lease + time.Second)
		if got := f.flush(t); got != 1 {
			t.Fatalf("after the lease: %d handled", got)
		}
		f.clock.Add(time.Hour)
		f.flush(t)
		msgs := srv.Messages()
		if len(msgs) != 2 || msgs[0].MessageID != msgs[1].MessageID {
			t.Fatalf("%d deliveries, want the mail twice with one Message-ID", len(msgs))
		}
		if r := f.row(t, m.ID); r.Sent == nil || r.Data != nil || r.Attempts != 2 {
			t.Fatalf("row: %+v", r)
		}
	})
}

// TestSMTPTLS: STARTTLS against a server with a certificate the client
// is told to trust, with a log-in; implicit TLS (smtps); STARTTLS required
// but not offered refuses to send; a wrong password is retried, and no
// password reaches the row or the log.
func TestSMTPTLS(t *testing.T) {
	t.Parallel()
	serverTLS, roots := mailtest.SelfSigned(t)
	trust := &tls.Config{RootCAs: roots}
	const user, password = "mailer", "Corr3ct-Horse-Battery"
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		send := func(t *testing.T, opts mailtest.Options, url string) (*fixture, *mailtest.Server, *model.Mail) {
			srv := mailtest.NewServer(t, opts)
			if url == "" {
				url = srv.URL()
			}
			cfg := smtpConfig(t, strings.ReplaceAll(url, "ADDR", srv.Addr()))
			cfg.SMTP.TLSConfig = trust
			f := newFixture(t, d, cfg)
			m := f.queue(t, model.MailPasswordReset, "bob@example.com", data(true), f.clock.Now())
			f.flush(t)
			return f, srv, m
		}

		t.Run("STARTTLS", func(t *testing.T) {
			_, srv, m := send(t, mailtest.Options{TLS: serverTLS, Username: user, Password: password}, "")
			msgs := srv.Messages()
			if len(msgs) != 1 || !msgs[0].TLS || msgs[0].Authenticated != user {
				t.Fatalf("deliveries: %d (TLS and log-in wanted)", len(msgs))
			}
			checkDelivered(t, msgs[0], m)
		})
		t.Run("implicit TLS", func(t *testing.T) {
			_, srv, _ := send(t, mailtest.Options{TLS: serverTLS, ImplicitTLS: true}, "")
			if msgs := srv.Messages(); len(msgs) != 1 || !msgs[0].TLS {
				t.Fatalf("deliveries: %d (over TLS wanted)", len(msgs))
			}
		})
		t.Run("STARTTLS required, not offered", func(t *testing.T) {
			f, srv, m := send(t, mailtest.Options{}, "smtp://ADDR")
			if len(srv.Messages()) != 0 {
				t.Fatal("sent without TLS")
			}
			if r := f.row(t, m.ID); r.Sent != nil || r.Failed != nil || r.LastError == nil || !strings.Contains(*r.LastError, "STARTTLS") {
				t.Fatalf("row: %+v (%s)", r, deref(r.LastError))
			}
		})
		t.Run("wrong password", func(t *testing.T) {
			const wrong = "Wr0ng-Horse-Battery"
			f, srv, m := send(t, mailtest.Options{TLS: serverTLS, Username: user, Password: password}, "smtp://"+user+":"+wrong+"@ADDR")
			if len(srv.Messages()) != 0 {
				t.Fatal("sent with a wrong password")
			}
			r := f.row(t, m.ID)
			if r.Sent != nil || r.Failed != nil || r.LastError == nil || !strings.Contains(*r.LastError, "AUTH") {
				t.Fatalf("row: %+v (%s)", r, deref(r.LastError))
			}
			for _, p := range []string{wrong, password} {
				if strings.Contains(*r.LastError, p) || strings.Contains(f.logs.String(), p) {
					t.Fatalf("the password reached the row or the log:\n%s\n%s", *r.LastError, f.logs)
				}
			}
		})
	})
}

// TestFileTransport: without SMTP_URL each mail is an .eml file (0600, in
// a 0700 directory) that parses back with its link intact; the INFO line
// names the recipient, the subject and the file, never the link.
func TestFileTransport(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		dir := filepath.Join(t.TempDir(), "data", "mail")
		f := newFixture(t, d, mail.Config{Dir: dir})
		m := f.queue(t, model.MailPasswordReset, "bob@example.com", data(true), f.clock.Now())
		if got := f.flush(t); got != 1 {
			t.Fatalf("flush handled %d", got)
		}
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("directory: %v %v", fi.Mode(), err)
		}
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		if err != nil || len(files) != 1 || !strings.HasSuffix(files[0], "-password_reset-"+m.ID.String()+".eml") {
			t.Fatalf("files %v %v", files, err)
		}
		if fi, err := os.Stat(files[0]); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("file mode %v %v", fi.Mode(), err)
		}
		raw, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		// The link whole in the file, for a developer to copy out; every
		// line ends in CRLF.
		if !strings.Contains(string(raw), m.Data.Link) {
			t.Fatalf("the link is not whole in the file:\n%s", raw)
		}
		if strings.Count(string(raw), "\n") != strings.Count(string(raw), "\r\n") {
			t.Fatal("a line of the file ends in a bare LF")
		}
		got, err := mailtest.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		got.From, got.To = from.Address, []string{m.To}
		checkDelivered(t, got, m)

		lines := f.logs.lines("level=INFO", "mail written")
		if len(lines) != 1 || !strings.Contains(lines[0], "to=bob@example.com") || !strings.Contains(lines[0], `subject="Panel - Password Reset"`) ||
			!strings.Contains(lines[0], "file="+files[0]) {
			t.Fatalf("INFO lines: %q", lines)
		}
		token := m.Data.Link[strings.Index(m.Data.Link, "token=")+len("token="):]
		if strings.Contains(f.logs.String(), token) || strings.Contains(f.logs.String(), "reset-password") {
			t.Fatalf("the link reached the log:\n%s", f.logs)
		}
		if r := f.row(t, m.ID); r.Sent == nil || r.Data != nil {
			t.Fatalf("row: %+v", r)
		}
	})
}

// TestRunLoop: the loop delivers what is queued while it runs and stops
// with its context.
func TestRunLoop(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		srv := mailtest.NewServer(t, mailtest.Options{})
		f := newFixture(t, d, smtpConfig(t, srv.URL()))
		f.sender.Now, f.sender.Poll = func() time.Time { return time.Now().UTC() }, time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); f.sender.Run(ctx) }()
		for range 3 {
			f.queue(t, model.MailNoticePasswordChanged, "bob@example.com", data(false), time.Now().UTC())
		}
		srv.Wait(3)
		cancel()
		<-done
		if n := len(srv.Messages()); n != 3 {
			t.Fatalf("%d mails, want 3", n)
		}
	})
}

// TestPrune: sent and given-up mail goes a week after it was queued;
// unsent mail stays.
func TestPrune(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d, mail.Config{Dir: t.TempDir()})
		old := f.clock.Now().Add(-mail.Retention - time.Hour)
		sent := f.queue(t, model.MailNoticeNewDevice, "bob@example.com", data(false), old)
		failed := f.queue(t, model.MailNoticeNewDevice, "bob@example.com", data(false), old)
		unsent := f.queue(t, model.MailNoticeNewDevice, "bob@example.com", data(false), old)
		recent := f.queue(t, model.MailNoticeNewDevice, "bob@example.com", data(false), f.clock.Now())
		ctx := context.Background()
		for _, id := range []uuid.UUID{sent.ID, recent.ID} {
			if _, err := f.store.MarkMailSent(ctx, id, f.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.store.FailMail(ctx, failed.ID, f.clock.Now(), "x"); err != nil {
			t.Fatal(err)
		}
		if n, err := f.sender.Prune(ctx); err != nil || n != 2 {
			t.Fatalf("Prune = %d, %v, want 2", n, err)
		}
		var left []uuid.UUID
		if err := d.NewSelect().Table("mail_outbox").Column("id").Order("created").Scan(ctx, &left); err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || left[0] != unsent.ID || left[1] != recent.ID {
			t.Fatalf("left %v", left)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
