package account

import (
	"context"
	"net/netip"
	"strings"

	"github.com/google/uuid"

	"accountd/model"
)

// The operators' tools: what the people who run the server do to the
// accounts it hosts, from the command line (accountd user …). There is no
// actor: whoever can run the binary against the database is trusted with
// it, as with SQL. Each change is one transaction that starts with the
// user's lock, so it orders with every mint and revocation of that user
// (revocation.go), and records an activity {"by":"operator"}; a change that
// changes nothing records nothing.

// byOperator is the data of every activity an operator's change records.
var byOperator = map[string]string{"by": "operator"}

// FindUser returns the account ref names: its id, its e-mail address (when
// ref holds an @) or its username, the last two matched as sign-in matches
// them.
func (s *Service) FindUser(ctx context.Context, ref string) (*model.User, error) {
	ref = strings.TrimSpace(ref)
	var (
		u   *model.User
		err error
	)
	if id, perr := uuid.Parse(ref); perr == nil {
		u, err = s.users.UserByID(ctx, id)
	} else if ref != "" {
		u, err = s.users.UserByLogin(ctx, ref, strings.Contains(ref, "@"))
	}
	if err != nil {
		return nil, model.Internal(err)
	}
	if u == nil {
		return nil, model.Errorf(model.CodeNotFound, "user not found")
	}
	return u, nil
}

// ListUsers returns a page of every account, oldest first (q.First at a
// time, after the cursor q.After), and whether more follow; q.Search
// matches the username or e-mail address. The cursor after a user is
// UserCursor(u).
func (s *Service) ListUsers(ctx context.Context, q model.ListQuery) ([]*model.User, bool, error) {
	q.Keyset = true
	var v model.Validation
	checkList(&v, &q)
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	items, more, err := s.operators.ListUsers(ctx, q)
	if err != nil {
		return nil, false, model.Internal(err)
	}
	return items, more, nil
}

// UserCursor is the cursor of ListUsers that continues after u.
func UserCursor(u *model.User) string { return model.Cursor{Time: u.Created, ID: u.ID}.Encode() }

// UserDetails is what an operator sees of one account beyond its row.
type UserDetails struct {
	User *model.User
	// Sessions counts the live sessions, APIKeys the live keys,
	// RecoveryCodes the unused recovery codes and SecurityKeys the
	// registered security keys and passkeys.
	Sessions, APIKeys, RecoveryCodes, SecurityKeys int
}

// ShowUser returns the account ref names with its credentials counted.
func (s *Service) ShowUser(ctx context.Context, ref string) (*UserDetails, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return nil, err
	}
	d := &UserDetails{User: u}
	if d.Sessions, err = s.sessions.CountSessions(ctx, u.ID, s.activeSince(), ""); err != nil {
		return nil, model.Internal(err)
	}
	if d.APIKeys, err = s.apiKeys.CountLiveAPIKeys(ctx, u.ID, s.now()); err != nil {
		return nil, model.Internal(err)
	}
	if d.RecoveryCodes, err = s.twoFactor.CountRecoveryCodes(ctx, u.ID); err != nil {
		return nil, model.Internal(err)
	}
	if d.SecurityKeys, err = s.securityKeys.CountSecurityKeys(ctx, u.ID, true); err != nil {
		return nil, model.Internal(err)
	}
	return d, nil
}

// SetPasswordFor gives the account ref names a new password, checked by
// the rules of sign-up, and signs it out everywhere: every session and
// every unfinished two-factor sign-in ends (API keys stay; SignOutUser
// ends them too). It returns the user and the number of sessions ended.
func (s *Service) SetPasswordFor(ctx context.Context, ref, password string) (*model.User, int, error) {
	var v model.Validation
	checkLength(&v, "password", password, minPasswordLen, maxPasswordLen)
	if err := v.Err(); err != nil {
		return nil, 0, err
	}
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return nil, 0, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return nil, 0, model.Internal(err)
	}
	var ended int
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		if err := s.users.SetPasswordHash(ctx, u.ID, hash, s.now()); err != nil {
			return err
		}
		if ended, err = s.sessions.DeleteOtherSessions(ctx, u.ID, nil); err != nil {
			return err
		}
		if err := s.twoFactor.DeleteLoginTokens(ctx, u.ID); err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, nil, netip.Addr{}, model.EventPasswordChanged,
			map[string]any{"by": "operator", "revoked_sessions": ended, "revoked_api_keys": 0}); err != nil {
			return err
		}
		return s.notice(ctx, u, model.MailNoticePasswordChanged, netip.Addr{}, "", "")
	})
	if err != nil {
		return nil, 0, model.AsError(err)
	}
	return u, ended, nil
}

// flagEvent is the activity event of turning each state on and off.
func flagEvent(flag model.UserFlag, on bool) string {
	switch {
	case flag == model.FlagAdmin && on:
		return model.EventAdminGranted
	case flag == model.FlagAdmin:
		return model.EventAdminRevoked
	case flag == model.FlagSuspended && on:
		return model.EventSuspended
	case flag == model.FlagSuspended:
		return model.EventUnsuspended
	case flag == model.FlagFrozen && on:
		return model.EventFrozen
	case flag == model.FlagFrozen:
		return model.EventUnfrozen
	}
	return ""
}

// SetUserFlag turns one operator-controlled state of the account ref names
// on or off (promote/demote, suspend/unsuspend, freeze/unfreeze) and
// reports whether it changed; a state that already held is no error. The
// new state applies from the user's next request: authentication reads
// the account on every request.
func (s *Service) SetUserFlag(ctx context.Context, ref string, flag model.UserFlag, on bool) (*model.User, bool, error) {
	event := flagEvent(flag, on)
	if event == "" {
		return nil, false, model.Errorf(model.CodeInvalid, "unknown account state %q", flag)
	}
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return nil, false, err
	}
	var changed bool
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		if changed, err = s.operators.SetUserFlag(ctx, u.ID, flag, on); err != nil || !changed {
			return err
		}
		return s.record(ctx, u.ID, nil, netip.Addr{}, event, byOperator)
	})
	if err != nil {
		return nil, false, model.AsError(err)
	}
	return u, changed, nil
}

// SignOutUser ends every session of the account ref names and every
// unfinished two-factor sign-in, and with apiKeys deletes its API keys too.
// It returns the user and what it ended.
func (s *Service) SignOutUser(ctx context.Context, ref string, apiKeys bool) (u *model.User, sessions, keys int, err error) {
	if u, err = s.FindUser(ctx, ref); err != nil {
		return nil, 0, 0, err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		if sessions, err = s.sessions.DeleteOtherSessions(ctx, u.ID, nil); err != nil {
			return err
		}
		if err := s.twoFactor.DeleteLoginTokens(ctx, u.ID); err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, nil, netip.Addr{}, model.EventSessionDeleteAll,
			map[string]any{"by": "operator", "deleted": sessions}); err != nil {
			return err
		}
		if !apiKeys {
			return nil
		}
		if keys, err = s.apiKeys.DeleteAPIKeys(ctx, u.ID); err != nil {
			return err
		}
		return s.record(ctx, u.ID, nil, netip.Addr{}, model.EventAPIKeyDeleteAll,
			map[string]any{"by": "operator", "deleted": keys})
	})
	if err != nil {
		return nil, 0, 0, model.AsError(err)
	}
	return u, sessions, keys, nil
}

// DeleteUser deletes the account ref names with everything it owns:
// sessions, keys, two-factor state and its history, which goes with it (so
// the deletion is logged, not recorded as an activity). Its credentials
// stop working on their next request.
func (s *Service) DeleteUser(ctx context.Context, ref string) (*model.User, error) {
	u, err := s.FindUser(ctx, ref)
	if err != nil {
		return nil, err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		ok, err := s.operators.DeleteUser(ctx, u.ID)
		if err != nil {
			return err
		}
		if !ok {
			return model.Errorf(model.CodeNotFound, "user not found")
		}
		return nil
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	s.log.InfoContext(ctx, "user deleted by operator", "user_id", u.ID, "username", u.Username)
	return u, nil
}
