package graph

import (
	"context"

	"accountd/model"
)

// SecurityKeyConnection is a page of security keys.
type SecurityKeyConnection struct {
	Edges    []*SecurityKeyEdge
	PageInfo *PageInfo
	count    func(ctx context.Context) (int, error)
}

// SecurityKeyEdge is one key and its cursor.
type SecurityKeyEdge struct {
	Cursor string
	Node   *model.SecurityKey
}
