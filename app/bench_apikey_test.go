package app_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
)

// benchAPIKeyRead measures one read authenticated by an API key through the
// whole handler (middleware, routing, key lookup, encoding) and reports SQL
// statements and writes per request next to time and allocations. After the
// key's first use, last_used is written at most once per 30 seconds, so a
// request should cost one query and no write.
func benchAPIKeyRead(b *testing.B, newRequest func(key string) (*http.Request, []byte)) {
	for _, e := range dbtest.Engines(b) {
		b.Run(dbtest.Name(e), func(b *testing.B) {
			// Per-IP limits off: this measures authentication, not the limiter.
			ts := apptest.NewServer(b, e, func(cfg *app.Config) { cfg.RateLimit = false })
			c := ts.RegisterREST(b, "alice", "correct horse")
			res := c.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{"name": "bench"})
			var created struct {
				Key string `json:"key"`
			}
			if err := json.Unmarshal(res.Body, &created); res.Status != http.StatusOK || err != nil || created.Key == "" {
				b.Fatalf("create api key: %d %s", res.Status, res.Body)
			}
			r, body := newRequest(created.Key)
			measureServe(b, ts, ts.App.Handler(), r, body, func(status int, body string) bool {
				return status == http.StatusOK && !strings.Contains(body, `"errors"`) && !strings.Contains(body, `"viewer":null`)
			})
		})
	}
}

func BenchmarkAPIKeyAuthREST(b *testing.B) {
	benchAPIKeyRead(b, func(key string) (*http.Request, []byte) {
		r := httptest.NewRequest(http.MethodGet, "/api/client/account", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		return r, nil
	})
}

func BenchmarkAPIKeyAuthGraphQL(b *testing.B) {
	const body = `{"query":"{ viewer { id } }"}`
	benchAPIKeyRead(b, func(key string) (*http.Request, []byte) {
		r := httptest.NewRequest(http.MethodPost, "/graphql", nil)
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+key)
		return r, []byte(body)
	})
}
