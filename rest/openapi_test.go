package rest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"accountd/rest"
)

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rest.OpenAPIDocument())
	if err != nil {
		t.Fatalf("load rest/openapi.json: %v", err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context, openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("rest/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	loadOpenAPI(t)
}

// TestOpenAPIDescribesEveryRoute compares the "METHOD /path" set of the
// document with the patterns the router registers, both ways.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	h := &rest.Handler{Authenticate: func(next http.Handler) http.Handler { return next }}
	h.Routes()
	served := h.Patterns()
	if len(served) == 0 {
		t.Fatal("the router registered no patterns")
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(described)
	for _, p := range served {
		if !slices.Contains(described, p) {
			t.Errorf("the router serves %q, which rest/openapi.json does not describe", p)
		}
	}
	for _, p := range described {
		if !slices.Contains(served, p) {
			t.Errorf("rest/openapi.json describes %q, which the router does not serve", p)
		}
	}
	if len(served) != len(described) {
		t.Errorf("%d patterns served, %d operations described", len(served), len(described))
	}
}

// TestOpenAPIStatuses checks that every operation documents the statuses
// the shared layers can answer with (REST.md §1, §2), so a route added to
// the document cannot forget them.
func TestOpenAPIStatuses(t *testing.T) {
	doc := loadOpenAPI(t)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			want := []string{"200", "500"}
			public := op.Security != nil && len(*op.Security) == 0
			if !public {
				want = append(want, "401", "403")
			}
			// An operation the per-IP limit leaves out says so
			// (x-per-ip-limit: false, the forward-auth check); every
			// other can be refused by it.
			if limited, ok := op.Extensions["x-per-ip-limit"].(bool); !public && (!ok || limited) {
				want = append(want, "429")
			}
			if method != http.MethodGet && method != http.MethodHead {
				want = append(want, "403") // cross-origin refusal
			}
			// A GET whose answer is documented as Cache-Control: no-store
			// carries no ETag, so nothing is revalidated.
			if method == http.MethodGet && !noStore(op) {
				want = append(want, "304")
			}
			if op.RequestBody != nil {
				want = append(want, "400", "413")
			}
			if strings.Contains(path, "{uuid}") {
				want = append(want, "400", "404")
			}
			for _, status := range want {
				if op.Responses.Value(status) == nil {
					t.Errorf("%s %s: no %s response", method, path, status)
				}
			}
			for status, resp := range op.Responses.Map() {
				if status == "200" || status == "304" {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
					t.Errorf("%s %s: %s response is not the Error body", method, path, status)
				}
			}
			if op.OperationID == "" {
				t.Errorf("%s %s: no operationId", method, path)
			}
		}
	}
}

// noStore reports whether op's 200 answer is documented as never stored
// (Cache-Control: no-store).
func noStore(op *openapi3.Operation) bool {
	ok := op.Responses.Value("200")
	if ok == nil || ok.Value == nil {
		return false
	}
	h := ok.Value.Headers["Cache-Control"]
	if h == nil || h.Value == nil || h.Value.Schema == nil || h.Value.Schema.Value == nil {
		return false
	}
	return h.Value.Schema.Value.Const == "no-store"
}
