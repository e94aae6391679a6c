package graph_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"accountd/app/apptest"
)

// TestGraphQLTakenThrottle covers the per-account limit of "already taken"
// answers: after ten in an hour, updateAccount with a username and
// updateEmail are a top-level RATE_LIMITED with retryAfter, for free values
// too, and change nothing until the window ends.
func TestGraphQLTakenThrottle(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		// The clock is real time plus an offset the test moves; atomic, as
		// handlers read it on other goroutines.
		var offset atomic.Int64
		ts.App.Service.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		apptest.GQLRegister(t, ts, "thr_taken", apptest.GQLPassword)
		c, _ := apptest.GQLRegister(t, ts, "thr_bob", apptest.GQLPassword)
		update := func(in map[string]any) *apptest.GQLResponse {
			return c.GQL(apptest.GQLUpdateAccountDoc, apptest.GQLIn(in))
		}
		email := func(addr string) *apptest.GQLResponse {
			return c.GQL(apptest.GQLUpdateEmailDoc, apptest.GQLIn(map[string]any{"email": addr, "password": apptest.GQLPassword}))
		}
		wantThrottled := func(t *testing.T, r *apptest.GQLResponse, field string) {
			t.Helper()
			msg, ext := apptest.GQLTopError(t, r, "RATE_LIMITED", field)
			ra, _ := ext["retryAfter"].(float64)
			if ra < 1 || ra > 3600 {
				t.Errorf("extensions.retryAfter = %v, want 1..3600", ext["retryAfter"])
			}
			if want := fmt.Sprintf("too many attempts, retry in %ds", int(ra)); msg != want {
				t.Errorf("message %q, want %q", msg, want)
			}
		}
		unchanged := func(t *testing.T) {
			t.Helper()
			if v := apptest.GQLViewer(t, c); v["username"] != "thr_bob" || v["email"] != "thr_bob@example.com" || v["nameFirst"] == "Never" {
				t.Errorf("throttled changes left changes behind: %v", v)
			}
		}

		for i := range 10 {
			if i%2 == 0 {
				gqlWantUserErrs(t, update(map[string]any{"username": "THR_TAKEN"}), "updateAccount",
					apptest.GQLUserErr{Field: gqlField("username"), Message: "username already taken", Code: "CONFLICT"})
			} else {
				gqlWantUserErrs(t, email("thr_taken@example.com"), "updateEmail",
					apptest.GQLUserErr{Field: gqlField("email"), Message: "email already in use", Code: "CONFLICT"})
			}
		}
		t.Run("the 11th change is refused, taken or free", func(t *testing.T) {
			wantThrottled(t, update(map[string]any{"username": "thr_taken"}), "updateAccount")
			wantThrottled(t, update(map[string]any{"username": "thr_free", "nameFirst": "Never"}), "updateAccount")
			wantThrottled(t, email("thr_taken@example.com"), "updateEmail")
			wantThrottled(t, email("thr_free@example.com"), "updateEmail")
			unchanged(t)
		})
		t.Run("other fields can still be changed", func(t *testing.T) {
			r := update(map[string]any{"nameFirst": "Robert"})
			gqlWantUserErrs(t, r, "updateAccount")
			if apptest.Get(r.Data, "updateAccount", "user", "nameFirst") != "Robert" {
				t.Errorf("payload: %s", r.Raw)
			}
		})
		t.Run("the window's end lifts it", func(t *testing.T) {
			offset.Store(int64(time.Hour))
			gqlWantUserErrs(t, update(map[string]any{"username": "thr_free"}), "updateAccount")
			gqlWantUserErrs(t, email("thr_free@example.com"), "updateEmail")
			if v := apptest.GQLViewer(t, c); v["username"] != "thr_free" || v["email"] != "thr_free@example.com" {
				t.Errorf("viewer = %v", v)
			}
		})
	})
}
