package app

import (
	"log/slog"

	"accountd/account"
	"accountd/metrics"
	"accountd/passkey"
)

// securityKeys builds the service's WebAuthn configuration: the relying
// party while security keys are on, and the ceremonies' metrics. Settings
// derived from an APP_URL WebAuthn cannot use (an IP address) leave them
// off, said once here, at start-up.
func securityKeys(cfg *Config, logger *slog.Logger, m *metrics.Metrics) account.SecurityKeyConfig {
	w := cfg.WebAuthn
	out := account.SecurityKeyConfig{AllowDiscoverable: w.AllowDiscoverable, MaxKeys: w.MaxKeys, OnCeremony: m.SecurityKeyCeremonies()}
	if !w.Enabled {
		return out
	}
	if w.Unusable != "" {
		logger.Warn("security keys are off: "+w.Unusable,
			"fix", "set APP_URL to the domain browsers open (http://localhost:PORT works locally), or WEBAUTHN_RP_ID and WEBAUTHN_RP_ORIGINS; WEBAUTHN_ENABLED=false silences this")
		return out
	}
	rp, err := passkey.New(w.RPID, cfg.AppName, w.Origins, w.Timeout)
	if err != nil {
		// LoadConfig checked every value; a Config built by hand may not.
		logger.Warn("security keys are off", "error", err)
		return out
	}
	out.RelyingParty = rp
	return out
}
