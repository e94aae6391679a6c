package db_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// The hand-written authentication read returns exactly what the general
// reads of the same rows return, every column, with NULLs and without:
// on PostgreSQL it decodes the binary row itself.
func TestAuthenticationReadMatchesTheRows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		s := db.NewStore(d)
		now := time.Now().UTC().Truncate(time.Microsecond)
		role, avatar := "moderator", "https://example.com/a.png"

		plain := newUser("plain") // NULL role, avatar, TOTP columns
		full := newUser("füll")
		full.NameFirst, full.NameLast, full.Role, full.Avatar = "Ünïcode ✓", "O'Brien", &role, &avatar
		full.Admin, full.Language, full.ToastPosition = true, "de", "top_left"
		for _, u := range []*model.User{plain, full} {
			if err := s.CreateUser(ctx, u, false); err != nil {
				t.Fatal(err)
			}
		}
		pending, err := s.EnsurePendingTOTPSecret(ctx, full.ID, "JBSWY3DPEHPK3PXP", now, now.Add(-time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := s.EnableTwoFactor(ctx, full.ID, pending, 1234567, now, []byte{1, 2, 3}); err != nil || !ok {
			t.Fatalf("enable two-factor: %v %v", ok, err)
		}
		device := uuid.New()
		for _, c := range []struct {
			user   *model.User
			device *uuid.UUID
		}{{plain, nil}, {full, &device}} {
			tok := secret.RandomString(48)
			sess := &model.Session{ID: uuid.New(), UserID: c.user.ID, KeyStart: tok[:16], Digest: secret.Digest(tok),
				IP: "2001:db8::1", UserAgent: "agent ✓", LastUsed: now.Add(-time.Minute), Created: now.Add(-time.Hour), DeviceID: c.device}
			if err := s.CreateSession(ctx, sess); err != nil {
				t.Fatal(err)
			}
			gotSess, gotUser, err := s.SessionByKeyStart(ctx, sess.KeyStart)
			if err != nil {
				t.Fatal(err)
			}
			wantSess, err := s.SessionByID(ctx, c.user.ID, sess.ID)
			if err != nil {
				t.Fatal(err)
			}
			wantUser, err := s.UserByID(ctx, c.user.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotSess, wantSess) || !reflect.DeepEqual(gotUser, wantUser) {
				t.Fatalf("session read:\n got %+v\n     %+v\nwant %+v\n     %+v", gotSess, gotUser, wantSess, wantUser)
			}

			key := "c7sp_" + secret.RandomString(43)
			exp := now.Add(time.Hour)
			k := &model.APIKey{ID: uuid.New(), UserID: c.user.ID, Name: "k-" + c.user.Username, KeyStart: key[:16],
				Digest: secret.Digest(key), UserPermissions: []string{"account.read"}, AdminPermissions: []string{},
				ServerPermissions: []string{}, Created: now}
			if c.device != nil {
				k.Expires, k.LastUsed = &exp, &now
			}
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			gotKey, gotUser, err := s.APIKeyByKeyStart(ctx, k.KeyStart)
			if err != nil {
				t.Fatal(err)
			}
			wantKey, err := s.APIKeyByID(ctx, c.user.ID, k.ID, now)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotKey, wantKey) || !reflect.DeepEqual(gotUser, wantUser) {
				t.Fatalf("key read:\n got %+v\n     %+v\nwant %+v\n     %+v", gotKey, gotUser, wantKey, wantUser)
			}
		}
	})
}
