// Package account is the service: every rule of the account API lives here
// once — validation, gates and permission checks, password verification,
// activity records, transactions — so the GraphQL and REST transports,
// which only decode, call and encode, can never disagree.
package account

import (
	"context"
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
	// EmailVerifyChanges makes an address change wait until the link
	// mailed to the new address is opened (EMAIL_VERIFY_CHANGES).
	EmailVerifyChanges bool
	// EmailVerifySignup mails a new account a link that confirms its
	// address (EMAIL_VERIFY_SIGNUP).
	EmailVerifySignup bool
	// ForgotLimit is the per-address limit of password reset requests
	// (RATE_LIMIT_FORGOT's numbers); zero means 10 an hour.
	ForgotLimit Limit
	// SecurityKeys configures WebAuthn (securitykeys.go).
	SecurityKeys SecurityKeyConfig
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

	resetTokens        ResetTokenStore
	emailVerifications EmailVerificationStore
	// LimitIP, if set, counts a request of the client in ctx against the
	// per-IP limit named rule and refuses it once over: the limits the
	// service applies itself, where the contract ranks them after
	// validation (RateForgot, RateReset, the security-key sign-in's).
	LimitIP func(ctx context.Context, rule string) error
	// background tracks the work started after an answer (Wait).
	background sync.WaitGroup
	// Background, if set, is given that work to run instead of a new
	// goroutine: tests hold it back to see what an answer itself cost.
	Background func(run func())

	// securityKeys keeps WebAuthn credentials and ceremonies.
	securityKeys SecurityKeyStore
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
	if cfg.ForgotLimit.Hits <= 0 || cfg.ForgotLimit.Window <= 0 {
		cfg.ForgotLimit = Limit{Hits: 10, Window: time.Hour}
	}
	return &Service{tx: st.Tx, users: st.Users, sessions: st.Sessions, apiKeys: st.APIKeys,
		twoFactor: st.TwoFactor, activities: st.Activities, attempts: st.Attempts, throttle: st.Throttle, operators: st.Operators, mail: st.Mail, hasher: hasher, catalog: catalog, cfg: cfg, log: log,
		resetTokens: st.ResetTokens, emailVerifications: st.EmailVerifications,
		securityKeys: st.SecurityKeys, Now: func() time.Time { return time.Now() }}
}

// now is the service clock in UTC at the precision both engines store.
func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// Config returns the settings the service runs with.
func (s *Service) Config() Config { return s.cfg }

// newID returns a time-ordered UUID (v7), which keeps inserts into the
// primary-key indexes local.
func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }
