package account

import (
	"accountd/model"
)

// gate names how much of an account's restricted state a route tolerates;
// it mirrors the route lists of REST.md §2.
type gate int

const (
	// gateDefault: refused to suspended users and to users who must but
	// have not enabled two-factor.
	gateDefault gate = iota
	// gateAccount: the account page itself (read, edit, logout) stays
	// reachable in every state, so a user can see and fix their situation.
	gateAccount
	// gateTwoFactor: the two-factor routes stay reachable for a user who
	// must enable two-factor, but not for a suspended one.
	gateTwoFactor
)

// enter checks that there is an authenticated actor and that its account
// may use a route of the given gate. It runs first in every method.
func (s *Service) enter(actor *model.Actor, g gate) error {
	if actor == nil || actor.User == nil {
		return model.Errorf(model.CodeUnauthenticated, "missing authorization")
	}
	u := actor.User
	if u.Suspended && g != gateAccount {
		return model.Errorf(model.CodeForbidden, "account is suspended")
	}
	if g == gateDefault && s.MustEnableTwoFactor(u) && !u.TOTPEnabled {
		return model.Errorf(model.CodeForbidden, "two-factor authentication required")
	}
	return nil
}

// admit runs the checks every account operation starts with, in the order
// the contract ranks their errors: an authenticated actor whose account may
// use the route (g), then the input's rules (invalid is the validation's
// result, computed by the caller, which must not depend on the actor),
// then the permission.
func (s *Service) admit(actor *model.Actor, g gate, invalid error, perm string) error {
	if err := s.enter(actor, g); err != nil {
		return err
	}
	if invalid != nil {
		return invalid
	}
	return s.require(actor, perm)
}

// require checks a user permission: session users hold every user
// permission, an API key exactly those listed on it.
func (s *Service) require(actor *model.Actor, perm string) error {
	if !actor.HasUserPermission(perm) {
		return model.Forbidden(perm)
	}
	return nil
}

// RequiresTwoFactor reports whether the panel's policy or an operator
// requires u to use two-factor authentication.
func (s *Service) RequiresTwoFactor(u *model.User) bool {
	switch {
	case u.RequireTwoFactor:
		return true
	case s.cfg.TwoFactorRequirement == TwoFactorAllUsers:
		return true
	case s.cfg.TwoFactorRequirement == TwoFactorAdmins:
		return u.Admin
	}
	return false
}

// MustEnableTwoFactor reports whether u is required to use two-factor and
// has not enabled it yet.
func (s *Service) MustEnableTwoFactor(u *model.User) bool {
	return s.RequiresTwoFactor(u) && !u.TOTPEnabled
}

// editable refuses changes to a frozen or suspended account.
func editable(u *model.User) error {
	if u.Frozen {
		return model.Errorf(model.CodeConflict, "account is frozen")
	}
	if u.Suspended {
		return model.Errorf(model.CodeConflict, "account is suspended")
	}
	return nil
}
