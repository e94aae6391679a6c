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
