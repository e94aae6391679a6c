package metrics

import (
	"net/http"
	"time"
)

// Middleware counts and times every request by route template, method and
// status. Put it outside anything that answers on its own (Recover's 500,
// a rate limit's 429) and wrap the ServeMux itself in RecordRoute, which
// tells it the template that matched.
func (m *Metrics) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		returned := false
		defer func() {
			status := rec.status
			if status == 0 && returned {
				status = http.StatusOK // what net/http sends for an empty response
			}
			// A status of 0 is a handler that panicked before answering.
			s := m.series(routeLabel(rec.pattern), methodLabel(r.Method), status)
			s.count.Inc()
			s.duration.Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rec, r)
		returned = true
	})
}

// RecordRoute wraps a ServeMux and reports the pattern it matched to
// Middleware, through the response writer: the writer RecordRoute is given
// is Middleware's recorder or wraps it (Unwrap leads there), so the route
// travels back without a context of its own. ServeMux sets Request.Pattern on the request it was given,
// and a ServeMux nested behind it (the REST routes behind "/api/") sets it
// again on that same request, so after the call the request holds the
// innermost template — never the raw path, which may hold uuids and key
// prefixes. A request no pattern matched leaves it empty ("unmatched").
func RecordRoute(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if rec := recorderOf(w); rec != nil {
				rec.pattern = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// recorder notes the status a handler sent. It keeps Flush and Unwrap so
// that streaming and http.ResponseController still reach the real writer.
type recorder struct {
	http.ResponseWriter
	status  int
	pattern string // the route template RecordRoute saw match
}

// recorderOf finds Middleware's recorder in w's chain of wrappers.
func recorderOf(w http.ResponseWriter) *recorder {
	for w != nil {
		if rec, ok := w.(*recorder); ok {
			return rec
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil
		}
		w = u.Unwrap()
	}
	return nil
}

// WriteHeader records the final status; informational 1xx headers (other
// than 101) do not commit the response.
func (w *recorder) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written without WriteHeader.
func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush commits the header like Write and passes the flush on.
func (w *recorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController find the underlying writer.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
