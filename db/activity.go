package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// activityRow is the activities table.
type activityRow struct {
	bun.BaseModel `bun:"table:activities,alias:a"`

	ID           uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID       uuid.UUID  `bun:"user_id,type:uuid"`
	APIKeyID     *uuid.UUID `bun:"api_key_id,type:uuid"`
	Impersonator *uuid.UUID `bun:"impersonator,type:uuid"`
	Event        string     `bun:"event"`
	IP           *string    `bun:"ip"`
	Data         string     `bun:"data"`
	Created      time.Time  `bun:"created"`
}

func (r *activityRow) model() *model.Activity {
	return &model.Activity{ID: r.ID, UserID: r.UserID, APIKeyID: r.APIKeyID, Impersonator: r.Impersonator,
		Event: r.Event, IP: r.IP, Data: []byte(r.Data), Created: r.Created.UTC()}
}

// RecordActivity appends an event to a user's history.
func (s *Store) RecordActivity(ctx context.Context, a *model.Activity) (err error) {
	defer wrap(&err, "db.RecordActivity")
	data := string(a.Data)
	if data == "" {
		data = "{}"
	}
	_, err = s.conn(ctx).NewInsert().Model(&activityRow{ID: a.ID, UserID: a.UserID, APIKeyID: a.APIKeyID,
		Impersonator: a.Impersonator, Event: a.Event, IP: a.IP, Data: data, Created: a.Created}).Exec(ctx)
	return err
}

// ListActivities returns a page of userID's history, newest first, and
// whether more follows; an empty page when nothing matches.
func (s *Store) ListActivities(ctx context.Context, userID uuid.UUID, lq model.ListQuery) (_ []*model.Activity, more bool, err error) {
	defer wrap(&err, "db.ListActivities")
	var rows []activityRow
	q := s.conn(ctx).NewSelect().Model(&rows).Where("a.user_id = ?", userID)
	if err := s.applyList(q, lq, listOrder{timeCol: "a.created", idCol: "a.id", searchCol: "a.event", desc: true}).Scan(ctx); err != nil {
		return nil, false, err
	}
	rows, more = trimPage(rows, lq.Limit())
	out := make([]*model.Activity, len(rows))
	for i := range rows {
		out[i] = rows[i].model()
	}
	return out, more, nil
}

// CountActivities counts userID's events whose name contains search.
func (s *Store) CountActivities(ctx context.Context, userID uuid.UUID, search string) (_ int, err error) {
	defer wrap(&err, "db.CountActivities")
	q := s.conn(ctx).NewSelect().Model((*activityRow)(nil)).Where("a.user_id = ?", userID)
	return count(ctx, s.applySearch(q, search, "a.event"))
}

// DeleteActivitiesBefore deletes at most limit events recorded before
// before and returns how many.
func (s *Store) DeleteActivitiesBefore(ctx context.Context, before time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteActivitiesBefore")
	return s.purge(ctx, (*activityRow)(nil), "a", "a.created < ?", limit, before)
}
