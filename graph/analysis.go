package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"accountd/web"
)

// The bounds on a document's size checked before gqlparser validates it.
// Every rule of the validator, and every limit checked after it, costs time
// in proportion to these measures, so a document within them is cheap to
// refuse whatever it holds; each is far above what an honest document
// needs.
const (
	// maxExpandedSelections caps the selections (fields, fragment spreads
	// and inline fragments) of the document with every fragment spread
	// replaced by the fragment's body, summed over every operation and
	// every fragment definition (the validator walks each of them as a
	// root). The complexity limit (500 by default, each field costing at
	// least 1) keeps honest data queries to a few hundred fields, and
	// GraphiQL's introspection query expands to 411 selections: 5,000 is
	// ten times the first and twelve times the second, and a document of
	// 2^30 fields built from thirty doubling fragments is refused by
	// arithmetic on thirty numbers instead of a walk.
	maxExpandedSelections = 5000
	// maxOverlapPairs caps the pairs of fields that share a response name
	// at the same place of the expanded document. Those are the pairs the
	// OverlappingFieldsCanBeMerged rule may compare one with another, so it
	// is quadratic in the number of copies of one field: `id` 5,000 times
	// in one selection set would be 12.5 million comparisons (seconds).
	// The count is an upper bound (the rule also remembers the fragment
	// pairs it has compared). A pair that conflicts (same name, other
	// arguments) costs the rule an error message, about 3µs: 2,000 pairs
	// keep the worst document within the bound to a few milliseconds.
	// Fragments that each select `id` make a few copies meet honestly;
	// 2,000 pairs is 63 copies of a single field in one place.
	maxOverlapPairs = 2000
	// maxFragmentPairs caps the pairs of distinct fragments spread in the
	// same place of the expanded document, which the same rule compares
	// with each other even when no field of theirs shares a name: 1,300
	// fragments spread side by side (a 60 KB document) cost it 70ms. A
	// comparison costs under 0.1µs, and 20,000 pairs allow 200 fragments
	// in one place, more than any component tree spreads into one type.
	maxFragmentPairs = 20000
	// maxDirectives caps the directives written in the document. Honest
	// documents carry a handful of @include and @skip; each directive costs
	// several rules' checks, and a field carrying thousands of them only
	// produces thousands of errors.
	maxDirectives = 200
	// maxVariables caps the variables one operation defines. Every use of
	// a variable is looked up among the definitions by a linear scan, in
	// the walker and in several rules, so the cost grows with definitions
	// × uses; honest operations define a few.
	maxVariables = 100
	// maxValidationErrors is how many validation errors a response lists,
	// as graphql-js stops at 100 and says so, rather than one per line of
	// a document built to fail everywhere.
	maxValidationErrors = 100
)

// codeQueryTooLarge is extensions.code of a document refused by the size
// bounds above.
const codeQueryTooLarge = "QUERY_TOO_LARGE"

// documentSizeRuleName names the size check among the validation rules.
const documentSizeRuleName = "DocumentSize"

func init() {
	// Refusals before execution are request errors: under
	// application/graphql-response+json they answer 400 with no data, as
	// parse and validation failures do. gqlgen keeps this table in a
	// package variable, written here once before any request reads it.
	for _, code := range []string{codeQueryTooLarge, codeComplexityLimit, codeDepthLimit} {
		errcode.RegisterErrorType(code, errcode.KindProtocol)
	}
}

// sizeLimits are the bounds measureDocument checks.
type sizeLimits struct {
	expanded, pairs, fragmentPairs, directives, variables int
}

// defaultSizeLimits are the bounds the endpoint applies.
var defaultSizeLimits = sizeLimits{
	expanded:      maxExpandedSelections,
	pairs:         maxOverlapPairs,
	fragmentPairs: maxFragmentPairs,
	directives:    maxDirectives,
	variables:     maxVariables,
}

// documentSize is what measureDocument found.
type documentSize struct {
	// expanded is the document's expanded selection count (see
	// maxExpandedSelections), saturating at saturated.
	expanded int
	// pairs is the count of same-response-name pairs (see
	// maxOverlapPairs); it is only counted when expanded is within its
	// bound, and stops once over its own; so is fragmentPairs (see
	// maxFragmentPairs).
	pairs, fragmentPairs int
	directives           int
	variables            int
	// visits counts the AST nodes the memoised pass looked at, so tests
	// can check that work is proportional to the document and not to its
	// expansion; expandedVisits counts those of the walk over the
	// expansion, which is never more than the bound on expanded.
	visits, expandedVisits int
}

// saturated is where expanded sizes stop growing: a fragment tree of
// fifteen thousand tokens can describe 2^5000 selections, which no int
// holds, and any size over the bound is refused alike.
const saturated = 1 << 40

func satAdd(a, b int) int { return min(a+b, saturated) }

// refusal is the cause of an error the size check reports, carried in
// gqlerror.Error.Err because gqlgen overwrites extensions.code of every
// validation error with GRAPHQL_VALIDATION_FAILED; limitErrors puts the
// code back.
type refusal struct{ code string }

func (r *refusal) Error() string { return r.code }

// measureDocument measures doc, unvalidated, against lim and returns the
// error refusing it, if any. Each operation and fragment body is walked
// once, the expanded size of a fragment being the same wherever it is
// spread, so the work is proportional to the document; only when the
// expanded size is within its bound is the expansion walked, to count
// overlapping fields, and then that walk is within the bound too. A
// fragment cycle is refused here, with the message of gqlparser's
// NoFragmentCycles rule, as the memoised sizes assume there is none.
func measureDocument(doc *ast.QueryDocument, lim sizeLimits) (documentSize, *gqlerror.Error) {
	m := &measure{
		frags: make(map[string]*ast.FragmentDefinition, len(doc.Fragments)),
		state: make(map[string]fragmentState, len(doc.Fragments)),
		size:  make(map[string]int, len(doc.Fragments)),
	}
	for _, f := range doc.Fragments {
		if _, ok := m.frags[f.Name]; !ok { // ForName's choice among duplicates
			m.frags[f.Name] = f
		}
	}
	var out documentSize
	for _, op := range doc.Operations {
		out.visits++
		out.variables = max(out.variables, len(op.VariableDefinitions))
		m.directives += len(op.Directives)
		for _, v := range op.VariableDefinitions {
			m.directives += len(v.Directives)
		}
		out.expanded = satAdd(out.expanded, m.selectionSet(op.SelectionSet))
	}
	for _, f := range doc.Fragments {
		out.visits++
		m.directives += len(f.Directives)
		if m.frags[f.Name] != f {
			// A second definition of a name (UniqueFragmentNames reports
			// it): no spread reaches it, but the validator walks it.
			out.expanded = satAdd(out.expanded, m.selectionSet(f.SelectionSet))
			continue
		}
		out.expanded = satAdd(out.expanded, m.fragmentBody(f))
	}
	out.directives = m.directives
	out.visits += m.visits
	switch {
	case m.cycle != nil:
		return out, m.cycle
	case out.expanded > lim.expanded:
		return out, tooLarge("the document expands to more than %d selections once its fragments are spread", lim.expanded)
	case out.directives > lim.directives:
		return out, tooLarge("the document has %d directives, more than the limit of %d", out.directives, lim.directives)
	case out.variables > lim.variables:
		return out, tooLarge("an operation defines %d variables, more than the limit of %d", out.variables, lim.variables)
	}
	o := &overlaps{frags: m.frags, max: lim.pairs, maxFragments: lim.fragmentPairs}
	for _, op := range doc.Operations {
		o.selectionSet(&mergedField{}, op.SelectionSet)
	}
	for _, f := range doc.Fragments {
		o.selectionSet(&mergedField{}, f.SelectionSet)
	}
	out.pairs, out.fragmentPairs = o.pairs, o.fragmentPairs
	out.expandedVisits = o.visits
	if o.pairs > lim.pairs {
		return out, tooLarge("the document selects the same fields in the same place too many times (more than %d pairs)", lim.pairs)
	}
	if o.fragmentPairs > lim.fragmentPairs {
		return out, tooLarge("the document spreads too many fragments in the same place (more than %d pairs)", lim.fragmentPairs)
	}
	return out, nil
}

func tooLarge(format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{
		Message:    fmt.Sprintf(format, args...),
		Err:        &refusal{code: codeQueryTooLarge},
		Extensions: map[string]any{"code": codeQueryTooLarge},
	}
}

type fragmentState uint8

const (
	unvisited fragmentState = iota
	inProgress
	done
)

// measure is measureDocument's memoising walk.
type measure struct {
	frags      map[string]*ast.FragmentDefinition
	state      map[string]fragmentState
	size       map[string]int // expanded size of each done fragment
	path       []string       // the fragments being walked, outermost first
	directives int
	visits     int
	cycle      *gqlerror.Error
}

func (m *measure) selectionSet(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		m.visits++
		n = satAdd(n, 1)
		switch s := sel.(type) {
		case *ast.Field:
			m.directives += len(s.Directives)
			n = satAdd(n, m.selectionSet(s.SelectionSet))
		case *ast.InlineFragment:
			m.directives += len(s.Directives)
			n = satAdd(n, m.selectionSet(s.SelectionSet))
		case *ast.FragmentSpread:
			m.directives += len(s.Directives)
			n = satAdd(n, m.spread(s))
		}
	}
	return n
}

// spread is the expanded size of the fragment s spreads: its body's,
// counted the first time and remembered.
func (m *measure) spread(s *ast.FragmentSpread) int {
	f := m.frags[s.Name]
	if f == nil {
		return 0 // KnownFragmentNames reports it
	}
	if m.state[s.Name] == inProgress {
		if m.cycle == nil {
			m.cycle = cycleError(s, m.path)
		}
		return 0
	}
	return m.fragmentBody(f)
}

func (m *measure) fragmentBody(f *ast.FragmentDefinition) int {
	switch m.state[f.Name] {
	case done:
		return m.size[f.Name]
	case inProgress:
		return 0
	}
	m.state[f.Name] = inProgress
	m.path = append(m.path, f.Name)
	n := m.selectionSet(f.SelectionSet)
	m.path = m.path[:len(m.path)-1]
	m.state[f.Name] = done
	m.size[f.Name] = n
	return n
}

// cycleError reports the spread s closing a cycle through the fragments
// of path the way gqlparser's NoFragmentCycles rule does.
func cycleError(s *ast.FragmentSpread, path []string) *gqlerror.Error {
	var via []string
	for i, name := range path {
		if name == s.Name {
			for _, n := range path[i+1:] {
				via = append(via, fmt.Sprintf("%q", n))
			}
			break
		}
	}
	msg := fmt.Sprintf("Cannot spread fragment %q within itself", s.Name)
	if len(via) > 0 {
		msg += " via " + strings.Join(via, ", ")
	}
	err := gqlerror.ErrorPosf(s.Position, "%s.", msg)
	err.Rule = "NoFragmentCycles"
	err.Err = &refusal{code: errcode.ValidationFailed}
	return err
}

// mergedField is one place of the expanded document: every field with the
// same response name under the same place merges into it.
type mergedField struct {
	count    int
	children map[string]*mergedField
	// spread holds the fragments already spread here: spreading one again
	// adds nothing the rule compares, as it skips a fragment met twice in
	// one place (and compares no fragment with itself).
	spread map[string]bool
}

// overlaps counts, on the expanded document, the pairs of fields merging
// into one place. It runs only on documents whose expansion is within
// maxExpandedSelections and without fragment cycles, and stops once over
// max (or its fragment pairs over maxFragments).
type overlaps struct {
	frags                map[string]*ast.FragmentDefinition
	max, maxFragments    int
	pairs, fragmentPairs int
	visits               int
}

func (o *overlaps) selectionSet(at *mergedField, set ast.SelectionSet) {
	for _, sel := range set {
		if o.pairs > o.max || o.fragmentPairs > o.maxFragments {
			return
		}
		o.visits++
		switch s := sel.(type) {
		case *ast.Field:
			name := s.Alias
			if name == "" {
				name = s.Name
			}
			if at.children == nil {
				at.children = map[string]*mergedField{}
			}
			child := at.children[name]
			if child == nil {
				child = &mergedField{}
				at.children[name] = child
			}
			o.pairs += child.count
			child.count++
			o.selectionSet(child, s.SelectionSet)
		case *ast.InlineFragment:
			o.selectionSet(at, s.SelectionSet)
		case *ast.FragmentSpread:
			f := o.frags[s.Name]
			if f == nil || at.spread[s.Name] {
				continue
			}
			if at.spread == nil {
				at.spread = map[string]bool{}
			}
			o.fragmentPairs += len(at.spread)
			at.spread[s.Name] = true
			o.selectionSet(at, f.SelectionSet)
		}
	}
}

// withDocumentSize adds the size check (see documentSizeRule) to the rule
// sets base returns. gqlgen asks for the rules on every cache miss only, so
// a document it has validated before is never measured again.
func withDocumentSize(base func() *rules.Rules) func() *rules.Rules {
	return func() *rules.Rules {
		r := base()
		r.AddRule(documentSizeRuleName, documentSizeRule(defaultSizeLimits))
		return r
	}
}

// documentSizeRule measures the document before any other rule sees its
// fields, and refuses it when it is over a bound.
//
// gqlgen parses and validates inside its executor, with no hook between
// the two; a rule is the one place that sees the parsed document before
// validation, and costs nothing when the validated-document cache answers.
// But a rule only observes the validator's walk, and every rule's
// observers run during it. The walk's first event, whatever the document,
// is the directive list of the first operation (or of its first variable),
// reached before any selection: that is where the measure runs. A refused
// document is then emptied of its selections and fragments, so the rest of
// the walk, and every other rule, has nothing left to do; what they report
// about the emptied document is dropped by limitErrors, which answers the
// refusal alone.
func documentSizeRule(lim sizeLimits) core.RuleFunc {
	return func(observers *core.Events, addError core.AddErrFunc) {
		measured := false
		observers.OnDirectiveList(func(w *core.Walker, _ []*ast.Directive) {
			if measured {
				return
			}
			measured = true
			if _, err := measureDocument(w.Document, lim); err != nil {
				addError(func(e *gqlerror.Error) {
					e.Message, e.Locations, e.Err = err.Message, err.Locations, err.Err
				})
				emptyDocument(w.Document)
			}
		})
	}
}

// emptyDocument removes what the validator would walk from a refused
// document: the operations stay (the walk is already iterating over them)
// with nothing in them, and the fragments go.
func emptyDocument(doc *ast.QueryDocument) {
	for _, op := range doc.Operations {
		op.SelectionSet, op.VariableDefinitions, op.Directives = nil, nil, nil
	}
	doc.Fragments = nil
}

// limitErrors is the response middleware of the size check and the
// validation error cap: a document refused by documentSizeRule is answered
// with that refusal alone, under its own code, and a document failing
// validation in more than maxValidationErrors places gets the first
// maxValidationErrors errors and one saying the rest were left out, as
// graphql-js answers.
type limitErrors struct{}

var _ interface {
	graphql.ResponseInterceptor
	graphql.HandlerExtension
} = limitErrors{}

func (limitErrors) ExtensionName() string { return "LimitErrors" }

func (limitErrors) Validate(graphql.ExecutableSchema) error { return nil }

func (limitErrors) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if resp == nil || len(resp.Errors) == 0 {
		return resp
	}
	for _, e := range resp.Errors {
		var r *refusal
		if errors.As(e.Err, &r) {
			if e.Extensions == nil {
				e.Extensions = map[string]any{}
			}
			e.Extensions["code"] = r.code
			resp.Errors = gqlerror.List{e}
			return resp
		}
	}
	if len(resp.Errors) > maxValidationErrors && resp.Data == nil &&
		resp.Errors[0].Extensions["code"] == errcode.ValidationFailed {
		resp.Errors = append(resp.Errors[:maxValidationErrors:maxValidationErrors], &gqlerror.Error{
			Message: "Too many validation errors, error limit reached. Validation aborted.",
			Extensions: map[string]any{
				"code":      errcode.ValidationFailed,
				"requestId": web.RequestIDFrom(ctx),
			},
		})
	}
	return resp
}
