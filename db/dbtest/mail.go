package dbtest

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/db"
	"accountd/model"
)

// MailRow is a row of mail_outbox, as far as the tests of the flows that
// queue mail read it.
type MailRow struct {
	bun.BaseModel `bun:"table:mail_outbox"`

	ID        uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID    *uuid.UUID `bun:"user_id,type:uuid"`
	Template  string     `bun:"template"`
	Recipient string     `bun:"recipient"`
	Data      *string    `bun:"data"`
	Created   time.Time  `bun:"created"`
}

// Mails returns every mail of the outbox, oldest first (ties by id), with
// its template data decoded: what the sender would render. A sent mail,
// whose data is cleared, has none.
func Mails(ctx context.Context, d *db.DB) ([]*model.Mail, error) {
	var rows []MailRow
	if err := d.NewSelect().Model(&rows).Order("created", "id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("read the outbox: %w", err)
	}
	out := make([]*model.Mail, len(rows))
	for i, r := range rows {
		m := &model.Mail{ID: r.ID, UserID: r.UserID, Template: r.Template, To: r.Recipient, Created: r.Created.UTC()}
		if r.Data != nil {
			if err := json.Unmarshal([]byte(*r.Data), &m.Data); err != nil {
				return nil, fmt.Errorf("mail %s: %w", r.ID, err)
			}
		}
		out[i] = m
	}
	return out, nil
}
