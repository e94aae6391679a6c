// Package graph is the GraphQL transport: gqlgen's executor, the resolvers
// (adapters that decode, call one service method and encode), and the error
// presenter.
package graph

//go:generate go run github.com/99designs/gqlgen generate

import (
	"accountd/account"
	"accountd/web"
)

// Resolver is the root resolver: the service, and what the transport
// itself owns (the cookie, the per-IP limits of sign-up and sign-in).
type Resolver struct {
	Service *account.Service
	Cookie  web.SessionCookie
	// Device writes the device cookie (web.DeviceCookieName).
	Device web.SessionCookie
	// Limits holds the per-IP limits the sign-up, sign-in and checkpoint
	// mutations count against, as their REST routes do (see
	// aroundMutationFields).
	Limits *web.RateLimiter
}
