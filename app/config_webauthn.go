package app

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"accountd/passkey"
)

// WebAuthnConfig is the configuration of security keys and passkeys
// (REST.md §6.1).
type WebAuthnConfig struct {
	// Enabled is WEBAUTHN_ENABLED.
	Enabled bool
	// AllowDiscoverable allows passkeys that sign in without a username
	// (WEBAUTHN_ALLOW_DISCOVERABLE).
	AllowDiscoverable bool
	// RPID is the Relying Party ID (WEBAUTHN_RP_ID, else APP_URL's host).
	RPID string
	// Origins are the origins accepted in a ceremony's client data
	// (WEBAUTHN_RP_ORIGINS, else APP_URL's origin); each is also trusted by
	// the cross-origin check.
	Origins []string
	// Timeout is how long a ceremony, and an unfinished registration,
	// lives (WEBAUTHN_TIMEOUT).
	Timeout time.Duration
	// MaxKeys is the per-user cap of keys, pending ones included
	// (MAX_SECURITY_KEYS).
	MaxKeys int
	// Unusable, when not empty, says why the RP ID or origins derived from
	// APP_URL cannot serve WebAuthn: the server then starts with security
	// keys off and logs it once. Values set explicitly are checked by
	// LoadConfig instead, which refuses bad ones.
	Unusable string
}

// On reports whether security keys are in service: enabled and usable.
func (w WebAuthnConfig) On() bool { return w.Enabled && w.Unusable == "" }

// loadWebAuthn reads the WebAuthn settings. An RP ID or origin set
// explicitly must be valid, or start-up fails naming the variable; values
// derived from APP_URL (an IP address in a plain local run, say) only turn
// security keys off, with a warning at start-up.
func (e *envReader) loadWebAuthn(c *Config) {
	w := &c.WebAuthn
	w.Enabled = e.boolean("WEBAUTHN_ENABLED", true)
	w.AllowDiscoverable = e.boolean("WEBAUTHN_ALLOW_DISCOVERABLE", true)
	w.Timeout = e.duration("WEBAUTHN_TIMEOUT", 5*time.Minute)
	if w.Timeout < passkey.MinTimeout || w.Timeout > passkey.MaxTimeout {
		e.fail("WEBAUTHN_TIMEOUT=%s: want 30s to 10m", w.Timeout)
		w.Timeout = 5 * time.Minute
	}
	maxKeys := e.str("MAX_SECURITY_KEYS", "50")
	if n, err := strconv.Atoi(maxKeys); err != nil || n < 0 {
		e.fail("MAX_SECURITY_KEYS=%q: want a whole number ≥ 0", maxKeys)
	} else {
		w.MaxKeys = n
	}

	w.RPID = e.str("WEBAUTHN_RP_ID", "")
	explicitID := w.RPID != ""
	if explicitID {
		if err := passkey.CheckRPID(w.RPID); err != nil {
			e.fail("WEBAUTHN_RP_ID: %v", err)
			return
		}
	} else {
		w.RPID = c.AppURL.Hostname()
		if err := passkey.CheckRPID(w.RPID); err != nil {
			w.Unusable = fmt.Sprintf("APP_URL's host cannot be the RP ID: %v", err)
		}
	}

	for _, o := range strings.Split(e.getenv("WEBAUTHN_RP_ORIGINS"), ",") {
		if o = strings.TrimSuffix(strings.TrimSpace(o), "/"); o == "" {
			continue
		}
		if w.Unusable == "" {
			if err := passkey.CheckOrigin(w.RPID, o); err != nil {
				e.fail("WEBAUTHN_RP_ORIGINS: %v", err)
				continue
			}
		}
		w.Origins = append(w.Origins, o)
	}
	if len(w.Origins) == 0 {
		o := passkey.Origin(c.AppURL)
		w.Origins = []string{o}
		if err := passkey.CheckOrigin(w.RPID, o); err != nil && w.Unusable == "" {
			w.Unusable = fmt.Sprintf("APP_URL's origin cannot be a WebAuthn origin: %v", err)
		}
	}
}
