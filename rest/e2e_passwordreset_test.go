package rest_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/model"
	"accountd/secret"
	"accountd/web"
)

// The password reset of REST.md §7 through the real HTTP stack: the link
// of the queued mail is what the user follows.

const (
	restForgotPath = "/api/auth/password/forgot"
	restResetPath  = "/api/auth/password/reset"
)

func TestRESTPasswordReset(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		other, res := apptest.Login(t, ts, "alice", alice.Password)
		apptest.WantStatus(t, res, http.StatusOK)
		key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})
		c := ts.Client(t)
		c.Header.Set("User-Agent", "reset-test/2.0")

		// Known and unknown addresses get the same answer.
		known := c.Do(http.MethodPost, restForgotPath, map[string]any{"email": "Alice@Example.com", "captcha": nil})
		unknown := c.Do(http.MethodPost, restForgotPath, map[string]any{"email": "nobody@example.com", "captcha": "ignored"})
		for _, r := range []*apptest.Response{known, unknown} {
			apptest.WantEmpty(t, r)
			restNoSessionCookie(t, r)
		}
		if !bytes.Equal(known.Body, unknown.Body) || known.Header.Get("Content-Type") != unknown.Header.Get("Content-Type") {
			t.Errorf("answers differ: %s / %s", known.Body, unknown.Body)
		}
		ms := apptest.MailsOf(t, ts, model.MailPasswordReset, "")
		if len(ms) != 1 || ms[0].To != "alice@example.com" {
			t.Fatalf("reset mails %+v, want one to alice", ms)
		}
		tok := apptest.MailToken(t, ts, ms[0], "/auth/reset-password")
		if n := apptest.CountRows(t, ts, "password_reset_tokens", alice.ID); n != 1 {
			t.Fatalf("%d tokens", n)
		}

		// The link works: 200 {}, no session, every session ended.
		res = c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "alice's new password"})
		apptest.WantEmpty(t, res)
		if len(res.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("the reset set cookies: %q", res.Header.Values("Set-Cookie"))
		}
		for _, cl := range []*apptest.Client{alice.Client, other} {
			apptest.WantErrors(t, cl.Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid session")
		}
		apptest.WantStatus(t, apptest.KeyClient(t, ts, key).Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
		_, res = apptest.Login(t, ts, "alice", alice.Password)
		apptest.WantErrors(t, res, http.StatusBadRequest, "invalid username or password")
		fresh, res := apptest.Login(t, ts, "alice@example.com", "alice's new password")
		apptest.WantStatus(t, res, http.StatusOK)
		if u := res.JSON(t)["user"].(map[string]any); u["has_password"] != true {
			t.Errorf("user %v", u)
		}

		// Used: the same token again is refused.
		apptest.WantErrors(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "yet another password"}),
			http.StatusBadRequest, "invalid or expired token")

		// Both events, with the requester's address and user agent.
		page := apptest.ListActivities(t, fresh, "")
		var found int
		for _, a := range page.Data {
			if a.Event == model.EventPasswordResetRequested || a.Event == model.EventPasswordReset {
				found++
				if a.IP == nil || *a.IP != "127.0.0.1" || len(a.Data) != 1 || a.Data["user_agent"] != "reset-test/2.0" {
					t.Errorf("%s: ip %v data %v", a.Event, a.IP, a.Data)
				}
			}
		}
		if found != 2 {
			t.Errorf("%d reset events in %v", found, apptest.PageEvents(page))
		}
		// The notice of the new password went to alice.
		n := apptest.LastMail(t, ts, model.MailNoticePasswordChanged, "alice@example.com")
		if n.Data.Event == nil || n.Data.Event.UserAgent != "reset-test/2.0" || n.Data.Event.IP != "127.0.0.1" {
			t.Errorf("notice %+v", n.Data)
		}
		apptest.NoSecrets(t, ts, tok, "alice's new password")
	})
}

func TestRESTPasswordResetRevokesAPIKeys(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		key := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})
		c := ts.Client(t)
		tok := apptest.ResetToken(t, c, alice.Email)
		apptest.WantEmpty(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a new password",
			"revoke_api_keys": true}))
		apptest.WantErrors(t, apptest.KeyClient(t, ts, key).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid api key")
	})
}

func TestRESTPasswordResetValidation(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		c := ts.Client(t)
		for _, tc := range []struct {
			body any
			want []string
		}{
			{map[string]any{"email": "alice"}, []string{"email: not a valid email: value is missing `@`"}},
			{map[string]any{}, []string{"email: not a valid email: value is empty"}},
			{map[string]any{"email": strings.Repeat("x", 300)}, []string{"email: not a valid email: value is missing `@`", "email: length is greater than 255"}},
			{map[string]any{"email": "alice@example.com\r\nBcc: all@example.com"}, []string{"email: not a valid email: domain contains unexpected characters"}},
		} {
			res := c.Do(http.MethodPost, restForgotPath, tc.body)
			apptest.WantStatus(t, res, http.StatusBadRequest)
			if got := res.Errors(t); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("%v: errors %q, want %q", tc.body, got, tc.want)
			}
		}
		apptest.WantErrorPrefixes(t, c.Do(http.MethodPost, restForgotPath, map[string]any{"email": "a@example.com", "captcha": 5}),
			http.StatusBadRequest, "invalid payload: ")
		apptest.WantErrors(t, c.Raw(http.MethodPost, restForgotPath, "", strings.NewReader(`{"email":"a@example.com"}`)),
			http.StatusBadRequest, "invalid payload: missing content type header")

		tok := apptest.ResetToken(t, c, alice.Email)
		for _, tc := range []struct {
			body any
			want []string
		}{
			{map[string]any{"token": tok[:95], "new_password": "a new password"}, []string{"token: length is lower than 96"}},
			{map[string]any{"token": tok + "x", "new_password": "a new password"}, []string{"token: length is greater than 96"}},
			{map[string]any{"token": tok, "new_password": "short"}, []string{"new_password: length is lower than 8"}},
			{map[string]any{}, []string{"token: length is lower than 96", "new_password: length is lower than 8"}},
			{map[string]any{"token": secret.RandomString(96), "new_password": "a new password"}, []string{"invalid or expired token"}},
			{map[string]any{"token": apptest.OffByOne(tok), "new_password": "a new password"}, []string{"invalid or expired token"}},
			{map[string]any{"token": tok[:95] + "!", "new_password": "a new password"}, []string{"invalid or expired token"}},
		} {
			res := c.Do(http.MethodPost, restResetPath, tc.body)
			apptest.WantStatus(t, res, http.StatusBadRequest)
			if got := res.Errors(t); strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("errors %q, want %q", got, tc.want)
			}
		}
		// None of that spent the token.
		apptest.WantEmpty(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a new password"}))
	})
}

// Expired after 20 minutes; no new link within 20 minutes of the last.
func TestRESTPasswordResetExpiryAndQuietPeriod(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		c := ts.Client(t)
		tok := apptest.ResetToken(t, c, alice.Email)
		for range 3 {
			apptest.WantEmpty(t, c.Do(http.MethodPost, restForgotPath, map[string]any{"email": alice.Email}))
		}
		if n := len(apptest.MailsOf(t, ts, model.MailPasswordReset, "")); n != 1 {
			t.Fatalf("%d reset mails within 20 minutes, want 1", n)
		}
		// Twenty minutes later (the token's times moved back by as much).
		restAgeResetTokens(t, ts, 20*time.Minute)
		apptest.WantErrors(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a new password"}),
			http.StatusBadRequest, "invalid or expired token")
		second := apptest.ResetToken(t, c, alice.Email)
		apptest.WantEmpty(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": second, "new_password": "a new password"}))
	})
}

// restAgeResetTokens moves every reset token's times back by d.
func restAgeResetTokens(t *testing.T, ts *apptest.Server, d time.Duration) {
	t.Helper()
	var rows []struct {
		ID      string    `bun:"id"`
		Created time.Time `bun:"created"`
		Expires time.Time `bun:"expires"`
	}
	if err := ts.App.DB.NewSelect().Table("password_reset_tokens").Column("id", "created", "expires").Scan(t.Context(), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := ts.App.DB.NewUpdate().Table("password_reset_tokens").Set("created = ?", r.Created.Add(-d)).
			Set("expires = ?", r.Expires.Add(-d)).Where("id = ?", r.ID).Exec(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRESTPasswordResetFrozenAndTwoFactor(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		c := ts.Client(t)
		tok := apptest.ResetToken(t, c, alice.Email)
		restSetFlags(t, ts, alice.ID, true, true, false)
		apptest.WantErrors(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a new password"}),
			http.StatusConflict, "account is frozen")
		restSetFlags(t, ts, alice.ID, true, false, false)

		// With two-factor on, the sign-in after the reset still stops at
		// the checkpoint.
		restEnableTOTP(t, ts, alice.ID)
		apptest.WantEmpty(t, c.Do(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "a new password"}))
		_, res := apptest.Login(t, ts, "alice", "a new password")
		apptest.WantStatus(t, res, http.StatusOK)
		if res.JSON(t)["type"] != "two_factor_required" {
			t.Errorf("login after the reset: %s", res.Body)
		}
		restNoSessionCookie(t, res)
	})
}

// Concurrent resets with one token: exactly one succeeds.
func TestRESTPasswordResetConcurrent(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		tok := apptest.ResetToken(t, ts.Client(t), alice.Email)
		const n = 10
		statuses := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			c := ts.Client(t)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				res, err := c.Try(http.MethodPost, restResetPath, map[string]any{"token": tok, "new_password": "password number " + strconv.Itoa(i)})
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = res.Status
			}()
		}
		close(start)
		wg.Wait()
		won := -1
		for i, s := range statuses {
			switch s {
			case http.StatusOK:
				if won >= 0 {
					t.Fatalf("two resets succeeded: %v", statuses)
				}
				won = i
			case http.StatusBadRequest:
			default:
				t.Fatalf("statuses %v", statuses)
			}
		}
		if won < 0 {
			t.Fatalf("no reset succeeded: %v", statuses)
		}
		_, res := apptest.Login(t, ts, "alice", "password number "+strconv.Itoa(won))
		apptest.WantStatus(t, res, http.StatusOK)
	})
}

// The per-IP limits (RATE_LIMIT_FORGOT, RATE_LIMIT_RESET) come after
// validation; the per-address limit counts an address, whatever the IP,
// case-folded.
func TestRESTPasswordResetRateLimits(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, func(cfg *app.Config) {
		apptest.Proxied(cfg)
		cfg.RateLimits[web.RateForgot] = web.RateRule{Limit: 2, Window: time.Hour}
		cfg.RateLimits[web.RateReset] = web.RateRule{Limit: 2, Window: 5 * time.Minute}
	}, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "alice", "alice password")
		from := func(ip string) *apptest.Client {
			c := ts.Client(t)
			c.Header.Set("X-Forwarded-For", ip)
			return c
		}
		a := from("198.51.100.1")
		apptest.WantEmpty(t, a.Do(http.MethodPost, restForgotPath, map[string]any{"email": "x1@example.com"}))
		res := a.Do(http.MethodPost, restForgotPath, map[string]any{"email": "x2@example.com"})
		apptest.WantEmpty(t, res)
		if res.Header.Get("X-RateLimit-Limit") != "2" || res.Header.Get("X-RateLimit-Remaining") != "0" {
			t.Errorf("rate limit headers %v", res.Header)
		}
		res = a.Do(http.MethodPost, restForgotPath, map[string]any{"email": "x3@example.com"})
		apptest.WantStatus(t, res, http.StatusTooManyRequests)
		if !strings.HasPrefix(res.Errors(t)[0], "you are ratelimited, retry in ") || res.Header.Get("Retry-After") == "" {
			t.Errorf("429 %s %v", res.Body, res.Header)
		}
		// Validation still answers first, and is not counted.
		apptest.WantErrors(t, a.Do(http.MethodPost, restForgotPath, map[string]any{"email": "nope"}), http.StatusBadRequest,
			"email: not a valid email: value is missing `@`")

		// Per address: two requests for alice from two addresses, then a
		// third from a fresh address is refused for alice only.
		apptest.WantEmpty(t, from("198.51.100.2").Do(http.MethodPost, restForgotPath, map[string]any{"email": "alice@example.com"}))
		apptest.WantEmpty(t, from("198.51.100.3").Do(http.MethodPost, restForgotPath, map[string]any{"email": "ALICE@example.com"}))
		c := from("198.51.100.4")
		apptest.WantStatus(t, c.Do(http.MethodPost, restForgotPath, map[string]any{"email": "Alice@Example.COM"}), http.StatusTooManyRequests)
		apptest.WantEmpty(t, c.Do(http.MethodPost, restForgotPath, map[string]any{"email": "bob@example.com"}))
		if n := len(apptest.MailsOf(t, ts, model.MailPasswordReset, "")); n != 1 {
			t.Errorf("%d reset mails, want 1", n)
		}

		// The reset's own per-IP limit, after validation too.
		r := from("198.51.100.9")
		for range 2 {
			apptest.WantErrors(t, r.Do(http.MethodPost, restResetPath, map[string]any{"token": "short", "new_password": "a new password"}),
				http.StatusBadRequest, "token: length is lower than 96")
		}
		for range 2 {
			apptest.WantErrors(t, r.Do(http.MethodPost, restResetPath, map[string]any{"token": secret.RandomString(96), "new_password": "a new password"}),
				http.StatusBadRequest, "invalid or expired token")
		}
		apptest.WantStatus(t, r.Do(http.MethodPost, restResetPath, map[string]any{"token": secret.RandomString(96), "new_password": "a new password"}),
			http.StatusTooManyRequests)
	})
}
