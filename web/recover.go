package web

import (
	"log/slog"
	"net/http"
	"runtime/debug"
)

// Recover turns a panicking handler into a logged 500 instead of a dropped
// connection, so a client gets the usual error body and operators get the
// stack with the request id. If the handler had already started its
// response, the status cannot change any more and only the log is written.
// http.ErrAbortHandler is re-panicked: it is net/http's way to abort a
// response on purpose. logger may be nil to use slog.Default().
func Recover(logger *slog.Logger, next http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := wrapWriter(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			ctx := r.Context()
			logger.ErrorContext(ctx, "panic",
				"request_id", RequestIDFrom(ctx),
				"method", r.Method,
				"path", r.URL.Path,
				"panic", v,
				"stack", string(debug.Stack()))
			if !sw.wroteHeader() {
				writeRaw(sw, http.StatusInternalServerError, []byte(internalErrorBody))
			}
		}()
		next.ServeHTTP(sw, r)
	})
}
