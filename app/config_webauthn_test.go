package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/db/dbtest"
	"accountd/web"
)

// TestConfigWebAuthnDefaults: security keys on, RP ID and origin from
// APP_URL, the documented limits.
func TestConfigWebAuthnDefaults(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	w := c.WebAuthn
	if !w.Enabled || !w.AllowDiscoverable || w.RPID != "localhost" || !slices.Equal(w.Origins, []string{"http://localhost:8000"}) ||
		w.Timeout != 5*time.Minute || w.MaxKeys != 50 || w.Unusable != "" || !w.On() {
		t.Fatalf("defaults differ from the documented table: %+v", w)
	}
	want := web.RateRule{Limit: 10, Window: 5 * time.Minute}
	for _, r := range []string{web.RateSecurityKey, web.RateSecurityKeyOptions, web.RateSecurityKeyDiscoverable} {
		if c.RateLimits[r] != want {
			t.Errorf("rate limit %s = %+v, want 10/5m", r, c.RateLimits[r])
		}
	}
}

func TestConfigWebAuthnValues(t *testing.T) {
	t.Parallel()
	c, err := app.LoadConfig(env(map[string]string{
		"APP_URL": "https://panel.example.com", "WEBAUTHN_ENABLED": "true", "WEBAUTHN_ALLOW_DISCOVERABLE": "false",
		"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_RP_ORIGINS": "https://panel.example.com, https://example.com/",
		"WEBAUTHN_TIMEOUT": "2m", "MAX_SECURITY_KEYS": "3", "RATE_LIMIT_SECURITY_KEY": "4/1m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	w := c.WebAuthn
	if w.AllowDiscoverable || w.RPID != "example.com" || !slices.Equal(w.Origins, []string{"https://panel.example.com", "https://example.com"}) ||
		w.Timeout != 2*time.Minute || w.MaxKeys != 3 || !w.On() {
		t.Fatalf("values not taken: %+v", w)
	}
	if r := c.RateLimits[web.RateSecurityKeyDiscoverable]; r.Limit != 4 || r.Window != time.Minute {
		t.Errorf("RATE_LIMIT_SECURITY_KEY not taken: %+v", r)
	}
	c, err = app.LoadConfig(env(map[string]string{"WEBAUTHN_ENABLED": "false", "APP_URL": "http://127.0.0.1:8000"}))
	if err != nil || c.WebAuthn.Enabled || c.WebAuthn.On() {
		t.Errorf("WEBAUTHN_ENABLED=false: %+v %v", c.WebAuthn, err)
	}
}

// TestConfigWebAuthnErrors: a bad value set explicitly stops start-up,
// naming the variable.
func TestConfigWebAuthnErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, value string }{
		{"WEBAUTHN_ENABLED", "maybe"}, {"WEBAUTHN_ALLOW_DISCOVERABLE", "2"},
		{"WEBAUTHN_RP_ID", "192.168.1.10"}, {"WEBAUTHN_RP_ID", "Example.COM"}, {"WEBAUTHN_RP_ID", "bad_domain"},
		{"WEBAUTHN_RP_ORIGINS", "http://panel.example.com"}, {"WEBAUTHN_RP_ORIGINS", "https://localhost.evil"},
		{"WEBAUTHN_RP_ORIGINS", "localhost"}, {"WEBAUTHN_TIMEOUT", "10s"}, {"WEBAUTHN_TIMEOUT", "11m"}, {"WEBAUTHN_TIMEOUT", "soon"},
		{"MAX_SECURITY_KEYS", "-1"}, {"MAX_SECURITY_KEYS", "x"}, {"RATE_LIMIT_SECURITY_KEY", "ten"},
	} {
		_, err := app.LoadConfig(env(map[string]string{tc.name: tc.value}))
		if err == nil || !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s=%q: err = %v, want one naming the variable", tc.name, tc.value, err)
		}
	}
	// An origin that is not on the RP ID's domain.
	_, err := app.LoadConfig(env(map[string]string{"WEBAUTHN_RP_ID": "example.com", "WEBAUTHN_RP_ORIGINS": "https://example.org"}))
	if err == nil || !strings.Contains(err.Error(), "WEBAUTHN_RP_ORIGINS") {
		t.Errorf("an origin off the RP ID: %v", err)
	}
}

// TestConfigWebAuthnDerivedUnusable: an APP_URL WebAuthn cannot use (an IP
// address) starts the server with security keys off and one warning; the
// routes answer 400 security keys are disabled.
func TestConfigWebAuthnDerivedUnusable(t *testing.T) {
	t.Parallel()
	for _, appURL := range []string{"http://127.0.0.1:8000", "http://panel.example.com"} {
		c, err := app.LoadConfig(env(map[string]string{"APP_URL": appURL}))
		if err != nil {
			t.Fatalf("APP_URL=%s: %v", appURL, err)
		}
		if c.WebAuthn.Unusable == "" || c.WebAuthn.On() {
			t.Errorf("APP_URL=%s: %+v, want security keys off", appURL, c.WebAuthn)
		}
	}
	e := dbtest.Engines(t)[0]
	c, err := app.LoadConfig(env(map[string]string{"APP_URL": "http://127.0.0.1:8000", "DATABASE_URL": e.URL}))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a, err := app.New(context.Background(), c, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if n := strings.Count(logs.String(), "security keys are off"); n != 1 || !strings.Contains(logs.String(), "WEBAUTHN_RP_ID") {
		t.Errorf("%d warnings, want 1 naming the fix:\n%s", n, logs.String())
	}
	ts := httptest.NewServer(a.Handler())
	defer ts.Close()
	res, err := http.Get(ts.URL + "/api/auth/login/security-key/discoverable")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(res.Body) //nolint:errcheck
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body.String(), "security keys are disabled") {
		t.Errorf("%d %s", res.StatusCode, body.String())
	}
}
