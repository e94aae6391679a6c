package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"accountd/model"
)

// internalErrorBody is what a client sees of any unexpected failure: nothing
// of the cause, which may hold driver text or internal details.
const internalErrorBody = `{"errors":["internal server error"]}`

// WriteJSON writes v as the JSON response body with the given status. The
// body is encoded before anything is sent, so a value that cannot be encoded
// becomes a clean 500 instead of a truncated 200. HTML escaping is off: the
// body is JSON for API clients, and escaped "<" would only confuse them.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		slog.Default().Error("encoding JSON response", "err", err)
		writeRaw(w, http.StatusInternalServerError, []byte(internalErrorBody))
		return
	}
	writeRaw(w, status, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// writeRaw sends an already encoded JSON body.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// StatusOf maps an error code to its HTTP status. It is the only such table
// in the project, so REST statuses cannot drift between handlers; a code it
// does not know is a programming error and answers 500.
func StatusOf(code model.Code) int {
	switch code {
	case model.CodeInvalid, model.CodeInvalidCredentials:
		return http.StatusBadRequest
	case model.CodeInvalidPassword, model.CodeForbidden:
		return http.StatusForbidden
	case model.CodeNotConfigured, model.CodeUnauthenticated:
		return http.StatusUnauthorized
	case model.CodeConflict:
		return http.StatusConflict
	case model.CodeNotFound:
		return http.StatusNotFound
	case model.CodeQuotaExceeded:
		return http.StatusExpectationFailed
	case model.CodeRateLimited:
		return http.StatusTooManyRequests
	case model.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusInternalServerError
	}
}

// WriteError writes err as {"errors": [...]} with the status of its code.
// Errors that are not a *model.Error, and codes that map to 500, are logged
// with the request id and their cause and shown to the client only as
// "internal server error", so driver text never leaks. Nothing from the
// request is logged: its body may hold a password. A rate-limited answer
// carries Retry-After in whole seconds, rounded up so that a client that
// waits that long is let through. logger may be nil to use slog.Default().
func WriteError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err == nil {
		err = model.Internal(errors.New("web.WriteError called with a nil error"))
	}
	e := model.AsError(err)
	status := StatusOf(e.Code)
	if status >= http.StatusInternalServerError {
		ctx := context.Background()
		if r != nil {
			ctx = r.Context()
		}
		var cause error = e
		if e.Err != nil {
			cause = e.Err
		}
		logger.ErrorContext(ctx, "internal error",
			"request_id", RequestIDFrom(ctx),
			"code", string(e.Code),
			"err", cause)
		writeRaw(w, http.StatusInternalServerError, []byte(internalErrorBody))
		return
	}
	if e.Code == model.CodeRateLimited {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.RetryAfter), 10))
	}
	WriteJSON(w, status, map[string][]string{"errors": e.Messages()})
}

// retryAfterSeconds rounds d up to whole seconds, at least 1: Retry-After
// has no fractions, and 0 would invite an immediate retry.
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
