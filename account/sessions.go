package account

import (
	"context"
	"time"

	"github.com/google/uuid"

	"accountd/model"
)

// ListSessions returns a page of the actor's user's sessions, newest
// first; search matches the user agent. Sessions idle past
// SESSION_DURATION are over even before the clean-up deletes them, so they
// are not listed.
func (s *Service) ListSessions(ctx context.Context, actor *model.Actor, q model.ListQuery) (*model.Page[*model.Session], error) {
	since := s.activeSince()
	return listPage(ctx, s, actor, q, model.PermSessionsRead,
		func(ctx context.Context, q model.ListQuery) ([]*model.Session, bool, error) {
			return s.sessions.ListSessions(ctx, actor.User.ID, since, q)
		},
		func(ctx context.Context, search string) (int, error) {
			return s.sessions.CountSessions(ctx, actor.User.ID, since, search)
		})
}

// activeSince is the oldest last use a live session can have.
func (s *Service) activeSince() time.Time { return s.now().Add(-s.cfg.SessionDuration) }

// RevokeSession ends one of the actor's user's sessions; its cookie fails
// on its next request. Another user's session id is not found, exactly
// like an unknown one. own reports that the session ended is the one the
// request itself is made with: the caller is then signed out, and its
// transport clears the session cookie as logout does.
func (s *Service) RevokeSession(ctx context.Context, actor *model.Actor, id uuid.UUID) (own bool, err error) {
	if err := s.admit(actor, gateDefault, nil, model.PermSessionsDelete); err != nil {
		return false, err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		// A revocation: under the user's lock (revocation.go).
		if err := s.lockUser(ctx, actor.User.ID); err != nil {
			return err
		}
		sess, err := s.sessions.DeleteSessionReturning(ctx, actor.User.ID, id)
		if err != nil {
			return err
		}
		if sess == nil {
			return &model.Error{Code: model.CodeNotFound, Message: "session not found", Field: "id"}
		}
		return s.record(ctx, actor.User.ID, actor, actor.IP, model.EventSessionDelete, map[string]string{
			"uuid": sess.ID.String(), "ip": sess.IP, "user_agent": sess.UserAgent})
	})
	if err != nil {
		return false, model.AsError(err)
	}
	return actor.UsesSession(id), nil
}

// RevokeOtherSessions ends every session of the actor's user except the
// one making the request; through an API key, that is every session. It
// returns how many it ended.
func (s *Service) RevokeOtherSessions(ctx context.Context, actor *model.Actor) (int, error) {
	if err := s.admit(actor, gateDefault, nil, model.PermSessionsDelete); err != nil {
		return 0, err
	}
	var keep *uuid.UUID
	if actor.Session != nil {
		keep = &actor.Session.ID
	}
	var n int
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		// Under the user's lock, the delete sees every session minted
		// before it, and a mint by a session it ends, waiting on the lock,
		// sees that session gone (revocation.go).
		if err := s.lockUser(ctx, actor.User.ID); err != nil {
			return err
		}
		var err error
		if n, err = s.sessions.DeleteOtherSessions(ctx, actor.User.ID, keep); err != nil {
			return err
		}
		return s.record(ctx, actor.User.ID, actor, actor.IP, model.EventSessionDeleteAll, map[string]int{"deleted": n})
	})
	if err != nil {
		return 0, model.Internal(err)
	}
	return n, nil
}
