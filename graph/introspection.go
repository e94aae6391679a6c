package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// codeIntrospectionDisabled is extensions.code of a document refused
// because it asks for __schema or __type while introspection is off.
const codeIntrospectionDisabled = "INTROSPECTION_DISABLED"

func init() {
	// A request error, like a validation failure: gqlgen's transports
	// then answer 422 (which conformStatus makes 200 under
	// application/json) or 400 under application/graphql-response+json,
	// with no data. gqlgen keeps this table globally, and writing it from
	// NewHandler would race with requests being served, so it is
	// registered once, here.
	errcode.RegisterErrorType(codeIntrospectionDisabled, errcode.KindProtocol)
}

// introspectionOff refuses, before execution, any document that selects
// __schema or __type when introspection is disabled. Without it gqlgen
// lets the document run and fails the field with a plain error, which the
// presenter could only call INTERNAL and log at ERROR level: anyone could
// fill the error log, and the client learnt nothing it could act on.
// __typename stays allowed; it describes nothing the response does not.
type introspectionOff struct{}

var (
	_ graphql.HandlerExtension        = introspectionOff{}
	_ graphql.OperationContextMutator = introspectionOff{}
)

func (introspectionOff) ExtensionName() string { return "IntrospectionOff" }

func (introspectionOff) Validate(graphql.ExecutableSchema) error { return nil }

func (introspectionOff) MutateOperationContext(_ context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil || !selectsIntrospection(oc.Operation.SelectionSet, oc.Doc, map[string]bool{}) {
		return nil
	}
	return &gqlerror.Error{
		Message:    "introspection is disabled on this server",
		Extensions: map[string]any{"code": codeIntrospectionDisabled},
	}
}

// selectsIntrospection reports whether set, or a fragment it spreads,
// selects __schema or __type anywhere. seen stops at each fragment's first
// visit (validation has already refused cycles).
func selectsIntrospection(set ast.SelectionSet, doc *ast.QueryDocument, seen map[string]bool) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "__schema" || s.Name == "__type" ||
				selectsIntrospection(s.SelectionSet, doc, seen) {
				return true
			}
		case *ast.InlineFragment:
			if selectsIntrospection(s.SelectionSet, doc, seen) {
				return true
			}
		case *ast.FragmentSpread:
			if seen[s.Name] {
				continue
			}
			seen[s.Name] = true
			if f := doc.Fragments.ForName(s.Name); f != nil && selectsIntrospection(f.SelectionSet, doc, seen) {
				return true
			}
		}
	}
	return false
}
