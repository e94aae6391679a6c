package app_test

import (
	"net/http"
	"testing"
)

func TestRegisterThenViewerOverBothTransports(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, ts *testServer) {
		c := ts.registerREST(t, "alice", "correct horse")
		res := c.do(http.MethodGet, "/api/client/account", nil)
		if res.Status != http.StatusOK || get(res.JSON(t), "user", "username") != "alice" {
			t.Fatalf("GET account: %d %s", res.Status, res.Body)
		}
		g := c.gql(`{ viewer { username admin } }`, nil)
		if get(g.Data, "viewer", "username") != "alice" || get(g.Data, "viewer", "admin") != true {
			t.Fatalf("viewer: %s", g.Raw)
		}
	})
}
