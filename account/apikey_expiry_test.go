package account_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestAPIKeyExpiryAndCleanup(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		start := e.clock.Now()

		// A confirmation token that expires after five minutes.
		e.setColumn(bob.User, "totp_enabled", true)
		akPendingLogin(t, e, bob)

		soon := akCreate(e, a, account.APIKeyFields{Name: ptr("soon"), UserPermissions: ptr([]string{model.PermAPIKeysRead}),
			SetExpires: true, Expires: ptr(start.Add(time.Hour))})
		live := akCreate(e, a, akIn("live", model.PermAPIKeysRead))
		later := akCreate(e, a, account.APIKeyFields{Name: ptr("later"), SetExpires: true, Expires: ptr(start.Add(2 * time.Hour))})
		listed := func(t *testing.T) []uuid.UUID {
			t.Helper()
			p, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Keyset: true, First: 100})
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Count(e.ctx)
			if err != nil || n != len(p.Items) {
				t.Errorf("count = %d, %v; want %d", n, err, len(p.Items))
			}
			ids := make([]uuid.UUID, len(p.Items))
			for i, k := range p.Items {
				ids[i] = k.ID
			}
			return ids
		}

		e.clock.Advance(time.Hour - time.Microsecond)
		if ka := e.keyActor(soon.Secret); ka.APIKey.ID != soon.Key.ID {
			t.Fatalf("actor = %+v", ka.APIKey)
		}
		if got := listed(t); !slices.Equal(got, []uuid.UUID{soon.Key.ID, live.Key.ID, later.Key.ID}) {
			t.Errorf("listed %v before expiry", got)
		}

		e.clock.Advance(time.Microsecond) // exactly at expiry
		akDead(t, e, soon.Secret)
		if got := listed(t); !slices.Equal(got, []uuid.UUID{live.Key.ID, later.Key.ID}) {
			t.Errorf("listed %v after expiry, want live and later", got)
		}
		before := akSnap(e)
		_, err := e.svc.APIKey(e.ctx, a, soon.Key.ID)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = e.svc.APIKeyByKeyStart(e.ctx, a, soon.Key.KeyStart)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = e.svc.UpdateAPIKey(e.ctx, a, soon.Key.ID, account.APIKeyFields{SetExpires: true})
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = akRecreate(e, a, soon.Key.ID)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		wantErr(t, e.svc.DeleteAPIKey(e.ctx, a, soon.Key.ID), model.CodeNotFound, "api key not found")
		akUnchanged(t, e, before)
		akDead(t, e, soon.Secret) // an update cannot revive it
		if n := e.count("api_keys", "id = ?", soon.Key.ID); n != 1 {
			t.Fatalf("expired key rows before clean-up = %d, want 1", n)
		}

		// A confirmation token that has not expired yet.
		akPendingLogin(t, e, bob)
		if n := e.count("login_tokens", ""); n != 2 {
			t.Fatalf("login tokens = %d, want 2", n)
		}

		res, err := e.svc.Cleanup(e.ctx)
		if err != nil {
			t.Fatalf("cleanup: %v", err)
		}
		if res != (account.CleanupResult{APIKeys: 1, LoginTokens: 1}) {
			t.Errorf("cleanup = %+v, want one key and one token", res)
		}
		if n := e.count("api_keys", "id = ?", soon.Key.ID); n != 0 {
			t.Error("expired key still stored after clean-up")
		}
		if n := e.count("api_keys", "user_id = ?", alice.ID); n != 2 {
			t.Errorf("alice has %d keys after clean-up, want 2", n)
		}
		if n := e.count("login_tokens", ""); n != 1 {
			t.Errorf("login tokens after clean-up = %d, want 1", n)
		}
		e.keyActor(live.Secret)
		e.keyActor(later.Secret)

		if res, err := e.svc.Cleanup(e.ctx); err != nil || res != (account.CleanupResult{}) {
			t.Errorf("second clean-up = %+v, %v; want nothing deleted", res, err)
		}

		e.clock.Advance(time.Hour)
		akDead(t, e, later.Secret)
		if res, err := e.svc.Cleanup(e.ctx); err != nil || res != (account.CleanupResult{APIKeys: 1, LoginTokens: 1}) {
			t.Errorf("third clean-up = %+v, %v; want one key and one token", res, err)
		}
		if n := e.count("api_keys", ""); n != 1 {
			t.Errorf("%d key rows left, want the live one", n)
		}
		e.keyActor(live.Secret)
	})
}

// akPendingLogin signs u in up to the two-factor checkpoint, leaving a
// confirmation token.
func akPendingLogin(t *testing.T, e *env, u *user) {
	t.Helper()
	res, err := e.svc.Login(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, account.LoginInput{User: u.Username, Password: u.Password})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	e.secret(res.SessionToken, res.ConfirmationToken)
	if !res.TwoFactorRequired() {
		t.Fatalf("login of %s did not stop at the checkpoint", u.Username)
	}
}

func TestAPIKeyCleanupBatches(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		past := e.clock.Now().Add(-time.Second)
		akInsertKeys(t, e, 1001, past, alice.User, bob.User)
		live, _ := e.newAPIKey(alice.User, keyOpts{Expires: ptr(e.clock.Now().Add(time.Second))})
		res, err := e.svc.Cleanup(e.ctx)
		if err != nil || res.APIKeys != 1001 {
			t.Fatalf("cleanup = %+v, %v; want 1001 keys", res, err)
		}
		if n := e.count("api_keys", ""); n != 1 {
			t.Errorf("%d key rows left, want 1", n)
		}
		e.keyActor(live)
	})
}

// akInsertKeys writes n keys expiring at expires, the i-th owned by
// owners[i%len(owners)], with the values newAPIKey writes but 500 rows to a
// statement: a thousand single-row inserts made TestAPIKeyCleanupBatches
// the slowest of the API key tests.
func akInsertKeys(t *testing.T, e *env, n int, expires time.Time, owners ...*model.User) {
	t.Helper()
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	rows := make([]dbtest.APIKeyRow, 0, n)
	for i := range n {
		key := "c7sp_" + secret.RandomString(43)
		e.secret(key)
		rows = append(rows, dbtest.APIKeyRow{ID: uuid.New(), UserID: owners[i%len(owners)].ID, Name: "key-" + key[5:13],
			KeyStart: key[:16], Digest: secret.Digest(key), AllowedIPs: "[]", UserPermissions: "[]",
			AdminPermissions: "[]", ServerPermissions: "[]", Expires: &expires, Created: now})
	}
	for len(rows) > 0 {
		chunk := rows[:min(len(rows), 500)]
		rows = rows[len(chunk):]
		if _, err := e.d.NewInsert().Model(&chunk).Exec(e.ctx); err != nil {
			t.Fatalf("insert api keys: %v", err)
		}
	}
}
