package web

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		status  int
		body    string
		logs    []string // substrings of the log; nil: nothing logged
	}{
		{
			name:    "NoPanic",
			handler: func(w http.ResponseWriter, r *http.Request) { WriteJSON(w, http.StatusOK, struct{}{}) },
			status:  http.StatusOK,
			body:    `{}`,
		},
		{
			name:    "PanicString",
			handler: func(w http.ResponseWriter, r *http.Request) { panic("boom: nil map") },
			status:  http.StatusInternalServerError,
			body:    internalErrorBody,
			logs:    []string{"level=ERROR", "msg=panic", "boom: nil map", "request_id=rid-1", "path=/api/x", "goroutine"},
		},
		{
			name: "PanicRuntimeError",
			handler: func(w http.ResponseWriter, r *http.Request) {
				var m map[string]int
				m["x"] = 1
			},
			status: http.StatusInternalServerError,
			body:   internalErrorBody,
			logs:   []string{"assignment to entry in nil map", "request_id=rid-1", "recover_test.go"},
		},
		{
			name: "PanicAfterHeader",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusAccepted)
				_, _ = w.Write([]byte("partial"))
				panic("late")
			},
			status: http.StatusAccepted,
			body:   "partial",
			logs:   []string{"late", "request_id=rid-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			h := Recover(logger, tt.handler)
			r := httptest.NewRequest(http.MethodGet, "/api/x?token=abc", nil)
			r = r.WithContext(WithRequestID(r.Context(), "rid-1"))
			rec := httptest.NewRecorder()

			h.ServeHTTP(rec, r)

			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Body.String(); got != tt.body {
				t.Errorf("body = %q, want %q", got, tt.body)
			}
			if tt.logs == nil {
				if logs.Len() != 0 {
					t.Errorf("unexpected log: %s", logs.String())
				}
				return
			}
			for _, want := range tt.logs {
				if !strings.Contains(logs.String(), want) {
					t.Errorf("log does not contain %q:\n%s", want, logs.String())
				}
			}
			if strings.Contains(logs.String(), "token=abc") {
				t.Errorf("the query string leaked into the log: %s", logs.String())
			}
		})
	}
}

func TestRecoverRepanicsAbortHandler(t *testing.T) {
	var logs bytes.Buffer
	h := Recover(slog.New(slog.NewTextHandler(&logs, nil)), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	rec := httptest.NewRecorder()
	defer func() {
		v := recover()
		err, _ := v.(error)
		if !errors.Is(err, http.ErrAbortHandler) {
			t.Errorf("recovered %v, want http.ErrAbortHandler to propagate", v)
		}
		if logs.Len() != 0 {
			t.Errorf("an intentional abort was logged: %s", logs.String())
		}
		if rec.Body.Len() != 0 {
			t.Errorf("an aborted response got a body: %q", rec.Body.String())
		}
	}()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	t.Error("ServeHTTP returned normally, want a panic")
}
