package rest_test

// End-to-end test of the password change's revocation racing requests in
// flight over HTTP: whatever the interleaving, nothing obtained by the
// revoked session, the revoked key or a sign-in with the old password
// works afterwards (account/revocation.go). The change itself is sent
// through /graphql, whose changePassword takes revokeApiKeys (the REST
// route keeps the keys, as the panel's contract says); the racing requests
// are REST calls to the same server.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
)

// restRaceIterations is how often the race runs per engine, each time on a
// fresh account; restRaceTries bounds each racing loop, which goes on for
// two requests once the password change has answered.
const (
	restRaceIterations = 8
	restRaceTries      = 30
)

func TestRESTPasswordChangeRace(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.MaxAPIKeys = 10_000 }, func(t *testing.T, ts *apptest.Server) {
		start := time.Now()
		for i := range restRaceIterations {
			restPasswordChangeRace(t, ts, i)
		}
		t.Logf("%d iterations in %v", restRaceIterations, time.Since(start).Round(time.Millisecond))
	})
}

// restPasswordChangeRace: session A changes the password with
// revokeApiKeys while session B and API key K create keys in loops and
// someone signs in with the old password in a loop, all released at once.
func restPasswordChangeRace(t *testing.T, ts *apptest.Server, i int) {
	t.Helper()
	name := fmt.Sprintf("race%d", i)
	const password = "race password one"
	alice := apptest.Register(t, ts, name, password)
	b, res := apptest.Login(t, ts, name, password)
	apptest.WantStatus(t, res, http.StatusOK)
	keyK := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"api-keys.create"}})
	k := apptest.KeyClient(t, ts, keyK)

	var (
		mu       sync.Mutex
		keys     = []string{keyK}
		sessions []string
		done     atomic.Bool
	)
	// loop calls try until it says stop, restRaceTries times, or two more
	// times once the password change has answered.
	loop := func(try func(n int) bool) {
		after := 0
		for n := range restRaceTries {
			if done.Load() {
				if after++; after > 2 {
					return
				}
			}
			if try(n) {
				return
			}
		}
	}
	// create makes keys with c until it is refused with 401.
	create := func(c *apptest.Client, prefix string) func() {
		return func() {
			loop(func(n int) bool {
				res := c.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{"name": fmt.Sprintf("%s-%d", prefix, n)})
				switch res.Status {
				case http.StatusOK:
					var body struct {
						Key string `json:"key"`
					}
					if err := json.Unmarshal(res.Body, &body); err != nil || body.Key == "" {
						t.Errorf("%s: create answer %s: %v", prefix, res.Body, err)
						return true
					}
					mu.Lock()
					keys = append(keys, body.Key)
					mu.Unlock()
					return false
				case http.StatusUnauthorized:
					return true
				}
				t.Errorf("%s: create answered %d %s", prefix, res.Status, res.Body)
				return true
			})
		}
	}
	apptest.Parallel(4, func(g int) {
		switch g {
		case 0:
			defer done.Store(true)
			r := alice.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{
				"currentPassword": password, "newPassword": password + " two", "revokeApiKeys": true}))
			if len(r.Errors) != 0 || apptest.Get(r.Data, "changePassword", "user") == nil {
				t.Errorf("change password: %d %s", r.Status, r.Raw)
			}
		case 1:
			create(b, "b")()
		case 2:
			create(k, "k")()
		case 3:
			loop(func(int) bool {
				c := ts.Client(t)
				res := c.Do(http.MethodPost, "/api/auth/login", map[string]any{"user": name, "password": password})
				switch res.Status {
				case http.StatusOK:
					for _, ck := range c.HTTP.Jar.Cookies(apptest.MustURL(t, ts.URL+"/")) {
						if ck.Name == apptest.CookieName {
							mu.Lock()
							sessions = append(sessions, ck.Value)
							mu.Unlock()
						}
					}
				case http.StatusBadRequest, http.StatusTooManyRequests: // the old password, refused
				default:
					t.Errorf("login answered %d %s", res.Status, res.Body)
					return true
				}
				return false
			})
		}
	})

	for _, key := range keys {
		if res := apptest.KeyClient(t, ts, key).Do(http.MethodGet, "/api/client/account", nil); res.Status != http.StatusUnauthorized {
			t.Errorf("iteration %d: an API key obtained during the race answers %d after the password change", i, res.Status)
		}
	}
	for _, ck := range append(sessions, apptest.CookieValue(t, b)) {
		if res := apptest.CookieClient(t, ts, ck).Do(http.MethodGet, "/api/client/account", nil); res.Status != http.StatusUnauthorized {
			t.Errorf("iteration %d: a session obtained during the race answers %d after the password change", i, res.Status)
		}
	}
	if res := alice.Do(http.MethodGet, "/api/client/account", nil); res.Status != http.StatusOK {
		t.Errorf("iteration %d: A's own session answers %d", i, res.Status)
	}
	if n := apptest.CountRows(t, ts, "sessions", alice.ID); n != 1 {
		t.Errorf("iteration %d: %d sessions after the password change, want A's only", i, n)
	}
}
