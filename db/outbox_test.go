package db_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync"
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

// queueMails queues n mails for u, created (and due) at created.
func queueMails(t *testing.T, s *db.Store, u *model.User, n int, created time.Time) []uuid.UUID {
	t.Helper()
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.New()
		data := model.MailData{User: model.MailUserOf(u), App: model.MailApp{Name: "Panel", URL: "https://panel.example.com"},
			Link: "https://panel.example.com/auth/reset-password?token=secret" + ids[i].String()}
		m := &model.Mail{ID: ids[i], UserID: &u.ID, Template: model.MailPasswordReset, To: u.Email, Data: data,
			Created: created.Add(time.Duration(i) * time.Microsecond)}
		if err := s.EnqueueMail(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// outboxState is one row as the tests look at it.
type outboxState struct {
	ID           uuid.UUID  `bun:"id"`
	Data         *string    `bun:"data"`
	Attempts     int        `bun:"attempts"`
	NextAttempt  time.Time  `bun:"next_attempt"`
	ClaimedUntil *time.Time `bun:"claimed_until"`
	Sent         *time.Time `bun:"sent"`
	Failed       *time.Time `bun:"failed"`
	LastError    *string    `bun:"last_error"`
}

func outboxRowOf(t *testing.T, d *db.DB, id uuid.UUID) outboxState {
	t.Helper()
	var r outboxState
	err := d.NewSelect().Table("mail_outbox").Column("id", "data", "attempts", "next_attempt", "claimed_until", "sent", "failed", "last_error").
		Where("id = ?", id).Scan(t.Context(), &r)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestOutboxClaim: a claim takes due rows oldest first, at most limit,
// counts an attempt and holds them for the lease; a claimed row is not
// claimed again until the lease runs out; a row not yet due is left.
func TestOutboxClaim(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		s := db.NewStore(d)
		u := newUser("claimer")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		ids := queueMails(t, s, u, 3, now.Add(-time.Minute))
		later := queueMails(t, s, u, 1, now.Add(time.Minute)) // not due yet

		got, err := s.ClaimMail(ctx, now, 5*time.Minute, 2)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].ID != ids[0] || got[1].ID != ids[1] {
			t.Fatalf("claimed %v, want the two oldest", mailIDs(got))
		}
		m := got[0]
		if m.Attempts != 1 || m.To != u.Email || m.Template != model.MailPasswordReset || m.UserID == nil || *m.UserID != u.ID ||
			m.Data.User.UUID != u.ID.String() || m.Data.Link == "" || m.LastError != "" || !m.Created.Equal(now.Add(-time.Minute)) {
			t.Fatalf("claimed mail %+v", m)
		}
		if r := outboxRowOf(t, d, m.ID); r.ClaimedUntil == nil || !r.ClaimedUntil.Equal(now.Add(5*time.Minute)) || r.Attempts != 1 {
			t.Fatalf("claimed row %+v", r)
		}

		// The rest: only the third; the claimed ones are held.
		got, err = s.ClaimMail(ctx, now, 5*time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != ids[2] {
			t.Fatalf("second claim %v %v, want only the third", mailIDs(got), err)
		}
		if got, err := s.ClaimMail(ctx, now.Add(time.Minute), 5*time.Minute, 10); err != nil || len(got) != 1 || got[0].ID != later[0] {
			t.Fatalf("claim a minute later %v %v, want only the mail due then", mailIDs(got), err)
		}
		// After the lease, unfinished rows come back, an attempt more.
		got, err = s.ClaimMail(ctx, now.Add(6*time.Minute), 5*time.Minute, 10)
		if err != nil || len(got) != 3 || got[0].ID != ids[0] || got[0].Attempts != 2 {
			t.Fatalf("claim after the lease %v %v", mailIDs(got), err)
		}
	})
}

// TestOutboxFinish: marking a row sent or given up clears its data and ends
// every later claim; a retry holds it until its next attempt and keeps the
// error; finishing a finished row changes nothing.
func TestOutboxFinish(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		s := db.NewStore(d)
		u := newUser("finisher")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		ids := queueMails(t, s, u, 3, now.Add(-time.Minute))
		if _, err := s.ClaimMail(ctx, now, time.Minute, 10); err != nil {
			t.Fatal(err)
		}
		sent, retried, failed := ids[0], ids[1], ids[2]

		if ok, err := s.MarkMailSent(ctx, sent, now); err != nil || !ok {
			t.Fatalf("MarkMailSent = %v, %v", ok, err)
		}
		if r := outboxRowOf(t, d, sent); r.Sent == nil || !r.Sent.Equal(now) || r.Data != nil || r.ClaimedUntil != nil {
			t.Fatalf("sent row %+v", r)
		}
		next := now.Add(30 * time.Second)
		if ok, err := s.RetryMail(ctx, retried, next, "dial tcp: connection refused"); err != nil || !ok {
			t.Fatalf("RetryMail = %v, %v", ok, err)
		}
		if r := outboxRowOf(t, d, retried); r.Sent != nil || r.Data == nil || r.ClaimedUntil != nil || !r.NextAttempt.Equal(next) ||
			r.LastError == nil || *r.LastError != "dial tcp: connection refused" {
			t.Fatalf("retried row %+v", r)
		}
		if ok, err := s.FailMail(ctx, failed, now, "too old"); err != nil || !ok {
			t.Fatalf("FailMail = %v, %v", ok, err)
		}
		if r := outboxRowOf(t, d, failed); r.Failed == nil || r.Data != nil || r.Sent != nil || r.LastError == nil || *r.LastError != "too old" {
			t.Fatalf("failed row %+v", r)
		}

		// Finished rows stay finished.
		for _, id := range []uuid.UUID{sent, failed} {
			if ok, err := s.MarkMailSent(ctx, id, now); err != nil || ok {
				t.Fatalf("MarkMailSent of a finished row = %v, %v", ok, err)
			}
			if ok, err := s.RetryMail(ctx, id, now, "x"); err != nil || ok {
				t.Fatalf("RetryMail of a finished row = %v, %v", ok, err)
			}
			if ok, err := s.FailMail(ctx, id, now, "x"); err != nil || ok {
				t.Fatalf("FailMail of a finished row = %v, %v", ok, err)
			}
		}

		// Only the retried row is claimed again, when it is due, with its
		// attempts and error.
		if got, err := s.ClaimMail(ctx, next.Add(-time.Microsecond), time.Minute, 10); err != nil || len(got) != 0 {
			t.Fatalf("claim before the retry is due: %v %v", mailIDs(got), err)
		}
		got, err := s.ClaimMail(ctx, next, time.Minute, 10)
		if err != nil || len(got) != 1 || got[0].ID != retried || got[0].Attempts != 2 || got[0].LastError != "dial tcp: connection refused" {
			t.Fatalf("claim of the retry: %+v %v", got, err)
		}
	})
}

// TestOutboxBacklogAndPrune: the backlog counts unsent rows and dates the
// oldest; the prune deletes finished rows queued before the cut in
// batches and never an unsent one.
func TestOutboxBacklogAndPrune(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		s := db.NewStore(d)
		if n, oldest, err := s.MailBacklog(ctx); err != nil || n != 0 || !oldest.IsZero() {
			t.Fatalf("empty backlog = %d, %v, %v", n, oldest, err)
		}
		u := newUser("pruner")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		old := queueMails(t, s, u, 5, now.Add(-8*24*time.Hour))
		recent := queueMails(t, s, u, 2, now.Add(-time.Hour))
		if n, oldest, err := s.MailBacklog(ctx); err != nil || n != 7 || !oldest.Equal(now.Add(-8*24*time.Hour)) {
			t.Fatalf("backlog = %d, %v, %v", n, oldest, err)
		}
		// Four old rows finish, one old stays unsent; one recent row
		// finishes.
		for _, id := range old[:3] {
			if _, err := s.MarkMailSent(ctx, id, now); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.FailMail(ctx, old[3], now, "x"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.MarkMailSent(ctx, recent[0], now); err != nil {
			t.Fatal(err)
		}
		if n, oldest, err := s.MailBacklog(ctx); err != nil || n != 2 || !oldest.Equal(now.Add(-8*24*time.Hour).Add(4*time.Microsecond)) {
			t.Fatalf("backlog = %d, %v, %v", n, oldest, err)
		}

		cut := now.Add(-7 * 24 * time.Hour)
		if n, err := s.DeleteFinishedMail(ctx, cut, 3); err != nil || n != 3 {
			t.Fatalf("first batch = %d, %v", n, err)
		}
		if n, err := s.DeleteFinishedMail(ctx, cut, 3); err != nil || n != 1 {
			t.Fatalf("second batch = %d, %v", n, err)
		}
		var left []uuid.UUID
		if err := d.NewSelect().Table("mail_outbox").Column("id").Order("created").Scan(ctx, &left); err != nil {
			t.Fatal(err)
		}
		if want := []uuid.UUID{old[4], recent[0], recent[1]}; !reflect.DeepEqual(left, want) {
			t.Fatalf("left %v, want the unsent old row and the recent ones %v", left, want)
		}
	})
}

// TestOutboxClaimUnreadableData: a row whose stored data is not JSON is
// claimed with zero data (the sender refuses it) instead of blocking the
// rows behind it.
func TestOutboxClaimUnreadableData(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := t.Context()
		s := db.NewStore(d)
		u := newUser("garbled")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		ids := queueMails(t, s, u, 2, now.Add(-time.Minute))
		if _, err := d.NewUpdate().Table("mail_outbox").Set("data = ?", "{not json").Where("id = ?", ids[0]).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := s.ClaimMail(ctx, now, time.Minute, 10)
		if err != nil || len(got) != 2 {
			t.Fatalf("claim = %v, %v", mailIDs(got), err)
		}
		if got[0].ID != ids[0] || !reflect.DeepEqual(got[0].Data, model.MailData{}) || got[1].Data.Link == "" {
			t.Fatalf("claimed %+v, %+v", got[0], got[1])
		}
	})
}

// TestOutboxConcurrentClaims: senders claiming at once through separate
// pools each get rows of their own; every row is claimed exactly once.
func TestOutboxConcurrentClaims(t *testing.T) {
	t.Parallel()
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			ctx := t.Context()
			stores := []*db.Store{db.NewStore(dbtest.Open(t, e)), db.NewStore(dbtest.Open(t, e)), db.NewStore(dbtest.Open(t, e))}
			u := newUser("racer")
			if err := stores[0].CreateUser(ctx, u, false); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Microsecond)
			const n = 60
			queueMails(t, stores[0], u, n, now.Add(-time.Minute))

			var mu sync.Mutex
			seen := map[uuid.UUID]int{}
			var wg sync.WaitGroup
			for _, s := range stores {
				for range 2 {
					wg.Go(func() {
						for {
							got, err := s.ClaimMail(ctx, now, time.Hour, 3)
							if err != nil {
								t.Error(err)
								return
							}
							if len(got) == 0 {
								return
							}
							mu.Lock()
							for _, m := range got {
								seen[m.ID]++
							}
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			if len(seen) != n {
				t.Fatalf("%d rows claimed, want %d", len(seen), n)
			}
			for id, c := range seen {
				if c != 1 {
					t.Fatalf("row %s claimed %d times", id, c)
				}
			}
		})
	}
}

// The sender's statements are fixed by the code too: claims of every
// batch size and the marks of many rows prepare one statement each.
func TestOutboxStatementsAreFixed(t *testing.T) {
	e := postgresOnly(t)
	d := dbtest.Open(t, e)
	s := db.NewStore(d)
	ctx := t.Context()
	u := newUser("fixed")
	if err := s.CreateUser(ctx, u, false); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	queueMails(t, s, u, 40, now.Add(-time.Minute))
	before := preparedStatements(t, d)
	for i, size := range []int{1, 2, 3, 7, 10, 17} {
		got, err := s.ClaimMail(ctx, now.Add(time.Duration(i)*time.Second), time.Minute, size)
		if err != nil {
			t.Fatal(err)
		}
		for j, m := range got {
			switch j % 3 {
			case 0:
				_, err = s.MarkMailSent(ctx, m.ID, now)
			case 1:
				_, err = s.RetryMail(ctx, m.ID, now.Add(time.Hour), "error "+m.ID.String())
			default:
				_, err = s.FailMail(ctx, m.ID, now, "reason "+m.ID.String())
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.MailBacklog(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteFinishedMail(ctx, now.Add(time.Hour), size); err != nil {
			t.Fatal(err)
		}
	}
	after := preparedStatements(t, d)
	t.Logf("the sender's statements added %d prepared statements", len(after)-len(before))
	// Claim, three marks, the backlog, the prune's select and delete.
	if added := len(after) - len(before); added > 7 {
		t.Fatalf("the sender's statements added %d prepared statements, want at most 7:\n%v", added, after)
	}
}

func mailIDs(ms []*model.Mail) []uuid.UUID {
	out := make([]uuid.UUID, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}
