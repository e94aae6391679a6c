package graph

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"accountd/model"
	"accountd/web"
)

// TestInternalErrorLogsCause checks that an internal error (here a failed
// authentication, as when the database is down) reaches the client as
// "internal server error" alone, while the log names its cause: without
// it an outage's GraphQL errors say nothing about what failed.
func TestInternalErrorLogsCause(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(&Resolver{}, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	cause := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ viewer { id } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req = req.WithContext(web.WithActor(req.Context(), nil, model.Internal(cause)))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)

	if body := rec.Body.String(); !strings.Contains(body, `"INTERNAL"`) || strings.Contains(body, "connection refused") {
		t.Fatalf("answer %s: want an INTERNAL error without the cause", body)
	}
	if !strings.Contains(logs.String(), "graphql internal error") || !strings.Contains(logs.String(), "connection refused") {
		t.Fatalf("log %q: want the internal error logged with its cause", logs.String())
	}
}

// TestResolverPanicIsInternal checks that a panic inside a resolver (here
// a resolver reaching a service that was never set up) is answered as
// INTERNAL with the message hidden, logged with its stack, and does not
// take the server down: the next request is served.
func TestResolverPanicIsInternal(t *testing.T) {
	var logs bytes.Buffer
	h := NewHandler(&Resolver{}, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	actor := &model.Actor{User: &model.User{Username: "panicky"}}
	for range 2 {
		req := httptest.NewRequest(http.MethodPost, "/graphql",
			strings.NewReader(`{"query":"{ permissionCatalog { userPermissions { name } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req = req.WithContext(web.WithActor(req.Context(), actor, nil))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != http.StatusOK || !strings.Contains(body, `"code":"INTERNAL"`) || !strings.Contains(body, `"internal server error"`) ||
			strings.Contains(body, "nil pointer") || strings.Contains(body, "runtime error") {
			t.Fatalf("answer %d %s: want INTERNAL with the message hidden", rec.Code, body)
		}
	}
	if !strings.Contains(logs.String(), "graphql panic") || !strings.Contains(logs.String(), "stack") {
		t.Fatalf("log %q: want the panic logged with its stack", logs.String())
	}
}
