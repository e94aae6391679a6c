package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	netmail "net/mail"
	"strings"
	"time"

	"accountd/model"
)

// The sender's defaults.
const (
	// DefaultPoll is how often an idle sender looks for due mail.
	DefaultPoll = time.Second
	// DefaultBatch is how many mails one claim takes.
	DefaultBatch = 10
	// DefaultLease is how long a claim holds its mails. A mail is begun
	// only while the lease leaves room for a whole SMTP conversation (two
	// smtpTimeouts; see RunOnce), so another sender never takes over a row
	// this one is still sending. It is also how long the mails of a sender
	// that died wait.
	DefaultLease = 5 * time.Minute
	// backlogEvery is how often the backlog gauges are refreshed.
	backlogEvery = 15 * time.Second
	// firstRetry and maxRetry bound the back-off between attempts.
	firstRetry = 30 * time.Second
	maxRetry   = time.Hour
	// maxErrorText bounds the error text kept on a row.
	maxErrorText = 500
	// markTimeout bounds the write that records an attempt's outcome,
	// which runs even while the sender is being stopped.
	markTimeout = 10 * time.Second
	// pruneBatch is how many finished rows one clean-up statement deletes.
	pruneBatch = 1000
)

// Sender delivers the outbox. Run loops until its context ends; RunOnce
// and Flush do one batch or everything due now (tests, and operators'
// tools). Its exported fields may be changed before Run starts.
type Sender struct {
	Store     Store
	Transport Transport
	Templates *Templates
	From      *netmail.Address
	// MaxAge is how long a mail is retried before it is given up.
	MaxAge time.Duration
	Logger *slog.Logger

	// Now is the clock; Poll, Batch and Lease tune the loop.
	Now   func() time.Time
	Poll  time.Duration
	Batch int
	Lease time.Duration
	// Jitter returns a random duration in [0, d): it spreads the retries
	// of mails that failed together.
	Jitter func(d time.Duration) time.Duration

	// Hooks for the metrics, each may be nil: a mail sent; given up (for
	// one of the Reason* values); retried later; and the backlog (unsent
	// mails and the age of the oldest).
	OnSent    func(template string)
	OnFailed  func(template, reason string)
	OnRetry   func(template string)
	OnBacklog func(unsent int, oldest time.Duration)
}

// NewSender returns a sender of cfg's mail from store: over SMTP when
// cfg.SMTP is set, else into files under cfg.Dir.
func NewSender(cfg Config, store Store, logger *slog.Logger) (*Sender, error) {
	if logger == nil {
		logger = slog.Default()
	}
	t := cfg.Templates
	if t == nil {
		var err error
		if t, err = LoadTemplates(cfg.TemplatesDir); err != nil {
			return nil, err
		}
	}
	if cfg.From == nil {
		return nil, errors.New("mail: no sender address")
	}
	var transport Transport
	switch {
	case cfg.SMTP != nil:
		transport = NewSMTPTransport(cfg.SMTP)
	case cfg.Dir != "":
		transport = &FileTransport{Dir: cfg.Dir, Logger: logger}
	default:
		transport = &FileTransport{Dir: DefaultDir, Logger: logger}
	}
	maxAge := cfg.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	return &Sender{Store: store, Transport: transport, Templates: t, From: cfg.From, MaxAge: maxAge, Logger: logger,
		Now: func() time.Time { return time.Now().UTC() }, Poll: DefaultPoll, Batch: DefaultBatch, Lease: DefaultLease,
		Jitter: func(d time.Duration) time.Duration { return rand.N(d) }}, nil
}

// Run delivers due mail every Poll until ctx ends, at once again after a
// full batch, and refreshes the backlog gauges. A storage error is logged
// once, and its end once, however long it lasts.
func (s *Sender) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var failing bool
	var backlogAt time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		n, err := s.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			s.Logger.ErrorContext(ctx, "mail sender: cannot read the outbox; retrying every poll", "error", err)
		case err == nil && failing:
			failing = false
			s.Logger.InfoContext(ctx, "mail sender: reading the outbox again")
		}
		if now := s.Now(); err == nil && now.Sub(backlogAt) >= backlogEvery {
			backlogAt = now
			s.RefreshBacklog(ctx)
		}
		if err == nil && n >= s.Batch {
			timer.Reset(0)
		} else {
			timer.Reset(s.Poll)
		}
	}
}

// Flush delivers every mail due now, batch after batch, and returns how
// many it handled (sent, retried later or given up).
func (s *Sender) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := s.RunOnce(ctx)
		total += n
		if err != nil || n < s.Batch {
			return total, err
		}
	}
}

// RunOnce claims one batch of due mail and handles each: given up when
// older than MaxAge or unsendable, else delivered and marked sent, or on
// a transport error retried after a back-off. It returns how many mails it
// claimed. Mails of a batch whose lease is running out, or left when ctx
// ends, are released for the next claim rather than sent late.
func (s *Sender) RunOnce(ctx context.Context) (int, error) {
	now := s.Now()
	mails, err := s.Store.ClaimMail(ctx, now, s.Lease, s.Batch)
	if err != nil {
		return 0, err
	}
	// A mail is begun only while the lease leaves room for a whole SMTP
	// conversation, so it ends before another sender may claim the row
	// (with a short lease, in its first half).
	until := now.Add(s.Lease - min(2*smtpTimeout, s.Lease/2))
	for i, m := range mails {
		if ctx.Err() != nil || s.Now().After(until) {
			s.release(ctx, mails[i:])
			break
		}
		s.handle(ctx, m)
	}
	return len(mails), nil
}

// handle delivers one claimed mail and records the outcome.
func (s *Sender) handle(ctx context.Context, m *model.Mail) {
	now := s.Now()
	if age := now.Sub(m.Created); age > s.MaxAge {
		last := m.LastError
		if last == "" {
			last = "none"
		}
		s.giveUp(ctx, m, ReasonExpired, fmt.Sprintf("not delivered within MAIL_MAX_AGE (%s); last error: %s", s.MaxAge, last))
		return
	}
	_, eightBit := s.Transport.(interface{ eightBit() })
	msg, err := compose(s.Templates, s.From, m, now, eightBit)
	if err != nil {
		s.giveUp(ctx, m, ReasonInvalid, err.Error())
		return
	}
	err = s.Transport.Deliver(ctx, msg)
	if err == nil {
		s.mark(ctx, m, "sent", func(ctx context.Context) (bool, error) { return s.Store.MarkMailSent(ctx, m.ID, s.Now()) })
		if s.OnSent != nil {
			s.OnSent(safeName(m.Template))
		}
		s.Logger.DebugContext(ctx, "mail sent", "template", safeName(m.Template), "mail_id", m.ID, "attempt", m.Attempts)
		return
	}
	text := scrub(err.Error(), m)
	if permanent(err) {
		s.giveUp(ctx, m, ReasonRejected, text)
		return
	}
	next := now.Add(s.backoff(m.Attempts))
	// The last retry is at MAX_AGE, so the give-up is on time too.
	if deadline := m.Created.Add(s.MaxAge).Add(time.Second); next.After(deadline) {
		next = deadline
	}
	s.mark(ctx, m, "retry", func(ctx context.Context) (bool, error) { return s.Store.RetryMail(ctx, m.ID, next, text) })
	if s.OnRetry != nil {
		s.OnRetry(safeName(m.Template))
	}
	s.Logger.WarnContext(ctx, "mail not delivered; will retry", "template", safeName(m.Template), "mail_id", m.ID,
		"attempt", m.Attempts, "next_attempt", next, "error", text)
}

// giveUp marks m failed for good, with one ERROR line (never the mail's
// data) and the metric.
func (s *Sender) giveUp(ctx context.Context, m *model.Mail, reason, text string) {
	if !s.mark(ctx, m, "give up", func(ctx context.Context) (bool, error) {
		return s.Store.FailMail(ctx, m.ID, s.Now(), reason+": "+text)
	}) {
		return
	}
	if s.OnFailed != nil {
		s.OnFailed(safeName(m.Template), reason)
	}
	s.Logger.ErrorContext(ctx, "mail given up", "template", safeName(m.Template), "mail_id", m.ID, "reason", reason,
		"age", s.Now().Sub(m.Created).Round(time.Second), "attempts", m.Attempts, "error", text)
}

// mark records an attempt's outcome with write, on a context that
// outlives ctx's cancellation for a moment: a mail delivered while the
// server stops is still marked sent. It reports whether the row changed.
func (s *Sender) mark(ctx context.Context, m *model.Mail, what string, write func(context.Context) (bool, error)) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	ok, err := write(ctx)
	if err != nil {
		// The claim runs out and the mail is tried again: at least once.
		s.Logger.ErrorContext(ctx, "mail sender: cannot record an attempt; the mail will be tried again after its lease",
			"template", safeName(m.Template), "mail_id", m.ID, "outcome", what, "error", err)
		return false
	}
	return ok
}

// release hands claimed mails back for the next claim, due at once.
func (s *Sender) release(ctx context.Context, mails []*model.Mail) {
	for _, m := range mails {
		s.mark(ctx, m, "release", func(ctx context.Context) (bool, error) {
			return s.Store.RetryMail(ctx, m.ID, s.Now(), m.LastError)
		})
	}
}

// backoff is the wait after the attempt-th failed attempt: 30 s doubling
// up to an hour, plus up to a quarter more at random.
func (s *Sender) backoff(attempt int) time.Duration {
	d := maxRetry
	if attempt >= 1 && attempt <= 8 {
		d = min(firstRetry<<(attempt-1), maxRetry)
	}
	if s.Jitter != nil && d >= 4 {
		d += s.Jitter(d / 4)
	}
	return d
}

// RefreshBacklog reports the backlog to OnBacklog.
func (s *Sender) RefreshBacklog(ctx context.Context) {
	if s.OnBacklog == nil {
		return
	}
	n, oldest, err := s.Store.MailBacklog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Logger.WarnContext(ctx, "mail sender: cannot count the outbox", "error", err)
		}
		return
	}
	var age time.Duration
	if n > 0 {
		age = max(s.Now().Sub(oldest), 0)
	}
	s.OnBacklog(n, age)
}

// Prune deletes sent and given-up mails queued more than Retention ago,
// in batches, and returns how many.
func (s *Sender) Prune(ctx context.Context) (int, error) {
	before := s.Now().Add(-Retention)
	total := 0
	for {
		n, err := s.Store.DeleteFinishedMail(ctx, before, pruneBatch)
		total += n
		if err != nil || n < pruneBatch {
			return total, err
		}
	}
}

// scrub makes an error text fit for the row and the log: the mail's
// recipient and data values (a link with its token above all) replaced,
// should a server have echoed them, and the length bounded.
func scrub(text string, m *model.Mail) string {
	for _, v := range []struct{ value, as string }{
		{m.Data.Link, "[link]"}, {m.To, "[recipient]"}, {m.Data.NewEmail, "[address]"}, {m.Data.User.Email, "[address]"},
	} {
		if len(v.value) >= 3 {
			text = replaceFold(text, v.value, v.as)
		}
	}
	if len(text) > maxErrorText {
		text = strings.ToValidUTF8(text[:maxErrorText], "") + "…"
	}
	return text
}

// replaceFold replaces every case-insensitive occurrence of old in s.
func replaceFold(s, old, with string) string {
	lower, lowerOld := strings.ToLower(s), strings.ToLower(old)
	if len(lower) != len(s) || len(lowerOld) != len(old) {
		return strings.ReplaceAll(s, old, with)
	}
	var b strings.Builder
	for {
		i := strings.Index(lower, lowerOld)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(with)
		s, lower = s[i+len(old):], lower[i+len(old):]
	}
}
