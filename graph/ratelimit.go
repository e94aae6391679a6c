package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"

	"accountd/web"
)

// limitOperations counts each mutation field that web's table of
// rate-limited operations names (login, loginCheckpoint, register) against
// its per-IP limit before its resolver runs, as the REST shim counts the
// same operations' routes. The table, not the resolvers, decides, so a
// field cannot be left out in one transport; a refusal is the field's
// error, RATE_LIMITED with retryAfter. Every /graphql request also counts
// against the client limit, in the HTTP middleware.
func limitOperations(srv *handler.Server, limits *web.RateLimiter) {
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Object == "Mutation" && fc.Field.Field != nil {
			if rule := web.GraphQLRateRule(fc.Field.Name); rule != "" {
				if err := limits.Check(ctx, rule).Err(); err != nil {
					return nil, err
				}
			}
		}
		return next(ctx)
	})
}
