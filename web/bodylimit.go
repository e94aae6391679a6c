package web

import (
	"errors"
	"net/http"
)

// LimitBody caps the request body at max bytes (the contract says 1 MiB), so
// no handler can be made to buffer an unbounded body. Reading past the cap
// fails with an error IsTooLarge recognises, which handlers answer with 413.
func LimitBody(max int64, next http.Handler) http.Handler {
	return http.MaxBytesHandler(next, max)
}

// IsTooLarge reports whether err comes from reading past the LimitBody cap,
// however deeply a decoder wrapped it.
func IsTooLarge(err error) bool {
	_, ok := errors.AsType[*http.MaxBytesError](err)
	return ok
}
