package web

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"accountd/model"
)

func TestStatusOf(t *testing.T) {
	tests := []struct {
		code model.Code
		want int
	}{
		{model.CodeInvalid, 400},
		{model.CodeInvalidCredentials, 400},
		{model.CodeInvalidPassword, 403},
		{model.CodeNotConfigured, 401},
		{model.CodeConflict, 409},
		{model.CodeNotFound, 404},
		{model.CodeQuotaExceeded, 417},
		{model.CodeUnauthenticated, 401},
		{model.CodeForbidden, 403},
		{model.CodeRateLimited, 429},
		{model.CodeTooLarge, 413},
		{model.CodeInternal, 500},
		{model.Code("no_such_code"), 500},
		{model.Code(""), 500},
	}
	for _, tt := range tests {
		t.Run(string(tt.code), func(t *testing.T) {
			if got := StatusOf(tt.code); got != tt.want {
				t.Errorf("StatusOf(%q) = %d, want %d", tt.code, got, tt.want)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	validation := &model.Validation{}
	validation.Add("username", "length is lower than 3")
	validation.Add("per_page", "greater than 100")

	tests := []struct {
		name     string
		err      error
		status   int
		body     string
		logged   bool // an Error line with the cause is expected
		logWants string
	}{
		{name: "Invalid", err: model.Errorf(model.CodeInvalid, "invalid uuid"), status: 400, body: `{"errors":["invalid uuid"]}`},
		{name: "InvalidField", err: model.FieldErr("name_first", "length is greater than 255"), status: 400, body: `{"errors":["name_first: length is greater than 255"]}`},
		{name: "InvalidEveryRule", err: validation.Err(), status: 400, body: `{"errors":["username: length is lower than 3","per_page: greater than 100"]}`},
		{name: "InvalidCredentials", err: model.Errorf(model.CodeInvalidCredentials, "invalid username or password"), status: 400, body: `{"errors":["invalid username or password"]}`},
		{name: "InvalidPassword", err: model.Errorf(model.CodeInvalidPassword, "invalid password"), status: 403, body: `{"errors":["invalid password"]}`},
		{name: "NotConfigured", err: model.Errorf(model.CodeNotConfigured, "two-factor authentication has not been configured"), status: 401, body: `{"errors":["two-factor authentication has not been configured"]}`},
		{name: "Conflict", err: model.Errorf(model.CodeConflict, "account is frozen"), status: 409, body: `{"errors":["account is frozen"]}`},
		{name: "NotFound", err: model.Errorf(model.CodeNotFound, "api key not found"), status: 404, body: `{"errors":["api key not found"]}`},
		{name: "QuotaExceeded", err: model.Errorf(model.CodeQuotaExceeded, "maximum number of api keys reached"), status: 417, body: `{"errors":["maximum number of api keys reached"]}`},
		{name: "Unauthenticated", err: model.Errorf(model.CodeUnauthenticated, "missing authorization"), status: 401, body: `{"errors":["missing authorization"]}`},
		{name: "Forbidden", err: model.Forbidden("api-keys.create"), status: 403, body: `{"errors":["you do not have permission to perform this action: api-keys.create"]}`},
		{name: "RateLimited", err: &model.Error{Code: model.CodeRateLimited, Message: "you are ratelimited, retry in 3s", RetryAfter: 3 * time.Second}, status: 429, body: `{"errors":["you are ratelimited, retry in 3s"]}`},
		{name: "TooLarge", err: model.Errorf(model.CodeTooLarge, "request body too large"), status: 413, body: `{"errors":["request body too large"]}`},
		{name: "NoHTMLEscaping", err: model.Errorf(model.CodeInvalid, "expected <json> & more"), status: 400, body: `{"errors":["expected <json> & more"]}`},
		{name: "WrappedModelError", err: fmt.Errorf("handler: %w", model.Errorf(model.CodeNotFound, "session not found")), status: 404, body: `{"errors":["session not found"]}`},
		{
			name: "Internal", err: model.Internal(errors.New(`pq: duplicate key value violates "users_pkey"`)),
			status: 500, body: internalErrorBody, logged: true, logWants: "users_pkey",
		},
		{
			name: "ForeignError", err: errors.New("dial tcp 10.0.0.5:5432: connection refused"),
			status: 500, body: internalErrorBody, logged: true, logWants: "connection refused",
		},
		{
			name: "UnknownCodeHidden", err: model.Errorf(model.Code("bogus"), "secret detail"),
			status: 500, body: internalErrorBody, logged: true, logWants: "secret detail",
		},
		{
			name: "Nil", err: nil,
			status: 500, body: internalErrorBody, logged: true, logWants: "nil error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			r := httptest.NewRequest(http.MethodPost, "/api/client/account", strings.NewReader(`{"password":"hunter2"}`))
			r = r.WithContext(WithRequestID(r.Context(), "req-77"))
			rec := httptest.NewRecorder()

			WriteError(rec, r, logger, tt.err)

			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.body {
				t.Errorf("body = %s, want %s", got, tt.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if strings.Contains(logs.String(), "hunter2") {
				t.Errorf("the request body leaked into the log: %s", logs.String())
			}
			if !tt.logged {
				if logs.Len() != 0 {
					t.Errorf("unexpected log output: %s", logs.String())
				}
				return
			}
			line := logs.String()
			for _, want := range []string{"level=ERROR", "request_id=req-77", tt.logWants} {
				if !strings.Contains(line, want) {
					t.Errorf("log %q does not contain %q", line, want)
				}
			}
			if strings.Contains(rec.Body.String(), tt.logWants) {
				t.Errorf("the cause %q leaked into the body %s", tt.logWants, rec.Body.String())
			}
		})
	}
}

func TestWriteErrorRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		retryAfter time.Duration
		want       string
	}{
		{name: "Zero", retryAfter: 0, want: "1"},
		{name: "SubSecond", retryAfter: 200 * time.Millisecond, want: "1"},
		{name: "ExactSeconds", retryAfter: 30 * time.Second, want: "30"},
		{name: "RoundsUp", retryAfter: 1500 * time.Millisecond, want: "2"},
		{name: "JustOver", retryAfter: 5*time.Second + time.Nanosecond, want: "6"},
		{name: "Negative", retryAfter: -time.Second, want: "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := &model.Error{Code: model.CodeRateLimited, Message: "you are ratelimited", RetryAfter: tt.retryAfter}
			WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, err)
			if rec.Code != http.StatusTooManyRequests {
				t.Errorf("status = %d, want 429", rec.Code)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.want {
				t.Errorf("Retry-After = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("OnlyWhenRateLimited", func(t *testing.T) {
		rec := httptest.NewRecorder()
		WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, model.Errorf(model.CodeConflict, "x"))
		if got := rec.Header().Get("Retry-After"); got != "" {
			t.Errorf("Retry-After = %q on a 409, want none", got)
		}
	})
}

func TestWriteJSON(t *testing.T) {
	tests := []struct {
		name   string
		status int
		v      any
		want   int
		body   string
	}{
		{name: "Object", status: 200, v: map[string]any{"user": map[string]string{"username": "alice"}}, want: 200, body: `{"user":{"username":"alice"}}`},
		{name: "EmptyObject", status: 200, v: struct{}{}, want: 200, body: `{}`},
		{name: "NoHTMLEscaping", status: 201, v: map[string]string{"otp_url": "otpauth://totp/A:b?secret=S&issuer=A<>"}, want: 201, body: `{"otp_url":"otpauth://totp/A:b?secret=S&issuer=A<>"}`},
		{name: "Unencodable", status: 200, v: map[string]any{"c": make(chan int)}, want: 500, body: internalErrorBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteJSON(rec, tt.status, tt.v)
			if rec.Code != tt.want {
				t.Errorf("status = %d, want %d", rec.Code, tt.want)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if got := rec.Body.String(); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
		})
	}
}

// TestWritePrivateJSON covers the REST shim's 200 answers, which share
// WriteJSON's encoding: private caching, and an ETag on GET that turns a
// matching If-None-Match into a bodiless 304.
func TestWritePrivateJSON(t *testing.T) {
	v := map[string]string{"otp_url": "otpauth://a?b=c&d=<e>"}
	const body = `{"otp_url":"otpauth://a?b=c&d=<e>"}`
	get := func(t *testing.T, method, ifNoneMatch string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "/api/client/account", nil)
		if ifNoneMatch != "" {
			r.Header.Set("If-None-Match", ifNoneMatch)
		}
		rec := httptest.NewRecorder()
		WritePrivateJSON(rec, r, nil, v)
		return rec
	}
	first := get(t, http.MethodGet, "")
	etag := first.Header().Get("ETag")
	if first.Code != 200 || first.Body.String() != body || etag == "" {
		t.Fatalf("GET = %d %q ETag %q, want 200 %s with an ETag", first.Code, first.Body.String(), etag, body)
	}
	if got := first.Header().Get("Cache-Control"); got != "private, no-cache" {
		t.Errorf("Cache-Control = %q, want private, no-cache", got)
	}
	if got := first.Header().Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	for _, inm := range []string{etag, "W/" + etag, `"nope", ` + etag, "*"} {
		rec := get(t, http.MethodGet, inm)
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
			t.Errorf("If-None-Match %s: %d %q Content-Type %q, want a bare 304", inm, rec.Code, rec.Body.String(), rec.Header().Get("Content-Type"))
		}
	}
	if rec := get(t, http.MethodGet, `"other"`); rec.Code != 200 || rec.Body.String() != body {
		t.Errorf("a stale ETag: %d %q, want 200 with the body", rec.Code, rec.Body.String())
	}
	if rec := get(t, http.MethodHead, etag); rec.Code != http.StatusNotModified {
		t.Errorf("HEAD with the ETag = %d, want 304", rec.Code)
	}
	post := get(t, http.MethodPost, etag)
	if post.Code != 200 || post.Header().Get("ETag") != "" || post.Body.String() != body {
		t.Errorf("POST = %d ETag %q %q, want 200 without an ETag", post.Code, post.Header().Get("ETag"), post.Body.String())
	}

	t.Run("KeepsACacheControlAlreadySet", func(t *testing.T) {
		rec := httptest.NewRecorder()
		rec.Header().Set("Cache-Control", "no-store")
		WritePrivateJSON(rec, httptest.NewRequest(http.MethodGet, "/", nil), nil, v)
		if got := rec.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store kept", got)
		}
	})
	t.Run("Unencodable", func(t *testing.T) {
		var logs bytes.Buffer
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		WritePrivateJSON(rec, r.WithContext(WithRequestID(r.Context(), "req-9")), slog.New(slog.NewTextHandler(&logs, nil)), map[string]any{"c": make(chan int)})
		if rec.Code != 500 || rec.Body.String() != internalErrorBody || rec.Header().Get("ETag") != "" {
			t.Errorf("= %d %q ETag %q, want the bare internal error", rec.Code, rec.Body.String(), rec.Header().Get("ETag"))
		}
		if !strings.Contains(logs.String(), "request_id=req-9") {
			t.Errorf("log %q does not name the request", logs.String())
		}
	})
}
