package rest_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"accountd/app/apptest"
)

// rdevCookie returns the device cookie a response set, checking its
// attributes, or fails.
func rdevCookie(t *testing.T, res *apptest.Response) string {
	t.Helper()
	for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
		if ck.Name != "calagopus_device" {
			continue
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge < 364*24*3600 || ck.Value == "" {
			t.Errorf("device cookie %q", ck.String())
		}
		if strings.Contains(string(res.Body), ck.Value) {
			t.Errorf("device cookie in the body: %s", res.Body)
		}
		return ck.Value
	}
	t.Fatalf("no device cookie in %q", res.Header.Values("Set-Cookie"))
	return ""
}

// rdevClient is a client that presents only the device cookie tok.
func rdevClient(t *testing.T, ts *apptest.Server, tok string) *apptest.Client {
	c := ts.Client(t)
	c.HTTP.Jar = nil
	c.Header.Set("Cookie", "calagopus_device="+tok)
	return c
}

// An attacker without the device cookie spends the account's budget; the
// owner's browser, which has the cookie, still signs in — also twenty
// times at once.
func TestRESTDeviceCookie(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		owner := apptest.Register(t, ts, "devowner", "devowner password")
		_, res := apptest.Login(t, ts, "devowner", owner.Password)
		apptest.WantStatus(t, res, http.StatusOK)
		dev := rdevCookie(t, res)

		for range 5 {
			_, res := apptest.Login(t, ts, "devowner", "wrong password")
			apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
		}
		_, res = apptest.Login(t, ts, "devowner", owner.Password)
		apptest.WantTooMany(t, res)

		res = rdevClient(t, ts, dev).Do(http.MethodPost, "/api/auth/login", map[string]any{"user": "devowner", "password": owner.Password})
		apptest.WantStatus(t, res, http.StatusOK)
		if got := rdevCookie(t, res); got != dev {
			t.Errorf("known device got a new cookie")
		}

		var wg sync.WaitGroup
		answers := make([]*apptest.Response, 20)
		errs := make([]error, 20)
		for i := range answers {
			c := rdevClient(t, ts, dev)
			wg.Go(func() {
				answers[i], errs[i] = c.Try(http.MethodPost, "/api/auth/login", map[string]any{"user": "devowner", "password": owner.Password})
			})
		}
		wg.Wait()
		for i, res := range answers {
			if errs[i] != nil {
				t.Fatalf("sign-in %d: %v", i, errs[i])
			}
			apptest.WantStatus(t, res, http.StatusOK)
		}
	})
}
