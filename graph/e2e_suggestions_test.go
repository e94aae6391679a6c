package graph_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
)

// sgCase is a document that gets validation errors; suggests says whether
// gqlparser would append a "did you mean" hint to one of them.
type sgCase struct {
	name      string
	doc       string
	variables map[string]any
	suggests  bool
}

// sgCases provokes every kind of error that could name a part of the
// schema the client did not: one case per validation rule that suggests,
// and the neighbours (variables, fragments, directives, variable values)
// that must not start to.
var sgCases = []sgCase{
	{name: "unknown field", doc: `{ viewer { usernam } }`, suggests: true},
	{name: "missing subselection", doc: `{ viewer }`, suggests: true},
	{name: "unknown field argument", doc: `{ viewer { apiKeys(frist: 1) { totalCount } } }`, suggests: true},
	{name: "unknown directive argument", doc: `{ viewer { username @include(iff: true) } }`, suggests: true},
	// gqlparser suggests type names only for fragment definitions today.
	{name: "unknown variable type", doc: `query($i: UpdateAcountInput!) { viewer { id } }`},
	{name: "unknown fragment type", doc: `query { viewer { ...F } } fragment F on Usr { id }`, suggests: true},
	{name: "unknown inline fragment type", doc: `query { viewer { ... on Usr { id } } }`},
	{name: "unknown input field", doc: `mutation { updateAccount(input: {nameFrist: "x"}) { userErrors { message } } }`, suggests: true},
	{name: "unknown enum value", doc: `mutation { updateAccount(input: {toastPosition: TOP_LEF}) { userErrors { message } } }`, suggests: true},
	{name: "string for enum", doc: `mutation { updateAccount(input: {toastPosition: "TOP_LEFT"}) { userErrors { message } } }`, suggests: true},
	{name: "unknown variable", doc: `query($first: Int) { viewer { apiKeys(first: $frist) { totalCount } } }`},
	{name: "unknown fragment", doc: `query { viewer { ...Usr } } fragment User on User { id }`},
	{name: "unknown directive", doc: `{ viewer { username @inclued(if: true) } }`},
	{name: "unknown input field in a variable", doc: `mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { userErrors { message } } }`,
		variables: map[string]any{"input": map[string]any{"nameFrist": "x"}}},
	{name: "unknown enum value in a variable", doc: `mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { userErrors { message } } }`,
		variables: map[string]any{"input": map[string]any{"toastPosition": "TOP_LEF"}}},
}

// sgMessages posts the case and returns its error messages, failing unless
// there is at least one and nothing ran.
func sgMessages(t *testing.T, c *apptest.Client, tc sgCase) []string {
	t.Helper()
	r := c.GQL(tc.doc, tc.variables)
	if len(r.Errors) == 0 {
		t.Fatalf("no errors: %d %s", r.Status, r.Raw)
	}
	if apptest.Get(r.Data, "updateAccount") != nil || apptest.Get(r.Data, "viewer") != nil {
		t.Fatalf("the document ran: %s", r.Raw)
	}
	msgs := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		msgs[i] = e.Message
	}
	return msgs
}

// TestGraphQLNoSuggestionsInProduction: outside development no error
// message hints at a name the client did not write, whichever rule
// produced it, and what is left of each message is a whole sentence.
func TestGraphQLNoSuggestionsInProduction(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "nosuggest", apptest.GQLPassword)
		for _, tc := range sgCases {
			t.Run(tc.name, func(t *testing.T) {
				for _, m := range sgMessages(t, c, tc) {
					if strings.Contains(strings.ToLower(m), "did you mean") {
						t.Errorf("suggestion leaked: %q", m)
					}
					if strings.HasSuffix(m, " ") || strings.HasSuffix(m, ",") || m == "" {
						t.Errorf("message left broken: %q", m)
					}
				}
			})
		}
	})
}

// TestGraphQLAllSuggestionsInDevelopment: APP_ENV=development keeps every
// rule's hint, so the production table above really exercises each source.
func TestGraphQLAllSuggestionsInDevelopment(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.Development = true }), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "suggest", apptest.GQLPassword)
		for _, tc := range sgCases {
			if !tc.suggests {
				continue
			}
			t.Run(tc.name, func(t *testing.T) {
				msgs := sgMessages(t, c, tc)
				if !strings.Contains(strings.Join(msgs, "\n"), "Did you mean") {
					t.Errorf("no suggestion in development: %q", msgs)
				}
			})
		}
	})
}

// TestGraphQLIntrospectionOff: with GRAPHQL_INTROSPECTION=false a document
// that asks for __schema or __type, however it hides it, is refused before
// execution as a request error with a code of its own — not as INTERNAL,
// and without an ERROR log line anyone could repeat at will.
func TestGraphQLIntrospectionOff(t *testing.T) {
	t.Parallel()
	off := apptest.NoRateLimit(func(cfg *app.Config) { cfg.GraphQLIntrospection = false })
	apptest.EachServer(t, off, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		docs := map[string]string{
			"__schema":                `{ __schema { queryType { name } } }`,
			"__type":                  `{ __type(name: "User") { name fields { name } } }`,
			"in a fragment":           `query { ...F } fragment F on Query { __schema { types { name } } }`,
			"in an inline fragment":   `query { ... on Query { __type(name: "Query") { name } } }`,
			"next to an honest field": `query { permissionCatalog { __typename } __schema { queryType { name } } }`,
		}
		for name, doc := range docs {
			t.Run(name+"/application/json", func(t *testing.T) {
				res, m := glPost(t, c, "application/json", glQuery(doc))
				if res.Status != http.StatusOK {
					t.Errorf("status %d, want 200 under application/json", res.Status)
				}
				if d, ok := m["data"]; ok && string(d) != "null" {
					t.Errorf("data %s: the document must not run", d)
				}
				msg, code := glFirstError(t, m)
				if code != "INTROSPECTION_DISABLED" {
					t.Errorf("error %q (%s), want INTROSPECTION_DISABLED", msg, code)
				}
			})
			t.Run(name+"/application/graphql-response+json", func(t *testing.T) {
				res, m := glPost(t, c, "application/graphql-response+json", glQuery(doc))
				if res.Status != http.StatusBadRequest {
					t.Errorf("status %d, want 400", res.Status)
				}
				if _, ok := m["data"]; ok {
					t.Errorf("a request error has a data entry: %s", res.Body)
				}
				if _, code := glFirstError(t, m); code != "INTROSPECTION_DISABLED" {
					t.Errorf("code %s, want INTROSPECTION_DISABLED", code)
				}
			})
		}
		t.Run("GET", func(t *testing.T) {
			r := gqlDecode(t, c.Raw(http.MethodGet, "/graphql?query="+url.QueryEscape(`{__schema{queryType{name}}}`), "", nil))
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "INTROSPECTION_DISABLED" || r.Data != nil {
				t.Errorf("GET __schema: %d %s", r.Status, r.Raw)
			}
		})
		t.Run("__typename still answers", func(t *testing.T) {
			r := c.GQL(`{ __typename }`, nil)
			apptest.GQLNoErrors(t, r)
			if apptest.Get(r.Data, "__typename") != "Query" {
				t.Errorf("__typename: %s", r.Raw)
			}
		})
		t.Run("nothing logged at ERROR", func(t *testing.T) {
			if log := ts.LogText(); strings.Contains(log, "level=ERROR") {
				t.Errorf("refused introspection logged an error:\n%s", log)
			}
		})
	})
}

// TestGraphQLIntrospectionOnByDefault: the switch's default keeps
// GraphiQL's introspection working.
func TestGraphQLIntrospectionOnByDefault(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		r := ts.Client(t).GQL(`{ __schema { queryType { name } } __type(name: "User") { name } }`, nil)
		apptest.GQLNoErrors(t, r)
		if apptest.Get(r.Data, "__schema", "queryType", "name") != "Query" || apptest.Get(r.Data, "__type", "name") != "User" {
			t.Errorf("introspection: %s", r.Raw)
		}
	})
}
