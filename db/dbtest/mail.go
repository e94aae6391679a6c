package dbtest

import (
	"context"

	"accountd/db"
	"accountd/model"
)

// Mails returns every mail of the outbox, oldest first, with its template
// data decoded: what the sender would render. A sent mail, whose data is
// cleared, has none.
func Mails(ctx context.Context, d *db.DB) ([]*model.Mail, error) {
	return db.Outbox(ctx, d)
}
