package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

var generatedID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	long64 := strings.Repeat("a", 64)
	tests := []struct {
		name     string
		header   []string // nil: no header sent
		wantEcho string   // "" means a fresh id must be generated
	}{
		{name: "Generated", header: nil},
		{name: "Echoed", header: []string{"abc-123_X.y"}, wantEcho: "abc-123_X.y"},
		{name: "EchoedUUID", header: []string{"0f8e3a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"}, wantEcho: "0f8e3a4c-1b2d-4e5f-8a9b-0c1d2e3f4a5b"},
		{name: "Echoed64Chars", header: []string{long64}, wantEcho: long64},
		{name: "RejectedEmpty", header: []string{""}},
		{name: "RejectedTooLong", header: []string{long64 + "a"}},
		{name: "RejectedSpace", header: []string{"abc def"}},
		{name: "RejectedMarkup", header: []string{"<script>"}},
		{name: "RejectedLogInjection", header: []string{"x\" level=ERROR msg=\"forged"}},
		{name: "RejectedNonASCII", header: []string{"idé"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inCtx string
			h := RequestID(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inCtx = RequestIDFrom(r.Context())
				if got := w.Header().Get("X-Request-Id"); got != inCtx {
					t.Errorf("response header before next = %q, context = %q", got, inCtx)
				}
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			for _, v := range tt.header {
				req.Header.Add("X-Request-Id", v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			got := rec.Header().Get("X-Request-Id")
			if got != inCtx {
				t.Errorf("response header %q != context id %q", got, inCtx)
			}
			if tt.wantEcho != "" {
				if got != tt.wantEcho {
					t.Errorf("id = %q, want echoed %q", got, tt.wantEcho)
				}
				return
			}
			if !generatedID.MatchString(got) {
				t.Errorf("id = %q, want 32 lowercase hex characters", got)
			}
		})
	}
}

func TestRequestIDUnique(t *testing.T) {
	h := RequestID(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	seen := make(map[string]bool)
	for range 100 {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		id := rec.Header().Get("X-Request-Id")
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestRequestIDFrom(t *testing.T) {
	t.Run("Absent", func(t *testing.T) {
		if got := RequestIDFrom(context.Background()); got != "" {
			t.Errorf("RequestIDFrom(empty) = %q, want \"\"", got)
		}
	})
	t.Run("WithRequestID", func(t *testing.T) {
		ctx := WithRequestID(context.Background(), "job-42")
		if got := RequestIDFrom(ctx); got != "job-42" {
			t.Errorf("RequestIDFrom = %q, want job-42", got)
		}
	})
}
