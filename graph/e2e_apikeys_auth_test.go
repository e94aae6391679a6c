package graph_test

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
	"accountd/secret"
)

// gakOp is one API-key operation as a GraphQL request: its document and
// variables for a target key, and the field that carries its result.
type gakOp struct {
	name, perm, field string
	doc               string
	vars              func(id, keyStart string) map[string]any
}

func gakOps() []gakOp {
	byID := func(id, _ string) map[string]any { return apptest.GQLIn(map[string]any{"id": id}) }
	return []gakOp{
		{"createApiKey", "api-keys.create", "createApiKey", gakCreateDoc, func(string, string) map[string]any {
			return apptest.GQLIn(map[string]any{"name": "forbidden child"})
		}},
		{"updateApiKey", "api-keys.update", "updateApiKey", gakUpdateDoc, func(id, _ string) map[string]any {
			return apptest.GQLIn(map[string]any{"id": id, "name": "forbidden rename"})
		}},
		{"recreateApiKey", "api-keys.recreate", "recreateApiKey", gakRecreateDoc, byID},
		{"deleteApiKey", "api-keys.delete", "deleteApiKey", gakDeleteDoc, byID},
		{"viewer.apiKeys", "api-keys.read", "viewer", gakListDoc, func(string, string) map[string]any { return nil }},
		{"viewer.apiKey(id)", "api-keys.read", "viewer", gakLookupDoc, func(id, _ string) map[string]any {
			return map[string]any{"id": id}
		}},
		{"viewer.apiKey(keyStart)", "api-keys.read", "viewer", gakLookupDoc, func(_, ks string) map[string]any {
			return map[string]any{"keyStart": ks}
		}},
	}
}

func TestGraphQLAPIKeyForbidden(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		_, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		target, targetID := gakInsert(t, ts, aliceID, gakKeyOpts{Name: "target", UserPerms: []string{"account.infos"}})

		for _, op := range gakOps() {
			for _, caller := range []struct {
				name  string
				perms []string
			}{
				{"every other permission", gakAllBut(t, op.perm)},
				{"no permission", nil},
			} {
				t.Run(op.name+"/"+caller.name, func(t *testing.T) {
					key := gqlInsertAPIKey(t, ts, aliceID, caller.perms)
					snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
					r := gqlKeyClient(t, ts, key).GQL(op.doc, op.vars(targetID, target[:16]))
					field := op.field
					if op.doc == gakLookupDoc {
						field = "" // apiKey is nullable: the viewer stays (checked below)
					}
					msg, ext := apptest.GQLTopError(t, r, "FORBIDDEN", field)
					if want := "you do not have permission to perform this action: " + op.perm; msg != want {
						t.Errorf("message = %q, want %q", msg, want)
					}
					if ext["permission"] != op.perm {
						t.Errorf("extensions.permission = %v, want %s", ext["permission"], op.perm)
					}
					switch op.name {
					case "viewer.apiKeys":
						// A non-null field: the error nulls the viewer.
						if !reflect.DeepEqual(r.Errors[0].Path, []any{"viewer", "apiKeys"}) || apptest.Get(r.Data, "viewer") != nil {
							t.Errorf("path %v, data %v", r.Errors[0].Path, r.Data)
						}
					case "viewer.apiKey(id)", "viewer.apiKey(keyStart)":
						if !reflect.DeepEqual(r.Errors[0].Path, []any{"viewer", "apiKey"}) ||
							apptest.Get(r.Data, "viewer", "id") != aliceID || apptest.Get(r.Data, "viewer", "apiKey") != nil {
							t.Errorf("path %v, data %v", r.Errors[0].Path, r.Data)
						}
					}
					gakNoSecrets(t, "response", r.Raw, target)
					if gakSnapshot(t, ts, aliceID) != snap || len(gakActivities(t, ts, aliceID)) != events {
						t.Error("a refused request changed something")
					}
					if !gakWorks(t, ts, target) {
						t.Error("the target key stopped working")
					}
				})
			}
		}

		t.Run("with the permission", func(t *testing.T) {
			for _, op := range gakOps() {
				key := gqlInsertAPIKey(t, ts, aliceID, []string{op.perm, "account.infos"})
				_, id := gakInsert(t, ts, aliceID, gakKeyOpts{UserPerms: []string{"account.infos"}})
				ks := gakRowByID(t, ts, id).KeyStart
				r := gqlKeyClient(t, ts, key).GQL(op.doc, op.vars(id, ks))
				apptest.GQLNoErrors(t, r)
				if apptest.Get(r.Data, op.field) == nil {
					t.Errorf("%s: %s", op.name, r.Raw)
				}
				if op.field != "viewer" {
					if ue := apptest.GQLUserErrs(t, r, op.field); len(ue) != 0 {
						t.Errorf("%s: userErrors %v", op.name, ue)
					}
				}
			}
		})
	})
}

func TestGraphQLAPIKeyUnauthenticated(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		_, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		target, targetID := gakInsert(t, ts, aliceID, gakKeyOpts{Name: "target"})
		deleted, deletedID := gakInsert(t, ts, aliceID, gakKeyOpts{UserPerms: gakAllUserPerms(t)})
		if _, err := ts.App.DB.NewDelete().Model((*dbtest.APIKeyRow)(nil)).Where("id = ?", uuid.MustParse(deletedID)).
			Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Second)
		expired, _ := gakInsert(t, ts, aliceID, gakKeyOpts{UserPerms: gakAllUserPerms(t), Expires: &past})

		for _, cred := range []struct {
			name, bearer, msg string
		}{
			{"no credentials", "", "missing authorization"},
			{"malformed bearer", "c7sp_short", "invalid authorization header"},
			{"unknown key", "c7sp_" + secret.RandomString(43), "invalid api key"},
			{"right keyStart, wrong secret", target[:16] + secret.RandomString(32), "invalid api key"},
			{"deleted key", deleted, "invalid api key"},
			{"expired key", expired, "invalid api key"},
		} {
			for _, op := range gakOps() {
				t.Run(cred.name+"/"+op.name, func(t *testing.T) {
					snap := gakSnapshot(t, ts, aliceID)
					c := ts.Client(t)
					c.Bearer = cred.bearer
					r := c.GQL(op.doc, op.vars(targetID, target[:16]))
					if op.field == "viewer" {
						// Queries: no viewer, no error.
						apptest.GQLNoErrors(t, r)
						if v, ok := r.Data["viewer"]; !ok || v != nil {
							t.Errorf("viewer = %v, want null", v)
						}
					} else {
						msg, _ := apptest.GQLTopError(t, r, "UNAUTHENTICATED", op.field)
						if msg != cred.msg {
							t.Errorf("message = %q, want %q", msg, cred.msg)
						}
					}
					if gakSnapshot(t, ts, aliceID) != snap {
						t.Error("an unauthenticated request changed something")
					}
				})
			}
		}
	})
}

func TestGraphQLAPIKeyAllowedIPs(t *testing.T) {
	t.Parallel()
	// The test client connects from 127.0.0.1.
	for _, proxied := range []bool{false, true} {
		configure := apptest.NoRateLimit(nil)
		if proxied {
			configure = apptest.NoRateLimit(func(cfg *app.Config) {
				cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
			})
		}
		t.Run(fmt.Sprintf("trusted proxy %v", proxied), func(t *testing.T) {
			apptest.EachServer(t, configure, func(t *testing.T, ts *apptest.Server) {
				alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
				aliceID := gakUserID(t, au)
				_, office := gakCreate(t, alice, map[string]any{"name": "office only", "allowedIps": []string{"203.0.113.0/24"},
					"userPermissions": []string{"api-keys.create"}})
				_, local := gakCreate(t, alice, map[string]any{"name": "loopback", "allowedIps": []string{"::ffff:127.0.0.1", "2001:db8::/32"},
					"userPermissions": []string{"api-keys.create"}})

				for _, tc := range []struct {
					name, key, xff string
					allowed        bool
				}{
					{"office key from loopback", office, "", false},
					{"office key, forged X-Forwarded-For", office, "203.0.113.9", proxied},
					{"office key, office address left of an untrusted hop", office, "203.0.113.9, 198.51.100.1", false},
					{"office key, office address then a trusted proxy", office, "203.0.113.9, 127.0.0.5", proxied},
					{"loopback key from loopback", local, "", true},
					{"loopback key, X-Forwarded-For elsewhere", local, "198.51.100.1", !proxied},
					{"loopback key, IPv6 client in its network", local, "2001:db8::7", true},
				} {
					t.Run(tc.name, func(t *testing.T) {
						c := gqlKeyClient(t, ts, tc.key)
						if tc.xff != "" {
							c.Header.Set("X-Forwarded-For", tc.xff)
						}
						snap := gakSnapshot(t, ts, aliceID)
						r := c.GQL(`{ viewer { id } }`, nil)
						// A key made through a restricted key inherits its
						// restriction, so the new key names the same networks.
						nets := map[string][]string{office: {"203.0.113.0/24"}, local: {"127.0.0.1", "2001:db8::/32"}}[tc.key]
						m := c.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "ip-" + secret.RandomString(6), "allowedIps": nets}))
						if tc.allowed {
							apptest.GQLNoErrors(t, r)
							gqlWantUserErrs(t, m, "createApiKey")
							if apptest.Get(r.Data, "viewer", "id") != aliceID {
								t.Errorf("viewer: %s", r.Raw)
							}
							return
						}
						for _, res := range []struct {
							r     *apptest.GQLResponse
							field string
						}{{r, "viewer"}, {m, "createApiKey"}} {
							if msg, _ := apptest.GQLTopError(t, res.r, "FORBIDDEN", res.field); msg != "ip address not allowed for this api key" {
								t.Errorf("message = %q", msg)
							}
						}
						if gakSnapshot(t, ts, aliceID) != snap {
							t.Error("a refused request changed something")
						}
					})
				}
			})
		})
	}
}

func TestGraphQLAPIKeyMorePermissions(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse") // the first user: an admin
		aliceID := gakUserID(t, au)
		manage := []string{"api-keys.create", "api-keys.read", "api-keys.update", "api-keys.recreate", "api-keys.delete"}
		_, caller := gakCreate(t, alice, map[string]any{"name": "manager", "userPermissions": append([]string{"account.infos"}, manage...),
			"adminPermissions": []string{"stats.read"}, "serverPermissions": []string{"control.start"}})
		kc := gqlKeyClient(t, ts, caller)
		gakWorks(t, ts, caller)
		strong, strongKey := gakCreate(t, alice, map[string]any{"name": "strong", "userPermissions": []string{"account.email"}})
		strongID := strong["id"].(string)

		// refused checks a request was refused with want and changed nothing.
		refused := func(t *testing.T, doc string, in map[string]any, op string, want apptest.GQLUserErr) {
			t.Helper()
			snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
			r := kc.GQL(doc, apptest.GQLIn(in))
			gqlWantUserErrs(t, r, op, want)
			if apptest.Get(r.Data, op, "apiKey") != nil || apptest.Get(r.Data, op, "key") != nil {
				t.Errorf("a key in a refused payload: %s", r.Raw)
			}
			if gakSnapshot(t, ts, aliceID) != snap || len(gakActivities(t, ts, aliceID)) != events {
				t.Error("a refused request changed something")
			}
		}

		for _, tc := range []struct {
			name string
			in   map[string]any
		}{
			{"user permission", map[string]any{"userPermissions": []string{"account.email"}}},
			{"one more user permission", map[string]any{"userPermissions": []string{"account.infos", "activity.read"}}},
			{"server permission", map[string]any{"serverPermissions": []string{"control.stop"}}},
			{"admin permission", map[string]any{"adminPermissions": []string{"settings.read"}}},
		} {
			t.Run("create/"+tc.name, func(t *testing.T) {
				tc.in["name"] = "wider"
				refused(t, gakCreateDoc, tc.in, "createApiKey", gakMore)
				res := kc.Do(http.MethodPost, "/api/client/account/api-keys", gakRESTBody(tc.in))
				if errs := res.Errors(t); res.Status != http.StatusBadRequest || !reflect.DeepEqual(errs, []string{"permissions: more permissions than self"}) {
					t.Errorf("REST: %d %q", res.Status, errs)
				}
			})
		}

		var child map[string]any
		t.Run("create within the caller's lists", func(t *testing.T) {
			var key string
			child, key = gakCreate(t, kc, map[string]any{"name": "child", "userPermissions": []string{"account.infos"},
				"adminPermissions": []string{"stats.read"}, "serverPermissions": []string{"control.start"}})
			if !gakWorks(t, ts, key) {
				t.Error("child key does not work")
			}
		})

		t.Run("update/widen a weaker key", func(t *testing.T) {
			refused(t, gakUpdateDoc, map[string]any{"id": child["id"], "userPermissions": []string{"account.password"}}, "updateApiKey", gakMore)
			refused(t, gakUpdateDoc, map[string]any{"id": child["id"], "serverPermissions": []string{"files.read"}}, "updateApiKey", gakMore)
		})
		t.Run("update/rename a stronger key", func(t *testing.T) {
			refused(t, gakUpdateDoc, map[string]any{"id": strongID, "name": "renamed"}, "updateApiKey", gakMore)
			refused(t, gakUpdateDoc, map[string]any{"id": strongID, "allowedIps": []string{"127.0.0.1"}}, "updateApiKey", gakMore)
		})
		t.Run("update/narrow a stronger key into the caller's lists", func(t *testing.T) {
			r := kc.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": strongID, "userPermissions": []string{"account.infos"}}))
			gqlWantUserErrs(t, r, "updateApiKey")
			gakWantList(t, apptest.Get(r.Data, "updateApiKey", "apiKey").(map[string]any), "userPermissions", "account.infos")
			// Give it its strength back (from the session) for what follows.
			r = alice.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": strongID, "userPermissions": []string{"account.email"}}))
			gqlWantUserErrs(t, r, "updateApiKey")
		})

		t.Run("recreate a stronger key", func(t *testing.T) {
			want := apptest.GQLUserErr{Message: "unable to recreate api key with more permissions than self", Code: "INVALID"}
			refused(t, gakRecreateDoc, map[string]any{"id": strongID}, "recreateApiKey", want)
			if !gakWorks(t, ts, strongKey) {
				t.Error("the stronger key's secret changed")
			}
			res := kc.Do(http.MethodPost, "/api/client/account/api-keys/"+strongID+"/recreate", nil)
			if errs := res.Errors(t); res.Status != http.StatusBadRequest ||
				!reflect.DeepEqual(errs, []string{"unable to recreate api key with more permissions than self"}) {
				t.Errorf("REST: %d %q", res.Status, errs)
			}
			if !gakWorks(t, ts, strongKey) {
				t.Error("the stronger key's secret changed")
			}
		})

		t.Run("recreate a weaker key", func(t *testing.T) {
			r := kc.GQL(gakRecreateDoc, apptest.GQLIn(map[string]any{"id": child["id"]}))
			gqlWantUserErrs(t, r, "recreateApiKey")
		})

		t.Run("admin permissions need an admin user", func(t *testing.T) {
			if err := ts.App.Store.SetUserFlags(context.Background(), uuid.MustParse(aliceID), false, false, false); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := ts.App.Store.SetUserFlags(context.Background(), uuid.MustParse(aliceID), true, false, false); err != nil {
					t.Fatal(err)
				}
			}()
			refused(t, gakCreateDoc, map[string]any{"name": "admin child", "adminPermissions": []string{"stats.read"}}, "createApiKey", gakMore)
			snap := gakSnapshot(t, ts, aliceID)
			r := alice.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "admin child", "adminPermissions": []string{"stats.read"}}))
			gqlWantUserErrs(t, r, "createApiKey", gakMore)
			if gakSnapshot(t, ts, aliceID) != snap {
				t.Error("a refused create changed something")
			}
		})
	})
}

func TestGraphQLAPIKeyChangePassword(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "password-0")
		aliceID := gakUserID(t, au)
		_, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		bobKey, _ := gakInsert(t, ts, gakUserID(t, bu), gakKeyOpts{})
		var keys []string
		for range 3 {
			k, _ := gakInsert(t, ts, aliceID, gakKeyOpts{UserPerms: []string{"account.infos"}})
			keys = append(keys, k)
		}

		change := func(t *testing.T, c *apptest.Client, from, to string, revoke any) map[string]any {
			t.Helper()
			in := map[string]any{"currentPassword": from, "newPassword": to}
			if revoke != "left out" {
				in["revokeApiKeys"] = revoke
			}
			r := c.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(in))
			gqlWantUserErrs(t, r, "changePassword")
			return apptest.Get(r.Data, "changePassword").(map[string]any)
		}

		for i, revoke := range []any{"left out", false, nil} {
			t.Run(fmt.Sprintf("revokeApiKeys %v", revoke), func(t *testing.T) {
				p := change(t, alice, fmt.Sprintf("password-%d", i), fmt.Sprintf("password-%d", i+1), revoke)
				if p["revokedApiKeys"] != float64(0) {
					t.Errorf("revokedApiKeys = %v", p["revokedApiKeys"])
				}
				for _, k := range keys {
					if !gakWorks(t, ts, k) {
						t.Error("a key stopped working")
					}
				}
				if n := gqlCountAPIKeys(t, ts, aliceID); n != 3 {
					t.Errorf("keys = %d", n)
				}
			})
		}

		t.Run("revokeApiKeys true", func(t *testing.T) {
			p := change(t, alice, "password-3", "password-4", true)
			if p["revokedApiKeys"] != float64(3) {
				t.Errorf("revokedApiKeys = %v, want 3", p["revokedApiKeys"])
			}
			for _, k := range keys {
				gakWantDead(t, ts, k)
			}
			if n := gqlCountAPIKeys(t, ts, aliceID); n != 0 {
				t.Errorf("keys = %d", n)
			}
			if p := gakReadPage(t, gakList(t, alice, nil)); p.Total != 0 {
				t.Errorf("listed after revocation: %+v", p)
			}
			// The session that changed it stays; other users' keys are untouched.
			if apptest.GQLViewer(t, alice) == nil {
				t.Error("the session was ended")
			}
			if !gakWorks(t, ts, bobKey) {
				t.Error("bob's key stopped working")
			}
			// Nothing left to revoke.
			if p := change(t, alice, "password-4", "password-5", true); p["revokedApiKeys"] != float64(0) {
				t.Errorf("revokedApiKeys = %v, want 0", p["revokedApiKeys"])
			}
		})

		t.Run("through a key, revoking itself", func(t *testing.T) {
			key, _ := gakInsert(t, ts, aliceID, gakKeyOpts{UserPerms: []string{"account.password"}})
			other, _ := gakInsert(t, ts, aliceID, gakKeyOpts{})
			p := change(t, gqlKeyClient(t, ts, key), "password-5", "password-6", true)
			if p["revokedApiKeys"] != float64(2) {
				t.Errorf("revokedApiKeys = %v, want 2", p["revokedApiKeys"])
			}
			gakWantDead(t, ts, key)
			gakWantDead(t, ts, other)
		})

		t.Run("wrong password revokes nothing", func(t *testing.T) {
			c := gqlLogin(t, ts, "alice", "password-6")
			key, _ := gakInsert(t, ts, aliceID, gakKeyOpts{})
			r := c.GQL(apptest.GQLChangePasswordDoc, apptest.GQLIn(map[string]any{"currentPassword": "wrong password", "newPassword": "password-7",
				"revokeApiKeys": true}))
			gqlWantUserErrs(t, r, "changePassword", apptest.GQLUserErr{Field: gqlField("currentPassword"), Message: "invalid password", Code: "INVALID_PASSWORD"})
			if !gakWorks(t, ts, key) || gqlCountAPIKeys(t, ts, aliceID) != 1 {
				t.Error("a refused change revoked keys")
			}
		})
	})
}

func TestGraphQLAPIKeyQuotaConcurrent(t *testing.T) {
	t.Parallel()
	const quota, parallel = 10, 10
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.MaxAPIKeys = quota }), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		for range quota - 1 {
			gakInsert(t, ts, aliceID, gakKeyOpts{})
		}

		responses := make([]*apptest.GQLResponse, parallel)
		errs := make([]error, parallel)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range parallel {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				responses[i], errs[i] = alice.TryGQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": fmt.Sprintf("racer-%02d", i)}))
			}()
		}
		close(start)
		wg.Wait()

		var created []string
		quotaErrs := 0
		for i, r := range responses {
			if errs[i] != nil {
				t.Fatalf("request %d: %v", i, errs[i])
			}
			apptest.GQLNoErrors(t, r)
			ue := apptest.GQLUserErrs(t, r, "createApiKey")
			key, _ := apptest.Get(r.Data, "createApiKey", "key").(string)
			switch {
			case len(ue) == 0 && gakSecretRE.MatchString(key) && apptest.Get(r.Data, "createApiKey", "apiKey") != nil:
				created = append(created, key)
			case len(ue) == 1 && ue[0].Code == "QUOTA_EXCEEDED" && ue[0].Field == nil &&
				ue[0].Message == "maximum number of api keys reached" && key == "" && apptest.Get(r.Data, "createApiKey", "apiKey") == nil:
				quotaErrs++
			default:
				t.Errorf("request %d: %s", i, r.Raw)
			}
		}
		if len(created) != 1 || quotaErrs != parallel-1 {
			t.Errorf("created %d, refused %d; want 1 and %d", len(created), quotaErrs, parallel-1)
		}
		if n := gqlCountAPIKeys(t, ts, aliceID); n != quota {
			t.Errorf("keys = %d, want %d", n, quota)
		}
		if p := gakReadPage(t, gakList(t, alice, map[string]any{"first": 100})); p.Total != quota {
			t.Errorf("totalCount = %d, want %d", p.Total, quota)
		}
		if evs := gakEvents(t, ts, aliceID, "api-key:create"); len(evs) != 1 {
			t.Errorf("api-key:create events = %d, want 1", len(evs))
		}
		for _, k := range created {
			if !gakWorks(t, ts, k) {
				t.Error("the winning key does not work")
			}
		}
	})
}

func TestGraphQLAPIKeyRESTAgree(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, _ := apptest.GQLRegister(t, ts, "alice", "correct horse")

		// same compares a GraphQL ApiKey with a REST ApiKey field by field.
		same := func(t *testing.T, g, r map[string]any) {
			t.Helper()
			pairs := [][2]string{{"id", "uuid"}, {"name", "name"}, {"keyStart", "key_start"}, {"allowedIps", "allowed_ips"},
				{"userPermissions", "user_permissions"}, {"adminPermissions", "admin_permissions"},
				{"serverPermissions", "server_permissions"}}
			for _, p := range pairs {
				if !reflect.DeepEqual(g[p[0]], r[p[1]]) {
					t.Errorf("%s = %#v, REST %s = %#v", p[0], g[p[0]], p[1], r[p[1]])
				}
			}
			for _, p := range [][2]string{{"lastUsedAt", "last_used"}, {"expiresAt", "expires"}, {"createdAt", "created"}} {
				if g[p[0]] == nil || r[p[1]] == nil {
					if g[p[0]] != nil || r[p[1]] != nil {
						t.Errorf("%s = %v, REST %s = %v", p[0], g[p[0]], p[1], r[p[1]])
					}
					continue
				}
				gt, err1 := time.Parse(time.RFC3339Nano, g[p[0]].(string))
				rt, err2 := time.Parse(time.RFC3339Nano, r[p[1]].(string))
				if err1 != nil || err2 != nil || !gt.Equal(rt) {
					t.Errorf("%s = %v, REST %s = %v", p[0], g[p[0]], p[1], r[p[1]])
				}
			}
			if len(r) != 10 {
				t.Errorf("REST ApiKey has %d members: %v", len(r), r)
			}
		}
		restList := func(t *testing.T) []map[string]any {
			t.Helper()
			res := alice.Do(http.MethodGet, "/api/client/account/api-keys", nil)
			if res.Status != http.StatusOK {
				t.Fatalf("REST list: %d %s", res.Status, res.Body)
			}
			var out []map[string]any
			for _, d := range apptest.Get(res.JSON(t), "api_keys", "data").([]any) {
				out = append(out, d.(map[string]any))
			}
			return out
		}

		k, key := gakCreate(t, alice, map[string]any{"name": "shared", "allowedIps": []string{"127.0.0.1", "10.0.0.0/8", "2001:db8::/48"},
			"userPermissions": []string{"account.infos", "api-keys.read"}, "adminPermissions": []string{"stats.read"},
			"serverPermissions": []string{"files.read"}, "expiresAt": gakFuture2})

		t.Run("created over GraphQL, listed by REST", func(t *testing.T) {
			list := restList(t)
			if len(list) != 1 {
				t.Fatalf("REST lists %d keys", len(list))
			}
			same(t, k, list[0])
			res := alice.Do(http.MethodGet, "/api/client/account/api-keys/identifier/"+key[:16], nil)
			if res.Status != http.StatusOK {
				t.Fatalf("REST identifier: %d %s", res.Status, res.Body)
			}
			same(t, k, apptest.Get(res.JSON(t), "api_key").(map[string]any))
		})

		t.Run("after use and update", func(t *testing.T) {
			gakWorks(t, ts, key)
			r := alice.GQL(gakUpdateDoc, apptest.GQLIn(map[string]any{"id": k["id"], "name": "shared 2", "expiresAt": nil,
				"allowedIps": []string{}}))
			gqlWantUserErrs(t, r, "updateApiKey")
			g := gakLookup(t, alice, map[string]any{"id": k["id"]})
			if g["lastUsedAt"] == nil {
				t.Error("lastUsedAt not recorded")
			}
			same(t, g, restList(t)[0])
		})

		t.Run("created over REST, listed by GraphQL", func(t *testing.T) {
			res := alice.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{"name": "from rest",
				"allowed_ips": []string{"1.2.3.4"}, "user_permissions": []string{"account.email"}, "expires": gakFuture})
			if res.Status != http.StatusOK {
				t.Fatalf("REST create: %d %s", res.Status, res.Body)
			}
			rk := apptest.Get(res.JSON(t), "api_key").(map[string]any)
			g := gakLookup(t, alice, map[string]any{"id": rk["uuid"]})
			if g == nil {
				t.Fatal("GraphQL does not find the REST key")
			}
			same(t, g, rk)
			nodes := gakNodes(gakList(t, alice, nil))
			if len(nodes) != 2 || nodes[1]["id"] != rk["uuid"] {
				t.Errorf("GraphQL list: %v", nodes)
			}
		})

		t.Run("deleted over GraphQL, gone from REST", func(t *testing.T) {
			r := alice.GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": k["id"]}))
			gqlWantUserErrs(t, r, "deleteApiKey")
			res := alice.Do(http.MethodGet, "/api/client/account/api-keys/identifier/"+key[:16], nil)
			if errs := res.Errors(t); res.Status != http.StatusNotFound || !reflect.DeepEqual(errs, []string{"api key not found"}) {
				t.Errorf("REST identifier after delete: %d %q", res.Status, errs)
			}
			if list := restList(t); len(list) != 1 || list[0]["name"] != "from rest" {
				t.Errorf("REST list after delete: %v", list)
			}
		})
	})
}
