package db

import (
	"context"
	"encoding/json"
	"fmt"
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
	m := &model.Mail{ID: r.ID, UserID: r.UserID, Template: r.Template, To: r.Recipient, Created: r.Created.UTC()}
	if r.Data != nil {
		if err := json.Unmarshal([]byte(*r.Data), &m.Data); err != nil {
			return nil, fmt.Errorf("mail %s data: %w", r.ID, err)
		}
	}
	return m, nil
}
