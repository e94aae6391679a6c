package graph

import (
	"context"

	"accountd/model"
)

// PageInfo is the Relay page information of a connection.
type PageInfo struct {
	HasNextPage     bool
	HasPreviousPage bool
	StartCursor     *string
	EndCursor       *string
}

// APIKeyConnection is a page of API keys. totalCount costs a query of its
// own, so it is resolved only when selected.
type APIKeyConnection struct {
	Edges    []*APIKeyEdge
	PageInfo *PageInfo
	count    func(ctx context.Context) (int, error)
}

// APIKeyEdge is one key and its cursor.
type APIKeyEdge struct {
	Cursor string
	Node   *model.APIKey
}

// SessionConnection is a page of sessions.
type SessionConnection struct {
	Edges    []*SessionEdge
	PageInfo *PageInfo
	count    func(ctx context.Context) (int, error)
}

// SessionEdge is one session and its cursor.
type SessionEdge struct {
	Cursor string
	Node   *model.Session
}

// ActivityConnection is a page of activity.
type ActivityConnection struct {
	Edges    []*ActivityEdge
	PageInfo *PageInfo
	count    func(ctx context.Context) (int, error)
}

// ActivityEdge is one event and its cursor.
type ActivityEdge struct {
	Cursor string
	Node   *model.Activity
}

// connect builds the edges and page information of a service page; cursor
// gives each item's position.
func connect[M, E any](p *model.Page[M], after string, cursor func(M) model.Cursor, edge func(string, M) E) ([]E, *PageInfo) {
	edges := make([]E, len(p.Items))
	info := &PageInfo{HasNextPage: p.HasNext, HasPreviousPage: after != ""}
	for i, it := range p.Items {
		c := cursor(it).Encode()
		edges[i] = edge(c, it)
		if i == 0 {
			info.StartCursor = &c
		}
		info.EndCursor = &c
	}
	return edges, info
}

// listQuery turns connection arguments into a service query. The schema
// gives first its default, model.DefaultPageSize; the same default here
// covers a first of null.
func listQuery(first *int, after, search *string) model.ListQuery {
	q := model.ListQuery{Keyset: true, First: model.DefaultPageSize}
	if first != nil {
		q.First = *first
	}
	if after != nil {
		q.After = *after
	}
	if search != nil {
		q.Search = *search
	}
	return q
}
