package model

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Code is the machine-readable class of an error. The set is small on
// purpose: each transport maps it through a single table (REST statuses in
// web/, GraphQL userErrors and extensions.code in graph/), so a new code is a
// deliberate decision, not an accident of some handler.
type Code string

// The error codes. The comment on each names its REST status; whether it is
// a user-fixable GraphQL userError or a top-level error is decided by
// Code.UserFacing.
const (
	CodeInvalid            Code = "invalid"             // 400: validation, malformed input
	CodeInvalidCredentials Code = "invalid_credentials" // 400: login failed (one message for every cause)
	CodeInvalidPassword    Code = "invalid_password"    // 403: the current password given to confirm a change is wrong
	CodeNotConfigured      Code = "not_configured"      // 401: a feature used before it was set up (two-factor)
	CodeConflict           Code = "conflict"            // 409: duplicates, frozen or suspended account, wrong state
	CodeNotFound           Code = "not_found"           // 404: unknown id, or another user's id
	CodeQuotaExceeded      Code = "quota_exceeded"      // 417: a per-user limit (API keys)
	CodeUnauthenticated    Code = "unauthenticated"     // 401: no or invalid credentials
	CodeForbidden          Code = "forbidden"           // 403: missing permission, suspended, IP not allowed, 2FA required
	CodeRateLimited        Code = "rate_limited"        // 429: per-IP limits and per-account attempt limits
	CodeTooLarge           Code = "too_large"           // 413: request body over the cap
	CodeInternal           Code = "internal"            // 500: everything unexpected; the message is never shown
)

// UserFacing reports whether errors of this code are expected, user-fixable
// outcomes of a mutation (GraphQL userErrors) rather than failures of the
// request itself (top-level GraphQL errors). It is the only place that
// decides: graph/ only spells each user-facing code in its enum.
func (c Code) UserFacing() bool {
	switch c {
	case CodeInvalid, CodeInvalidCredentials, CodeInvalidPassword, CodeNotConfigured,
		CodeConflict, CodeNotFound, CodeQuotaExceeded:
		return true
	}
	return false
}

// FieldError is one failing validation rule. Field is the REST body field
// name (snake_case); the GraphQL layer renames it into an input path.
type FieldError struct {
	Field   string
	Message string
}

// String renders the rule the way the REST contract lists it: "field: message".
func (f FieldError) String() string {
	if f.Field == "" {
		return f.Message
	}
	return f.Field + ": " + f.Message
}

// Error is the single error type every layer speaks. Message is safe to show
// to the caller; Err, if set, is the underlying cause for logs only.
type Error struct {
	Code    Code
	Message string
	// Field names the input field the error is about, when there is one.
	Field string
	// Fields lists every failing validation rule (Code is CodeInvalid).
	Fields []FieldError
	// Permission names the missing permission of a CodeForbidden error.
	Permission string
	// RetryAfter tells a CodeRateLimited caller when to try again.
	RetryAfter time.Duration
	// NoWait marks a CodeRateLimited refusal that no wait ends (a TOTP
	// code past the limit of code failures): it is sent without
	// Retry-After or retryAfter, which would promise a check that fails.
	NoWait bool
	// Err is the wrapped cause, never shown to a client.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Code))
	b.WriteString(": ")
	if len(e.Fields) > 0 {
		for i, f := range e.Fields {
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(f.String())
		}
	} else {
		b.WriteString(e.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// RetrySeconds rounds a wait up to whole seconds, at least 1. It is the one
// rounding of every "retry in" the server states — REST's Retry-After and
// X-RateLimit-Reset, GraphQL's extensions.retryAfter, the messages — so the
// transports cannot disagree: rounding up means a client that waits that
// long is let through, and the floor of 1 keeps a nearly-over window from
// inviting an immediate retry (Retry-After has no fractions).
func RetrySeconds(d time.Duration) int64 {
	s := int64(d / time.Second)
	if d%time.Second > 0 {
		s++ // without adding to d first, which could overflow
	}
	return max(s, 1)
}

// RetryAfterSeconds is e's RetryAfter as the whole seconds a client is told
// to wait (see RetrySeconds).
func (e *Error) RetryAfterSeconds() int64 { return RetrySeconds(e.RetryAfter) }

// Messages lists what a client is shown, one entry per failing rule.
func (e *Error) Messages() []string {
	if e.Code == CodeInternal {
		return []string{"internal server error"}
	}
	if len(e.Fields) > 0 {
		out := make([]string, len(e.Fields))
		for i, f := range e.Fields {
			out[i] = f.String()
		}
		return out
	}
	// A lone Field (a duplicate username, a wrong password) is metadata for
	// GraphQL's userErrors; the REST message stays bare, as the contract
	// lists it.
	return []string{e.Message}
}

// Errorf returns an *Error with the given code and message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// FieldErr returns a CodeInvalid error about a single field.
func FieldErr(field, message string) *Error {
	return &Error{Code: CodeInvalid, Message: message, Field: field, Fields: []FieldError{{Field: field, Message: message}}}
}

// Internal wraps an unexpected error. The cause is kept for logs; the
// client only ever sees "internal server error".
func Internal(err error) *Error {
	return &Error{Code: CodeInternal, Message: "internal server error", Err: err}
}

// Forbidden returns the error of a missing permission, naming it.
func Forbidden(permission string) *Error {
	return &Error{
		Code:       CodeForbidden,
		Message:    "you do not have permission to perform this action: " + permission,
		Permission: permission,
	}
}

// AsError converts any error into an *Error: an *Error anywhere in the chain
// is returned as is, everything else becomes CodeInternal.
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// ErrorCode returns the code of err, CodeInternal for foreign errors and ""
// for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	return AsError(err).Code
}

// Validation collects failing rules so that a request reports all of them at
// once, as the REST contract requires.
type Validation struct {
	fields []FieldError
}

// Add records a failing rule.
func (v *Validation) Add(field, message string) {
	v.fields = append(v.fields, FieldError{Field: field, Message: message})
}

// Err returns the collected rules as one CodeInvalid error, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	first := v.fields[0]
	return &Error{Code: CodeInvalid, Message: first.Message, Field: first.Field, Fields: v.fields}
}

// DuplicateError is returned by storage when a unique constraint refuses a
// write. Field names what was duplicated ("username", "email", "name"); the
// service turns it into the message of the operation at hand.
type DuplicateError struct {
	Field string
}

func (e *DuplicateError) Error() string { return "duplicate " + e.Field }
