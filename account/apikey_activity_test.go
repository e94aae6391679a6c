package account_test

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// akAllKeyPerms are the permissions of the API-key routes.
var akAllKeyPerms = []string{model.PermAPIKeysCreate, model.PermAPIKeysRead, model.PermAPIKeysUpdate,
	model.PermAPIKeysDelete, model.PermAPIKeysRecreate}

func TestAPIKeyActivity(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		sa := e.actor(alice.Token)
		mgr := akCreate(e, sa, akIn("manager", akAllKeyPerms...))
		ka := e.keyActor(mgr.Secret)

		worker := akCreate(e, ka, account.APIKeyFields{Name: ptr("worker"), AllowedIPs: ptr([]string{"10.0.0.0/8"}),
			UserPermissions: ptr([]string{model.PermAPIKeysRead})})
		if _, err := e.svc.UpdateAPIKey(e.ctx, ka, worker.Key.ID, account.APIKeyFields{Name: ptr("worker-2"),
			UserPermissions: ptr([]string{model.PermAPIKeysCreate})}); err != nil {
			t.Fatalf("update: %v", err)
		}
		// An edit that changes nothing records nothing.
		if _, err := e.svc.UpdateAPIKey(e.ctx, ka, worker.Key.ID, account.APIKeyFields{}); err != nil {
			t.Fatalf("empty update: %v", err)
		}
		re, err := akRecreate(e, ka, worker.Key.ID)
		if err != nil {
			t.Fatalf("recreate: %v", err)
		}
		if err := e.svc.DeleteAPIKey(e.ctx, ka, worker.Key.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		secrets := []string{mgr.Secret, worker.Secret, re.Secret, mgr.Secret[16:], worker.Secret[16:], re.Secret[16:]}
		for _, k := range []string{mgr.Secret, worker.Secret, re.Secret} {
			dg := secret.Digest(k)
			secrets = append(secrets, hex.EncodeToString(dg), base64.StdEncoding.EncodeToString(dg), base64.RawURLEncoding.EncodeToString(dg))
		}

		// one returns the only event named event about key id.
		one := func(t *testing.T, event string, id uuid.UUID) (*model.Activity, map[string]any) {
			t.Helper()
			var found []*model.Activity
			var data map[string]any
			for _, act := range e.events(alice.User, event) {
				var m map[string]any
				if err := json.Unmarshal(act.Data, &m); err != nil {
					t.Fatalf("%s data %q: %v", event, act.Data, err)
				}
				if m["uuid"] == id.String() {
					found, data = append(found, act), m
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d %s events for %s, want 1", len(found), event, id)
			}
			act := found[0]
			for _, s := range secrets {
				if holdsSecret(string(act.Data), s) {
					t.Errorf("%s data %s holds a secret (%.8s…)", event, act.Data, s)
				}
			}
			if act.IP == nil || *act.IP != clientIP.String() {
				t.Errorf("%s ip = %v", event, act.IP)
			}
			return act, data
		}
		wantKeyID := func(t *testing.T, act *model.Activity, want *uuid.UUID) {
			t.Helper()
			if (act.APIKeyID == nil) != (want == nil) || (want != nil && *act.APIKeyID != *want) {
				t.Errorf("%s api_key_id = %v, want %v", act.Event, act.APIKeyID, want)
			}
			if act.IsAPI() != (want != nil) {
				t.Errorf("%s IsAPI = %v", act.Event, act.IsAPI())
			}
		}
		wantStr := func(t *testing.T, data map[string]any, field, want string) {
			t.Helper()
			if data[field] != want {
				t.Errorf("data.%s = %v, want %q", field, data[field], want)
			}
		}

		t.Run("CreateBySession", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyCreate, mgr.Key.ID)
			wantKeyID(t, act, nil)
			wantStr(t, data, "name", "manager")
			wantStr(t, data, "identifier", mgr.Key.KeyStart)
		})
		t.Run("CreateByKey", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyCreate, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker")
			wantStr(t, data, "identifier", worker.Key.KeyStart)
		})
		t.Run("Update", func(t *testing.T) {
			e := akSub(e, t)
			if n := len(e.events(alice.User, model.EventAPIKeyUpdate)); n != 1 {
				t.Errorf("%d api-key:update events, want 1 (the empty edit records none)", n)
			}
			act, data := one(t, model.EventAPIKeyUpdate, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker-2")
			wantStr(t, data, "identifier", worker.Key.KeyStart)
			if got, _ := json.Marshal(data["fields"]); string(got) != `["name","user_permissions"]` {
				t.Errorf("data.fields = %s, want the changed fields", got)
			}
		})
		t.Run("Recreate", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyRecreate, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker-2")
			wantStr(t, data, "identifier", re.Key.KeyStart)
		})
		t.Run("Delete", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyDelete, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker-2")
			wantStr(t, data, "identifier", re.Key.KeyStart)
		})
		t.Run("NoOtherEvents", func(t *testing.T) {
			e := akSub(e, t)
			if n := len(e.activities(alice.User)); n != 5 {
				t.Errorf("alice has %d events, want 5", n)
			}
		})
	})
}

func TestAPIKeyChangePasswordRevokesKeys(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		one := akCreate(e, a, akIn("one"))
		two := akCreate(e, a, akIn("two", model.PermAPIKeysRead))
		bobs := akCreate(e, e.actor(bob.Token), akIn("bobs"))
		const first, second = "first new password", "second new password"
		e.secret(first, second)

		t.Run("KeepsKeys", func(t *testing.T) {
			e := akSub(e, t)
			res, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: alice.Password, NewPassword: first})
			if err != nil {
				t.Fatalf("change password: %v", err)
			}
			if res.RevokedAPIKeys != 0 {
				t.Errorf("revoked %d keys, want 0", res.RevokedAPIKeys)
			}
			e.keyActor(one.Secret)
			e.keyActor(two.Secret)
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 2 {
				t.Errorf("alice has %d keys, want 2", n)
			}
		})
		t.Run("RevokesKeys", func(t *testing.T) {
			e := akSub(e, t)
			res, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: first, NewPassword: second,
				RevokeAPIKeys: true})
			if err != nil {
				t.Fatalf("change password: %v", err)
			}
			if res.RevokedAPIKeys != 2 {
				t.Errorf("revoked %d keys, want 2", res.RevokedAPIKeys)
			}
			akDead(t, e, one.Secret)
			akDead(t, e, two.Secret)
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 0 {
				t.Errorf("alice has %d keys, want 0", n)
			}
			e.keyActor(bobs.Secret)
			e.actor(alice.Token) // the session that made the change stays
		})
	})
}
