package dbtest

import (
	"context"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/model"
)

// RecentActivity returns up to limit of userID's newest events, newest
// first, read with the store's own list query: what a test checks is what
// the activity list would show.
func RecentActivity(ctx context.Context, s *db.Store, userID uuid.UUID, limit int) ([]*model.Activity, error) {
	items, _, err := s.ListActivities(ctx, userID, model.ListQuery{Keyset: true, First: limit})
	return items, err
}
