package graph_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"accountd/app/apptest"
	"accountd/graph"
)

// gqcErrors decodes a response's errors.
func gqcErrors(t *testing.T, m map[string]json.RawMessage) []struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
} {
	t.Helper()
	var errs []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	}
	if err := json.Unmarshal(m["errors"], &errs); err != nil {
		t.Fatalf("errors %s: %v", m["errors"], err)
	}
	return errs
}

// TestGraphQLQueryCost: the documents built to make analysis expensive —
// fragments spreading the next one twice thirty levels deep (2^30 fields),
// in every shape, and documents as wide as the token limit allows — are
// refused before execution, quickly, with one request error of their own
// code, whoever sends them; honest documents, GraphiQL's introspection
// query among them, still run.
func TestGraphQLQueryCost(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		signedIn, _ := apptest.GQLRegister(t, ts, "costly", apptest.GQLPassword)
		clients := map[string]*apptest.Client{"anonymous": ts.Client(t), "signed in": signedIn}
		for _, d := range graph.CostAttackDocs(30) {
			for who, c := range clients {
				t.Run(d.Name+"/"+who+"/application/json", func(t *testing.T) {
					res, m := glPost(t, c, "application/json", glQuery(d.Doc))
					if res.Status != http.StatusOK {
						t.Errorf("status %d, want 200 under application/json", res.Status)
					}
					if data, ok := m["data"]; ok && string(data) != "null" {
						t.Errorf("data %s: the document must not run", data)
					}
					msg, code := glFirstError(t, m)
					if code != d.Code {
						t.Errorf("error %q (%s), want code %s", msg, code, d.Code)
					}
					if errs := gqcErrors(t, m); len(errs) != 1 {
						t.Errorf("%d errors, want the refusal alone: %.500s", len(errs), m["errors"])
					}
				})
				t.Run(d.Name+"/"+who+"/application/graphql-response+json", func(t *testing.T) {
					res, m := glPost(t, c, "application/graphql-response+json", glQuery(d.Doc))
					if res.Status != http.StatusBadRequest {
						t.Errorf("status %d, want 400", res.Status)
					}
					if _, ok := m["data"]; ok {
						t.Errorf("a request error has a data entry: %.300s", res.Body)
					}
					if _, code := glFirstError(t, m); code != d.Code {
						t.Errorf("code %s, want %s", code, d.Code)
					}
				})
			}
		}

		t.Run("documents at the size bounds reach validation", func(t *testing.T) {
			for _, d := range graph.CostBoundaryDocs() {
				res, m := glPost(t, signedIn, "application/graphql-response+json", glQuery(d.Doc))
				if _, code := glFirstError(t, m); res.Status != http.StatusBadRequest || code != d.Code {
					t.Errorf("%s: %d %s, want 400 %s", d.Name, res.Status, code, d.Code)
				}
				if errs := gqcErrors(t, m); len(errs) > 101 {
					t.Errorf("%s: %d errors", d.Name, len(errs))
				}
			}
		})

		t.Run("depth and complexity limits are request errors", func(t *testing.T) {
			var aliases strings.Builder
			for i := range 600 {
				fmt.Fprintf(&aliases, "a%d: id ", i)
			}
			for doc, code := range map[string]string{
				"{ __schema { types { " + strings.Repeat("ofType { ", 20) + "name" + strings.Repeat(" }", 20) + " } } }": "DEPTH_LIMIT_EXCEEDED",
				"{ viewer { " + aliases.String() + "} }": "COMPLEXITY_LIMIT_EXCEEDED",
			} {
				res, m := glPost(t, signedIn, "application/graphql-response+json", glQuery(doc))
				if _, got := glFirstError(t, m); res.Status != http.StatusBadRequest || got != code {
					t.Errorf("%s: %d %s", code, res.Status, got)
				}
			}
		})

		t.Run("validation errors capped at 100", func(t *testing.T) {
			var unknown strings.Builder
			for i := range 1000 {
				fmt.Fprintf(&unknown, "nope%d ", i)
			}
			_, m := glPost(t, signedIn, "", glQuery("{ viewer { "+unknown.String()+"} }"))
			errs := gqcErrors(t, m)
			if len(errs) != 101 {
				t.Fatalf("%d errors, want 100 and the one saying so", len(errs))
			}
			last := errs[100]
			if !strings.HasPrefix(last.Message, "Too many validation errors") ||
				last.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" || last.Extensions["requestId"] == nil {
				t.Errorf("last error %+v", last)
			}
		})

		t.Run("honest documents run", func(t *testing.T) {
			r := signedIn.GQL(`{ viewer { id username twoFactor { enabled }
				apiKeys(first: 10) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } totalCount }
				sessions { edges { node { id current } } totalCount } activity(first: 5) { edges { node { event } } } } }`, nil)
			apptest.GQLNoErrors(t, r)
			if apptest.Get(r.Data, "viewer", "username") != "costly" {
				t.Errorf("viewer %s", r.Raw)
			}
			// A fragment spread twice five levels deep: 32 copies of one
			// field in one place, which merge into one.
			var frags strings.Builder
			for i := range 5 {
				fmt.Fprintf(&frags, "fragment F%d on User { ...F%d ...F%d }\n", i, i+1, i+1)
			}
			frags.WriteString("fragment F5 on User { id username }\n")
			r = signedIn.GQL("{ viewer { ...F0 } }\n"+frags.String(), nil)
			apptest.GQLNoErrors(t, r)
			if apptest.Get(r.Data, "viewer", "username") != "costly" {
				t.Errorf("viewer %s", r.Raw)
			}
			for who, c := range clients {
				for range 2 { // the second answer comes from the validated-document cache
					r := c.GQL(graph.IntrospectionQuery, nil)
					apptest.GQLNoErrors(t, r)
					types, _ := apptest.Get(r.Data, "__schema", "types").([]any)
					if len(types) < 20 {
						t.Errorf("%s: introspection returned %d types", who, len(types))
					}
				}
			}
		})
	})
}
