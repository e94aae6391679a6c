package db

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/model"
)

// sessionRow is the sessions table.
type sessionRow struct {
	bun.BaseModel `bun:"table:sessions,alias:s"`

	ID        uuid.UUID  `bun:"id,pk,type:uuid"`
	UserID    uuid.UUID  `bun:"user_id,type:uuid"`
	KeyStart  string     `bun:"key_start"`
	Digest    []byte     `bun:"digest"`
	IP        string     `bun:"ip"`
	UserAgent string     `bun:"user_agent"`
	LastUsed  time.Time  `bun:"last_used"`
	Created   time.Time  `bun:"created"`
	DeviceID  *uuid.UUID `bun:"device_id,type:uuid"`
	// LastUsedHour is LastUsed cut to the hour: the clean-up's index.
	// Unlike last_used it changes once an hour, so the frequent writes of
	// a session's use change no indexed column (migration 0008).
	LastUsedHour time.Time `bun:"last_used_hour"`
}

// LastUsedHour is the value of sessions.last_used_hour for a use at t;
// tests that write last_used themselves keep the column in step with it.
func LastUsedHour(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

func (r *sessionRow) model() *model.Session {
	return &model.Session{ID: r.ID, UserID: r.UserID, KeyStart: r.KeyStart, Digest: r.Digest, IP: r.IP,
		UserAgent: r.UserAgent, LastUsed: r.LastUsed.UTC(), Created: r.Created.UTC(), DeviceID: r.DeviceID}
}

// CreateSession stores a new session. A taken lookup prefix is a
// *model.DuplicateError ("key_start").
func (s *Store) CreateSession(ctx context.Context, m *model.Session) (err error) {
	defer wrap(&err, "db.CreateSession")
	_, err = s.conn(ctx).NewInsert().Model(&sessionRow{ID: m.ID, UserID: m.UserID, KeyStart: m.KeyStart,
		Digest: m.Digest, IP: m.IP, UserAgent: m.UserAgent, LastUsed: m.LastUsed, Created: m.Created,
		DeviceID: m.DeviceID, LastUsedHour: LastUsedHour(m.LastUsed)}).Exec(ctx)
	return translate(err)
}

// SessionByID returns one of userID's sessions, or nil, nil when it does
// not exist (revoked, cleaned up, or another user's). Idle sessions are
// returned too. A service holding the user's lock reads with it whether the
// session a request authenticated with still exists.
func (s *Store) SessionByID(ctx context.Context, userID, id uuid.UUID) (_ *model.Session, err error) {
	defer wrap(&err, "db.SessionByID")
	var r sessionRow
	err = s.conn(ctx).NewSelect().Model(&r).Where("s.id = ?", id).Where("s.user_id = ?", userID).Scan(ctx)
	if noRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return r.model(), nil
}

// TouchSession records a use of the session, unless one was recorded since
// `since`: the condition makes the write happen at most once per interval
// even when several servers see the same session at once. It reports
// whether it wrote (false, nil also for an unknown session).
func (s *Store) TouchSession(ctx context.Context, id uuid.UUID, ip, userAgent string, now, since time.Time) (_ bool, err error) {
	defer wrap(&err, "db.TouchSession")
	return affected(s.conn(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("last_used = ?", now).Set("last_used_hour = ?", LastUsedHour(now)).Set("ip = ?", ip).Set("user_agent = ?", userAgent).
		Where("id = ?", id).Where("last_used < ?", since).Exec(ctx))
}

// DeleteSession deletes one of userID's sessions and reports whether it
// existed (false, nil if not). Another user's session id matches nothing.
func (s *Store) DeleteSession(ctx context.Context, userID, id uuid.UUID) (_ bool, err error) {
	defer wrap(&err, "db.DeleteSession")
	return affected(s.conn(ctx).NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx))
}

// DeleteSessionReturning deletes one of userID's sessions and returns it,
// or nil, nil when there was none: one statement, so the record of what
// was revoked cannot disagree with what was deleted.
func (s *Store) DeleteSessionReturning(ctx context.Context, userID, id uuid.UUID) (_ *model.Session, err error) {
	defer wrap(&err, "db.DeleteSessionReturning")
	var rows []sessionRow
	_, err = s.conn(ctx).NewDelete().Model(&rows).Where("id = ?", id).Where("user_id = ?", userID).
		Returning("*").Exec(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0].model(), nil
}

// DeleteOtherSessions deletes every session of userID except keep (if not
// nil) and returns how many it deleted.
func (s *Store) DeleteOtherSessions(ctx context.Context, userID uuid.UUID, keep *uuid.UUID) (_ int, err error) {
	defer wrap(&err, "db.DeleteOtherSessions")
	q := s.conn(ctx).NewDelete().Model((*sessionRow)(nil)).Where("user_id = ?", userID)
	if keep != nil {
		q = q.Where("id <> ?", *keep)
	}
	return rowCount(q.Exec(ctx))
}

// liveSession is the condition of a session used within its idle lifetime:
// one idle exactly SESSION_DURATION still authenticates, so it is listed.
const liveSession = "s.last_used >= ?"

// ListSessions returns a page of userID's sessions used since activeSince,
// newest first, and whether more follow; an empty page when nothing
// matches.
func (s *Store) ListSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, lq model.ListQuery) (_ []*model.Session, more bool, err error) {
	defer wrap(&err, "db.ListSessions")
	var rows []sessionRow
	q := s.conn(ctx).NewSelect().Model(&rows).Where("s.user_id = ?", userID).Where(liveSession, activeSince)
	if err := s.applyList(q, lq, listOrder{timeCol: "s.created", idCol: "s.id", searchCol: "s.user_agent", desc: true}).Scan(ctx); err != nil {
		return nil, false, err
	}
	rows, more = trimPage(rows, lq.Limit())
	out := make([]*model.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].model()
	}
	return out, more, nil
}

// CountSessions counts userID's sessions used since activeSince whose user
// agent contains search.
func (s *Store) CountSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, search string) (_ int, err error) {
	defer wrap(&err, "db.CountSessions")
	q := s.conn(ctx).NewSelect().Model((*sessionRow)(nil)).Where("s.user_id = ?", userID).Where(liveSession, activeSince)
	return count(ctx, s.applySearch(q, search, "s.user_agent"))
}

// DeleteIdleSessions deletes at most limit sessions last used before
// lastUsedBefore and returns how many.
func (s *Store) DeleteIdleSessions(ctx context.Context, lastUsedBefore time.Time, limit int) (_ int, err error) {
	defer wrap(&err, "db.DeleteIdleSessions")
	return s.purge(ctx, (*sessionRow)(nil), "s", "s.last_used_hour <= ? AND s.last_used < ?", limit,
		LastUsedHour(lastUsedBefore), lastUsedBefore)
}
