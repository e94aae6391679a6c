package db

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// outboxRow is the mail_outbox table (migration 0009).
type outboxRow struct {
	bun.BaseModel `bun:"table:mail_outbox,alias:mo"`

	ID           uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID       *uuid.UUID `bun:"user_id,type:uuid"`
	Template     string     `bun:"template"`
	Recipient    string     `bun:"recipient"`
	Data         *string    `bun:"data"`
	Created      time.Time  `bun:"created"`
	Attempts     int        `bun:"attempts"`
	NextAttempt  time.Time  `bun:"next_attempt"`
	ClaimedUntil *time.Time `bun:"claimed_until"`
	Sent         *time.Time `bun:"sent"`
	Failed       *time.Time `bun:"failed"`
	LastError    *string    `bun:"last_error"`
}

// EnqueueMail adds m to the outbox, due at once (at m.Created).
func (s *Store) EnqueueMail(ctx context.Context, m *model.Mail) (err error) {
	defer wrap(&err, "db.EnqueueMail")
	b, err := json.Marshal(m.Data)
	if err != nil {
		return fmt.Errorf("mail data: %w", err)
	}
	data := string(b)
	_, err = s.conn(ctx).NewInsert().Model(&outboxRow{ID: m.ID, UserID: m.UserID, Template: m.Template,
		Recipient: m.To, Data: &data, Created: m.Created, NextAttempt: m.Created}).Exec(ctx)
	return err
}

// model returns the mail of a row; a finished row's data is gone.
func (r *outboxRow) model() (*model.Mail, error) {
	m := &model.Mail{ID: r.ID, UserID: r.UserID, Template: r.Template, To: r.Recipient, Created: r.Created.UTC(),
		Attempts: r.Attempts}
	if r.LastError != nil {
		m.LastError = *r.LastError
	}
	if r.Data != nil {
		if err := json.Unmarshal([]byte(*r.Data), &m.Data); err != nil {
			return nil, fmt.Errorf("mail %s data: %w", r.ID, err)
		}
	}
	return m, nil
}

// Outbox returns every mail of the outbox, oldest first (ties by id), with
// its template data decoded — none for a mail sent or given up. It reads
// the whole table: for tests and tools, never for a request.
func Outbox(ctx context.Context, d *DB) (_ []*model.Mail, err error) {
	defer wrap(&err, "db.Outbox")
	var rows []outboxRow
	if err := d.NewSelect().Model(&rows).Order("created", "id").Scan(ctx); err != nil {
		return nil, err
	}
	out := make([]*model.Mail, len(rows))
	for i := range rows {
		if out[i], err = rows[i].model(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// The sender's side of the outbox. A row is due when it is unsent, not
// given up, its next attempt has come and no sender holds a live claim on
// it. Claiming sets claimed_until (the lease) in the same statement that
// picks the rows, so two senders never hold one row at once; marking it
// sent, retried or failed ends the claim. A sender that dies holding a
// claim leaves the row to be claimed again once the lease has run out.

// ClaimMail claims at most limit due mails for lease from now, oldest due
// first, counting an attempt on each, and returns them with their data
// and attempts (this one included). On PostgreSQL rows another sender is
// claiming at the same moment are skipped (FOR UPDATE SKIP LOCKED), so
// concurrent senders each get rows of their own without waiting; SQLite
// runs one write at a time, which gives the same exclusivity. A row whose
// data cannot be decoded comes back with zero Data, which the sender
// refuses to send.
func (s *Store) ClaimMail(ctx context.Context, now time.Time, lease time.Duration, limit int) (_ []*model.Mail, err error) {
	defer wrap(&err, "db.ClaimMail")
	now = now.UTC()
	due := s.conn(ctx).NewSelect().Model((*outboxRow)(nil)).Column("mo.id").
		Where("mo.sent IS NULL AND mo.failed IS NULL").
		Where("mo.next_attempt <= ?", now).
		Where("(mo.claimed_until IS NULL OR mo.claimed_until < ?)", now).
		OrderExpr("mo.next_attempt ASC").Limit(int64(limit))
	if s.dialect == Postgres {
		due = due.For("UPDATE SKIP LOCKED")
	}
	var rows []outboxRow
	err = s.conn(ctx).NewUpdate().Model((*outboxRow)(nil)).
		Set("claimed_until = ?", now.Add(lease)).
		Set("attempts = attempts + 1").
		Where("id IN (?)", due).
		Returning("*").
		Scan(ctx, &rows)
	if err != nil {
		return nil, err
	}
	out := make([]*model.Mail, 0, len(rows))
	for i := range rows {
		m, derr := rows[i].model()
		if derr != nil {
			r := rows[i]
			r.Data = nil
			m, _ = r.model()
		}
		out = append(out, m)
	}
	// RETURNING gives no order: the oldest first.
	slices.SortStableFunc(out, func(a, b *model.Mail) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// MarkMailSent records that mail id left at now and clears its data: the
// link's token must not outlive the delivery. It reports whether the row
// was still unsent.
func (s *Store) MarkMailSent(ctx context.Context, id uuid.UUID, now time.Time) (_ bool, err error) {
	defer wrap(&err, "db.MarkMailSent")
	return affected(s.conn(ctx).NewUpdate().Model((*outboxRow)(nil)).
		Set("sent = ?", now.UTC()).Set("data = NULL").Set("claimed_until = NULL").
		Where("id = ?", id).Where("sent IS NULL AND failed IS NULL").Exec(ctx))
}

// RetryMail ends the claim on mail id after a failed attempt: the next one
// is due at next, and lastError says why this one failed (an error text
// that holds none of the mail's data). It reports whether the row was
// still unsent.
func (s *Store) RetryMail(ctx context.Context, id uuid.UUID, next time.Time, lastError string) (_ bool, err error) {
	defer wrap(&err, "db.RetryMail")
	return affected(s.conn(ctx).NewUpdate().Model((*outboxRow)(nil)).
		Set("next_attempt = ?", next.UTC()).Set("claimed_until = NULL").Set("last_error = ?", lastError).
		Where("id = ?", id).Where("sent IS NULL AND failed IS NULL").Exec(ctx))
}

// FailMail gives mail id up at now, for reason, and clears its data. It
// reports whether the row was still unsent.
func (s *Store) FailMail(ctx context.Context, id uuid.UUID, now time.Time, reason string) (_ bool, err error) {
	defer wrap(&err, "db.FailMail")
	return affected(s.conn(ctx).NewUpdate().Model((*outboxRow)(nil)).
		Set("failed = ?", now.UTC()).Set("data = NULL").Set("claimed_until = NULL").Set("last_error = ?", reason).
		Where("id = ?", id).Where("sent IS NULL AND failed IS NULL").Exec(ctx))
}

// MailBacklog counts the mails neither sent nor given up, and returns when
// the oldest of them was queued (the zero time when there is none).
func (s *Store) MailBacklog(ctx context.Context) (unsent int, oldest time.Time, err error) {
	defer wrap(&err, "db.MailBacklog")
	var first *time.Time
	err = s.conn(ctx).NewSelect().Model((*outboxRow)(nil)).
		ColumnExpr("count(*)").ColumnExpr("min(mo.created)").
		Where("mo.sent IS NULL AND mo.failed IS NULL").
		Scan(ctx, &unsent, &first)
	if err != nil {
		return 0, time.Time{}, err
	}
	if first != nil {
		oldest = first.UTC()
	}
	return unsent, oldest, nil
}

// DeleteFinishedMail deletes at most limit mails, sent or given up, that
// were queued before before, and returns how many. Unsent mail is left
// alone however old: the sender gives it up first.
func (s *Store) DeleteFinishedMail(ctx context.Context, before time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteFinishedMail")
	return s.purge(ctx, (*outboxRow)(nil), "mo", "mo.created < ? AND (mo.sent IS NOT NULL OR mo.failed IS NOT NULL)", limit, before.UTC())
}
