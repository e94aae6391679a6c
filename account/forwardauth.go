package account

import (
	"context"

	"accountd/model"
)

// Access is what a forward-auth check reports about a request a reverse
// proxy holds: who made it, with which credential, and what that
// credential may do.
type Access struct {
	User *model.User
	// APIKey is the key the request authenticated with; nil for a session.
	APIKey *model.APIKey
	// AllUserPermissions is true when the credential holds every user
	// permission (a session); Permissions then is nil. Otherwise
	// Permissions lists the user permissions it holds (an API key's list,
	// possibly empty).
	AllUserPermissions bool
	Permissions        []string
}

// ForwardAuth decides whether a request a reverse proxy forwards to an
// app behind it may pass (GET /api/auth/verify), and reports who made it.
// The account must be usable as for any API route (not suspended, and
// two-factor enabled where it is required), and the credential must hold
// every permission in perms, the names of the catalog's user permissions
// as API keys carry them: a session holds them all, an API key exactly
// those listed on it. An unknown name is invalid rather than simply not
// held, so that a typo in a proxy's configuration shows as an error
// instead of locking everyone out (or, were it ignored, letting everyone
// in). It reads nothing: the authentication that built actor was the
// request's one query.
func (s *Service) ForwardAuth(ctx context.Context, actor *model.Actor, perms []string) (*Access, error) {
	if err := s.enter(actor, gateDefault); err != nil {
		return nil, err
	}
	var v model.Validation
	perms = s.checkPermissions(&v, "permission", "user", perms)
	if err := v.Err(); err != nil {
		return nil, err
	}
	for _, perm := range perms {
		if err := s.require(actor, perm); err != nil {
			return nil, err
		}
	}
	a := &Access{User: actor.User, APIKey: actor.APIKey}
	if actor.APIKey == nil {
		a.AllUserPermissions = true
	} else {
		a.Permissions = actor.APIKey.UserPermissions
	}
	return a, nil
}
