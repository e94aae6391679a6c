package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
)

// glPost sends a GraphQL POST with the given Accept header and returns the
// response and its decoded top-level members.
func glPost(t *testing.T, c *apptest.Client, accept string, body []byte) (*apptest.Response, map[string]json.RawMessage) {
	t.Helper()
	if accept != "" {
		c.Header.Set("Accept", accept)
		defer c.Header.Del("Accept")
	}
	res := c.Raw(http.MethodPost, "/graphql", "application/json", bytes.NewReader(body))
	var m map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %d %s", res.Status, res.Body)
	}
	return res, m
}

// glFirstError returns the first error's message and extensions.code.
func glFirstError(t *testing.T, m map[string]json.RawMessage) (string, string) {
	t.Helper()
	var errs []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	if err := json.Unmarshal(m["errors"], &errs); err != nil || len(errs) == 0 {
		t.Fatalf("no errors in %s", m["errors"])
	}
	code, _ := errs[0].Extensions["code"].(string)
	if errs[0].Extensions["requestId"] == nil {
		t.Errorf("error without requestId: %+v", errs[0])
	}
	return errs[0].Message, code
}

func glQuery(doc string) []byte {
	b, _ := json.Marshal(map[string]any{"query": doc})
	return b
}

// TestGraphQLLimits checks each abuse limit of GRAPHQL.md: the request is
// refused before execution, with a top-level error and the status the
// GraphQL-over-HTTP specification asks for per media type, and nothing
// runs.
func TestGraphQLLimits(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "limits", apptest.GQLPassword)
		keyFields := "edges { node { id name keyStart allowedIps userPermissions adminPermissions serverPermissions lastUsedAt expiresAt createdAt } }"
		var aliases strings.Builder
		for i := range 60 {
			aliases.WriteString(" k" + strings.Repeat("x", i) + ": apiKeys(first: 100) { " + keyFields + " }")
		}
		for _, tc := range []struct {
			name, doc, code, message string
		}{
			{"token limit", "{ viewer { " + strings.Repeat("id ", 16000) + "} }", "GRAPHQL_PARSE_FAILED", "exceeded token limit of 15000"},
			{"depth limit", "{ __schema { types { " + strings.Repeat("ofType { ", 20) + "name" + strings.Repeat(" }", 20) + " } } }",
				"DEPTH_LIMIT_EXCEEDED", "operation is nested 23 levels deep, which exceeds the limit of 15"},
			{"complexity limit", "{ viewer {" + aliases.String() + " } }", "COMPLEXITY_LIMIT_EXCEEDED", "which exceeds the limit of 500"},
			{"parse failure", "{ viewer { id ", "GRAPHQL_PARSE_FAILED", ""},
			{"validation failure", "{ viewer { nope } }", "GRAPHQL_VALIDATION_FAILED", ""},
		} {
			t.Run(tc.name+"/application/json", func(t *testing.T) {
				res, m := glPost(t, c, "application/json", glQuery(tc.doc))
				if res.Status != http.StatusOK {
					t.Errorf("status %d, want 200 under application/json", res.Status)
				}
				if d, ok := m["data"]; ok && string(d) != "null" {
					t.Errorf("data %s: the document must not run", d)
				}
				msg, code := glFirstError(t, m)
				if code != tc.code || !strings.Contains(msg, tc.message) {
					t.Errorf("error %q (%s), want %q (%s)", msg, code, tc.message, tc.code)
				}
			})
		}
		for _, tc := range []struct{ name, doc string }{
			{"parse failure", "{ viewer { id "},
			{"validation failure", "{ viewer { nope } }"},
			{"token limit", "{ viewer { " + strings.Repeat("id ", 16000) + "} }"},
		} {
			t.Run(tc.name+"/application/graphql-response+json", func(t *testing.T) {
				res, m := glPost(t, c, "application/graphql-response+json", glQuery(tc.doc))
				if res.Status != http.StatusBadRequest {
					t.Errorf("status %d, want 400", res.Status)
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/graphql-response+json") {
					t.Errorf("Content-Type %q", ct)
				}
				if _, ok := m["data"]; ok {
					t.Errorf("a request error has a data entry: %s", res.Body)
				}
				glFirstError(t, m)
			})
		}
		t.Run("JSON array batch refused", func(t *testing.T) {
			res := c.Raw(http.MethodPost, "/graphql", "application/json",
				strings.NewReader(`[{"query":"{ viewer { id } }"},{"query":"{ viewer { id } }"}]`))
			if res.Status != http.StatusBadRequest || bytes.Contains(res.Body, []byte(`"viewer"`)) {
				t.Errorf("batch: %d %s", res.Status, res.Body)
			}
		})
		t.Run("body over 1 MiB refused", func(t *testing.T) {
			doc := `{"query":"{ viewer { id } }","variables":{"pad":"` + strings.Repeat("a", 1<<20) + `"}}`
			res := c.Raw(http.MethodPost, "/graphql", "application/json", strings.NewReader(doc))
			if res.Status != http.StatusRequestEntityTooLarge && res.Status != http.StatusBadRequest {
				t.Errorf("oversized body: %d %s", res.Status, res.Body)
			}
			if bytes.Contains(res.Body, []byte("aaaa")) {
				t.Errorf("the body is echoed")
			}
		})
		t.Run("no field suggestions in production", func(t *testing.T) {
			_, m := glPost(t, c, "", glQuery("{ viewer { usernam } }"))
			if msg, _ := glFirstError(t, m); strings.Contains(msg, "Did you mean") {
				t.Errorf("suggestion leaked: %q", msg)
			}
		})
		t.Run("an honest deep query passes", func(t *testing.T) {
			_, m := glPost(t, c, "", glQuery("{ viewer { apiKeys { "+keyFields+" pageInfo { hasNextPage } totalCount } "+
				"sessions { edges { node { id current } } } activity { edges { node { event data } } } } }"))
			if _, ok := m["errors"]; ok {
				t.Errorf("errors: %s", m["errors"])
			}
		})
	})
}

// TestGraphQLSuggestionsInDevelopment: APP_ENV=development turns the
// validator's "did you mean" hints back on.
func TestGraphQLSuggestionsInDevelopment(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.Development = true }), func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		_, m := glPost(t, c, "", glQuery("{ viewer { usernam } }"))
		if msg, _ := glFirstError(t, m); !strings.Contains(msg, "Did you mean") {
			t.Errorf("no suggestion in development: %q", msg)
		}
	})
}
