package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// codeDepthLimit is extensions.code of an operation nested too deeply.
const codeDepthLimit = "DEPTH_LIMIT_EXCEEDED"

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
	if n, _ := operationDepth(oc.Operation, oc.Doc); n > d.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation is nested %d levels deep, which exceeds the limit of %d", n, d.max),
			Extensions: map[string]any{"code": codeDepthLimit},
		}
	}
	return nil
}

// operationDepth is the number of nested fields in op, through fragments,
// and the selections it visited to find it. A fragment's depth does not
// depend on where it is spread, so each is measured once: following every
// spread again made a fragment spread twice in each of thirty fragments
// cost 2^30 visits.
func operationDepth(op *ast.OperationDefinition, doc *ast.QueryDocument) (depth, visits int) {
	m := &depthMeasure{doc: doc, memo: map[*ast.FragmentDefinition]int{}}
	return m.selectionSet(op.SelectionSet), m.visits
}

type depthMeasure struct {
	doc    *ast.QueryDocument
	memo   map[*ast.FragmentDefinition]int
	visits int
}

func (m *depthMeasure) selectionSet(set ast.SelectionSet) int {
	deepest := 0
	for _, sel := range set {
		m.visits++
		var n int
		switch s := sel.(type) {
		case *ast.Field:
			n = 1 + m.selectionSet(s.SelectionSet)
		case *ast.InlineFragment:
			n = m.selectionSet(s.SelectionSet)
		case *ast.FragmentSpread:
			n = m.fragment(s)
		}
		deepest = max(deepest, n)
	}
	return deepest
}

func (m *depthMeasure) fragment(s *ast.FragmentSpread) int {
	f := s.Definition // set by validation, saving a scan of the fragments
	if f == nil {
		f = m.doc.Fragments.ForName(s.Name)
	}
	if f == nil {
		return 0
	}
	if n, ok := m.memo[f]; ok {
		return n
	}
	// Validation has refused fragment cycles; recording the fragment
	// before walking it would stop one anyway.
	m.memo[f] = 0
	n := m.selectionSet(f.SelectionSet)
	m.memo[f] = n
	return n
}
