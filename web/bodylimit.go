package web

import (
	"errors"
	"net/http"
)

// LimitBody caps the request body at max bytes (the contract says 1 MiB), so
// no handler can be made to buffer an unbounded body. Reading past the cap
// fails with an error IsTooLarge recognises, which handlers answer with 413.
// A request without a body (most GETs) passes as it is: there is nothing
// to cap, and wrapping would copy the request.
func LimitBody(max int64, next http.Handler) http.Handler {
	limited := http.MaxBytesHandler(next, max)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		limited.ServeHTTP(w, r)
	})
}

// IsTooLarge reports whether err comes from reading past the LimitBody cap,
// however deeply a decoder wrapped it.
func IsTooLarge(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}
