package account

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// LoginInput is a password sign-in.
type LoginInput struct {
	// User is a username, or an e-mail address if it contains "@".
	User     string
	Password string
	// Device is the device cookie the browser presented, if any.
	Device string
}

// LoginResult is the outcome of a successful password check: either a
// session (SessionToken, Expires) or, for accounts with two-factor, a
// confirmation token for the checkpoint.
type LoginResult struct {
	User              *model.User
	SessionToken      string
	Session           *model.Session
	ConfirmationToken string
	// DeviceToken is the device cookie to set, with a session only: the
	// presented one when it is the account's, else a new device's.
	DeviceToken string
}

// TwoFactorRequired reports whether the login stops at the checkpoint.
func (r *LoginResult) TwoFactorRequired() bool { return r.ConfirmationToken != "" }

// errInvalidLogin is the one answer to every failed login, so a caller
// cannot tell an unknown account from a wrong password.
func errInvalidLogin() error {
	return model.Errorf(model.CodeInvalidCredentials, "invalid username or password")
}

// Login checks a username or e-mail and password. Unknown users are checked
// against a dummy hash, charged to a budget of the identifier's own, so
// that every failure costs the same time and the same writes and is
// refused alike once the budget is spent.
func (s *Service) Login(ctx context.Context, client model.Client, in LoginInput) (*LoginResult, error) {
	// Limits in characters, as sign-up counts them.
	// NUL cannot be stored, so no account has it: refuse it here rather than
	// let the database reject the lookup.
	if in.User == "" || in.Password == "" || strings.ContainsRune(in.User, 0) || utf8.RuneCountInString(in.User) > maxEmailLen ||
		utf8.RuneCountInString(in.Password) > maxPasswordLen {
		return nil, errInvalidLogin()
	}
	dev, err := s.presentedDevice(ctx, in.Device)
	if err != nil {
		return nil, err
	}
	byEmail := strings.Contains(in.User, "@")
	u, err := s.users.UserByLogin(ctx, in.User, byEmail)
	if err != nil {
		return nil, model.Internal(err)
	}
	if u == nil || !u.HasPassword() {
		// The identifier's own budget, with the account's rules: the same
		// write, the same slow hash and, once spent, the same 429 as an
		// account would give, so no answer reveals that it does not exist.
		return nil, s.attemptOn(ctx, budget{login: in.User, byEmail: byEmail}, checkLoginKind, func() error {
			if err := s.hasher.VerifyDummy(ctx, in.Password); err != nil {
				return model.Internal(err)
			}
			return errInvalidLogin()
		})
	}
	var rehash bool
	err = s.attemptOn(ctx, signInBudget(u.ID, dev), checkLoginKind, func() error {
		var err error
		rehash, err = s.verifyPassword(ctx, u, in.Password, errInvalidLogin())
		return err
	})
	if err != nil {
		return nil, err
	}
	if rehash {
		s.upgradeHash(ctx, u, in.Password)
	}

	// The session or confirmation token is minted under the user's lock,
	// and only while the hash just verified is still the user's: a
	// password change racing this sign-in wins (revocation.go).
	res := &LoginResult{}
	err = s.signIn(ctx, u, in.Password, func(ctx context.Context, u *model.User) error {
		res.User = u
		if u.TOTPEnabled {
			tok := secret.RandomString(sessionTokenLen)
			now := s.now()
			err := s.twoFactor.CreateLoginToken(ctx, &model.LoginToken{ID: newID(), UserID: u.ID, KeyStart: tok[:keyStartLen],
				Digest: secret.Digest(tok), Expires: now.Add(loginTokenLifetime), Created: now})
			if err != nil {
				return err
			}
			res.ConfirmationToken = tok
			return s.record(ctx, u.ID, nil, client.IP, model.EventAuthCheckpoint, nil)
		}
		var err error
		var deviceID uuid.UUID
		if res.DeviceToken, deviceID, err = s.signInDevice(ctx, u, client, in.Device, dev); err != nil {
			return err
		}
		res.SessionToken, res.Session, err = s.startSession(ctx, u, client, &deviceID)
		if err != nil {
			return err
		}
		return s.record(ctx, u.ID, nil, client.IP, model.EventAuthSuccess, map[string]string{"using": "password"})
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return res, nil
}

// upgradeHash replaces a legacy (bcrypt) or weaker hash after a successful
// login. A failure is logged, not returned: the login itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, u *model.User, password string) {
	h, err := s.hasher.Hash(ctx, password)
	if err == nil {
		err = s.users.UpgradePasswordHash(ctx, u.ID, *u.PasswordHash, h)
	}
	if err != nil {
		s.log.WarnContext(ctx, "password hash upgrade failed", "user_id", u.ID, "error", err)
		return
	}
	u.PasswordHash = &h
}

// startSession creates a session for u and returns its token, which exists
// nowhere else: the database keeps its digest only.
func (s *Service) startSession(ctx context.Context, u *model.User, client model.Client, deviceID *uuid.UUID) (string, *model.Session, error) {
	tok := secret.RandomString(sessionTokenLen)
	now := s.now()
	sess := &model.Session{ID: newID(), UserID: u.ID, KeyStart: tok[:keyStartLen], Digest: secret.Digest(tok),
		IP: client.IP.String(), UserAgent: truncate(client.UserAgent, maxUserAgentLen), LastUsed: now, Created: now,
		DeviceID: deviceID}
	if err := s.sessions.CreateSession(ctx, sess); err != nil {
		return "", nil, err
	}
	return tok, sess, nil
}

// SessionExpiry is when a session used now expires if left idle.
func (s *Service) SessionExpiry(sess *model.Session) time.Time {
	return sess.LastUsed.Add(s.cfg.SessionDuration)
}

// Logout ends the session the request authenticated with.
func (s *Service) Logout(ctx context.Context, actor *model.Actor) error {
	if err := s.enter(actor, gateAccount); err != nil {
		return err
	}
	if actor.Session == nil {
		return model.Errorf(model.CodeInvalid, "unable to log out when not using session authentication")
	}
	// A revocation: under the user's lock, like every other (revocation.go).
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, actor.User.ID); err != nil {
			return err
		}
		_, err := s.sessions.DeleteSession(ctx, actor.User.ID, actor.Session.ID)
		return err
	})
	if err != nil {
		return model.Internal(err)
	}
	return nil
}

// RegisterInput is a sign-up.
type RegisterInput struct {
	Username  string
	Email     string
	NameFirst string
	NameLast  string
	Password  string
}

// Register creates an account and signs it in. The first account ever
// created becomes an administrator.
func (s *Service) Register(ctx context.Context, client model.Client, in RegisterInput) (*LoginResult, error) {
	if !s.cfg.RegistrationEnabled {
		return nil, model.Errorf(model.CodeInvalid, "registration is disabled")
	}
	u, err := s.newUser(ctx, in)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{User: u}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.users.CreateUser(ctx, u, true); err != nil {
			return err
		}
		if s.cfg.EmailVerifySignup {
			// The link that confirms the address (emailchange.go); the
			// account signs in and works meanwhile.
			if err := s.startVerification(ctx, u, u.Email, model.MailEmailVerify); err != nil {
				return err
			}
		}
		res.SessionToken, res.Session, err = s.startSession(ctx, u, client, nil)
		return err
	})
	var dup *model.DuplicateError
	if errors.As(err, &dup) {
		return nil, model.Errorf(model.CodeInvalid, "user with username or email already exists")
	}
	if err != nil {
		return nil, model.Internal(err)
	}
	return res, nil
}

// CreateUserInput is an operator's account creation (the `user create`
// sub-command): no registration switch, optional admin flag.
type CreateUserInput struct {
	RegisterInput
	Admin bool
}

// CreateUser creates an account without signing it in.
func (s *Service) CreateUser(ctx context.Context, in CreateUserInput) (*model.User, error) {
	u, err := s.newUser(ctx, in.RegisterInput)
	if err != nil {
		return nil, err
	}
	u.Admin = in.Admin
	err = s.users.CreateUser(ctx, u, !in.Admin)
	var dup *model.DuplicateError
	if errors.As(err, &dup) {
		return nil, model.Errorf(model.CodeConflict, "user with username or email already exists")
	}
	if err != nil {
		return nil, model.Internal(err)
	}
	return u, nil
}

// newUser validates a sign-up and builds the account, password hashed.
func (s *Service) newUser(ctx context.Context, in RegisterInput) (*model.User, error) {
	var v model.Validation
	checkUsername(&v, "username", in.Username)
	checkEmail(&v, "email", in.Email)
	checkName(&v, "name_first", in.NameFirst)
	checkName(&v, "name_last", in.NameLast)
	checkLength(&v, "password", in.Password, minPasswordLen, maxPasswordLen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := s.hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, model.Internal(err)
	}
	return &model.User{ID: newID(), Username: in.Username, Email: in.Email, NameFirst: in.NameFirst,
		NameLast: in.NameLast, Language: "en", ToastPosition: "bottom_right", PasswordHash: &hash, Created: s.now()}, nil
}
