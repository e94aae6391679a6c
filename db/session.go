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

	ID        uuid.UUID `bun:"id,pk,type:uuid"`
	UserID    uuid.UUID `bun:"user_id,type:uuid"`
	KeyStart  string    `bun:"key_start"`
	Digest    []byte    `bun:"digest"`
	IP        string    `bun:"ip"`
	UserAgent string    `bun:"user_agent"`
	LastUsed  time.Time `bun:"last_used"`
	Created   time.Time `bun:"created"`
}

func (r *sessionRow) model() *model.Session {
	return &model.Session{ID: r.ID, UserID: r.UserID, KeyStart: r.KeyStart, Digest: r.Digest, IP: r.IP,
		UserAgent: r.UserAgent, LastUsed: r.LastUsed.UTC(), Created: r.Created.UTC()}
}

// sessionWithUser is one row of the authentication query.
type sessionWithUser struct {
	sessionRow `bun:",extend"`
	User       *userRow `bun:"rel:belongs-to,join:user_id=id"`
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, m *model.Session) error {
	_, err := s.conn(ctx).NewInsert().Model(&sessionRow{ID: m.ID, UserID: m.UserID, KeyStart: m.KeyStart,
		Digest: m.Digest, IP: m.IP, UserAgent: m.UserAgent, LastUsed: m.LastUsed, Created: m.Created}).Exec(ctx)
	return translate(err)
}

// SessionByKeyStart returns the session with the given lookup prefix and
// its user, in one indexed query (the per-request authentication cost), or
// nils.
func (s *Store) SessionByKeyStart(ctx context.Context, keyStart string) (*model.Session, *model.User, error) {
	var r sessionWithUser
	err := s.conn(ctx).NewSelect().Model(&r).Relation("User").Where("s.key_start = ?", keyStart).Scan(ctx)
	if noRows(err) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return r.sessionRow.model(), r.User.model(), nil
}

// TouchSession records a use of the session, unless one was recorded since
// `since`: the condition makes the write happen at most once per interval
// even when several servers see the same session at once. It reports
// whether it wrote.
func (s *Store) TouchSession(ctx context.Context, id uuid.UUID, ip, userAgent string, now, since time.Time) (bool, error) {
	res, err := s.conn(ctx).NewUpdate().Model((*sessionRow)(nil)).
		Set("last_used = ?", now).Set("ip = ?", ip).Set("user_agent = ?", userAgent).
		Where("id = ?", id).Where("last_used < ?", since).Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteSession deletes one of userID's sessions and reports whether it
// existed. Another user's session id matches nothing.
func (s *Store) DeleteSession(ctx context.Context, userID, id uuid.UUID) (bool, error) {
	res, err := s.conn(ctx).NewDelete().Model((*sessionRow)(nil)).Where("id = ?", id).Where("user_id = ?", userID).Exec(ctx)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// DeleteOtherSessions deletes every session of userID except keep (if not
// nil) and returns how many it deleted.
func (s *Store) DeleteOtherSessions(ctx context.Context, userID uuid.UUID, keep *uuid.UUID) (int, error) {
	q := s.conn(ctx).NewDelete().Model((*sessionRow)(nil)).Where("user_id = ?", userID)
	if keep != nil {
		q = q.Where("id <> ?", *keep)
	}
	res, err := q.Exec(ctx)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// loginTokenRow is the login_tokens table.
type loginTokenRow struct {
	bun.BaseModel `bun:"table:login_tokens,alias:lt"`

	ID       uuid.UUID `bun:"id,pk,type:uuid"`
	UserID   uuid.UUID `bun:"user_id,type:uuid"`
	KeyStart string    `bun:"key_start"`
	Digest   []byte    `bun:"digest"`
	Attempts int       `bun:"attempts"`
	Expires  time.Time `bun:"expires"`
	Created  time.Time `bun:"created"`
}

// CreateLoginToken stores a two-factor confirmation token.
func (s *Store) CreateLoginToken(ctx context.Context, t *model.LoginToken) error {
	_, err := s.conn(ctx).NewInsert().Model(&loginTokenRow{ID: t.ID, UserID: t.UserID, KeyStart: t.KeyStart,
		Digest: t.Digest, Attempts: t.Attempts, Expires: t.Expires, Created: t.Created}).Exec(ctx)
	return translate(err)
}

// DeleteLoginTokens deletes every pending confirmation token of userID.
func (s *Store) DeleteLoginTokens(ctx context.Context, userID uuid.UUID) error {
	_, err := s.conn(ctx).NewDelete().Model((*loginTokenRow)(nil)).Where("user_id = ?", userID).Exec(ctx)
	return err
}

// DeleteExpiredLoginTokens deletes at most limit confirmation tokens that
// expired at or before now and returns how many.
func (s *Store) DeleteExpiredLoginTokens(ctx context.Context, now time.Time, limit int) (int, error) {
	return s.purge(ctx, (*loginTokenRow)(nil), "lt", "lt.expires <= ?", limit, now)
}

// DeleteSessionReturning deletes one of userID's sessions and returns it,
// or nil when there was none: one statement, so the record of what was
// revoked cannot disagree with what was deleted.
func (s *Store) DeleteSessionReturning(ctx context.Context, userID, id uuid.UUID) (*model.Session, error) {
	var rows []sessionRow
	_, err := s.conn(ctx).NewDelete().Model(&rows).Where("id = ?", id).Where("user_id = ?", userID).
		Returning("*").Exec(ctx, &rows)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return rows[0].model(), nil
}

// liveSession is the condition of a session used within its idle lifetime:
// one idle exactly SESSION_DURATION still authenticates, so it is listed.
const liveSession = "s.last_used >= ?"

// ListSessions returns a page of userID's sessions used since activeSince,
// newest first, and whether more follow.
func (s *Store) ListSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, lq model.ListQuery) ([]*model.Session, bool, error) {
	var rows []sessionRow
	q := s.conn(ctx).NewSelect().Model(&rows).Where("s.user_id = ?", userID).Where(liveSession, activeSince)
	if err := s.applyList(q, lq, listOrder{timeCol: "s.created", idCol: "s.id", searchCol: "s.user_agent", desc: true}).Scan(ctx); err != nil {
		return nil, false, err
	}
	rows, more := trimPage(rows, lq.Limit())
	out := make([]*model.Session, len(rows))
	for i := range rows {
		out[i] = rows[i].model()
	}
	return out, more, nil
}

// CountSessions counts userID's sessions used since activeSince whose user
// agent contains search.
func (s *Store) CountSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, search string) (int, error) {
	q := s.conn(ctx).NewSelect().Model((*sessionRow)(nil)).Where("s.user_id = ?", userID).Where(liveSession, activeSince)
	return count(ctx, s.applySearch(q, search, "s.user_agent"))
}

// DeleteIdleSessions deletes at most limit sessions last used before
// lastUsedBefore and returns how many.
func (s *Store) DeleteIdleSessions(ctx context.Context, lastUsedBefore time.Time, limit int) (int, error) {
	return s.purge(ctx, (*sessionRow)(nil), "s", "s.last_used < ?", limit, lastUsedBefore)
}
