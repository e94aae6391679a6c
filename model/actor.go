package model

import (
	"net/netip"

	"github.com/google/uuid"
)

// Actor is who makes a request: the authenticated user and the credential
// used (exactly one of Session and APIKey), plus the client's address. The
// transports build it once per request through the service and pass it to
// every service call.
type Actor struct {
	User      *User
	Session   *Session
	APIKey    *APIKey
	IP        netip.Addr
	UserAgent string
}

// Client describes the caller's connection when there may be no user yet
// (register, login).
type Client struct {
	IP        netip.Addr
	UserAgent string
}

// UsesSession reports whether the request is made with session id; under
// API-key authentication it never is.
func (a *Actor) UsesSession(id uuid.UUID) bool { return a.Session != nil && a.Session.ID == id }

// ViaAPIKey reports whether the request authenticated with an API key.
func (a *Actor) ViaAPIKey() bool { return a.APIKey != nil }

// HasUserPermission reports whether the actor holds a user permission:
// session users hold all of them, an API key exactly those listed on it.
func (a *Actor) HasUserPermission(perm string) bool {
	if a.APIKey == nil {
		return true
	}
	for _, p := range a.APIKey.UserPermissions {
		if p == perm {
			return true
		}
	}
	return false
}
