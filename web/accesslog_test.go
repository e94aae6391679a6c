package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestAccessLog(t *testing.T) {
	const (
		apiKey = "c7sp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		cookie = "calagopus_session=s3ss10n-c00k1e-v4lue"
		query  = "token=query-secret-123"
	)
	tests := []struct {
		name      string
		userAgent string
		handler   http.Handler
		want      []string
		notWant   []string
	}{
		{
			name: "ExplicitStatus",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				_, _ = w.Write([]byte("12345"))
			}),
			want: []string{"level=INFO", "msg=request", "method=POST", "path=/api/client/account", "status=418", "bytes=5", "duration=", "request_id=rid-9", "client_ip=203.0.113.7", "user_agent=curl/8.0"},
		},
		{
			name:    "ImplicitOK",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) }),
			want:    []string{"status=200", "bytes=2"},
		},
		{
			name:    "NothingWritten",
			handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
			want:    []string{"status=200", "bytes=0"},
		},
		{
			name: "WriteError",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				WriteError(w, r, slog.New(slog.DiscardHandler), nil)
			}),
			want: []string{"status=500", "bytes=36"},
		},
		{
			name:    "PanicRecoveredInside",
			handler: Recover(slog.New(slog.DiscardHandler), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("x") })),
			want:    []string{"status=500", "bytes=36"},
		},
		{
			name:      "LongUserAgentTruncated",
			userAgent: strings.Repeat("é", 250),
			handler:   http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
			want:      []string{"user_agent=" + strings.Repeat("é", 200) + "\n"},
			notWant:   []string{strings.Repeat("é", 201)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			h := AccessLog(slog.New(slog.NewTextHandler(&logs, nil)), tt.handler)
			r := httptest.NewRequest(http.MethodPost, "/api/client/account?"+query, strings.NewReader(`{"password":"body-secret"}`))
			r.Header.Set("Authorization", "Bearer "+apiKey)
			r.Header.Set("Cookie", cookie)
			r.Header.Set("User-Agent", "curl/8.0")
			if tt.userAgent != "" {
				r.Header.Set("User-Agent", tt.userAgent)
			}
			ctx := WithRequestID(r.Context(), "rid-9")
			ctx = WithClientIP(ctx, netip.MustParseAddr("203.0.113.7"))
			h.ServeHTTP(httptest.NewRecorder(), r.WithContext(ctx))

			line := logs.String()
			if n := strings.Count(line, "\n"); n != 1 {
				t.Fatalf("got %d log lines, want 1:\n%s", n, line)
			}
			for _, want := range tt.want {
				if !strings.Contains(line, want) {
					t.Errorf("log does not contain %q:\n%s", want, line)
				}
			}
			for _, bad := range append([]string{"query-secret-123", "token=", apiKey, "Bearer", "s3ss10n-c00k1e-v4lue", "body-secret"}, tt.notWant...) {
				if strings.Contains(line, bad) {
					t.Errorf("log contains %q:\n%s", bad, line)
				}
			}
		})
	}
}

func TestAccessLogPanicPassingThrough(t *testing.T) {
	var logs bytes.Buffer
	h := AccessLog(slog.New(slog.NewTextHandler(&logs, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v, want http.ErrAbortHandler", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/aborted", nil))
	}()
	if line := logs.String(); !strings.Contains(line, "path=/aborted") || !strings.Contains(line, "status=0") {
		t.Errorf("an aborted request must still be logged with status 0:\n%s", line)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc"},
		{"日本語テキスト", 3, "日本語"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := truncate(tt.in, tt.n); got != tt.want {
				t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestAccessLogQuiet(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Quiet(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	mux.HandleFunc("GET /other", func(http.ResponseWriter, *http.Request) {})
	h := AccessLog(logger, mux)
	for _, path := range []string{"/metrics", "/other"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "level=DEBUG") || !strings.Contains(lines[0], "path=/metrics") ||
		!strings.Contains(lines[1], "level=INFO") || !strings.Contains(lines[1], "path=/other") {
		t.Errorf("want /metrics at DEBUG and /other at INFO:\n%s", logs.String())
	}
}
