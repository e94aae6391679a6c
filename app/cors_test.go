package app_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
)

// corsPreflight sends an OPTIONS preflight for a credentialed JSON POST.
func corsPreflight(t *testing.T, ts *apptest.Server, path, origin string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodOptions, ts.URL+path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", http.MethodPost)
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestCORSOffByDefault: without CORS_ORIGINS no response carries CORS
// headers, so browsers keep the same-origin policy.
func TestCORSOffByDefault(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		for _, path := range []string{"/graphql", "/api/client/account"} {
			res := corsPreflight(t, ts, path, "https://spa.example")
			if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("%s: Access-Control-Allow-Origin %q without CORS_ORIGINS", path, v)
			}
		}
	})
}

// TestCORSAllowList: the origins of CORS_ORIGINS, and only they, get CORS
// headers with credentials, and their cookie-authenticated mutations pass
// the cross-origin check, while every other site's are refused with
// nothing changed.
func TestCORSAllowList(t *testing.T) {
	t.Parallel()
	const spa = "https://spa.example"
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.CORSOrigins = []string{spa} }), func(t *testing.T, ts *apptest.Server) {
		t.Run("preflight from the allowed origin", func(t *testing.T) {
			for _, path := range []string{"/graphql", "/api/client/account/api-keys"} {
				res := corsPreflight(t, ts, path, spa)
				if res.Header.Get("Access-Control-Allow-Origin") != spa || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
					t.Errorf("%s: preflight headers %v", path, res.Header)
				}
			}
		})
		t.Run("preflight from another origin", func(t *testing.T) {
			res := corsPreflight(t, ts, "/graphql", "https://evil.example")
			if v := res.Header.Get("Access-Control-Allow-Origin"); v != "" {
				t.Errorf("Access-Control-Allow-Origin %q for a foreign origin", v)
			}
		})

		c, _ := apptest.GQLRegister(t, ts, "corsuser", apptest.GQLPassword)
		rename := func(origin, name string) *apptest.Response {
			cc := apptest.GQLCookieClient(t, ts, apptest.GQLSessionCookie(t, ts, c))
			cc.Header.Set("Origin", origin)
			cc.Header.Set("Sec-Fetch-Site", "cross-site")
			b, _ := json.Marshal(map[string]any{"query": `mutation($n: String) { updateAccount(input: {nameFirst: $n}) { user { nameFirst } userErrors { message } } }`,
				"variables": map[string]any{"n": name}})
			return cc.Raw(http.MethodPost, "/graphql", "application/json", bytes.NewReader(b))
		}
		t.Run("a mutation from another site is refused", func(t *testing.T) {
			res := rename("https://evil.example", "Evil")
			if res.Status != http.StatusForbidden {
				t.Errorf("status %d: %s", res.Status, res.Body)
			}
			if v := apptest.GQLViewer(t, c); v["nameFirst"] != "Test" {
				t.Errorf("nameFirst = %v after a refused request", v["nameFirst"])
			}
		})
		t.Run("a mutation from the allowed origin passes", func(t *testing.T) {
			res := rename(spa, "Spa")
			if res.Status != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != spa {
				t.Fatalf("status %d, ACAO %q: %s", res.Status, res.Header.Get("Access-Control-Allow-Origin"), res.Body)
			}
			if v := apptest.GQLViewer(t, c); v["nameFirst"] != "Spa" {
				t.Errorf("nameFirst = %v", v["nameFirst"])
			}
		})
		t.Run("a REST change from the allowed origin passes", func(t *testing.T) {
			cc := apptest.GQLCookieClient(t, ts, apptest.GQLSessionCookie(t, ts, c))
			cc.Header.Set("Origin", spa)
			cc.Header.Set("Sec-Fetch-Site", "cross-site")
			res := cc.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_last": "Allowed"})
			if res.Status != http.StatusOK {
				t.Errorf("status %d: %s", res.Status, res.Body)
			}
		})
	})
}

// TestSameOriginMutationAccepted: a browser's own JSON mutation — same
// origin, or from APP_URL's origin — passes the cross-origin check.
func TestSameOriginMutationAccepted(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "sameorigin", apptest.GQLPassword)
		for _, tc := range []struct{ name, origin, site, want string }{
			{"same origin", ts.URL, "same-origin", "Same"},
			{"APP_URL origin", "http://localhost:8000", "cross-site", "AppURL"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cc := apptest.GQLCookieClient(t, ts, apptest.GQLSessionCookie(t, ts, c))
				cc.Header.Set("Origin", tc.origin)
				cc.Header.Set("Sec-Fetch-Site", tc.site)
				b, _ := json.Marshal(map[string]any{"query": `mutation($n: String) { updateAccount(input: {nameFirst: $n}) { userErrors { message } } }`,
					"variables": map[string]any{"n": tc.want}})
				res := cc.Raw(http.MethodPost, "/graphql", "application/json", bytes.NewReader(b))
				if res.Status != http.StatusOK {
					t.Fatalf("status %d: %s", res.Status, res.Body)
				}
				if v := apptest.GQLViewer(t, c); v["nameFirst"] != tc.want {
					t.Errorf("nameFirst = %v, want %s", v["nameFirst"], tc.want)
				}
			})
		}
	})
}
