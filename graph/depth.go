package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// depthLimit refuses, before execution, an operation nested deeper than
// max fields. The schema's deepest data selection is five levels (viewer →
// apiKeys → edges → node → field) and GraphiQL's introspection query twelve
// (type references nest ofType seven times); a limit above both stops only
// documents built to be expensive, such as ofType chained a hundred deep.
type depthLimit struct{ max int }

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = depthLimit{}

func (depthLimit) ExtensionName() string { return "DepthLimit" }

func (depthLimit) Validate(graphql.ExecutableSchema) error { return nil }

func (d depthLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	if n := selectionDepth(oc.Operation.SelectionSet, oc.Doc, map[string]bool{}); n > d.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation is nested %d levels deep, which exceeds the limit of %d", n, d.max),
			Extensions: map[string]any{"code": "DEPTH_LIMIT_EXCEEDED"},
		}
	}
	return nil
}

// selectionDepth is the number of nested fields in set, through fragments.
// Validation has already refused fragment cycles; visiting records the
// fragments on the current path, so a cycle could not recurse anyway.
func selectionDepth(set ast.SelectionSet, doc *ast.QueryDocument, visiting map[string]bool) int {
	deepest := 0
	for _, sel := range set {
		var n int
		switch s := sel.(type) {
		case *ast.Field:
			n = 1 + selectionDepth(s.SelectionSet, doc, visiting)
		case *ast.InlineFragment:
			n = selectionDepth(s.SelectionSet, doc, visiting)
		case *ast.FragmentSpread:
			f := doc.Fragments.ForName(s.Name)
			if f == nil || visiting[s.Name] {
				continue
			}
			visiting[s.Name] = true
			n = selectionDepth(f.SelectionSet, doc, visiting)
			delete(visiting, s.Name)
		}
		deepest = max(deepest, n)
	}
	return deepest
}
