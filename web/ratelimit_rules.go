package web

import (
	"net/http"

	"accountd/account"
)

// The names of the per-IP limits: the keys of RateLimiter.Rules, configured
// as RATE_LIMIT_CLIENT, RATE_LIMIT_LOGIN, … (REST.md §2).
const (
	RateClient     = "client"
	RateLogin      = "login"
	RateCheckpoint = account.RateCheckpoint
	RateRegister   = "register"

	// The security-key sign-in's limits, all set by
	// RATE_LIMIT_SECURITY_KEY: each options request has a counter of its
	// own, the two answers share one (REST.md §6.1).
	RateSecurityKey             = account.RateSecurityKey
	RateSecurityKeyOptions      = account.RateSecurityKeyOptions
	RateSecurityKeyDiscoverable = account.RateSecurityKeyDiscoverable

	// The password reset's limits (RATE_LIMIT_FORGOT, RATE_LIMIT_RESET),
	// counted by the service after validation (REST.md §7).
	RateForgot = account.RateForgot
	RateReset  = account.RateReset
)

// serviceLimitedPaths are the routes whose per-IP limit the service
// applies itself (account.Service.LimitIP), after the refusals the
// contract ranks before it (REST.md §6.6: a body that does not parse,
// security keys off, username-less sign-in off), so the middleware
// counts them against no limit: the security-key sign-in's options and
// answers, and the checkpoint's options for a key, which count against
// the checkpoint's limit.
var serviceLimitedPaths = [...]string{
	"/api/auth/login/security-key",
	"/api/auth/login/security-key/discoverable",
	"/api/auth/login/checkpoint/security-key",
	// The password reset's request and completion (REST.md §7: body,
	// validation, then the limit). The address confirmation has no limit
	// of its own, only the client limit: its token is as unguessable as a
	// session's.
	"/api/auth/password/forgot",
	"/api/auth/password/reset",
}

// operationLimits is the one table of the operations that count against a
// per-IP limit of their own: sign-in, the two-factor checkpoint and
// sign-up, the ones that guess passwords or create accounts. Each row names
// the operation as both transports expose it, the REST route and the
// GraphQL mutation field, so that neither can limit it differently from the
// other; tests in rest/ and graph/ hold the names to their routes and
// schema.
var operationLimits = [...]RateLimitedOperation{
	{RateLogin, "/api/auth/login", "login"},
	{RateCheckpoint, "/api/auth/login/checkpoint", "loginCheckpoint"},
	{RateRegister, "/api/auth/register", "register"},
}

// ForwardAuthPath is the forward-auth check (ours), which counts against
// no per-IP limit: a proxy asks it once per request of the app it protects,
// assets included, so counting it would spend the client's API budget on
// page loads, and nginx's auth_request turns a 429 into a 500. It costs
// one indexed query and no write, and a proxy can limit what reaches it.
const ForwardAuthPath = "/api/auth/verify"

// RESTRateRule names the per-IP limit a REST request counts against: its
// operation's own, none for the forward-auth check and for the routes the
// service limits itself, or the client limit for every other route. (A REST sign-in counts against its own limit only; the
// client limit is for everything else.)
func RESTRateRule(r *http.Request) string {
	if r.URL.Path == ForwardAuthPath {
		return ""
	}
	for _, p := range serviceLimitedPaths {
		if r.URL.Path == p {
			return ""
		}
	}
	for _, op := range operationLimits {
		if r.URL.Path == op.RESTPath {
			return op.Rule
		}
	}
	return RateClient
}

// GraphQLRateRule names the per-IP limit a GraphQL mutation field counts
// against, or "" for none. It comes on top of the client limit, which
// every /graphql request counts against (one request may hold several
// fields).
func GraphQLRateRule(mutationField string) string {
	for _, op := range operationLimits {
		if mutationField == op.GraphQLField {
			return op.Rule
		}
	}
	return ""
}

// RateLimitedOperation is one operation with a per-IP limit of its own:
// the limit's name and the operation's name in each transport.
type RateLimitedOperation struct {
	Rule, RESTPath, GraphQLField string
}

// RateLimitedOperations lists the table, for the transports' tests that
// hold its names to their routes and schema.
func RateLimitedOperations() []RateLimitedOperation {
	return append([]RateLimitedOperation(nil), operationLimits[:]...)
}
