package account

import (
	"context"
	"time"

	"github.com/google/uuid"

	"accountd/model"
)

// The service reaches storage through one small interface per aggregate,
// so a reader sees which methods a use case needs and a new feature adds an
// interface of its own instead of growing a shared one. db.Store implements
// them all; tests may swap one (an activity store that fails, say) and keep
// the rest.
//
// Conventions for every method below: a lookup that matches nothing returns
// nil values and a nil error; a unique violation comes back as
// *model.DuplicateError naming the field; any other error is a storage
// failure the service reports as internal. A method called with the context
// that Transactor.InTx hands to its function runs in that transaction.

// Stores is the storage the service runs on.
type Stores struct {
	Tx         Transactor
	Users      UserStore
	Sessions   SessionStore
	APIKeys    APIKeyStore
	TwoFactor  TwoFactorStore
	Activities ActivityStore
	Attempts   AttemptStore
	Throttle   ThrottleStore
	Operators  OperatorStore
	Mail       MailStore
	// ResetTokens and EmailVerifications keep the tokens of password
	// resets and address confirmations (reset.go, emailchange.go).
	ResetTokens        ResetTokenStore
	EmailVerifications EmailVerificationStore
	// SecurityKeys keeps WebAuthn credentials and ceremonies.
	SecurityKeys SecurityKeyStore
}

// Transactor runs several writes as one: fn receives a context carrying
// the transaction, and every store method called with it joins it. A nested
// call joins the outer transaction. fn's error rolls everything back.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}

// UserStore keeps accounts.
type UserStore interface {
	// CreateUser inserts u; with firstIsAdmin, u becomes an administrator
	// exactly when no other user exists, even against a concurrent first
	// sign-up. A taken username or e-mail is a *model.DuplicateError.
	CreateUser(ctx context.Context, u *model.User, firstIsAdmin bool) error
	UserByID(ctx context.Context, id uuid.UUID) (*model.User, error)
	// UserByLogin matches the username, or with byEmail the e-mail
	// address, case-insensitively.
	UserByLogin(ctx context.Context, login string, byEmail bool) (*model.User, error)
	// UpdateUser writes only the fields p sets; a taken username is a
	// *model.DuplicateError.
	UpdateUser(ctx context.Context, id uuid.UUID, p model.UserPatch, now time.Time) error
	// SetEmail changes the address; a taken one is a *model.DuplicateError.
	SetEmail(ctx context.Context, id uuid.UUID, email string, now time.Time) error
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, now time.Time) error
	// UpgradePasswordHash replaces the hash only while it is still old, so
	// a sign-in's rehash never overwrites a concurrent password change.
	UpgradePasswordHash(ctx context.Context, id uuid.UUID, old, hash string) error
	// LockUser serialises, until the transaction ends, the transactions
	// of one user that must see each other: quota checks, and every mint
	// of a credential against every revocation (revocation.go). Call it
	// inside InTx as the transaction's first statement, so a transaction
	// never holds another lock while it waits for this one.
	LockUser(ctx context.Context, id uuid.UUID) error
}

// SessionStore keeps sign-in sessions. Only a session's lookup prefix and
// digest are stored, never its token.
type SessionStore interface {
	CreateSession(ctx context.Context, s *model.Session) error
	// SessionByKeyStart returns the session and its user in one indexed
	// query: the per-request cost of cookie authentication.
	SessionByKeyStart(ctx context.Context, keyStart string) (*model.Session, *model.User, error)
	// SessionByID returns one of userID's sessions, idle or not; another
	// user's id matches nothing.
	SessionByID(ctx context.Context, userID, id uuid.UUID) (*model.Session, error)
	// TouchSession records a use unless one was recorded since `since`,
	// and reports whether it wrote.
	TouchSession(ctx context.Context, id uuid.UUID, ip, userAgent string, now, since time.Time) (bool, error)
	// DeleteSession deletes one of userID's sessions and reports whether
	// it existed; another user's id matches nothing.
	DeleteSession(ctx context.Context, userID, id uuid.UUID) (bool, error)
	// DeleteSessionReturning deletes one of userID's sessions and returns
	// what it deleted, or nil.
	DeleteSessionReturning(ctx context.Context, userID, id uuid.UUID) (*model.Session, error)
	// DeleteOtherSessions deletes every session of userID but keep (when
	// not nil) and returns how many.
	DeleteOtherSessions(ctx context.Context, userID uuid.UUID, keep *uuid.UUID) (int, error)
	// ListSessions returns a page of the sessions used since activeSince,
	// newest first, and whether more follow.
	ListSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, q model.ListQuery) ([]*model.Session, bool, error)
	CountSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, search string) (int, error)
	// DeleteIdleSessions deletes at most limit sessions last used before
	// the given time and returns how many.
	DeleteIdleSessions(ctx context.Context, lastUsedBefore time.Time, limit int) (int, error)
}

// APIKeyStore keeps API keys. Only a key's lookup prefix and digest are
// stored. "Live" keys are those not expired at the given now; expired keys
// are invisible to every lookup.
type APIKeyStore interface {
	CreateAPIKey(ctx context.Context, k *model.APIKey) error
	// APIKeyByKeyStart returns the key and its user in one indexed query:
	// the per-request cost of key authentication.
	APIKeyByKeyStart(ctx context.Context, keyStart string) (*model.APIKey, *model.User, error)
	// TouchAPIKey records a use unless one was recorded since `since`.
	TouchAPIKey(ctx context.Context, id uuid.UUID, now, since time.Time) error
	// APIKeyByID returns one of userID's live keys; another user's id
	// matches nothing.
	APIKeyByID(ctx context.Context, userID, id uuid.UUID, now time.Time) (*model.APIKey, error)
	UserAPIKeyByKeyStart(ctx context.Context, userID uuid.UUID, keyStart string, now time.Time) (*model.APIKey, error)
	// ListAPIKeys returns a page of live keys, oldest first, and whether
	// more follow.
	ListAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time, q model.ListQuery) ([]*model.APIKey, bool, error)
	CountAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time, search string) (int, error)
	// CountLiveAPIKeys counts the keys the quota counts.
	CountLiveAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time) (int, error)
	// UpdateAPIKey writes only the fields p sets; a taken name is a
	// *model.DuplicateError.
	UpdateAPIKey(ctx context.Context, id uuid.UUID, p model.APIKeyPatch) error
	// ReplaceAPIKeySecret gives a key a new secret; the old one stops
	// working with this write.
	ReplaceAPIKeySecret(ctx context.Context, id uuid.UUID, keyStart string, digest []byte) error
	// DeleteAPIKey deletes one of userID's keys and reports whether it
	// existed.
	DeleteAPIKey(ctx context.Context, userID, id uuid.UUID) (bool, error)
	// DeleteAPIKeys deletes every key of userID and returns how many.
	DeleteAPIKeys(ctx context.Context, userID uuid.UUID) (int, error)
	// DeleteExpiredAPIKeys deletes at most limit expired keys (of one user
	// when userID is not nil) and returns how many.
	DeleteExpiredAPIKeys(ctx context.Context, userID *uuid.UUID, now time.Time, limit int) (int, error)
}

// TwoFactorStore keeps TOTP state, recovery codes (as digests) and the
// confirmation tokens of the sign-in checkpoint. Every write that decides
// whether a code or token is accepted is a compare-and-set, reporting
// whether it took effect, so two concurrent uses cannot both succeed.
type TwoFactorStore interface {
	// EnsurePendingTOTPSecret makes secret the pending one (created at
	// now) unless two-factor is on or the pending secret was created after
	// staleBefore, and returns the pending secret in effect: the kept one
	// or secret; "" when two-factor is on or the user is unknown.
	EnsurePendingTOTPSecret(ctx context.Context, userID uuid.UUID, secret string, now, staleBefore time.Time) (string, error)
	// EnableTwoFactor turns two-factor on if it is still off, the pending
	// secret is still secret and step is later than any used before.
	EnableTwoFactor(ctx context.Context, userID uuid.UUID, secret string, step int64, now time.Time, salt []byte) (bool, error)
	// UseTOTPStep accepts a code of step unless that step or a later one
	// was accepted before.
	UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64, now time.Time) (bool, error)
	// DisableTwoFactor turns two-factor off and forgets its secret and
	// recovery codes, keeping the last used step.
	DisableTwoFactor(ctx context.Context, userID uuid.UUID, now time.Time) (bool, error)
	ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, salt []byte, digests [][]byte, now time.Time) error
	// UseRecoveryCode consumes the code with the given digest.
	UseRecoveryCode(ctx context.Context, userID uuid.UUID, digest []byte) (bool, error)
	CountRecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error)

	CreateLoginToken(ctx context.Context, t *model.LoginToken) error
	// LoginTokenByKeyStart returns the token and its user.
	LoginTokenByKeyStart(ctx context.Context, keyStart string) (*model.LoginToken, *model.User, error)
	// CountLoginTokenAttempt charges one code attempt to a token unless it
	// has used max already.
	CountLoginTokenAttempt(ctx context.Context, id uuid.UUID, max int) (bool, error)
	// ConsumeLoginToken deletes a token: its single use.
	ConsumeLoginToken(ctx context.Context, id uuid.UUID) (bool, error)
	DeleteLoginTokens(ctx context.Context, userID uuid.UUID) error
	// DeleteExpiredLoginTokens deletes at most limit expired tokens and
	// returns how many.
	DeleteExpiredLoginTokens(ctx context.Context, now time.Time, limit int) (int, error)
}

// ActivityStore keeps each account's history. A record never holds a
// secret: the service decides what goes in.
type ActivityStore interface {
	RecordActivity(ctx context.Context, a *model.Activity) error
	// ListActivities returns a page of the history, newest first, and
	// whether more follows.
	ListActivities(ctx context.Context, userID uuid.UUID, q model.ListQuery) ([]*model.Activity, bool, error)
	CountActivities(ctx context.Context, userID uuid.UUID, search string) (int, error)
	// DeleteActivitiesBefore deletes at most limit events recorded before
	// the given time and returns how many.
	DeleteActivitiesBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// AttemptStore keeps the per-account budget of password and code checks,
// and the same budget for sign-in identifiers that name no account.
type AttemptStore interface {
	// LockAttempts returns userID's counter, created on first use and,
	// inside InTx, locked until the transaction ends, so concurrent checks
	// of one account are charged one after the other.
	LockAttempts(ctx context.Context, userID uuid.UUID, now time.Time) (*model.AttemptCounter, error)
	// LockLoginAttempts is LockAttempts for a sign-in identifier that
	// names no account (or one without a password), folded as UserByLogin
	// folds it and stored only as a digest: it does the same work as
	// LockAttempts, so the cost of a sign-in does not reveal whether the
	// account exists.
	LockLoginAttempts(ctx context.Context, login string, byEmail bool, now time.Time) (*model.AttemptCounter, error)
	// LockDeviceAttempts is LockAttempts for a known device's own budget;
	// an unknown device is an error.
	LockDeviceAttempts(ctx context.Context, id uuid.UUID, now time.Time) (*model.AttemptCounter, error)
	// CreateDevice stores a device (its cookie's digest only).
	CreateDevice(ctx context.Context, d *model.Device) error
	// DeviceByDigest returns the device whose cookie has the digest.
	DeviceByDigest(ctx context.Context, digest []byte) (*model.Device, error)
	// TouchDevice records a sign-in from the device.
	TouchDevice(ctx context.Context, id uuid.UUID, now time.Time) error
	// SaveAttempts writes back a counter of any kind.
	SaveAttempts(ctx context.Context, c *model.AttemptCounter) error
	// DeleteStaleLoginAttempts deletes at most limit counters of unknown
	// sign-in identifiers that have been neither used nor blocked since
	// the given time, and returns how many.
	DeleteStaleLoginAttempts(ctx context.Context, before time.Time, limit int) (int, error)
}

// ThrottleStore keeps fixed-window counters by key in the database, so
// every replica shares them. A window starts with its first hit and lasts
// window; a key holds no secret and no user input, only a purpose and an id.
type ThrottleStore interface {
	// Hit counts one event of key and returns its window's start and hits,
	// this one included, in one atomic write: concurrent hits each get
	// their own number.
	Hit(ctx context.Context, key string, now time.Time, window time.Duration) (time.Time, int, error)
	// CountHits returns the start and hits of key's window that is still
	// open at now, without counting; zero values when none is.
	CountHits(ctx context.Context, key string, now time.Time, window time.Duration) (time.Time, int, error)
	// DeleteRateLimitsBefore deletes at most limit windows that started
	// before the given time and returns how many.
	DeleteRateLimitsBefore(ctx context.Context, before time.Time, limit int) (int, error)
}

// OperatorStore serves the operators' tools (operator.go): the few reads
// and writes on accounts that no user may make on their own.
type OperatorStore interface {
	// ListUsers returns a page of every account, oldest first; search
	// matches the username or the e-mail address.
	ListUsers(ctx context.Context, q model.ListQuery) ([]*model.User, bool, error)
	// SetUserFlag sets one operator-controlled state of a user and reports
	// whether it changed: false when it already had that value or the id
	// is unknown.
	SetUserFlag(ctx context.Context, id uuid.UUID, flag model.UserFlag, on bool) (bool, error)
	// DeleteUser deletes a user and, with it, everything the user owns
	// (sessions, keys, codes, history), and reports whether it existed.
	DeleteUser(ctx context.Context, id uuid.UUID) (bool, error)
}

// ResetTokenStore keeps password reset tokens (REST.md §7): a token's
// lookup prefix and digest only. A token is consumed by one conditional
// delete, so two concurrent uses cannot both succeed.
type ResetTokenStore interface {
	CreateResetToken(ctx context.Context, t *model.PasswordResetToken) error
	// ResetTokenCreatedSince reports whether userID has an unused token
	// created after since.
	ResetTokenCreatedSince(ctx context.Context, userID uuid.UUID, since time.Time) (bool, error)
	// ResetTokenByKeyStart returns the token with the lookup prefix,
	// expired or not.
	ResetTokenByKeyStart(ctx context.Context, keyStart string) (*model.PasswordResetToken, error)
	// ConsumeResetToken deletes the token unless it expired by now, and
	// reports whether it did: its single use.
	ConsumeResetToken(ctx context.Context, id uuid.UUID, now time.Time) (bool, error)
	// DeleteResetTokens deletes every token of userID and returns how
	// many.
	DeleteResetTokens(ctx context.Context, userID uuid.UUID) (int, error)
	// DeleteExpiredResetTokens deletes at most limit expired tokens and
	// returns how many.
	DeleteExpiredResetTokens(ctx context.Context, now time.Time, limit int) (int, error)
}

// EmailVerificationStore keeps the addresses waiting for their owner to
// open the link mailed to them (emailchange.go), at most one per account,
// with the token's lookup prefix and digest only; and sets what a
// confirmation proves.
type EmailVerificationStore interface {
	// ReplaceEmailVerification makes v its user's one pending
	// verification; an earlier one is deleted.
	ReplaceEmailVerification(ctx context.Context, v *model.EmailVerification) error
	// EmailVerificationByKeyStart returns the verification with the
	// lookup prefix, expired or not.
	EmailVerificationByKeyStart(ctx context.Context, keyStart string) (*model.EmailVerification, error)
	// PendingEmailVerification returns userID's verification unless it
	// expired by now.
	PendingEmailVerification(ctx context.Context, userID uuid.UUID, now time.Time) (*model.EmailVerification, error)
	// ConsumeEmailVerification deletes the verification unless it
	// expired by now, and reports whether it did: the link's single use.
	ConsumeEmailVerification(ctx context.Context, id uuid.UUID, now time.Time) (bool, error)
	// DeleteEmailVerifications deletes userID's verification and reports
	// whether there was one.
	DeleteEmailVerifications(ctx context.Context, userID uuid.UUID) (bool, error)
	// DeleteExpiredEmailVerifications deletes at most limit expired
	// verifications and returns how many.
	DeleteExpiredEmailVerifications(ctx context.Context, now time.Time, limit int) (int, error)
	// ConfirmEmail makes email the user's address, verified; a taken one
	// is a *model.DuplicateError.
	ConfirmEmail(ctx context.Context, id uuid.UUID, email string, now time.Time) error
	// SetEmailVerified marks the user's current address verified.
	SetEmailVerified(ctx context.Context, id uuid.UUID) error
}

// MailStore is the outbox as the service sees it: a mail is queued in the
// transaction of the change that causes it, so the two commit together or
// not at all; the sender (package mail) delivers it afterwards.
type MailStore interface {
	// EnqueueMail adds m to the outbox, due at once.
	EnqueueMail(ctx context.Context, m *model.Mail) error
}

// SecurityKeyStore keeps WebAuthn credentials (security keys and
// passkeys), the registrations in progress — pending keys, which hold their
// challenge and no credential — and the challenges of sign-in ceremonies.
// Every write that decides whether a challenge or a counter is accepted is
// conditional, reporting whether it took effect, so two concurrent uses
// cannot both succeed.
type SecurityKeyStore interface {
	// CreateSecurityKey inserts a pending key; a name the user already
	// uses is a *model.DuplicateError ("name").
	CreateSecurityKey(ctx context.Context, k *model.SecurityKey) error
	// DeletePendingSecurityKey deletes userID's pending key named name,
	// if there is one.
	DeletePendingSecurityKey(ctx context.Context, userID uuid.UUID, name string) error
	// CountSecurityKeys counts userID's keys, pending ones included, or
	// with configuredOnly those set up.
	CountSecurityKeys(ctx context.Context, userID uuid.UUID, configuredOnly bool) (int, error)
	// SecurityKeyByID returns one of userID's keys, pending or not.
	SecurityKeyByID(ctx context.Context, userID, id uuid.UUID) (*model.SecurityKey, error)
	// SecurityKeyByCredentialID returns the configured key holding a
	// credential.
	SecurityKeyByCredentialID(ctx context.Context, credentialID []byte) (*model.SecurityKey, error)
	// FinishSecurityKey stores the credential of k (CredentialID,
	// PublicKey, SignCount, flags, AAGUID, Transports, AttestationFormat)
	// in the pending key k.ID and reports whether it was still pending; a
	// credential ID any key holds is a *model.DuplicateError
	// ("credential_id").
	FinishSecurityKey(ctx context.Context, k *model.SecurityKey) (bool, error)
	// CredentialIDs returns the credential IDs of the configured keys of
	// the given users, oldest first.
	CredentialIDs(ctx context.Context, userIDs []uuid.UUID) ([][]byte, error)
	// ListSecurityKeys returns a page of userID's configured keys, oldest
	// first, and whether more follow; search matches the name.
	ListSecurityKeys(ctx context.Context, userID uuid.UUID, q model.ListQuery) ([]*model.SecurityKey, bool, error)
	// CountListedSecurityKeys counts userID's configured keys whose name
	// contains search.
	CountListedSecurityKeys(ctx context.Context, userID uuid.UUID, search string) (int, error)
	// RenameSecurityKey sets a key's name; a name the user already uses
	// is a *model.DuplicateError ("name").
	RenameSecurityKey(ctx context.Context, id uuid.UUID, name string) error
	// DeleteSecurityKey deletes one of userID's keys and reports whether
	// it existed.
	DeleteSecurityKey(ctx context.Context, userID, id uuid.UUID) (bool, error)
	// UseSecurityKey records a verified sign-in with key id: its counter,
	// backup state and last use, unless a counter at least as high was
	// recorded meanwhile (a counter of 0 stays acceptable while the
	// stored one is 0); it reports whether it wrote.
	UseSecurityKey(ctx context.Context, id uuid.UUID, signCount uint32, backupState bool, now time.Time) (bool, error)
	// DeletePendingSecurityKeys deletes at most limit pending keys whose
	// registration began before the given time, and returns how many.
	DeletePendingSecurityKeys(ctx context.Context, createdBefore time.Time, limit int) (int, error)

	// CreateCeremony stores a sign-in ceremony.
	CreateCeremony(ctx context.Context, c *model.SecurityKeyCeremony) error
	// ConsumeCeremony deletes a ceremony and returns it, or nil when it
	// was consumed already (or never existed).
	ConsumeCeremony(ctx context.Context, id uuid.UUID) (*model.SecurityKeyCeremony, error)
	// ConsumeCheckpointCeremony is ConsumeCeremony for the ceremony of a
	// confirmation token.
	ConsumeCheckpointCeremony(ctx context.Context, loginTokenID uuid.UUID) (*model.SecurityKeyCeremony, error)
	// DeleteCheckpointCeremonies deletes the ceremonies of a confirmation
	// token.
	DeleteCheckpointCeremonies(ctx context.Context, loginTokenID uuid.UUID) error
	// DeleteExpiredCeremonies deletes at most limit ceremonies expired at
	// now, and returns how many.
	DeleteExpiredCeremonies(ctx context.Context, now time.Time, limit int) (int, error)
}
