package app

import (
	"context"
	"log/slog"
	"path/filepath"

	"accountd/db"
	"accountd/mail"
	"accountd/metrics"
	"accountd/model"
)

// The database is the outbox the sender reads.
var _ mail.Store = (*db.Store)(nil)

// newMailSender builds the outbox's sender from the configuration, its
// outcomes counted in m. A Config not made by LoadConfig (tests) gets the
// defaults: the embedded templates, APP_NAME at noreply@ APP_URL's host,
// files under data/mail.
func newMailSender(cfg *Config, store *db.Store, m *metrics.Metrics, logger *slog.Logger) (*mail.Sender, error) {
	mc := cfg.Mail
	if mc.From == nil && cfg.AppURL != nil {
		from, err := mail.DefaultFrom(cfg.AppName, cfg.AppURL)
		if err != nil {
			return nil, err
		}
		mc.From = from
	}
	s, err := mail.NewSender(mc, store, logger)
	if err != nil {
		return nil, err
	}
	s.OnSent, s.OnFailed, s.OnRetry, s.OnBacklog = m.MailSent, m.MailFailed, m.MailRetried, m.MailBacklog
	m.MailTemplates(model.MailTemplates(), []string{mail.ReasonExpired, mail.ReasonInvalid, mail.ReasonRejected})
	return s, nil
}

// RunMailSender delivers the outbox until ctx ends (see mail.Sender.Run).
// Every server runs it: a row is claimed by one sender at a time, so
// replicas share the mail without sending any twice. Stop it before the
// database closes.
func (a *App) RunMailSender(ctx context.Context) {
	switch t := a.Mail.Transport.(type) {
	case *mail.FileTransport:
		// Absolute, as the database's path is: the directory is relative
		// to wherever the server was started.
		dir, err := filepath.Abs(t.Dir)
		if err != nil {
			dir = t.Dir
		}
		a.Logger.InfoContext(ctx, "mail sender started; SMTP_URL is not set, so each mail is written to a file",
			"dir", dir, "from", a.Mail.From.String())
	default:
		// The URL without its password.
		a.Logger.InfoContext(ctx, "mail sender started", "smtp", a.Config.Mail.SMTP.String(), "from", a.Mail.From.String())
	}
	a.Mail.Run(ctx)
}
