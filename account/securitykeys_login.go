package account

import (
	"context"
	"encoding/json"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/passkey"
	"accountd/secret"
)

func errUserNotFound() error { return model.Errorf(model.CodeNotFound, "user not found") }

// SecurityKeyLoginInput begins a sign-in with a security key.
type SecurityKeyLoginInput struct {
	// User is a username or an e-mail address; ignored when Discoverable.
	User string
	// Discoverable begins a username-less sign-in: any passkey of the
	// relying party may answer, and its user handle names the account.
	Discoverable bool
}

// SecurityKeyChallenge is a sign-in ceremony begun: its id, which the
// answer names, and the options for navigator.credentials.get().
type SecurityKeyChallenge struct {
	ID      uuid.UUID
	Options passkey.RequestOptions
}

// BeginSecurityKeyLogin stores a sign-in ceremony and returns its options.
// With a username, the options allow the configured keys of the accounts
// whose username or e-mail address is User (case-insensitively): none,
// an empty list, for an unknown identifier and for an account without
// keys alike, never decoys (the front end then shows the password form).
func (s *Service) BeginSecurityKeyLogin(ctx context.Context, in SecurityKeyLoginInput) (*SecurityKeyChallenge, error) {
	if !in.Discoverable && in.User == "" {
		return nil, model.FieldErr("user", "required")
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	rule := RateSecurityKeyOptions
	if in.Discoverable {
		if !s.cfg.SecurityKeys.AllowDiscoverable {
			return nil, errDiscoverableDisabled()
		}
		rule = RateSecurityKeyDiscoverable
	}
	if err := s.limitIP(ctx, rule); err != nil {
		return nil, err
	}
	now := s.now()
	c := &model.SecurityKeyCeremony{ID: newID(), Kind: model.CeremonyDiscoverable, Challenge: passkey.NewChallenge(),
		Expires: now.Add(rp.Timeout), Created: now}
	allow := [][]byte{}
	if !in.Discoverable {
		c.Kind = model.CeremonyLogin
		if c.UserIDs, err = s.usersNamed(ctx, in.User); err != nil {
			return nil, err
		}
		if allow, err = s.securityKeys.CredentialIDs(ctx, c.UserIDs); err != nil {
			return nil, model.Internal(err)
		}
	}
	if err := s.securityKeys.CreateCeremony(ctx, c); err != nil {
		return nil, model.Internal(err)
	}
	s.ceremony(ceremonyLogin, "started")
	return &SecurityKeyChallenge{ID: c.ID, Options: rp.RequestOptions(c.Challenge, allow, in.Discoverable)}, nil
}

// usersNamed returns the ids of the accounts whose username or e-mail
// address is login, folded as sign-in folds it.
func (s *Service) usersNamed(ctx context.Context, login string) ([]uuid.UUID, error) {
	ids := []uuid.UUID{}
	// NUL cannot be stored and nothing that long is a username or an
	// address: no account has it.
	if strings.ContainsRune(login, 0) || utf8.RuneCountInString(login) > maxEmailLen {
		return ids, nil
	}
	for _, byEmail := range []bool{false, true} {
		u, err := s.users.UserByLogin(ctx, login, byEmail)
		if err != nil {
			return nil, model.Internal(err)
		}
		if u != nil && (len(ids) == 0 || ids[0] != u.ID) {
			ids = append(ids, u.ID)
		}
	}
	return ids, nil
}

// FinishSecurityKeyLoginInput answers a sign-in ceremony.
type FinishSecurityKeyLoginInput struct {
	// Challenge is the ceremony's id, as BeginSecurityKeyLogin returned it.
	Challenge string
	// Credential is the browser's answer (public_key_credential).
	Credential json.RawMessage
	// Kind is the ceremony the route answers: CeremonyLogin or
	// CeremonyDiscoverable; "" takes either (GraphQL's one mutation).
	Kind model.CeremonyKind
	// Device is the device cookie the browser presented, if any.
	Device string
}

// FinishSecurityKeyLogin checks the answer to a sign-in ceremony and signs
// the account in exactly as a password sign-in does (a session, the device
// cookie), without the two-factor checkpoint: a user-verified credential
// is itself two factors. The ceremony is consumed before anything is
// verified, so a failed answer cannot be retried with its challenge; the
// verification is charged to the account's attempt budget like a code.
func (s *Service) FinishSecurityKeyLogin(ctx context.Context, client model.Client, in FinishSecurityKeyLoginInput) (res *LoginResult, err error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	if in.Kind == model.CeremonyDiscoverable && !s.cfg.SecurityKeys.AllowDiscoverable {
		return nil, errDiscoverableDisabled()
	}
	if err := s.limitIP(ctx, RateSecurityKey); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			s.ceremony(ceremonyLogin, "failed")
		}
	}()
	c, err := s.consumeCeremony(ctx, in.Challenge)
	if err != nil {
		return nil, err
	}
	if in.Kind != "" && c.Kind != in.Kind {
		return nil, errInvalidChallenge()
	}
	if c.Kind == model.CeremonyDiscoverable && !s.cfg.SecurityKeys.AllowDiscoverable {
		return nil, errDiscoverableDisabled()
	}
	a, err := passkey.ParseAssertion(in.Credential)
	if err != nil {
		s.log.InfoContext(ctx, "security key sign-in refused", "cause", err)
		return nil, errFinishAuthentication()
	}
	u, k, err := s.ceremonyKey(ctx, c, a)
	if err != nil {
		return nil, err
	}
	dev, err := s.presentedDevice(ctx, in.Device)
	if err != nil {
		return nil, err
	}
	res = &LoginResult{User: u}
	err = s.attempt(ctx, u.ID, checkRecoveryKind, func() error {
		result, err := s.verifyAssertion(ctx, rp, a, c, k)
		if err != nil {
			return err
		}
		return s.tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.lockUser(ctx, u.ID); err != nil {
				return err
			}
			if err := s.useSecurityKey(ctx, k, result); err != nil {
				return err
			}
			return s.completeSignIn(ctx, u, client, in.Device, dev, res, securityKeyUse(k))
		})
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	s.ceremony(ceremonyLogin, "finished")
	return res, nil
}

// securityKeyUse is the auth:success record of a sign-in with key k.
func securityKeyUse(k *model.SecurityKey) map[string]string {
	return map[string]string{"using": "security-key", "uuid": k.ID.String()}
}

// consumeCeremony spends the ceremony named id: it is deleted whether or
// not the answer will verify. An unknown, spent or expired one is refused.
func (s *Service) consumeCeremony(ctx context.Context, id string) (*model.SecurityKeyCeremony, error) {
	cid, err := uuid.Parse(id)
	if err != nil || len(id) != 36 {
		return nil, errInvalidChallenge()
	}
	c, err := s.securityKeys.ConsumeCeremony(ctx, cid)
	if err != nil {
		return nil, model.Internal(err)
	}
	if c == nil || c.Kind == model.CeremonyCheckpoint || s.now().After(c.Expires) {
		return nil, errInvalidChallenge()
	}
	return c, nil
}

// ceremonyKey finds the account and configured key an assertion answers
// a ceremony with: for a sign-in naming the account, a key of one of the
// accounts it matched; for a username-less one, a key of the account the
// user handle names. A key that is not there (deleted since the options
// were fetched, another account's, or never registered) is "user not
// found", as the panel answers.
func (s *Service) ceremonyKey(ctx context.Context, c *model.SecurityKeyCeremony, a *passkey.Assertion) (*model.User, *model.SecurityKey, error) {
	var owner uuid.UUID
	if c.Kind == model.CeremonyDiscoverable {
		if len(a.UserHandle) != len(owner) {
			return nil, nil, errFinishAuthentication()
		}
		copy(owner[:], a.UserHandle)
	}
	k, err := s.securityKeys.SecurityKeyByCredentialID(ctx, a.CredentialID)
	if err != nil {
		return nil, nil, model.Internal(err)
	}
	switch {
	case k == nil:
		return nil, nil, errUserNotFound()
	case c.Kind == model.CeremonyDiscoverable && k.UserID != owner:
		return nil, nil, errUserNotFound()
	case c.Kind == model.CeremonyLogin && !containsID(c.UserIDs, k.UserID):
		return nil, nil, errUserNotFound()
	}
	u, err := s.users.UserByID(ctx, k.UserID)
	if err != nil {
		return nil, nil, model.Internal(err)
	}
	if u == nil {
		return nil, nil, errUserNotFound()
	}
	return u, k, nil
}

func containsID(ids []uuid.UUID, id uuid.UUID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// verifyAssertion checks an assertion against a consumed ceremony's
// challenge and the stored key. Every refusal is the one message of the
// contract; the cause goes to the log (a challenge is no secret).
func (s *Service) verifyAssertion(ctx context.Context, rp *passkey.RelyingParty, a *passkey.Assertion, c *model.SecurityKeyCeremony,
	k *model.SecurityKey) (*passkey.AssertionResult, error) {
	res, err := rp.VerifyAssertion(a, c.Challenge, passkey.StoredCredential{PublicKey: k.PublicKey, SignCount: k.SignCount,
		BackupEligible: k.BackupEligible})
	if err != nil {
		s.log.InfoContext(ctx, "security key assertion refused", "user_id", k.UserID, "security_key", k.ID, "cause", err)
		return nil, errFinishAuthentication()
	}
	return res, nil
}

// useSecurityKey records a verified sign-in with k inside the minting
// transaction, under the user's lock: a key deleted meanwhile signs in
// no one, and of two answers racing with counters, the lower one loses.
func (s *Service) useSecurityKey(ctx context.Context, k *model.SecurityKey, res *passkey.AssertionResult) error {
	ok, err := s.securityKeys.UseSecurityKey(ctx, k.ID, res.SignCount, res.BackupState, s.now())
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	cur, err := s.securityKeys.SecurityKeyByID(ctx, k.UserID, k.ID)
	if err != nil {
		return err
	}
	if cur == nil {
		return errUserNotFound()
	}
	s.log.InfoContext(ctx, "security key assertion refused", "user_id", k.UserID, "security_key", k.ID, "cause", passkey.ErrCloned)
	return errFinishAuthentication()
}

// BeginSecurityKeyCheckpoint starts the second factor of a password
// sign-in with a security key instead of a code (ours): the confirmation
// token's ceremony, replacing an earlier one of the same token, and the
// request options allowing the account's configured keys.
func (s *Service) BeginSecurityKeyCheckpoint(ctx context.Context, confirmationToken string) (*passkey.RequestOptions, error) {
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	if err := s.limitIP(ctx, RateCheckpoint); err != nil {
		return nil, err
	}
	t, u, err := s.checkpointToken(ctx, confirmationToken)
	if err != nil {
		return nil, err
	}
	now := s.now()
	c := &model.SecurityKeyCeremony{ID: newID(), Kind: model.CeremonyCheckpoint, Challenge: passkey.NewChallenge(),
		LoginTokenID: &t.ID, Expires: now.Add(rp.Timeout), Created: now}
	var allow [][]byte
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.securityKeys.DeleteCheckpointCeremonies(ctx, t.ID); err != nil {
			return err
		}
		if err := s.securityKeys.CreateCeremony(ctx, c); err != nil {
			return err
		}
		allow, err = s.securityKeys.CredentialIDs(ctx, []uuid.UUID{u.ID})
		return err
	})
	if err != nil {
		return nil, model.Internal(err)
	}
	s.ceremony(ceremonyCheckpoint, "started")
	opts := rp.RequestOptions(c.Challenge, allow, false)
	return &opts, nil
}

// errInvalidToken is the one answer to a confirmation token that is not
// (or no longer) usable.
func errInvalidToken() error {
	return &model.Error{Code: model.CodeInvalid, Message: "invalid confirmation token", Field: "confirmation_token"}
}

// checkpointToken returns a live confirmation token and its account.
func (s *Service) checkpointToken(ctx context.Context, tok string) (*model.LoginToken, *model.User, error) {
	if len(tok) != sessionTokenLen || !secret.IsAlphanumeric(tok) {
		return nil, nil, errInvalidToken()
	}
	t, u, err := s.twoFactor.LoginTokenByKeyStart(ctx, tok[:keyStartLen])
	if err != nil {
		return nil, nil, model.Internal(err)
	}
	if t == nil || !secret.DigestEqual(t.Digest, secret.Digest(tok)) || !s.now().Before(t.Expires) || !u.TOTPEnabled {
		return nil, nil, errInvalidToken()
	}
	return t, u, nil
}

// securityKeyCheckpoint is LoginCheckpoint answered with a security key:
// the confirmation token as with a code (one of its few attempts is
// spent), then the token's ceremony, consumed, and the assertion verified
// against a configured key of the token's account, charged to the
// account's budget like a code. The token is spent and the session minted
// in one transaction under the user's lock, as with a code.
func (s *Service) securityKeyCheckpoint(ctx context.Context, client model.Client, in CheckpointInput) (res *LoginResult, err error) {
	if in.Code != "" {
		return nil, model.FieldErr("code", "give either a code or a public_key_credential")
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	t, u, err := s.checkpointToken(ctx, in.ConfirmationToken)
	if err != nil {
		return nil, err
	}
	ok, err := s.twoFactor.CountLoginTokenAttempt(ctx, t.ID, loginTokenAttempts)
	if err != nil {
		return nil, model.Internal(err)
	}
	if !ok {
		return nil, errInvalidToken()
	}
	defer func() {
		if err != nil {
			s.ceremony(ceremonyCheckpoint, "failed")
		}
	}()
	c, err := s.securityKeys.ConsumeCheckpointCeremony(ctx, t.ID)
	if err != nil {
		return nil, model.Internal(err)
	}
	if c == nil || s.now().After(c.Expires) {
		return nil, errInvalidChallenge()
	}
	a, err := passkey.ParseAssertion(in.PublicKeyCredential)
	if err != nil {
		s.log.InfoContext(ctx, "security key checkpoint refused", "user_id", u.ID, "cause", err)
		return nil, errFinishAuthentication()
	}
	dev, err := s.presentedDevice(ctx, in.Device)
	if err != nil {
		return nil, err
	}
	res = &LoginResult{User: u}
	err = s.attempt(ctx, u.ID, checkRecoveryKind, func() error {
		k, err := s.securityKeys.SecurityKeyByCredentialID(ctx, a.CredentialID)
		if err != nil {
			return model.Internal(err)
		}
		if k == nil || k.UserID != u.ID {
			s.log.InfoContext(ctx, "security key checkpoint refused", "user_id", u.ID, "cause", "not a key of the account")
			return errFinishAuthentication()
		}
		result, err := s.verifyAssertion(ctx, rp, a, c, k)
		if err != nil {
			return err
		}
		return s.tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.lockUser(ctx, u.ID); err != nil {
				return err
			}
			ok, err := s.twoFactor.ConsumeLoginToken(ctx, t.ID)
			if err != nil {
				return err
			}
			if !ok {
				return errInvalidToken()
			}
			if err := s.useSecurityKey(ctx, k, result); err != nil {
				if model.ErrorCode(err) == model.CodeNotFound {
					return errFinishAuthentication() // deleted meanwhile
				}
				return err
			}
			return s.completeSignIn(ctx, u, client, in.Device, dev, res, securityKeyUse(k))
		})
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	s.ceremony(ceremonyCheckpoint, "finished")
	return res, nil
}
