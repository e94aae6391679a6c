package app

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"accountd/account"
	"accountd/mail"
	"accountd/secret"
	"accountd/web"
)

// Config is the run-time configuration, read from the environment (see
// the README's table).
type Config struct {
	DatabaseURL         string
	ListenAddr          string
	AppURL              *url.URL
	AppName             string
	SessionCookie       string
	SessionDuration     time.Duration
	RegistrationEnabled bool
	MaxAPIKeys          int
	// HashConcurrency is how many password hashes may run at once. Each
	// holds its ~19 MiB for its duration, so this, not the number of
	// cores, bounds the memory of a burst of sign-ins.
	HashConcurrency      int
	AllowLanguageChange  bool
	TwoFactorRequirement account.TwoFactorRequirement
	TrustedProxies       []netip.Prefix
	RateLimit            bool
	// RateLimits are the per-IP limits by rule: client, login, checkpoint,
	// register (RATE_LIMIT_CLIENT, …).
	RateLimits      map[string]web.RateRule
	LogLevel        slog.Level
	LogFormat       string
	ShutdownTimeout time.Duration
	// ShutdownDrain is how long, after SIGTERM, /readyz answers 503 while
	// every other request is still served (SHUTDOWN_DRAIN), so that a load
	// balancer stops sending traffic before the listener closes; 0 skips it.
	ShutdownDrain        time.Duration
	GraphQLIntrospection bool
	// CORSOrigins are the browser origins, besides APP_URL, allowed to call
	// the APIs with credentials (CORS_ORIGINS); empty turns CORS off.
	CORSOrigins []string
	// Development turns on conveniences that describe the server to
	// whoever asks, such as GraphQL field suggestions (APP_ENV=development).
	Development bool
	// CleanupInterval is how often expired rows are deleted.
	CleanupInterval time.Duration
	// ActivityRetention is how long activity records are kept.
	ActivityRetention time.Duration
	// MetricsAddr, if set, is the separate address /metrics is served on
	// (METRICS_ADDR) instead of ListenAddr.
	MetricsAddr string
	// WebAuthn configures security keys and passkeys (WEBAUTHN_*,
	// MAX_SECURITY_KEYS; config_webauthn.go).
	WebAuthn WebAuthnConfig
	// Mail is how mail leaves the server (SMTP_URL, MAIL_FROM, MAIL_DIR,
	// MAIL_MAX_AGE, MAIL_TEMPLATES_DIR; config_mail.go).
	Mail mail.Config
	// EmailVerifyChanges and EmailVerifySignup are the address checks
	// (EMAIL_VERIFY_CHANGES, EMAIL_VERIFY_SIGNUP; config_email.go).
	EmailVerifyChanges bool
	EmailVerifySignup  bool
	// Argon2 overrides the password-hashing cost; nil means
	// secret.DefaultArgon2. Not settable from the environment: it exists
	// for tests that create many accounts.
	Argon2 *secret.Argon2Params
}

// LoadConfig reads the configuration through getenv and reports every bad
// value at once, naming the variable.
func LoadConfig(getenv func(string) string) (*Config, error) {
	env := &envReader{getenv: getenv}
	c := &Config{}
	env.loadServer(c)
	env.loadSessions(c)
	env.loadPanel(c)
	env.loadRateLimits(c)
	env.loadWebAuthn(c)
	env.loadLogging(c)
	env.loadMail(c)
	env.loadEmailChecks(c)
	if len(env.errs) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(env.errs, "; "))
	}
	return c, nil
}

// envReader reads variables and collects every bad value instead of
// stopping at the first, so an operator fixes them all in one go. A bad
// value yields the default, which is never used: LoadConfig then fails.
type envReader struct {
	getenv func(string) string
	errs   []string
}

func (e *envReader) fail(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

// str returns the trimmed value of name, or def when it is unset or blank.
func (e *envReader) str(name, def string) string {
	if v := strings.TrimSpace(e.getenv(name)); v != "" {
		return v
	}
	return def
}

func (e *envReader) boolean(name string, def bool) bool {
	v := e.str(name, strconv.FormatBool(def))
	switch strings.ToLower(v) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	e.fail("%s=%q: want true or false", name, v)
	return def
}

func (e *envReader) duration(name string, def time.Duration) time.Duration {
	v := e.str(name, def.String())
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		e.fail("%s=%q: want a positive duration such as 168h", name, v)
		return def
	}
	return d
}

// optionalDuration is duration for a step that 0 turns off: it accepts 0
// as well as positive values.
func (e *envReader) optionalDuration(name string, def time.Duration) time.Duration {
	v := e.str(name, def.String())
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.fail("%s=%q: want a duration such as 5s, or 0s for none", name, v)
		return def
	}
	return d
}

// loadServer reads where the server listens, what it calls itself and
// which browsers may call it.
func (e *envReader) loadServer(c *Config) {
	c.DatabaseURL = e.str("DATABASE_URL", "sqlite:data/panel.db")
	c.ListenAddr = e.str("LISTEN_ADDR", "127.0.0.1:8000")
	c.AppName = e.str("APP_NAME", "Calagopus")
	c.ShutdownTimeout = e.duration("SHUTDOWN_TIMEOUT", 30*time.Second)
	c.ShutdownDrain = e.optionalDuration("SHUTDOWN_DRAIN", 5*time.Second)
	c.GraphQLIntrospection = e.boolean("GRAPHQL_INTROSPECTION", true)

	if _, _, err := splitHostPort(c.ListenAddr); err != nil {
		e.fail("LISTEN_ADDR=%q: want host:port", c.ListenAddr)
	}
	c.MetricsAddr = e.str("METRICS_ADDR", "")
	if _, _, err := splitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		e.fail("METRICS_ADDR=%q: want host:port", c.MetricsAddr)
	} else if c.MetricsAddr == c.ListenAddr {
		e.fail("METRICS_ADDR=%q: same as LISTEN_ADDR; leave it empty to serve /metrics there", c.MetricsAddr)
	}

	appURL := e.str("APP_URL", "http://localhost:8000")
	u, err := url.Parse(appURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.fail("APP_URL=%q: want an absolute http:// or https:// URL", appURL)
		u, _ = url.Parse("http://localhost:8000")
	}
	c.AppURL = u

	for _, o := range strings.Split(e.getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			e.fail("CORS_ORIGINS: %q is not an origin such as https://panel.example.com", o)
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
	}

	switch env := strings.ToLower(e.str("APP_ENV", "production")); env {
	case "production":
	case "development":
		c.Development = true
	default:
		e.fail("APP_ENV=%q: want production or development", env)
	}

	var perr error
	if c.TrustedProxies, perr = web.ParseTrustedProxies(e.getenv("TRUSTED_PROXIES")); perr != nil {
		e.fail("TRUSTED_PROXIES: %v", perr)
	}
}

// loadSessions reads the cookie and how long sessions and their traces
// last.
func (e *envReader) loadSessions(c *Config) {
	c.SessionCookie = e.str("SESSION_COOKIE", "calagopus_session")
	if !validCookieName(c.SessionCookie) {
		e.fail("SESSION_COOKIE=%q: not a valid cookie name", c.SessionCookie)
	}
	c.SessionDuration = e.duration("SESSION_DURATION", 168*time.Hour)
	// A session's last use is recorded at most every 30 s, so a shorter
	// lifetime would end sessions that are in constant use.
	if c.SessionDuration < time.Minute {
		e.fail("SESSION_DURATION=%s: want at least 1m", c.SessionDuration)
	}
	c.CleanupInterval = e.duration("CLEANUP_INTERVAL", 10*time.Minute)

	hashes := e.str("HASH_CONCURRENCY", strconv.Itoa(defaultHashConcurrency()))
	if n, err := strconv.Atoi(hashes); err != nil || n < 1 || n > 64 {
		e.fail("HASH_CONCURRENCY=%q: want a whole number from 1 to 64", hashes)
	} else {
		c.HashConcurrency = n
	}
	c.ActivityRetention = e.duration("ACTIVITY_RETENTION", 90*24*time.Hour)
}

// defaultHashConcurrency is one hash per core, at most four: 4 × 19 MiB
// of argon2 memory at once, whatever the machine.
func defaultHashConcurrency() int { return min(runtime.GOMAXPROCS(0), 4) }

// loadPanel reads the panel settings the account rules depend on.
func (e *envReader) loadPanel(c *Config) {
	c.RegistrationEnabled = e.boolean("REGISTRATION_ENABLED", true)
	c.AllowLanguageChange = e.boolean("ALLOW_LANGUAGE_CHANGE", true)

	maxKeys := e.str("MAX_API_KEYS", "50")
	if n, err := strconv.Atoi(maxKeys); err != nil || n < 0 {
		e.fail("MAX_API_KEYS=%q: want a whole number ≥ 0", maxKeys)
	} else {
		c.MaxAPIKeys = n
	}

	switch req := account.TwoFactorRequirement(e.str("TWO_FACTOR_REQUIREMENT", "none")); req {
	case account.TwoFactorNone, account.TwoFactorAdmins, account.TwoFactorAllUsers:
		c.TwoFactorRequirement = req
	default:
		e.fail("TWO_FACTOR_REQUIREMENT=%q: want none, admins or all_users", req)
	}
}

// loadRateLimits reads the per-IP limits; the defaults are the panel's
// (REST.md §2, §4).
func (e *envReader) loadRateLimits(c *Config) {
	switch rl := strings.ToLower(e.str("RATE_LIMIT", "on")); rl {
	case "on", "true":
		c.RateLimit = true
	case "off", "false":
	default:
		e.fail("RATE_LIMIT=%q: want on or off", rl)
	}
	c.RateLimits = map[string]web.RateRule{}
	for _, r := range []struct{ name, env, def string }{
		{web.RateClient, "RATE_LIMIT_CLIENT", "360/30s"},
		{web.RateLogin, "RATE_LIMIT_LOGIN", "20/5m"},
		{web.RateCheckpoint, "RATE_LIMIT_CHECKPOINT", "10/5m"},
		{web.RateRegister, "RATE_LIMIT_REGISTER", "10/1h"},
		{web.RateForgot, "RATE_LIMIT_FORGOT", "10/1h"},
		{web.RateReset, "RATE_LIMIT_RESET", "10/5m"},
		{web.RateSecurityKey, "RATE_LIMIT_SECURITY_KEY", "10/5m"},
	} {
		rule, err := web.ParseRateRule(e.str(r.env, r.def))
		if err != nil {
			e.fail("%s: %v", r.env, err)
			rule, _ = web.ParseRateRule(r.def)
		}
		c.RateLimits[r.name] = rule
	}
	// One setting, three counters: each security-key options request has
	// its own, the two answers share one (REST.md §6.1).
	for _, name := range []string{web.RateSecurityKeyOptions, web.RateSecurityKeyDiscoverable} {
		c.RateLimits[name] = c.RateLimits[web.RateSecurityKey]
	}
}

func (e *envReader) loadLogging(c *Config) {
	lvl := e.str("LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
		e.fail("LOG_LEVEL=%q: want debug, info, warn or error", lvl)
	}
	c.LogFormat = e.str("LOG_FORMAT", "text")
	if c.LogFormat != "text" && c.LogFormat != "json" {
		e.fail("LOG_FORMAT=%q: want text or json", c.LogFormat)
	}
}

func splitHostPort(addr string) (string, int, error) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("missing port")
	}
	port, err := strconv.Atoi(addr[i+1:])
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port")
	}
	return addr[:i], port, nil
}

// validCookieName accepts RFC 6265 token characters.
func validCookieName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}
