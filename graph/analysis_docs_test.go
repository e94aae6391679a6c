package graph

import (
	"fmt"
	"strings"
)

// attackDoc is a document built to make pre-execution analysis expensive.
// code is the extensions.code that refuses it.
type attackDoc struct {
	name, doc, code string
}

// fragmentChain builds levels fragments F0 … F<levels> on typ where
// fragment i holds body(i) with "%[1]s" replaced by the spread of fragment
// i+1; the last fragment holds leaf.
func fragmentChain(prefix, typ string, levels int, body func(next string) string, leaf string) string {
	var b strings.Builder
	for i := range levels {
		next := fmt.Sprintf("...%s%d", prefix, i+1)
		fmt.Fprintf(&b, "fragment %s%d on %s { %s }\n", prefix, i, typ, body(next))
	}
	fmt.Fprintf(&b, "fragment %s%d on %s { %s }\n", prefix, levels, typ, leaf)
	return b.String()
}

// doublingDocs returns the exponential documents: each fragment spreads the
// next one twice, in every shape the issue names, levels deep.
func doublingDocs(levels int) []attackDoc {
	twice := func(next string) string { return next + " " + next }
	mutual := func() string {
		// A_i spreads B_i twice, B_i spreads C_i twice, C_i spreads A_{i+1}
		// twice: the doubling goes through three fragments per step, and
		// there are levels doublings in all.
		var b strings.Builder
		steps := levels / 3
		for i := range steps {
			fmt.Fprintf(&b, "fragment A%d on User { ...B%d ...B%d }\n", i, i, i)
			fmt.Fprintf(&b, "fragment B%d on User { ...C%d ...C%d }\n", i, i, i)
			fmt.Fprintf(&b, "fragment C%d on User { ...A%d ...A%d }\n", i, i+1, i+1)
		}
		fmt.Fprintf(&b, "fragment A%d on User { id }\n", steps)
		return "{ viewer { ...A0 } }\n" + b.String()
	}
	shapes := []struct{ name, doc string }{
		{"spreads", "{ viewer { ...F0 } }\n" + fragmentChain("F", "User", levels, twice, "id")},
		{"through data fields", "{ viewer { ...F0 } }\n" + fragmentChain("F", "User", levels,
			func(n string) string { return "apiKeys { totalCount } " + n + " sessions { totalCount } " + n }, "id")},
		{"nested through fields", "{ __schema { types { ...T0 } } }\n" + fragmentChain("T", "__Type", levels,
			func(n string) string { return "ofType { " + n + " } " + n }, "name")},
		{"inline fragments", "{ viewer { ...F0 } }\n" + fragmentChain("F", "User", levels,
			func(n string) string { return "... on User { " + n + " } ... { " + n + " }" }, "id")},
		{"aliases", "{ viewer { ...F0 } }\n" + fragmentChain("F", "User", levels,
			func(n string) string { return "a: id " + n + " b: username " + n }, "id")},
		{"directives", "{ viewer { ...F0 } }\n" + fragmentChain("F", "User", levels,
			func(n string) string { return n + " @include(if: true) " + n + " @skip(if: false)" }, "id")},
		{"mutual spreads", mutual()},
		{"cycle", "{ viewer { ...F0 } }\n" + fragmentChain("F", "User", levels, twice, "...F0")},
	}
	var docs []attackDoc
	for _, d := range shapes {
		docs = append(docs, attackDoc{d.name, d.doc, codeQueryTooLarge})
	}
	// A cycle makes the document invalid whatever its size, and says so
	// as the validator would.
	docs[len(docs)-1].code = "GRAPHQL_VALIDATION_FAILED"
	return docs
}

// repeat returns s n times, separated by spaces.
func repeat(s string, n int) string {
	return strings.TrimSpace(strings.Repeat(s+" ", n))
}

// wideDocs returns documents that stay under the 15,000-token parser limit
// but are as wide as it allows: linear to parse, and quadratic (or
// error-flooding) for a naive validator.
func wideDocs() []attackDoc {
	var ops, keys, aliases strings.Builder
	for i := range 1500 {
		fmt.Fprintf(&ops, "query Q%d { ...F0 }\n", i)
	}
	for i := range 1300 {
		fmt.Fprintf(&keys, "apiKey(id: \"k%d\") { id } ", i)
	}
	for i := range 4900 {
		fmt.Fprintf(&aliases, "a%d: id ", i)
	}
	chain := func(n int) string {
		return fragmentChain("F", "User", n, func(next string) string { return "id " + next }, "id")
	}
	var vars, uses strings.Builder
	for i := range 800 {
		fmt.Fprintf(&vars, "$v%d: Int ", i)
		fmt.Fprintf(&uses, "k%d: apiKeys(first: $v%d) { totalCount } ", i, i)
	}
	return []attackDoc{
		{"same field 14,990 times", "{ viewer { " + repeat("id", 14990) + " } }", codeQueryTooLarge},
		// Within every size bound, and refused by its cost once valid.
		{"4,900 aliases", "{ viewer { " + aliases.String() + "} }", codeComplexityLimit},
		{"1,300 conflicting fields", "{ viewer { " + keys.String() + "} }", codeQueryTooLarge},
		{"2,000 directives on one field", "{ viewer { id " + repeat("@include(if: true)", 2000) + " } }", codeQueryTooLarge},
		{"7,000 unknown directives", "{ viewer { id " + repeat("@a", 7000) + " } }", codeQueryTooLarge},
		{"14,990 unknown fields", "{ viewer { " + repeat("nope", 14990) + " } }", codeQueryTooLarge},
		{"800 variables", "query(" + vars.String() + ") { viewer { " + uses.String() + "} }", codeQueryTooLarge},
		{"a second fragment of the same name", "{ viewer { ...F } }\nfragment F on User { id }\nfragment F on User { " +
			repeat("id", 14000) + " }", codeQueryTooLarge},
		{"1,300 fragments in one place", manyFragmentsDoc(1300, 1), codeQueryTooLarge},
		{"1,600-fragment chain", "{ viewer { ...F0 } }\n" + chain(1600), codeQueryTooLarge},
		{"1,500 operations over a fragment chain", ops.String() + chain(300), codeQueryTooLarge},
	}
}

// CostAttackDoc is an attack document for the end-to-end tests of package
// graph_test, with the extensions.code that refuses it.
type CostAttackDoc struct{ Name, Doc, Code string }

// CostAttackDocs returns every attack document, the doubling ones levels
// deep.
func CostAttackDocs(levels int) []CostAttackDoc {
	var out []CostAttackDoc
	for _, d := range append(doublingDocs(levels), wideDocs()...) {
		out = append(out, CostAttackDoc{d.name, d.doc, d.code})
	}
	return out
}

// CostBoundaryDocs returns the most expensive documents within the size
// bounds, which validation or the cost limit refuses.
func CostBoundaryDocs() []CostAttackDoc {
	var out []CostAttackDoc
	for _, d := range boundaryDocs() {
		out = append(out, CostAttackDoc{d.name, d.doc, d.code})
	}
	return out
}

// IntrospectionQuery is GraphiQL's introspection query (graphql-js 16's
// getIntrospectionQuery with every option on).
const IntrospectionQuery = `query IntrospectionQuery {
  __schema {
    description
    queryType { name kind }
    mutationType { name kind }
    subscriptionType { name kind }
    types { ...FullType }
    directives {
      name
      description
      isRepeatable
      locations
      args(includeDeprecated: true) { ...InputValue }
    }
  }
}

fragment FullType on __Type {
  kind
  name
  description
  specifiedByURL
  isOneOf
  fields(includeDeprecated: true) {
    name
    description
    args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef }
    isDeprecated
    deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes { ...TypeRef }
}

fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
  isDeprecated
  deprecationReason
}

fragment TypeRef on __Type {
  kind
  name
  ofType {
    kind
    name
    ofType {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
              }
            }
          }
        }
      }
    }
  }
}
`

// boundaryDocs are the most expensive documents within every size bound:
// they reach validation, and are refused by it or by the cost limit.
func boundaryDocs() []attackDoc {
	var keys, ops, vars, uses strings.Builder
	for i := range 45 { // 990 pairs of conflicts, and as many of their ids
		fmt.Fprintf(&keys, "apiKey(id: \"k%d\") { id } ", i)
	}
	for i := range 1800 {
		fmt.Fprintf(&ops, "query Q%d { viewer { id } }\n", i)
	}
	for i := range maxVariables {
		fmt.Fprintf(&vars, "$v%d: Int ", i)
	}
	for i := range 600 {
		fmt.Fprintf(&uses, "k%d: apiKeys(first: $v%d) { totalCount } ", i, i%maxVariables)
	}
	return []attackDoc{
		{"at the bound: 45 conflicting fields", "{ viewer { " + keys.String() + "} }", "GRAPHQL_VALIDATION_FAILED"},
		{"at the bound: 1,800 operations", ops.String(), "GRAPHQL_VALIDATION_FAILED"},
		{"at the bound: 100 variables used 600 times", "query(" + vars.String() + ") { viewer { " + uses.String() + "} }", codeComplexityLimit},
		{"at the bound: 200 directives", "{ viewer { id " + repeat("@include(if: true)", maxDirectives) + " } }", "GRAPHQL_VALIDATION_FAILED"},
		// The parser refuses nesting past 1,000 levels itself.
		{"at the bound: 990 levels deep", "{ __schema { types { " + strings.Repeat("ofType { ", 990) + "name" +
			strings.Repeat(" }", 990) + " } } }", codeDepthLimit},
		// 19,900 pairs of fragments.
		{"at the bound: 200 fragments in one place", manyFragmentsDoc(200, 3), codeComplexityLimit},
		{"at the bound: 4,999 selections", "{ viewer { id " + aliasRun(4998) + "} }", codeComplexityLimit},
	}
}

func aliasRun(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "a%d: id ", i)
	}
	return b.String()
}

// manyFragmentsDoc spreads n distinct fragments in one place, each
// selecting fields of its own aliases, so no two fields share a name.
func manyFragmentsDoc(n, fields int) string {
	var spreads, defs strings.Builder
	for i := range n {
		fmt.Fprintf(&spreads, "...A%d ", i)
		fmt.Fprintf(&defs, "fragment A%d on User {", i)
		for j := range fields {
			fmt.Fprintf(&defs, " a%d_%d: id", i, j)
		}
		defs.WriteString(" }\n")
	}
	return "{ viewer { " + spreads.String() + "} }\n" + defs.String()
}
