package model

import (
	"time"

	"github.com/google/uuid"
)

// PasswordResetToken is a password reset a mail's link may complete
// (REST.md §7): only the token's first 16 characters, to find it, and a
// SHA-256 digest of the whole are stored, never the token.
type PasswordResetToken struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	KeyStart string
	Digest   []byte
	Created  time.Time
	Expires  time.Time
}

// EmailVerification is an address waiting for its owner to open the link
// mailed to it: the new address of a change, which takes effect then, or at
// sign-up the account's own. An account has at most one; the token is
// stored as PasswordResetToken's is.
type EmailVerification struct {
	ID       uuid.UUID
	UserID   uuid.UUID
	Email    string
	KeyStart string
	Digest   []byte
	Created  time.Time
	Expires  time.Time
}
