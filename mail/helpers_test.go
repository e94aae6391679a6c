package mail_test

import (
	"bytes"
	"context"
	"log/slog"
	netmail "net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	dto "github.com/prometheus/client_model/go"

	"accountd/db"
	"accountd/mail"
	"accountd/metrics"
	"accountd/model"
	"accountd/secret"
)

// clock is the senders' clock in tests: it moves only when told.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().UTC().Truncate(time.Microsecond)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// logBuffer collects a logger's lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the lines that hold every one of parts.
func (b *logBuffer) lines(parts ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		all := l != ""
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			out = append(out, l)
		}
	}
	return out
}

// fixture is a sender on a real database, with its logs and metrics.
type fixture struct {
	d       *db.DB
	store   *db.Store
	sender  *mail.Sender
	clock   *clock
	logs    *logBuffer
	metrics *metrics.Metrics
}

// from is the sender address of every test.
var from = &netmail.Address{Name: "Panel", Address: "noreply@panel.example.com"}

// newFixture builds a sender of cfg on d whose clock is a test clock and
// whose retries have no jitter; cfg.From defaults to from.
func newFixture(t *testing.T, d *db.DB, cfg mail.Config) *fixture {
	t.Helper()
	if cfg.From == nil {
		cfg.From = from
	}
	f := &fixture{d: d, store: db.NewStore(d), clock: newClock(), logs: &logBuffer{}, metrics: metrics.New(nil, "")}
	logger := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := mail.NewSender(cfg, f.store, logger)
	if err != nil {
		t.Fatal(err)
	}
	s.Now, s.Jitter = f.clock.Now, nil
	s.OnSent, s.OnFailed, s.OnRetry, s.OnBacklog = f.metrics.MailSent, f.metrics.MailFailed, f.metrics.MailRetried, f.metrics.MailBacklog
	f.sender = s
	return f
}

// smtpConfig is the configuration of a plain connection to addr's port
// on 127.0.0.1 (?starttls=off).
func smtpConfig(t *testing.T, url string) mail.Config {
	t.Helper()
	s, err := mail.ParseSMTPURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return mail.Config{SMTP: s}
}

// sampleUser is the account the test mails are about.
var sampleUser = model.MailUser{UUID: uuid.NewString(), Username: "bob", Email: "bob@example.com", NameFirst: "Bob",
	NameLast: "Builder", Language: "en"}

// data returns a template's data as the service builds it, with a link
// holding a fresh 96-character token.
func data(withLink bool) model.MailData {
	d := model.MailData{User: sampleUser, App: model.MailApp{Name: "Panel", URL: "https://panel.example.com"},
		ExpiresIn: "20 minutes", NewEmail: "robert.new@example.org", Detail: "deploy key",
		Event: &model.MailEvent{Time: time.Date(2026, 5, 6, 10, 15, 0, 0, time.UTC), IP: "203.0.113.7", UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"}}
	if withLink {
		d.Link = "https://panel.example.com/auth/reset-password?token=" + secret.RandomString(96)
	}
	return d
}

// queue writes a mail to the outbox as the service does, queued at
// created.
func (f *fixture) queue(t *testing.T, template, to string, d model.MailData, created time.Time) *model.Mail {
	t.Helper()
	m := &model.Mail{ID: uuid.New(), Template: template, To: to, Data: d, Created: created}
	if err := f.store.EnqueueMail(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

// flush runs the sender over everything due now and returns how many
// mails it handled.
func (f *fixture) flush(t *testing.T) int {
	t.Helper()
	n, err := f.sender.Flush(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// row is an outbox row as the tests look at it.
type row struct {
	Data        *string    `bun:"data"`
	Attempts    int        `bun:"attempts"`
	NextAttempt time.Time  `bun:"next_attempt"`
	Sent        *time.Time `bun:"sent"`
	Failed      *time.Time `bun:"failed"`
	LastError   *string    `bun:"last_error"`
}

func (f *fixture) row(t *testing.T, id uuid.UUID) row {
	t.Helper()
	var r row
	err := f.d.NewSelect().Table("mail_outbox").Column("data", "attempts", "next_attempt", "sent", "failed", "last_error").
		Where("id = ?", id).Scan(context.Background(), &r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// metric returns the value of the series name with labels.
func (f *fixture) metric(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	fams, err := f.metrics.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, fam := range fams {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			if matches(m, labels) {
				switch {
				case m.GetCounter() != nil:
					return m.GetCounter().GetValue()
				case m.GetGauge() != nil:
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	return 0
}

func matches(m *dto.Metric, labels map[string]string) bool {
	if len(m.GetLabel()) != len(labels) {
		return false
	}
	for _, l := range m.GetLabel() {
		if labels[l.GetName()] != l.GetValue() {
			return false
		}
	}
	return true
}
