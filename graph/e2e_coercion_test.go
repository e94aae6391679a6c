package graph_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"accountd/app/apptest"
)

// Documents whose variables the coercion table fills.
const (
	coFirstDoc    = `query($n: Int) { viewer { apiKeys(first: $n) { totalCount } } }`
	coSearchDoc   = `query($s: String) { viewer { apiKeys(search: $s) { totalCount } } }`
	coCreateDoc   = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { key userErrors { message } } }`
	coAccountDoc  = `mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { user { toastPosition } userErrors { message } } }`
	coEnumDoc     = `mutation($p: ToastPosition) { updateAccount(input: {toastPosition: $p}) { user { toastPosition } userErrors { message } } }`
	coPasswordDoc = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) { revokedSessions userErrors { message } } }`
)

// coCase is a value the spec's input coercion (§3.5) cannot turn into the
// expected type, written as a literal or sent as a variable.
type coCase struct {
	name      string
	doc       string
	variables map[string]any
}

// coNumber is a JSON number exactly as written (json.Marshal keeps it).
func coNumber(s string) json.Number { return json.Number(s) }

func coCases() []coCase {
	const pw = apptest.GQLPassword
	create := func(in map[string]any) map[string]any {
		out := map[string]any{"name": "coerced key"}
		for k, v := range in {
			out[k] = v
		}
		return apptest.GQLIn(out)
	}
	changePw := func(extra map[string]any) map[string]any {
		in := map[string]any{"currentPassword": pw, "newPassword": "a brand new password"}
		for k, v := range extra {
			in[k] = v
		}
		return apptest.GQLIn(in)
	}
	return []coCase{
		// Literals: gqlparser's ValuesOfCorrectType and our StrictLiterals rule.
		{"literal Int from a string", `{ viewer { apiKeys(first: "10") { totalCount } } }`, nil},
		{"literal Int from a float", `{ viewer { apiKeys(first: 1.5) { totalCount } } }`, nil},
		{"literal Int beyond 32 bits", `{ viewer { apiKeys(first: 3000000000) { totalCount } } }`, nil},
		{"literal Int from a boolean", `{ viewer { apiKeys(first: true) { totalCount } } }`, nil},
		{"literal String from an int", `{ viewer { apiKeys(search: 123) { totalCount } } }`, nil},
		{"literal String input field from an int", `mutation { createApiKey(input: {name: 123}) { key userErrors { message } } }`, nil},
		{"literal [String] from an int", `mutation { createApiKey(input: {name: "coerced", allowedIps: [1]}) { key userErrors { message } } }`, nil},
		{"literal Boolean from an int", `mutation { changePassword(input: {currentPassword: "` + pw + `", newPassword: "a brand new password", revokeApiKeys: 1}) { revokedSessions userErrors { message } } }`, nil},
		{"literal Boolean from a string", `mutation { updateAccount(input: {startOnGroupedServers: "true"}) { userErrors { message } } }`, nil},
		{"literal enum from a string", `mutation { updateAccount(input: {toastPosition: "TOP_LEFT"}) { userErrors { message } } }`, nil},
		{"literal Time from an int", `mutation { createApiKey(input: {name: "coerced", expiresAt: 5}) { key userErrors { message } } }`, nil},
		// Variables: gqlparser's check and our strictVariables.
		{"variable Int from a string", coFirstDoc, map[string]any{"n": "10"}},
		{"variable Int from a float", coFirstDoc, map[string]any{"n": coNumber("1.5")}},
		{"variable Int from an exponent", coFirstDoc, map[string]any{"n": coNumber("1e1")}},
		{"variable Int beyond 32 bits", coFirstDoc, map[string]any{"n": coNumber("3000000000")}},
		{"variable Int from a boolean", coFirstDoc, map[string]any{"n": true}},
		{"variable String from an int", coSearchDoc, map[string]any{"s": coNumber("123")}},
		{"variable String from a boolean", coSearchDoc, map[string]any{"s": true}},
		{"variable String input field from an int", coCreateDoc, create(map[string]any{"name": coNumber("123")})},
		{"variable [String] element from an int", coCreateDoc, create(map[string]any{"allowedIps": []any{coNumber("1")}})},
		{"variable [String] from an int", coCreateDoc, create(map[string]any{"userPermissions": coNumber("1")})},
		{"variable Time from an int", coCreateDoc, create(map[string]any{"expiresAt": coNumber("5")})},
		{"variable Time from garbage", coCreateDoc, create(map[string]any{"expiresAt": "next tuesday"})},
		{"variable Boolean from an int", coPasswordDoc, changePw(map[string]any{"revokeApiKeys": coNumber("1")})},
		{"variable Boolean from a string", coPasswordDoc, changePw(map[string]any{"revokeApiKeys": "true"})},
		{"variable password from an int", coPasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": pw, "newPassword": coNumber("1234567890123")})},
		{"variable input Boolean from a string", coAccountDoc, apptest.GQLIn(map[string]any{"startOnGroupedServers": "true"})},
		{"variable input enum in lower case", coAccountDoc, apptest.GQLIn(map[string]any{"toastPosition": "top_left"})},
		{"variable input enum from an int", coAccountDoc, apptest.GQLIn(map[string]any{"toastPosition": coNumber("1")})},
		{"variable enum in lower case", coEnumDoc, map[string]any{"p": "top_left"}},
		{"variable enum from an int", coEnumDoc, map[string]any{"p": coNumber("0")}},
	}
}

// TestGraphQLStrictInputCoercion: a value the spec cannot coerce to its
// type is a request error (GRAPHQL_VALIDATION_FAILED, no data, nothing
// run), never silently converted and never a field error with partial
// data, in literals and variables alike. The message never echoes the
// value, which may be a password sent with the wrong type.
func TestGraphQLStrictInputCoercion(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "coercion", apptest.GQLPassword)
		before := apptest.GQLViewer(t, c)
		for _, tc := range coCases() {
			t.Run(tc.name, func(t *testing.T) {
				r := c.GQL(tc.doc, tc.variables)
				if r.Status != http.StatusOK || len(r.Errors) == 0 {
					t.Fatalf("want a request error, got %d: %s", r.Status, r.Raw)
				}
				if r.Data != nil {
					t.Errorf("data present: a request error runs nothing: %s", r.Raw)
				}
				for _, e := range r.Errors {
					if e.Extensions["code"] != "GRAPHQL_VALIDATION_FAILED" {
						t.Errorf("extensions.code = %v, want GRAPHQL_VALIDATION_FAILED: %s", e.Extensions["code"], r.Raw)
					}
					if strings.Contains(e.Message, "1234567890123") {
						t.Errorf("the value is echoed: %q", e.Message)
					}
				}
				apptest.GQLCheckRequestIDs(t, r)
			})
		}
		t.Run("graphql-response+json", func(t *testing.T) {
			b, _ := json.Marshal(map[string]any{"query": coFirstDoc, "variables": map[string]any{"n": "10"}})
			res, m := glPost(t, c, "application/graphql-response+json", b)
			if res.Status != http.StatusBadRequest {
				t.Errorf("status %d, want 400", res.Status)
			}
			if _, ok := m["data"]; ok {
				t.Errorf("a request error has a data entry: %s", res.Body)
			}
			if _, code := glFirstError(t, m); code != "GRAPHQL_VALIDATION_FAILED" {
				t.Errorf("code %s", code)
			}
		})
		t.Run("nothing changed", func(t *testing.T) {
			if after := apptest.GQLViewer(t, c); after["toastPosition"] != before["toastPosition"] ||
				after["startOnGroupedServers"] != before["startOnGroupedServers"] {
				t.Errorf("account changed by refused documents: %v → %v", before, after)
			}
			if n := gqlCountAPIKeys(t, ts, before["id"].(string)); n != 0 {
				t.Errorf("%d API keys created by refused documents", n)
			}
			gqlLogin(t, ts, "coercion", apptest.GQLPassword) // the password did not change
		})
		t.Run("accepted/variable Int at the 32-bit edge", func(t *testing.T) {
			// Well typed, so it reaches the resolver, which finds it too
			// large for a page: a field error of its own, not a type error.
			r := c.GQL(coFirstDoc, map[string]any{"n": coNumber("2147483647")})
			apptest.GQLTopError(t, r, "INVALID", "viewer")
		})
		// The well-typed twins of the cases above still run.
		for _, ok := range []coCase{
			{"variable Int", coFirstDoc, map[string]any{"n": coNumber("10")}},
			{"variable String", coSearchDoc, map[string]any{"s": "abc"}},
			{"variable null", coFirstDoc, map[string]any{"n": nil}},
			{"variable enum", coEnumDoc, map[string]any{"p": "TOP_LEFT"}},
			{"variable input enum and Boolean", coAccountDoc, apptest.GQLIn(map[string]any{"toastPosition": "BOTTOM_RIGHT", "startOnGroupedServers": true})},
			{"variable single value for a list", coCreateDoc, create1(map[string]any{"allowedIps": "10.0.0.0/8"})},
			{"literal Int", `{ viewer { apiKeys(first: 10) { totalCount } } }`, nil},
			{"literal Int default", `query($n: Int = 5) { viewer { apiKeys(first: $n) { totalCount } } }`, nil},
		} {
			t.Run("accepted/"+ok.name, func(t *testing.T) {
				r := c.GQL(ok.doc, ok.variables)
				apptest.GQLNoErrors(t, r)
				if strings.Contains(string(r.Raw), `"userErrors":[{`) {
					t.Errorf("userErrors: %s", r.Raw)
				}
			})
		}
	})
}

// create1 is a CreateApiKeyInput with a fixed name plus in.
func create1(in map[string]any) map[string]any {
	out := map[string]any{"name": "single value"}
	for k, v := range in {
		out[k] = v
	}
	return apptest.GQLIn(out)
}
