package rest_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"accountd/app/apptest"
)

// restBodyRoute is a route that takes a JSON body.
type restBodyRoute struct {
	name, method, path string
	// auth: the route needs a signed-in client.
	auth bool
	// valid is a body the route accepts with 200.
	valid string
	// empty is what an empty body ({}) gets: status and errors.
	emptyStatus int
	emptyErrors []string
}

// TestRESTBodyRules checks REST.md §1's request-body rules on every route
// that takes a body.
func TestRESTBodyRules(t *testing.T) {
	t.Parallel()
	const secretPassword = "hunter2-SECRET"
	routes := []restBodyRoute{
		{name: "register", method: http.MethodPost, path: "/api/auth/register",
			valid:       `{"username":"bodyuser","email":"bodyuser@example.com","name_first":"B","name_last":"U","password":"body password"}`,
			emptyStatus: http.StatusBadRequest},
		{name: "login", method: http.MethodPost, path: "/api/auth/login",
			valid:       `{"user":"alice","password":"alice password"}`,
			emptyStatus: http.StatusBadRequest, emptyErrors: []string{"invalid username or password"}},
		{name: "patch account", method: http.MethodPatch, path: "/api/client/account", auth: true,
			valid: `{"name_first":"Alice"}`, emptyStatus: http.StatusOK},
		{name: "put email", method: http.MethodPut, path: "/api/client/account/email", auth: true,
			valid:       `{"email":"alice@example.com","password":"alice password"}`,
			emptyStatus: http.StatusBadRequest},
		{name: "put password", method: http.MethodPut, path: "/api/client/account/password", auth: true,
			valid:       `{"password":"alice password","new_password":"alice password"}`,
			emptyStatus: http.StatusBadRequest, emptyErrors: []string{"new_password: length is lower than 8"}},
	}
	type bodyCase struct {
		name        string
		contentType string
		body        string
		// status and errors are exact unless prefix is set: then there must
		// be one error starting with it.
		status int
		errors []string
		prefix string
	}
	cases := []bodyCase{
		{name: "missing content type", contentType: "", body: "{}", status: 400, errors: []string{"invalid payload: missing content type header"}},
		{name: "text/plain", contentType: "text/plain", body: "{}", status: 400, errors: []string{"invalid payload: unsupported content type"}},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "user=alice", status: 400, errors: []string{"invalid payload: unsupported content type"}},
		{name: "multipart", contentType: "multipart/form-data; boundary=x", body: "--x--", status: 400, errors: []string{"invalid payload: unsupported content type"}},
		{name: "json suffix type", contentType: "application/vnd.api+json", body: "{}", status: 400, errors: []string{"invalid payload: unsupported content type"}},
		{name: "garbage content type", contentType: ";;;", body: "{}", status: 400, errors: []string{"invalid payload: unsupported content type"}},
		{name: "malformed: truncated", contentType: "application/json", body: `{"password":"` + secretPassword, status: 400, prefix: "invalid payload: "},
		{name: "malformed: bare word", contentType: "application/json", body: `{"password": ` + secretPassword + `}`, status: 400, prefix: "invalid payload: "},
		{name: "malformed: missing comma", contentType: "application/json", body: `{"password":"` + secretPassword + `" "user":"x"}`, status: 400, prefix: "invalid payload: "},
		{name: "malformed: trailing data", contentType: "application/json", body: `{"password":"` + secretPassword + `"} {"x":1}`, status: 400, prefix: "invalid payload: "},
		{name: "malformed: not json", contentType: "application/json", body: `password=` + secretPassword, status: 400, prefix: "invalid payload: "},
		{name: "wrong type: number", contentType: "application/json", body: `{"username":5,"user":5,"email":5,"password":5}`, status: 400, prefix: "invalid payload: "},
		{name: "wrong type: secret in string", contentType: "application/json", body: `{"start_on_grouped_servers":"` + secretPassword + `","password":["` + secretPassword + `"]}`, status: 400, prefix: "invalid payload: "},
		{name: "array body", contentType: "application/json", body: `[{"password":"` + secretPassword + `"}]`, status: 400, prefix: "invalid payload: "},
		{name: "string body", contentType: "application/json", body: `"` + secretPassword + `"`, status: 400, prefix: "invalid payload: "},
		{name: "number body", contentType: "application/json", body: `42`, status: 400, prefix: "invalid payload: "},
	}
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, r := range routes {
			t.Run(r.name, func(t *testing.T) {
				c := ts.Client(t)
				if r.auth {
					c = alice.Client
				}
				for _, bc := range cases {
					t.Run(bc.name, func(t *testing.T) {
						res := c.Raw(r.method, r.path, bc.contentType, strings.NewReader(bc.body))
						if bc.prefix != "" {
							apptest.WantErrorPrefixes(t, res, bc.status, bc.prefix)
						} else {
							apptest.WantErrors(t, res, bc.status, bc.errors...)
						}
						if bytes.Contains(res.Body, []byte("hunter2")) {
							t.Errorf("the error echoes the body: %s", res.Body)
						}
						restNoSessionCookie(t, res)
					})
				}
				t.Run("charset parameter accepted", func(t *testing.T) {
					res := c.Raw(r.method, r.path, "application/json; charset=utf-8", strings.NewReader(r.valid))
					apptest.WantStatus(t, res, http.StatusOK)
				})
				t.Run("upper-case media type accepted", func(t *testing.T) {
					valid := r.valid
					if r.name == "register" {
						valid = strings.ReplaceAll(valid, "bodyuser", "bodyuser2")
					}
					res := c.Raw(r.method, r.path, "Application/JSON", strings.NewReader(valid))
					apptest.WantStatus(t, res, http.StatusOK)
				})
				t.Run("unknown fields ignored", func(t *testing.T) {
					valid := r.valid
					if r.name == "register" {
						valid = strings.ReplaceAll(valid, "bodyuser", "bodyuser3")
					}
					valid = `{"unknown":{"nested":[1,2,3]},"admin":true,"suspended":true,` + valid[1:]
					res := c.Raw(r.method, r.path, "application/json", strings.NewReader(valid))
					apptest.WantStatus(t, res, http.StatusOK)
				})
				for name, empty := range map[string]string{"no bytes": "", "whitespace": "  \n\t "} {
					t.Run("empty body is {}: "+name, func(t *testing.T) {
						res := c.Raw(r.method, r.path, "application/json", strings.NewReader(empty))
						if r.emptyStatus == http.StatusOK {
							apptest.WantEmpty(t, res)
							return
						}
						if r.emptyErrors != nil {
							apptest.WantErrors(t, res, r.emptyStatus, r.emptyErrors...)
							return
						}
						apptest.WantStatus(t, res, r.emptyStatus)
						for _, e := range res.Errors(t) {
							if strings.HasPrefix(e, "invalid payload") {
								t.Errorf("empty body treated as a payload error: %q", e)
							}
						}
					})
				}
			})
		}
		t.Run("unknown fields cannot grant admin", func(t *testing.T) {
			if u := restAccount(t, alice.Client); u["admin"] != true || u["suspended"] != false {
				t.Errorf("alice: %v", u)
			}
			_, login := apptest.Login(t, ts, "bodyuser3", "body password")
			if apptest.Get(login.JSON(t), "user", "admin") != false || apptest.Get(login.JSON(t), "user", "suspended") != false {
				t.Errorf("admin/suspended taken from the body: %s", login.Body)
			}
		})
		t.Run("empty PATCH is 200 {} and changes nothing", func(t *testing.T) {
			before := restAccount(t, alice.Client)
			apptest.WantEmpty(t, alice.Raw(http.MethodPatch, "/api/client/account", "application/json", nil))
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{}))
			after := restAccount(t, alice.Client)
			for k := range before {
				if before[k] != after[k] {
					t.Errorf("%s changed: %v → %v", k, before[k], after[k])
				}
			}
		})
		t.Run("body size limit", func(t *testing.T) {
			// A valid PATCH padded with an unknown field to exactly n bytes.
			padded := func(n int) string {
				head, tail := `{"name_first":"Padded","pad":"`, `"}`
				return head + strings.Repeat("a", n-len(head)-len(tail)) + tail
			}
			for _, tc := range []struct {
				name   string
				route  string
				method string
				body   string
				status int
			}{
				{"PATCH exactly 1 MiB", "/api/client/account", http.MethodPatch, padded(1 << 20), http.StatusOK},
				{"PATCH 1 MiB - 1", "/api/client/account", http.MethodPatch, padded(1<<20 - 1), http.StatusOK},
				{"PATCH 1 MiB + 1", "/api/client/account", http.MethodPatch, padded(1<<20 + 1), http.StatusRequestEntityTooLarge},
				{"PATCH 2 MiB", "/api/client/account", http.MethodPatch, padded(2 << 20), http.StatusRequestEntityTooLarge},
				{"login 1 MiB + 1", "/api/auth/login", http.MethodPost, padded(1<<20 + 1), http.StatusRequestEntityTooLarge},
				{"register 1 MiB + 1", "/api/auth/register", http.MethodPost, padded(1<<20 + 1), http.StatusRequestEntityTooLarge},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if len(tc.body) != 1<<20 && len(tc.body) != 1<<20-1 && len(tc.body) != 1<<20+1 && len(tc.body) != 2<<20 {
						t.Fatalf("padding is off: %d bytes", len(tc.body))
					}
					res := alice.Raw(tc.method, tc.route, "application/json", strings.NewReader(tc.body))
					apptest.WantStatus(t, res, tc.status)
					if tc.status == http.StatusRequestEntityTooLarge {
						apptest.WantErrorBody(t, res)
					} else {
						apptest.WantEmpty(t, res)
					}
				})
			}
			if restAccount(t, alice.Client)["name_first"] != "Padded" {
				t.Errorf("the 1 MiB PATCH was not applied")
			}
		})
		t.Run("no body secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, "hunter2", "alice password", "body password")
		})
	})
}
