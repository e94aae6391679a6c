package db_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// newAPIKey returns a key of userID named name, with a fresh secret.
func newAPIKey(userID uuid.UUID, name string) *model.APIKey {
	tok := secret.RandomString(48)
	return &model.APIKey{ID: uuid.New(), UserID: userID, Name: name, KeyStart: tok[:16], Digest: secret.Digest(tok),
		Created: time.Now().UTC().Truncate(time.Microsecond)}
}

// A duplicate still reaches the service as *model.DuplicateError through
// the operation's prefix.
func TestErrorsDuplicateThroughWrap(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		u := newUser("alice")
		if err := s.CreateUser(ctx, u, false); err != nil {
			t.Fatal(err)
		}

		dup := newUser("ALICE")
		dup.Email = "other@example.com"
		err := s.CreateUser(ctx, dup, false)
		var de *model.DuplicateError
		if !errors.As(err, &de) || de.Field != "username" {
			t.Fatalf("CreateUser = %v, want a duplicate username", err)
		}
		if got, want := err.Error(), "db.CreateUser: duplicate username"; got != want {
			t.Fatalf("CreateUser error = %q, want %q", got, want)
		}

		first, second := newAPIKey(u.ID, "one"), newAPIKey(u.ID, "two")
		for _, k := range []*model.APIKey{first, second} {
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		name := first.Name
		err = s.UpdateAPIKey(ctx, second.ID, model.APIKeyPatch{Name: &name})
		de = nil
		if !errors.As(err, &de) || de.Field != "name" {
			t.Fatalf("UpdateAPIKey = %v, want a duplicate name", err)
		}
		if !strings.HasPrefix(err.Error(), "db.UpdateAPIKey: ") {
			t.Fatalf("UpdateAPIKey error = %q, want it to name the operation", err)
		}

		// Inside a transaction the duplicate is the same, and InTx hands
		// fn's error back untouched.
		err = s.InTx(ctx, func(ctx context.Context) error { return s.CreateUser(ctx, dup, false) })
		de = nil
		if !errors.As(err, &de) || err.Error() != "db.CreateUser: duplicate username" {
			t.Fatalf("InTx(CreateUser) = %v, want the duplicate as CreateUser returned it", err)
		}
		mine := model.Errorf(model.CodeConflict, "no")
		err = s.InTx(ctx, func(context.Context) error { return mine })
		if me := model.AsError(err); me != mine || err.Error() != mine.Error() {
			t.Fatalf("InTx(fn) = %v, want fn's *model.Error unchanged", err)
		}
	})
}

// Every Store method's unexpected error names the method and still
// satisfies errors.Is with its cause.
func TestErrorsNameTheOperation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := db.NewStore(d)
		now := time.Now().UTC()
		id := uuid.New()
		name := "n"
		lq := model.ListQuery{Keyset: true, First: 10}
		calls := map[string]func(ctx context.Context) error{
			"CreateUser":          func(ctx context.Context) error { return s.CreateUser(ctx, newUser("x"), true) },
			"UserByID":            func(ctx context.Context) error { _, err := s.UserByID(ctx, id); return err },
			"UserByLogin":         func(ctx context.Context) error { _, err := s.UserByLogin(ctx, "x", false); return err },
			"UpdateUser":          func(ctx context.Context) error { return s.UpdateUser(ctx, id, model.UserPatch{NameFirst: &name}, now) },
			"SetEmail":            func(ctx context.Context) error { return s.SetEmail(ctx, id, "x@example.com", now) },
			"SetPasswordHash":     func(ctx context.Context) error { return s.SetPasswordHash(ctx, id, "h", now) },
			"UpgradePasswordHash": func(ctx context.Context) error { return s.UpgradePasswordHash(ctx, id, "o", "h") },
			"SetUserFlags":        func(ctx context.Context) error { return s.SetUserFlags(ctx, id, false, false, false) },
			"SetUserFlag":         func(ctx context.Context) error { _, err := s.SetUserFlag(ctx, id, model.FlagAdmin, true); return err },
			"ListUsers":           func(ctx context.Context) error { _, _, err := s.ListUsers(ctx, lq); return err },
			"DeleteUser":          func(ctx context.Context) error { _, err := s.DeleteUser(ctx, id); return err },
			"EnqueueMail":         func(ctx context.Context) error { return s.EnqueueMail(ctx, &model.Mail{ID: id, To: "x@example.com"}) },
			"ClaimMail":           func(ctx context.Context) error { _, err := s.ClaimMail(ctx, now, time.Minute, 10); return err },
			"MarkMailSent":        func(ctx context.Context) error { _, err := s.MarkMailSent(ctx, id, now); return err },
			"RetryMail":           func(ctx context.Context) error { _, err := s.RetryMail(ctx, id, now, "e"); return err },
			"FailMail":            func(ctx context.Context) error { _, err := s.FailMail(ctx, id, now, "e"); return err },
			"MailBacklog":         func(ctx context.Context) error { _, _, err := s.MailBacklog(ctx); return err },
			"DeleteFinishedMail":  func(ctx context.Context) error { _, err := s.DeleteFinishedMail(ctx, now, 10); return err },
			"EnsurePendingTOTPSecret": func(ctx context.Context) error {
				_, err := s.EnsurePendingTOTPSecret(ctx, id, "s", now, now)
				return err
			},
			"EnableTwoFactor":          func(ctx context.Context) error { _, err := s.EnableTwoFactor(ctx, id, "s", 1, now, nil); return err },
			"UseTOTPStep":              func(ctx context.Context) error { _, err := s.UseTOTPStep(ctx, id, 1, now); return err },
			"DisableTwoFactor":         func(ctx context.Context) error { _, err := s.DisableTwoFactor(ctx, id, now); return err },
			"SetTwoFactor":             func(ctx context.Context) error { return s.SetTwoFactor(ctx, id, false, nil) },
			"CountRecoveryCodes":       func(ctx context.Context) error { _, err := s.CountRecoveryCodes(ctx, id); return err },
			"ReplaceRecoveryCodes":     func(ctx context.Context) error { return s.ReplaceRecoveryCodes(ctx, id, nil, [][]byte{{1}}, now) },
			"UseRecoveryCode":          func(ctx context.Context) error { _, err := s.UseRecoveryCode(ctx, id, []byte{1}); return err },
			"CreateLoginToken":         func(ctx context.Context) error { return s.CreateLoginToken(ctx, &model.LoginToken{ID: id, UserID: id}) },
			"LoginTokenByKeyStart":     func(ctx context.Context) error { _, _, err := s.LoginTokenByKeyStart(ctx, "k"); return err },
			"CountLoginTokenAttempt":   func(ctx context.Context) error { _, err := s.CountLoginTokenAttempt(ctx, id, 3); return err },
			"ConsumeLoginToken":        func(ctx context.Context) error { _, err := s.ConsumeLoginToken(ctx, id); return err },
			"DeleteLoginTokens":        func(ctx context.Context) error { return s.DeleteLoginTokens(ctx, id) },
			"DeleteExpiredLoginTokens": func(ctx context.Context) error { _, err := s.DeleteExpiredLoginTokens(ctx, now, 10); return err },
			"LockAttempts":             func(ctx context.Context) error { _, err := s.LockAttempts(ctx, id, now); return err },
			"SaveAttempts":             func(ctx context.Context) error { return s.SaveAttempts(ctx, &model.AttemptCounter{UserID: id}) },
			"DeleteStaleLoginAttempts": func(ctx context.Context) error { _, err := s.DeleteStaleLoginAttempts(ctx, now, 10); return err },
			"LockDeviceAttempts":       func(ctx context.Context) error { _, err := s.LockDeviceAttempts(ctx, id, now); return err },
			"CreateDevice":             func(ctx context.Context) error { return s.CreateDevice(ctx, &model.Device{ID: id, UserID: id}) },
			"DeviceByDigest":           func(ctx context.Context) error { _, err := s.DeviceByDigest(ctx, []byte("d")); return err },
			"TouchDevice":              func(ctx context.Context) error { return s.TouchDevice(ctx, id, now) },
			"LockLoginAttempts": func(ctx context.Context) error {
				_, err := s.LockLoginAttempts(ctx, "nobody", false, now)
				return err
			},
			"CreateSession":          func(ctx context.Context) error { return s.CreateSession(ctx, &model.Session{ID: id, UserID: id}) },
			"SessionByKeyStart":      func(ctx context.Context) error { _, _, err := s.SessionByKeyStart(ctx, "k"); return err },
			"SessionByID":            func(ctx context.Context) error { _, err := s.SessionByID(ctx, id, id); return err },
			"TouchSession":           func(ctx context.Context) error { _, err := s.TouchSession(ctx, id, "ip", "ua", now, now); return err },
			"DeleteSession":          func(ctx context.Context) error { _, err := s.DeleteSession(ctx, id, id); return err },
			"DeleteSessionReturning": func(ctx context.Context) error { _, err := s.DeleteSessionReturning(ctx, id, id); return err },
			"DeleteOtherSessions":    func(ctx context.Context) error { _, err := s.DeleteOtherSessions(ctx, id, nil); return err },
			"ListSessions":           func(ctx context.Context) error { _, _, err := s.ListSessions(ctx, id, now, lq); return err },
			"CountSessions":          func(ctx context.Context) error { _, err := s.CountSessions(ctx, id, now, ""); return err },
			"DeleteIdleSessions":     func(ctx context.Context) error { _, err := s.DeleteIdleSessions(ctx, now, 10); return err },
			"APIKeyByKeyStart":       func(ctx context.Context) error { _, _, err := s.APIKeyByKeyStart(ctx, "k"); return err },
			"TouchAPIKey":            func(ctx context.Context) error { return s.TouchAPIKey(ctx, id, now, now) },
			"CreateAPIKey":           func(ctx context.Context) error { return s.CreateAPIKey(ctx, newAPIKey(id, "k")) },
			"CountLiveAPIKeys":       func(ctx context.Context) error { _, err := s.CountLiveAPIKeys(ctx, id, now); return err },
			"APIKeyByID":             func(ctx context.Context) error { _, err := s.APIKeyByID(ctx, id, id, now); return err },
			"UserAPIKeyByKeyStart":   func(ctx context.Context) error { _, err := s.UserAPIKeyByKeyStart(ctx, id, "k", now); return err },
			"ListAPIKeys":            func(ctx context.Context) error { _, _, err := s.ListAPIKeys(ctx, id, now, lq); return err },
			"CountAPIKeys":           func(ctx context.Context) error { _, err := s.CountAPIKeys(ctx, id, now, ""); return err },
			"UpdateAPIKey":           func(ctx context.Context) error { return s.UpdateAPIKey(ctx, id, model.APIKeyPatch{Name: &name}) },
			"ReplaceAPIKeySecret":    func(ctx context.Context) error { return s.ReplaceAPIKeySecret(ctx, id, "k", []byte{1}) },
			"DeleteAPIKey":           func(ctx context.Context) error { _, err := s.DeleteAPIKey(ctx, id, id); return err },
			"DeleteAPIKeys":          func(ctx context.Context) error { _, err := s.DeleteAPIKeys(ctx, id); return err },
			"DeleteExpiredAPIKeys":   func(ctx context.Context) error { _, err := s.DeleteExpiredAPIKeys(ctx, &id, now, 10); return err },
			"LockUser":               func(ctx context.Context) error { return s.LockUser(ctx, id) },
			"RecordActivity":         func(ctx context.Context) error { return s.RecordActivity(ctx, &model.Activity{ID: id, UserID: id}) },
			"ListActivities":         func(ctx context.Context) error { _, _, err := s.ListActivities(ctx, id, lq); return err },
			"CountActivities":        func(ctx context.Context) error { _, err := s.CountActivities(ctx, id, ""); return err },
			"DeleteActivitiesBefore": func(ctx context.Context) error { _, err := s.DeleteActivitiesBefore(ctx, now, 10); return err },
			"Hit":                    func(ctx context.Context) error { _, _, err := s.Hit(ctx, "k", now, time.Minute); return err },
			"AddHits":                func(ctx context.Context) error { _, _, err := s.AddHits(ctx, "k", now, time.Minute, 3); return err },
			"CountHits":              func(ctx context.Context) error { _, _, err := s.CountHits(ctx, "k", now, time.Minute); return err },
			"DeleteRateLimitsBefore": func(ctx context.Context) error { _, err := s.DeleteRateLimitsBefore(ctx, now, 10); return err },
			"CreateSecurityKey": func(ctx context.Context) error {
				return s.CreateSecurityKey(ctx, &model.SecurityKey{ID: id, UserID: id, Name: "k"})
			},
			"DeletePendingSecurityKey": func(ctx context.Context) error { return s.DeletePendingSecurityKey(ctx, id, "k") },
			"CountSecurityKeys":        func(ctx context.Context) error { _, err := s.CountSecurityKeys(ctx, id, false); return err },
			"SecurityKeyByID":          func(ctx context.Context) error { _, err := s.SecurityKeyByID(ctx, id, id); return err },
			"SecurityKeyByCredentialID": func(ctx context.Context) error {
				_, err := s.SecurityKeyByCredentialID(ctx, []byte{1})
				return err
			},
			"FinishSecurityKey": func(ctx context.Context) error {
				_, err := s.FinishSecurityKey(ctx, &model.SecurityKey{ID: id, CredentialID: []byte{1}})
				return err
			},
			"CredentialIDs":    func(ctx context.Context) error { _, err := s.CredentialIDs(ctx, []uuid.UUID{id}); return err },
			"ListSecurityKeys": func(ctx context.Context) error { _, _, err := s.ListSecurityKeys(ctx, id, lq); return err },
			"CountListedSecurityKeys": func(ctx context.Context) error {
				_, err := s.CountListedSecurityKeys(ctx, id, "")
				return err
			},
			"RenameSecurityKey": func(ctx context.Context) error { return s.RenameSecurityKey(ctx, id, "k") },
			"DeleteSecurityKey": func(ctx context.Context) error { _, err := s.DeleteSecurityKey(ctx, id, id); return err },
			"UseSecurityKey":    func(ctx context.Context) error { _, err := s.UseSecurityKey(ctx, id, 1, false, now); return err },
			"DeletePendingSecurityKeys": func(ctx context.Context) error {
				_, err := s.DeletePendingSecurityKeys(ctx, now, 10)
				return err
			},
			"CreateCeremony": func(ctx context.Context) error {
				return s.CreateCeremony(ctx, &model.SecurityKeyCeremony{ID: id, Kind: model.CeremonyLogin})
			},
			"ConsumeCeremony": func(ctx context.Context) error { _, err := s.ConsumeCeremony(ctx, id); return err },
			"ConsumeCheckpointCeremony": func(ctx context.Context) error {
				_, err := s.ConsumeCheckpointCeremony(ctx, id)
				return err
			},
			"DeleteCheckpointCeremonies": func(ctx context.Context) error { return s.DeleteCheckpointCeremonies(ctx, id) },
			"DeleteExpiredCeremonies":    func(ctx context.Context) error { _, err := s.DeleteExpiredCeremonies(ctx, now, 10); return err },
			"CreateResetToken": func(ctx context.Context) error {
				return s.CreateResetToken(ctx, &model.PasswordResetToken{ID: id, UserID: id})
			},
			"ResetTokenCreatedSince":   func(ctx context.Context) error { _, err := s.ResetTokenCreatedSince(ctx, id, now); return err },
			"ResetTokenByKeyStart":     func(ctx context.Context) error { _, err := s.ResetTokenByKeyStart(ctx, "k"); return err },
			"ConsumeResetToken":        func(ctx context.Context) error { _, err := s.ConsumeResetToken(ctx, id, now); return err },
			"DeleteResetTokens":        func(ctx context.Context) error { _, err := s.DeleteResetTokens(ctx, id); return err },
			"DeleteExpiredResetTokens": func(ctx context.Context) error { _, err := s.DeleteExpiredResetTokens(ctx, now, 10); return err },
			"ReplaceEmailVerification": func(ctx context.Context) error {
				return s.ReplaceEmailVerification(ctx, &model.EmailVerification{ID: id, UserID: id})
			},
			"EmailVerificationByKeyStart": func(ctx context.Context) error { _, err := s.EmailVerificationByKeyStart(ctx, "k"); return err },
			"PendingEmailVerification":    func(ctx context.Context) error { _, err := s.PendingEmailVerification(ctx, id, now); return err },
			"ConsumeEmailVerification":    func(ctx context.Context) error { _, err := s.ConsumeEmailVerification(ctx, id, now); return err },
			"DeleteEmailVerifications":    func(ctx context.Context) error { _, err := s.DeleteEmailVerifications(ctx, id); return err },
			"DeleteExpiredEmailVerifications": func(ctx context.Context) error {
				_, err := s.DeleteExpiredEmailVerifications(ctx, now, 10)
				return err
			},
			"ConfirmEmail":     func(ctx context.Context) error { return s.ConfirmEmail(ctx, id, "x@example.com", now) },
			"SetEmailVerified": func(ctx context.Context) error { return s.SetEmailVerified(ctx, id) },
		}

		// The table covers every method but InTx, which passes fn's
		// error through (see TestErrorsDuplicateThroughWrap).
		st := reflect.TypeOf(s)
		for i := range st.NumMethod() {
			if m := st.Method(i).Name; m != "InTx" && calls[m] == nil {
				t.Errorf("method %s is missing from the table", m)
			}
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for op, call := range calls {
			err := call(ctx)
			if op == "LockUser" && d.Dialect != db.Postgres {
				// SQLite needs no lock and runs no statement.
				if err != nil {
					t.Errorf("LockUser = %v, want nil on SQLite", err)
				}
				continue
			}
			if err == nil {
				t.Errorf("%s with a cancelled context: no error", op)
				continue
			}
			if !strings.HasPrefix(err.Error(), "db."+op+": ") {
				t.Errorf("%s error = %q, want it to start with %q", op, err, "db."+op+": ")
			}
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s error = %v, want errors.Is(err, context.Canceled)", op, err)
			}
			// The log line of the 500 the service makes of it.
			if got := model.AsError(err).Error(); !strings.Contains(got, "internal server error: db."+op+": ") {
				t.Errorf("%s: model.AsError(err) = %q, want the operation in it", op, got)
			}
		}

		err := s.InTx(ctx, func(context.Context) error { return nil })
		if !errors.Is(err, context.Canceled) || !strings.HasPrefix(err.Error(), "db.InTx: begin: ") {
			t.Errorf("InTx with a cancelled context = %v, want db.InTx: begin: …context canceled", err)
		}
	})
}

// On a closed database the error names the operation too.
func TestErrorsClosedDatabase(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := db.NewStore(d)
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		_, err := s.UserByID(context.Background(), uuid.New())
		if err == nil || !strings.HasPrefix(err.Error(), "db.UserByID: ") || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("UserByID on a closed database = %v, want db.UserByID: …closed", err)
		}
		_, err = d.Pending(context.Background())
		if err == nil || !strings.HasPrefix(err.Error(), "db.Pending: ") {
			t.Fatalf("Pending on a closed database = %v, want db.Pending: …", err)
		}
	})
}
