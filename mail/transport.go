package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Transport hands a message to whatever delivers it. An error means the
// message may not have arrived and is retried later, unless it is a
// permanent refusal (see permanent).
type Transport interface {
	Deliver(ctx context.Context, m *Message) error
}

// smtpTimeout bounds each of the two phases of an SMTP conversation
// (connecting, greeting and logging in; then sending): a server that stops
// answering costs one attempt, not a stuck sender.
const smtpTimeout = 15 * time.Second

// SMTPTransport sends through an SMTP server, one connection per mail.
type SMTPTransport struct {
	cfg     SMTP
	timeout time.Duration
}

// NewSMTPTransport returns a transport for cfg.
func NewSMTPTransport(cfg *SMTP) *SMTPTransport {
	return &SMTPTransport{cfg: *cfg, timeout: smtpTimeout}
}

// Deliver sends m.
func (t *SMTPTransport) Deliver(ctx context.Context, m *Message) error {
	opts := []gomail.Option{gomail.WithPort(t.cfg.Port), gomail.WithTimeout(t.timeout)}
	switch {
	case t.cfg.ImplicitTLS:
		opts = append(opts, gomail.WithSSL())
	case t.cfg.StartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	}
	if t.cfg.TLSConfig != nil {
		tc := t.cfg.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = t.cfg.Host
		}
		opts = append(opts, gomail.WithTLSConfig(tc))
	}
	if t.cfg.Username != "" {
		// The strongest mechanism the server offers; without TLS, go-mail
		// considers only those that never send the password (SCRAM,
		// CRAM-MD5).
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(t.cfg.Username), gomail.WithPassword(t.cfg.Password))
	}
	c, err := gomail.NewClient(t.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	return c.DialAndSendWithContext(ctx, m.msg)
}

// permanent reports whether err is the SMTP server refusing the
// recipient for good (a 5xx answer to RCPT TO): retrying would only be
// refused again. Every other failure, a refused log-in or sender
// included, may be the server's configuration or state and is retried.
func permanent(err error) bool {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return false
	}
	return se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() && se.ErrorCode() >= 500 && se.ErrorCode() < 600
}

// FileTransport writes each message as an .eml file under Dir (created
// 0700, files 0600), for development without a mail server, and logs at
// INFO the recipient, the subject and the file — never the link, which
// holds a token: the file has it.
type FileTransport struct {
	Dir    string
	Logger *slog.Logger
}

// eightBit asks for bodies as they are, not quoted-printable: a file has
// no line-length limit to meet, and the link can then be copied out of it
// whole (grep -o 'https://[^ ]*token=[A-Za-z0-9]*' data/mail/*.eml).
func (t *FileTransport) eightBit() {}

// Deliver writes m to Dir/<queued>-<template>-<id>.eml; a resend of one
// mail replaces its file.
func (t *FileTransport) Deliver(ctx context.Context, m *Message) error {
	if err := os.MkdirAll(t.Dir, 0o700); err != nil {
		return fmt.Errorf("MAIL_DIR: %w", err)
	}
	name := fmt.Sprintf("%s-%s-%s.eml", m.Created.UTC().Format("20060102T150405Z"), m.Template, m.ID)
	path := filepath.Join(t.Dir, name)
	// Written aside, then renamed: a reader never sees half a mail.
	f, err := os.CreateTemp(t.Dir, ".writing-*.eml")
	if err != nil {
		return fmt.Errorf("MAIL_DIR: %w", err)
	}
	_, err = m.WriteTo(f)
	if err == nil {
		err = f.Chmod(0o600)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("MAIL_DIR: %w", err)
	}
	if t.Logger != nil {
		t.Logger.InfoContext(ctx, "mail written to a file (SMTP_URL is not set)",
			"template", m.Template, "to", m.To, "subject", m.Subject, "file", path)
	}
	return nil
}
