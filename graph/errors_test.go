package graph

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"accountd/model"
	"accountd/web"
)

// allCodes is every model.Code; a code added to model/error.go belongs here
// too.
var allCodes = []model.Code{
	model.CodeInvalid, model.CodeInvalidCredentials, model.CodeInvalidPassword, model.CodeNotConfigured,
	model.CodeConflict, model.CodeNotFound, model.CodeQuotaExceeded, model.CodeUnauthenticated,
	model.CodeForbidden, model.CodeRateLimited, model.CodeTooLarge, model.CodeInternal,
}

// TestUserErrorCodes holds the schema's UserErrorCode enum to
// model.Code.UserFacing, the one decision of which errors are userErrors:
// every user-facing code has an enum value, every enum value is a
// user-facing code, and every other code has a top-level extensions.code.
func TestUserErrorCodes(t *testing.T) {
	for _, c := range allCodes {
		_, topLevel := topLevelCodes[c]
		switch {
		case c.UserFacing() && !userErrorCode(c).IsValid():
			t.Errorf("%s is user-facing but the schema's UserErrorCode has no %s", c, userErrorCode(c))
		case c.UserFacing() && topLevel:
			t.Errorf("%s is user-facing but also has a top-level code", c)
		case !c.UserFacing() && !topLevel:
			t.Errorf("%s is not user-facing but has no top-level code", c)
		}
	}
	for _, v := range AllUserErrorCode {
		if c := model.Code(strings.ToLower(string(v))); !c.UserFacing() {
			t.Errorf("UserErrorCode %s is %q, which model.Code.UserFacing does not report user-facing", v, c)
		}
	}
}

// TestUserErrorsFollowUserFacing: a mutation's error becomes userErrors
// exactly when its code is user-facing.
func TestUserErrorsFollowUserFacing(t *testing.T) {
	for _, c := range allCodes {
		err := &model.Error{Code: c, Message: "m", Field: "name_first"}
		ue, rest := userErrors(err, nil)
		if c.UserFacing() {
			if rest != nil || len(ue) != 1 || ue[0].Code != userErrorCode(c) ||
				strings.Join(ue[0].Field, ".") != "input.nameFirst" {
				t.Errorf("%s: userErrors = %+v, %v; want one userError on input.nameFirst", c, ue, rest)
			}
			continue
		}
		if rest != err || len(ue) != 0 {
			t.Errorf("%s: userErrors = %+v, %v; want the error for the presenter", c, ue, rest)
		}
	}
}

type presented struct {
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// TestWriteError checks the refusals written before the executor: they
// have the presenter's shape (message, extensions.code, requestId), their
// code's status, and a rate-limit refusal states the same whole seconds
// in Retry-After and retryAfter.
func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		message    string
		retryAfter string // "" for none
	}{
		{"CrossOrigin", model.Errorf(model.CodeForbidden, "cross-origin request refused"), 403, "FORBIDDEN", "cross-origin request refused", ""},
		{"TooLarge", model.Errorf(model.CodeTooLarge, "request body too large"), 413, "BAD_REQUEST", "request body too large", ""},
		{"Unreadable", model.Errorf(model.CodeInvalid, "the request body could not be read"), 400, "INVALID", "the request body could not be read", ""},
		{"RateLimitedZero", &model.Error{Code: model.CodeRateLimited, Message: "slow down"}, 429, "RATE_LIMITED", "slow down", "1"},
		{"RateLimitedNanosecond", &model.Error{Code: model.CodeRateLimited, Message: "slow down", RetryAfter: 1}, 429, "RATE_LIMITED", "slow down", "1"},
		{"RateLimitedSecond", &model.Error{Code: model.CodeRateLimited, Message: "slow down", RetryAfter: time.Second}, 429, "RATE_LIMITED", "slow down", "1"},
		{"RateLimitedJustOver", &model.Error{Code: model.CodeRateLimited, Message: "slow down", RetryAfter: time.Second + 1}, 429, "RATE_LIMITED", "slow down", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
			r = r.WithContext(web.WithRequestID(r.Context(), "req-5"))
			rec := httptest.NewRecorder()
			WriteError(rec, r, tt.err)
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			var body presented
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 {
				t.Fatalf("body %s: want one error (%v)", rec.Body.String(), err)
			}
			e := body.Errors[0]
			if e.Message != tt.message || e.Extensions["code"] != tt.code || e.Extensions["requestId"] != "req-5" || e.Path != nil {
				t.Errorf("error = %+v, want message %q, code %s, requestId req-5, no path", e, tt.message, tt.code)
			}
			wantKeys := 2
			if tt.retryAfter != "" {
				wantKeys = 3
				if got, _ := e.Extensions["retryAfter"].(float64); strconv.FormatFloat(got, 'f', -1, 64) != tt.retryAfter {
					t.Errorf("retryAfter = %v, want %s as in Retry-After", e.Extensions["retryAfter"], tt.retryAfter)
				}
			}
			if len(e.Extensions) != wantKeys {
				t.Errorf("extensions = %v, want exactly %d entries", e.Extensions, wantKeys)
			}
		})
	}
}
