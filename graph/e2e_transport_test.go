package graph_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"accountd/app/apptest"
)

func TestGraphQLTransport(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "transport", apptest.GQLPassword)

		t.Run("GET query with cookie", func(t *testing.T) {
			res := c.Raw(http.MethodGet, "/graphql?query="+url.QueryEscape(`{viewer{username}}`), "", nil)
			r := gqlDecode(t, res)
			apptest.GQLNoErrors(t, r)
			if apptest.Get(r.Data, "viewer", "username") != "transport" {
				t.Fatalf("GET viewer: %s", r.Raw)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json by default", ct)
			}
		})

		t.Run("GET query with variables", func(t *testing.T) {
			q := url.Values{"query": {`query($x: Boolean!) { viewer { username @include(if: $x) } }`}, "variables": {`{"x":true}`}}
			r := gqlDecode(t, c.Raw(http.MethodGet, "/graphql?"+q.Encode(), "", nil))
			apptest.GQLNoErrors(t, r)
			if apptest.Get(r.Data, "viewer", "username") != "transport" {
				t.Fatalf("GET viewer: %s", r.Raw)
			}
		})

		// A state-changing document must not run through a transport a
		// browser can send cross-site without a preflight.
		mutations := []struct{ name, doc string }{
			{"updateAccount", `mutation { updateAccount(input: {nameFirst: "Hijacked"}) { user { nameFirst } userErrors { message } } }`},
			{"logout", `mutation { logout { loggedOut userErrors { message } } }`},
		}
		stillIntact := func(t *testing.T) {
			t.Helper()
			v := apptest.GQLViewer(t, c)
			if v == nil {
				t.Fatalf("session was ended by a refused request")
			}
			if v["nameFirst"] != "Test" {
				t.Fatalf("account changed by a refused request: nameFirst = %v", v["nameFirst"])
			}
		}
		executed := func(body []byte) bool {
			var m map[string]any
			_ = json.Unmarshal(body, &m)
			d, _ := m["data"].(map[string]any)
			return d != nil && (d["updateAccount"] != nil || d["logout"] != nil)
		}
		for _, m := range mutations {
			t.Run("GET mutation refused/"+m.name, func(t *testing.T) {
				res := c.Raw(http.MethodGet, "/graphql?query="+url.QueryEscape(m.doc), "", nil)
				if res.Status/100 == 2 && !bytes.Contains(res.Body, []byte(`"errors"`)) || executed(res.Body) {
					t.Fatalf("mutation over GET: %d %s", res.Status, res.Body)
				}
				stillIntact(t)
			})
			for _, tr := range []struct {
				name string
				send func() *apptest.Response
			}{
				{"text/plain", func() *apptest.Response {
					b, _ := json.Marshal(map[string]any{"query": m.doc})
					return c.Raw(http.MethodPost, "/graphql", "text/plain", bytes.NewReader(b))
				}},
				{"text/plain;charset=utf-8", func() *apptest.Response {
					b, _ := json.Marshal(map[string]any{"query": m.doc})
					return c.Raw(http.MethodPost, "/graphql", "text/plain;charset=utf-8", bytes.NewReader(b))
				}},
				{"no content type", func() *apptest.Response {
					b, _ := json.Marshal(map[string]any{"query": m.doc})
					return c.Raw(http.MethodPost, "/graphql", "", bytes.NewReader(b))
				}},
				{"form", func() *apptest.Response {
					return c.Raw(http.MethodPost, "/graphql", "application/x-www-form-urlencoded",
						strings.NewReader(url.Values{"query": {m.doc}}.Encode()))
				}},
				{"multipart", func() *apptest.Response {
					var buf bytes.Buffer
					w := multipart.NewWriter(&buf)
					ops, _ := json.Marshal(map[string]any{"query": m.doc})
					_ = w.WriteField("operations", string(ops))
					_ = w.WriteField("map", "{}")
					_ = w.Close()
					return c.Raw(http.MethodPost, "/graphql", w.FormDataContentType(), &buf)
				}},
				{"POST with query string", func() *apptest.Response {
					return c.Raw(http.MethodPost, "/graphql?query="+url.QueryEscape(m.doc), "text/plain", strings.NewReader(""))
				}},
			} {
				t.Run("POST "+tr.name+" refused/"+m.name, func(t *testing.T) {
					res := tr.send()
					if res.Status/100 == 2 || executed(res.Body) {
						t.Fatalf("%s POST was accepted: %d %s", tr.name, res.Status, res.Body)
					}
					stillIntact(t)
				})
			}
		}

		// Cookie-authenticated state changes must come from the same origin
		// (SECURITY.md: http.CrossOriginProtection, Sec-Fetch-Site/Origin).
		// Each case has its own victim, so one failure does not cascade.
		for i, tc := range []struct{ name, site, origin string }{
			{"Sec-Fetch-Site cross-site", "cross-site", ""},
			{"foreign Origin", "", "https://evil.example"},
			{"both", "cross-site", "https://evil.example"},
		} {
			t.Run("cross-origin cookie mutation refused/"+tc.name, func(t *testing.T) {
				victim, _ := apptest.GQLRegister(t, ts, fmt.Sprintf("csrf%d", i), apptest.GQLPassword)
				b, _ := json.Marshal(map[string]any{"query": mutations[0].doc})
				cc := apptest.GQLCookieClient(t, ts, apptest.GQLSessionCookie(t, ts, victim))
				if tc.site != "" {
					cc.Header.Set("Sec-Fetch-Site", tc.site)
				}
				if tc.origin != "" {
					cc.Header.Set("Origin", tc.origin)
				}
				res := cc.Raw(http.MethodPost, "/graphql", "application/json", bytes.NewReader(b))
				if executed(res.Body) {
					t.Errorf("cross-origin mutation executed: %d %s", res.Status, res.Body)
				}
				if v := apptest.GQLViewer(t, victim); v == nil || v["nameFirst"] != "Test" {
					t.Errorf("victim changed by a cross-origin request: %v", v)
				}
			})
		}
		t.Run("same-origin cookie query allowed", func(t *testing.T) {
			cc := apptest.GQLCookieClient(t, ts, apptest.GQLSessionCookie(t, ts, c))
			cc.Header.Set("Sec-Fetch-Site", "same-origin")
			cc.Header.Set("Origin", ts.URL)
			if v := apptest.GQLViewer(t, cc); v == nil {
				t.Fatalf("same-origin viewer is null")
			}
		})

		// The contract: every error carries extensions.requestId, the
		// X-Request-Id response header — refusals by the transport too.
		for _, tc := range []struct {
			name string
			send func() *apptest.Response
		}{
			{"GET mutation", func() *apptest.Response {
				return c.Raw(http.MethodGet, "/graphql?query="+url.QueryEscape(mutations[0].doc), "", nil)
			}},
			{"text/plain POST", func() *apptest.Response {
				return c.Raw(http.MethodPost, "/graphql", "text/plain", strings.NewReader(`{"query":"{viewer{username}}"}`))
			}},
			{"malformed JSON body", func() *apptest.Response {
				return c.Raw(http.MethodPost, "/graphql", "application/json", strings.NewReader(`{"query":`))
			}},
			{"GET without query", func() *apptest.Response { return c.Raw(http.MethodGet, "/graphql", "", nil) }},
		} {
			t.Run("refusal carries requestId/"+tc.name, func(t *testing.T) {
				res := tc.send()
				if res.Status/100 == 2 {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				var body struct {
					Errors []struct {
						Message    string         `json:"message"`
						Extensions map[string]any `json:"extensions"`
					} `json:"errors"`
				}
				if err := json.Unmarshal(res.Body, &body); err != nil || len(body.Errors) == 0 {
					t.Fatalf("want a GraphQL error body: %d %s", res.Status, res.Body)
				}
				id := res.Header.Get("X-Request-Id")
				for _, e := range body.Errors {
					if id == "" || e.Extensions["requestId"] != id {
						t.Errorf("error %q: extensions.requestId = %v, X-Request-Id = %q (%d %s)",
							e.Message, e.Extensions["requestId"], id, res.Status, res.Body)
					}
				}
			})
		}

		// A body the server cannot decode must not come back in the
		// response or the log: it may hold a password (SECURITY.md).
		t.Run("malformed JSON is not echoed", func(t *testing.T) {
			const secretPW = "S3cret-Hunter2-Passw0rd"
			for i, body := range []string{
				`{"query":"mutation { login(input: {user: \"transport\", password: \"` + secretPW + `\"}) { twoFactorRequired } }"`,
				`{"query": "mutation($i: LoginInput!) { login(input: $i) { twoFactorRequired } }", "variables": {"i": {"user": "transport", "password": "` + secretPW + `"}}, }`,
				`{"query": 42, "variables": {"password": "` + secretPW + `"}}`,
			} {
				res := ts.Client(t).Raw(http.MethodPost, "/graphql", "application/json", strings.NewReader(body))
				if res.Status/100 == 2 {
					t.Errorf("body %d: status %d", i, res.Status)
				}
				if bytes.Contains(res.Body, []byte(secretPW)) {
					t.Errorf("body %d: the response echoes the password: %s", i, res.Body)
				}
			}
			if strings.Contains(ts.LogText(), secretPW) {
				t.Errorf("the log contains the password from a malformed body:\n%s", gqlLinesWith(ts.LogText(), secretPW))
			}
		})

		// A request the client got wrong is not a server failure: it must
		// not be reported (and logged at ERROR) as INTERNAL.
		for _, tc := range []struct{ name, body string }{
			{"malformed JSON", `{"query":`},
			{"array batch", `[{"query":"{viewer{username}}"}]`},
			{"query not a string", `{"query": 42}`},
		} {
			t.Run("client error is not INTERNAL/"+tc.name, func(t *testing.T) {
				r := gqlDecode(t, ts.Client(t).Raw(http.MethodPost, "/graphql", "application/json", strings.NewReader(tc.body)))
				if r.Status/100 != 4 || len(r.Errors) == 0 {
					t.Fatalf("want a 4xx with errors: %d %s", r.Status, r.Raw)
				}
				apptest.GQLCheckRequestIDs(t, r)
				for _, e := range r.Errors {
					if e.Extensions["code"] == "INTERNAL" || e.Message == "internal server error" {
						t.Errorf("a malformed request is reported as an internal error: %d %s", r.Status, r.Raw)
					}
				}
			})
		}

		// JSON array batches are refused before execution.
		t.Run("array batch refused", func(t *testing.T) {
			b, _ := json.Marshal([]map[string]any{{"query": mutations[0].doc}, {"query": `{ viewer { username } }`}})
			res := c.Raw(http.MethodPost, "/graphql", "application/json", bytes.NewReader(b))
			if res.Status/100 == 2 && !bytes.Contains(res.Body, []byte(`"errors"`)) || executed(res.Body) {
				t.Fatalf("batch: %d %s", res.Status, res.Body)
			}
			stillIntact(t)
		})
	})
}

// More than one password-checking mutation field in one document is refused
// before execution (GRAPHQL.md "Limits"), so aliases cannot multiply
// guesses.
func TestGraphQLAliasedPasswordMutationsRefused(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		var sb strings.Builder
		sb.WriteString("mutation {")
		for i := range 3 {
			fmt.Fprintf(&sb, ` e%d: updateEmail(input: {email: "alias%d@example.com", password: "%s"}) { userErrors { message } }`, i, i, apptest.GQLPassword)
		}
		sb.WriteString(" }")
		for i, tc := range []struct{ name, doc string }{
			{"updateEmail x3", sb.String()},
			{"login x2", `mutation { a: login(input: {user: "USER", password: "guess one"}) { twoFactorRequired }
				b: login(input: {user: "USER", password: "` + apptest.GQLPassword + `"}) { twoFactorRequired } }`},
			{"updateEmail + changePassword", `mutation {
				a: updateEmail(input: {email: "mixed@example.com", password: "` + apptest.GQLPassword + `"}) { userErrors { message } }
				b: changePassword(input: {currentPassword: "` + apptest.GQLPassword + `", newPassword: "brand new pw"}) { userErrors { message } } }`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := fmt.Sprintf("aliases%d", i)
				c, _ := apptest.GQLRegister(t, ts, name, apptest.GQLPassword)
				r := c.GQL(strings.ReplaceAll(tc.doc, "USER", name), nil)
				if len(r.Errors) == 0 || len(r.Data) != 0 {
					t.Errorf("document with several password-checking fields was executed: %s", r.Raw)
				} else {
					apptest.GQLCheckRequestIDs(t, r)
				}
				if v := apptest.GQLViewer(t, c); v == nil || v["email"] != name+"@example.com" {
					t.Errorf("account changed: %v", v)
				}
				gqlLogin(t, ts, name, apptest.GQLPassword) // the password was not changed
			})
		}
	})
}

// gqlLinesWith returns the lines of s containing sub.
func gqlLinesWith(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
