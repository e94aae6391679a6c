package graph_test

import (
	"net/http"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
	"accountd/secret"
)

// gakRefusals are the userErrors every mutation taking a key id gives for an
// id that names no key of the caller.
func gakRefusals(otherUsersKeyID string) []struct {
	name, id string
	want     apptest.GQLUserErr
} {
	notFound := apptest.GQLUserErr{Field: gqlField("id"), Message: "api key not found", Code: "NOT_FOUND"}
	return []struct {
		name, id string
		want     apptest.GQLUserErr
	}{
		{"unknown id", uuid.NewString(), notFound},
		{"another user's key", otherUsersKeyID, notFound},
		{"malformed id", "not-a-uuid", apptest.GQLUserErr{Field: gqlField("id"), Message: "invalid uuid", Code: "INVALID"}},
		{"braced id", "{" + uuid.NewString() + "}", apptest.GQLUserErr{Field: gqlField("id"), Message: "invalid uuid", Code: "INVALID"}},
		{"empty id", "", apptest.GQLUserErr{Field: gqlField("id"), Message: "invalid uuid", Code: "INVALID"}},
	}
}

func TestGraphQLAPIKeyUpdate(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		_, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		bobID := gakUserID(t, bu)
		bobKey, bobKeyID := gakInsert(t, ts, bobID, gakKeyOpts{Name: "bobs", UserPerms: []string{"account.infos"}})

		k, key := gakCreate(t, alice, map[string]any{"name": "editable", "allowedIps": []string{"10.0.0.0/8", "127.0.0.1"},
			"userPermissions": []string{"account.infos", "api-keys.read"}, "adminPermissions": []string{"stats.read"},
			"serverPermissions": []string{"control.start"}, "expiresAt": gakFuture})
		id := k["id"].(string)

		// update runs updateApiKey with the given input fields (id added)
		// and checks the payload and a fresh read agree.
		update := func(t *testing.T, in map[string]any) map[string]any {
			t.Helper()
			in["id"] = id
			r := alice.GQL(gakUpdateDoc, apptest.GQLIn(in))
			gqlWantUserErrs(t, r, "updateApiKey")
			got, _ := apptest.Get(r.Data, "updateApiKey", "apiKey").(map[string]any)
			if got == nil {
				t.Fatalf("no apiKey in payload: %s", r.Raw)
			}
			if again := gakLookup(t, alice, map[string]any{"id": id}); !reflect.DeepEqual(again, got) {
				t.Fatalf("payload %v, stored %v", got, again)
			}
			// The secret is never shown again, and keeps working.
			gakNoSecrets(t, "updateApiKey payload", r.Raw, key)
			if got["keyStart"] != key[:16] || got["id"] != id || got["createdAt"] != k["createdAt"] {
				t.Errorf("identity changed: %v", got)
			}
			return got
		}

		t.Run("name only, the rest unchanged", func(t *testing.T) {
			events := len(gakEvents(t, ts, aliceID, "api-key:update"))
			got := update(t, map[string]any{"name": "renamed"})
			if got["name"] != "renamed" {
				t.Errorf("name = %v", got["name"])
			}
			gakWantList(t, got, "allowedIps", "10.0.0.0/8", "127.0.0.1/32")
			gakWantList(t, got, "userPermissions", "account.infos", "api-keys.read")
			gakWantList(t, got, "adminPermissions", "stats.read")
			gakWantList(t, got, "serverPermissions", "control.start")
			gakWantTime(t, got, "expiresAt", gakFuture)
			if n := len(gakEvents(t, ts, aliceID, "api-key:update")); n != events+1 {
				t.Errorf("api-key:update events = %d, want %d", n, events+1)
			}
		})

		t.Run("null lists stay", func(t *testing.T) {
			got := update(t, map[string]any{"allowedIps": nil, "userPermissions": nil, "adminPermissions": nil,
				"serverPermissions": nil})
			gakWantList(t, got, "allowedIps", "10.0.0.0/8", "127.0.0.1/32")
			gakWantList(t, got, "userPermissions", "account.infos", "api-keys.read")
			gakWantList(t, got, "adminPermissions", "stats.read")
			gakWantList(t, got, "serverPermissions", "control.start")
			gakWantTime(t, got, "expiresAt", gakFuture)
		})

		t.Run("lists replaced and emptied", func(t *testing.T) {
			got := update(t, map[string]any{"allowedIps": []string{"::ffff:127.0.0.1", "192.168.1.7/16"},
				"userPermissions": []string{"api-keys.read", "activity.read", "api-keys.read"}, "serverPermissions": []string{}})
			gakWantList(t, got, "allowedIps", "127.0.0.1/32", "192.168.0.0/16")
			gakWantList(t, got, "userPermissions", "api-keys.read", "activity.read")
			gakWantList(t, got, "adminPermissions", "stats.read")
			gakWantList(t, got, "serverPermissions")
			got = update(t, map[string]any{"allowedIps": []string{}, "adminPermissions": []string{}})
			gakWantList(t, got, "allowedIps")
			gakWantList(t, got, "adminPermissions")
			gakWantList(t, got, "userPermissions", "api-keys.read", "activity.read")
			// The narrowed key holds only what is listed now.
			kc := gqlKeyClient(t, ts, key)
			if got := gakLookup(t, kc, map[string]any{"id": id}); got == nil {
				t.Error("key lost api-keys.read")
			}
			r := kc.GQL(`mutation { updateAccount(input: {nameFirst: "X"}) { user { id } userErrors { code } } }`, nil)
			if _, ext := apptest.GQLTopError(t, r, "FORBIDDEN", "updateAccount"); ext["permission"] != "account.infos" {
				t.Errorf("permission = %v", ext["permission"])
			}
		})

		t.Run("expiresAt left out, set, cleared", func(t *testing.T) {
			got := update(t, map[string]any{"expiresAt": gakFuture2})
			gakWantTime(t, got, "expiresAt", gakFuture2)
			got = update(t, map[string]any{"name": "still expiring"})
			gakWantTime(t, got, "expiresAt", gakFuture2)
			got = update(t, map[string]any{"expiresAt": nil})
			if v, ok := got["expiresAt"]; !ok || v != nil {
				t.Errorf("expiresAt after null = %v", got["expiresAt"])
			}
			if row := gakRowByID(t, ts, id); row.Expires != nil {
				t.Errorf("stored expires = %v", row.Expires)
			}
			got = update(t, map[string]any{"name": "never expires"})
			if got["expiresAt"] != nil {
				t.Errorf("expiresAt = %v", got["expiresAt"])
			}
			got = update(t, map[string]any{"expiresAt": gakFuture})
			gakWantTime(t, got, "expiresAt", gakFuture)
		})

		t.Run("expiresAt in the past is refused", func(t *testing.T) {
			snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
			r := alice.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": id, "expiresAt": gakPast, "name": "not applied"}))
			gqlWantUserErrs(t, r, "updateApiKey", gakInv("expiresAt", "time must be in the future"))
			if apptest.Get(r.Data, "updateApiKey", "apiKey") != nil {
				t.Errorf("apiKey in a refused payload: %s", r.Raw)
			}
			if got := gakSnapshot(t, ts, aliceID); got != snap || len(gakActivities(t, ts, aliceID)) != events {
				t.Errorf("a refused update changed something:\n%s\nwas\n%s", got, snap)
			}
			gakWantTime(t, gakLookup(t, alice, map[string]any{"id": id}), "expiresAt", gakFuture)
		})

		t.Run("only the id changes nothing", func(t *testing.T) {
			before := gakLookup(t, alice, map[string]any{"id": id})
			snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
			got := update(t, map[string]any{})
			if !reflect.DeepEqual(got, before) {
				t.Errorf("got %v, want %v", got, before)
			}
			if gakSnapshot(t, ts, aliceID) != snap || len(gakActivities(t, ts, aliceID)) != events {
				t.Error("an empty update wrote something")
			}
		})

		for _, tc := range gakValidationCases() {
			t.Run("validation/"+tc.name, func(t *testing.T) {
				in := map[string]any{"id": id}
				for k, v := range tc.set {
					in[k] = v
				}
				snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
				r := alice.GQL(gakUpdateDoc, apptest.GQLIn(in))
				gqlWantUserErrs(t, r, "updateApiKey", tc.want...)
				if apptest.Get(r.Data, "updateApiKey", "apiKey") != nil {
					t.Errorf("apiKey in a refused payload: %s", r.Raw)
				}
				if got := gakSnapshot(t, ts, aliceID); got != snap || len(gakActivities(t, ts, aliceID)) != events {
					t.Errorf("a refused update changed something:\n%s\nwas\n%s", got, snap)
				}
				res := alice.Do(http.MethodPatch, "/api/client/account/api-keys/"+id, gakRESTBody(in))
				rest := res.Errors(t)
				sort.Strings(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gakRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gakRESTMessages(tc.want))
				}
			})
		}

		t.Run("duplicate name", func(t *testing.T) {
			gakCreate(t, alice, map[string]any{"name": "other key"})
			snap := gakSnapshot(t, ts, aliceID)
			r := alice.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": id, "name": "other key"}))
			gqlWantUserErrs(t, r, "updateApiKey",
				apptest.GQLUserErr{Field: gqlField("name"), Message: "api key with name already exists", Code: "CONFLICT"})
			if gakSnapshot(t, ts, aliceID) != snap {
				t.Error("a refused rename changed something")
			}
			// Keeping its own name is no conflict; other case is another name.
			cur := gakLookup(t, alice, map[string]any{"id": id})["name"].(string)
			update(t, map[string]any{"name": cur})
			update(t, map[string]any{"name": "OTHER KEY"})
		})

		t.Run("admin permissions from a user who is not an admin", func(t *testing.T) {
			bob := gqlLogin(t, ts, "bob", "correct horse")
			snap := gakSnapshot(t, ts, bobID)
			r := bob.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": bobKeyID, "adminPermissions": []string{"stats.read"}}))
			gqlWantUserErrs(t, r, "updateApiKey", gakMore)
			if gakSnapshot(t, ts, bobID) != snap {
				t.Error("a refused update changed something")
			}
		})

		for _, tc := range gakRefusals(bobKeyID) {
			t.Run("refused/"+tc.name, func(t *testing.T) {
				snapA, snapB := gakSnapshot(t, ts, aliceID), gakSnapshot(t, ts, bobID)
				events := len(gakActivities(t, ts, aliceID))
				r := alice.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": tc.id, "name": "hijacked",
					"allowedIps": []string{"10.9.9.9"}, "expiresAt": nil}))
				gqlWantUserErrs(t, r, "updateApiKey", tc.want)
				if apptest.Get(r.Data, "updateApiKey", "apiKey") != nil {
					t.Errorf("apiKey in a refused payload: %s", r.Raw)
				}
				if gakSnapshot(t, ts, aliceID) != snapA || gakSnapshot(t, ts, bobID) != snapB ||
					len(gakActivities(t, ts, aliceID)) != events {
					t.Error("a refused update changed something")
				}
				if !gakWorks(t, ts, bobKey) {
					t.Error("bob's key stopped working")
				}
			})
		}
	})
}

func TestGraphQLAPIKeyRecreate(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		_, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		bobKey, bobKeyID := gakInsert(t, ts, gakUserID(t, bu), gakKeyOpts{Name: "bobs"})

		recreate := func(t *testing.T, c *apptest.Client, id string) (map[string]any, string) {
			t.Helper()
			r := c.GQL(gakRecreateDoc, apptest.GQLIn(map[string]any{"id": id}))
			gqlWantUserErrs(t, r, "recreateApiKey")
			k, _ := apptest.Get(r.Data, "recreateApiKey", "apiKey").(map[string]any)
			key, _ := apptest.Get(r.Data, "recreateApiKey", "key").(string)
			if k == nil || !gakSecretRE.MatchString(key) || k["keyStart"] != key[:16] {
				t.Fatalf("recreateApiKey payload: %s", r.Raw)
			}
			return k, key
		}

		t.Run("session: new secret, same key", func(t *testing.T) {
			k, old := gakCreate(t, alice, map[string]any{"name": "rotate me", "allowedIps": []string{"127.0.0.0/8"},
				"userPermissions": []string{"account.infos"}, "serverPermissions": []string{"files.read"}, "expiresAt": gakFuture})
			id := k["id"].(string)
			if !gakWorks(t, ts, old) {
				t.Fatal("new key does not work")
			}
			used := gakLookup(t, alice, map[string]any{"id": id})
			if used["lastUsedAt"] == nil {
				t.Fatalf("lastUsedAt not recorded: %v", used)
			}
			events := len(gakEvents(t, ts, aliceID, "api-key:recreate"))

			got, key := recreate(t, alice, id)
			if key == old || got["keyStart"] == k["keyStart"] {
				t.Fatal("the secret did not change")
			}
			for _, f := range []string{"id", "name", "allowedIps", "userPermissions", "adminPermissions",
				"serverPermissions", "expiresAt", "createdAt"} {
				if !reflect.DeepEqual(got[f], k[f]) {
					t.Errorf("%s = %v, want %v", f, got[f], k[f])
				}
			}
			if got["lastUsedAt"] != nil {
				t.Errorf("lastUsedAt = %v, want null", got["lastUsedAt"])
			}
			if stored := gakLookup(t, alice, map[string]any{"id": id}); !reflect.DeepEqual(stored, got) {
				t.Errorf("stored %v, payload %v", stored, got)
			}
			if row := gakRowByID(t, ts, id); !reflect.DeepEqual(row.Digest, secret.Digest(key)) || row.LastUsed != nil {
				t.Errorf("stored row = %+v", row)
			}
			// The old secret is dead on the very next request; the new one works.
			gakWantDead(t, ts, old)
			if !gakWorks(t, ts, key) {
				t.Error("recreated key does not work")
			}
			if n := len(gakEvents(t, ts, aliceID, "api-key:recreate")); n != events+1 {
				t.Errorf("api-key:recreate events = %d, want %d", n, events+1)
			}
			for _, a := range gakActivities(t, ts, aliceID) {
				gakNoSecrets(t, "activity "+a.Event, []byte(a.Data), old, key)
			}
			// Neither keyStart finds the old identifier any more.
			if gakLookup(t, alice, map[string]any{"keyStart": old[:16]}) != nil {
				t.Error("old keyStart still finds the key")
			}
			if gakLookup(t, alice, map[string]any{"keyStart": key[:16]})["id"] != id {
				t.Error("new keyStart does not find the key")
			}
		})

		t.Run("a key recreating itself", func(t *testing.T) {
			old, id := gakInsert(t, ts, aliceID, gakKeyOpts{Name: "self rotating", UserPerms: []string{"api-keys.recreate"}})
			got, key := recreate(t, gqlKeyClient(t, ts, old), id)
			if got["id"] != id {
				t.Errorf("id = %v", got["id"])
			}
			gakWantDead(t, ts, old)
			if !gakWorks(t, ts, key) {
				t.Error("recreated key does not work")
			}
		})

		for _, tc := range gakRefusals(bobKeyID) {
			t.Run("refused/"+tc.name, func(t *testing.T) {
				snapA, snapB := gakSnapshot(t, ts, aliceID), gakSnapshot(t, ts, gakUserID(t, bu))
				events := len(gakActivities(t, ts, aliceID))
				r := alice.GQL(gakRecreateDoc, apptest.GQLIn(map[string]any{"id": tc.id}))
				gqlWantUserErrs(t, r, "recreateApiKey", tc.want)
				if apptest.Get(r.Data, "recreateApiKey", "key") != nil || apptest.Get(r.Data, "recreateApiKey", "apiKey") != nil {
					t.Errorf("key in a refused payload: %s", r.Raw)
				}
				if gakSnapshot(t, ts, aliceID) != snapA || gakSnapshot(t, ts, gakUserID(t, bu)) != snapB ||
					len(gakActivities(t, ts, aliceID)) != events {
					t.Error("a refused recreate changed something")
				}
				if !gakWorks(t, ts, bobKey) {
					t.Error("bob's key stopped working")
				}
			})
		}
	})
}

func TestGraphQLAPIKeyDelete(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		_, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		bobKey, bobKeyID := gakInsert(t, ts, gakUserID(t, bu), gakKeyOpts{Name: "bobs"})

		t.Run("session", func(t *testing.T) {
			k, key := gakCreate(t, alice, map[string]any{"name": "short lived"})
			keep, _ := gakCreate(t, alice, map[string]any{"name": "kept"})
			id := k["id"].(string)
			n := gqlCountAPIKeys(t, ts, aliceID)
			r := alice.GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": id}))
			gqlWantUserErrs(t, r, "deleteApiKey")
			if apptest.Get(r.Data, "deleteApiKey", "deletedApiKeyId") != id {
				t.Errorf("deletedApiKeyId = %v, want %s", apptest.Get(r.Data, "deleteApiKey", "deletedApiKeyId"), id)
			}
			if got := gqlCountAPIKeys(t, ts, aliceID); got != n-1 || gakRowByID(t, ts, id) != nil {
				t.Errorf("keys = %d, want %d", got, n-1)
			}
			gakWantDead(t, ts, key)
			if gakLookup(t, alice, map[string]any{"id": id}) != nil || gakLookup(t, alice, map[string]any{"keyStart": key[:16]}) != nil {
				t.Error("deleted key still found")
			}
			if gakRowByID(t, ts, keep["id"].(string)) == nil {
				t.Error("the other key went too")
			}
			evs := gakEvents(t, ts, aliceID, "api-key:delete")
			if len(evs) != 1 {
				t.Errorf("api-key:delete events = %v", evs)
			}
			// Deleting it again: not found.
			r = alice.GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": id}))
			gqlWantUserErrs(t, r, "deleteApiKey", apptest.GQLUserErr{Field: gqlField("id"), Message: "api key not found", Code: "NOT_FOUND"})
			if apptest.Get(r.Data, "deleteApiKey", "deletedApiKeyId") != nil {
				t.Errorf("deletedApiKeyId in a refused payload: %s", r.Raw)
			}
		})

		t.Run("a key deleting itself", func(t *testing.T) {
			key, id := gakInsert(t, ts, aliceID, gakKeyOpts{UserPerms: []string{"api-keys.delete"}})
			r := gqlKeyClient(t, ts, key).GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": id}))
			gqlWantUserErrs(t, r, "deleteApiKey")
			gakWantDead(t, ts, key)
		})

		t.Run("an expired key is not found", func(t *testing.T) {
			past := time.Now().Add(-time.Hour)
			_, id := gakInsert(t, ts, aliceID, gakKeyOpts{Expires: &past})
			r := alice.GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": id}))
			gqlWantUserErrs(t, r, "deleteApiKey", apptest.GQLUserErr{Field: gqlField("id"), Message: "api key not found", Code: "NOT_FOUND"})
		})

		for _, tc := range gakRefusals(bobKeyID) {
			t.Run("refused/"+tc.name, func(t *testing.T) {
				snapA, snapB := gakSnapshot(t, ts, aliceID), gakSnapshot(t, ts, gakUserID(t, bu))
				events := len(gakActivities(t, ts, aliceID))
				r := alice.GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": tc.id}))
				gqlWantUserErrs(t, r, "deleteApiKey", tc.want)
				if apptest.Get(r.Data, "deleteApiKey", "deletedApiKeyId") != nil {
					t.Errorf("deletedApiKeyId in a refused payload: %s", r.Raw)
				}
				if gakSnapshot(t, ts, aliceID) != snapA || gakSnapshot(t, ts, gakUserID(t, bu)) != snapB ||
					len(gakActivities(t, ts, aliceID)) != events {
					t.Error("a refused delete changed something")
				}
				if !gakWorks(t, ts, bobKey) {
					t.Error("bob's key stopped working")
				}
			})
		}
	})
}
