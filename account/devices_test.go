package account_test

import (
	"bytes"
	"testing"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// A sign-in from a known device is charged to the device's own budget:
// an attacker spending the account's budget from elsewhere does not lock
// the owner out of their browser, nor out of their sessions' password
// confirmations; and the device's own failures block only the device.
func TestAttemptsDeviceBudget(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		u := e.register("tfdevice")
		other := e.register("tfdeviceother")
		wrong := tfWrong(e, u)

		// The owner signs in and gets a device cookie, stored as a digest.
		res := e.mustLogin(t, "tfdevice", u.Password)
		dev := res.DeviceToken
		if len(dev) != 48 || res.Session.DeviceID == nil {
			t.Fatalf("device token %q, session device %v", dev, res.Session.DeviceID)
		}
		var digests [][]byte
		if err := e.d.NewSelect().Table("devices").Column("digest").Where("user_id = ?", u.ID).Scan(e.ctx, &digests); err != nil {
			t.Fatal(err)
		}
		if len(digests) != 1 || !bytes.Equal(digests[0], secret.Digest(dev)) {
			t.Fatalf("stored devices %x, want the token's digest only", digests)
		}
		ownerSession := res.SessionToken

		// An attacker without the cookie spends the account's budget.
		for range 5 {
			_, err := e.login(account.LoginInput{User: "tfdevice", Password: wrong})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
		}
		_, err := e.login(account.LoginInput{User: "tfdevice", Password: u.Password})
		tfWantRateLimited(t, err, 300)
		// Another account's device, or a made-up cookie, is no device of
		// this account: the account's budget.
		ores := e.mustLogin(t, "tfdeviceother", other.Password)
		_, err = e.login(account.LoginInput{User: "tfdevice", Password: u.Password, Device: ores.DeviceToken})
		tfWantRateLimited(t, err, 300)
		_, err = e.login(account.LoginInput{User: "tfdevice", Password: u.Password, Device: secret.RandomString(48)})
		tfWantRateLimited(t, err, 300)

		// The owner's browser still signs in, and keeps its cookie.
		res, err = e.login(account.LoginInput{User: "tfdevice", Password: u.Password, Device: dev})
		if err != nil {
			t.Fatalf("sign-in from the known device: %v", err)
		}
		if res.DeviceToken != dev {
			t.Errorf("device token changed on a known device")
		}
		// The owner's device session confirms changes.
		if err := tfUpdateEmail(e, &user{User: u.User, Password: u.Password, Token: ownerSession}, "tfdevice.new@example.com", u.Password); err != nil {
			t.Fatalf("confirmation of the owner's session: %v", err)
		}

		// The device's own failures spend only the device's budget.
		for range 5 {
			_, err := e.login(account.LoginInput{User: "tfdevice", Password: wrong, Device: dev})
			wantErr(t, err, model.CodeInvalidCredentials, "invalid username or password")
		}
		_, err = e.login(account.LoginInput{User: "tfdevice", Password: u.Password, Device: dev})
		tfWantRateLimited(t, err, 300)
		if c := tfAttempts(t, e, u); c.Failures != 5 {
			t.Errorf("account counter %+v, want the attacker's 5 failures only", c)
		}
	})
}

// The checkpoint gives the device cookie of a two-factor sign-in; the
// password step does not.
func TestAttemptsDeviceCheckpoint(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		a := tfEnabled(t, e, "tfdevicecp")
		res, err := e.login(account.LoginInput{User: "tfdevicecp", Password: a.Password})
		if err != nil || res.DeviceToken != "" || !res.TwoFactorRequired() {
			t.Fatalf("password step: %+v, %v", res, err)
		}
		res, err = tfCheckpoint(e, res.ConfirmationToken, tfNextCode(t, e, a))
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		if len(res.DeviceToken) != 48 || res.Session.DeviceID == nil {
			t.Fatalf("checkpoint device %q, session device %v", res.DeviceToken, res.Session.DeviceID)
		}
		// Presented again, it is kept.
		res2, err := e.login(account.LoginInput{User: "tfdevicecp", Password: a.Password, Device: res.DeviceToken})
		if err != nil {
			t.Fatal(err)
		}
		res2, err = e.svc.LoginCheckpoint(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA},
			account.CheckpointInput{ConfirmationToken: res2.ConfirmationToken, Code: tfNextCode(t, e, a), Device: res.DeviceToken})
		if res2 != nil {
			e.secret(res2.SessionToken)
		}
		if err != nil || res2.DeviceToken != res.DeviceToken || *res2.Session.DeviceID != *res.Session.DeviceID {
			t.Fatalf("second checkpoint: %+v, %v", res2, err)
		}
	})
}
