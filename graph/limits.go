package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"accountd/web"
)

// checkingFields are the mutation fields that verify a password, a code or
// a security key's assertion.
// A document may hold at most one of them: otherwise aliases would turn one
// request into many guesses.
// The value says whether the field checks the signed-in account's own
// secrets (login and the checkpoint check an account named in their
// arguments instead).
var checkingFields = map[string]bool{
	"login":                   false,
	"loginCheckpoint":         false,
	"finishPasskeyLogin":      false,
	"updateEmail":             true,
	"changePassword":          true,
	"enableTwoFactor":         true,
	"disableTwoFactor":        true,
	"regenerateRecoveryCodes": true,
}

// checkingFieldLimit refuses, before execution, an operation with more
// than one password- or code-checking field, as a validation failure (so
// the transport answers it like one). The refused checks are still billed
// to the signed-in account's attempt budget, as if each had been sent
// alone and failed: aliasing buys no guesses, and a burst costs what it
// would have cost one at a time.
type checkingFieldLimit struct{ r *Resolver }

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = checkingFieldLimit{}

func (checkingFieldLimit) ExtensionName() string { return "CheckingFieldLimit" }

func (checkingFieldLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (l checkingFieldLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	n, own := countChecking(oc.Operation.SelectionSet, oc.Doc, map[string]bool{})
	if n <= 1 {
		return nil
	}
	if actor, _ := web.ActorFrom(ctx); actor != nil && own > 0 {
		if err := l.r.Service.ChargeRefusedChecks(ctx, actor, own); err != nil {
			return presentError(ctx, err)
		}
	}
	return &gqlerror.Error{
		Message:    "a document may contain at most one password- or code-checking field",
		Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"},
	}
}

// countChecking counts checking fields at the root of an operation, and
// how many of them check the signed-in account, following fragment spreads
// and inline fragments (each named fragment once).
func countChecking(set ast.SelectionSet, doc *ast.QueryDocument, seen map[string]bool) (all, own int) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if ownAccount, ok := checkingFields[s.Name]; ok {
				all++
				if ownAccount {
					own++
				}
			}
		case *ast.InlineFragment:
			a, o := countChecking(s.SelectionSet, doc, seen)
			all, own = all+a, own+o
		case *ast.FragmentSpread:
			if seen[s.Name] || doc == nil {
				continue
			}
			seen[s.Name] = true
			if f := doc.Fragments.ForName(s.Name); f != nil {
				a, o := countChecking(f.SelectionSet, doc, seen)
				all, own = all+a, own+o
			}
		}
	}
	return all, own
}
