package graph_test

// End-to-end tests of documents that alias the code-checking fields of
// two-factor (each alias must count against the budget), of concurrent use
// of one code over GraphQL, and of a suspended account.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"accountd/app/apptest"
	"accountd/secret"
)

// gtfAliasDoc is one mutation with n aliased disableTwoFactor fields, each
// with a different wrong code of sec.
func gtfAliasDoc(t testing.TB, sec string, n int) string {
	t.Helper()
	now := secret.TOTPStep(time.Now())
	valid := map[string]bool{}
	for s := now - 3; s <= now+3; s++ {
		valid[apptest.CodeAt(t, sec, s)] = true
	}
	var b strings.Builder
	b.WriteString(`mutation($p: String!) {`)
	for i, fields := 0, 0; fields < n; i++ {
		code := fmt.Sprintf("%06d", i*7919%1000000)
		if valid[code] {
			continue
		}
		fmt.Fprintf(&b, ` a%d: disableTwoFactor(input: {code: "%s", password: $p}) { userErrors { message } }`, fields, code)
		fields++
	}
	b.WriteString(` }`)
	return b.String()
}

func TestGraphQLTwoFactorAliasing(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		ali := gtfRegister(t, ts, "ali", "ali password")
		otp, recovery := gtfEnable(t, ts, ali)
		before := apptest.TwoFactorSnapshot(t, ts, ali.ID)

		t.Run("50 aliased guesses are refused as a whole", func(t *testing.T) {
			r := ali.GQL(gtfAliasDoc(t, otp.Secret, 50), map[string]any{"p": ali.Password})
			apptest.GQLTopError(t, r, "GRAPHQL_VALIDATION_FAILED", "")
			if r.Data != nil {
				t.Errorf("data %v: nothing may be evaluated", r.Data)
			}
			apptest.TwoFactorUnchanged(t, ts, ali.ID, before)
			if v := apptest.GQLViewer(t, ali.Client); apptest.Get(v, "twoFactor", "enabled") != true {
				t.Errorf("two-factor is off after the aliased document: %v", v)
			}
		})

		// GraphQL over HTTP: a response to application/graphql-response+json
		// whose request failed before execution MUST have a 4xx status, as
		// the server's other validation failures do.
		t.Run("the refusal has the status of any other validation failure", func(t *testing.T) {
			c := ts.Client(t)
			c.Header.Set("Accept", "application/graphql-response+json")
			other := c.GQL(`mutation { nope }`, nil)
			apptest.GQLTopError(t, other, "GRAPHQL_VALIDATION_FAILED", "")
			// Two aliased logins: signed out, so nothing is billed.
			r := c.GQL(`mutation { a: login(input: {user: "ali", password: "x"}) { twoFactorRequired }
				b: login(input: {user: "ali", password: "y"}) { twoFactorRequired } }`, nil)
			apptest.GQLTopError(t, r, "GRAPHQL_VALIDATION_FAILED", "")
			if r.Status < 400 || r.Status != other.Status {
				t.Errorf("status %d, want %d as for any other validation failure\n got   %s\n other %s",
					r.Status, other.Status, r.Raw, other.Raw)
			}
		})

		t.Run("and bill the budget: even the right code is refused", func(t *testing.T) {
			code, _ := otp.Next(t)
			apptest.WantTooMany(t, ali.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": code, "password": ali.Password}))
			apptest.WantTooMany(t, ali.Do(http.MethodPost, apptest.RecoveryPath, map[string]any{"code": recovery[0], "password": ali.Password}))
			gtfWantRateLimited(t, ali.GQL(gtfDisableDoc, gtfIn(code, ali.Password)), "disableTwoFactor")
			gtfWantRateLimited(t, ali.GQL(gtfRegenDoc, gtfIn(recovery[0], ali.Password)), "regenerateRecoveryCodes")
			// The password is part of the same budget.
			r := ts.Client(t).GQL(apptest.GQLLoginDoc, apptest.GQLIn(map[string]any{"user": "ali", "password": ali.Password}))
			gtfWantRateLimited(t, r, "login")
			gqlWantNoSessionCookie(t, ts, r)
			apptest.TwoFactorUnchanged(t, ts, ali.ID, before)
		})

		t.Run("once the budget has recovered the right code works", func(t *testing.T) {
			apptest.AgeAttempts(t, ts, ali.ID)
			apptest.WantRecoveryCodes(t, ali.Do(http.MethodPost, apptest.RecoveryPath, map[string]any{"code": recovery[0], "password": ali.Password}))
			r := ali.GQL(gtfDisableDoc, gtfIn(apptest.MustNext(t, otp), ali.Password))
			gqlWantUserErrs(t, r, "disableTwoFactor")
			if apptest.Get(r.Data, "disableTwoFactor", "user", "twoFactor", "enabled") != false {
				t.Errorf("disableTwoFactor: %s", r.Raw)
			}
		})
	})
}

func TestGraphQLTwoFactorAliasingVariants(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		vic := gtfRegister(t, ts, "vic", "vic password")
		_, recovery := gtfEnable(t, ts, vic)
		tok := gtfLoginToken(t, ts, "vic", vic.Password)
		refusedWhole := func(t *testing.T, c *apptest.Client, doc string, vars map[string]any) {
			t.Helper()
			before := apptest.TwoFactorSnapshot(t, ts, vic.ID)
			r := c.GQL(doc, vars)
			apptest.GQLTopError(t, r, "GRAPHQL_VALIDATION_FAILED", "")
			if r.Data != nil {
				t.Errorf("data %v: nothing may be evaluated", r.Data)
			}
			gqlWantNoSessionCookie(t, ts, r)
			apptest.TwoFactorUnchanged(t, ts, vic.ID, before)
			apptest.ResetAttempts(t, ts, vic.ID)
		}
		checkpointIn := map[string]any{"confirmationToken": tok, "code": recovery[0]}

		t.Run("two checkpoints with the right code", func(t *testing.T) {
			refusedWhole(t, ts.Client(t), `mutation($in: LoginCheckpointInput!) {
				a: loginCheckpoint(input: $in) { user { id } }
				b: loginCheckpoint(input: $in) { user { id } } }`, map[string]any{"in": checkpointIn})
		})
		t.Run("two logins with the right password", func(t *testing.T) {
			refusedWhole(t, ts.Client(t), `mutation($in: LoginInput!) {
				a: login(input: $in) { twoFactorRequired }
				b: login(input: $in) { twoFactorRequired } }`,
				map[string]any{"in": map[string]any{"user": "vic", "password": vic.Password}})
		})
		t.Run("a login and a checkpoint", func(t *testing.T) {
			refusedWhole(t, ts.Client(t), `mutation($l: LoginInput!, $c: LoginCheckpointInput!) {
				login(input: $l) { twoFactorRequired }
				loginCheckpoint(input: $c) { user { id } } }`,
				map[string]any{"l": map[string]any{"user": "vic", "password": vic.Password}, "c": checkpointIn})
		})
		t.Run("the second field in a fragment", func(t *testing.T) {
			refusedWhole(t, vic.Client, `mutation($in: DisableTwoFactorInput!) {
				disableTwoFactor(input: $in) { userErrors { message } } ...more }
				fragment more on Mutation { again: disableTwoFactor(input: $in) { userErrors { message } } }`,
				gtfIn(recovery[1], vic.Password))
		})
		t.Run("the second field in an inline fragment", func(t *testing.T) {
			refusedWhole(t, vic.Client, `mutation($in: RegenerateRecoveryCodesInput!) {
				regenerateRecoveryCodes(input: $in) { recoveryCodes }
				... on Mutation { b: regenerateRecoveryCodes(input: $in) { recoveryCodes } } }`,
				gtfIn(recovery[1], vic.Password))
		})
		t.Run("different checking fields", func(t *testing.T) {
			refusedWhole(t, vic.Client, `mutation($e: UpdateEmailInput!, $d: DisableTwoFactorInput!) {
				updateEmail(input: $e) { userErrors { message } }
				disableTwoFactor(input: $d) { userErrors { message } } }`,
				map[string]any{"e": map[string]any{"email": "new@example.com", "password": vic.Password}, "d": gtfIn(recovery[1], vic.Password)["input"]})
		})
		t.Run("nothing was spent: the token and the codes work", func(t *testing.T) {
			c, r := gtfCheckpoint(t, ts, tok, recovery[0])
			gtfWantSignedIn(t, ts, c, r, vic.ID)
			if apptest.Get(r.Data, "loginCheckpoint", "user", "twoFactor", "recoveryCodesRemaining") != float64(9) {
				t.Errorf("recoveryCodesRemaining: %s", r.Raw)
			}
			r = c.GQL(gtfDisableDoc, gtfIn(recovery[1], vic.Password))
			gqlWantUserErrs(t, r, "disableTwoFactor")
			if u := gqlDBUser(t, ts, "vic"); u.TOTPEnabled || u.Email != "vic@example.com" {
				t.Errorf("after disable: enabled %v, email %s", u.TOTPEnabled, u.Email)
			}
		})
	})
}

// gtfOutcome classifies a concurrent answer: "ok" for a success, else the
// userErrors or top-level error code.
func gtfOutcome(r *apptest.GQLResponse, op string) string {
	if len(r.Errors) > 0 {
		return fmt.Sprint(r.Errors[0].Extensions["code"])
	}
	var body struct {
		Data map[string]struct {
			UserErrors []apptest.GQLUserErr `json:"userErrors"`
		} `json:"data"`
	}
	if err := gqlJSONUnmarshal(r.Raw, &body); err != nil {
		return "undecodable: " + string(r.Raw)
	}
	ue := body.Data[op].UserErrors
	if len(ue) == 0 {
		return "ok"
	}
	return fmt.Sprint(ue)
}

// gtfTally checks that exactly one of the answers succeeded and the rest
// are one of losers or RATE_LIMITED.
func gtfTally(t *testing.T, answers []*apptest.GQLResponse, op string, losers ...apptest.GQLUserErr) int {
	t.Helper()
	allowed := map[string]bool{"RATE_LIMITED": true}
	for _, l := range losers {
		allowed[fmt.Sprint([]apptest.GQLUserErr{l})] = true
	}
	winner, wins := -1, 0
	seen := map[string]int{}
	for i, r := range answers {
		o := gtfOutcome(r, op)
		seen[o]++
		switch {
		case o == "ok":
			winner, wins = i, wins+1
		case !allowed[o]:
			t.Errorf("unexpected answer: %s", r.Raw)
		case o == "RATE_LIMITED":
			if ra, _ := r.Errors[0].Extensions["retryAfter"].(float64); ra <= 0 {
				t.Errorf("RATE_LIMITED without a positive retryAfter: %s", r.Raw)
			}
		}
	}
	if wins != 1 {
		t.Fatalf("%d successes, want exactly 1: %v", wins, seen)
	}
	t.Logf("outcomes: %v", seen)
	return winner
}

// gtfParallel runs doc with vars from each client, all at once.
func gtfParallel(t *testing.T, clients []*apptest.Client, doc string, vars map[string]any, perClient func(i int) map[string]any) []*apptest.GQLResponse {
	t.Helper()
	out := make([]*apptest.GQLResponse, len(clients))
	errs := make([]error, len(clients))
	apptest.Parallel(len(clients), func(i int) {
		v := vars
		if perClient != nil {
			v = perClient(i)
		}
		out[i], errs[i] = clients[i].TryGQL(doc, v)
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func TestGraphQLTwoFactorConcurrentRecoveryCode(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		rex := gtfRegister(t, ts, "rex", "rex password")
		_, recovery := gtfEnable(t, ts, rex)
		tokens := make([]string, 20)
		clients := make([]*apptest.Client, 20)
		for i := range tokens {
			tokens[i] = gtfLoginToken(t, ts, "rex", rex.Password)
			clients[i] = ts.Client(t)
		}
		before := apptest.TwoFactorSnapshot(t, ts, rex.ID)
		answers := gtfParallel(t, clients, gtfCheckpointDoc, nil, func(i int) map[string]any {
			return apptest.GQLIn(map[string]any{"confirmationToken": tokens[i], "code": recovery[0]})
		})
		w := gtfTally(t, answers, "loginCheckpoint", gtfCodeErr("invalid recovery code"))
		gqlWantSessionCookie(t, ts, answers[w])
		for i, r := range answers {
			if i != w {
				gqlWantNoSessionCookie(t, ts, r)
			}
		}
		after := apptest.TwoFactorSnapshot(t, ts, rex.ID)
		if after.Sessions != before.Sessions+1 || after.NumCodes != 9 {
			t.Errorf("before %+v\nafter %+v: want exactly one new session and one code spent", before, after)
		}
		apptest.ResetAttempts(t, ts, rex.ID)
		_, r := gtfCheckpoint(t, ts, gtfLoginToken(t, ts, "rex", rex.Password), recovery[0])
		gqlWantUserErrs(t, r, "loginCheckpoint", gtfCodeErr("invalid recovery code"))
	})
}

func TestGraphQLTwoFactorConcurrentTOTPCode(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		dan := gtfRegister(t, ts, "dan", "dan password")
		otp, _ := gtfEnable(t, ts, dan)
		clients := make([]*apptest.Client, 20)
		for i := range clients {
			clients[i] = dan.Client
		}
		code, _ := otp.Next(t)
		answers := gtfParallel(t, clients, gtfDisableDoc, gtfIn(code, dan.Password), nil)
		gtfTally(t, answers, "disableTwoFactor", gtfCodeErr("this code has already been used"),
			gtfConflict("two-factor authentication is not enabled"))
		if st := apptest.TwoFactorSnapshot(t, ts, dan.ID); st.Enabled || st.NumCodes != 0 {
			t.Errorf("after the disable: %+v", st)
		}
		if n := apptest.CountEvent(apptest.Events(t, ts, dan.ID), `account:two-factor.disable {"using":"two-factor"}`); n != 1 {
			t.Errorf("%d disable events, want 1", n)
		}
	})
}

// TestGraphQLTwoFactorSuspended: for a suspended account the two-factor
// mutations are FORBIDDEN (GRAPHQL.md: suspended is a top-level error) and
// change nothing.
func TestGraphQLTwoFactorSuspended(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		gtfRegister(t, ts, "admin", "admin password") // the first account is an admin
		for _, tc := range []struct {
			name, op, doc string
			prep          func(u *gtfUser) map[string]any
		}{
			{"setup", "beginTwoFactorSetup", gtfSetupDoc, func(u *gtfUser) map[string]any { return nil }},
			{"enable", "enableTwoFactor", gtfEnableDoc, func(u *gtfUser) map[string]any {
				code, _ := (&apptest.OTP{Secret: gtfSetup(t, u.Client, u.Email)}).Next(t)
				return gtfIn(code, u.Password)
			}},
			{"regenerate", "regenerateRecoveryCodes", gtfRegenDoc, func(u *gtfUser) map[string]any {
				_, recovery := gtfEnable(t, ts, u)
				return gtfIn(recovery[0], u.Password)
			}},
			{"disable", "disableTwoFactor", gtfDisableDoc, func(u *gtfUser) map[string]any {
				_, recovery := gtfEnable(t, ts, u)
				return gtfIn(recovery[0], u.Password)
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u := gtfRegister(t, ts, "s_"+tc.name, tc.name+" password")
				vars := tc.prep(u)
				gqlSetFlags(t, ts, u.Username, false, true)
				before := apptest.TwoFactorSnapshot(t, ts, u.ID)
				r := u.GQL(tc.doc, vars)
				if len(r.Errors) == 0 {
					t.Errorf("want FORBIDDEN, got %s", r.Raw)
				} else if msg, _ := apptest.GQLTopError(t, r, "FORBIDDEN", tc.op); msg != "account is suspended" {
					t.Errorf("message %q", msg)
				}
				apptest.TwoFactorUnchanged(t, ts, u.ID, before)
			})
		}
	})
}
