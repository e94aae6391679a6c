// Package account is the service: every rule of the account API lives here
// once — validation, gates and permission checks, password verification,
// activity records, transactions — so the GraphQL and REST transports,
// which only decode, call and encode, can never disagree.
package account

import (
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

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
	AppName string
	// AppURL is the public URL the links of mails start with.
	AppURL               string
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
	tx         Transactor
	users      UserStore
	sessions   SessionStore
	apiKeys    APIKeyStore
	twoFactor  TwoFactorStore
	activities ActivityStore
	attempts   AttemptStore
	throttle   ThrottleStore
	operators  OperatorStore
	mail       MailStore
	hasher     *secret.PasswordHasher
	catalog    *model.PermissionCatalog
	cfg        Config
	log        *slog.Logger
	// Now is the clock; tests replace it.
	Now func() time.Time
	// OnAttemptRefused, if set, is told of each password or code check
	// the account's attempt budget refused (metrics).
	OnAttemptRefused func()
	// deviceStripes serialise the checks of one device (devices.go).
	deviceStripes [64]sync.Mutex
}

// New returns a Service on the given stores; each must be set.
func New(st Stores, hasher *secret.PasswordHasher, catalog *model.PermissionCatalog, cfg Config, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	if cfg.SessionDuration <= 0 {
		cfg.SessionDuration = 7 * 24 * time.Hour
	}
	if cfg.ActivityRetention <= 0 {
		cfg.ActivityRetention = 90 * 24 * time.Hour
	}
	return &Service{tx: st.Tx, users: st.Users, sessions: st.Sessions, apiKeys: st.APIKeys,
		twoFactor: st.TwoFactor, activities: st.Activities, attempts: st.Attempts, throttle: st.Throttle, operators: st.Operators, mail: st.Mail, hasher: hasher, catalog: catalog, cfg: cfg, log: log,
		Now: func() time.Time { return time.Now() }}
}

// now is the service clock in UTC at the precision both engines store.
func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Config returns the settings the service runs with.
func (s *Service) Config() Config { return s.cfg }

// newID returns a time-ordered UUID (v7), which keeps inserts into the
// primary-key indexes local.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
