package rest_test

// The error rows of the API-key routes (REST.md §1 and §4): validation,
// conflicts, quota, unknown ids, bodies, queries and routing.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/model"
)

// rakInvalid is a body the create and update routes refuse with exactly
// these messages.
type rakInvalid struct {
	name string
	body map[string]any
	want []string
	// createOnly: on update the body is acceptable.
	createOnly bool
}

func rakInvalidBodies() []rakInvalid {
	ips := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
		}
		return out
	}
	perms := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "account.infos"
		}
		return out
	}
	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	return []rakInvalid{
		{name: "name absent", body: map[string]any{}, want: []string{"name: length is lower than 3"}, createOnly: true},
		{name: "name empty", body: map[string]any{"name": ""}, want: []string{"name: length is lower than 3"}},
		{name: "name 2 characters", body: map[string]any{"name": "ab"}, want: []string{"name: length is lower than 3"}},
		{name: "name 2 multibyte characters", body: map[string]any{"name": "éé"}, want: []string{"name: length is lower than 3"}},
		{name: "name 32 characters", body: map[string]any{"name": strings.Repeat("a", 32)}, want: []string{"name: length is greater than 31"}},
		{name: "name 32 multibyte characters", body: map[string]any{"name": strings.Repeat("é", 32)}, want: []string{"name: length is greater than 31"}},
		{name: "name with NUL", body: map[string]any{"name": "abc\x00def"}, want: []string{"name: must not contain NUL characters"}},
		{name: "allowed_ips: not an address", body: map[string]any{"name": "valid-name", "allowed_ips": []string{"nope"}},
			want: []string{"allowed_ips: invalid ip address or network: nope"}},
		{name: "allowed_ips: prefix too long", body: map[string]any{"name": "valid-name", "allowed_ips": []string{"10.0.0.0/33"}},
			want: []string{"allowed_ips: invalid ip address or network: 10.0.0.0/33"}},
		{name: "allowed_ips: IPv6 zone", body: map[string]any{"name": "valid-name", "allowed_ips": []string{"fe80::1%eth0"}},
			want: []string{"allowed_ips: invalid ip address or network: fe80::1%eth0"}},
		{name: "allowed_ips: one message per bad entry", body: map[string]any{"name": "valid-name", "allowed_ips": []string{"x", "10.0.0.0/8", "y"}},
			want: []string{"allowed_ips: invalid ip address or network: x", "allowed_ips: invalid ip address or network: y"}},
		{name: "allowed_ips: 101 entries", body: map[string]any{"name": "valid-name", "allowed_ips": ips(101)},
			want: []string{"allowed_ips: too many entries (at most 100)"}},
		{name: "user_permissions: unknown", body: map[string]any{"name": "valid-name", "user_permissions": []string{"foo.bar"}},
			want: []string{"user_permissions: invalid permission: foo.bar"}},
		{name: "user_permissions: an admin permission", body: map[string]any{"name": "valid-name", "user_permissions": []string{"stats.read"}},
			want: []string{"user_permissions: invalid permission: stats.read"}},
		{name: "admin_permissions: a user permission", body: map[string]any{"name": "valid-name", "admin_permissions": []string{"account.infos"}},
			want: []string{"admin_permissions: invalid permission: account.infos"}},
		{name: "server_permissions: unknown", body: map[string]any{"name": "valid-name", "server_permissions": []string{"control.fly"}},
			want: []string{"server_permissions: invalid permission: control.fly"}},
		{name: "user_permissions: 513 entries", body: map[string]any{"name": "valid-name", "user_permissions": perms(513)},
			want: []string{"user_permissions: too many entries (at most 512)"}},
		{name: "expires in the past", body: map[string]any{"name": "valid-name", "expires": "2020-01-01T00:00:00Z"},
			want: []string{"expires: time must be in the future"}},
		{name: "expires a second ago", body: map[string]any{"name": "valid-name", "expires": past},
			want: []string{"expires: time must be in the future"}},
		{name: "every rule at once", body: map[string]any{"name": "a\x00", "allowed_ips": []string{"nope"},
			"user_permissions": []string{"account.infos", "foo.bar"}, "admin_permissions": []string{"nope.nope"},
			"server_permissions": []string{"nope"}, "expires": "2020-01-01T00:00:00Z"},
			want: []string{"name: length is lower than 3", "name: must not contain NUL characters",
				"allowed_ips: invalid ip address or network: nope", "user_permissions: invalid permission: foo.bar",
				"admin_permissions: invalid permission: nope.nope", "server_permissions: invalid permission: nope",
				"expires: time must be in the future"}},
	}
}

func TestRESTAPIKeyValidation(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		target, _ := rakCreate(t, alice.Client, map[string]any{"name": "target", "allowed_ips": []string{"10.0.0.0/8"},
			"user_permissions": []string{"account.infos"}, "expires": time.Now().Add(time.Hour).Format(time.RFC3339)})
		id := target["uuid"].(string)
		before := rakSnapshot(t, ts, id)

		for _, tc := range rakInvalidBodies() {
			t.Run("create: "+tc.name, func(t *testing.T) {
				apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath, tc.body), http.StatusBadRequest, tc.want...)
				rakWantCount(t, ts, alice.ID, 1)
			})
			if tc.createOnly {
				continue
			}
			t.Run("update: "+tc.name, func(t *testing.T) {
				apptest.WantErrors(t, alice.Do(http.MethodPatch, rakPath+"/"+id, tc.body), http.StatusBadRequest, tc.want...)
				if after := rakSnapshot(t, ts, id); after != before {
					t.Errorf("a refused PATCH changed the key:\n%s\n%s", before, after)
				}
			})
		}
		t.Run("validation comes before the permission check", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID))
			apptest.WantErrors(t, kc.Do(http.MethodPost, rakPath, map[string]any{"name": "ab"}), http.StatusBadRequest, "name: length is lower than 3")
			apptest.WantErrors(t, kc.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"name": "ab"}), http.StatusBadRequest, "name: length is lower than 3")
			apptest.WantErrors(t, kc.Do(http.MethodPost, rakPath, map[string]any{"name": "long-enough"}), http.StatusForbidden,
				"you do not have permission to perform this action: api-keys.create")
		})

		catalog, err := model.LoadPermissionCatalog()
		if err != nil {
			t.Fatal(err)
		}
		userPerms := catalog.AllUser()
		t.Run("boundaries accepted", func(t *testing.T) {
			k, _ := rakCreate(t, alice.Client, map[string]any{"name": "abc"})
			if k["name"] != "abc" {
				t.Errorf("name %v", k["name"])
			}
			k, _ = rakCreate(t, alice.Client, map[string]any{"name": strings.Repeat("a", 31)})
			if k["name"] != strings.Repeat("a", 31) {
				t.Errorf("name %v", k["name"])
			}
			k, _ = rakCreate(t, alice.Client, map[string]any{"name": strings.Repeat("é", 31)})
			if k["name"] != strings.Repeat("é", 31) {
				t.Errorf("name %v", k["name"])
			}
			ips := make([]string, 100)
			for i := range ips {
				ips[i] = fmt.Sprintf("192.0.2.%d", i)
			}
			k, _ = rakCreate(t, alice.Client, map[string]any{"name": "hundred-ips", "allowed_ips": ips})
			if l, _ := k["allowed_ips"].([]any); len(l) != 100 {
				t.Errorf("%d allowed_ips, want 100", len(l))
			}
			// 512 entries, the catalog over and over: duplicates dropped.
			many := make([]string, 512)
			for i := range many {
				many[i] = userPerms[i%len(userPerms)]
			}
			k, _ = rakCreate(t, alice.Client, map[string]any{"name": "every-permission", "user_permissions": many})
			rakSameSet(t, "user_permissions", k["user_permissions"], userPerms...)
			k, _ = rakCreate(t, alice.Client, map[string]any{"name": "no-expiry", "expires": nil})
			if k["expires"] != nil {
				t.Errorf("expires %v, want null", k["expires"])
			}
		})
		t.Run("addresses normalised, duplicates dropped", func(t *testing.T) {
			k, _ := rakCreate(t, alice.Client, map[string]any{"name": "normalised", "allowed_ips": []string{
				"10.1.2.3/8", "10.0.0.0/8", "10.9.9.9/8", "::ffff:10.0.0.0/104", "::ffff:192.0.2.7", "192.0.2.7",
				"2001:db8::1", "2001:db8:0:0::1/128", "2001:db8:ffff::/32"}})
			rakSameSet(t, "allowed_ips", k["allowed_ips"], "10.0.0.0/8", "192.0.2.7/32", "2001:db8::1/128", "2001:db8::/32")
			k, _ = rakCreate(t, alice.Client, map[string]any{"name": "dup-perms",
				"user_permissions":  []string{"account.infos", "account.infos", "api-keys.read"},
				"admin_permissions": []string{"stats.read", "stats.read"}, "server_permissions": []string{"control.start", "control.start"}})
			rakSameSet(t, "user_permissions", k["user_permissions"], "account.infos", "api-keys.read")
			rakSameSet(t, "admin_permissions", k["admin_permissions"], "stats.read")
			rakSameSet(t, "server_permissions", k["server_permissions"], "control.start")
		})
	})
}

func TestRESTAPIKeyMorePermissionsThanSession(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password") // the first user: an admin
		bob := apptest.Register(t, ts, "bob", "bob password")
		if restAccount(t, bob.Client)["admin"] != false {
			t.Fatalf("bob is an admin")
		}
		mine, _ := rakCreate(t, bob.Client, map[string]any{"name": "bobs-key", "user_permissions": []string{"account.infos"}})
		id := mine["uuid"].(string)
		before := rakSnapshot(t, ts, id)

		t.Run("a non-admin cannot hand out admin permissions", func(t *testing.T) {
			apptest.WantErrors(t, bob.Do(http.MethodPost, rakPath, map[string]any{"name": "admin-key", "admin_permissions": []string{"stats.read"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			rakWantCount(t, ts, bob.ID, 1)
			apptest.WantErrors(t, bob.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"admin_permissions": []string{"stats.read"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			if after := rakSnapshot(t, ts, id); after != before {
				t.Errorf("refused PATCH changed the key:\n%s\n%s", before, after)
			}
		})
		t.Run("every user and server permission is his to give", func(t *testing.T) {
			k, _ := rakCreate(t, bob.Client, map[string]any{"name": "wide-key", "user_permissions": []string{"account.password", "api-keys.create"},
				"server_permissions": []string{"control.start", "files.read"}})
			rakSameSet(t, "server_permissions", k["server_permissions"], "control.start", "files.read")
			apptest.WantEmpty(t, bob.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"admin_permissions": []string{}}))
		})
		t.Run("an admin can", func(t *testing.T) {
			k, _ := rakCreate(t, alice.Client, map[string]any{"name": "admin-key", "admin_permissions": []string{"stats.read", "settings.update"}})
			rakSameSet(t, "admin_permissions", k["admin_permissions"], "stats.read", "settings.update")
		})
	})
}

func TestRESTAPIKeyConflictAndQuota(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.MaxAPIKeys = 3 }, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		first, _ := rakCreate(t, alice.Client, map[string]any{"name": "dup"})

		t.Run("409 on a duplicate name", func(t *testing.T) {
			apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath, map[string]any{"name": "dup", "user_permissions": []string{"account.infos"}}),
				http.StatusConflict, "api key with name already exists")
			rakWantCount(t, ts, alice.ID, 1)
		})
		t.Run("names are case-sensitive", func(t *testing.T) {
			rakCreate(t, alice.Client, map[string]any{"name": "Dup"})
		})
		t.Run("names are per user", func(t *testing.T) {
			rakCreate(t, bob.Client, map[string]any{"name": "dup"})
		})
		t.Run("renaming onto an existing name", func(t *testing.T) {
			other := rakList(t, alice.Client, "").Items[1]
			before := rakSnapshot(t, ts, other["uuid"].(string))
			apptest.WantErrors(t, alice.Do(http.MethodPatch, rakPath+"/"+other["uuid"].(string), map[string]any{"name": "dup",
				"user_permissions": []string{"account.email"}}), http.StatusConflict, "api key with name already exists")
			if after := rakSnapshot(t, ts, other["uuid"].(string)); after != before {
				t.Errorf("refused rename changed the key:\n%s\n%s", before, after)
			}
			// Renaming to its own name is no conflict.
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, rakPath+"/"+first["uuid"].(string), map[string]any{"name": "dup"}))
		})
		t.Run("417 at the quota", func(t *testing.T) {
			rakCreate(t, alice.Client, map[string]any{"name": "third"})
			rakWantCount(t, ts, alice.ID, 3)
			apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath, map[string]any{"name": "fourth"}),
				http.StatusExpectationFailed, "maximum number of api keys reached")
			rakWantCount(t, ts, alice.ID, 3)
			// Validation comes before the quota.
			apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath, map[string]any{"name": "no"}),
				http.StatusBadRequest, "name: length is lower than 3")
		})
		t.Run("another user's keys do not count", func(t *testing.T) {
			rakCreate(t, bob.Client, map[string]any{"name": "bob-2"})
			rakCreate(t, bob.Client, map[string]any{"name": "bob-3"})
			apptest.WantErrors(t, bob.Do(http.MethodPost, rakPath, map[string]any{"name": "bob-4"}),
				http.StatusExpectationFailed, "maximum number of api keys reached")
		})
		t.Run("a deleted key frees its slot", func(t *testing.T) {
			apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+first["uuid"].(string), nil))
			rakCreate(t, alice.Client, map[string]any{"name": "dup"})
			rakWantCount(t, ts, alice.ID, 3)
		})
		t.Run("an expired key frees its slot and its name", func(t *testing.T) {
			past := time.Now().Add(-time.Minute)
			carol := apptest.Register(t, ts, "carol", "carol password")
			rakCreate(t, carol.Client, map[string]any{"name": "carol-1"})
			rakCreate(t, carol.Client, map[string]any{"name": "carol-2"})
			expired := apptest.APIKey(t, ts, carol.ID, apptest.KeyOpts{Expires: &past})
			name := rakNameOf(t, ts, expired)
			rakWantCount(t, ts, carol.ID, 3)
			k, _ := rakCreate(t, carol.Client, map[string]any{"name": name})
			if k["name"] != name {
				t.Errorf("name %v", k["name"])
			}
			// The expired key is gone, and the quota is full again.
			rakWantCount(t, ts, carol.ID, 3)
			apptest.WantErrors(t, carol.Do(http.MethodPost, rakPath, map[string]any{"name": "carol-4"}),
				http.StatusExpectationFailed, "maximum number of api keys reached")
		})
	})
}

func TestRESTAPIKeyNotFound(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")
		bobKey := rakKey(t, ts, bob.ID, rakManage...)
		bobID := rakID(t, ts, bobKey)
		bobBefore := rakSnapshot(t, ts, bobID)

		// alice has a key of her own; a 404 must not depend on her having
		// none.
		own, _ := rakCreate(t, alice.Client, map[string]any{"name": "own"})
		deleted, deletedKey := rakCreate(t, alice.Client, map[string]any{"name": "deleted"})
		apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+deleted["uuid"].(string), nil))
		// Inserted last: a create purges the user's expired keys.
		past := time.Now().Add(-time.Minute)
		expiredKey := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{Expires: &past, UserPermissions: rakManage})
		expiredID := rakID(t, ts, expiredKey)
		expiredBefore := rakSnapshot(t, ts, expiredID)
		count := rakCount(t, ts, alice.ID)

		for _, tc := range []struct {
			name, id, keyStart string
		}{
			{"unknown id", uuid.NewString(), "c7sp_" + strings.Repeat("A", 11)},
			{"another user's key", bobID, bobKey[:16]},
			{"a deleted key", deleted["uuid"].(string), deletedKey[:16]},
			{"an expired key", expiredID, expiredKey[:16]},
		} {
			t.Run(tc.name, func(t *testing.T) {
				apptest.WantErrors(t, alice.Do(http.MethodGet, rakPath+"/identifier/"+tc.keyStart, nil), http.StatusNotFound, "api key not found")
				apptest.WantErrors(t, alice.Do(http.MethodPatch, rakPath+"/"+tc.id, map[string]any{"name": "renamed"}), http.StatusNotFound, "api key not found")
				apptest.WantErrors(t, alice.Do(http.MethodPatch, rakPath+"/"+tc.id, map[string]any{}), http.StatusNotFound, "api key not found")
				apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath+"/"+tc.id+"/recreate", nil), http.StatusNotFound, "api key not found")
				apptest.WantErrors(t, alice.Do(http.MethodDelete, rakPath+"/"+tc.id, nil), http.StatusNotFound, "api key not found")
				rakWantCount(t, ts, alice.ID, count)
			})
		}
		t.Run("identifier of the wrong length", func(t *testing.T) {
			for _, ks := range []string{"c7sp_", own["key_start"].(string)[:15], own["key_start"].(string) + "x", "x"} {
				apptest.WantErrors(t, alice.Do(http.MethodGet, rakPath+"/identifier/"+ks, nil), http.StatusNotFound, "api key not found")
			}
		})
		t.Run("another user's key: unharmed and still working", func(t *testing.T) {
			if after := rakSnapshot(t, ts, bobID); after != bobBefore {
				t.Errorf("bob's key changed:\n%s\n%s", bobBefore, after)
			}
			kc := apptest.KeyClient(t, ts, bobKey)
			if p := rakList(t, kc, ""); p.Total != 1 || p.Items[0]["uuid"] != bobID {
				t.Errorf("bob's key lists %v", p.names())
			}
			if got := rakGet(t, kc, bobKey[:16]); got["uuid"] != bobID {
				t.Errorf("bob's key: %v", got)
			}
		})
		t.Run("the expired key's row was left alone", func(t *testing.T) {
			if after := rakSnapshot(t, ts, expiredID); after != expiredBefore {
				t.Errorf("expired key changed:\n%s\n%s", expiredBefore, after)
			}
		})
		t.Run("the other way round: bob cannot reach alice's key", func(t *testing.T) {
			before := rakSnapshot(t, ts, own["uuid"].(string))
			kc := apptest.KeyClient(t, ts, bobKey)
			apptest.WantErrors(t, kc.Do(http.MethodGet, rakPath+"/identifier/"+own["key_start"].(string), nil), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, kc.Do(http.MethodPatch, rakPath+"/"+own["uuid"].(string), map[string]any{"name": "stolen"}), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, kc.Do(http.MethodPost, rakPath+"/"+own["uuid"].(string)+"/recreate", nil), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, kc.Do(http.MethodDelete, rakPath+"/"+own["uuid"].(string), nil), http.StatusNotFound, "api key not found")
			if after := rakSnapshot(t, ts, own["uuid"].(string)); after != before {
				t.Errorf("alice's key changed:\n%s\n%s", before, after)
			}
		})
	})
}

func TestRESTAPIKeyInvalidUUID(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		k, _ := rakCreate(t, alice.Client, map[string]any{"name": "target"})
		id := k["uuid"].(string)
		before := rakSnapshot(t, ts, id)
		weak := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID))
		for _, bad := range []string{"not-a-uuid", "12345", strings.ReplaceAll(id, "-", ""), id + "0", id[:35],
			"urn:uuid:" + id, "%7B" + id + "%7D", strings.Replace(id, "-", "_", 1)} {
			t.Run(bad, func(t *testing.T) {
				for _, c := range []*apptest.Client{alice.Client, weak} {
					apptest.WantErrors(t, c.Do(http.MethodPatch, rakPath+"/"+bad, map[string]any{"name": "renamed"}), http.StatusBadRequest, "invalid uuid")
					apptest.WantErrors(t, c.Do(http.MethodDelete, rakPath+"/"+bad, nil), http.StatusBadRequest, "invalid uuid")
					apptest.WantErrors(t, c.Do(http.MethodPost, rakPath+"/"+bad+"/recreate", nil), http.StatusBadRequest, "invalid uuid")
				}
			})
		}
		if after := rakSnapshot(t, ts, id); after != before {
			t.Errorf("the key changed:\n%s\n%s", before, after)
		}
		rakWantCount(t, ts, alice.ID, 2)
	})
}

func TestRESTAPIKeyBodyRules(t *testing.T) {
	t.Parallel()
	const hidden = "Hunter2-Body-Secret"
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		target, _ := rakCreate(t, alice.Client, map[string]any{"name": "target", "allowed_ips": []string{"10.0.0.0/8"}})
		id := target["uuid"].(string)
		before := rakSnapshot(t, ts, id)
		routes := []struct{ name, method, path string }{
			{"create", http.MethodPost, rakPath},
			{"update", http.MethodPatch, rakPath + "/" + id},
		}
		cases := []struct {
			name, contentType, body string
			want                    string // exact message; "" = any "invalid payload: " message
			echo                    string // must not appear in the answer
		}{
			{"no content type", "", `{"name":"from-body"}`, "invalid payload: missing content type header", ""},
			{"text/plain", "text/plain", `{"name":"from-body"}`, "invalid payload: unsupported content type", ""},
			{"form", "application/x-www-form-urlencoded", "name=from-body", "invalid payload: unsupported content type", ""},
			{"malformed: truncated", "application/json", `{"name":"` + hidden, "", hidden},
			{"malformed: bare word", "application/json", `{"name":` + hidden + `}`, "", hidden},
			{"malformed: trailing data", "application/json", `{"name":"from-body"} {"name":"` + hidden + `"}`, "", hidden},
			{"array body", "application/json", `["` + hidden + `"]`, "", hidden},
			{"allowed_ips a string", "application/json", `{"name":"from-body","allowed_ips":"1.2.3.4"}`, "", "1.2.3.4"},
			{"allowed_ips of numbers", "application/json", `{"name":"from-body","allowed_ips":[167772161]}`, "", "167772161"},
			{"user_permissions a string", "application/json", `{"name":"from-body","user_permissions":"` + hidden + `"}`, "", hidden},
			{"admin_permissions an object", "application/json", `{"name":"from-body","admin_permissions":{"` + hidden + `":1}}`, "", hidden},
			{"server_permissions of booleans", "application/json", `{"name":"from-body","server_permissions":[true]}`, "", ""},
			{"name a number", "application/json", `{"name":31337}`, "", "31337"},
			{"expires a number", "application/json", `{"name":"from-body","expires":5}`, "", ""},
			{"expires tomorrow", "application/json", `{"name":"from-body","expires":"tomorrow"}`, "", "tomorrow"},
			{"expires a date only", "application/json", `{"name":"from-body","expires":"2099-01-01"}`, "", "2099-01-01"},
			{"expires true", "application/json", `{"name":"from-body","expires":true}`, "", ""},
			{"expires an object", "application/json", `{"name":"from-body","expires":{"at":"` + hidden + `"}}`, "", hidden},
		}
		for _, r := range routes {
			for _, tc := range cases {
				t.Run(r.name+": "+tc.name, func(t *testing.T) {
					res := alice.Raw(r.method, r.path, tc.contentType, strings.NewReader(tc.body))
					if tc.want != "" {
						apptest.WantErrors(t, res, http.StatusBadRequest, tc.want)
					} else {
						apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, "invalid payload: ")
					}
					if tc.echo != "" && bytes.Contains(res.Body, []byte(tc.echo)) {
						t.Errorf("the error echoes the body: %s", res.Body)
					}
					rakWantCount(t, ts, alice.ID, 1)
					if after := rakSnapshot(t, ts, id); after != before {
						t.Errorf("the key changed:\n%s\n%s", before, after)
					}
				})
			}
			t.Run(r.name+": over 1 MiB", func(t *testing.T) {
				body := `{"name":"padded-key","pad":"` + strings.Repeat("a", 1<<20) + `"}`
				res := alice.Raw(r.method, r.path, "application/json", strings.NewReader(body))
				apptest.WantStatus(t, res, http.StatusRequestEntityTooLarge)
				apptest.WantErrorBody(t, res)
				rakWantCount(t, ts, alice.ID, 1)
				if after := rakSnapshot(t, ts, id); after != before {
					t.Errorf("the key changed:\n%s\n%s", before, after)
				}
			})
		}
		t.Run("an empty create body is {}", func(t *testing.T) {
			apptest.WantErrors(t, alice.Raw(http.MethodPost, rakPath, "application/json", nil), http.StatusBadRequest, "name: length is lower than 3")
		})
		t.Run("an empty update body changes nothing", func(t *testing.T) {
			apptest.WantEmpty(t, alice.Raw(http.MethodPatch, rakPath+"/"+id, "application/json", nil))
			apptest.WantEmpty(t, alice.Raw(http.MethodPatch, rakPath+"/"+id, "application/json", strings.NewReader("{}")))
			if after := rakSnapshot(t, ts, id); after != before {
				t.Errorf("the key changed:\n%s\n%s", before, after)
			}
		})
		t.Run("charset parameter and unknown members accepted", func(t *testing.T) {
			res := alice.Raw(http.MethodPost, rakPath, "application/json; charset=utf-8",
				strings.NewReader(`{"name":"with-charset","unknown":{"nested":[1]},"NAME":"other"}`))
			apptest.WantStatus(t, res, http.StatusOK)
			if apptest.Get(res.JSON(t), "api_key", "name") != "with-charset" {
				t.Errorf("created %s", res.Body)
			}
		})
		t.Run("routes without a body need no content type", func(t *testing.T) {
			res := alice.Raw(http.MethodPost, rakPath+"/"+id+"/recreate", "", nil)
			apptest.WantStatus(t, res, http.StatusOK)
			res = alice.Raw(http.MethodPost, rakPath+"/"+id+"/recreate", "text/plain", strings.NewReader("ignored"))
			apptest.WantStatus(t, res, http.StatusOK)
			apptest.WantEmpty(t, alice.Raw(http.MethodDelete, rakPath+"/"+id, "", nil))
		})
		t.Run("no body secret in the log", func(t *testing.T) {
			apptest.NoSecrets(t, ts, hidden)
		})
	})
}

func TestRESTAPIKeyListQueryErrors(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		weak := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID))
		long := url.QueryEscape(strings.Repeat("é", 129))
		for _, tc := range []struct {
			name, query string
			want        []string
			prefixes    []string
		}{
			{name: "page 0", query: "?page=0", want: []string{"page: lower than 1"}},
			{name: "page -1", query: "?page=-1", want: []string{"page: lower than 1"}},
			{name: "per_page 0", query: "?per_page=0", want: []string{"per_page: lower than 1"}},
			{name: "per_page -5", query: "?per_page=-5", want: []string{"per_page: lower than 1"}},
			{name: "per_page 101", query: "?per_page=101", want: []string{"per_page: greater than 100"}},
			{name: "per_page beyond 2^31", query: "?per_page=3000000000", want: []string{"per_page: greater than 100"}},
			{name: "per_page beyond int64", query: "?per_page=99999999999999999999", want: []string{"per_page: greater than 100"}},
			{name: "page beyond int64", query: "?page=99999999999999999999", prefixes: []string{"page: "}},
			{name: "search 129 characters", query: "?search=" + long, want: []string{"search: length is greater than 128"}},
			{name: "several at once", query: "?page=0&per_page=101&search=" + long,
				want: []string{"page: lower than 1", "per_page: greater than 100", "search: length is greater than 128"}},
			{name: "page not an integer", query: "?page=abc", prefixes: []string{"page: "}},
			{name: "page a fraction", query: "?page=1.5", prefixes: []string{"page: "}},
			{name: "per_page not an integer", query: "?per_page=ten", prefixes: []string{"per_page: "}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				// Query errors come before the permission check: a key
				// without api-keys.read gets them too.
				for _, c := range []*apptest.Client{alice.Client, weak} {
					res := c.Do(http.MethodGet, rakPath+tc.query, nil)
					if tc.prefixes != nil {
						apptest.WantErrorPrefixes(t, res, http.StatusBadRequest, tc.prefixes...)
					} else {
						apptest.WantErrors(t, res, http.StatusBadRequest, tc.want...)
					}
				}
			})
		}
	})
}

func TestRESTAPIKeyMethodsAndRoutes(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		k, key := rakCreate(t, alice.Client, map[string]any{"name": "target"})
		id := k["uuid"].(string)
		before := rakSnapshot(t, ts, id)
		t.Run("405", func(t *testing.T) {
			for _, r := range []struct {
				method, path string
				allow        []string
			}{
				{http.MethodPut, rakPath, []string{"GET", "POST"}},
				{http.MethodDelete, rakPath, []string{"GET", "POST"}},
				{http.MethodPatch, rakPath, []string{"GET", "POST"}},
				{http.MethodGet, rakPath + "/" + id, []string{"PATCH", "DELETE"}},
				{http.MethodPut, rakPath + "/" + id, []string{"PATCH", "DELETE"}},
				{http.MethodPost, rakPath + "/" + id, []string{"PATCH", "DELETE"}},
				{http.MethodGet, rakPath + "/" + id + "/recreate", []string{"POST"}},
				{http.MethodDelete, rakPath + "/" + id + "/recreate", []string{"POST"}},
				{http.MethodDelete, rakPath + "/identifier/" + key[:16], []string{"GET"}},
				{http.MethodPatch, rakPath + "/identifier/" + key[:16], []string{"GET"}},
			} {
				res := alice.Do(r.method, r.path, nil)
				if res.Status != http.StatusMethodNotAllowed {
					t.Errorf("%s %s: %d %s, want 405", r.method, r.path, res.Status, res.Body)
					continue
				}
				apptest.WantErrorBody(t, res)
				var allow []string
				for _, m := range strings.Split(res.Header.Get("Allow"), ",") {
					allow = append(allow, strings.TrimSpace(m))
				}
				for _, m := range r.allow {
					if !slices.Contains(allow, m) {
						t.Errorf("%s %s: Allow %q lacks %s", r.method, r.path, allow, m)
					}
				}
				if slices.Contains(allow, r.method) {
					t.Errorf("%s %s: Allow %q names the refused method", r.method, r.path, allow)
				}
			}
		})
		t.Run("404 route not found", func(t *testing.T) {
			for _, r := range []struct{ method, path string }{
				{http.MethodGet, rakPath + "/" + id + "/nope"},
				{http.MethodPost, rakPath + "/" + id + "/recreate/again"},
				{http.MethodGet, rakPath + "/identifier/" + key[:16] + "/more"},
				{http.MethodGet, rakPath + "/x/y/z"},
				{http.MethodGet, "/api/client/account/api-key"},
				{http.MethodPost, "/api/client/account/apikeys"},
			} {
				res := alice.Do(r.method, r.path, nil)
				if res.Status != http.StatusNotFound || strings.TrimSpace(string(res.Body)) != `{"errors":["route not found"]}` {
					t.Errorf("%s %s: %d %s, want 404 route not found", r.method, r.path, res.Status, res.Body)
				}
			}
		})
		if after := rakSnapshot(t, ts, id); after != before {
			t.Errorf("the key changed:\n%s\n%s", before, after)
		}
		rakWantCount(t, ts, alice.ID, 1)
	})
}
