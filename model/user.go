package model

import (
	"time"

	"github.com/google/uuid"
)

// User is a panel account. Secret material (password hash, TOTP secret) is
// carried for the service's checks and never encoded by a transport.
type User struct {
	ID                    uuid.UUID
	Username              string
	Email                 string
	EmailVerified         bool // a link mailed to Email was opened, or a reset sent to it used
	NameFirst             string
	NameLast              string
	Role                  *string
	Avatar                *string
	Admin                 bool
	Frozen                bool
	Suspended             bool
	Language              string
	ToastPosition         string
	StartOnGroupedServers bool
	// RequireTwoFactor is set by an operator for this user alone; the
	// panel-wide TWO_FACTOR_REQUIREMENT is applied on top by the service.
	RequireTwoFactor bool
	// PasswordHash is a PHC argon2id string or a legacy bcrypt hash; nil for
	// accounts that have no password (imported from an identity provider).
	PasswordHash *string
	TOTPEnabled  bool
	// TOTPSecret is the active secret when TOTPEnabled, else the pending one
	// handed out by the last setup call.
	TOTPSecret *string
	// TOTPLastStep is the last accepted TOTP time step: a code of this step
	// or an earlier one is refused, which makes codes single-use.
	TOTPLastStep int64
	TOTPLastUsed *time.Time
	// RecoverySalt is the salt of the user's recovery-code digests.
	RecoverySalt []byte
	Created      time.Time
}

// HasPassword reports whether the account can sign in with a password.
func (u *User) HasPassword() bool { return u.PasswordHash != nil && *u.PasswordHash != "" }

// UserFlag names one of the states an operator sets on an account.
type UserFlag string

// The operator-controlled states.
const (
	// FlagAdmin makes the user an administrator of the panel.
	FlagAdmin UserFlag = "admin"
	// FlagSuspended refuses the user every route but the account page,
	// where they can see their situation.
	FlagSuspended UserFlag = "suspended"
	// FlagFrozen keeps the account readable but refuses every change.
	FlagFrozen UserFlag = "frozen"
)

// UserPatch lists the profile fields an update changes; nil fields are left
// alone, so concurrent edits of different fields never overwrite each other.
type UserPatch struct {
	Username              *string
	NameFirst             *string
	NameLast              *string
	Language              *string
	ToastPosition         *string
	StartOnGroupedServers *bool
}

// Empty reports whether the patch changes nothing.
func (p UserPatch) Empty() bool {
	return p.Username == nil && p.NameFirst == nil && p.NameLast == nil &&
		p.Language == nil && p.ToastPosition == nil && p.StartOnGroupedServers == nil
}

// Languages are the interface languages a user may choose.
var Languages = []string{"ar", "de", "el", "en", "es", "fr", "it", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sv", "tr", "vi", "zh"}

// ToastPositions are the places the panel's notifications may appear.
var ToastPositions = []string{"top_left", "top_center", "top_right", "bottom_left", "bottom_center", "bottom_right"}
