package account

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"accountd/model"
	"accountd/secret"
)

// Verified address changes (ours). With EMAIL_VERIFY_CHANGES on, a change
// of address takes effect only when the link mailed to the new address is
// opened, so an address the requester cannot read (a typo, someone else's)
// never becomes the account's, and the password resets and notices that
// follow keep reaching someone who asked for them. The old address is told
// at once, with the new one masked, so an owner whose session was stolen
// learns of the change before it can take effect. A pending change lives 24 hours (a day leaves room for a
// slow mailbox, and the link is single-use); a newer change replaces it,
// its link dead. The address must still be free when the link is opened.
//
// With EMAIL_VERIFY_SIGNUP on, a sign-up mails the new account a link of
// the same kind for its own address. Either link is confirmed by
// ConfirmEmail and marks the address verified (model.User.EmailVerified),
// as a used password reset does; an address set without a confirmation is
// not verified. Accounts older than the column count as verified
// (migration 0011). Unverified accounts can sign in and do everything else.

// The confirmation token's form and life. The form is the reset token's.
const (
	emailTokenLen             = 96
	emailVerificationLifetime = 24 * time.Hour
	emailExpiresIn            = "24 hours"
)

// ConfirmEmailPath is the front end's page the confirmation mails link to,
// with the token as ?token=; the page posts it to POST /api/auth/email/confirm
// (or the confirmEmailChange mutation).
const ConfirmEmailPath = "/auth/confirm-email"

// sameAddress reports whether a and b are one address as the accounts'
// uniqueness sees them (case-insensitive).
func sameAddress(a, b string) bool { return strings.ToLower(a) == strings.ToLower(b) }

// changeEmail makes email the actor's address — at once, or with
// EMAIL_VERIFY_CHANGES once the link mailed to it is opened — and returns
// the account as stored. A taken address is taken, returned as is. It runs
// under the user's lock and only while the actor's credential is live: it
// mints a confirmation token, and revokes the reset links and a pending
// change of the old address (revocation.go).
func (s *Service) changeEmail(ctx context.Context, actor *model.Actor, email string, taken *model.Error) (*model.User, error) {
	var updated *model.User
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockActor(ctx, actor); err != nil {
			return err
		}
		cur, err := s.users.UserByID(ctx, actor.User.ID)
		if err != nil {
			return err
		}
		if cur == nil {
			return model.Errorf(model.CodeUnauthenticated, "invalid session")
		}
		switch {
		case sameAddress(email, cur.Email):
			// Letter case only: the same mailbox, nothing to confirm.
			err = s.setEmailNow(ctx, actor, cur, email, false)
		case !s.cfg.EmailVerifyChanges:
			err = s.setEmailNow(ctx, actor, cur, email, true)
		default:
			err = s.requestEmailChange(ctx, actor, cur, email, taken)
		}
		if err != nil {
			return err
		}
		updated, err = s.users.UserByID(ctx, cur.ID)
		return err
	})
	var dup *model.DuplicateError
	switch {
	case errors.As(err, &dup):
		return nil, taken
	case err == error(taken):
		return nil, taken
	case err != nil:
		return nil, model.AsError(err)
	}
	return updated, nil
}

// setEmailNow changes the address at once (the panel's behaviour) and
// records account:email-changed. A new mailbox (moved) also ends what the
// old one could still do — its reset links and a pending change — and
// gets its notice.
func (s *Service) setEmailNow(ctx context.Context, actor *model.Actor, cur *model.User, email string, moved bool) error {
	if err := s.users.SetEmail(ctx, cur.ID, email, s.now()); err != nil {
		return err
	}
	if err := s.record(ctx, cur.ID, actor, actor.IP, model.EventEmailChanged, map[string]string{"old": cur.Email, "new": email}); err != nil {
		return err
	}
	if !moved {
		return s.withdrawChange(ctx, cur)
	}
	return s.leftAddress(ctx, actor, cur, email)
}

// withdrawChange deletes cur's pending change of address, if one is
// pending: asking for the current address again means the user no longer
// wants the other one. A sign-up's verification of the current address
// stays.
func (s *Service) withdrawChange(ctx context.Context, cur *model.User) error {
	ver, err := s.emailVerifications.PendingEmailVerification(ctx, cur.ID, s.now())
	if err != nil || ver == nil || sameAddress(ver.Email, cur.Email) {
		return err
	}
	_, err = s.emailVerifications.DeleteEmailVerifications(ctx, cur.ID)
	return err
}

// leftAddress ends what cur's current address could still do once the
// account moves to email — its password reset links and a pending change
// — and sends it the notice of the move.
func (s *Service) leftAddress(ctx context.Context, actor *model.Actor, cur *model.User, email string) error {
	if _, err := s.resetTokens.DeleteResetTokens(ctx, cur.ID); err != nil {
		return err
	}
	if _, err := s.emailVerifications.DeleteEmailVerifications(ctx, cur.ID); err != nil {
		return err
	}
	return s.changeNotice(ctx, cur, email, actor, false)
}

// changeNotice tells cur's current address that the account is moving to
// email, masked: the old address may no longer be the owner's. pending
// says the move still waits for the new address's confirmation.
func (s *Service) changeNotice(ctx context.Context, cur *model.User, email string, actor *model.Actor, pending bool) error {
	ev := &model.MailEvent{Time: s.now(), UserAgent: truncate(actor.UserAgent, maxEventUserAgentLen)}
	if actor.IP.IsValid() {
		ev.IP = actor.IP.Unmap().String()
	}
	return s.queueMail(ctx, cur, cur.Email, model.MailEmailChangeNotice, model.MailData{NewEmail: model.MaskEmail(email), Event: ev, Pending: pending})
}

// requestEmailChange stores a pending change to email, replacing an
// earlier one, mails its link to email and the notice to the current
// address, and records account:email-change-requested.
func (s *Service) requestEmailChange(ctx context.Context, actor *model.Actor, cur *model.User, email string, taken *model.Error) error {
	// The address must be free now; it is checked again when the link is
	// opened, since someone may take it meanwhile.
	other, err := s.users.UserByLogin(ctx, email, true)
	if err != nil {
		return err
	}
	if other != nil && other.ID != cur.ID {
		return taken
	}
	if err := s.startVerification(ctx, cur, email, model.MailEmailChangeConfirm); err != nil {
		return err
	}
	if err := s.record(ctx, cur.ID, actor, actor.IP, model.EventEmailChangeRequested, map[string]string{"old": cur.Email, "new": email}); err != nil {
		return err
	}
	// The reset links of the old address stay: until the change is
	// confirmed it is still the account's.
	return s.changeNotice(ctx, cur, email, actor, true)
}

// startVerification stores u's pending verification of email, replacing
// any earlier one, and mails email the link (template email_change_confirm
// or email_verify).
func (s *Service) startVerification(ctx context.Context, u *model.User, email, template string) error {
	tok := secret.RandomString(emailTokenLen)
	now := s.now()
	err := s.emailVerifications.ReplaceEmailVerification(ctx, &model.EmailVerification{ID: newID(), UserID: u.ID, Email: email,
		KeyStart: tok[:keyStartLen], Digest: secret.Digest(tok), Created: now, Expires: now.Add(emailVerificationLifetime)})
	if err != nil {
		return err
	}
	d := model.MailData{Link: s.link(ConfirmEmailPath, url.Values{"token": {tok}}), ExpiresIn: emailExpiresIn}
	if template == model.MailEmailChangeConfirm {
		d.NewEmail = email
	}
	return s.queueMail(ctx, u, email, template, d)
}

// ConfirmEmailInput is the token of a confirmation link.
type ConfirmEmailInput struct {
	Token string
}

// errInvalidEmailToken is the one answer to a confirmation token that is
// unknown, expired, used or malformed.
func errInvalidEmailToken() error {
	return &model.Error{Code: model.CodeInvalid, Message: "invalid or expired token", Field: "token"}
}

// ConfirmEmail consumes a confirmation token: the pending address becomes
// the account's, verified (or, for a sign-up's link, the account's own
// address is marked verified). No credentials are needed — the link may be
// opened in any browser — and nobody is signed in. The address must still
// be free: otherwise "email already in use", and the link stays valid. A
// frozen or suspended account refuses the change.
func (s *Service) ConfirmEmail(ctx context.Context, client model.Client, in ConfirmEmailInput) (*model.User, error) {
	var v model.Validation
	checkLength(&v, "token", in.Token, emailTokenLen, emailTokenLen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if !secret.IsAlphanumeric(in.Token) {
		return nil, errInvalidEmailToken()
	}
	ver, err := s.emailVerifications.EmailVerificationByKeyStart(ctx, in.Token[:keyStartLen])
	if err != nil {
		return nil, model.Internal(err)
	}
	if ver == nil || !secret.DigestEqual(ver.Digest, secret.Digest(in.Token)) || !s.now().Before(ver.Expires) {
		return nil, errInvalidEmailToken()
	}
	var updated *model.User
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		// It revokes the old address's reset links: under the user's lock
		// (revocation.go).
		if err := s.lockUser(ctx, ver.UserID); err != nil {
			return err
		}
		ok, err := s.emailVerifications.ConsumeEmailVerification(ctx, ver.ID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errInvalidEmailToken()
		}
		cur, err := s.users.UserByID(ctx, ver.UserID)
		if err != nil {
			return err
		}
		if cur == nil {
			return errInvalidEmailToken()
		}
		if err := editable(cur); err != nil {
			return err
		}
		if sameAddress(ver.Email, cur.Email) {
			// The account's own address (a sign-up's link), kept as it is
			// spelt now.
			if err := s.emailVerifications.SetEmailVerified(ctx, cur.ID); err != nil {
				return err
			}
			if err := s.record(ctx, cur.ID, nil, client.IP, model.EventEmailVerified, map[string]string{"email": cur.Email}); err != nil {
				return err
			}
		} else {
			if err := s.emailVerifications.ConfirmEmail(ctx, cur.ID, ver.Email, s.now()); err != nil {
				return err
			}
			// Links mailed to the old address stop working.
			if _, err := s.resetTokens.DeleteResetTokens(ctx, cur.ID); err != nil {
				return err
			}
			if err := s.record(ctx, cur.ID, nil, client.IP, model.EventEmailChanged, map[string]string{"old": cur.Email, "new": ver.Email}); err != nil {
				return err
			}
		}
		updated, err = s.users.UserByID(ctx, cur.ID)
		return err
	})
	var dup *model.DuplicateError
	if errors.As(err, &dup) {
		return nil, model.Errorf(model.CodeConflict, "email already in use")
	}
	if err != nil {
		return nil, model.AsError(err)
	}
	return updated, nil
}

// PendingEmail returns the address u is changing to, waiting for its
// confirmation, or nil. u is a user the caller already holds (the viewer).
func (s *Service) PendingEmail(ctx context.Context, u *model.User) (*string, error) {
	ver, err := s.emailVerifications.PendingEmailVerification(ctx, u.ID, s.now())
	if err != nil {
		return nil, model.Internal(err)
	}
	if ver == nil || sameAddress(ver.Email, u.Email) {
		return nil, nil
	}
	return &ver.Email, nil
}
