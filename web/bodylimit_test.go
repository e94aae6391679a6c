package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestLimitBody(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name     string
		size     int
		tooLarge bool
	}{
		{name: "Empty", size: 0},
		{name: "Small", size: 100},
		{name: "Exactly1MiB", size: mib},
		{name: "1MiBPlus1", size: mib + 1, tooLarge: true},
		{name: "2MiB", size: 2 * mib, tooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var readErr error
			var n int
			h := LimitBody(mib, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var b []byte
				b, readErr = io.ReadAll(r.Body)
				n = len(b)
			}))
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(make([]byte, tt.size)))
			h.ServeHTTP(httptest.NewRecorder(), r)

			if got := IsTooLarge(readErr); got != tt.tooLarge {
				t.Fatalf("IsTooLarge(%v) = %v, want %v", readErr, got, tt.tooLarge)
			}
			if !tt.tooLarge {
				if readErr != nil {
					t.Fatalf("reading %d bytes: %v", tt.size, readErr)
				}
				if n != tt.size {
					t.Errorf("read %d bytes, want %d", n, tt.size)
				}
			}
		})
	}
}

func TestLimitBodyThroughJSONDecoder(t *testing.T) {
	var decodeErr error
	h := LimitBody(16, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		decodeErr = json.NewDecoder(r.Body).Decode(&v)
	}))
	body := `{"password":"a-long-secret-value"}`
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", bytes.NewReader([]byte(body))))
	if !IsTooLarge(decodeErr) {
		t.Errorf("IsTooLarge(%v) = false, want true for a decoder reading past the cap", decodeErr)
	}
}

func TestIsTooLarge(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{name: "Nil", err: nil, want: false},
		{name: "EOF", err: io.ErrUnexpectedEOF, want: false},
		{name: "Other", err: errors.New("http: request body too large"), want: false},
		{name: "MaxBytesError", err: &http.MaxBytesError{Limit: 1}, want: true},
		{name: "Wrapped", err: fmt.Errorf("decode: %w", &http.MaxBytesError{Limit: 1}), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsTooLarge(tt.err); got != tt.want {
				t.Errorf("IsTooLarge(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// A request without a body is passed on as it is, not copied; one with a
// body of any kind, chunked included, is capped.
func TestLimitBodyPassesBodilessRequests(t *testing.T) {
	var got *http.Request
	h := LimitBody(4, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r }))
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	h.ServeHTTP(httptest.NewRecorder(), r)
	if got != r {
		t.Fatal("a bodiless request was copied")
	}
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader("12345"))
	r.ContentLength = -1 // as a chunked body arrives
	var err error
	h = LimitBody(4, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { _, err = io.ReadAll(r.Body) }))
	h.ServeHTTP(httptest.NewRecorder(), r)
	if !IsTooLarge(err) {
		t.Fatalf("a chunked body past the cap read as %v", err)
	}
}
