// Package mail delivers the outbox: the mails the service queued in the
// transactions of the changes that caused them (db's mail_outbox). A
// Sender claims due rows, renders each with its template (plain text and
// HTML, embedded, overridable from a directory), sends it through a
// Transport — SMTP, or files in a directory when no SMTP server is
// configured — and marks it sent, retried later with back-off, or given
// up.
//
// Delivery is at least once, as with every outbox: a server that stops
// between the SMTP server's acceptance of a mail and the write that marks
// it sent sends it again once its claim (Lease) has run out. Each row is
// held by one sender at a time, so several servers on one database never
// send a row twice otherwise. A resent mail carries the same Message-ID,
// so mail clients can tell the two copies apart.
package mail

import (
	"context"
	netmail "net/mail"
	"time"

	"github.com/google/uuid"

	"accountd/model"
)

// Store is the outbox as the sender sees it; db.Store implements it. A
// claim holds a row for a lease and counts an attempt; marking it sent,
// retried or failed ends the claim, and is a no-op (false) on a row that
// is already finished.
type Store interface {
	// ClaimMail claims at most limit mails due at now for lease, oldest
	// first.
	ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*model.Mail, error)
	// MarkMailSent records the delivery and clears the mail's data.
	MarkMailSent(ctx context.Context, id uuid.UUID, now time.Time) (bool, error)
	// RetryMail makes the mail due again at next, keeping why this
	// attempt failed.
	RetryMail(ctx context.Context, id uuid.UUID, next time.Time, lastError string) (bool, error)
	// FailMail gives the mail up for reason and clears its data.
	FailMail(ctx context.Context, id uuid.UUID, now time.Time, reason string) (bool, error)
	// MailBacklog counts unsent mails and dates the oldest (zero: none).
	MailBacklog(ctx context.Context) (int, time.Time, error)
	// DeleteFinishedMail deletes at most limit sent or given-up mails
	// queued before before.
	DeleteFinishedMail(ctx context.Context, before time.Time, limit int) (int, error)
}

// Config is how mail leaves the server (SMTP_URL, MAIL_FROM, MAIL_DIR,
// MAIL_MAX_AGE, MAIL_TEMPLATES_DIR).
type Config struct {
	// SMTP is the server mail is sent through; nil writes each mail as a
	// file under Dir instead.
	SMTP *SMTP
	// From is the sender of every mail.
	From *netmail.Address
	// Dir is where the file transport writes, when SMTP is nil.
	Dir string
	// MaxAge is how long a mail is retried before it is given up.
	MaxAge time.Duration
	// TemplatesDir, if set, holds templates that replace the embedded
	// ones of the same file name.
	TemplatesDir string
	// Templates are the parsed and checked templates (LoadTemplates of
	// TemplatesDir); nil loads the embedded ones.
	Templates *Templates
}

// Defaults of the settings.
const (
	DefaultDir    = "data/mail"
	DefaultMaxAge = 24 * time.Hour
	// MinMaxAge is the shortest MAIL_MAX_AGE: long enough for a retry.
	MinMaxAge = time.Minute
	// Retention is how long a finished (sent or given-up) row stays in the
	// outbox, for an operator looking into a complaint, before the
	// clean-up deletes it.
	Retention = 7 * 24 * time.Hour
)

// Failure reasons, the metric's label values and the log's.
const (
	// ReasonExpired: not delivered within MAIL_MAX_AGE.
	ReasonExpired = "expired"
	// ReasonInvalid: the row cannot make a safe message (a bad address, a
	// line break in a header, data that does not render); never retried.
	ReasonInvalid = "invalid"
	// ReasonRejected: the SMTP server refused the recipient for good
	// (a 5xx answer to RCPT TO).
	ReasonRejected = "rejected"
)
