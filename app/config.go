package app

import (
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"accountd/account"
	"accountd/secret"
	"accountd/web"
)

// Config is the run-time configuration, read from the environment (see
// the README's table).
type Config struct {
	DatabaseURL          string
	ListenAddr           string
	AppURL               *url.URL
	AppName              string
	SessionCookie        string
	SessionDuration      time.Duration
	RegistrationEnabled  bool
	MaxAPIKeys           int
	AllowLanguageChange  bool
	TwoFactorRequirement account.TwoFactorRequirement
	TrustedProxies       []netip.Prefix
	RateLimit            bool
	// RateLimits are the per-IP limits by rule: client, login, checkpoint,
	// register (RATE_LIMIT_CLIENT, …).
	RateLimits           map[string]web.RateRule
	LogLevel             slog.Level
	LogFormat            string
	ShutdownTimeout      time.Duration
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
	// Argon2 overrides the password-hashing cost; nil means
	// secret.DefaultArgon2. Not settable from the environment: it exists
	// for tests that create many accounts.
	Argon2 *secret.Argon2Params
}

// LoadConfig reads the configuration through getenv and reports every bad
// value at once, naming the variable.
func LoadConfig(getenv func(string) string) (*Config, error) {
	var errs []string
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	boolean := func(name string, def bool) bool {
		v := get(name, strconv.FormatBool(def))
		switch strings.ToLower(v) {
		case "true", "1", "yes", "on":
			return true
		case "false", "0", "no", "off":
			return false
		}
		errs = append(errs, fmt.Sprintf("%s=%q: want true or false", name, v))
		return def
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := get(name, def.String())
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Sprintf("%s=%q: want a positive duration such as 168h", name, v))
			return def
		}
		return d
	}

	c := &Config{
		DatabaseURL:          get("DATABASE_URL", "sqlite:data/panel.db"),
		ListenAddr:           get("LISTEN_ADDR", "127.0.0.1:8000"),
		AppName:              get("APP_NAME", "Calagopus"),
		SessionCookie:        get("SESSION_COOKIE", "calagopus_session"),
		SessionDuration:      duration("SESSION_DURATION", 168*time.Hour),
		RegistrationEnabled:  boolean("REGISTRATION_ENABLED", true),
		AllowLanguageChange:  boolean("ALLOW_LANGUAGE_CHANGE", true),
		LogFormat:            get("LOG_FORMAT", "text"),
		ShutdownTimeout:      duration("SHUTDOWN_TIMEOUT", 30*time.Second),
		GraphQLIntrospection: boolean("GRAPHQL_INTROSPECTION", true),
		CleanupInterval:      duration("CLEANUP_INTERVAL", 10*time.Minute),
		ActivityRetention:    duration("ACTIVITY_RETENTION", 90*24*time.Hour),
	}

	for _, o := range strings.Split(getenv("CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			errs = append(errs, fmt.Sprintf("CORS_ORIGINS: %q is not an origin such as https://panel.example.com", o))
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, u.Scheme+"://"+u.Host)
	}

	switch env := strings.ToLower(get("APP_ENV", "production")); env {
	case "production":
	case "development":
		c.Development = true
	default:
		errs = append(errs, fmt.Sprintf("APP_ENV=%q: want production or development", env))
	}

	appURL := get("APP_URL", "http://localhost:8000")
	u, err := url.Parse(appURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("APP_URL=%q: want an absolute http:// or https:// URL", appURL))
		u, _ = url.Parse("http://localhost:8000")
	}
	c.AppURL = u

	// A session's last use is recorded at most every 30 s, so a shorter
	// lifetime would end sessions that are in constant use.
	if c.SessionDuration < time.Minute {
		errs = append(errs, fmt.Sprintf("SESSION_DURATION=%s: want at least 1m", c.SessionDuration))
	}

	if _, _, err := splitHostPort(c.ListenAddr); err != nil {
		errs = append(errs, fmt.Sprintf("LISTEN_ADDR=%q: want host:port", c.ListenAddr))
	}
	c.MetricsAddr = get("METRICS_ADDR", "")
	if _, _, err := splitHostPort(c.MetricsAddr); c.MetricsAddr != "" && err != nil {
		errs = append(errs, fmt.Sprintf("METRICS_ADDR=%q: want host:port", c.MetricsAddr))
	} else if c.MetricsAddr == c.ListenAddr {
		errs = append(errs, fmt.Sprintf("METRICS_ADDR=%q: same as LISTEN_ADDR; leave it empty to serve /metrics there", c.MetricsAddr))
	}

	if !validCookieName(c.SessionCookie) {
		errs = append(errs, fmt.Sprintf("SESSION_COOKIE=%q: not a valid cookie name", c.SessionCookie))
	}

	maxKeys := get("MAX_API_KEYS", "50")
	if n, err := strconv.Atoi(maxKeys); err != nil || n < 0 {
		errs = append(errs, fmt.Sprintf("MAX_API_KEYS=%q: want a whole number ≥ 0", maxKeys))
	} else {
		c.MaxAPIKeys = n
	}

	switch req := account.TwoFactorRequirement(get("TWO_FACTOR_REQUIREMENT", "none")); req {
	case account.TwoFactorNone, account.TwoFactorAdmins, account.TwoFactorAllUsers:
		c.TwoFactorRequirement = req
	default:
		errs = append(errs, fmt.Sprintf("TWO_FACTOR_REQUIREMENT=%q: want none, admins or all_users", req))
	}

	if c.TrustedProxies, err = web.ParseTrustedProxies(getenv("TRUSTED_PROXIES")); err != nil {
		errs = append(errs, fmt.Sprintf("TRUSTED_PROXIES: %v", err))
	}

	switch rl := strings.ToLower(get("RATE_LIMIT", "on")); rl {
	case "on", "true":
		c.RateLimit = true
	case "off", "false":
	default:
		errs = append(errs, fmt.Sprintf("RATE_LIMIT=%q: want on or off", rl))
	}
	// The defaults are the panel's (REST.md §2, §4).
	c.RateLimits = map[string]web.RateRule{}
	for _, r := range []struct{ name, env, def string }{
		{"client", "RATE_LIMIT_CLIENT", "360/30s"},
		{"login", "RATE_LIMIT_LOGIN", "20/5m"},
		{"checkpoint", "RATE_LIMIT_CHECKPOINT", "10/5m"},
		{"register", "RATE_LIMIT_REGISTER", "10/1h"},
	} {
		rule, err := web.ParseRateRule(get(r.env, r.def))
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", r.env, err))
			rule, _ = web.ParseRateRule(r.def)
		}
		c.RateLimits[r.name] = rule
	}

	lvl := get("LOG_LEVEL", "info")
	if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
		errs = append(errs, fmt.Sprintf("LOG_LEVEL=%q: want debug, info, warn or error", lvl))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Sprintf("LOG_FORMAT=%q: want text or json", c.LogFormat))
	}

	if len(errs) > 0 {
		return nil, fmt.Errorf("configuration: %s", strings.Join(errs, "; "))
	}
	return c, nil
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
