package model

import (
	"time"

	"github.com/google/uuid"
)

// Session is a signed-in browser. Its token is never stored: only the
// lookup prefix (KeyStart) and the SHA-256 digest of the whole token.
type Session struct {
	ID        uuid.UUID
	UserID    uuid.UUID
	KeyStart  string
	Digest    []byte
	IP        string
	UserAgent string
	LastUsed  time.Time
	Created   time.Time
	// DeviceID is the device the session was signed in from (nil for a
	// sign-up's session): its password confirmations use that device's
	// budget.
	DeviceID *uuid.UUID
}

// LoginToken is the confirmation token a password login hands out when the
// account has two-factor enabled; the checkpoint exchanges it for a session.
type LoginToken struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	KeyStart string
	Digest   []byte
	Attempts int
	Expires  time.Time
	Created  time.Time
}
