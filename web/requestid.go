package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// requestIDHeader is read from the request and echoed on the response so a
// client, a proxy and our logs can name the same request.
const requestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a client-supplied id so it cannot bloat log lines.
const maxRequestIDLen = 64

type requestIDKey struct{}

// RequestID gives every request an id, stored in its context and echoed in
// the X-Request-Id response header, so that an error a client reports can be
// found in the logs. A well-formed id sent by the client (or a proxy in front
// of us) is kept so that one id follows the request across hops; anything
// else is replaced, because the id ends up in log lines and must not carry
// arbitrary client bytes into them.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(requestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set(requestIDHeader, id)
		r, st := withState(r)
		st.id = id
		next.ServeHTTP(w, r)
	})
}

// RequestIDFrom returns the request id stored in ctx, or "" when there is
// none, so callers can log it without checking first.
func RequestIDFrom(ctx context.Context) string {
	if id, ok := ctx.Value(requestIDKey{}).(string); ok {
		return id
	}
	if st := stateFrom(ctx); st != nil {
		return st.id
	}
	return ""
}

// WithRequestID returns a context carrying id, for tests and for work that
// does not come in through HTTP but should still be traceable in the logs.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// validRequestID accepts 1–64 characters of [A-Za-z0-9._-]: enough for
// UUIDs, hex and most tracing ids, and nothing that needs quoting in a log.
func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes as 32 hex characters: unguessable, so
// ids from different requests never collide in practice.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	return hex.EncodeToString(b[:])
}
