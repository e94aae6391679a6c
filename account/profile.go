package account

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// Viewer returns the authenticated user. It is reachable in every account
// state, so a frozen, suspended or not-yet-2FA user can see why.
func (s *Service) Viewer(ctx context.Context, actor *model.Actor) (*model.User, error) {
	if err := s.enter(actor, gateAccount); err != nil {
		return nil, err
	}
	return actor.User, nil
}

// UpdateAccountInput is a profile edit; nil fields stay as they are.
type UpdateAccountInput struct {
	Username              *string
	NameFirst             *string
	NameLast              *string
	Language              *string
	ToastPosition         *string
	StartOnGroupedServers *bool
}

// UpdateAccount edits the profile, writing only the fields given.
func (s *Service) UpdateAccount(ctx context.Context, actor *model.Actor, in UpdateAccountInput) (*model.User, error) {
	var v model.Validation
	if in.Username != nil {
		checkUsername(&v, "username", *in.Username)
	}
	if in.NameFirst != nil {
		checkName(&v, "name_first", *in.NameFirst)
	}
	if in.NameLast != nil {
		checkName(&v, "name_last", *in.NameLast)
	}
	if !s.cfg.AllowLanguageChange {
		// The panel fixes the language: the field is ignored, not refused,
		// so clients that always send it keep working.
		in.Language = nil
	}
	if in.Language != nil {
		checkLength(&v, "language", *in.Language, minLanguageLen, maxLanguageLen)
		checkOneOf(&v, "language", *in.Language, model.Languages)
	}
	if in.ToastPosition != nil {
		checkOneOf(&v, "toast_position", *in.ToastPosition, model.ToastPositions)
	}
	if err := s.admit(actor, gateAccount, v.Err(), model.PermAccountInfos); err != nil {
		return nil, err
	}
	u := actor.User
	if err := editable(u); err != nil {
		return nil, err
	}
	if in.Username != nil {
		// After validation, permission and state, so those answers stay
		// what they were; the other fields of a throttled edit are
		// refused with it, as the edit is one change.
		if err := s.checkTaken(ctx, u.ID); err != nil {
			return nil, err
		}
	}
	patch := model.UserPatch{Username: in.Username, NameFirst: in.NameFirst, NameLast: in.NameLast,
		Language: in.Language, ToastPosition: in.ToastPosition, StartOnGroupedServers: in.StartOnGroupedServers}
	if patch.Empty() {
		return u, nil
	}
	taken := &model.Error{Code: model.CodeConflict, Message: "username already taken", Field: "username"}
	updated, err := s.change(ctx, actor, model.EventAccountUpdate, map[string]any{"fields": patchFields(patch)}, taken,
		func(ctx context.Context) error { return s.users.UpdateUser(ctx, u.ID, patch, s.now()) })
	return s.countTaken(ctx, u.ID, updated, err, taken)
}

// patchFields names the fields a patch changes, for the activity record.
func patchFields(p model.UserPatch) []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"username", p.Username != nil}, {"name_first", p.NameFirst != nil}, {"name_last", p.NameLast != nil},
		{"language", p.Language != nil}, {"toast_position", p.ToastPosition != nil},
		{"start_on_grouped_servers", p.StartOnGroupedServers != nil},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// UpdateEmailInput changes the e-mail address, confirmed by the password.
type UpdateEmailInput struct {
	Email    string
	Password string
}

// UpdateEmail changes the e-mail address: at once, or with
// EMAIL_VERIFY_CHANGES once the link mailed to the new address is opened
// (ConfirmEmail). Either way the old address is told.
func (s *Service) UpdateEmail(ctx context.Context, actor *model.Actor, in UpdateEmailInput) (*model.User, error) {
	var v model.Validation
	checkEmail(&v, "email", in.Email)
	checkLength(&v, "password", in.Password, 0, maxPasswordLen)
	if err := s.admit(actor, gateDefault, v.Err(), model.PermAccountEmail); err != nil {
		return nil, err
	}
	u := actor.User
	if err := editable(u); err != nil {
		return nil, err
	}
	// The throttle comes before the password check: a throttled change
	// is refused whatever the password, so checking it would only spend
	// the account's password attempts (and a wrong password still gets
	// its own answer while the account is not throttled).
	if err := s.checkTaken(ctx, u.ID); err != nil {
		return nil, err
	}
	if err := s.checkPassword(ctx, actor, in.Password); err != nil {
		return nil, err
	}
	taken := &model.Error{Code: model.CodeConflict, Message: "email already in use", Field: "email"}
	// At once, or once the new address confirms it (emailchange.go).
	updated, err := s.changeEmail(ctx, actor, in.Email, taken)
	return s.countTaken(ctx, u.ID, updated, err, taken)
}

// ChangePasswordInput changes the password, confirmed by the current one.
type ChangePasswordInput struct {
	Password    string
	NewPassword string
	// RevokeAPIKeys also deletes every API key of the user.
	RevokeAPIKeys bool
}

// ChangePasswordResult says what the change ended besides the password.
type ChangePasswordResult struct {
	User            *model.User
	RevokedSessions int
	RevokedAPIKeys  int
}

// ChangePassword replaces the password and, in the same transaction, ends
// every other session of the user (and optionally deletes the API keys): a
// password change is what a user does after a suspected compromise.
func (s *Service) ChangePassword(ctx context.Context, actor *model.Actor, in ChangePasswordInput) (*ChangePasswordResult, error) {
	var v model.Validation
	checkLength(&v, "password", in.Password, 0, maxPasswordLen)
	checkLength(&v, "new_password", in.NewPassword, minPasswordLen, maxPasswordLen)
	if err := s.admit(actor, gateDefault, v.Err(), model.PermAccountPassword); err != nil {
		return nil, err
	}
	u := actor.User
	if err := editable(u); err != nil {
		return nil, err
	}
	if err := s.checkPassword(ctx, actor, in.Password); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return nil, model.Internal(err)
	}
	res := &ChangePasswordResult{}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		// The revocations below run under the user's lock, so they see
		// every credential minted before it and every mint after it sees
		// them (revocation.go). The change itself is checked like a mint:
		// the actor must still be signed in, and the password it confirmed
		// still current — of two racing changes, the second one confirmed
		// a password that no longer exists, by a session the first one
		// ended.
		if err := s.lockActor(ctx, actor); err != nil {
			return err
		}
		cur, err := s.users.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur == nil || !cur.HasPassword() || *cur.PasswordHash != *u.PasswordHash {
			return &model.Error{Code: model.CodeInvalidPassword, Message: "invalid password", Field: "password"}
		}
		if err := s.users.SetPasswordHash(ctx, u.ID, hash, s.now()); err != nil {
			return err
		}
		var keep *uuid.UUID
		if actor.Session != nil {
			keep = &actor.Session.ID
		}
		if res.RevokedSessions, err = s.sessions.DeleteOtherSessions(ctx, u.ID, keep); err != nil {
			return err
		}
		// A confirmation token was earned with the old password.
		if err := s.twoFactor.DeleteLoginTokens(ctx, u.ID); err != nil {
			return err
		}
		if in.RevokeAPIKeys {
			if res.RevokedAPIKeys, err = s.apiKeys.DeleteAPIKeys(ctx, u.ID); err != nil {
				return err
			}
		}
		if err := s.record(ctx, u.ID, actor, actor.IP, model.EventPasswordChanged, map[string]int{
			"revoked_sessions": res.RevokedSessions, "revoked_api_keys": res.RevokedAPIKeys}); err != nil {
			return err
		}
		if err := s.actorNotice(ctx, actor, cur, model.MailNoticePasswordChanged, ""); err != nil {
			return err
		}
		res.User, err = s.users.UserByID(ctx, u.ID)
		return err
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return res, nil
}

// checkPassword confirms a sensitive change of actor's account with the
// current password. The confirmations of a session signed in from a known
// device are charged to that device's budget: the session already proves
// a sign-in, so failures of guessers elsewhere (the account's budget) must
// not lock its owner out of their own settings, and the device's budget is
// the one its sign-ins draw on, so a session gives no extra guesses. A
// sign-up's session and API keys (which a session can mint without a
// password, so they must not multiply guesses) use the account's budget.
// Accounts without a password cannot confirm this way.
func (s *Service) checkPassword(ctx context.Context, actor *model.Actor, password string) error {
	u := actor.User
	invalid := &model.Error{Code: model.CodeInvalidPassword, Message: "invalid password", Field: "password"}
	if !u.HasPassword() {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return model.Internal(err)
		}
		return invalid
	}
	b := accountBudget(u.ID)
	if actor.Session != nil && actor.Session.DeviceID != nil {
		b = budget{userID: u.ID, deviceID: actor.Session.DeviceID}
	}
	return s.attemptOn(ctx, b, checkPasswordKind, func() error {
		_, err := s.verifyPassword(ctx, u, password, invalid)
		return err
	})
}

// verifyPassword checks password against u's stored hash and reports
// whether the hash should be upgraded; a wrong password, or an unusable
// stored hash (a bad import, which must not reveal that the account
// exists), fails with wrong.
func (s *Service) verifyPassword(ctx context.Context, u *model.User, password string, wrong error) (rehash bool, err error) {
	ok, rehash, err := s.hasher.Verify(ctx, *u.PasswordHash, password)
	if errors.Is(err, secret.ErrMalformedHash) {
		s.log.WarnContext(ctx, "stored password hash is malformed", "user_id", u.ID)
		return false, wrong
	}
	if err != nil {
		return false, model.Internal(err)
	}
	if !ok {
		return false, wrong
	}
	return rehash, nil
}

// PermissionCatalog returns every permission an API key may carry.
func (s *Service) PermissionCatalog(ctx context.Context, actor *model.Actor) (*model.PermissionCatalog, error) {
	if err := s.enter(actor, gateDefault); err != nil {
		return nil, err
	}
	return s.catalog, nil
}

// RecoveryCodesRemaining returns how many unused recovery codes u has
// left. u is a user the caller already holds (the viewer, or the account a
// sign-up or sign-in just returned), so there is no actor to check.
func (s *Service) RecoveryCodesRemaining(ctx context.Context, u *model.User) (int, error) {
	n, err := s.twoFactor.CountRecoveryCodes(ctx, u.ID)
	if err != nil {
		return 0, model.Internal(err)
	}
	return n, nil
}

// change applies write to the actor's account and records event in the
// same transaction, then returns the account as stored. A unique violation
// of the write becomes onDuplicate.
func (s *Service) change(ctx context.Context, actor *model.Actor, event string, data any, onDuplicate *model.Error,
	write func(ctx context.Context) error) (*model.User, error) {
	var updated *model.User
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		if err := s.record(ctx, actor.User.ID, actor, actor.IP, event, data); err != nil {
			return err
		}
		var err error
		updated, err = s.users.UserByID(ctx, actor.User.ID)
		return err
	})
	var dup *model.DuplicateError
	if errors.As(err, &dup) && onDuplicate != nil {
		return nil, onDuplicate
	}
	if err != nil {
		return nil, model.Internal(err)
	}
	return updated, nil
}
