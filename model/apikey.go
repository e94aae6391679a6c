package model

import (
	"net/netip"
	"time"

	"github.com/google/uuid"
)

// APIKey is a credential for scripts. Like a session token, the secret is
// kept only as a digest; KeyStart (its first 16 characters) is the lookup
// key and what the user sees to recognise it.
type APIKey struct {
	ID                uuid.UUID
	UserID            uuid.UUID
	Name              string
	KeyStart          string
	Digest            []byte
	AllowedIPs        []netip.Prefix
	UserPermissions   []string
	AdminPermissions  []string
	ServerPermissions []string
	LastUsed          *time.Time
	Expires           *time.Time
	Created           time.Time
}

// AllowsIP reports whether a request from ip may use the key. An empty
// allow-list allows every address.
func (k *APIKey) AllowsIP(ip netip.Addr) bool {
	if len(k.AllowedIPs) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, p := range k.AllowedIPs {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
