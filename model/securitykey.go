package model

import (
	"time"

	"github.com/google/uuid"
)

// The user permissions of the security-key routes.
const (
	PermSecurityKeysCreate = "security-keys.create"
	PermSecurityKeysRead   = "security-keys.read"
	PermSecurityKeysUpdate = "security-keys.update"
	PermSecurityKeysDelete = "security-keys.delete"
)

// SecurityKey is a WebAuthn credential of an account (a passkey or a
// hardware key), or a registration begun and not yet finished: a pending
// key, which has no credential yet and holds its ceremony's challenge.
type SecurityKey struct {
	ID     uuid.UUID
	UserID uuid.UUID
	Name   string
	// CredentialID is the credential's ID; nil while the key is pending.
	CredentialID []byte
	// PublicKey is the credential's COSE public key.
	PublicKey []byte
	// SignCount is the last signature counter accepted.
	SignCount uint32
	// BackupEligible and BackupState are the flags of the last accepted
	// ceremony; eligibility never changes after registration.
	BackupEligible bool
	BackupState    bool
	AAGUID         []byte
	Transports     []string
	// AttestationFormat is the registration's attestation format.
	AttestationFormat string
	// Challenge is a pending key's registration challenge.
	Challenge []byte
	LastUsed  *time.Time
	// Created is when the registration began.
	Created time.Time
}

// Pending reports whether the key's registration is not finished.
func (k *SecurityKey) Pending() bool { return len(k.CredentialID) == 0 }

// CeremonyKind says what a sign-in ceremony signs in to.
type CeremonyKind string

// The sign-in ceremonies.
const (
	// CeremonyLogin: a sign-in naming the account (one of UserIDs).
	CeremonyLogin CeremonyKind = "login"
	// CeremonyDiscoverable: a username-less sign-in; the credential's
	// user handle names the account.
	CeremonyDiscoverable CeremonyKind = "discoverable"
	// CeremonyCheckpoint: the second factor of a password sign-in, tied to
	// its confirmation token.
	CeremonyCheckpoint CeremonyKind = "checkpoint"
)

// SecurityKeyCeremony is a sign-in ceremony the server began: the
// challenge it sent, who may answer it, and until when. It is kept in the
// database, so any server can finish it, and consumed by its first
// answer, so a challenge is never accepted twice.
type SecurityKeyCeremony struct {
	ID        uuid.UUID
	Kind      CeremonyKind
	Challenge []byte
	// UserIDs are the accounts a CeremonyLogin's identifier matched.
	UserIDs []uuid.UUID
	// LoginTokenID is a CeremonyCheckpoint's confirmation token.
	LoginTokenID *uuid.UUID
	Expires      time.Time
	Created      time.Time
}
