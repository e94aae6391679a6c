package app_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
)

// graphiqlRefs returns the same-origin asset URLs the GraphiQL page loads.
func graphiqlRefs(t *testing.T, page []byte) []string {
	t.Helper()
	var out []string
	for _, m := range regexp.MustCompile(`\b(?:src|href)="(/[^"]*)"`).FindAllSubmatch(page, -1) {
		out = append(out, string(m[1]))
	}
	if len(out) == 0 {
		t.Fatalf("the GraphiQL page loads nothing:\n%s", page)
	}
	return out
}

func TestGraphiQLIsServedWithIntrospection(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		res := c.Do(http.MethodGet, "/graphiql", nil)
		if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET /graphiql: %d %q", res.Status, res.Header.Get("Content-Type"))
		}
		if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self' 'nonce-") || !strings.Contains(csp, "connect-src 'self'") {
			t.Errorf("Content-Security-Policy: %q", csp)
		}
		if res.Header.Get("X-Request-Id") == "" {
			t.Error("the page bypasses the middleware: no X-Request-Id")
		}
		if regexp.MustCompile(`(?i)https?://`).Match(res.Body) {
			t.Errorf("the page holds an absolute URL:\n%s", res.Body)
		}
		for _, ref := range graphiqlRefs(t, res.Body) {
			a := c.Do(http.MethodGet, ref, nil)
			if a.Status != http.StatusOK {
				t.Errorf("GET %s: %d", ref, a.Status)
				continue
			}
			ct := a.Header.Get("Content-Type")
			if !strings.HasPrefix(ct, "text/javascript;") && !strings.HasPrefix(ct, "text/css;") {
				t.Errorf("GET %s: Content-Type %q", ref, ct)
			}
			if !strings.Contains(a.Header.Get("Cache-Control"), "immutable") {
				t.Errorf("GET %s: Cache-Control %q", ref, a.Header.Get("Cache-Control"))
			}
		}
	})
}

// GraphiQL and introspection share one switch: with introspection off,
// neither the page nor its assets exist.
func TestGraphiQLIsOffWithoutIntrospection(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, func(cfg *app.Config) { cfg.GraphQLIntrospection = false }, func(t *testing.T, ts *apptest.Server) {
		c := ts.Client(t)
		for _, p := range []string{"/graphiql", "/graphiql/assets/graphiql.min.js", "/graphiql/assets/graphiql.min.css", "/graphiql/assets/VERSIONS.txt"} {
			if res := c.Do(http.MethodGet, p, nil); res.Status != http.StatusNotFound {
				t.Errorf("GET %s with introspection off: %d, want 404", p, res.Status)
			}
		}
	})
}

// The page's requests are same-origin POSTs carrying the session cookie,
// with the headers a browser adds; they reach the signed-in viewer and are
// not mistaken for cross-site requests.
func TestGraphiQLRequestsCarryTheSession(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c := ts.RegisterREST(t, "grace", "correct horse")
		c.Header.Set("Origin", ts.URL)
		c.Header.Set("Sec-Fetch-Site", "same-origin")
		c.Header.Set("Sec-Fetch-Mode", "cors")
		c.Header.Set("Accept", "*/*")
		c.Header.Set("Referer", ts.URL+"/graphiql")
		g := c.GQL(`{ viewer { username email } }`, nil)
		if g.Status != http.StatusOK || apptest.Get(g.Data, "viewer", "username") != "grace" || apptest.Get(g.Data, "viewer", "email") != "grace@example.com" {
			t.Fatalf("viewer from the GraphiQL page: %d %s", g.Status, g.Raw)
		}
	})
}
