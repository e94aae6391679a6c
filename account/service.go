// Package account is the service: every rule of the account API lives here
// once — validation, gates and permission checks, password verification,
// activity records, transactions — so the GraphQL and REST transports,
// which only decode, call and encode, can never disagree.
package account

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// Store is what the service needs from storage. Lookups return nil (and no
// error) when nothing matches; unique violations come back as
// *model.DuplicateError. InTx carries a transaction in the context it
// passes to fn, and every method called with that context joins it.
type Store interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error

	CreateUser(ctx context.Context, u *model.User, firstIsAdmin bool) error
	UserByID(ctx context.Context, id uuid.UUID) (*model.User, error)
	UserByLogin(ctx context.Context, login string, byEmail bool) (*model.User, error)
	UpdateUser(ctx context.Context, id uuid.UUID, p model.UserPatch, now time.Time) error
	SetEmail(ctx context.Context, id uuid.UUID, email string, now time.Time) error
	SetPasswordHash(ctx context.Context, id uuid.UUID, hash string, now time.Time) error
	UpgradePasswordHash(ctx context.Context, id uuid.UUID, old, hash string) error

	CreateSession(ctx context.Context, s *model.Session) error
	SessionByKeyStart(ctx context.Context, keyStart string) (*model.Session, *model.User, error)
	TouchSession(ctx context.Context, id uuid.UUID, ip, userAgent string, now, since time.Time) (bool, error)
	DeleteSession(ctx context.Context, userID, id uuid.UUID) (bool, error)
	DeleteOtherSessions(ctx context.Context, userID uuid.UUID, keep *uuid.UUID) (int, error)
	DeleteSessionReturning(ctx context.Context, userID, id uuid.UUID) (*model.Session, error)
	ListSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, q model.ListQuery) ([]*model.Session, bool, error)
	CountSessions(ctx context.Context, userID uuid.UUID, activeSince time.Time, search string) (int, error)
	DeleteIdleSessions(ctx context.Context, lastUsedBefore time.Time, limit int) (int, error)
	CreateLoginToken(ctx context.Context, t *model.LoginToken) error
	DeleteLoginTokens(ctx context.Context, userID uuid.UUID) error
	DeleteExpiredLoginTokens(ctx context.Context, now time.Time, limit int) (int, error)

	APIKeyByKeyStart(ctx context.Context, keyStart string) (*model.APIKey, *model.User, error)
	TouchAPIKey(ctx context.Context, id uuid.UUID, now, since time.Time) error
	DeleteAPIKeys(ctx context.Context, userID uuid.UUID) (int, error)
	CreateAPIKey(ctx context.Context, k *model.APIKey) error
	CountLiveAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time) (int, error)
	APIKeyByID(ctx context.Context, userID, id uuid.UUID, now time.Time) (*model.APIKey, error)
	UserAPIKeyByKeyStart(ctx context.Context, userID uuid.UUID, keyStart string, now time.Time) (*model.APIKey, error)
	ListAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time, q model.ListQuery) ([]*model.APIKey, bool, error)
	CountAPIKeys(ctx context.Context, userID uuid.UUID, now time.Time, search string) (int, error)
	UpdateAPIKey(ctx context.Context, id uuid.UUID, p model.APIKeyPatch) error
	ReplaceAPIKeySecret(ctx context.Context, id uuid.UUID, keyStart string, digest []byte) error
	DeleteAPIKey(ctx context.Context, userID, id uuid.UUID) (bool, error)
	DeleteExpiredAPIKeys(ctx context.Context, userID *uuid.UUID, now time.Time, limit int) (int, error)
	// LockUser serialises, until the transaction ends, the writes of one
	// user that must see each other (quota checks).
	LockUser(ctx context.Context, id uuid.UUID) error

	SetPendingTOTPSecret(ctx context.Context, userID uuid.UUID, secret string) (bool, error)
	EnableTwoFactor(ctx context.Context, userID uuid.UUID, secret string, step int64, now time.Time, salt []byte) (bool, error)
	UseTOTPStep(ctx context.Context, userID uuid.UUID, step int64, now time.Time) (bool, error)
	DisableTwoFactor(ctx context.Context, userID uuid.UUID, now time.Time) (bool, error)
	ReplaceRecoveryCodes(ctx context.Context, userID uuid.UUID, salt []byte, digests [][]byte, now time.Time) error
	UseRecoveryCode(ctx context.Context, userID uuid.UUID, digest []byte) (bool, error)
	LoginTokenByKeyStart(ctx context.Context, keyStart string) (*model.LoginToken, *model.User, error)
	CountLoginTokenAttempt(ctx context.Context, id uuid.UUID, max int) (bool, error)
	ConsumeLoginToken(ctx context.Context, id uuid.UUID) (bool, error)
	// LockAttempts returns a user's attempt counter, created on first use
	// and locked until the transaction ends; SaveAttempts writes it back.
	LockAttempts(ctx context.Context, userID uuid.UUID, now time.Time) (*model.AttemptCounter, error)
	SaveAttempts(ctx context.Context, c *model.AttemptCounter) error

	RecordActivity(ctx context.Context, a *model.Activity) error
	ListActivities(ctx context.Context, userID uuid.UUID, q model.ListQuery) ([]*model.Activity, bool, error)
	CountActivities(ctx context.Context, userID uuid.UUID, search string) (int, error)
	DeleteActivitiesBefore(ctx context.Context, before time.Time, limit int) (int, error)
	CountRecoveryCodes(ctx context.Context, userID uuid.UUID) (int, error)
}

// TwoFactorRequirement is the panel-wide two-factor policy.
type TwoFactorRequirement string

// The policies of TWO_FACTOR_REQUIREMENT.
const (
	TwoFactorNone     TwoFactorRequirement = "none"
	TwoFactorAdmins   TwoFactorRequirement = "admins"
	TwoFactorAllUsers TwoFactorRequirement = "all_users"
)

// Config holds the panel settings the rules depend on.
type Config struct {
	AppName              string
	SessionDuration      time.Duration
	RegistrationEnabled  bool
	MaxAPIKeys           int
	AllowLanguageChange  bool
	TwoFactorRequirement TwoFactorRequirement
	// ActivityRetention is how long activity records are kept.
	ActivityRetention time.Duration
}

// touchInterval is how stale a credential's last-use record may get before
// a request refreshes it: reads stay free of writes, and the record (and a
// session's idle expiry) is never off by more than this.
const touchInterval = 30 * time.Second

// loginTokenLifetime is how long a two-factor confirmation token lives.
const loginTokenLifetime = 5 * time.Minute

// Service implements the account API.
type Service struct {
	store   Store
	hasher  *secret.PasswordHasher
	catalog *model.PermissionCatalog
	cfg     Config
	log     *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
	// OnAttemptRefused, if set, is told of each password or code check
	// the account's attempt budget refused (metrics).
	OnAttemptRefused func()
}

// New returns a Service.
func New(store Store, hasher *secret.PasswordHasher, catalog *model.PermissionCatalog, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	if cfg.SessionDuration <= 0 {
		cfg.SessionDuration = 7 * 24 * time.Hour
	}
	if cfg.ActivityRetention <= 0 {
		cfg.ActivityRetention = 90 * 24 * time.Hour
	}
	return &Service{store: store, hasher: hasher, catalog: catalog, cfg: cfg, log: log,
		Now: func() time.Time { return time.Now() }}
}

// now is the service clock in UTC at the precision both engines store.
func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Config returns the settings the service runs with.
func (s *Service) Config() Config { return s.cfg }

// record writes an activity event for the actor's user. Call it with the
// context of the transaction that makes the change, so both commit or
// neither does. data must never hold a secret.
func (s *Service) record(ctx context.Context, userID uuid.UUID, actor *model.Actor, ip netip.Addr, event string, data any) error {
	a := &model.Activity{ID: newID(), UserID: userID, Event: event, Created: s.now()}
	if actor != nil && actor.APIKey != nil {
		id := actor.APIKey.ID
		a.APIKeyID = &id
	}
	if ip.IsValid() {
		str := ip.String()
		a.IP = &str
	}
	if data != nil {
		b, err := marshalData(data)
		if err != nil {
			return fmt.Errorf("activity %s: %w", event, err)
		}
		a.Data = b
	}
	return s.store.RecordActivity(ctx, a)
}

// newID returns a time-ordered UUID (v7), which keeps inserts into the
// primary-key indexes local.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
