package rest_test

// End-to-end tests of the error rows of the two-factor code routes and the
// login checkpoint over REST, of the permission they need and of the
// TWO_FACTOR_REQUIREMENT gate.

import (
	"net/http"
	"strings"
	"testing"

	"accountd/account"
	"accountd/app"
	"accountd/app/apptest"
	"accountd/secret"
)

// TestRESTTwoFactorCodeRoutesErrors runs the error rows shared by DELETE
// two-factor and POST recovery-codes.
func TestRESTTwoFactorCodeRoutesErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		for _, route := range []struct{ name, method, path string }{
			{"disable", http.MethodDelete, apptest.TwoFactorPath},
			{"regenerate", http.MethodPost, apptest.RecoveryPath},
		} {
			t.Run(route.name, func(t *testing.T) {
				u := apptest.Register(t, ts, "u_"+route.name, route.name+" password")
				call := func(code, password string) *apptest.Response {
					return u.Do(route.method, route.path, map[string]any{"code": code, "password": password})
				}
				refused := func(t *testing.T, res *apptest.Response, status int, msgs ...string) {
					t.Helper()
					rtfWantRefused(t, ts, u.ID, apptest.TwoFactorSnapshot(t, ts, u.ID), res, status, msgs...)
				}

				t.Run("not enabled", func(t *testing.T) {
					refused(t, call("123456", u.Password), http.StatusConflict, "two-factor authentication is not enabled")
					refused(t, call("abcdefghij", "wrong password"), http.StatusConflict, "two-factor authentication is not enabled")
					refused(t, call("12345678", u.Password), http.StatusConflict, "two-factor authentication is not enabled")
				})

				otp, recovery := rtfEnable(t, ts, u)
				right, step := otp.Next(t)
				wrong := apptest.WrongCode(t, otp.Secret)
				for _, tc := range []struct {
					name     string
					body     map[string]any
					status   int
					messages []string
				}{
					{"empty body", map[string]any{}, http.StatusBadRequest, []string{"code: length is lower than 6"}},
					{"code too short", map[string]any{"code": "12345", "password": u.Password}, http.StatusBadRequest,
						[]string{"code: length is lower than 6"}},
					{"code too long", map[string]any{"code": recovery[0] + "x", "password": u.Password}, http.StatusBadRequest,
						[]string{"code: length is greater than 10"}},
					{"password too long", map[string]any{"code": right, "password": strings.Repeat("p", 513)}, http.StatusBadRequest,
						[]string{"password: length is greater than 512"}},
					{"both", map[string]any{"code": "", "password": strings.Repeat("p", 513)}, http.StatusBadRequest,
						[]string{"code: length is lower than 6", "password: length is greater than 512"}},
					{"length 7", map[string]any{"code": "1234567", "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"length 8", map[string]any{"code": "abcd1234", "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"length 9", map[string]any{"code": recovery[0][:9], "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"length before password", map[string]any{"code": "12345678", "password": "wrong password"}, http.StatusBadRequest,
						[]string{"invalid confirmation code length"}},
					{"wrong password, right TOTP", map[string]any{"code": right, "password": "wrong password"}, http.StatusForbidden,
						[]string{"invalid password"}},
					{"wrong password, right recovery code", map[string]any{"code": recovery[0], "password": "wrong password"},
						http.StatusForbidden, []string{"invalid password"}},
					{"wrong password and wrong code", map[string]any{"code": wrong, "password": "wrong password"},
						http.StatusForbidden, []string{"invalid password"}},
					{"wrong TOTP", map[string]any{"code": wrong, "password": u.Password}, http.StatusBadRequest,
						[]string{"invalid confirmation code"}},
					{"wrong recovery code", map[string]any{"code": apptest.WrongRecoveryCode, "password": u.Password},
						http.StatusBadRequest, []string{"invalid recovery code"}},
					{"recovery code in the wrong case", map[string]any{"code": apptest.SwapCase(recovery[0]), "password": u.Password},
						http.StatusBadRequest, []string{"invalid recovery code"}},
					{"ten symbols", map[string]any{"code": "!!!!!!!!!!", "password": u.Password},
						http.StatusBadRequest, []string{"invalid recovery code"}},
					{"the code enable used", map[string]any{"code": apptest.CodeAt(t, otp.Secret, otp.Last), "password": u.Password},
						http.StatusBadRequest, []string{"this code has already been used"}},
				} {
					t.Run(tc.name, func(t *testing.T) {
						refused(t, u.Do(route.method, route.path, tc.body), tc.status, tc.messages...)
					})
				}

				t.Run("body without content type", func(t *testing.T) {
					before := apptest.TwoFactorSnapshot(t, ts, u.ID)
					res := u.Raw(route.method, route.path, "", strings.NewReader(`{"code":"`+recovery[0]+`","password":"`+u.Password+`"}`))
					rtfWantRefused(t, ts, u.ID, before, res, http.StatusBadRequest, "invalid payload: missing content type header")
				})

				t.Run("a code used elsewhere", func(t *testing.T) {
					// Spend right at the checkpoint, then offer it here.
					_, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, u.Username, u.Password), right)
					rtfWantSignedIn(t, ts, res, u.ID)
					otp.Accepted(step)
					refused(t, call(right, u.Password), http.StatusBadRequest, "this code has already been used")
				})

				t.Run("a right code works", func(t *testing.T) {
					res := call(recovery[1], u.Password)
					if route.method == http.MethodDelete {
						apptest.WantEmpty(t, res)
						if apptest.TwoFactorSnapshot(t, ts, u.ID).Enabled {
							t.Errorf("still enabled")
						}
					} else {
						fresh := apptest.WantRecoveryCodes(t, res)
						if st := apptest.TwoFactorSnapshot(t, ts, u.ID); !st.Enabled || st.NumCodes != 10 {
							t.Errorf("after regenerate: %+v", st)
						}
						// The old set is gone; the new one works.
						refused(t, call(recovery[2], u.Password), http.StatusBadRequest, "invalid recovery code")
						apptest.WantRecoveryCodes(t, call(fresh[0], u.Password))
					}
				})
			})
		}
	})
}

func TestRESTCheckpointErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		cora := apptest.Register(t, ts, "cora", "cora password")
		otp, recovery := rtfEnable(t, ts, cora)
		refused := func(t *testing.T, res *apptest.Response, msgs ...string) {
			t.Helper()
			rtfWantRefused(t, ts, cora.ID, apptest.TwoFactorSnapshot(t, ts, cora.ID), res, http.StatusBadRequest, msgs...)
		}
		post := func(body map[string]any) *apptest.Response {
			return ts.Client(t).Do(http.MethodPost, apptest.CheckpointPath, body)
		}
		tok := rtfLoginToken(t, ts, "cora", cora.Password)
		right, step := otp.Next(t)

		t.Run("validation", func(t *testing.T) {
			refused(t, post(map[string]any{"confirmation_token": tok}), "code: length is lower than 6")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": "12345"}), "code: length is lower than 6")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0] + "0"}), "code: length is greater than 10")
			refused(t, post(map[string]any{}), "code: length is lower than 6")
		})

		t.Run("bad tokens", func(t *testing.T) {
			for name, bad := range map[string]string{
				"missing":            "",
				"short":              "abc",
				"unknown":            secret.RandomString(48),
				"forged":             tok[:16] + secret.RandomString(32),
				"last character off": apptest.OffByOne(tok),
				"too long":           tok + "a",
				"not alphanumeric":   tok[:47] + "-",
				"all A":              strings.Repeat("A", 48),
			} {
				t.Run(name, func(t *testing.T) {
					refused(t, post(map[string]any{"confirmation_token": bad, "code": right}), "invalid confirmation token")
					refused(t, post(map[string]any{"confirmation_token": bad, "code": recovery[0]}), "invalid confirmation token")
				})
			}
		})

		t.Run("code length 7 to 9", func(t *testing.T) {
			for _, c := range []string{"1234567", "abcdefgh", recovery[0][:9]} {
				refused(t, post(map[string]any{"confirmation_token": tok, "code": c}), "invalid confirmation code length")
			}
		})

		t.Run("wrong codes", func(t *testing.T) {
			refused(t, post(map[string]any{"confirmation_token": tok, "code": apptest.WrongCode(t, otp.Secret)}), "invalid confirmation code")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": apptest.WrongRecoveryCode}), "invalid recovery code")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": apptest.CodeAt(t, otp.Secret, otp.Last)}), "this code has already been used")
		})

		t.Run("after the refusals the token and the code still work", func(t *testing.T) {
			// Three code attempts of the token's five are spent.
			_, res := rtfCheckpoint(t, ts, tok, right)
			rtfWantSignedIn(t, ts, res, cora.ID)
			otp.Accepted(step)
		})

		t.Run("used token", func(t *testing.T) {
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0]}), "invalid confirmation token")
			if n := apptest.TwoFactorSnapshot(t, ts, cora.ID).NumCodes; n != 10 {
				t.Errorf("the refused checkpoint spent a recovery code: %d left", n)
			}
		})

		t.Run("expired token", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "cora", cora.Password)
			apptest.ExpireLoginTokens(t, ts, cora.ID)
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0]}), "invalid confirmation token")
			refused(t, post(map[string]any{"confirmation_token": tok, "code": apptest.WrongCode(t, otp.Secret)}), "invalid confirmation token")
		})

		t.Run("token out of attempts", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "cora", cora.Password)
			for range 5 {
				before := apptest.TwoFactorSnapshot(t, ts, cora.ID)
				res := post(map[string]any{"confirmation_token": tok, "code": apptest.WrongRecoveryCode})
				apptest.WantErrors(t, res, http.StatusBadRequest, "invalid recovery code")
				apptest.TwoFactorUnchanged(t, ts, cora.ID, before)
				apptest.ResetAttempts(t, ts, cora.ID)
			}
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[0]}), "invalid confirmation token")
			// A new token works.
			_, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "cora", cora.Password), recovery[0])
			rtfWantSignedIn(t, ts, res, cora.ID)
		})

		t.Run("token of an account that turned two-factor off", func(t *testing.T) {
			tok := rtfLoginToken(t, ts, "cora", cora.Password)
			apptest.WantEmpty(t, cora.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": recovery[1], "password": cora.Password}))
			refused(t, post(map[string]any{"confirmation_token": tok, "code": recovery[2]}), "invalid confirmation token")
		})

		t.Run("no secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, append([]string{cora.Password, otp.Secret, tok}, recovery...)...)
			apptest.NoCodesInLog(t, ts, right)
		})
	})
}

func TestRESTTwoFactorPermission(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		kim := apptest.Register(t, ts, "kim", "kim password")
		const forbidden = "you do not have permission to perform this action: account.two-factor"
		for name, perms := range map[string][]string{
			"no permissions":    nil,
			"other permissions": {"account.email", "account.password", "account.infos", "api-keys.read"},
		} {
			t.Run(name, func(t *testing.T) {
				kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, kim.ID, apptest.KeyOpts{UserPermissions: perms}))
				before := apptest.TwoFactorSnapshot(t, ts, kim.ID)
				body := map[string]any{"code": "123456", "password": kim.Password}
				apptest.WantErrors(t, kc.Do(http.MethodGet, apptest.TwoFactorPath, nil), http.StatusForbidden, forbidden)
				apptest.WantErrors(t, kc.Do(http.MethodPost, apptest.TwoFactorPath, body), http.StatusForbidden, forbidden)
				apptest.WantErrors(t, kc.Do(http.MethodDelete, apptest.TwoFactorPath, body), http.StatusForbidden, forbidden)
				apptest.WantErrors(t, kc.Do(http.MethodPost, apptest.RecoveryPath, body), http.StatusForbidden, forbidden)
				// Validation comes before the permission.
				apptest.WantErrors(t, kc.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": "1"}), http.StatusBadRequest,
					"code: length is lower than 6")
				apptest.WantErrors(t, kc.Do(http.MethodDelete, apptest.TwoFactorPath, map[string]any{"code": "1"}), http.StatusBadRequest,
					"code: length is lower than 6")
				apptest.TwoFactorUnchanged(t, ts, kim.ID, before)
			})
		}

		kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, kim.ID, apptest.KeyOpts{UserPermissions: []string{"account.two-factor"}}))
		t.Run("a key with account.two-factor", func(t *testing.T) {
			otp := &apptest.OTP{Secret: rtfSetup(t, kc, kim.Email)}
			recovery := apptest.WantRecoveryCodes(t, kc.Do(http.MethodPost, apptest.TwoFactorPath,
				map[string]any{"code": apptest.MustNext(t, otp), "password": kim.Password}))
			apptest.WantRecoveryCodes(t, kc.Do(http.MethodPost, apptest.RecoveryPath, map[string]any{"code": recovery[0], "password": kim.Password}))
			events := apptest.Events(t, ts, kim.ID)
			if apptest.CountEvent(events, `account:two-factor.enable {}`) != 1 {
				t.Errorf("activity: %q", events)
			}
		})

		t.Run("permission before state", func(t *testing.T) {
			bare := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, kim.ID, apptest.KeyOpts{}))
			apptest.WantErrors(t, bare.Do(http.MethodGet, apptest.TwoFactorPath, nil), http.StatusForbidden, forbidden)
			apptest.WantErrors(t, bare.Do(http.MethodPost, apptest.TwoFactorPath, map[string]any{"code": "123456", "password": "x"}),
				http.StatusForbidden, forbidden)
		})
	})
}

func TestRESTTwoFactorGateAllUsers(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }, func(t *testing.T, ts *apptest.Server) {
		apptest.Register(t, ts, "admin", "admin password") // the first account is an admin; gina is not
		gina := apptest.Register(t, ts, "gina", "gina password")
		const required = "two-factor authentication required"

		t.Run("refused elsewhere", func(t *testing.T) {
			apptest.WantErrors(t, gina.Do(http.MethodGet, "/api/client/account/api-keys", nil), http.StatusForbidden, required)
			apptest.WantErrors(t, gina.Do(http.MethodGet, "/api/client/account/sessions", nil), http.StatusForbidden, required)
		})
		t.Run("the account page works", func(t *testing.T) {
			acc := restAccount(t, gina.Client)
			if acc["require_two_factor"] != true || acc["totp_enabled"] != false {
				t.Errorf("account: %v", acc)
			}
		})
		t.Run("logout works", func(t *testing.T) {
			c, res := apptest.Login(t, ts, "gina", gina.Password)
			apptest.WantStatus(t, res, http.StatusOK)
			apptest.WantEmpty(t, c.Do(http.MethodPost, "/api/client/account/logout", nil))
		})
		t.Run("the two-factor routes are reachable", func(t *testing.T) {
			body := map[string]any{"code": "123456", "password": gina.Password}
			apptest.WantErrors(t, gina.Do(http.MethodDelete, apptest.TwoFactorPath, body), http.StatusConflict, "two-factor authentication is not enabled")
			apptest.WantErrors(t, gina.Do(http.MethodPost, apptest.RecoveryPath, body), http.StatusConflict, "two-factor authentication is not enabled")
			apptest.WantErrors(t, gina.Do(http.MethodPost, apptest.TwoFactorPath, body), http.StatusUnauthorized, "two-factor authentication has not been configured")
		})

		otp, _ := rtfEnable(t, ts, gina)
		t.Run("enabled: let through", func(t *testing.T) {
			apptest.WantStatus(t, gina.Do(http.MethodGet, "/api/client/account/api-keys", nil), http.StatusOK)
			acc := restAccount(t, gina.Client)
			if acc["require_two_factor"] != true || acc["totp_enabled"] != true {
				t.Errorf("account: %v", acc)
			}
		})
		t.Run("a new login goes through the checkpoint and is let through", func(t *testing.T) {
			c, res := rtfCheckpoint(t, ts, rtfLoginToken(t, ts, "gina", gina.Password), apptest.MustNext(t, otp))
			rtfWantSignedIn(t, ts, res, gina.ID)
			apptest.WantStatus(t, c.Do(http.MethodGet, "/api/client/account/api-keys", nil), http.StatusOK)
		})
	})
}
