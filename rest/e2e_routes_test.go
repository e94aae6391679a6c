package rest_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/app/apptest"
	"accountd/secret"
)

func TestRESTUnknownRoutes(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for _, who := range []struct {
			name string
			c    *apptest.Client
		}{{"anonymous", ts.Client(t)}, {"signed in", alice.Client}} {
			t.Run(who.name, func(t *testing.T) {
				t.Run("404", func(t *testing.T) {
					for _, r := range []struct{ method, path string }{
						{http.MethodGet, "/api/client/nope"},
						{http.MethodPost, "/api/client/nope"},
						{http.MethodGet, "/api/nope"},
						{http.MethodGet, "/api/auth/nope"},
						{http.MethodGet, "/api/client/account/nope"},
						{http.MethodGet, "/api/client/account/api-keys/x/y/z"},
						{http.MethodGet, "/api/"},
					} {
						res := who.c.Do(r.method, r.path, nil)
						if res.Status != http.StatusNotFound || strings.TrimSpace(string(res.Body)) != `{"errors":["route not found"]}` {
							t.Errorf("%s %s: %d %s, want 404 {\"errors\":[\"route not found\"]}", r.method, r.path, res.Status, res.Body)
						}
						if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
							t.Errorf("%s %s: Content-Type %q", r.method, r.path, ct)
						}
					}
				})
				t.Run("405", func(t *testing.T) {
					for _, r := range []struct {
						method, path string
						allow        []string
					}{
						{http.MethodDelete, "/api/client/account", []string{"GET", "PATCH"}},
						{http.MethodPost, "/api/client/account", []string{"GET", "PATCH"}},
						{http.MethodPut, "/api/client/account", []string{"GET", "PATCH"}},
						{http.MethodGet, "/api/auth/login", []string{"POST"}},
						{http.MethodGet, "/api/auth/register", []string{"POST"}},
						{http.MethodGet, "/api/client/account/logout", []string{"POST"}},
						{http.MethodPatch, "/api/client/account/email", []string{"PUT"}},
						{http.MethodDelete, "/api/client/permissions", []string{"GET"}},
					} {
						res := who.c.Do(r.method, r.path, nil)
						if res.Status != http.StatusMethodNotAllowed {
							t.Errorf("%s %s: %d %s, want 405", r.method, r.path, res.Status, res.Body)
							continue
						}
						apptest.WantErrorBody(t, res)
						allow := res.Header.Get("Allow")
						if allow == "" {
							t.Errorf("%s %s: 405 without Allow", r.method, r.path)
						}
						var got []string
						for _, m := range strings.Split(allow, ",") {
							got = append(got, strings.TrimSpace(m))
						}
						for _, m := range r.allow {
							if !slices.Contains(got, m) {
								t.Errorf("%s %s: Allow %q lacks %s", r.method, r.path, allow, m)
							}
						}
						if slices.Contains(got, r.method) {
							t.Errorf("%s %s: Allow %q lists the refused method", r.method, r.path, allow)
						}
					}
				})
			})
		}
	})
}

func TestRESTRequestID(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		anon := ts.Client(t)
		requests := []struct {
			name   string
			c      *apptest.Client
			method string
			path   string
			ct     string
			body   string
		}{
			{"200", alice.Client, http.MethodGet, "/api/client/account", "", ""},
			{"400", anon, http.MethodPost, "/api/auth/login", "application/json", "{"},
			{"401", anon, http.MethodGet, "/api/client/account", "", ""},
			{"404", anon, http.MethodGet, "/api/client/nope", "", ""},
			{"405", anon, http.MethodDelete, "/api/client/account", "", ""},
			{"413", alice.Client, http.MethodPatch, "/api/client/account", "application/json", `{"x":"` + strings.Repeat("a", 1<<20) + `"}`},
			{"non-API path", anon, http.MethodGet, "/nope", "", ""},
		}
		seen := map[string]bool{}
		for _, r := range requests {
			t.Run("generated: "+r.name, func(t *testing.T) {
				res := r.c.Raw(r.method, r.path, r.ct, strings.NewReader(r.body))
				id := res.Header.Get("X-Request-Id")
				if id == "" {
					t.Fatalf("%d response without X-Request-Id", res.Status)
				}
				if seen[id] {
					t.Errorf("X-Request-Id %q repeated", id)
				}
				seen[id] = true
			})
			t.Run("echoed: "+r.name, func(t *testing.T) {
				want := fmt.Sprintf("trace-%s.%s_1", strings.ReplaceAll(r.name, " ", "-"), secret.RandomString(8))
				r.c.Header.Set("X-Request-Id", want)
				defer r.c.Header.Del("X-Request-Id")
				res := r.c.Raw(r.method, r.path, r.ct, strings.NewReader(r.body))
				if got := res.Header.Get("X-Request-Id"); got != want {
					t.Errorf("X-Request-Id %q, want the incoming %q", got, want)
				}
				// The access log line is written as the handler returns;
				// give it a moment.
				deadline := time.Now().Add(2 * time.Second)
				for !strings.Contains(ts.LogText(), want) && time.Now().Before(deadline) {
					time.Sleep(5 * time.Millisecond)
				}
				if !strings.Contains(ts.LogText(), want) {
					t.Errorf("the log does not name request %q", want)
				}
			})
		}
		t.Run("304 carries it too", func(t *testing.T) {
			res := alice.Do(http.MethodGet, "/api/client/account", nil)
			alice.Header.Set("If-None-Match", res.Header.Get("ETag"))
			defer alice.Header.Del("If-None-Match")
			res = alice.Do(http.MethodGet, "/api/client/account", nil)
			if res.Status != http.StatusNotModified || res.Header.Get("X-Request-Id") == "" {
				t.Errorf("%d, X-Request-Id %q", res.Status, res.Header.Get("X-Request-Id"))
			}
		})
	})
}

// TestRESTConcurrentRegistration: sign-ups racing for one name end with
// exactly one account, and the losers get the contract's 400.
func TestRESTConcurrentRegistration(t *testing.T) {
	t.Parallel()
	const n = 10
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		race := func(t *testing.T, body func(i int) map[string]any) []*apptest.Response {
			t.Helper()
			out := make([]*apptest.Response, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					c := ts.Client(t)
					<-start
					out[i] = c.Do(http.MethodPost, "/api/auth/register", body(i))
				})
			}
			close(start)
			wg.Wait()
			return out
		}
		check := func(t *testing.T, res []*apptest.Response) *apptest.Response {
			t.Helper()
			var winner *apptest.Response
			for _, r := range res {
				switch r.Status {
				case http.StatusOK:
					if winner != nil {
						t.Errorf("two registrations succeeded")
					}
					winner = r
				case http.StatusBadRequest:
					apptest.WantErrors(t, r, http.StatusBadRequest, "user with username or email already exists")
				default:
					t.Errorf("unexpected %d %s", r.Status, r.Body)
				}
			}
			if winner == nil {
				t.Fatalf("no registration succeeded")
			}
			return winner
		}
		t.Run("same username", func(t *testing.T) {
			res := race(t, func(i int) map[string]any {
				// Different case and e-mail each time: only the folded
				// username collides.
				name := "racer"
				if i%2 == 1 {
					name = "RACER"
				}
				return restRegisterBody(name, fmt.Sprintf("racer%d@example.com", i))
			})
			w := check(t, res)
			if apptest.Get(w.JSON(t), "user", "admin") != true {
				t.Errorf("the first user is not admin")
			}
		})
		t.Run("same email", func(t *testing.T) {
			check(t, race(t, func(i int) map[string]any {
				return restRegisterBody(fmt.Sprintf("mailer%d", i), "mailer@example.com")
			}))
		})
		t.Run("distinct users all succeed, none admin", func(t *testing.T) {
			for _, r := range race(t, func(i int) map[string]any {
				return restRegisterBody(fmt.Sprintf("distinct%d", i), fmt.Sprintf("distinct%d@example.com", i))
			}) {
				if r.Status != http.StatusOK {
					t.Errorf("%d %s", r.Status, r.Body)
				} else if apptest.Get(r.JSON(t), "user", "admin") != false {
					t.Errorf("a later user became admin: %s", r.Body)
				}
			}
		})
		t.Run("no internal error logged", func(t *testing.T) {
			if strings.Contains(ts.LogText(), "internal error") {
				t.Errorf("internal error logged:\n%s", ts.LogText())
			}
		})
	})
}

// TestRESTConcurrentFirstUser: when the very first sign-ups race, exactly
// one becomes admin.
func TestRESTConcurrentFirstUser(t *testing.T) {
	t.Parallel()
	const n = 10
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		res := make([]*apptest.Response, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				c := ts.Client(t)
				<-start
				res[i] = c.Do(http.MethodPost, "/api/auth/register", restRegisterBody(fmt.Sprintf("first%d", i), fmt.Sprintf("first%d@example.com", i)))
			})
		}
		close(start)
		wg.Wait()
		admins := 0
		for _, r := range res {
			if r.Status != http.StatusOK {
				t.Errorf("%d %s", r.Status, r.Body)
				continue
			}
			if apptest.Get(r.JSON(t), "user", "admin") == true {
				admins++
			}
		}
		if admins != 1 {
			t.Errorf("%d admins among %d concurrent first sign-ups, want 1", admins, n)
		}
	})
}

// TestRESTConcurrentPatchesKeepEveryField: concurrent PATCHes of different
// fields all survive (SECURITY.md "No lost writes").
func TestRESTConcurrentPatchesKeepEveryField(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		patches := []map[string]any{
			{"username": "alice_two"}, {"name_first": "First"}, {"name_last": "Last"},
			{"language": "sv"}, {"toast_position": "top_left"}, {"start_on_grouped_servers": true},
		}
		for round := range 3 {
			var wg sync.WaitGroup
			res := make([]*apptest.Response, len(patches))
			clients := make([]*apptest.Client, len(patches))
			for i := range patches {
				// Each its own credential: nothing shared on the client side.
				clients[i] = apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{UserPermissions: []string{"account.infos"}}))
			}
			for i, p := range patches {
				wg.Go(func() { res[i] = clients[i].Do(http.MethodPatch, "/api/client/account", p) })
			}
			wg.Wait()
			for i, r := range res {
				if r.Status != http.StatusOK {
					t.Errorf("round %d, PATCH %v: %d %s", round, patches[i], r.Status, r.Body)
				}
			}
			u := restAccount(t, alice.Client)
			for _, p := range patches {
				for k, v := range p {
					if u[k] != v {
						t.Errorf("round %d: %s = %#v, want %#v (a concurrent write was lost)", round, k, u[k], v)
					}
				}
			}
			// Reset for the next round.
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, "/api/client/account", map[string]any{"username": "alice",
				"name_first": "Test", "name_last": "User", "language": "en", "toast_position": "bottom_right",
				"start_on_grouped_servers": false}))
		}
	})
}
