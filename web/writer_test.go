package web

import (
	"bufio"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStatusWriterThroughRealServer checks, on a real connection, that the
// middlewares keep streaming and http.ResponseController working: Flush must
// reach the client before the handler returns, and deadlines must reach the
// connection through Unwrap.
func TestStatusWriterThroughRealServer(t *testing.T) {
	release := make(chan struct{})
	errs := make(chan error, 2)
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		errs <- rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(w, "first\n")
		errs <- rc.Flush()
		<-release
		_, _ = io.WriteString(w, "second\n")
	})
	h = AccessLog(slog.New(slog.DiscardHandler), Recover(slog.New(slog.DiscardHandler), h))
	srv := httptest.NewServer(h)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		close(release)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	close(release) // only now: the first line arrived while the handler was blocked
	if err != nil || first != "first\n" {
		t.Fatalf("first line = %q, %v; want it flushed before the handler returned", first, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest = %q, want %q", rest, "second\n")
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("ResponseController through the wrappers: %v", err)
		}
	}
}

func TestStatusWriter(t *testing.T) {
	tests := []struct {
		name   string
		write  func(w http.ResponseWriter)
		status int
		bytes  int64
	}{
		{name: "Nothing", write: func(http.ResponseWriter) {}, status: 0, bytes: 0},
		{name: "ImplicitOK", write: func(w http.ResponseWriter) { _, _ = w.Write([]byte("abc")) }, status: 200, bytes: 3},
		{name: "Explicit", write: func(w http.ResponseWriter) { w.WriteHeader(404); _, _ = w.Write([]byte("no")) }, status: 404, bytes: 2},
		{name: "FirstStatusWins", write: func(w http.ResponseWriter) { w.WriteHeader(409); w.WriteHeader(500) }, status: 409},
		{name: "EarlyHintsNotFinal", write: func(w http.ResponseWriter) { w.WriteHeader(103); w.WriteHeader(201) }, status: 201},
		{name: "FlushCommits", write: func(w http.ResponseWriter) { w.(http.Flusher).Flush() }, status: 200},
		{name: "MultipleWrites", write: func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, strings.Repeat("x", 10))
			_, _ = io.WriteString(w, strings.Repeat("y", 5))
		}, status: 200, bytes: 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			sw := wrapWriter(rec)
			tt.write(sw)
			if sw.status != tt.status || sw.bytes != tt.bytes {
				t.Errorf("recorded status=%d bytes=%d, want status=%d bytes=%d", sw.status, sw.bytes, tt.status, tt.bytes)
			}
			if sw.Unwrap() != rec {
				t.Errorf("Unwrap did not return the wrapped writer")
			}
			if wrapWriter(sw) != sw {
				t.Errorf("wrapWriter wrapped a statusWriter again instead of sharing it")
			}
		})
	}
}
