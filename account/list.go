package account

import (
	"context"
	"fmt"
	"unicode/utf8"

	"accountd/model"
)

// The limits of a list query (REST.md §1).
const (
	maxPageSize  = 100
	maxSearchLen = 128
)

// checkList validates a list query and decodes its cursor. Field names
// follow the transport's mode: first/after for GraphQL connections,
// page/per_page for the REST layer.
func checkList(v *model.Validation, q *model.ListQuery) {
	size := "per_page"
	if q.Keyset {
		size = "first"
		if q.After != "" {
			c, err := model.DecodeCursor(q.After)
			if err != nil {
				v.Add("after", "invalid cursor")
			} else {
				q.Cursor = &c
			}
		}
	} else if q.Page < 1 {
		v.Add("page", "lower than 1")
	}
	switch n := q.Limit(); {
	case n < 1:
		v.Add(size, "lower than 1")
	case n > maxPageSize:
		v.Add(size, fmt.Sprintf("greater than %d", maxPageSize))
	}
	if utf8.RuneCountInString(q.Search) > maxSearchLen {
		v.Add("search", fmt.Sprintf("length is greater than %d", maxSearchLen))
	}
	checkText(v, "search", q.Search)
}

// listPage runs what every list shares — the gate, the query's checks, the
// permission — then fetches one page, and leaves the total to be counted
// only if a client asks for it.
func listPage[T any](ctx context.Context, s *Service, actor *model.Actor, q model.ListQuery, perm string,
	fetch func(ctx context.Context, q model.ListQuery) ([]T, bool, error),
	count func(ctx context.Context, search string) (int, error)) (*model.Page[T], error) {
	var v model.Validation
	checkList(&v, &q)
	if err := s.admit(actor, gateDefault, v.Err(), perm); err != nil {
		return nil, err
	}
	items, more, err := fetch(ctx, q)
	if err != nil {
		return nil, model.Internal(err)
	}
	return &model.Page[T]{Items: items, HasNext: more, Count: func(ctx context.Context) (int, error) {
		n, err := count(ctx, q.Search)
		if err != nil {
			return 0, model.Internal(err)
		}
		return n, nil
	}}, nil
}
