package rest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"accountd/model"
	"accountd/web"
)

// TestRateLimitedOperationsAreRoutes holds web's table of rate-limited
// operations to the route table: a moved sign-in route would otherwise
// silently fall back to the client limit.
func TestRateLimitedOperationsAreRoutes(t *testing.T) {
	h := &Handler{Authenticate: func(next http.Handler) http.Handler { return next }}
	h.Routes()
	for _, op := range web.RateLimitedOperations() {
		if !slices.Contains(h.patterns, "POST "+op.RESTPath) {
			t.Errorf("the %s limit names %s, which is not a POST route (routes: %v)", op.Rule, op.RESTPath, h.patterns)
		}
	}
}

// TestListQueryDefaultPerPage: a list without per_page has the page size
// GraphQL connections default to.
func TestListQueryDefaultPerPage(t *testing.T) {
	lq, err := listQuery(httptest.NewRequest(http.MethodGet, "/api/client/account/sessions", nil))
	if err != nil {
		t.Fatal(err)
	}
	if lq.PerPage != model.DefaultPageSize || lq.Page != 1 {
		t.Errorf("page %d per_page %d, want 1 and %d", lq.Page, lq.PerPage, model.DefaultPageSize)
	}
}
