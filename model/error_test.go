package model

import (
	"math"
	"testing"
	"time"
)

// TestRetrySeconds pins the one rounding of a wait to whole seconds that
// REST's Retry-After, GraphQL's retryAfter and the messages all state.
func TestRetrySeconds(t *testing.T) {
	tests := []struct {
		name string
		d    time.Duration
		want int64
	}{
		{"Zero", 0, 1},
		{"Negative", -time.Second, 1},
		{"OneNanosecond", time.Nanosecond, 1},
		{"SubSecond", 200 * time.Millisecond, 1},
		{"OneSecond", time.Second, 1},
		{"JustOverOneSecond", time.Second + time.Nanosecond, 2},
		{"RoundsUp", 1500 * time.Millisecond, 2},
		{"ExactSeconds", 30 * time.Second, 30},
		{"NoOverflow", time.Duration(math.MaxInt64), int64(time.Duration(math.MaxInt64)/time.Second) + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RetrySeconds(tt.d); got != tt.want {
				t.Errorf("RetrySeconds(%v) = %d, want %d", tt.d, got, tt.want)
			}
			e := &Error{Code: CodeRateLimited, RetryAfter: tt.d}
			if got := e.RetryAfterSeconds(); got != tt.want {
				t.Errorf("RetryAfterSeconds() with RetryAfter %v = %d, want %d", tt.d, got, tt.want)
			}
		})
	}
}

// TestCodeUserFacing pins which codes are a mutation's userErrors; the
// GraphQL layer asks Code.UserFacing and nothing else.
func TestCodeUserFacing(t *testing.T) {
	tests := []struct {
		code Code
		want bool
	}{
		{CodeInvalid, true},
		{CodeInvalidCredentials, true},
		{CodeInvalidPassword, true},
		{CodeNotConfigured, true},
		{CodeConflict, true},
		{CodeNotFound, true},
		{CodeQuotaExceeded, true},
		{CodeUnauthenticated, false},
		{CodeForbidden, false},
		{CodeRateLimited, false},
		{CodeTooLarge, false},
		{CodeInternal, false},
		{Code("bogus"), false},
		{Code(""), false},
	}
	for _, tt := range tests {
		if got := tt.code.UserFacing(); got != tt.want {
			t.Errorf("Code(%q).UserFacing() = %v, want %v", tt.code, got, tt.want)
		}
	}
}
