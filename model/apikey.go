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

// APIKeyPatch is an edit of a key; nil fields stay as they are.
type APIKeyPatch struct {
	Name              *string
	AllowedIPs        *[]netip.Prefix
	UserPermissions   *[]string
	AdminPermissions  *[]string
	ServerPermissions *[]string
	// SetExpires says whether Expires is part of the edit (nil clears it).
	SetExpires bool
	Expires    *time.Time
}

// Empty reports whether the patch changes nothing.
func (p APIKeyPatch) Empty() bool {
	return p.Name == nil && p.AllowedIPs == nil && p.UserPermissions == nil && p.AdminPermissions == nil &&
		p.ServerPermissions == nil && !p.SetExpires
}

// Fields names the fields the patch changes, in REST's spelling.
func (p APIKeyPatch) Fields() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"name", p.Name != nil}, {"allowed_ips", p.AllowedIPs != nil}, {"user_permissions", p.UserPermissions != nil},
		{"admin_permissions", p.AdminPermissions != nil}, {"server_permissions", p.ServerPermissions != nil},
		{"expires", p.SetExpires},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// Apply returns the key as the patch would leave it.
func (p APIKeyPatch) Apply(k APIKey) APIKey {
	if p.Name != nil {
		k.Name = *p.Name
	}
	if p.AllowedIPs != nil {
		k.AllowedIPs = *p.AllowedIPs
	}
	if p.UserPermissions != nil {
		k.UserPermissions = *p.UserPermissions
	}
	if p.AdminPermissions != nil {
		k.AdminPermissions = *p.AdminPermissions
	}
	if p.ServerPermissions != nil {
		k.ServerPermissions = *p.ServerPermissions
	}
	if p.SetExpires {
		k.Expires = p.Expires
	}
	return k
}
