package apptest

// GraphQL helpers the tests of more than one package use: the account
// operations' documents, sign-up, userErrors and top-level errors; the CORS
// and metrics tests in app/ sign in over GraphQL too.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// GQLPassword is the password of the accounts the GraphQL tests (and the
// CORS tests, which sign in over GraphQL) make.
const GQLPassword = "correct horse"

// GQLUserFields selects every field of User that needs no extra permission.
// twoFactor.recoveryCodesRemaining is left out on purpose (see
// gqlUserFieldsAll): payload tests that want it ask for it explicitly.
const GQLUserFields = `id username email nameFirst nameLast avatar role admin frozen suspended language
	toastPosition startOnGroupedServers hasPassword requireTwoFactor twoFactor { enabled lastUsedAt } createdAt`

// GQLUserErrorFields selects every field of a payload's userErrors.
const GQLUserErrorFields = `userErrors { field message code }`

// The documents of the account operations, selecting everything the tests
// check, shared so that every test asks the same question.
const (
	GQLRegisterDoc = `mutation($input: RegisterInput!) { register(input: $input) { user { ` + GQLUserFields + ` } ` + GQLUserErrorFields + ` } }`
	GQLLoginDoc    = `mutation($input: LoginInput!) { login(input: $input) {
		user { ` + GQLUserFields + ` } twoFactorRequired confirmationToken ` + GQLUserErrorFields + ` } }`
	GQLLogoutDoc         = `mutation { logout { loggedOut ` + GQLUserErrorFields + ` } }`
	GQLUpdateAccountDoc  = `mutation($input: UpdateAccountInput!) { updateAccount(input: $input) { user { ` + GQLUserFields + ` } ` + GQLUserErrorFields + ` } }`
	GQLUpdateEmailDoc    = `mutation($input: UpdateEmailInput!) { updateEmail(input: $input) { user { ` + GQLUserFields + ` } ` + GQLUserErrorFields + ` } }`
	GQLChangePasswordDoc = `mutation($input: ChangePasswordInput!) { changePassword(input: $input) {
		user { ` + GQLUserFields + ` } revokedSessions revokedApiKeys ` + GQLUserErrorFields + ` } }`
	GQLViewerDoc = `{ viewer { ` + GQLUserFields + ` } }`
)

// GQLIn wraps an input object as the variables {"input": in}.
func GQLIn(in map[string]any) map[string]any { return map[string]any{"input": in} }

// GQLRegisterInput is a valid RegisterInput for username.
func GQLRegisterInput(username, password string) map[string]any {
	return map[string]any{
		"username": username, "email": strings.ToLower(username) + "@example.com",
		"nameFirst": "Test", "nameLast": "User", "password": password,
	}
}

// GQLRegister signs up username over GraphQL and returns the signed-in
// client and the user of the payload.
func GQLRegister(t testing.TB, ts *Server, username, password string) (*Client, map[string]any) {
	t.Helper()
	c := ts.Client(t)
	r := c.GQL(GQLRegisterDoc, GQLIn(GQLRegisterInput(username, password)))
	GQLNoErrors(t, r)
	if ue := GQLUserErrs(t, r, "register"); len(ue) != 0 {
		t.Fatalf("register %s: userErrors %v", username, ue)
	}
	u, _ := Get(r.Data, "register", "user").(map[string]any)
	if u == nil || u["username"] != username {
		t.Fatalf("register %s: no user in payload: %s", username, r.Raw)
	}
	return c, u
}

// GQLViewer returns the viewer as c sees it (nil when signed out), failing
// on any error.
func GQLViewer(t testing.TB, c *Client) map[string]any {
	t.Helper()
	r := c.GQL(GQLViewerDoc, nil)
	GQLNoErrors(t, r)
	v, _ := Get(r.Data, "viewer").(map[string]any)
	return v
}

// GQLNoErrors fails unless r is a 200 without top-level errors.
func GQLNoErrors(t testing.TB, r *GQLResponse) {
	t.Helper()
	if r.Status != http.StatusOK || len(r.Errors) != 0 {
		t.Fatalf("want 200 without errors, got %d: %s", r.Status, r.Raw)
	}
}

// GQLUserErr is one entry of a payload's userErrors.
type GQLUserErr struct {
	Field   []string `json:"field"`
	Message string   `json:"message"`
	Code    string   `json:"code"`
}

// String renders the error as "{field.path "message" CODE}", so that lists
// of them compare and print readably.
func (e GQLUserErr) String() string {
	f := "<null>"
	if e.Field != nil {
		f = strings.Join(e.Field, ".")
	}
	return fmt.Sprintf("{%s %q %s}", f, e.Message, e.Code)
}

// GQLUserErrs decodes data.<op>.userErrors, failing when the payload or the
// list is missing.
func GQLUserErrs(t testing.TB, r *GQLResponse, op string) []GQLUserErr {
	t.Helper()
	var body struct {
		Data map[string]*struct {
			UserErrors *[]GQLUserErr `json:"userErrors"`
		} `json:"data"`
	}
	if err := json.Unmarshal(r.Raw, &body); err != nil {
		t.Fatalf("decode userErrors: %v\n%s", err, r.Raw)
	}
	p := body.Data[op]
	if p == nil || p.UserErrors == nil {
		t.Fatalf("data.%s.userErrors missing: %s", op, r.Raw)
	}
	return *p.UserErrors
}

// GQLSortedStrings renders the errors and sorts them, for comparisons
// where the order is not part of the contract.
func GQLSortedStrings(es []GQLUserErr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	sort.Strings(out)
	return out
}

// GQLTopError checks that r carries exactly one top-level error with the
// given extensions.code, that the error names the request id of the
// response, and that data.<field> (if field is not "") is null and named by
// the error's path. It returns the error's message and extensions.
func GQLTopError(t testing.TB, r *GQLResponse, code, field string) (msg string, ext map[string]any) {
	t.Helper()
	if len(r.Errors) != 1 {
		t.Fatalf("want exactly one top-level error (%s), got %d: %s", code, len(r.Errors), r.Raw)
	}
	e := r.Errors[0]
	if e.Extensions["code"] != code {
		t.Fatalf("extensions.code = %v, want %s: %s", e.Extensions["code"], code, r.Raw)
	}
	GQLCheckRequestIDs(t, r)
	if field != "" {
		if Get(r.Data, field) != nil {
			t.Fatalf("data.%s should be null: %s", field, r.Raw)
		}
		if len(e.Path) == 0 || e.Path[0] != field {
			t.Fatalf("error path = %v, want [%s]: %s", e.Path, field, r.Raw)
		}
	}
	return e.Message, e.Extensions
}

// GQLCheckRequestIDs checks that every error of r has
// extensions.requestId equal to the X-Request-Id response header.
func GQLCheckRequestIDs(t testing.TB, r *GQLResponse) {
	t.Helper()
	id := r.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatalf("response has no X-Request-Id header")
	}
	if len(r.Errors) == 0 {
		t.Fatalf("want errors, got none: %s", r.Raw)
	}
	for i, e := range r.Errors {
		if e.Extensions["requestId"] != id {
			t.Errorf("errors[%d].extensions.requestId = %v, want %q (X-Request-Id): %s", i, e.Extensions["requestId"], id, r.Raw)
		}
	}
}

// GQLSessionCookie returns the session cookie c holds ("" if none).
func GQLSessionCookie(t testing.TB, ts *Server, c *Client) string {
	t.Helper()
	u, err := url.Parse(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == ts.App.Config.SessionCookie {
			return ck.Value
		}
	}
	return ""
}

// GQLCookieClient is a fresh client that replays a session cookie value.
func GQLCookieClient(t testing.TB, ts *Server, value string) *Client {
	c := ts.Client(t)
	c.Header.Set("Cookie", ts.App.Config.SessionCookie+"="+value)
	return c
}

// OrderedObject decodes a JSON object keeping the order of its members.
func OrderedObject(t testing.TB, raw []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %v %v", tok, err)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}
