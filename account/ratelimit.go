package account

import "context"

// The per-IP limits the service counts itself, through LimitIP, rather
// than the HTTP middleware: the contract ranks other refusals before them,
// so a request refused for those costs nothing. The names are the rules of
// the RATE_LIMIT_* settings (web's table of limits uses these constants).
const (
	// RateForgot and RateReset are the password reset's limits
	// (RATE_LIMIT_FORGOT, RATE_LIMIT_RESET), counted once the input has
	// passed validation (REST.md §7).
	RateForgot = "forgot"
	RateReset  = "reset"

	// The security-key sign-in's limits (RATE_LIMIT_SECURITY_KEY): each
	// options request has a counter of its own, the two answers share one
	// (REST.md §6.1), counted after the refusals §6.6 ranks before them
	// (security keys off, username-less sign-in off).
	RateSecurityKey             = "security_key"
	RateSecurityKeyOptions      = "security_key_options"
	RateSecurityKeyDiscoverable = "security_key_discoverable"

	// RateCheckpoint is the two-factor checkpoint's limit
	// (RATE_LIMIT_CHECKPOINT), which the checkpoint's security-key
	// options request counts against too.
	RateCheckpoint = "checkpoint"
)

// limitIP counts the request against a per-IP limit, when the transport
// set one.
func (s *Service) limitIP(ctx context.Context, rule string) error {
	if s.LimitIP == nil {
		return nil
	}
	return s.LimitIP(ctx, rule)
}
