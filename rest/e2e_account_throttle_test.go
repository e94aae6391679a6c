package rest_test

import (
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"accountd/app/apptest"
)

// TestRESTTakenThrottle covers the per-account limit of "already taken"
// answers (SECURITY.md): after ten in an hour, every username or e-mail
// change of the account is a 429 with Retry-After, for free values too,
// and changes nothing until the window ends; other edits still work.
func TestRESTTakenThrottle(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		carol := apptest.Register(t, ts, "carol", "carol password")
		patch := func(c *apptest.User, body map[string]any) *apptest.Response {
			return c.Do(http.MethodPatch, "/api/client/account", body)
		}
		putEmail := func(c *apptest.User, email string) *apptest.Response {
			return c.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": email, "password": c.Password})
		}
		wantThrottled := func(t *testing.T, res *apptest.Response) {
			t.Helper()
			apptest.WantStatus(t, res, http.StatusTooManyRequests)
			errs := res.Errors(t)
			if len(errs) != 1 {
				t.Fatalf("errors %q", errs)
			}
			m := regexp.MustCompile(`^too many attempts, retry in (\d+)s$`).FindStringSubmatch(errs[0])
			if m == nil {
				t.Fatalf("error %q", errs[0])
			}
			if n, _ := strconv.Atoi(m[1]); n < 1 || n > 3600 || res.Header.Get("Retry-After") != m[1] {
				t.Errorf("retry in %ss, Retry-After %q: want 1..3600 and equal", m[1], res.Header.Get("Retry-After"))
			}
		}
		bobUnchanged := func(t *testing.T) {
			t.Helper()
			if u := restAccount(t, bob.Client); u["username"] != "bob" || u["email"] != "bob@example.com" || u["name_first"] == "Never" {
				t.Errorf("bob changed: %v", u)
			}
		}

		for i := range 10 {
			if i%2 == 0 {
				apptest.WantErrors(t, patch(bob, map[string]any{"username": "Alice"}), http.StatusConflict, "username already taken")
			} else {
				apptest.WantErrors(t, putEmail(bob, "alice@example.com"), http.StatusConflict, "email already in use")
			}
		}
		t.Run("the 11th change is refused, taken or free", func(t *testing.T) {
			wantThrottled(t, patch(bob, map[string]any{"username": "alice"}))
			wantThrottled(t, patch(bob, map[string]any{"username": "bob_free", "name_first": "Never"}))
			wantThrottled(t, putEmail(bob, "alice@example.com"))
			wantThrottled(t, putEmail(bob, "bob.free@example.com"))
			bobUnchanged(t)
		})
		t.Run("validation still comes first", func(t *testing.T) {
			apptest.WantErrors(t, patch(bob, map[string]any{"username": "ab"}), http.StatusBadRequest, "username: length is lower than 3")
		})
		t.Run("other fields can still be changed", func(t *testing.T) {
			apptest.WantEmpty(t, patch(bob, map[string]any{"name_first": "Robert"}))
			if u := restAccount(t, bob.Client); u["name_first"] != "Robert" {
				t.Errorf("name_first = %v", u["name_first"])
			}
		})
		t.Run("other accounts are not affected", func(t *testing.T) {
			apptest.WantErrors(t, patch(carol, map[string]any{"username": "alice"}), http.StatusConflict, "username already taken")
			apptest.WantEmpty(t, patch(carol, map[string]any{"username": "carol_new"}))
		})
		t.Run("the window's end lifts it", func(t *testing.T) {
			clock.advance(time.Hour)
			apptest.WantEmpty(t, patch(bob, map[string]any{"username": "bob_free"}))
			apptest.WantEmpty(t, putEmail(bob, "bob.free@example.com"))
			if u := restAccount(t, bob.Client); u["username"] != "bob_free" || u["email"] != "bob.free@example.com" {
				t.Errorf("bob = %v", u)
			}
		})
	})
}
