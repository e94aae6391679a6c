package web

import (
	"log/slog"
	"net/http"
	"time"
)

// maxUserAgentLen bounds the user agent in a log line; it is client-chosen.
const maxUserAgentLen = 200

// AccessLog writes one Info line per request after it finishes. It logs only
// what is safe to keep: the path without its query string (which may carry
// tokens), never a header other than the truncated user agent (Authorization
// and Cookie hold credentials) and never a body. A status of 0 means the
// handler panicked before responding; put Recover inside AccessLog so that
// such requests are logged with the 500 Recover sends. logger may be nil to
// use slog.Default().
func AccessLog(logger *slog.Logger, next http.Handler) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := wrapWriter(w)
		returned := false
		r, st := withState(r)
		defer func() {
			level := st.level
			if !logger.Enabled(r.Context(), level) {
				return
			}
			status := sw.status
			if status == 0 && returned {
				status = http.StatusOK // what net/http sends for an empty response
			}
			ctx := r.Context()
			logger.LogAttrs(ctx, level, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("request_id", RequestIDFrom(ctx)),
				slog.String("client_ip", ClientIPFrom(ctx).String()),
				slog.String("user_agent", truncate(r.UserAgent(), maxUserAgentLen)))
		}()
		next.ServeHTTP(sw, r)
		returned = true
	})
}

// truncate shortens s to at most n characters without splitting one.
func truncate(s string, n int) string {
	i := 0
	for pos := range s {
		if i == n {
			return s[:pos]
		}
		i++
	}
	return s
}

// Quiet logs the requests next serves at Debug instead of Info: a
// monitoring system polling an endpoint every few seconds would otherwise
// drown the access log.
func Quiet(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if st := stateFrom(r.Context()); st != nil {
			st.level = slog.LevelDebug
		}
		next.ServeHTTP(w, r)
	})
}
