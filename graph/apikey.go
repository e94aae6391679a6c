package graph

import (
	"context"

	"accountd/model"
	"accountd/web"
)

// apiKeyFieldNames maps the service's field names to the API-key inputs'
// where camelCase is not enough; "permissions" (a key exceeding its
// creator) is about no single input field.
var apiKeyFieldNames = map[string]string{"expires": "expiresAt", "permissions": ""}

// listOrEmpty passes a list on create, where null means empty.
func listOrEmpty(l []string) *[]string {
	if l == nil {
		l = []string{}
	}
	return &l
}

// listOrNil passes a list on update, where a left-out or null list stays
// as it is and [] empties it.
func listOrNil(l []string) *[]string {
	if l == nil {
		return nil
	}
	return &l
}

// actorFor returns the request's actor for reading u's private lists,
// once the service has agreed that u is the actor's own account (see
// account.Service.CheckOwnAccount).
func (r *Resolver) actorFor(ctx context.Context, u *model.User) (*model.Actor, error) {
	actor, err := web.ActorFrom(ctx)
	if actor == nil {
		return nil, err
	}
	if err := r.Service.CheckOwnAccount(actor, u); err != nil {
		return nil, err
	}
	return actor, nil
}
