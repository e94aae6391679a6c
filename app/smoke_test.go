package app_test

import (
	"net/http"
	"testing"

	"accountd/app/apptest"
)

func TestRegisterThenViewerOverBothTransports(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		c := ts.RegisterREST(t, "alice", "correct horse")
		res := c.Do(http.MethodGet, "/api/client/account", nil)
		if res.Status != http.StatusOK || apptest.Get(res.JSON(t), "user", "username") != "alice" {
			t.Fatalf("GET account: %d %s", res.Status, res.Body)
		}
		g := c.GQL(`{ viewer { username admin } }`, nil)
		if apptest.Get(g.Data, "viewer", "username") != "alice" || apptest.Get(g.Data, "viewer", "admin") != true {
			t.Fatalf("viewer: %s", g.Raw)
		}
	})
}
