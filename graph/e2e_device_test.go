package graph_test

import (
	"net/http"
	"strings"
	"testing"

	"accountd/app/apptest"
)

// GraphQL's login sets the device cookie through the response header, as
// it does the session cookie, never in the body; presented again, the
// cookie is kept and the known device signs in past a spent account
// budget.
func TestGraphQLDeviceCookie(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		const pw = "gqldevice password"
		ts.RegisterREST(t, "gqldevice", pw)
		login := func(c *apptest.Client, password string) *apptest.GQLResponse {
			return c.GQL(`mutation($input: LoginInput!) { login(input: $input) { twoFactorRequired `+apptest.GQLUserErrorFields+` } }`,
				apptest.GQLIn(map[string]any{"user": "gqldevice", "password": password}))
		}
		r := login(ts.Client(t), pw)
		var dev string
		for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
			if ck.Name == "calagopus_device" {
				dev = ck.Value
				if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge < 364*24*3600 {
					t.Errorf("device cookie %q", ck.String())
				}
			}
		}
		if dev == "" || strings.Contains(string(r.Raw), dev) {
			t.Fatalf("device cookie %q, body %s", dev, r.Raw)
		}
		for range 6 {
			login(ts.Client(t), "wrong password")
		}
		if r := login(ts.Client(t), pw); len(r.Errors) == 0 || r.Errors[0].Extensions["code"] != "RATE_LIMITED" {
			t.Fatalf("account budget not spent: %s", r.Raw)
		}
		c := ts.Client(t)
		c.HTTP.Jar = nil
		c.Header.Set("Cookie", "calagopus_device="+dev)
		r = login(c, pw)
		if len(r.Errors) != 0 || !strings.Contains(strings.Join(r.Header.Values("Set-Cookie"), ";"), "calagopus_device="+dev) {
			t.Fatalf("sign-in from the known device: %s %q", r.Raw, r.Header.Values("Set-Cookie"))
		}
	})
}
