package rest_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"reflect"
	"testing"

	"accountd/account"
	"accountd/app"
	"accountd/app/apptest"
	"accountd/model"
)

func TestRESTTwoFactorRequirementAllUsers(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAllUsers }, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		for name, u := range map[string]*apptest.User{"admin": alice, "user": bob} {
			t.Run(name, func(t *testing.T) {
				t.Run("GET permissions refused", func(t *testing.T) {
					apptest.WantErrors(t, u.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusForbidden, "two-factor authentication required")
				})
				t.Run("PUT email refused", func(t *testing.T) {
					apptest.WantErrors(t, u.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "n@example.com", "password": u.Password}),
						http.StatusForbidden, "two-factor authentication required")
				})
				t.Run("PUT password refused", func(t *testing.T) {
					apptest.WantErrors(t, u.Do(http.MethodPut, "/api/client/account/password", map[string]any{"password": u.Password, "new_password": "new password"}),
						http.StatusForbidden, "two-factor authentication required")
				})
				t.Run("GET account works and says why", func(t *testing.T) {
					acc := restAccount(t, u.Client)
					restCheckFullUser(t, acc)
					if acc["require_two_factor"] != true || acc["totp_enabled"] != false {
						t.Errorf("require_two_factor = %v, totp_enabled = %v", acc["require_two_factor"], acc["totp_enabled"])
					}
				})
				t.Run("PATCH account works", func(t *testing.T) {
					apptest.WantEmpty(t, u.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Gated"}))
				})
				t.Run("logout works", func(t *testing.T) {
					c, res := apptest.Login(t, ts, u.Username, u.Password)
					apptest.WantStatus(t, res, http.StatusOK)
					if apptest.Get(res.JSON(t), "user", "require_two_factor") != true {
						t.Errorf("login user.require_two_factor = %v", apptest.Get(res.JSON(t), "user", "require_two_factor"))
					}
					apptest.WantEmpty(t, c.Do(http.MethodPost, "/api/client/account/logout", nil))
				})
				t.Run("API key: same gate", func(t *testing.T) {
					kc := apptest.KeyClient(t, ts, apptest.APIKey(t, ts, u.ID, apptest.KeyOpts{UserPermissions: []string{"account.email"}}))
					apptest.WantErrors(t, kc.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusForbidden, "two-factor authentication required")
					apptest.WantStatus(t, kc.Do(http.MethodGet, "/api/client/account", nil), http.StatusOK)
				})
			})
		}
		t.Run("enabled two-factor lifts the gate", func(t *testing.T) {
			restEnableTOTP(t, ts, bob.ID)
			apptest.WantStatus(t, bob.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusOK)
			acc := restAccount(t, bob.Client)
			if acc["totp_enabled"] != true || acc["require_two_factor"] != true {
				t.Errorf("account: %v", acc)
			}
		})
	})
}

func TestRESTTwoFactorRequirementAdmins(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.TwoFactorRequirement = account.TwoFactorAdmins }, func(t *testing.T, ts *apptest.Server) {
		admin := apptest.Register(t, ts, "admin", "admin password")
		user := apptest.Register(t, ts, "user", "user password")
		apptest.WantErrors(t, admin.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusForbidden, "two-factor authentication required")
		apptest.WantStatus(t, user.Do(http.MethodGet, "/api/client/permissions", nil), http.StatusOK)
		if restAccount(t, admin.Client)["require_two_factor"] != true || restAccount(t, user.Client)["require_two_factor"] != false {
			t.Errorf("require_two_factor wrong")
		}
	})
}

func TestRESTPermissionsCatalog(t *testing.T) {
	t.Parallel()
	var embedded any
	if err := json.Unmarshal(model.PermissionsJSON(), &embedded); err != nil {
		t.Fatalf("embedded catalog: %v", err)
	}
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		check := func(t *testing.T, c *apptest.Client) {
			t.Helper()
			res := c.Do(http.MethodGet, "/api/client/permissions", nil)
			apptest.WantStatus(t, res, http.StatusOK)
			var got any
			if err := json.Unmarshal(res.Body, &got); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			apptest.WantKeys(t, "permissions body", got.(map[string]any), []string{"user_permissions", "admin_permissions", "server_permissions"})
			if !reflect.DeepEqual(got, embedded) {
				t.Errorf("body differs from model.PermissionsJSON()")
			}
			t.Run("matches shared/spec/permissions.json", func(t *testing.T) {
				raw, err := os.ReadFile("../../shared/spec/permissions.json")
				if errors.Is(err, fs.ErrNotExist) {
					t.Skip("../../shared/spec/permissions.json is absent")
				}
				if err != nil {
					t.Fatal(err)
				}
				var spec any
				if err := json.Unmarshal(raw, &spec); err != nil {
					t.Fatalf("spec file: %v", err)
				}
				if !reflect.DeepEqual(got, spec) {
					t.Errorf("body differs from the contract's permissions.json")
				}
			})
			t.Run("shape", func(t *testing.T) {
				for list, groups := range got.(map[string]any) {
					for name, g := range groups.(map[string]any) {
						gm, ok := g.(map[string]any)
						if !ok {
							t.Errorf("%s.%s is not an object", list, name)
							continue
						}
						if _, ok := gm["description"].(string); !ok {
							t.Errorf("%s.%s.description is not a string", list, name)
						}
						perms, ok := gm["permissions"].(map[string]any)
						if !ok || len(perms) == 0 {
							t.Errorf("%s.%s.permissions is not a non-empty object", list, name)
						}
						for p, d := range perms {
							if _, ok := d.(string); !ok {
								t.Errorf("%s.%s.permissions.%s is not a string", list, name, p)
							}
						}
					}
				}
			})
		}
		t.Run("session", func(t *testing.T) { check(t, alice.Client) })
		t.Run("API key with no permissions", func(t *testing.T) {
			check(t, apptest.KeyClient(t, ts, apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{})))
		})
		t.Run("unauthenticated", func(t *testing.T) {
			apptest.WantErrors(t, ts.Client(t).Do(http.MethodGet, "/api/client/permissions", nil), http.StatusUnauthorized, "missing authorization")
		})
	})
}
