package account_test

import (
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// gatedCalls are the account operations with the gate each one passes
// through; the inputs are valid, so a refusal comes from the gate.
type gatedCall struct {
	name string
	// account: reachable in every account state (gateAccount).
	account bool
	call    func(e *env, a *model.Actor, u *user) error
}

func gatedCalls() []gatedCall {
	return []gatedCall{
		{"Viewer", true, func(e *env, a *model.Actor, _ *user) error { _, err := e.svc.Viewer(e.ctx, a); return err }},
		{"UpdateAccountEmpty", true, func(e *env, a *model.Actor, _ *user) error {
			_, err := e.svc.UpdateAccount(e.ctx, a, account.UpdateAccountInput{})
			return err
		}},
		{"PermissionCatalog", false, func(e *env, a *model.Actor, _ *user) error {
			_, err := e.svc.PermissionCatalog(e.ctx, a)
			return err
		}},
		{"UpdateEmail", false, func(e *env, a *model.Actor, u *user) error {
			_, err := e.svc.UpdateEmail(e.ctx, a, account.UpdateEmailInput{Email: "gated@example.com", Password: u.Password})
			return err
		}},
		{"ChangePassword", false, func(e *env, a *model.Actor, u *user) error {
			_, err := e.svc.ChangePassword(e.ctx, a, account.ChangePasswordInput{Password: u.Password, NewPassword: "gated-new-password"})
			return err
		}},
	}
}

// checkGates runs every gated call for u and expects the default-gate ones
// to fail with code/msg, the account ones to succeed; Logout last.
func checkGates(t *testing.T, e *env, u *user, code model.Code, msg string) {
	t.Helper()
	actor := e.actor(u.Token)
	hash := e.passwordHash(u.User)
	for _, c := range gatedCalls() {
		t.Run(c.name, func(t *testing.T) {
			err := c.call(e, actor, u)
			if c.account {
				if err != nil {
					t.Fatalf("%s: %v, want it reachable", c.name, err)
				}
				return
			}
			wantErr(t, err, code, msg)
		})
	}
	if e.passwordHash(u.User) != hash {
		t.Error("password changed behind the gate")
	}
	if e.reload(u.User).Email == "gated@example.com" {
		t.Error("email changed behind the gate")
	}
	t.Run("UpdateAccountChange", func(t *testing.T) {
		if _, err := e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{NameFirst: ptr("Gated")}); err != nil {
			t.Errorf("update account: %v, want it reachable", err)
		}
	})
	t.Run("Logout", func(t *testing.T) {
		if err := e.svc.Logout(e.ctx, actor); err != nil {
			t.Errorf("logout: %v, want it reachable", err)
		}
	})
}

func TestGateTwoFactorAllUsers(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.TwoFactorRequirement = account.TwoFactorAllUsers
		e := newEnv(t, d, cfg)
		admin := e.register("admin")
		plain := e.register("plain")
		if !admin.Admin || plain.Admin {
			t.Fatal("setup: admin flags")
		}
		for _, u := range []*user{admin, plain} {
			t.Run(u.Username, func(t *testing.T) {
				if !e.svc.RequiresTwoFactor(u.User) || !e.svc.MustEnableTwoFactor(u.User) {
					t.Error("RequiresTwoFactor/MustEnableTwoFactor = false under all_users")
				}
				checkGates(t, e, u, model.CodeForbidden, "two-factor authentication required")
			})
		}
		t.Run("APIKeyActor", func(t *testing.T) {
			key, _ := e.newAPIKey(plain.User, keyOpts{UserPerms: []string{model.PermAccountEmail}})
			_, err := e.svc.PermissionCatalog(e.ctx, e.keyActor(key))
			wantErr(t, err, model.CodeForbidden, "two-factor authentication required")
		})
		t.Run("TwoFactorEnabledPasses", func(t *testing.T) {
			e.setColumn(plain.User, "totp_enabled", true)
			tok := e.newSession(plain.User)
			a := e.actor(tok)
			if e.svc.MustEnableTwoFactor(a.User) {
				t.Error("MustEnableTwoFactor = true with two-factor on")
			}
			if _, err := e.svc.PermissionCatalog(e.ctx, a); err != nil {
				t.Errorf("permission catalog: %v", err)
			}
		})
	})
}

func TestGateTwoFactorAdmins(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.TwoFactorRequirement = account.TwoFactorAdmins
		e := newEnv(t, d, cfg)
		admin := e.register("admin")
		plain := e.register("plain")
		t.Run("Admin", func(t *testing.T) {
			checkGates(t, e, admin, model.CodeForbidden, "two-factor authentication required")
		})
		t.Run("NonAdmin", func(t *testing.T) {
			a := e.actor(plain.Token)
			if e.svc.RequiresTwoFactor(a.User) {
				t.Error("RequiresTwoFactor = true for a non-admin under admins")
			}
			if _, err := e.svc.PermissionCatalog(e.ctx, a); err != nil {
				t.Errorf("permission catalog: %v", err)
			}
			if _, err := e.svc.UpdateEmail(e.ctx, a, account.UpdateEmailInput{Email: "plain2@example.com", Password: plain.Password}); err != nil {
				t.Errorf("update email: %v", err)
			}
		})
		t.Run("NonAdminWithOperatorRequirement", func(t *testing.T) {
			e.setColumn(plain.User, "require_two_factor", true)
			checkGates(t, e, plain, model.CodeForbidden, "two-factor authentication required")
		})
	})
}

func TestGateNoRequirement(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		admin := e.register("admin")
		plain := e.register("plain")
		for _, u := range []*user{admin, plain} {
			a := e.actor(u.Token)
			if e.svc.RequiresTwoFactor(a.User) {
				t.Errorf("%s: RequiresTwoFactor = true under none", u.Username)
			}
			c, err := e.svc.PermissionCatalog(e.ctx, a)
			if err != nil {
				t.Fatalf("permission catalog: %v", err)
			}
			if !c.Has("user", model.PermAccountInfos) || !c.Has("user", model.PermAPIKeysCreate) || len(c.AllUser()) == 0 {
				t.Errorf("catalog lacks the account permissions: %v", c.AllUser())
			}
		}
		t.Run("OperatorRequirement", func(t *testing.T) {
			e.setColumn(plain.User, "require_two_factor", true)
			checkGates(t, e, plain, model.CodeForbidden, "two-factor authentication required")
		})
		t.Run("ErrNoActor", func(t *testing.T) {
			for _, c := range gatedCalls() {
				wantErr(t, c.call(e, nil, plain), model.CodeUnauthenticated, "missing authorization")
			}
		})
		t.Run("RecoveryCodesRemaining", func(t *testing.T) {
			n, err := e.svc.RecoveryCodesRemaining(e.ctx, e.actor(admin.Token).User)
			if err != nil || n != 0 {
				t.Errorf("recovery codes = %d, %v; want 0", n, err)
			}
		})
	})
}

func TestGateSuspended(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		e.setFlags(alice.User, false, true)
		actor := e.actor(alice.Token)
		if !actor.User.Suspended {
			t.Fatal("setup: the actor is not suspended")
		}
		u, err := e.svc.Viewer(e.ctx, actor)
		if err != nil || !u.Suspended {
			t.Fatalf("viewer = %+v, %v; want the suspended user", u, err)
		}
		for _, c := range gatedCalls() {
			t.Run(c.name, func(t *testing.T) {
				err := c.call(e, actor, alice)
				if c.name == "UpdateAccountEmpty" {
					// Reachable, but a suspended account cannot be edited:
					// the state check comes before the (empty) work.
					wantErr(t, err, model.CodeConflict, "account is suspended")
					return
				}
				if c.account {
					if err != nil {
						t.Fatalf("%s: %v, want it reachable", c.name, err)
					}
					return
				}
				wantErr(t, err, model.CodeForbidden, "account is suspended")
			})
		}
		t.Run("UpdateAccountChange", func(t *testing.T) {
			_, err := e.svc.UpdateAccount(e.ctx, actor, account.UpdateAccountInput{NameFirst: ptr("X")})
			wantErr(t, err, model.CodeConflict, "account is suspended")
		})
		t.Run("APIKeyActor", func(t *testing.T) {
			key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAccountPassword}})
			a := e.keyActor(key)
			_, err := e.svc.PermissionCatalog(e.ctx, a)
			wantErr(t, err, model.CodeForbidden, "account is suspended")
			_, err = e.svc.ChangePassword(e.ctx, a, account.ChangePasswordInput{Password: alice.Password, NewPassword: "new-password-1"})
			wantErr(t, err, model.CodeForbidden, "account is suspended")
		})
		t.Run("SuspendedAndTwoFactorRequired", func(t *testing.T) {
			cfg := defaultConfig()
			cfg.TwoFactorRequirement = account.TwoFactorAllUsers
			_, err := e.withConfig(cfg).svc.PermissionCatalog(e.ctx, e.actor(alice.Token))
			wantErr(t, err, model.CodeForbidden, "account is suspended")
		})
		t.Run("Logout", func(t *testing.T) {
			if err := e.svc.Logout(e.ctx, actor); err != nil {
				t.Fatalf("logout: %v", err)
			}
			_, err := e.svc.Authenticate(e.ctx, cookie(alice.Token))
			wantErr(t, err, model.CodeUnauthenticated, "invalid session")
		})
		t.Run("Unsuspended", func(t *testing.T) {
			e.setFlags(alice.User, false, false)
			tok := e.newSession(alice.User)
			if _, err := e.svc.PermissionCatalog(e.ctx, e.actor(tok)); err != nil {
				t.Errorf("after lifting the suspension: %v", err)
			}
		})
	})
}
