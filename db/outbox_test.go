package db_test

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// TestEnqueueMail: a queued mail is stored due at once with its data as
// given, inside the caller's transaction (a rollback leaves no mail), and
// goes with its user.
func TestEnqueueMail(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		u := newUser("mailuser")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		data := model.MailData{User: model.MailUserOf(u), App: model.MailApp{Name: "Panel", URL: "https://panel.example.com"},
			Link: "https://panel.example.com/auth/reset-password?token=abc", ExpiresIn: "20 minutes",
			Event: &model.MailEvent{Time: now, IP: "203.0.113.7", UserAgent: "ua"}}
		m := &model.Mail{ID: uuid.New(), UserID: &u.ID, Template: model.MailPasswordReset, To: u.Email, Data: data, Created: now}
		if err := s.EnqueueMail(ctx, m); err != nil {
			t.Fatal(err)
		}
		var rows []struct {
			Template    string    `bun:"template"`
			Recipient   string    `bun:"recipient"`
			Data        string    `bun:"data"`
			NextAttempt time.Time `bun:"next_attempt"`
			Attempts    int       `bun:"attempts"`
		}
		if err := d.NewSelect().Table("mail_outbox").Column("template", "recipient", "data", "next_attempt", "attempts").Scan(ctx, &rows); err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].Template != model.MailPasswordReset || rows[0].Recipient != u.Email ||
			!rows[0].NextAttempt.Equal(now) || rows[0].Attempts != 0 {
			t.Fatalf("outbox rows: %+v", rows)
		}
		var back model.MailData
		if err := json.Unmarshal([]byte(rows[0].Data), &back); err != nil || !reflect.DeepEqual(back.User, data.User) ||
			back.Link != data.Link || !back.Event.Time.Equal(now) {
			t.Fatalf("data %s: %v", rows[0].Data, err)
		}

		// A rolled-back change leaves no mail.
		errRollback := context.Canceled
		err := s.InTx(ctx, func(ctx context.Context) error {
			if err := s.EnqueueMail(ctx, &model.Mail{ID: uuid.New(), UserID: &u.ID, Template: model.MailNoticeNewDevice, To: u.Email, Created: now}); err != nil {
				return err
			}
			return errRollback
		})
		if err != errRollback {
			t.Fatalf("InTx: %v", err)
		}
		if n, _ := d.NewSelect().Table("mail_outbox").Count(ctx); n != 1 {
			t.Fatalf("%d outbox rows after a rollback, want 1", n)
		}

		// The user's deletion drops mail not yet sent.
		if _, err := s.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := d.NewSelect().Table("mail_outbox").Count(ctx); n != 0 {
			t.Fatalf("%d outbox rows after the user's deletion", n)
		}
	})
}
