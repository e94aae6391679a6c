package account

import "accountd/model"

// CheckOwnAccount refuses an actor reading the private lists (API keys,
// sessions, activity) of a user other than its own. The list methods serve
// the actor's own user; a transport that can reach a user some other way
// asks this first. GraphQL can: a login or register payload answers with
// the user who just signed in, whatever credentials the request itself
// carried, and that user's lists must not appear under another account's
// cookie or key.
func (s *Service) CheckOwnAccount(actor *model.Actor, owner *model.User) error {
	if actor == nil || actor.User == nil {
		return model.Errorf(model.CodeUnauthenticated, "missing authorization")
	}
	if owner == nil || owner.ID != actor.User.ID {
		return model.Errorf(model.CodeForbidden, "not your account")
	}
	return nil
}
