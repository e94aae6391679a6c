package account

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// Revocation must win every race: once a password change, "sign out
// everything else", a revoked session or a deleted or recreated key has
// committed, no credential minted by what it revoked, or by a sign-in that
// checked the password it replaced, may work — whatever the interleaving
// with requests already in flight, on either engine and across servers.
// A request's credential is checked by Authenticate before the operation
// runs, and a sign-in's password before its transaction begins, so those
// checks alone leave a window in which a revocation commits unseen. The
// guarantee therefore comes from the database:
//
//   - Every transaction that mints a credential (a session, a confirmation
//     token, a new or recreated API key) and every one that revokes
//     credentials begins with LockUser on the user. On PostgreSQL that is
//     a row lock, so those transactions of one user run one at a time,
//     across every server; SQLite's write transactions already do.
//   - Under the lock, a mint checks what entitles it: an authenticated
//     actor's own session or key must still be live (lockActor); a
//     sign-in's verified password hash must still be the user's
//     (signIn); a checkpoint's confirmation token must still exist (it is
//     consumed in the same transaction, and a password change deletes
//     them). A mint that fails its check creates nothing.
//   - Under the lock, a revocation deletes.
//
// Why this suffices under PostgreSQL's READ COMMITTED: the lock statement
// waits until the previous holder has committed, and each later statement
// of the transaction takes a fresh snapshot, so it sees everything that
// holder wrote. (The checks must be statements after the lock, never part
// of it: the lock statement's own snapshot predates the wait.) Of a mint M
// and a revocation R of one user, one holds the lock first:
//
//   - R first: M's check runs after R committed and sees R's work — the
//     session or key deleted, the hash replaced, the token gone — and M
//     is refused.
//   - M first: R's deletes run after M committed, see M's new row and
//     delete it too (if R revokes that kind of credential: a password
//     change with revokeApiKeys deletes the keys, revoke-others only
//     sessions, so a key minted before revoke-others stays, as it would
//     had it been created a minute earlier).
//
// Without R's lock, R's DELETE could take its snapshot while M's insert is
// uncommitted and miss it; without M's lock, M could check before R and
// insert after. On SQLite BEGIN IMMEDIATE gives the same order: one
// transaction at a time, each reading what the last committed.

// lockUser takes the user's lock for a transaction that revokes: call it
// first in the transaction.
func (s *Service) lockUser(ctx context.Context, userID uuid.UUID) error {
	return s.users.LockUser(ctx, userID)
}

// lockActor takes the lock of the actor's user and then checks, as
// Authenticate would answer the actor's next request, that the credential
// the actor authenticated with is still live: a session still stored and
// not idle, a key still stored, unexpired and with the secret the actor
// presented (a recreated key's old secret is revoked). Call it first in a
// transaction that mints a credential for an actor; it fails with the
// unauthenticated error of Authenticate when the credential was revoked.
func (s *Service) lockActor(ctx context.Context, actor *model.Actor) error {
	if err := s.users.LockUser(ctx, actor.User.ID); err != nil {
		return err
	}
	now := s.now()
	switch {
	case actor.Session != nil:
		sess, err := s.sessions.SessionByID(ctx, actor.User.ID, actor.Session.ID)
		if err != nil {
			return err
		}
		if sess == nil || !secret.DigestEqual(sess.Digest, actor.Session.Digest) || now.Sub(sess.LastUsed) > s.cfg.SessionDuration {
			return model.Errorf(model.CodeUnauthenticated, "invalid session")
		}
	case actor.APIKey != nil:
		k, err := s.apiKeys.APIKeyByID(ctx, actor.User.ID, actor.APIKey.ID, now)
		if err != nil {
			return err
		}
		if k == nil || !secret.DigestEqual(k.Digest, actor.APIKey.Digest) {
			return model.Errorf(model.CodeUnauthenticated, "invalid api key")
		}
	}
	return nil
}

// errHashChanged says the stored password hash is no longer the one a
// sign-in verified against.
var errHashChanged = errors.New("password hash changed since it was verified")

// signInRetries bounds how often a sign-in re-verifies its password
// against a hash that changed under it.
const signInRetries = 2

// signIn runs mint — the creation of a session or a confirmation token for
// a sign-in whose password was verified against u.PasswordHash — in a
// transaction that first takes u's lock and re-reads u, and mints only if
// the stored hash is still the one verified: a password change committed
// since then fails the sign-in as invalid credentials (see the comment at
// the top of this file). mint gets u as stored under the lock, so a
// two-factor switch made meanwhile decides which credential it mints.
//
// A hash can also change without the password changing: another sign-in
// of the same password replaced a legacy hash. So a changed hash is
// verified again, outside the lock (a slow hash must not hold it), and the
// transaction retried; the old password of a real change fails there.
func (s *Service) signIn(ctx context.Context, u *model.User, password string, mint func(ctx context.Context, u *model.User) error) error {
	for try := 0; ; try++ {
		verified := *u.PasswordHash
		var cur *model.User
		err := s.tx.InTx(ctx, func(ctx context.Context) error {
			if err := s.users.LockUser(ctx, u.ID); err != nil {
				return err
			}
			var err error
			if cur, err = s.users.UserByID(ctx, u.ID); err != nil {
				return err
			}
			if cur == nil || !cur.HasPassword() {
				return errInvalidLogin()
			}
			if *cur.PasswordHash != verified {
				return errHashChanged
			}
			return mint(ctx, cur)
		})
		if !errors.Is(err, errHashChanged) {
			return err
		}
		if try == signInRetries {
			return errInvalidLogin()
		}
		if _, err := s.verifyPassword(ctx, cur, password, errInvalidLogin()); err != nil {
			return err
		}
		u = cur
	}
}
