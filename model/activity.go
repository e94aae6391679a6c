package model

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// The activity events the service records. Their names are part of the
// REST contract.
const (
	EventAccountUpdate    = "account:update"
	EventEmailChanged     = "account:email-changed"
	EventPasswordChanged  = "account:password-changed"
	EventTwoFactorEnable  = "account:two-factor.enable"
	EventTwoFactorDisable = "account:two-factor.disable"
	// EventRecoveryCodesRegenerated is ours: the contract has no route
	// for it, but a new set of recovery codes belongs in the history.
	EventRecoveryCodesRegenerated = "account:two-factor.recovery-codes"
	EventAPIKeyCreate             = "api-key:create"
	EventAPIKeyUpdate             = "api-key:update"
	EventAPIKeyDelete             = "api-key:delete"
	EventAPIKeyRecreate           = "api-key:recreate"
	EventSessionDelete            = "session:delete"
	EventSessionDeleteAll         = "session:delete-all"
	EventAuthSuccess              = "auth:success"
	EventAuthCheckpoint           = "auth:checkpoint"

	// The password reset's events (REST.md §7), the panel's names: a
	// reset mailed, and a reset done. Each holds {user_agent}.
	EventPasswordResetRequested = "email:password-reset"
	EventPasswordReset          = "auth:reset-password"
	// The verified address changes' events are ours: a change waiting for
	// its confirmation {old, new} (account:email-changed follows when the
	// link is opened), and an address confirmed without a change {email}
	// (the sign-up verification).
	EventEmailChangeRequested = "account:email-change-requested"
	EventEmailVerified        = "account:email-verified"

	// The security-key events (REST.md §6.7). The update's "user:" prefix
	// is the panel's.
	EventSecurityKeyCreate = "security-key:create"
	EventSecurityKeyUpdate = "user:security-key.update"
	EventSecurityKeyDelete = "security-key:delete"

	// The events of the operators' tools are ours: the panel's operators
	// change these states through its admin pages, which are not part of
	// the account API. Each is recorded with {"by":"operator"}.
	EventAdminGranted    = "account:admin.grant"
	EventAdminRevoked    = "account:admin.revoke"
	EventSuspended       = "account:suspend"
	EventUnsuspended     = "account:unsuspend"
	EventFrozen          = "account:freeze"
	EventUnfrozen        = "account:unfreeze"
	EventAPIKeyDeleteAll = "api-key:delete-all"
)

// Activity is one entry of a user's history. Data holds non-secret details
// only; the service is the single place that builds it.
type Activity struct {
	ID           uuid.UUID
	UserID       uuid.UUID
	APIKeyID     *uuid.UUID
	Impersonator *uuid.UUID
	Event        string
	IP           *string
	Data         json.RawMessage
	Created      time.Time
}

// IsAPI reports whether the change came through an API key.
func (a *Activity) IsAPI() bool { return a.APIKeyID != nil }
