package web

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRateRules: the sign-in, checkpoint and sign-up operations count
// against their own limit in both transports, everything else against the
// client limit (REST) or no extra limit (GraphQL fields).
func TestRateRules(t *testing.T) {
	rest := map[string]string{
		"/api/auth/login":                 RateLogin,
		"/api/auth/login/checkpoint":      RateCheckpoint,
		"/api/auth/register":              RateRegister,
		"/api/client/account":             RateClient,
		"/api/auth/login/":                RateClient,
		"/api/client/account/api-keys/x":  RateClient,
		"/api/auth/login/checkpoint/more": RateClient,
		"/api/auth/verify":                "",
		"/api/auth/verify/":               RateClient,
		// The service limits the security-key sign-in itself.
		"/api/auth/login/security-key":              "",
		"/api/auth/login/security-key/discoverable": "",
		"/api/auth/login/checkpoint/security-key":   "",
		"/api/auth/login/security-key/other":        RateClient,
		// And the password reset's request and completion; the address
		// confirmation counts against the client limit.
		"/api/auth/password/forgot": "",
		"/api/auth/password/reset":  "",
		"/api/auth/email/confirm":   RateClient,
	}
	for path, want := range rest {
		if got := RESTRateRule(httptest.NewRequest(http.MethodPost, path, nil)); got != want {
			t.Errorf("RESTRateRule(%s) = %q, want %q", path, got, want)
		}
	}
	graphQL := map[string]string{
		"login": RateLogin, "loginCheckpoint": RateCheckpoint, "register": RateRegister,
		"logout": "", "changePassword": "", "": "",
		"requestPasswordReset": "", "resetPassword": "", "confirmEmailChange": "",
	}
	for field, want := range graphQL {
		if got := GraphQLRateRule(field); got != want {
			t.Errorf("GraphQLRateRule(%q) = %q, want %q", field, got, want)
		}
	}
	ops := RateLimitedOperations()
	if len(ops) != 3 {
		t.Fatalf("RateLimitedOperations() has %d rows, want 3", len(ops))
	}
	ops[0].Rule = "changed"
	if RateLimitedOperations()[0].Rule == "changed" {
		t.Error("RateLimitedOperations returns the table itself, not a copy")
	}
}
