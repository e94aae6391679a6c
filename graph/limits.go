package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"accountd/web"
)

// checkingFields are the mutation fields that verify a password or a code.
// A document may hold at most one of them: otherwise aliases would turn one
// request into many guesses.
var checkingFields = map[string]bool{
	"login":          true,
	"updateEmail":    true,
	"changePassword": true,
}

// limitCheckingFields refuses, before execution, an operation with more
// than one password- or code-checking field.
func limitCheckingFields(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc != nil && oc.Operation != nil && countChecking(oc.Operation.SelectionSet, oc.Doc, map[string]bool{}) > 1 {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message:    "a document may contain at most one password- or code-checking field",
			Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED", "requestId": web.RequestIDFrom(ctx)},
		}}})
	}
	return next(ctx)
}

// countChecking counts checking fields at the root of an operation,
// following fragment spreads and inline fragments (each named fragment
// once).
func countChecking(set ast.SelectionSet, doc *ast.QueryDocument, seen map[string]bool) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if checkingFields[s.Name] {
				n++
			}
		case *ast.InlineFragment:
			n += countChecking(s.SelectionSet, doc, seen)
		case *ast.FragmentSpread:
			if seen[s.Name] || doc == nil {
				continue
			}
			seen[s.Name] = true
			if f := doc.Fragments.ForName(s.Name); f != nil {
				n += countChecking(f.SelectionSet, doc, seen)
			}
		}
	}
	return n
}
