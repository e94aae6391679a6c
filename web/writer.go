package web

import "net/http"

// statusWriter records what a handler wrote, so that the access log can
// report the status and size, and Recover can tell whether a 500 can still be
// sent after a panic. It keeps http.Flusher and Unwrap so that streaming and
// http.ResponseController (deadlines, hijacking) still reach the real writer.
type statusWriter struct {
	http.ResponseWriter
	// status is the final status sent, 0 while no header has been written.
	status int
	// bytes counts the body bytes written.
	bytes int64
}

// wrapWriter returns w itself when it already records, so stacked middlewares
// share one record instead of wrapping each other's.
func wrapWriter(w http.ResponseWriter) *statusWriter {
	if sw, ok := w.(*statusWriter); ok {
		return sw
	}
	return &statusWriter{ResponseWriter: w}
}

// WriteHeader records the final status. Informational 1xx headers (other than
// 101, which switches protocols) do not commit the response, so they are
// passed on without being recorded.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 that net/http sends when a handler writes a
// body without calling WriteHeader first.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush sends buffered data to the client; it commits the header like Write.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController find the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter {
	return w.ResponseWriter
}

// wroteHeader reports whether the response has been committed.
func (w *statusWriter) wroteHeader() bool {
	return w.status != 0
}
