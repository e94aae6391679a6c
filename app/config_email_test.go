package app_test

import (
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/web"
)

// EMAIL_VERIFY_CHANGES follows SMTP_URL unless set; EMAIL_VERIFY_SIGNUP is
// off unless set; the password reset's limits default to the panel's.
func TestConfigEmailChecks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env             map[string]string
		changes, signup bool
	}{
		{nil, false, false},
		{map[string]string{"SMTP_URL": "smtp://relay.example.com:587"}, true, false},
		{map[string]string{"SMTP_URL": "smtp://relay.example.com:587", "EMAIL_VERIFY_CHANGES": "false"}, false, false},
		{map[string]string{"EMAIL_VERIFY_CHANGES": "true", "EMAIL_VERIFY_SIGNUP": "yes"}, true, true},
		{map[string]string{"SMTP_URL": "  ", "EMAIL_VERIFY_SIGNUP": "1"}, false, true},
	} {
		c, err := app.LoadConfig(env(tc.env))
		if err != nil {
			t.Fatalf("%v: %v", tc.env, err)
		}
		if c.EmailVerifyChanges != tc.changes || c.EmailVerifySignup != tc.signup {
			t.Errorf("%v: changes %v signup %v, want %v %v", tc.env, c.EmailVerifyChanges, c.EmailVerifySignup, tc.changes, tc.signup)
		}
	}

	c, err := app.LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimits[web.RateForgot] != (web.RateRule{Limit: 10, Window: time.Hour}) ||
		c.RateLimits[web.RateReset] != (web.RateRule{Limit: 10, Window: 5 * time.Minute}) {
		t.Errorf("reset limits %+v %+v", c.RateLimits[web.RateForgot], c.RateLimits[web.RateReset])
	}
	c, err = app.LoadConfig(env(map[string]string{"RATE_LIMIT_FORGOT": "3/10m", "RATE_LIMIT_RESET": "5/1m"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimits[web.RateForgot] != (web.RateRule{Limit: 3, Window: 10 * time.Minute}) ||
		c.RateLimits[web.RateReset] != (web.RateRule{Limit: 5, Window: time.Minute}) {
		t.Errorf("reset limits %+v %+v", c.RateLimits[web.RateForgot], c.RateLimits[web.RateReset])
	}
}

// Each bad value stops the start, naming its variable.
func TestConfigEmailChecksErrors(t *testing.T) {
	t.Parallel()
	bad := map[string]string{"EMAIL_VERIFY_CHANGES": "sometimes", "EMAIL_VERIFY_SIGNUP": "maybe",
		"RATE_LIMIT_FORGOT": "ten an hour", "RATE_LIMIT_RESET": "0/5m"}
	_, err := app.LoadConfig(env(bad))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
		_, err := app.LoadConfig(env(map[string]string{name: bad[name]}))
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%q alone: %v", name, bad[name], err)
		}
	}
}
