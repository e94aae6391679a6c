package account

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/google/uuid"

	"accountd/model"
)

// record writes an activity event for the actor's user. Call it with the
// context of the transaction that makes the change, so both commit or
// neither does. data must never hold a secret.
func (s *Service) record(ctx context.Context, userID uuid.UUID, actor *model.Actor, ip netip.Addr, event string, data any) error {
	a := &model.Activity{ID: newID(), UserID: userID, Event: event, Created: s.now()}
	if actor != nil && actor.APIKey != nil {
		id := actor.APIKey.ID
		a.APIKeyID = &id
	}
	if ip.IsValid() {
		str := ip.String()
		a.IP = &str
	}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("activity %s: %w", event, err)
		}
		a.Data = b
	}
	return s.activities.RecordActivity(ctx, a)
}

// ListActivity returns a page of the actor's user's history, newest
// first; search matches the event name.
func (s *Service) ListActivity(ctx context.Context, actor *model.Actor, q model.ListQuery) (*model.Page[*model.Activity], error) {
	return listPage(ctx, s, actor, q, model.PermActivityRead,
		func(ctx context.Context, q model.ListQuery) ([]*model.Activity, bool, error) {
			return s.activities.ListActivities(ctx, actor.User.ID, q)
		},
		func(ctx context.Context, search string) (int, error) {
			return s.activities.CountActivities(ctx, actor.User.ID, search)
		})
}
