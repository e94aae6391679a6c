package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

// ordinaryDocs are documents an honest client sends, with their variables.
var ordinaryDocs = []struct {
	name, doc string
	vars      map[string]any
}{
	{"viewer with connections", `{ viewer { id username email twoFactor { enabled }
		apiKeys(first: 10) { edges { cursor node { id name keyStart } } pageInfo { hasNextPage endCursor } totalCount }
		sessions { edges { node { id current } } totalCount }
		activity(first: 5) { edges { node { event data } } } } }`, nil},
	{"fragments and variables", `query Q($n: Int) { viewer { ...U apiKeys(first: $n) { ...Keys } a: apiKeys { ...Keys } } }
		fragment U on User { id username ... on User { email } ... { nameFirst } }
		fragment Keys on ApiKeyConnection { totalCount edges { node { id } } }`, map[string]any{"n": 5}},
	{"catalog and typename", `{ __typename permissionCatalog { userPermissions { __typename } } viewer { __typename } }`, nil},
	{"type introspection", `{ __type(name: "User") { name fields { name type { ...TypeRef } } } }
		fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name } } }`, nil},
	{"GraphiQL introspection", IntrospectionQuery, nil},
	{"five doubling levels", "{ viewer { id ...F0 } }\n" + fragmentChain("F", "User", 5,
		func(n string) string { return "apiKeys { totalCount } " + n + " " + n }, "id"), nil},
}

func testSchema() graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: &Resolver{}})
}

func parseDoc(t testing.TB, q string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

// validDoc parses and validates q with gqlparser's own rules only.
func validDoc(t testing.TB, es graphql.ExecutableSchema, q string) *ast.QueryDocument {
	t.Helper()
	doc := parseDoc(t, q)
	if errs := validator.ValidateWithRules(es.Schema(), doc, rules.NewDefaultRules()); len(errs) > 0 {
		t.Fatalf("validate: %v", errs)
	}
	return doc
}

// naiveDepth is the depth walk this package used before, which follows
// every spread again: the reference the memoised one must agree with.
func naiveDepth(set ast.SelectionSet, doc *ast.QueryDocument) int {
	deepest := 0
	for _, sel := range set {
		var n int
		switch s := sel.(type) {
		case *ast.Field:
			n = 1 + naiveDepth(s.SelectionSet, doc)
		case *ast.InlineFragment:
			n = naiveDepth(s.SelectionSet, doc)
		case *ast.FragmentSpread:
			n = naiveDepth(doc.Fragments.ForName(s.Name).SelectionSet, doc)
		}
		deepest = max(deepest, n)
	}
	return deepest
}

// TestOperationCostMatchesGqlgen: on ordinary documents the memoised
// complexity is gqlgen's complexity.Calculate exactly, and the memoised
// depth is the old walk's.
func TestOperationCostMatchesGqlgen(t *testing.T) {
	t.Parallel()
	es := testSchema()
	for _, tc := range ordinaryDocs {
		t.Run(tc.name, func(t *testing.T) {
			doc := validDoc(t, es, tc.doc)
			op := doc.Operations[0]
			ctx := context.Background()
			got, _ := operationComplexity(ctx, es, op, tc.vars)
			if want := complexity.Calculate(ctx, es, op, tc.vars); got != want {
				t.Errorf("complexity %d, gqlgen says %d", got, want)
			}
			depth, _ := operationDepth(op, doc)
			if want := naiveDepth(op.SelectionSet, doc); depth != want {
				t.Errorf("depth %d, want %d", depth, want)
			}
			size, err := measureDocument(doc, defaultSizeLimits)
			if err != nil {
				t.Errorf("refused: %v", err)
			}
			t.Logf("complexity %d, depth %d, expanded %d, overlapping pairs %d", got, depth, size.expanded, size.pairs)
		})
	}
}

// TestIntrospectionWithinSizeLimits: GraphiQL's introspection query is far
// inside every bound, so the bounds only ever meet documents built to
// reach them.
func TestIntrospectionWithinSizeLimits(t *testing.T) {
	t.Parallel()
	size, err := measureDocument(parseDoc(t, IntrospectionQuery), defaultSizeLimits)
	if err != nil {
		t.Fatal(err)
	}
	if size.expanded*10 > maxExpandedSelections || size.pairs > 0 || size.directives > 0 {
		t.Errorf("introspection measures %+v", size)
	}
}

// astNodes counts the nodes of doc as written: operations, fragment
// definitions, selections and directives.
func astNodes(doc *ast.QueryDocument) int {
	var set func(ast.SelectionSet) int
	set = func(s ast.SelectionSet) int {
		n := 0
		for _, sel := range s {
			n++
			switch s := sel.(type) {
			case *ast.Field:
				n += len(s.Directives) + set(s.SelectionSet)
			case *ast.InlineFragment:
				n += len(s.Directives) + set(s.SelectionSet)
			case *ast.FragmentSpread:
				n += len(s.Directives)
			}
		}
		return n
	}
	n := 0
	for _, op := range doc.Operations {
		n += 1 + len(op.Directives) + set(op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		n += 1 + len(f.Directives) + set(f.SelectionSet)
	}
	return n
}

// TestAnalysisIsLinear: the doubling documents at 10, 20 and 30 levels
// describe 2^10 to 2^30 fields; the size measure, the complexity and the
// depth each visit every node of the document a bounded number of times,
// so their visits grow with the document (linearly), not with what it
// expands to. The one walk over the expansion, counting overlapping
// fields, only runs on a document whose expansion is within its bound.
// Visits are counted rather than timed: the machine is shared.
func TestAnalysisIsLinear(t *testing.T) {
	t.Parallel()
	es := testSchema()
	const k = 2 // visits allowed per AST node
	for _, levels := range []int{10, 20, 30} {
		for _, d := range doublingDocs(levels) {
			t.Run(fmt.Sprintf("%s/%d", d.name, levels), func(t *testing.T) {
				doc := parseDoc(t, d.doc)
				nodes := astNodes(doc)
				size, err := measureDocument(doc, defaultSizeLimits)
				if err == nil && levels > 10 {
					t.Fatalf("not refused: %+v", size)
				}
				if size.visits > k*nodes {
					t.Errorf("measure: %d visits for %d nodes", size.visits, nodes)
				}
				if size.expandedVisits > maxExpandedSelections {
					t.Errorf("measure: %d visits of the expansion", size.expandedVisits)
				}
				if d.name == "cycle" {
					return // invalid: nothing runs after validation
				}
				// gqlparser's walk is linear here: it follows each fragment
				// once per operation.
				doc = validDoc(t, es, d.doc)
				op := doc.Operations[0]
				cost, visits := operationComplexity(context.Background(), es, op, nil)
				if visits > k*nodes {
					t.Errorf("complexity: %d visits for %d nodes", visits, nodes)
				}
				if cost <= 500 && d.name != "nested through fields" { // introspection is free
					t.Errorf("complexity %d of a document expanding to 2^%d", cost, levels)
				}
				depth, visits := operationDepth(op, doc)
				if visits > k*nodes {
					t.Errorf("depth: %d visits for %d nodes", visits, nodes)
				}
				t.Logf("%d nodes: measure %d+%d visits, complexity %d, depth %d", nodes, size.visits, size.expandedVisits, cost, depth)
			})
		}
	}
}

// TestAttackDocumentsRefusedBeforeValidation: every document of the
// benchmark that the size bounds are for is refused by the size rule, as
// the validator's first event, and the rest of validation then finds an
// empty document: a handful of errors at most, none about its fields.
func TestAttackDocumentsRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	es := testSchema()
	all := rules.NewDefaultRules
	for _, d := range append(doublingDocs(30), wideDocs()...) {
		t.Run(d.name, func(t *testing.T) {
			doc := parseDoc(t, d.doc)
			errs := validator.ValidateWithRules(es.Schema(), doc, withDocumentSize(all)())
			var refused *gqlerror.Error
			for _, e := range errs {
				var r *refusal
				if errors.As(e.Err, &r) {
					refused = e
					if r.code != d.code {
						t.Errorf("code %s, want %s", r.code, d.code)
					}
				}
			}
			if d.code == codeComplexityLimit {
				// Within the size bounds: validation runs and passes,
				// and the cost limit refuses it afterwards.
				if refused != nil || len(errs) > 0 {
					t.Errorf("errors %v", errs)
				}
				return
			}
			if refused == nil {
				t.Fatalf("not refused; %d errors", len(errs))
			}
			if len(errs) > 10 {
				t.Errorf("%d errors after the refusal: the document was walked", len(errs))
			}
			if len(doc.Fragments) > 0 || len(doc.Operations[0].SelectionSet) > 0 {
				t.Error("the refused document was not emptied")
			}
			t.Logf("%s", refused.Message)
		})
	}
}

// TestSizeLimitEdges: each bound lets its value through and refuses one
// more.
func TestSizeLimitEdges(t *testing.T) {
	t.Parallel()
	aliases := func(n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "a%d: id ", i)
		}
		return "{ viewer { " + b.String() + "} }" // n+1 selections with viewer
	}
	vars := func(n int) string {
		var decl, use strings.Builder
		for i := range n {
			fmt.Fprintf(&decl, "$v%d: Int ", i)
			fmt.Fprintf(&use, "k%d: apiKeys(first: $v%d) { totalCount } ", i, i)
		}
		return "query(" + decl.String() + ") { viewer { " + use.String() + "} }"
	}
	for _, tc := range []struct {
		name     string
		ok, over string
	}{
		{"expanded selections", aliases(maxExpandedSelections - 1), aliases(maxExpandedSelections)},
		// n copies of one field make n(n-1)/2 pairs: 63 → 1,953, 64 → 2,016.
		{"overlapping pairs", "{ viewer { " + repeat("id", 63) + " } }", "{ viewer { " + repeat("id", 64) + " } }"},
		// n fragments in one place make n(n-1)/2 pairs: 200 → 19,900, 201 → 20,100.
		{"fragment pairs", manyFragmentsDoc(200, 1), manyFragmentsDoc(201, 1)},
		{"directives", "{ viewer { id " + repeat("@include(if: true)", maxDirectives) + " } }",
			"{ viewer { id " + repeat("@include(if: true)", maxDirectives+1) + " } }"},
		{"variables", vars(maxVariables), vars(maxVariables + 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if size, err := measureDocument(parseDoc(t, tc.ok), defaultSizeLimits); err != nil {
				t.Errorf("at the bound: %v (%+v)", err, size)
			}
			size, err := measureDocument(parseDoc(t, tc.over), defaultSizeLimits)
			if err == nil {
				t.Errorf("over the bound, not refused: %+v", size)
			} else if r := (*refusal)(nil); !errors.As(err.Err, &r) || r.code != codeQueryTooLarge {
				t.Errorf("error %v", err)
			}
		})
	}
}

// TestFragmentCycleMessage: a cycle is refused with the message
// gqlparser's NoFragmentCycles rule gives.
func TestFragmentCycleMessage(t *testing.T) {
	t.Parallel()
	_, err := measureDocument(parseDoc(t, `{ viewer { ...A } }
		fragment A on User { ...B } fragment B on User { ...C } fragment C on User { ...A }`), defaultSizeLimits)
	if err == nil || err.Message != `Cannot spread fragment "A" within itself via "B", "C".` {
		t.Errorf("error %v", err)
	}
}

// TestLimitErrors: the response middleware keeps a refusal alone under its
// code, and caps validation errors at maxValidationErrors plus one saying
// so.
func TestLimitErrors(t *testing.T) {
	t.Parallel()
	validation := func(n int) gqlerror.List {
		var l gqlerror.List
		for i := range n {
			l = append(l, &gqlerror.Error{Message: fmt.Sprint(i), Extensions: map[string]any{"code": "GRAPHQL_VALIDATION_FAILED"}})
		}
		return l
	}
	run := func(errs gqlerror.List) gqlerror.List {
		return limitErrors{}.InterceptResponse(context.Background(), func(context.Context) *graphql.Response {
			return &graphql.Response{Errors: errs}
		}).Errors
	}
	if got := run(validation(maxValidationErrors)); len(got) != maxValidationErrors {
		t.Errorf("%d errors, want all %d", len(got), maxValidationErrors)
	}
	got := run(validation(5000))
	if len(got) != maxValidationErrors+1 || !strings.HasPrefix(got[maxValidationErrors].Message, "Too many validation errors") {
		t.Errorf("%d errors, last %v", len(got), got[len(got)-1])
	}
	refused := tooLarge("too large")
	refused.Extensions["code"] = "GRAPHQL_VALIDATION_FAILED" // as gqlgen leaves it
	got = run(append(validation(3), refused))
	if len(got) != 1 || got[0].Extensions["code"] != codeQueryTooLarge {
		t.Errorf("refusal answered as %v", got)
	}
}
