package rest_test

// End-to-end tests of the two-factor attempt budget over REST and of
// concurrent use of one code: exactly one of many simultaneous uses may
// succeed.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
	"accountd/secret"
)

// rtfSetCodeFailures sets user id's run of code failures, with no block
// and a fresh window.
func rtfSetCodeFailures(t testing.TB, ts *apptest.Server, id uuid.UUID, n int) {
	t.Helper()
	apptest.ResetAttempts(t, ts, id)
	_, err := ts.App.DB.ExecContext(context.Background(),
		"INSERT INTO attempt_counters (user_id, failures, window_start, consecutive, code_failures) VALUES (?, 0, ?, 0, ?)",
		id, time.Now().UTC(), n)
	if err != nil {
		t.Fatalf("set code failures: %v", err)
	}
}

// rtfCodeFailures is user id's stored run of code failures.
func rtfCodeFailures(t testing.TB, ts *apptest.Server, id uuid.UUID) int {
	t.Helper()
	var n int
	if err := ts.App.DB.NewSelect().Table("attempt_counters").Column("code_failures").
		Where("user_id = ?", id).Scan(context.Background(), &n); err != nil {
		t.Fatalf("read code failures: %v", err)
	}
	return n
}

func TestRESTTwoFactorAttemptBudget(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		bud := apptest.Register(t, ts, "bud", "bud password")
		otp, recovery := rtfEnable(t, ts, bud)
		wrong := apptest.WrongCode(t, otp.Secret)
		tok := rtfLoginToken(t, ts, "bud", bud.Password)

		t.Run("five failures spend the budget", func(t *testing.T) {
			for range 5 {
				res := bud.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": wrong, "password": bud.Password})
				apptest.WantErrors(t, res, http.StatusBadRequest, "invalid confirmation code")
			}
		})

		t.Run("then even right answers are refused with Retry-After", func(t *testing.T) {
			before := apptest.TwoFactorSnapshot(t, ts, bud.ID)
			code, _ := otp.Next(t)
			apptest.WantTooMany(t, bud.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": code, "password": bud.Password}))
			apptest.WantTooMany(t, bud.Do(http.MethodPost, apptest.RecoveryPath, map[string]any{"code": recovery[0], "password": bud.Password}))
			_, res := rtfCheckpoint(t, ts, tok, code)
			apptest.WantTooMany(t, res)
			restNoSessionCookie(t, res)
			_, res = apptest.Login(t, ts, "bud", bud.Password)
			apptest.WantTooMany(t, res)
			restNoSessionCookie(t, res)
			// A wrong password is not evaluated either.
			apptest.WantTooMany(t, bud.Do(http.MethodPut, "/api/client/account/email",
				map[string]any{"email": "new@example.com", "password": "wrong password"}))
			apptest.TwoFactorUnchanged(t, ts, bud.ID, before)
		})

		t.Run("once the block has passed the right code works", func(t *testing.T) {
			apptest.AgeAttempts(t, ts, bud.ID)
			_, res := rtfCheckpoint(t, ts, tok, apptest.MustNext(t, otp))
			rtfWantSignedIn(t, ts, res, bud.ID)
		})

		t.Run("each further spent budget without a success doubles the block", func(t *testing.T) {
			// Tokens first: their password checks succeed and end any run.
			var tokens []string
			for range 4 {
				tokens = append(tokens, rtfLoginToken(t, ts, "bud", bud.Password))
			}
			fail := func(tok string) {
				t.Helper()
				for range 5 {
					_, res := rtfCheckpoint(t, ts, tok, apptest.WrongRecoveryCode)
					apptest.WantErrors(t, res, http.StatusBadRequest, "invalid recovery code")
				}
			}
			fail(tokens[0])
			_, res := rtfCheckpoint(t, ts, tokens[1], recovery[0])
			if n := apptest.WantTooMany(t, res); n > 300 {
				t.Errorf("first block %ds, want at most the 5-minute window", n)
			}
			apptest.AgeAttempts(t, ts, bud.ID)
			fail(tokens[2])
			_, res = rtfCheckpoint(t, ts, tokens[3], recovery[0])
			apptest.WantStatus(t, res, http.StatusTooManyRequests)
			m := apptest.TooManyRE().FindStringSubmatch(strings.Join(res.Errors(t), ""))
			if m == nil {
				t.Fatalf("errors %q", res.Errors(t))
			}
			if n, _ := strconv.Atoi(m[1]); n <= 300 || n > 600 || res.Header.Get("Retry-After") != m[1] {
				t.Errorf("retry in %ss (Retry-After %s): want 301..600, the doubled block", m[1], res.Header.Get("Retry-After"))
			}
			// Once waited out, a success ends the run.
			apptest.AgeAttempts(t, ts, bud.ID)
			_, res = rtfCheckpoint(t, ts, tokens[3], recovery[0])
			rtfWantSignedIn(t, ts, res, bud.ID)
			t5, t6 := rtfLoginToken(t, ts, "bud", bud.Password), rtfLoginToken(t, ts, "bud", bud.Password)
			fail(t5)
			_, res = rtfCheckpoint(t, ts, t6, recovery[1])
			if n := apptest.WantTooMany(t, res); n > 300 {
				t.Errorf("block after a success %ds, want at most the 5-minute window again", n)
			}
			apptest.ResetAttempts(t, ts, bud.ID)
		})

		t.Run("after 100 code failures in a row only a recovery code works", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "bud", bud.Password)
			rtfSetCodeFailures(t, ts, bud.ID, 100)
			before := apptest.TwoFactorSnapshot(t, ts, bud.ID)
			// The current code: refused before it is even evaluated.
			code := apptest.CodeAt(t, otp.Secret, secret.TOTPStep(time.Now()))
			_, res := rtfCheckpoint(t, ts, tok, code)
			apptest.WantErrors(t, res, http.StatusTooManyRequests, "too many failed codes, use a recovery code")
			if ra := res.Header.Get("Retry-After"); ra != "" {
				t.Errorf("Retry-After %q: no wait ends this refusal", ra)
			}
			restNoSessionCookie(t, res)
			apptest.TwoFactorUnchanged(t, ts, bud.ID, before)
			// A password sign-in does not end the run.
			tok = rtfLoginToken(t, ts, "bud", bud.Password)
			_, res = rtfCheckpoint(t, ts, tok, code)
			apptest.WantErrors(t, res, http.StatusTooManyRequests, "too many failed codes, use a recovery code")
			// A recovery code does, and signs in.
			_, res = rtfCheckpoint(t, ts, tok, recovery[2])
			rtfWantSignedIn(t, ts, res, bud.ID)
			if n := rtfCodeFailures(t, ts, bud.ID); n != 0 {
				t.Errorf("%d code failures after a recovery code, want the run ended", n)
			}
		})
	})
}

// rtfParallelCheckpoints posts one checkpoint per token, all at once, with
// the same code, and returns the answers.
func rtfParallelCheckpoints(t *testing.T, ts *apptest.Server, tokens []string, code string) []*apptest.Response {
	t.Helper()
	out := make([]*apptest.Response, len(tokens))
	errs := make([]error, len(tokens))
	clients := make([]*apptest.Client, len(tokens))
	for i := range clients {
		clients[i] = ts.Client(t)
	}
	apptest.Parallel(len(tokens), func(i int) {
		out[i], errs[i] = clients[i].Try(http.MethodPost, apptest.CheckpointPath,
			map[string]any{"confirmation_token": tokens[i], "code": code})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// rtfTally checks that exactly one answer is a 200 and every other one is
// a refusal the contract allows (one of losers, or the attempt budget's
// 429). It returns the index of the winner.
func rtfTally(t *testing.T, answers []*apptest.Response, losers ...string) int {
	t.Helper()
	winner, wins := -1, 0
	seen := map[string]int{}
	for i, res := range answers {
		if res.Status == http.StatusOK {
			winner, wins = i, wins+1
			continue
		}
		var errs []string
		_ = json.Unmarshal(res.Body, &struct{ Errors *[]string }{&errs})
		key := fmt.Sprintf("%d %q", res.Status, errs)
		seen[key]++
		switch {
		case res.Status == http.StatusTooManyRequests && len(errs) == 1 && apptest.TooManyRE().MatchString(errs[0]):
			if res.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
			}
		case len(errs) == 1 && slices.Contains(losers, fmt.Sprintf("%d %s", res.Status, errs[0])):
		default:
			t.Errorf("unexpected answer %d %s", res.Status, res.Body)
		}
	}
	if wins != 1 {
		t.Fatalf("%d successes, want exactly 1; refusals %v", wins, seen)
	}
	t.Logf("refusals: %v", seen)
	return winner
}

func TestRESTCheckpointConcurrentRecoveryCode(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		rex := apptest.Register(t, ts, "rex", "rex password")
		_, recovery := rtfEnable(t, ts, rex)
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = rtfLoginToken(t, ts, "rex", rex.Password)
		}
		before := apptest.TwoFactorSnapshot(t, ts, rex.ID)
		answers := rtfParallelCheckpoints(t, ts, tokens, recovery[0])
		w := rtfTally(t, answers, "400 invalid recovery code")
		restSessionCookie(t, answers[w])
		after := apptest.TwoFactorSnapshot(t, ts, rex.ID)
		if after.Sessions != before.Sessions+1 {
			t.Errorf("sessions %d → %d, want exactly one new", before.Sessions, after.Sessions)
		}
		if after.NumCodes != 9 {
			t.Errorf("%d recovery codes left, want 9", after.NumCodes)
		}
		if n := apptest.CountEvent(apptest.Events(t, ts, rex.ID), `auth:success {"using":"recovery-code"}`); n != 1 {
			t.Errorf("%d auth:success events, want 1", n)
		}
		for i, res := range answers {
			if i != w {
				restNoSessionCookie(t, res)
			}
		}
		apptest.ResetAttempts(t, ts, rex.ID)
		t.Run("the code is spent, the others are not", func(t *testing.T) {
			_, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "rex", rex.Password), recovery[0])
			apptest.WantErrors(t, res, http.StatusBadRequest, "invalid recovery code")
			_, res = rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "rex", rex.Password), recovery[1])
			rtfWantSignedIn(t, ts, res, rex.ID)
		})
	})
}

func TestRESTCheckpointConcurrentTOTPCode(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		tia := apptest.Register(t, ts, "tia", "tia password")
		otp, _ := rtfEnable(t, ts, tia)
		tokens := make([]string, 20)
		for i := range tokens {
			tokens[i] = rtfLoginToken(t, ts, "tia", tia.Password)
		}
		before := apptest.TwoFactorSnapshot(t, ts, tia.ID)
		code, step := otp.Next(t)
		answers := rtfParallelCheckpoints(t, ts, tokens, code)
		rtfTally(t, answers, "400 this code has already been used")
		otp.Accepted(step)
		after := apptest.TwoFactorSnapshot(t, ts, tia.ID)
		if after.Sessions != before.Sessions+1 || after.LastStep != step {
			t.Errorf("before %+v\nafter %+v: want one new session and the step %d", before, after, step)
		}
		if n := apptest.CountEvent(apptest.Events(t, ts, tia.ID), `auth:success {"using":"two-factor"}`); n != 1 {
			t.Errorf("%d auth:success events, want 1", n)
		}
	})
}

func TestRESTTwoFactorConcurrentDisable(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		dan := apptest.Register(t, ts, "dan", "dan password")
		otp, _ := rtfEnable(t, ts, dan)
		code, _ := otp.Next(t)
		answers := make([]*apptest.Response, 20)
		errs := make([]error, 20)
		apptest.Parallel(20, func(i int) {
			answers[i], errs[i] = dan.Client.Try(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": code, "password": dan.Password})
		})
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		rtfTally(t, answers, "400 this code has already been used", "409 two-factor authentication is not enabled")
		if st := apptest.TwoFactorSnapshot(t, ts, dan.ID); st.Enabled || st.NumCodes != 0 {
			t.Errorf("after the disable: %+v", st)
		}
		if n := apptest.CountEvent(apptest.Events(t, ts, dan.ID), `account:two-factor.disable {"using":"two-factor"}`); n != 1 {
			t.Errorf("%d disable events, want 1", n)
		}
	})
}

// TestRESTTwoFactorSuspended: a suspended account may only read and edit
// its account page and log out (REST.md §2.3); the two-factor routes
// answer 403 and change nothing.
func TestRESTTwoFactorSuspended(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "admin", "admin password") // the first account is an admin
		// Each row has its own user: prep sets up its two-factor state and
		// returns the body to send once the user is suspended.
		for i, tc := range []struct {
			name, method, path string
			prep               func(u *apptest.User) map[string]any
		}{
			{"setup", http.MethodGet, apptest.TwoFactorPath, func(u *apptest.User) map[string]any { return nil }},
			{"enable", http.MethodPost, apptest.TwoFactorPath, func(u *apptest.User) map[string]any {
				otp := &apptest.OTP{Secret: rtfSetup(t, u.Client, u.Email)}
				code, _ := otp.Next(t)
				return map[string]any{"code": code, "password": u.Password}
			}},
			{"regenerate", http.MethodPost, apptest.RecoveryPath, func(u *apptest.User) map[string]any {
				_, recovery := rtfEnable(t, ts, u)
				return map[string]any{"code": recovery[0], "password": u.Password}
			}},
			{"disable with TOTP", http.MethodDelete, apptest.TwoFactorPath, func(u *apptest.User) map[string]any {
				otp, _ := rtfEnable(t, ts, u)
				code, _ := otp.Next(t)
				return map[string]any{"code": code, "password": u.Password}
			}},
			{"disable with a recovery code", http.MethodDelete, apptest.TwoFactorPath, func(u *apptest.User) map[string]any {
				_, recovery := rtfEnable(t, ts, u)
				return map[string]any{"code": recovery[0], "password": u.Password}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				name := "suspended" + strconv.Itoa(i)
				u := apptest.Register(t, ts, name, name+" password")
				body := tc.prep(u)
				restSetFlags(t, ts, u.ID, false, false, true)
				before := apptest.TwoFactorSnapshot(t, ts, u.ID)
				rtfWantRefused(t, ts, u.ID, before, u.Do(tc.method, tc.path, body), http.StatusForbidden, "account is suspended")
			})
		}
	})
}
