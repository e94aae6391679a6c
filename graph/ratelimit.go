package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"

	"accountd/web"
)

// aroundMutationFields is the one field interceptor: gqlgen runs every
// interceptor around every field of a response, trivial ones included, at
// a cost in allocations per field and interceptor, and only mutation
// fields need one. Before a mutation's resolver runs it counts the fields
// that web's table of rate-limited operations names (login,
// loginCheckpoint, register) against their per-IP limit, as the REST shim
// counts the same operations' routes: the table, not the resolvers,
// decides, so a field cannot be left out in one transport, and a refusal
// is the field's error, RATE_LIMITED with retryAfter. (Every /graphql
// request also counts against the client limit, in the HTTP middleware.)
// After it, it notes a payload with userErrors for the operation metrics
// (see observeOperations).
func aroundMutationFields(srv *handler.Server, limits *web.RateLimiter) {
	srv.AroundFields(func(ctx context.Context, next graphql.Resolver) (any, error) {
		fc := graphql.GetFieldContext(ctx)
		if fc == nil || fc.Object != "Mutation" || fc.Field.Field == nil {
			return next(ctx)
		}
		if rule := web.GraphQLRateRule(fc.Field.Name); rule != "" {
			if err := limits.Check(ctx, rule).Err(); err != nil {
				return nil, err
			}
		}
		res, err := next(ctx)
		if hasUserErrors(res) {
			if st, ok := ctx.Value(operationStateKey{}).(*operationState); ok {
				st.userErrors.Store(true)
			}
		}
		return res, err
	})
}
