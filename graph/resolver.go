// Package graph is the GraphQL transport: gqlgen's executor, the resolvers
// (adapters that decode, call one service method and encode), and the error
// presenter.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"accountd/account"
	"accountd/web"
)

// Resolver is the root resolver; it holds the service and nothing else.
type Resolver struct {
	Service *account.Service
	Cookie  web.SessionCookie
}
