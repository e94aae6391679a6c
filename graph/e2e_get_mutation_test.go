package graph_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"accountd/app/apptest"
)

// TestGraphQLGETMutationMethodNotAllowed: GraphQL over HTTP answers a
// mutation sent with GET 405 Method Not Allowed with Allow: POST, whatever
// media type the client accepts, and runs nothing.
func TestGraphQLGETMutationMethodNotAllowed(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		c, _ := apptest.GQLRegister(t, ts, "getmutation", apptest.GQLPassword)
		doc := `mutation { updateAccount(input: {nameFirst: "ViaGET"}) { user { nameFirst } userErrors { message } } }`
		for _, accept := range []string{"", "application/json", "application/graphql-response+json"} {
			t.Run("Accept "+accept, func(t *testing.T) {
				if accept != "" {
					c.Header.Set("Accept", accept)
					defer c.Header.Del("Accept")
				}
				res := c.Raw(http.MethodGet, "/graphql?query="+url.QueryEscape(doc), "", nil)
				if res.Status != http.StatusMethodNotAllowed {
					t.Errorf("status %d, want 405: %s", res.Status, res.Body)
				}
				if got := res.Header.Get("Allow"); got != http.MethodPost {
					t.Errorf("Allow = %q, want POST", got)
				}
				r := gqlDecode(t, res)
				if len(r.Errors) == 0 || r.Data != nil {
					t.Errorf("want an error and no data: %s", r.Raw)
				}
				apptest.GQLCheckRequestIDs(t, r)
				want := "application/json"
				if accept == "application/graphql-response+json" {
					want = accept
				}
				if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, want) {
					t.Errorf("Content-Type %q, want %s", ct, want)
				}
			})
		}
		if v := apptest.GQLViewer(t, c); v["nameFirst"] != "Test" {
			t.Errorf("a GET mutation ran: nameFirst = %v", v["nameFirst"])
		}
		t.Run("a GET query still answers 200", func(t *testing.T) {
			res := c.Raw(http.MethodGet, "/graphql?query="+url.QueryEscape(`{ viewer { username } }`), "", nil)
			if res.Status != http.StatusOK || res.Header.Get("Allow") != "" {
				t.Errorf("GET query: %d Allow=%q %s", res.Status, res.Header.Get("Allow"), res.Body)
			}
		})
	})
}
