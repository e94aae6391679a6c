package graph

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"accountd/web"
)

// TestRateLimitedOperationsAreMutations holds web's table of rate-limited
// operations to the schema: a renamed mutation would otherwise silently
// lose its limit.
func TestRateLimitedOperationsAreMutations(t *testing.T) {
	mutation := NewExecutableSchema(Config{}).Schema().Mutation
	for _, op := range web.RateLimitedOperations() {
		if mutation.Fields.ForName(op.GraphQLField) == nil {
			t.Errorf("the %s limit names mutation %q, which the schema does not have", op.Rule, op.GraphQLField)
		}
	}
}

// TestMutationsCountAgainstTheirLimit sends each rate-limited mutation,
// under whatever alias, to a limiter that allows none: it is refused
// before its resolver (which, with no service, would panic) as
// RATE_LIMITED with retryAfter. A mutation outside the table is not.
func TestMutationsCountAgainstTheirLimit(t *testing.T) {
	rules := map[string]web.RateRule{}
	for _, op := range web.RateLimitedOperations() {
		rules[op.Rule] = web.RateRule{Limit: 0, Window: time.Minute}
	}
	limits := &web.RateLimiter{Counter: &web.MemoryCounter{}, Rules: rules}
	h := NewHandler(&Resolver{Limits: limits}, Options{})
	post := func(t *testing.T, query string) presented {
		t.Helper()
		b, _ := json.Marshal(map[string]string{"query": query})
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body presented
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %s: %v", rec.Body.String(), err)
		}
		return body
	}
	for field, query := range map[string]string{
		"login":           `mutation { signIn: login(input: {user: "a", password: "b"}) { userErrors { message } } }`,
		"loginCheckpoint": `mutation { loginCheckpoint(input: {confirmationToken: "t", code: "123456"}) { userErrors { message } } }`,
		"register": `mutation { register(input: {username: "a", email: "a@example.com", nameFirst: "A", nameLast: "B", password: "pw"}) {
			userErrors { message } } }`,
	} {
		t.Run(field, func(t *testing.T) {
			body := post(t, query)
			if len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "RATE_LIMITED" || body.Errors[0].Extensions["retryAfter"] == nil {
				t.Fatalf("errors = %+v, want one RATE_LIMITED error with retryAfter", body.Errors)
			}
		})
	}
	t.Run("NotInTheTable", func(t *testing.T) {
		body := post(t, `mutation { logout { loggedOut } }`)
		if len(body.Errors) != 1 || body.Errors[0].Extensions["code"] != "UNAUTHENTICATED" {
			t.Fatalf("errors = %+v, want logout's own UNAUTHENTICATED, not a rate limit", body.Errors)
		}
	})
}
