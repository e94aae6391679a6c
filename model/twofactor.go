package model

import (
	"time"

	"github.com/google/uuid"
)

// AttemptCounter is an account's budget of failed password, TOTP and
// recovery-code checks (see the service's attempt rules).
type AttemptCounter struct {
	UserID uuid.UUID
	// Failures counts the checks charged in the window that started at
	// WindowStart.
	Failures    int
	WindowStart time.Time
	// Consecutive counts failures since the last success, across windows.
	Consecutive int
	// BlockedUntil, when in the future, refuses every check.
	BlockedUntil *time.Time
}
