package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

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
	body, err := encodeJSON(v)
	if err != nil {
		slog.Default().Error("encoding JSON response", "err", err)
		writeRaw(w, http.StatusInternalServerError, []byte(internalErrorBody))
		return
	}
	writeRaw(w, status, body)
}

// WritePrivateJSON writes v as the 200 answer about the caller's own
// account. Shared caches must not keep it and the browser must revalidate,
// which the ETag of a GET or HEAD answer makes cheap: a matching
// If-None-Match gets 304 with no body. It encodes exactly as WriteJSON
// does; a value that cannot be encoded is answered, and logged, as
// WriteError answers any internal error.
func WritePrivateJSON(w http.ResponseWriter, r *http.Request, logger *slog.Logger, v any) {
	body, err := encodeJSON(v)
	if err != nil {
		WriteError(w, r, logger, err)
		return
	}
	hdr := w.Header()
	if hdr.Get("Cache-Control") == "" {
		hdr.Set("Cache-Control", "private, no-cache")
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		sum := sha256.Sum256(body)
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		hdr.Set("ETag", etag)
		if etagMatches(r.Header.Get("If-None-Match"), etag) {
			hdr.Del("Content-Type") // a 304 has no body to describe
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	writeRaw(w, http.StatusOK, body)
}

// encodeJSON is the one JSON encoding of response bodies: HTML escaping
// off, no trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// etagMatches implements If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
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
	// A refusal no wait ends (too many failed codes) gets no Retry-After:
	// the header would promise a check that fails.
	if e.Code == model.CodeRateLimited && !e.NoWait {
		w.Header().Set("Retry-After", strconv.FormatInt(e.RetryAfterSeconds(), 10))
	}
	WriteJSON(w, status, map[string][]string{"errors": e.Messages()})
}
