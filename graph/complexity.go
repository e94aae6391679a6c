package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// codeComplexityLimit is the extensions.code gqlgen's complexity limit
// used, kept so clients see no change.
const codeComplexityLimit = "COMPLEXITY_LIMIT_EXCEEDED"

// complexityLimit refuses, before execution, an operation whose cost is
// over max. It replaces gqlgen's extension.FixedComplexityLimit, whose
// walk follows every fragment spread again — thirty fragments each
// spreading the next twice made it walk 2^30 fields before refusing —
// with the same arithmetic done once per fragment: a fragment's cost does
// not depend on where it is spread (its fields' types are its type
// condition's, and the variables are the request's), so it is computed
// the first time and reused. Per-field costs still come from the
// executable schema's Complexity, as gqlgen's do.
type complexityLimit struct {
	max int
	es  graphql.ExecutableSchema
}

var _ interface {
	graphql.OperationContextMutator
	graphql.HandlerExtension
} = &complexityLimit{}

// ExtensionName is gqlgen's. Unlike gqlgen's, it records no statistics in
// the operation context: nothing reads them, and the map they go into was
// a few allocations on every request.
func (*complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c *complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.es = es
	return nil
}

func (c *complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	n, _ := operationComplexity(ctx, c.es, oc.Operation, oc.Variables)
	if n > c.max {
		return &gqlerror.Error{
			Message:    fmt.Sprintf("operation has complexity %d, which exceeds the limit of %d", n, c.max),
			Extensions: map[string]any{"code": codeComplexityLimit},
		}
	}
	return nil
}

// operationComplexity is complexity.Calculate of gqlgen (with its default
// options) on a validated operation, each fragment costed once. It also
// returns the selections it visited, which tests compare with the
// document's size.
func operationComplexity(ctx context.Context, es graphql.ExecutableSchema, op *ast.OperationDefinition, vars map[string]any) (cost, visits int) {
	w := &complexityWalker{ctx: ctx, es: es, schema: es.Schema(), vars: vars, memo: map[*ast.FragmentDefinition]int{}}
	return w.selectionSet(op.SelectionSet), w.visits
}

type complexityWalker struct {
	ctx    context.Context
	es     graphql.ExecutableSchema
	schema *ast.Schema
	vars   map[string]any
	memo   map[*ast.FragmentDefinition]int
	visits int
}

func (w *complexityWalker) selectionSet(set ast.SelectionSet) int {
	var cost int
	for _, sel := range set {
		w.visits++
		switch s := sel.(type) {
		case *ast.Field:
			def := w.schema.Types[s.Definition.Type.Name()]
			if def.Name == "__Schema" {
				continue // gqlgen does not cost introspection
			}
			var child int
			switch def.Kind {
			case ast.Object, ast.Interface, ast.Union:
				child = w.selectionSet(s.SelectionSet)
			}
			args := s.ArgumentMap(w.vars)
			var field int
			if s.ObjectDefinition.Kind == ast.Interface {
				// The worst of the implementations, as gqlgen assumes.
				for _, t := range w.schema.GetPossibleTypes(s.ObjectDefinition) {
					field = max(field, w.field(t, def.Kind, s.Name, child, args))
				}
			} else {
				field = w.field(s.ObjectDefinition, def.Kind, s.Name, child, args)
			}
			cost = safeAdd(cost, field)
		case *ast.FragmentSpread:
			cost = safeAdd(cost, w.fragment(s.Definition))
		case *ast.InlineFragment:
			cost = safeAdd(cost, w.selectionSet(s.SelectionSet))
		}
	}
	return cost
}

func (w *complexityWalker) fragment(f *ast.FragmentDefinition) int {
	if f == nil {
		return 0
	}
	if n, ok := w.memo[f]; ok {
		return n
	}
	w.memo[f] = 0 // validation refused cycles; this only keeps one finite
	n := w.selectionSet(f.SelectionSet)
	w.memo[f] = n
	return n
}

func (w *complexityWalker) field(def *ast.Definition, kind ast.DefinitionKind, field string, child int, args map[string]any) int {
	if n, ok := w.es.Complexity(w.ctx, def.Name, field, child, args); ok && n >= 1 {
		return n
	}
	// gqlgen's default: 1 for the field itself, plus its selections.
	return safeAdd(1, child)
}

// safeAdd is gqlgen's saturating addition: negative operands (a custom
// cost gone wrong) are ignored, and an overflow saturates rather than
// wrapping round to a small cost.
func safeAdd(a, b int) int {
	if a < 0 {
		if b < 0 {
			return 1
		}
		return b
	} else if b < 0 {
		return a
	}
	c := a + b
	if c < a {
		return int(^uint(0) >> 1)
	}
	return c
}
