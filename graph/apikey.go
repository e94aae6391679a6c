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

// actorFor returns the request's actor when it is u's own: a user object
// reached through another path (a login payload, say) shows its private
// lists only to that user's credentials.
func actorFor(ctx context.Context, u *model.User) (*model.Actor, error) {
	actor, err := web.ActorFrom(ctx)
	if actor == nil {
		return nil, err
	}
	if actor.User.ID != u.ID {
		return nil, model.Errorf(model.CodeForbidden, "not your account")
	}
	return actor, nil
}
