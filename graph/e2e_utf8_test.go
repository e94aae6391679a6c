package graph_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"accountd/app/apptest"
)

// u8Marker stands for the bad text in a body built with json.Marshal,
// which would itself replace invalid UTF-8 with U+FFFD.
const u8Marker = "@@BAD@@"

// u8Body is the GraphQL POST body of doc with variables, with every
// u8Marker replaced by bad (raw bytes, or escape text such as `\ud800`).
func u8Body(t *testing.T, doc string, variables map[string]any, bad string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"query": doc, "variables": variables})
	if err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b, []byte(u8Marker), []byte(bad))
}

// u8Refused checks res is the request error for text that is not valid
// UTF-8: 400, code BAD_REQUEST, no data, the request id, no echo.
func u8Refused(t *testing.T, res *apptest.Response) {
	t.Helper()
	r := gqlDecode(t, res)
	if r.Status != http.StatusBadRequest || r.Data != nil || len(r.Errors) != 1 ||
		r.Errors[0].Extensions["code"] != "BAD_REQUEST" {
		t.Fatalf("want a 400 request error, got %d: %s", r.Status, r.Raw)
	}
	apptest.GQLCheckRequestIDs(t, r)
	if bytes.Contains(res.Body, []byte("horse")) {
		t.Errorf("the body is echoed: %s", res.Body)
	}
}

// TestGraphQLInvalidUTF8 checks that text is never rewritten: encoding/json
// would replace each invalid byte (or lone surrogate escape) with U+FFFD,
// so "horse\xff" and "horse\xfe" would be the same password. Such a
// request is refused whole, and changes nothing.
func TestGraphQLInvalidUTF8(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "utf8user", apptest.GQLPassword)
		bads := []struct{ name, text string }{
			{"byte 0xff", "\xff"},
			{"truncated sequence", "\xe2\x98"},
			{"lone surrogate escape", `\ud800`},
		}
		for _, bad := range bads {
			t.Run("register/"+bad.name, func(t *testing.T) {
				in := apptest.GQLRegisterInput("utf8new", "correct horse"+u8Marker)
				res := ts.Client(t).Raw(http.MethodPost, "/graphql", "application/json",
					bytes.NewReader(u8Body(t, apptest.GQLRegisterDoc, apptest.GQLIn(in), bad.text)))
				u8Refused(t, res)
			})
			t.Run("login/"+bad.name, func(t *testing.T) {
				fresh := ts.Client(t)
				in := map[string]any{"user": "utf8user", "password": apptest.GQLPassword + u8Marker}
				u8Refused(t, fresh.Raw(http.MethodPost, "/graphql", "application/json",
					bytes.NewReader(u8Body(t, apptest.GQLLoginDoc, apptest.GQLIn(in), bad.text))))
				if apptest.GQLViewer(t, fresh) != nil {
					t.Errorf("a refused login signed in")
				}
			})
			t.Run("changePassword/"+bad.name, func(t *testing.T) {
				in := map[string]any{"currentPassword": apptest.GQLPassword, "newPassword": "new horse " + u8Marker}
				u8Refused(t, c.Raw(http.MethodPost, "/graphql", "application/json",
					bytes.NewReader(u8Body(t, apptest.GQLChangePasswordDoc, apptest.GQLIn(in), bad.text))))
			})
			t.Run("in the document/"+bad.name, func(t *testing.T) {
				doc := `mutation { updateAccount(input: {nameFirst: "x` + u8Marker + `"}) { userErrors { message } } }`
				u8Refused(t, c.Raw(http.MethodPost, "/graphql", "application/json",
					bytes.NewReader(u8Body(t, doc, nil, bad.text))))
			})
		}
		t.Run("lone surrogate escape in a GraphQL literal", func(t *testing.T) {
			// The JSON is valid (the backslash is escaped); the document's
			// own escape would still be rewritten by the lexer.
			fresh := ts.Client(t)
			r := fresh.GQL(`mutation { login(input: {user: "utf8user", password: "correct horse\ud800"}) { user { id } } }`, nil)
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "GRAPHQL_PARSE_FAILED" || r.Data != nil {
				t.Errorf("want a parse error: %d %s", r.Status, r.Raw)
			}
			r = c.GQL(`mutation { changePassword(input: {currentPassword: "correct horse", newPassword: "new horse \udfff"}) { userErrors { message } } }`, nil)
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "GRAPHQL_PARSE_FAILED" || r.Data != nil {
				t.Errorf("want a parse error: %d %s", r.Status, r.Raw)
			}
		})
		t.Run("GET parameters", func(t *testing.T) {
			for _, q := range []string{
				"query=" + url.QueryEscape(`{ viewer { username } }`) + "%ff",
				"query=" + url.QueryEscape(`query($s: String) { viewer { apiKeys(search: $s) { totalCount } } }`) +
					"&variables=" + url.QueryEscape(`{"s":"`) + "%ff" + url.QueryEscape(`"}`),
				"query=" + url.QueryEscape(`query($s: String) { viewer { apiKeys(search: $s) { totalCount } } }`) +
					"&variables=" + url.QueryEscape(`{"s":"\udc00"}`),
			} {
				u8Refused(t, c.Raw(http.MethodGet, "/graphql?"+q, "", nil))
			}
		})
		t.Run("nothing changed", func(t *testing.T) {
			v := apptest.GQLViewer(t, c)
			if v == nil || v["nameFirst"] != "Test" {
				t.Fatalf("account changed or signed out: %v", v)
			}
			gqlLogin(t, ts, "utf8user", apptest.GQLPassword) // the old password still works
			r := ts.Client(t).GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "utf8user", "password": "new horse \uFFFD"}))
			if apptest.Get(r.Data, "login", "user") != nil {
				t.Errorf("the password was changed to its U+FFFD rewrite: %s", r.Raw)
			}
			r = ts.Client(t).GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "utf8new", "password": "correct horse\uFFFD"}))
			if apptest.Get(r.Data, "login", "user") != nil {
				t.Errorf("a refused registration created the account: %s", r.Raw)
			}
		})
		t.Run("valid multibyte text passes", func(t *testing.T) {
			r := c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "Zoë ☃"}))
			gqlWantUserErrs(t, r, "updateAccount")
			if apptest.Get(r.Data, "updateAccount", "user", "nameFirst") != "Zoë ☃" {
				t.Errorf("nameFirst: %s", r.Raw)
			}
		})
	})
}
