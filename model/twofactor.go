package model

import (
	"time"

	"github.com/google/uuid"
)

// AttemptCounter is an account's budget of failed password, TOTP and
// recovery-code checks (see the service's attempt rules).
type AttemptCounter struct {
	// UserID is the account; zero for the counter of a sign-in identifier
	// that names no account, which Subject (a digest, never the
	// identifier) keys instead.
	UserID  uuid.UUID
	Subject string
	// DeviceID, when set, names the device whose own budget this is.
	DeviceID *uuid.UUID
	// Failures counts the checks charged in the window that started at
	// WindowStart.
	Failures    int
	WindowStart time.Time
	// Consecutive counts failures since the last success, across windows.
	Consecutive int
	// CodeFailures counts TOTP and recovery-code failures since the last
	// successful code check; a password success does not end it.
	CodeFailures int
	// BlockedUntil, when in the future, refuses every check.
	BlockedUntil *time.Time
}

// Device is a browser an account signed in from, known by the device
// cookie it holds; only the cookie's digest is stored.
type Device struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	Digest   []byte
	Created  time.Time
	LastUsed time.Time
}
