package account

import (
	"context"
	"encoding/json"
	"net/netip"
	"time"

	"accountd/model"
	"accountd/secret"
)

// The shapes of what a user types as a second factor (REST.md §4, §5).
const (
	totpCodeLen      = secret.TOTPDigits
	recoveryCodeLen  = 10
	recoveryCodeSets = 10 // codes per set
)

// The answers to a bad second factor. Each names the code field, so
// GraphQL can point at it; REST shows the bare message, as the contract
// lists it.
func errInvalidCode() error     { return codeError("invalid confirmation code") }
func errInvalidRecovery() error { return codeError("invalid recovery code") }
func errCodeLength() error      { return codeError("invalid confirmation code length") }
func errCodeUsed() error        { return codeError("this code has already been used") }
func codeError(msg string) error {
	return &model.Error{Code: model.CodeInvalid, Message: msg, Field: "code"}
}

func errAlreadyEnabled() error {
	return model.Errorf(model.CodeConflict, "two-factor authentication is already enabled")
}

func errNotEnabled() error {
	return model.Errorf(model.CodeConflict, "two-factor authentication is not enabled")
}

// TwoFactorSetup is a pending secret and the otpauth:// URL an
// authenticator app imports it from.
type TwoFactorSetup struct {
	Secret string
	URL    string
}

// PendingTwoFactorLifetime is how long a setup's pending secret is handed
// out again instead of a new one. Within it, a reload of the setup page, a
// second tab or a retried request shows the secret the user may already
// have scanned, so the code they type next still matches; and a request
// they did not mean to send (a link another site made them follow) cannot
// swap the secret under them. Past it, a setup starts afresh, so a secret
// shown long ago is not shown again.
const PendingTwoFactorLifetime = 15 * time.Minute

// BeginTwoFactorSetup returns the actor's pending secret: the existing one
// while it is younger than PendingTwoFactorLifetime, else a new one, which
// it stores. It is confirmed, and two-factor turned on, by EnableTwoFactor.
func (s *Service) BeginTwoFactorSetup(ctx context.Context, actor *model.Actor) (*TwoFactorSetup, error) {
	if err := s.admit(actor, gateTwoFactor, nil, model.PermAccountTwoFactor); err != nil {
		return nil, err
	}
	u := actor.User
	if u.TOTPEnabled {
		return nil, errAlreadyEnabled()
	}
	if err := editable(u); err != nil {
		return nil, err
	}
	now := s.now()
	sec, err := s.twoFactor.EnsurePendingTOTPSecret(ctx, u.ID, secret.NewTOTPSecret(), now, now.Add(-PendingTwoFactorLifetime))
	if err != nil {
		return nil, model.Internal(err)
	}
	if sec == "" {
		return nil, errAlreadyEnabled()
	}
	return &TwoFactorSetup{Secret: sec, URL: secret.OTPAuthURL(s.cfg.AppName, u.Email, sec)}, nil
}

// TwoFactorInput confirms a two-factor change with a code and the
// current password.
type TwoFactorInput struct {
	Code     string
	Password string
}

// checkTwoFactorInput validates a code and password; maxCode is 6 where
// only a TOTP code is accepted, 10 where a recovery code is too.
func checkTwoFactorInput(in TwoFactorInput, maxCode int) error {
	var v model.Validation
	checkLength(&v, "code", in.Code, totpCodeLen, maxCode)
	checkLength(&v, "password", in.Password, 0, maxPasswordLen)
	return v.Err()
}

// TwoFactorResult is the account after a two-factor change and, when the
// change made them, its new recovery codes.
type TwoFactorResult struct {
	User          *model.User
	RecoveryCodes []string
}

// EnableTwoFactor turns two-factor on once a code of the pending secret
// and the password confirm it, and returns the recovery codes — shown
// this once; only their slow salted digests are stored.
func (s *Service) EnableTwoFactor(ctx context.Context, actor *model.Actor, in TwoFactorInput) (*TwoFactorResult, error) {
	if err := s.admit(actor, gateTwoFactor, checkTwoFactorInput(in, totpCodeLen), model.PermAccountTwoFactor); err != nil {
		return nil, err
	}
	u := actor.User
	if u.TOTPEnabled {
		return nil, errAlreadyEnabled()
	}
	if err := editable(u); err != nil {
		return nil, err
	}
	if u.TOTPSecret == nil {
		return nil, model.Errorf(model.CodeNotConfigured, "two-factor authentication has not been configured")
	}
	if err := s.checkPassword(ctx, actor, in.Password); err != nil {
		return nil, err
	}
	res := &TwoFactorResult{}
	err := s.attempt(ctx, u.ID, checkTOTPKind, func() error {
		now := s.now()
		step, ok := secret.MatchTOTP(*u.TOTPSecret, in.Code, now)
		if !ok {
			return errInvalidCode()
		}
		if step <= u.TOTPLastStep {
			return errCodeUsed()
		}
		var salt []byte
		var digests [][]byte
		var err error
		if res.RecoveryCodes, salt, digests, err = s.newRecoveryCodes(ctx); err != nil {
			return err
		}
		return s.tx.InTx(ctx, func(ctx context.Context) error {
			ok, err := s.twoFactor.EnableTwoFactor(ctx, u.ID, *u.TOTPSecret, step, now, salt)
			if err != nil {
				return err
			}
			if !ok {
				return s.enableConflict(ctx, u)
			}
			if err := s.twoFactor.ReplaceRecoveryCodes(ctx, u.ID, salt, digests, now); err != nil {
				return err
			}
			if err := s.record(ctx, u.ID, actor, actor.IP, model.EventTwoFactorEnable, nil); err != nil {
				return err
			}
			if err := s.actorNotice(ctx, actor, u, model.MailNoticeTwoFactorEnabled, ""); err != nil {
				return err
			}
			res.User, err = s.users.UserByID(ctx, u.ID)
			return err
		})
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return res, nil
}

// enableConflict explains why enabling wrote nothing: another request
// enabled it, replaced the pending secret, or used the code first.
func (s *Service) enableConflict(ctx context.Context, u *model.User) error {
	cur, err := s.users.UserByID(ctx, u.ID)
	switch {
	case err != nil:
		return err
	case cur == nil:
		return model.Errorf(model.CodeUnauthenticated, "invalid session")
	case cur.TOTPEnabled:
		return errAlreadyEnabled()
	case cur.TOTPSecret == nil || *cur.TOTPSecret != *u.TOTPSecret:
		return errInvalidCode() // a newer setup replaced the secret this code belongs to
	}
	return errCodeUsed()
}

// newRecoveryCodes returns a fresh set of recovery codes, a new salt and
// the codes' digests under it.
func (s *Service) newRecoveryCodes(ctx context.Context) ([]string, []byte, [][]byte, error) {
	salt := s.hasher.NewSalt()
	codes := make([]string, recoveryCodeSets)
	digests := make([][]byte, recoveryCodeSets)
	for i := range codes {
		codes[i] = secret.RandomString(recoveryCodeLen)
		d, err := s.hasher.Derive(ctx, codes[i], salt)
		if err != nil {
			return nil, nil, nil, model.Internal(err)
		}
		digests[i] = d
	}
	return codes, salt, digests, nil
}

// DisableTwoFactor turns two-factor off, confirmed by the password and a
// TOTP or recovery code; the secret and every recovery code are deleted.
func (s *Service) DisableTwoFactor(ctx context.Context, actor *model.Actor, in TwoFactorInput) (*TwoFactorResult, error) {
	return s.withSecondFactor(ctx, actor, in, nil, func(ctx context.Context, u *model.User, using string, _ *TwoFactorResult) error {
		ok, err := s.twoFactor.DisableTwoFactor(ctx, u.ID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errNotEnabled()
		}
		if err := s.record(ctx, u.ID, actor, actor.IP, model.EventTwoFactorDisable, map[string]string{"using": using}); err != nil {
			return err
		}
		return s.actorNotice(ctx, actor, u, model.MailNoticeTwoFactorOff, "")
	})
}

// RegenerateRecoveryCodes replaces every recovery code with a fresh set,
// confirmed by the password and a TOTP or recovery code.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, actor *model.Actor, in TwoFactorInput) (*TwoFactorResult, error) {
	var codes []string
	var salt []byte
	var digests [][]byte
	// The ten slow derivations run once the code is known to be right and
	// before the transaction, so they never hold the write lock.
	derive := func(ctx context.Context) error {
		var err error
		codes, salt, digests, err = s.newRecoveryCodes(ctx)
		return err
	}
	return s.withSecondFactor(ctx, actor, in, derive, func(ctx context.Context, u *model.User, using string, res *TwoFactorResult) error {
		res.RecoveryCodes = codes
		if err := s.twoFactor.ReplaceRecoveryCodes(ctx, u.ID, salt, digests, s.now()); err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, actor, actor.IP, model.EventRecoveryCodesRegenerated, map[string]string{"using": using}); err != nil {
			return err
		}
		return s.actorNotice(ctx, actor, u, model.MailNoticeRecoveryCodes, "")
	})
}

// withSecondFactor runs the checks of a change to an enabled two-factor
// setup — input, permission, state, password, then the code — and calls
// change in the transaction that consumes the code, so the code is spent
// exactly when the change is made. prepare, if not nil, runs once the code
// has checked out and before the transaction. The result carries the
// account as the change left it.
func (s *Service) withSecondFactor(ctx context.Context, actor *model.Actor, in TwoFactorInput, prepare func(ctx context.Context) error,
	change func(ctx context.Context, u *model.User, using string, res *TwoFactorResult) error) (*TwoFactorResult, error) {
	if err := s.admit(actor, gateTwoFactor, checkTwoFactorInput(in, recoveryCodeLen), model.PermAccountTwoFactor); err != nil {
		return nil, err
	}
	u := actor.User
	if !u.TOTPEnabled {
		return nil, errNotEnabled()
	}
	if n := len(in.Code); n != totpCodeLen && n != recoveryCodeLen {
		return nil, errCodeLength()
	}
	if err := s.checkPassword(ctx, actor, in.Password); err != nil {
		return nil, err
	}
	res := &TwoFactorResult{}
	err := s.attempt(ctx, u.ID, codeKind(in.Code), func() error {
		f, err := s.prepareCode(ctx, u, in.Code)
		if err != nil {
			return err
		}
		if prepare != nil {
			if err := prepare(ctx); err != nil {
				return err
			}
		}
		return s.tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.consumeCode(ctx, u, f); err != nil {
				return err
			}
			if err := change(ctx, u, f.using(), res); err != nil {
				return err
			}
			res.User, err = s.users.UserByID(ctx, u.ID)
			return err
		})
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return res, nil
}

// secondFactor is a code a user typed, verified as far as possible before
// any write: a TOTP code's matching step, or a recovery code's digest.
type secondFactor struct {
	recovery bool
	step     int64
	digest   []byte
}

// using names the factor for auth:success and the activity log.
func (f *secondFactor) using() string {
	if f.recovery {
		return "recovery-code"
	}
	return "two-factor"
}

// prepareCode classifies a code by length (6: TOTP, 10: recovery code) and
// does the checks that need no write.
func (s *Service) prepareCode(ctx context.Context, u *model.User, code string) (*secondFactor, error) {
	switch len(code) {
	case totpCodeLen:
		if u.TOTPSecret == nil {
			return nil, errInvalidCode()
		}
		step, ok := secret.MatchTOTP(*u.TOTPSecret, code, s.now())
		if !ok {
			return nil, errInvalidCode()
		}
		if step <= u.TOTPLastStep {
			return nil, errCodeUsed()
		}
		return &secondFactor{step: step}, nil
	case recoveryCodeLen:
		if !secret.IsAlphanumeric(code) || len(u.RecoverySalt) == 0 {
			return nil, errInvalidRecovery()
		}
		d, err := s.hasher.Derive(ctx, code, u.RecoverySalt)
		if err != nil {
			return nil, model.Internal(err)
		}
		return &secondFactor{recovery: true, digest: d}, nil
	}
	return nil, errCodeLength()
}

// consumeCode spends a prepared code with one conditional write: of two
// requests with the same code, exactly one gets past it.
func (s *Service) consumeCode(ctx context.Context, u *model.User, f *secondFactor) error {
	if f.recovery {
		ok, err := s.twoFactor.UseRecoveryCode(ctx, u.ID, f.digest)
		if err != nil {
			return err
		}
		if !ok {
			return errInvalidRecovery()
		}
		return nil
	}
	ok, err := s.twoFactor.UseTOTPStep(ctx, u.ID, f.step, s.now())
	if err != nil {
		return err
	}
	if !ok {
		return errCodeUsed()
	}
	return nil
}

// DisableTwoFactorFor turns two-factor off for the account login names
// (as FindUser reads it): the operator's way back in for a user who
// lost their authenticator and recovery codes.
func (s *Service) DisableTwoFactorFor(ctx context.Context, login string) (*model.User, error) {
	u, err := s.FindUser(ctx, login)
	if err != nil {
		return nil, err
	}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		ok, err := s.twoFactor.DisableTwoFactor(ctx, u.ID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errNotEnabled()
		}
		if err := s.endCodeRun(ctx, u.ID); err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, nil, netip.Addr{}, model.EventTwoFactorDisable, map[string]string{"by": "operator"}); err != nil {
			return err
		}
		return s.notice(ctx, u, model.MailNoticeTwoFactorOff, netip.Addr{}, "", "")
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return u, nil
}

// loginTokenAttempts bounds the codes one confirmation token may try.
const loginTokenAttempts = 5

// CheckpointInput completes a two-factor login.
type CheckpointInput struct {
	ConfirmationToken string
	Code              string
	// PublicKeyCredential, when set instead of Code, answers the
	// checkpoint with a security key (securitykeys_login.go).
	PublicKeyCredential json.RawMessage
	// Device is the device cookie the browser presented, if any.
	Device string
}

// LoginCheckpoint exchanges the confirmation token of a password login and
// a TOTP or recovery code for a session. The token is single-use, lives
// five minutes and allows a few codes; the code is charged to the
// account's attempt budget like any other.
func (s *Service) LoginCheckpoint(ctx context.Context, client model.Client, in CheckpointInput) (*LoginResult, error) {
	if len(in.PublicKeyCredential) > 0 && string(in.PublicKeyCredential) != "null" {
		return s.securityKeyCheckpoint(ctx, client, in)
	}
	var v model.Validation
	checkLength(&v, "code", in.Code, totpCodeLen, recoveryCodeLen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	invalidToken := &model.Error{Code: model.CodeInvalid, Message: "invalid confirmation token", Field: "confirmation_token"}
	tok := in.ConfirmationToken
	if len(tok) != sessionTokenLen || !secret.IsAlphanumeric(tok) {
		return nil, invalidToken
	}
	t, u, err := s.twoFactor.LoginTokenByKeyStart(ctx, tok[:keyStartLen])
	if err != nil {
		return nil, model.Internal(err)
	}
	if t == nil || !secret.DigestEqual(t.Digest, secret.Digest(tok)) || !s.now().Before(t.Expires) || !u.TOTPEnabled {
		return nil, invalidToken
	}
	if n := len(in.Code); n != totpCodeLen && n != recoveryCodeLen {
		return nil, errCodeLength()
	}
	ok, err := s.twoFactor.CountLoginTokenAttempt(ctx, t.ID, loginTokenAttempts)
	if err != nil {
		return nil, model.Internal(err)
	}
	if !ok {
		return nil, invalidToken
	}
	dev, err := s.presentedDevice(ctx, in.Device)
	if err != nil {
		return nil, err
	}
	res := &LoginResult{User: u}
	err = s.attempt(ctx, u.ID, codeKind(in.Code), func() error {
		f, err := s.prepareCode(ctx, u, in.Code)
		if err != nil {
			return err
		}
		// The token is spent and the session minted in one transaction
		// under the user's lock: a password change, which deletes pending
		// tokens under the same lock, either comes first and leaves no
		// token to spend, or comes after and deletes the new session
		// (revocation.go). The token's existence is what stands for the
		// password here, so no hash needs checking: Login mints a token
		// only while the hash it verified is current.
		return s.tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.lockUser(ctx, u.ID); err != nil {
				return err
			}
			ok, err := s.twoFactor.ConsumeLoginToken(ctx, t.ID)
			if err != nil {
				return err
			}
			if !ok {
				return invalidToken
			}
			if err := s.consumeCode(ctx, u, f); err != nil {
				return err
			}
			return s.completeSignIn(ctx, u, client, in.Device, dev, res, map[string]string{"using": f.using()})
		})
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return res, nil
}
