package app_test

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"accountd/account"
	"accountd/app"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "sqlite:data/panel.db" || c.ListenAddr != "127.0.0.1:8000" || c.AppURL.String() != "http://localhost:8000" ||
		c.AppName != "Calagopus" || c.SessionCookie != "calagopus_session" || c.SessionDuration != 168*time.Hour ||
		!c.RegistrationEnabled || c.MaxAPIKeys != 50 || !c.AllowLanguageChange ||
		c.TwoFactorRequirement != account.TwoFactorNone || len(c.TrustedProxies) != 0 || !c.RateLimit ||
		c.LogLevel.String() != "INFO" || c.LogFormat != "text" || c.ShutdownTimeout != 30*time.Second ||
		c.HashConcurrency != min(runtime.GOMAXPROCS(0), 4) {
		t.Fatalf("defaults differ from the documented table: %+v", c)
	}
}

func TestConfigValues(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(map[string]string{
		"DATABASE_URL": "postgres://u@h/db", "LISTEN_ADDR": "0.0.0.0:9000", "APP_URL": "https://panel.example.com",
		"SESSION_DURATION": "24h", "REGISTRATION_ENABLED": "false", "MAX_API_KEYS": "5", "ALLOW_LANGUAGE_CHANGE": "0",
		"TWO_FACTOR_REQUIREMENT": "admins", "TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1", "RATE_LIMIT": "off",
		"LOG_LEVEL": "debug", "LOG_FORMAT": "json", "HASH_CONCURRENCY": "2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.AppURL.Scheme != "https" || c.SessionDuration != 24*time.Hour || c.RegistrationEnabled || c.MaxAPIKeys != 5 ||
		c.AllowLanguageChange || c.TwoFactorRequirement != account.TwoFactorAdmins || len(c.TrustedProxies) != 2 ||
		c.TrustedProxies[1].String() != "192.0.2.1/32" || c.RateLimit || c.LogFormat != "json" || c.HashConcurrency != 2 {
		t.Fatalf("values not taken: %+v", c)
	}
}

func TestConfigErrorsNameEveryBadVariable(t *testing.T) {
	t.Parallel()
	bad := map[string]string{
		"SESSION_DURATION": "a week", "REGISTRATION_ENABLED": "maybe", "MAX_API_KEYS": "-1",
		"TWO_FACTOR_REQUIREMENT": "some", "TRUSTED_PROXIES": "not-an-ip", "RATE_LIMIT": "sometimes",
		"LOG_LEVEL": "loud", "LOG_FORMAT": "xml", "APP_URL": "ftp://x", "LISTEN_ADDR": "nowhere",
		"SESSION_COOKIE": "bad name;", "HASH_CONCURRENCY": "0",
	}
	_, err := app.LoadConfig(env(bad))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
	for _, tc := range []struct{ name, value string }{{"MAX_API_KEYS", "x"}, {"HASH_CONCURRENCY", "65"}, {"HASH_CONCURRENCY", "x"}, {"SESSION_DURATION", "-5m"}, {"SESSION_DURATION", "59s"}, {"SHUTDOWN_TIMEOUT", "0s"}} {
		if _, err := app.LoadConfig(env(map[string]string{tc.name: tc.value})); err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: err = %v", tc.name, tc.value, err)
		}
	}
}

// TestConfigShutdownDrain: SHUTDOWN_DRAIN defaults to 5s, takes 0s to skip
// the drain, and a bad or negative value is reported by name.
func TestConfigShutdownDrain(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		value string
		want  time.Duration
	}{{"", 5 * time.Second}, {"0s", 0}, {"0", 0}, {"1500ms", 1500 * time.Millisecond}, {" 20s ", 20 * time.Second}} {
		c, err := app.LoadConfig(env(map[string]string{"SHUTDOWN_DRAIN": tc.value}))
		if err != nil {
			t.Errorf("SHUTDOWN_DRAIN=%q: %v", tc.value, err)
			continue
		}
		if c.ShutdownDrain != tc.want {
			t.Errorf("SHUTDOWN_DRAIN=%q: %v, want %v", tc.value, c.ShutdownDrain, tc.want)
		}
	}
	for _, bad := range []string{"soon", "-1s", "5"} {
		_, err := app.LoadConfig(env(map[string]string{"SHUTDOWN_DRAIN": bad, "LOG_LEVEL": "loud"}))
		if err == nil || !strings.Contains(err.Error(), "SHUTDOWN_DRAIN") {
			t.Errorf("SHUTDOWN_DRAIN=%q: err = %v, want it named", bad, err)
		} else if !strings.Contains(err.Error(), "LOG_LEVEL") {
			t.Errorf("SHUTDOWN_DRAIN=%q: the other bad variable is not reported too: %v", bad, err)
		}
	}
}
