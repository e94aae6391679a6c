package account

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"accountd/model"
	"accountd/secret"
)

// Device cookies (OWASP Authentication cheat sheet, "device cookies"): a
// completed sign-in gives the browser a long-lived random token for that
// account, stored only as a digest in the devices table. A later password
// sign-in presenting it for the same account is charged to the device's
// own budget (the account's rules, on the device's row) instead of the
// account's, so an attacker who spends the account's budget from
// elsewhere does not lock the owner out of their known browsers. Without
// a known device a sign-in shares the account's budget. Codes are always
// charged to the account: a device cookie stands in for no factor.
const deviceTokenLen = 48

// DeviceLifetime is how long a browser keeps its device cookie.
const DeviceLifetime = 365 * 24 * time.Hour

// deviceStripe is the mutex that serialises the checks of device id on
// this server. Charging before the check bounds parallel guesses, but it
// also makes parallel right passwords look like a spent budget while they
// are being checked; a known device is its owner's browser, whose parallel
// sign-ins (tabs, retries) must all succeed, so its checks are taken one
// after another instead: each charge is refunded before the next is
// looked at. Striped, so memory stays bounded whatever the number of
// devices. Across several servers (PostgreSQL) the row lock still bounds
// the guesses, and simultaneous sign-ins of one device on different
// servers may see each other's charges.
func (s *Service) deviceStripe(id uuid.UUID) *sync.Mutex {
	return &s.deviceStripes[int(id[15])%len(s.deviceStripes)]
}

// presentedDevice returns the device a sign-in presented a cookie of, or
// nil. It is looked up before the account, whether or not one exists, so
// the lookup costs every sign-in with a cookie the same.
func (s *Service) presentedDevice(ctx context.Context, token string) (*model.Device, error) {
	if len(token) != deviceTokenLen || !secret.IsAlphanumeric(token) {
		return nil, nil
	}
	d, err := s.attempts.DeviceByDigest(ctx, secret.Digest(token))
	if err != nil {
		return nil, model.Internal(err)
	}
	return d, nil
}

// signInBudget is the budget a password sign-in of userID is charged to:
// the presented device's own when it is one of the account's.
func signInBudget(userID uuid.UUID, dev *model.Device) budget {
	if dev != nil && dev.UserID == userID {
		return budget{userID: userID, deviceID: &dev.ID}
	}
	return accountBudget(userID)
}

// signInDevice is issueDevice for u signing in from client: a new device
// (a browser the account has not signed in from, or that lost its cookie)
// also mails the account the new-device notice (notices.go), in the same
// transaction. Every sign-in that mints a session calls this.
func (s *Service) signInDevice(ctx context.Context, u *model.User, client model.Client, presented string, dev *model.Device) (string, uuid.UUID, error) {
	tok, id, err := s.issueDevice(ctx, u.ID, presented, dev)
	if err != nil || (dev != nil && dev.ID == id) {
		return tok, id, err
	}
	return tok, id, s.notice(ctx, u, model.MailNoticeNewDevice, client.IP, client.UserAgent, truncate(client.UserAgent, maxEventUserAgentLen))
}

// completeSignIn hands out what a sign-in that passed its second step
// (the checkpoint, a security key) gets, inside the caller's transaction
// and after its lockUser: the device cookie (a new device noted and told),
// the session, the account as it now is, and the auth:success record of
// how (using). It fills res.
func (s *Service) completeSignIn(ctx context.Context, u *model.User, client model.Client, presented string, dev *model.Device, res *LoginResult, using any) error {
	var (
		deviceID uuid.UUID
		err      error
	)
	if res.DeviceToken, deviceID, err = s.signInDevice(ctx, u, client, presented, dev); err != nil {
		return err
	}
	if res.SessionToken, res.Session, err = s.startSession(ctx, u, client, &deviceID); err != nil {
		return err
	}
	if res.User, err = s.users.UserByID(ctx, u.ID); err != nil {
		return err
	}
	return s.record(ctx, u.ID, nil, client.IP, model.EventAuthSuccess, using)
}

// issueDevice runs in a sign-in's minting transaction and returns the
// device token the response sets, and the device's id for the session:
// the presented device, touched, when it is the account's; otherwise a
// new one.
func (s *Service) issueDevice(ctx context.Context, userID uuid.UUID, presented string, dev *model.Device) (string, uuid.UUID, error) {
	now := s.now()
	if dev != nil && dev.UserID == userID {
		return presented, dev.ID, s.attempts.TouchDevice(ctx, dev.ID, now)
	}
	tok := secret.RandomString(deviceTokenLen)
	d := &model.Device{ID: newID(), UserID: userID, Digest: secret.Digest(tok), Created: now, LastUsed: now}
	return tok, d.ID, s.attempts.CreateDevice(ctx, d)
}
