package account

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/passkey"
)

// Security keys and passkeys (WebAuthn, REST.md §6). A registration is two
// requests: the first stores a pending key holding a fresh challenge and
// returns the creation options, the second checks the browser's answer
// against that challenge and stores the credential in the same row. A
// sign-in is two requests too: the first stores a ceremony (its challenge,
// who may answer, until when) and returns the request options, the second
// consumes the ceremony — before anything is verified, so a challenge is
// never checked twice — and verifies the assertion. Both live in the
// database, so either half may reach any server.

// SecurityKeyConfig is the WebAuthn configuration (REST.md §6.1).
type SecurityKeyConfig struct {
	// RelyingParty is this server as WebAuthn sees it; nil turns security
	// keys off: WEBAUTHN_ENABLED=false, or settings derived from an
	// APP_URL WebAuthn cannot use.
	RelyingParty *passkey.RelyingParty
	// AllowDiscoverable allows resident-key registrations and the
	// username-less sign-in (WEBAUTHN_ALLOW_DISCOVERABLE).
	AllowDiscoverable bool
	// MaxKeys is the per-user cap; pending registrations count
	// (MAX_SECURITY_KEYS).
	MaxKeys int
	// OnCeremony, if set, is told of each ceremony started, finished or
	// failed (metrics). ceremony is registration, login or checkpoint;
	// outcome is started, finished or failed.
	OnCeremony func(ceremony, outcome string)
}

// defaultCeremonyTimeout is WEBAUTHN_TIMEOUT's default: how long the
// clean-up lets pending keys and ceremonies live while security keys are
// off (nothing makes new ones then).
const defaultCeremonyTimeout = 5 * time.Minute

// timeout is how long a ceremony, and a pending key, lives.
func (c SecurityKeyConfig) timeout() time.Duration {
	if c.RelyingParty == nil {
		return defaultCeremonyTimeout
	}
	return c.RelyingParty.Timeout
}

// The ceremonies the metrics count.
const (
	ceremonyRegistration = "registration"
	ceremonyLogin        = "login"
	ceremonyCheckpoint   = "checkpoint"
)

// ceremony reports a ceremony's progress to OnCeremony.
func (s *Service) ceremony(name, outcome string) {
	if f := s.cfg.SecurityKeys.OnCeremony; f != nil {
		f(name, outcome)
	}
}

// The name rules of a security key (REST.md §6.4).
const (
	minSecurityKeyName = 3
	maxSecurityKeyName = 31
)

func errKeysDisabled() error { return model.Errorf(model.CodeInvalid, "security keys are disabled") }

func errDiscoverableDisabled() error {
	return model.Errorf(model.CodeInvalid, "usernameless security key login is disabled")
}

func errSecurityKeyNotFound() error {
	return &model.Error{Code: model.CodeNotFound, Message: "security key not found", Field: "id"}
}

func errInvalidChallenge() error {
	return &model.Error{Code: model.CodeInvalid, Message: "invalid or expired challenge", Field: "public_key_credential"}
}

func errFinishRegistration() error {
	return &model.Error{Code: model.CodeInvalid, Message: "failed to finish security key registration", Field: "public_key_credential"}
}

func errFinishAuthentication() error {
	return &model.Error{Code: model.CodeInvalid, Message: "failed to finish security key authentication", Field: "public_key_credential"}
}

func errAlreadyRegistered() error {
	return &model.Error{Code: model.CodeConflict, Message: "security key is already registered", Field: "public_key_credential"}
}

func errSecurityKeyName() error {
	return &model.Error{Code: model.CodeConflict, Message: "security key with name already exists", Field: "name"}
}

// relyingParty returns the relying party, or the refusal of a route that
// needs security keys on.
func (s *Service) relyingParty() (*passkey.RelyingParty, error) {
	if rp := s.cfg.SecurityKeys.RelyingParty; rp != nil {
		return rp, nil
	}
	return nil, errKeysDisabled()
}

// checkSecurityKeyName validates a key's name.
func checkSecurityKeyName(v *model.Validation, name string) {
	checkLength(v, "name", name, minSecurityKeyName, maxSecurityKeyName)
	checkText(v, "name", name)
}

// sessionOnly refuses the registration of a credential through an API
// key: a key holding security-keys.create could otherwise mint a
// credential that signs in with every permission (ours).
func sessionOnly(actor *model.Actor) error {
	if actor.APIKey != nil {
		return model.Errorf(model.CodeForbidden, "security keys can only be registered from a session")
	}
	return nil
}

// ListSecurityKeys returns a page of the actor's configured keys, oldest
// first; pending registrations are not listed.
func (s *Service) ListSecurityKeys(ctx context.Context, actor *model.Actor, q model.ListQuery) (*model.Page[*model.SecurityKey], error) {
	var userID uuid.UUID
	if actor != nil && actor.User != nil {
		userID = actor.User.ID
	}
	return listPage(ctx, s, actor, q, model.PermSecurityKeysRead,
		func(ctx context.Context, q model.ListQuery) ([]*model.SecurityKey, bool, error) {
			return s.securityKeys.ListSecurityKeys(ctx, userID, q)
		},
		func(ctx context.Context, search string) (int, error) {
			return s.securityKeys.CountListedSecurityKeys(ctx, userID, search)
		})
}

// SecurityKeyRegistrationInput begins a registration.
type SecurityKeyRegistrationInput struct {
	Name string
	// AllowUsernameless asks for a discoverable credential (a passkey that
	// signs in without a username), when the server allows those.
	AllowUsernameless bool
}

// SecurityKeyRegistration is a registration begun: the pending key and the
// options to hand to navigator.credentials.create().
type SecurityKeyRegistration struct {
	Key     *model.SecurityKey
	Options passkey.CreationOptions
}

// BeginSecurityKeyRegistration stores a pending key with a fresh challenge
// and returns the creation options. A pending key of the same name is
// replaced, so retrying a name works; the quota counts pending keys. The
// count and the insert share one transaction under the user's lock, so
// concurrent registrations cannot overshoot MAX_SECURITY_KEYS.
func (s *Service) BeginSecurityKeyRegistration(ctx context.Context, actor *model.Actor, in SecurityKeyRegistrationInput) (*SecurityKeyRegistration, error) {
	var v model.Validation
	checkSecurityKeyName(&v, in.Name)
	if err := s.admit(actor, gateDefault, v.Err(), model.PermSecurityKeysCreate); err != nil {
		return nil, err
	}
	if err := sessionOnly(actor); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	u := actor.User
	if err := editable(u); err != nil {
		return nil, err
	}
	k := &model.SecurityKey{ID: newID(), UserID: u.ID, Name: in.Name, Challenge: passkey.NewChallenge(),
		Transports: []string{}, Created: s.now()}
	var exclude [][]byte
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockActor(ctx, actor); err != nil {
			return err
		}
		if err := s.securityKeys.DeletePendingSecurityKey(ctx, u.ID, k.Name); err != nil {
			return err
		}
		n, err := s.securityKeys.CountSecurityKeys(ctx, u.ID, false)
		if err != nil {
			return err
		}
		if n >= s.cfg.SecurityKeys.MaxKeys {
			return model.Errorf(model.CodeQuotaExceeded, "maximum number of security keys reached")
		}
		if err := s.securityKeys.CreateSecurityKey(ctx, k); err != nil {
			return err
		}
		exclude, err = s.securityKeys.CredentialIDs(ctx, []uuid.UUID{u.ID})
		return err
	})
	if err != nil {
		return nil, securityKeyWriteError(err)
	}
	s.ceremony(ceremonyRegistration, "started")
	discoverable := in.AllowUsernameless && s.cfg.SecurityKeys.AllowDiscoverable
	opts := rp.CreationOptions(passkey.Account{ID: u.ID, Email: u.Email, Username: u.Username}, k.Challenge, exclude, discoverable)
	return &SecurityKeyRegistration{Key: k, Options: opts}, nil
}

// securityKeyWriteError maps the failures of a key write to the contract's
// errors.
func securityKeyWriteError(err error) error {
	var dup *model.DuplicateError
	if errors.As(err, &dup) {
		switch dup.Field {
		case "name":
			return errSecurityKeyName()
		case "credential_id":
			return errAlreadyRegistered()
		}
	}
	return model.AsError(err)
}

// securityKeyData is what an activity record says about a security key.
func securityKeyData(k *model.SecurityKey) map[string]any {
	return map[string]any{"uuid": k.ID.String(), "name": k.Name}
}

// FinishSecurityKeyRegistration checks the browser's answer to a
// registration and stores the credential, in the order of REST.md §6.5:
// the key (404), not yet set up (409), not expired (deleted, 400), the
// answer verified (400, the cause only logged), the credential held by no
// key at all, this user's own included (409).
func (s *Service) FinishSecurityKeyRegistration(ctx context.Context, actor *model.Actor, id uuid.UUID, credential json.RawMessage) (k *model.SecurityKey, err error) {
	if err := s.admit(actor, gateDefault, nil, model.PermSecurityKeysCreate); err != nil {
		return nil, err
	}
	if err := sessionOnly(actor); err != nil {
		return nil, err
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	u := actor.User
	if err := editable(u); err != nil {
		return nil, err
	}
	k, err = s.securityKeys.SecurityKeyByID(ctx, u.ID, id)
	if err != nil {
		return nil, model.Internal(err)
	}
	if k == nil {
		return nil, errSecurityKeyNotFound()
	}
	if !k.Pending() {
		return nil, model.Errorf(model.CodeConflict, "security key already setup")
	}
	defer func() {
		if err != nil {
			s.ceremony(ceremonyRegistration, "failed")
		}
	}()
	if s.now().Sub(k.Created) > rp.Timeout {
		if _, err := s.securityKeys.DeleteSecurityKey(ctx, u.ID, k.ID); err != nil {
			return nil, model.Internal(err)
		}
		return nil, errInvalidChallenge()
	}
	reg, err := rp.VerifyRegistration(credential, k.Challenge)
	if err != nil {
		s.log.InfoContext(ctx, "security key registration refused", "user_id", u.ID, "security_key", k.ID, "cause", err)
		return nil, errFinishRegistration()
	}
	if held, err := s.securityKeys.SecurityKeyByCredentialID(ctx, reg.CredentialID); err != nil {
		return nil, model.Internal(err)
	} else if held != nil {
		return nil, errAlreadyRegistered()
	}
	k.CredentialID, k.PublicKey, k.SignCount = reg.CredentialID, reg.PublicKey, reg.SignCount
	k.BackupEligible, k.BackupState, k.AAGUID = reg.BackupEligible, reg.BackupState, reg.AAGUID
	k.Transports, k.AttestationFormat, k.Challenge = reg.Transports, reg.Format, nil
	// The new credential signs in: a mint, under the user's lock and only
	// while the actor's session is live (revocation.go).
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockActor(ctx, actor); err != nil {
			return err
		}
		ok, err := s.securityKeys.FinishSecurityKey(ctx, k)
		if err != nil {
			return err
		}
		if !ok {
			cur, err := s.securityKeys.SecurityKeyByID(ctx, u.ID, k.ID)
			if err != nil {
				return err
			}
			if cur == nil {
				return errSecurityKeyNotFound()
			}
			return model.Errorf(model.CodeConflict, "security key already setup")
		}
		return s.record(ctx, u.ID, actor, actor.IP, model.EventSecurityKeyCreate, securityKeyData(k))
	})
	if err != nil {
		return nil, securityKeyWriteError(err)
	}
	s.ceremony(ceremonyRegistration, "finished")
	return k, nil
}

// UpdateSecurityKeyInput renames a key; a nil Name changes nothing.
type UpdateSecurityKeyInput struct {
	Name *string
}

// UpdateSecurityKey renames one of the actor's configured keys. Every
// success is recorded, a rename to the same name too, as the panel does.
func (s *Service) UpdateSecurityKey(ctx context.Context, actor *model.Actor, id uuid.UUID, in UpdateSecurityKeyInput) (*model.SecurityKey, error) {
	var v model.Validation
	if in.Name != nil {
		checkSecurityKeyName(&v, *in.Name)
	}
	if err := s.admit(actor, gateDefault, v.Err(), model.PermSecurityKeysUpdate); err != nil {
		return nil, err
	}
	u := actor.User
	var k *model.SecurityKey
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if k, err = s.securityKeys.SecurityKeyByID(ctx, u.ID, id); err != nil {
			return err
		}
		if k == nil {
			return errSecurityKeyNotFound()
		}
		if k.Pending() {
			return model.Errorf(model.CodeInvalid, "security key not setup yet")
		}
		if err := editable(u); err != nil {
			return err
		}
		if in.Name != nil && *in.Name != k.Name {
			if err := s.securityKeys.RenameSecurityKey(ctx, k.ID, *in.Name); err != nil {
				return err
			}
			k.Name = *in.Name
		}
		return s.record(ctx, u.ID, actor, actor.IP, model.EventSecurityKeyUpdate, securityKeyData(k))
	})
	if err != nil {
		return nil, securityKeyWriteError(err)
	}
	return k, nil
}

// errLastKey refuses to delete the only way a password-less account signs
// in.
func errLastKey() error {
	return &model.Error{Code: model.CodeConflict, Field: "id",
		Message: "cannot delete the last security key of an account without a password"}
}

// DeleteSecurityKey deletes one of the actor's keys, pending or
// configured; only a configured key's deletion is recorded. The last
// configured key of an account without a password is kept: the account
// could not sign in any more. The check and the delete run under the
// user's lock, so two deletes cannot each leave the other key as the last.
func (s *Service) DeleteSecurityKey(ctx context.Context, actor *model.Actor, id uuid.UUID) error {
	if err := s.admit(actor, gateDefault, nil, model.PermSecurityKeysDelete); err != nil {
		return err
	}
	u := actor.User
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		k, err := s.securityKeys.SecurityKeyByID(ctx, u.ID, id)
		if err != nil {
			return err
		}
		if k == nil {
			return errSecurityKeyNotFound()
		}
		if !k.Pending() {
			cur, err := s.users.UserByID(ctx, u.ID)
			if err != nil {
				return err
			}
			if cur != nil && !cur.HasPassword() {
				n, err := s.securityKeys.CountSecurityKeys(ctx, u.ID, true)
				if err != nil {
					return err
				}
				if n <= 1 {
					return errLastKey()
				}
			}
		}
		if ok, err := s.securityKeys.DeleteSecurityKey(ctx, u.ID, k.ID); err != nil || !ok {
			if err == nil {
				err = errSecurityKeyNotFound()
			}
			return err
		}
		if k.Pending() {
			return nil
		}
		return s.record(ctx, u.ID, actor, actor.IP, model.EventSecurityKeyDelete, securityKeyData(k))
	})
	if err != nil {
		return model.AsError(err)
	}
	return nil
}
