package metrics

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRouteLabel(t *testing.T) {
	for pattern, want := range map[string]string{
		"":             "unmatched",
		"/graphql":     "/graphql",
		"/api/":        "/api/",
		"GET /healthz": "/healthz",
		"PATCH /api/client/account/api-keys/{uuid}": "/api/client/account/api-keys/{uuid}",
	} {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestMethodLabel(t *testing.T) {
	for method, want := range map[string]string{"GET": "GET", "PATCH": "PATCH", "get": "other", "FROB": "other", "": "other"} {
		if got := methodLabel(method); got != want {
			t.Errorf("methodLabel(%q) = %q, want %q", method, got, want)
		}
	}
}

func TestOperationLabel(t *testing.T) {
	m := New(nil, "")
	for name, want := range map[string]string{
		"":                                     "anonymous",
		"Viewer":                               "Viewer",
		"_private_2":                           "_private_2",
		"2fa":                                  "other",
		"a-b":                                  "other",
		"alice@example.com":                    "other",
		"0190d6a4-5b8e-7c3a-9f1e-2d4c6b8a0e12": "other",
		strings.Repeat("a", 64):                strings.Repeat("a", 64),
		strings.Repeat("a", 65):                "other",
		// The shapes of this server's credentials.
		"c7sp_" + strings.Repeat("Ab1", 14) + "x": "other",
		"C7SP_abcdefghijk":                        "other",
		strings.Repeat("aB3", 16):                 "other",
		strings.Repeat("aBc", 16):                 strings.Repeat("aBc", 16), // 48 letters: no digit, a word
	} {
		if got := m.operationLabel(name); got != want {
			t.Errorf("operationLabel(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestOperationLabelCap(t *testing.T) {
	m := New(nil, "")
	for i := range maxOperationNames {
		if got := m.operationLabel(fmt.Sprintf("Op%d", i)); got != fmt.Sprintf("Op%d", i) {
			t.Fatalf("name %d within the cap: %q", i, got)
		}
	}
	if got := m.operationLabel("OneTooMany"); got != "other" {
		t.Errorf("a name beyond the cap = %q, want other", got)
	}
	if got := m.operationLabel("Op7"); got != "Op7" {
		t.Errorf("a name already counted = %q, want it kept", got)
	}
}

// TestMiddleware drives the middleware through nested ServeMuxes, as the
// app stacks them: the innermost pattern names the route, a request
// nothing matched is "unmatched", and a body-cap wrapper that copies the
// request in between does not lose it.
func TestMiddleware(t *testing.T) {
	m := New(nil, "")
	inner := http.NewServeMux()
	inner.HandleFunc("GET /api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})
	outer := http.NewServeMux()
	outer.Handle("/api/", inner)
	outer.HandleFunc("GET /quiet", func(http.ResponseWriter, *http.Request) {})
	h := m.Middleware(http.MaxBytesHandler(RecordRoute(outer), 1<<10))

	for _, req := range []struct{ method, path string }{
		{"GET", "/api/items/0190d6a4-5b8e-7c3a-9f1e-2d4c6b8a0e12"},
		{"GET", "/api/items/c7sp_AbCdEfGhIjK"},
		{"GET", "/api/other/0190d6a4"},
		{"GET", "/quiet"},
		{"BREW", "/quiet"},
	} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(req.method, req.path, nil))
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	text := string(body)
	for _, want := range []string{
		`http_requests_total{method="GET",route="/api/items/{id}",status="418"} 2`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`http_requests_total{method="GET",route="/quiet",status="200"} 1`,
		`http_requests_total{method="other",route="unmatched",status="405"} 1`,
		`http_request_duration_seconds_count{method="GET",route="/api/items/{id}"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, leak := range []string{"0190d6a4", "c7sp_", "BREW"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}
}

func TestFixedVocabularies(t *testing.T) {
	m := New(nil, "")
	m.RateLimited("login")
	m.RateLimited("Login By 203.0.113.9")
	m.AuthFailed("invalid_api_key")
	m.AuthFailed("user alice")
	m.GraphQLOperation("Viewer", "query", "ok")
	m.GraphQLOperation("Viewer", "bogus", "bogus")
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	text := rec.Body.String()
	for _, want := range []string{
		`rate_limit_refusals_total{limit="login"} 1`,
		`rate_limit_refusals_total{limit="other"} 1`,
		`rate_limit_refusals_total{limit="client"} 0`,
		`auth_failures_total{reason="invalid_api_key"} 1`,
		`auth_failures_total{reason="other"} 1`,
		`graphql_operations_total{operation="Viewer",outcome="ok",type="query"} 1`,
		`graphql_operations_total{operation="Viewer",outcome="error",type="unknown"} 1`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	for _, leak := range []string{"203.0.113.9", "alice", "bogus"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}
}
