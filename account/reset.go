package account

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// Password reset by e-mail (REST.md §7). A request for an address mails
// its account a link with a single-use token; the token and a new password
// set the password and sign the account out everywhere.
//
// The request answers the same for every address, in body and in time.
// What a client could time is the work done before the answer, so that
// work is the same whatever the address: validation, the per-IP and the
// per-address limits (one counter write each, for every address alike)
// and one indexed lookup of the address. Everything that happens only for
// an account — the check of the quiet period, the token, the activity
// record and the mail, one transaction — runs after the answer
// (startBackground), so its cost never reaches the response. The answer
// does not wait for it, and its failure is logged, never answered: the
// same answer again.

// The token's form and life (REST.md §7.2).
const (
	resetTokenLen      = 96
	resetTokenLifetime = 20 * time.Minute
	// resetQuietPeriod is how long after a token no other is made for
	// the account, against mail bombing.
	resetQuietPeriod = 20 * time.Minute
	resetExpiresIn   = "20 minutes"
)

// ResetPasswordPath is the front end's page the reset mail links to, with
// the token as ?token= (REST.md §7.3).
const ResetPasswordPath = "/auth/reset-password"

// Limit is a fixed-window limit: at most Hits per Window.
type Limit struct {
	Hits   int
	Window time.Duration
}

// backgroundTimeout bounds the work started after an answer.
const backgroundTimeout = 30 * time.Second

// maxEventUserAgentLen bounds the user agent an activity record or a mail
// repeats, as the panel cuts it.
const maxEventUserAgentLen = 255

// RequestPasswordResetInput is a reset request: the address of the
// account.
type RequestPasswordResetInput struct {
	Email string
}

// RequestPasswordReset mails the account of in.Email, if there is one and
// it got no token in the last 20 minutes, a link that resets its password.
// Its answer is nil for every valid request, whatever the address.
func (s *Service) RequestPasswordReset(ctx context.Context, client model.Client, in RequestPasswordResetInput) error {
	var v model.Validation
	checkResetEmail(&v, "email", in.Email)
	if err := v.Err(); err != nil {
		return err
	}
	if err := s.limitIP(ctx, RateForgot); err != nil {
		return err
	}
	if err := s.limitAddress(ctx, in.Email); err != nil {
		return err
	}
	u, err := s.users.UserByLogin(ctx, in.Email, true)
	if err != nil {
		return model.Internal(err)
	}
	if u != nil {
		id := u.ID
		s.startBackground(ctx, "password reset mail", func(ctx context.Context) error {
			return s.mailResetToken(ctx, id, client)
		})
	}
	return nil
}

// forgotAddressKey is the counter of reset requests for one address, on
// the trimmed, case-folded address and stored only as its digest, so the
// counters hold no addresses.
func forgotAddressKey(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "forgot:" + hex.EncodeToString(sum[:16])
}

// limitAddress counts a reset request against the per-address limit
// (REST.md §7.1): the per-IP limit's numbers, on every address alike,
// known or not. It stays on with RATE_LIMIT=off: it protects the owner of
// the address, not the server.
func (s *Service) limitAddress(ctx context.Context, email string) error {
	now := s.now()
	l := s.cfg.ForgotLimit
	start, hits, err := s.throttle.Hit(ctx, forgotAddressKey(email), now, l.Window)
	if err != nil {
		return model.Internal(err)
	}
	if hits > l.Hits {
		return errRateLimited(start.Add(l.Window).Sub(now))
	}
	return nil
}

// errRateLimited is the refusal of a per-IP or per-address limit, worded
// as the HTTP layer words its own.
func errRateLimited(wait time.Duration) error {
	secs := model.RetrySeconds(wait)
	return &model.Error{Code: model.CodeRateLimited, Message: fmt.Sprintf("you are ratelimited, retry in %ds", secs),
		RetryAfter: time.Duration(secs) * time.Second}
}

// mailResetToken makes a token for the account and mails it, unless the
// account got one in the last 20 minutes; the token, its activity record
// and the mail commit together. It runs under the user's lock, so two
// requests racing for one account make one token.
func (s *Service) mailResetToken(ctx context.Context, userID uuid.UUID, client model.Client) error {
	return s.tx.InTx(ctx, func(ctx context.Context) error {
		if err := s.lockUser(ctx, userID); err != nil {
			return err
		}
		u, err := s.users.UserByID(ctx, userID)
		if err != nil || u == nil {
			return err // deleted meanwhile: nothing to send
		}
		now := s.now()
		recent, err := s.resetTokens.ResetTokenCreatedSince(ctx, u.ID, now.Add(-resetQuietPeriod))
		if err != nil || recent {
			return err
		}
		// Every earlier token has expired by now (the quiet period is its
		// lifetime): deleting them keeps one row per account at most.
		if _, err := s.resetTokens.DeleteResetTokens(ctx, u.ID); err != nil {
			return err
		}
		tok := secret.RandomString(resetTokenLen)
		err = s.resetTokens.CreateResetToken(ctx, &model.PasswordResetToken{ID: newID(), UserID: u.ID, KeyStart: tok[:keyStartLen],
			Digest: secret.Digest(tok), Created: now, Expires: now.Add(resetTokenLifetime)})
		if err != nil {
			return err
		}
		if err := s.record(ctx, u.ID, nil, client.IP, model.EventPasswordResetRequested, userAgentData(client.UserAgent)); err != nil {
			return err
		}
		return s.queueMail(ctx, u, u.Email, model.MailPasswordReset, model.MailData{
			Link: s.link(ResetPasswordPath, url.Values{"token": {tok}}), ExpiresIn: resetExpiresIn})
	})
}

// userAgentData is the {user_agent} of the reset's activity records, as
// the panel records it: cut to 255 bytes, "unknown" when none was sent.
func userAgentData(ua string) map[string]string {
	return map[string]string{"user_agent": eventUserAgent(ua)}
}

func eventUserAgent(ua string) string {
	if ua == "" {
		return "unknown"
	}
	return truncate(ua, maxEventUserAgentLen)
}

// ResetPasswordInput completes a reset: the mailed token and the new
// password.
type ResetPasswordInput struct {
	Token       string
	NewPassword string
	// RevokeAPIKeys also deletes every API key of the account.
	RevokeAPIKeys bool
}

// ResetPasswordResult says what the reset ended besides the old password.
type ResetPasswordResult struct {
	RevokedSessions int
	RevokedAPIKeys  int
}

// errInvalidResetToken is the one answer to a token that is unknown,
// expired, used or malformed (REST.md §7.2).
func errInvalidResetToken() error {
	return &model.Error{Code: model.CodeInvalid, Message: "invalid or expired token", Field: "token"}
}

// ResetPassword consumes a reset token and gives its account the new
// password. In the same transaction it signs the account out everywhere —
// every session and unfinished two-factor sign-in, and with RevokeAPIKeys
// every API key — since a reset is what someone locked out of a
// compromised account does. Two-factor stays as it was: the next sign-in
// still passes the checkpoint. It signs nobody in.
func (s *Service) ResetPassword(ctx context.Context, client model.Client, in ResetPasswordInput) (*ResetPasswordResult, error) {
	var v model.Validation
	checkLength(&v, "token", in.Token, resetTokenLen, resetTokenLen)
	checkLength(&v, "new_password", in.NewPassword, minPasswordLen, maxPasswordLen)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := s.limitIP(ctx, RateReset); err != nil {
		return nil, err
	}
	if !secret.IsAlphanumeric(in.Token) {
		return nil, errInvalidResetToken()
	}
	t, err := s.resetTokens.ResetTokenByKeyStart(ctx, in.Token[:keyStartLen])
	if err != nil {
		return nil, model.Internal(err)
	}
	if t == nil || !secret.DigestEqual(t.Digest, secret.Digest(in.Token)) || !s.now().Before(t.Expires) {
		return nil, errInvalidResetToken()
	}
	u, err := s.users.UserByID(ctx, t.UserID)
	if err != nil {
		return nil, model.Internal(err)
	}
	if u == nil {
		return nil, errInvalidResetToken()
	}
	if u.Frozen {
		return nil, errFrozen()
	}
	// The slow hash runs before the transaction, so it never holds the
	// user's lock; a token that fails below has cost one hash, and the
	// per-IP limit bounds those.
	hash, err := s.hasher.Hash(ctx, in.NewPassword)
	if err != nil {
		return nil, model.Internal(err)
	}
	res := &ResetPasswordResult{}
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		// A revocation of every credential: under the user's lock, so a
		// sign-in racing the reset either commits first and is ended here
		// or sees the new hash and fails (revocation.go).
		if err := s.lockUser(ctx, u.ID); err != nil {
			return err
		}
		ok, err := s.resetTokens.ConsumeResetToken(ctx, t.ID, s.now())
		if err != nil {
			return err
		}
		if !ok {
			return errInvalidResetToken()
		}
		cur, err := s.users.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur == nil {
			return errInvalidResetToken()
		}
		if cur.Frozen {
			return errFrozen() // rolled back: the token works again once the account is unfrozen
		}
		if err := s.users.SetPasswordHash(ctx, u.ID, hash, s.now()); err != nil {
			return err
		}
		// The link reached the owner through the address: it works.
		if err := s.emailVerifications.SetEmailVerified(ctx, u.ID); err != nil {
			return err
		}
		if res.RevokedSessions, err = s.sessions.DeleteOtherSessions(ctx, u.ID, nil); err != nil {
			return err
		}
		// A confirmation token was earned with the old password, and the
		// account's other reset links are spent with this one.
		if err := s.twoFactor.DeleteLoginTokens(ctx, u.ID); err != nil {
			return err
		}
		if _, err := s.resetTokens.DeleteResetTokens(ctx, u.ID); err != nil {
			return err
		}
		if in.RevokeAPIKeys {
			if res.RevokedAPIKeys, err = s.apiKeys.DeleteAPIKeys(ctx, u.ID); err != nil {
				return err
			}
		}
		if err := s.record(ctx, u.ID, nil, client.IP, model.EventPasswordReset, userAgentData(client.UserAgent)); err != nil {
			return err
		}
		return s.notice(ctx, cur, model.MailNoticePasswordChanged, client.IP, client.UserAgent, "")
	})
	if err != nil {
		return nil, model.AsError(err)
	}
	return res, nil
}

func errFrozen() error { return model.Errorf(model.CodeConflict, "account is frozen") }

// startBackground runs fn after the request that asked for it has been
// answered, with the request's values (its id, for the log) but not its
// cancellation, for at most backgroundTimeout. A failure is logged. Wait
// waits for every such run, so a server that stops lets them finish
// before it closes the database.
func (s *Service) startBackground(ctx context.Context, what string, fn func(ctx context.Context) error) {
	s.background.Add(1)
	run := func() {
		defer s.background.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backgroundTimeout)
		defer cancel()
		if err := fn(ctx); err != nil {
			s.log.ErrorContext(ctx, what+" failed", "error", err)
		}
	}
	if s.Background != nil {
		s.Background(run)
		return
	}
	go run()
}

// Wait returns once the work started after answers (a password reset's
// token and mail) has finished. The server calls it before it closes the
// database; tests, before they look for that work's results.
func (s *Service) Wait() { s.background.Wait() }
