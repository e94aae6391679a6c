package app_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"accountd/app/apptest"
)

// measureServe runs req through h for the benchmark's iterations and
// reports SQL statements and writes per request. The request is built once
// and its body replayed, and the response goes to a writer that keeps only
// the status, so that allocations per request are the server's own, not
// the benchmark's (httptest.NewRequest and NewRecorder alone cost about
// twenty). The first request, outside the measurement, is checked in full:
// it may also record the credential's first use.
func measureServe(b *testing.B, ts *apptest.Server, h http.Handler, req *http.Request, body []byte, check func(status int, body string) bool) {
	b.Helper()
	replay := &replayBody{}
	if body != nil {
		req.Body = replay
		req.ContentLength = int64(len(body))
	}
	rec := httptest.NewRecorder()
	replay.Reset(body)
	h.ServeHTTP(rec, req)
	if !check(rec.Code, rec.Body.String()) {
		b.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	w := &statusWriter{header: http.Header{}}
	q0, w0 := ts.App.DB.Queries(), ts.App.DB.Writes()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		clear(w.header)
		w.status = 0
		replay.Reset(body)
		h.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(ts.App.DB.Queries()-q0)/float64(b.N), "queries/op")
	b.ReportMetric(float64(ts.App.DB.Writes()-w0)/float64(b.N), "writes/op")
}

// replayBody is a request body that can be read again after Reset.
type replayBody struct{ bytes.Reader }

func (*replayBody) Close() error { return nil }

var _ io.ReadCloser = (*replayBody)(nil)

// statusWriter is a ResponseWriter that keeps the status and discards the
// body.
type statusWriter struct {
	header http.Header
	status int
}

func (w *statusWriter) Header() http.Header { return w.header }

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return len(p), nil
}
