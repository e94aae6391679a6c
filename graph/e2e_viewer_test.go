package graph_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"accountd/app/apptest"
	"accountd/secret"
)

func TestGraphQLViewer(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		rc := ts.RegisterREST(t, "viewer1", "correct horse")

		for _, tc := range []struct {
			name  string
			setup func(c *apptest.Client)
		}{
			{"no credentials", func(c *apptest.Client) {}},
			{"malformed cookie", func(c *apptest.Client) { c.Header.Set("Cookie", ts.App.Config.SessionCookie+"=garbage") }},
			{"unknown well-formed cookie", func(c *apptest.Client) {
				c.Header.Set("Cookie", ts.App.Config.SessionCookie+"="+secret.RandomString(48))
			}},
			{"malformed bearer", func(c *apptest.Client) { c.Bearer = "nonsense" }},
			{"unknown api key", func(c *apptest.Client) { c.Bearer = "c7sp_" + secret.RandomString(43) }},
		} {
			t.Run("null/"+tc.name, func(t *testing.T) {
				c := ts.Client(t)
				tc.setup(c)
				r := c.GQL(apptest.GQLViewerDoc, nil)
				apptest.GQLNoErrors(t, r)
				if v, ok := r.Data["viewer"]; !ok || v != nil {
					t.Fatalf("viewer should be present and null: %s", r.Raw)
				}
			})
		}

		t.Run("every field", func(t *testing.T) {
			res := rc.Do(http.MethodGet, "/api/client/account", nil)
			restUser, _ := res.JSON(t)["user"].(map[string]any)
			if restUser == nil {
				t.Fatalf("REST account: %s", res.Body)
			}
			r := rc.GQL(apptest.GQLViewerDoc, nil)
			apptest.GQLNoErrors(t, r)
			v, _ := r.Data["viewer"].(map[string]any)
			if v == nil {
				t.Fatalf("viewer: %s", r.Raw)
			}
			want := map[string]any{"id": restUser["uuid"], "username": "viewer1", "email": "viewer1@example.com",
				"nameFirst": "Test", "nameLast": "User", "avatar": nil, "role": nil, "admin": true, "frozen": false,
				"suspended": false, "language": "en", "toastPosition": "BOTTOM_RIGHT", "startOnGroupedServers": false,
				"hasPassword": true, "requireTwoFactor": false}
			for k, w := range want {
				if v[k] != w {
					t.Errorf("viewer.%s = %#v, want %#v", k, v[k], w)
				}
			}
			created, _ := v["createdAt"].(string)
			ct, err := time.Parse(time.RFC3339Nano, created)
			if err != nil || !strings.HasSuffix(created, "Z") {
				t.Errorf("createdAt %q is not RFC 3339 UTC with Z: %v", created, err)
			}
			rt, _ := time.Parse(time.RFC3339Nano, restUser["created"].(string))
			if !ct.Equal(rt) || time.Since(ct) > time.Hour || time.Since(ct) < 0 {
				t.Errorf("createdAt %s, REST created %s", created, restUser["created"])
			}

			r = rc.GQL(`{ viewer { twoFactor { enabled lastUsedAt recoveryCodesRemaining } } }`, nil)
			apptest.GQLNoErrors(t, r)
			tf := apptest.Get(r.Data, "viewer", "twoFactor")
			if !reflect.DeepEqual(tf, map[string]any{"enabled": false, "lastUsedAt": nil, "recoveryCodesRemaining": float64(0)}) {
				t.Errorf("viewer.twoFactor = %v", tf)
			}
		})

		t.Run("via api key", func(t *testing.T) {
			id := apptest.Get(apptest.GQLViewer(t, rc), "id").(string)
			kc := gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, id, nil))
			// A key with no permission still identifies its user.
			if v := apptest.GQLViewer(t, kc); v == nil || v["id"] != id {
				t.Fatalf("viewer via api key = %v", v)
			}
		})
	})
}

// Operations that need credentials answer a top-level UNAUTHENTICATED error
// without them, with a null field and the request id.
func TestGraphQLUnauthenticated(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		ops := []struct {
			field, doc string
			vars       map[string]any
		}{
			{"updateAccount", apptest.GQLUpdateAccountDoc, apptest.GQLIn(map[string]any{"nameFirst": "X"})},
			{"updateEmail", apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": "x@example.com", "password": "correct horse"})},
			{"changePassword", apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": "correct horse", "newPassword": "new password"})},
			{"logout", apptest.GQLLogoutDoc, nil},
			{"permissionCatalog", `{ permissionCatalog { userPermissions { name } } }`, nil},
		}
		creds := []struct {
			name  string
			setup func(c *apptest.Client)
		}{
			{"none", func(c *apptest.Client) {}},
			{"invalid cookie", func(c *apptest.Client) {
				c.Header.Set("Cookie", ts.App.Config.SessionCookie+"="+secret.RandomString(48))
			}},
			{"invalid api key", func(c *apptest.Client) { c.Bearer = "c7sp_" + secret.RandomString(43) }},
		}
		for _, op := range ops {
			for _, cr := range creds {
				t.Run(op.field+"/"+cr.name, func(t *testing.T) {
					c := ts.Client(t)
					cr.setup(c)
					r := c.GQL(op.doc, op.vars)
					if r.Status != http.StatusOK {
						t.Errorf("status %d, want 200", r.Status)
					}
					apptest.GQLTopError(t, r, "UNAUTHENTICATED", op.field)
				})
			}
		}
	})
}

// Every top-level error carries extensions.requestId = X-Request-Id,
// including the parser's and the validator's; suggestions are off.
func TestGraphQLErrorsCarryRequestID(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		for _, tc := range []struct {
			name, doc, code string
		}{
			{"syntax error", `{ viewer { username }`, "GRAPHQL_PARSE_FAILED"},
			{"unknown field", `{ viewer { usernam } }`, "GRAPHQL_VALIDATION_FAILED"},
			{"unknown mutation field", `mutation { updateAcount(input: {}) { userErrors { message } } }`, "GRAPHQL_VALIDATION_FAILED"},
			{"unknown argument", `{ viewer { username(x: 1) } }`, "GRAPHQL_VALIDATION_FAILED"},
			{"resolver error", `mutation { logout { loggedOut } }`, "UNAUTHENTICATED"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := ts.Client(t).GQL(tc.doc, nil)
				if len(r.Errors) == 0 {
					t.Fatalf("want errors: %s", r.Raw)
				}
				for _, e := range r.Errors {
					if e.Extensions["code"] != tc.code {
						t.Errorf("extensions.code = %v, want %s", e.Extensions["code"], tc.code)
					}
					if strings.Contains(strings.ToLower(e.Message), "did you mean") {
						t.Errorf("error suggests a field: %q", e.Message)
					}
				}
				apptest.GQLCheckRequestIDs(t, r)
			})
		}

		t.Run("client request id is echoed", func(t *testing.T) {
			c := ts.Client(t)
			c.Header.Set("X-Request-Id", "trace-abc.123")
			r := c.GQL(`{ viewer { nope } }`, nil)
			if r.Header.Get("X-Request-Id") != "trace-abc.123" {
				t.Fatalf("X-Request-Id = %q", r.Header.Get("X-Request-Id"))
			}
			apptest.GQLCheckRequestIDs(t, r)
		})

		t.Run("no suggestions for a near-miss type or argument", func(t *testing.T) {
			r := ts.Client(t).GQL(`mutation($i: UpdateAccountInpt!) { updateAccount(input: $i) { userErrors { message } } }`,
				map[string]any{"i": map[string]any{}})
			if len(r.Errors) == 0 {
				t.Fatalf("want errors: %s", r.Raw)
			}
			if strings.Contains(strings.ToLower(string(r.Raw)), "did you mean") {
				t.Errorf("response suggests names: %s", r.Raw)
			}
			apptest.GQLCheckRequestIDs(t, r)
		})
	})
}

func TestGraphQLPermissionCatalog(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		want := gqlCatalogFromJSON(t)
		if len(want["userPermissions"]) == 0 || want["userPermissions"][0].Name != "account" ||
			want["userPermissions"][0].Permissions[0].Key != "account.infos" {
			t.Fatalf("permissions.json parsed unexpectedly: %+v", want["userPermissions"])
		}
		c, u := apptest.GQLRegister(t, ts, "catalog", "correct horse")
		const doc = `{ permissionCatalog {
			userPermissions { name description permissions { key name description } }
			adminPermissions { name description permissions { key name description } }
			serverPermissions { name description permissions { key name description } } } }`

		check := func(t *testing.T, c *apptest.Client) {
			t.Helper()
			r := c.GQL(doc, nil)
			apptest.GQLNoErrors(t, r)
			var body struct {
				Data struct {
					PermissionCatalog map[string][]gqlCatalogGroup `json:"permissionCatalog"`
				} `json:"data"`
			}
			if err := gqlJSONUnmarshal(r.Raw, &body); err != nil {
				t.Fatal(err)
			}
			got := body.Data.PermissionCatalog
			for _, list := range []string{"userPermissions", "adminPermissions", "serverPermissions"} {
				if !reflect.DeepEqual(got[list], want[list]) {
					t.Errorf("%s differs from permissions.json (order, names, descriptions):\n got  %+v\n want %+v",
						list, got[list], want[list])
				}
			}
			if g := got["userPermissions"]; len(g) == 0 || g[0].Name != "account" || len(g[0].Permissions) == 0 ||
				g[0].Permissions[0].Key != "account.infos" {
				t.Errorf("first user group/permission: %+v", g)
			}
			count := func(gs []gqlCatalogGroup) (n int) {
				for _, g := range gs {
					n += len(g.Permissions)
				}
				return n
			}
			if count(got["userPermissions"]) != count(want["userPermissions"]) {
				t.Errorf("user permissions: %d, permissions.json has %d", count(got["userPermissions"]), count(want["userPermissions"]))
			}
		}
		t.Run("session", func(t *testing.T) { check(t, c) })
		t.Run("api key without permissions", func(t *testing.T) {
			check(t, gqlKeyClient(t, ts, gqlInsertAPIKey(t, ts, u["id"].(string), nil)))
		})
		t.Run("unauthenticated", func(t *testing.T) {
			apptest.GQLTopError(t, ts.Client(t).GQL(doc, nil), "UNAUTHENTICATED", "permissionCatalog")
		})
	})
}
