package rest_test

// Authentication by API key on the API-key routes (REST.md §2), the
// allow-list of client addresses, and the permission-subset rules of §5.

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/secret"
)

// rakRoute is one API-key route, the permission it needs and a body it
// accepts.
type rakRoute struct {
	perm, method, path string
	body               any
}

// rakRoutes lists the six routes against target key id / keyStart.
func rakRoutes(id, keyStart string) []rakRoute {
	return []rakRoute{
		{"api-keys.read", http.MethodGet, rakPath, nil},
		{"api-keys.read", http.MethodGet, rakPath + "/identifier/" + keyStart, nil},
		{"api-keys.create", http.MethodPost, rakPath, map[string]any{"name": "new-key"}},
		{"api-keys.update", http.MethodPatch, rakPath + "/" + id, map[string]any{"name": "renamed"}},
		{"api-keys.delete", http.MethodDelete, rakPath + "/" + id, nil},
		{"api-keys.recreate", http.MethodPost, rakPath + "/" + id + "/recreate", nil},
	}
}

// rakWithoutPerm returns rakManage minus perm.
func rakWithoutPerm(perm string) []string {
	var out []string
	for _, p := range rakManage {
		if p != perm {
			out = append(out, p)
		}
	}
	return out
}

// rakRecreate recreates key id and returns the new secret.
func rakRecreate(t testing.TB, c *apptest.Client, id string) string {
	t.Helper()
	res := c.Do(http.MethodPost, rakPath+"/"+id+"/recreate", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("recreate %s: %d %s", id, res.Status, res.Body)
	}
	var key string
	if err := json.Unmarshal(rakMember(t, res.Body, "key"), &key); err != nil || !rakSecretRE.MatchString(key) {
		t.Fatalf("recreate answer %s", res.Body)
	}
	return key
}

func TestRESTAPIKeyBearer(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		cookie := apptest.CookieValue(t, alice.Client)
		target, _ := rakCreate(t, alice.Client, map[string]any{"name": "target"})
		id, keyStart := target["uuid"].(string), target["key_start"].(string)
		before := rakSnapshot(t, ts, id)
		unchanged := func(t *testing.T, count int) {
			t.Helper()
			if after := rakSnapshot(t, ts, id); after != before {
				t.Errorf("the target key changed:\n%s\n%s", before, after)
			}
			rakWantCount(t, ts, alice.ID, count)
		}

		t.Run("no credentials", func(t *testing.T) {
			anon := ts.Client(t)
			for _, r := range rakRoutes(id, keyStart) {
				apptest.WantErrors(t, anon.Do(r.method, r.path, r.body), http.StatusUnauthorized, "missing authorization")
			}
			for _, h := range []string{"Basic YWxpY2U6YWxpY2UgcGFzc3dvcmQ=", "Bearer", "Bearer c7sp_" + secret.RandomString(42) + "-"} {
				malformed := ts.Client(t)
				malformed.Header.Set("Authorization", h)
				for _, r := range rakRoutes(id, keyStart) {
					apptest.WantErrors(t, malformed.Do(r.method, r.path, r.body), http.StatusUnauthorized, "invalid authorization header")
				}
			}
			unchanged(t, 1)
		})
		t.Run("the header wins over a valid cookie", func(t *testing.T) {
			for _, tc := range []struct{ header, want string }{
				{"Bearer c7sp_" + secret.RandomString(43), "invalid api key"},
				{"Bearer " + keyStart + secret.RandomString(32), "invalid api key"},
				{"Bearer c7sp_" + secret.RandomString(42), "invalid authorization header"},
				{"Bearer " + cookie, "invalid authorization header"},
				{"Token abc", "invalid authorization header"},
				{"", "invalid authorization header"},
			} {
				c := apptest.CookieClient(t, ts, cookie)
				c.Header.Set("Authorization", tc.header)
				for _, r := range rakRoutes(id, keyStart) {
					apptest.WantErrors(t, c.Do(r.method, r.path, r.body), http.StatusUnauthorized, tc.want)
				}
			}
			unchanged(t, 1)
			// The cookie alone still works.
			rakList(t, apptest.CookieClient(t, ts, cookie), "")
		})
		t.Run("each route names the permission it lacks", func(t *testing.T) {
			for _, r := range rakRoutes(id, keyStart) {
				kc := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID, rakWithoutPerm(r.perm)...))
				apptest.WantErrors(t, kc.Do(r.method, r.path, r.body), http.StatusForbidden,
					"you do not have permission to perform this action: "+r.perm)
			}
			unchanged(t, 1+len(rakRoutes(id, keyStart)))
		})
		t.Run("an empty permission list grants nothing", func(t *testing.T) {
			n := rakCount(t, ts, alice.ID)
			kc := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID))
			for _, r := range rakRoutes(id, keyStart) {
				apptest.WantErrors(t, kc.Do(r.method, r.path, r.body), http.StatusForbidden,
					"you do not have permission to perform this action: "+r.perm)
			}
			unchanged(t, n+1)
		})
		t.Run("a permission for another route grants nothing", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID, "account.infos", "account.email", "account.password",
				"sessions.read", "sessions.delete", "activity.read"))
			for _, r := range rakRoutes(id, keyStart) {
				apptest.WantErrors(t, kc.Do(r.method, r.path, r.body), http.StatusForbidden,
					"you do not have permission to perform this action: "+r.perm)
			}
		})
		t.Run("every route works with its permission alone", func(t *testing.T) {
			for _, r := range rakRoutes(id, keyStart) {
				if r.perm == "api-keys.delete" || r.perm == "api-keys.recreate" {
					continue // below, on a key of their own
				}
				kc := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID, r.perm))
				res := kc.Do(r.method, r.path, r.body)
				apptest.WantStatus(t, res, http.StatusOK)
				if r.method == http.MethodPost {
					apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+apptest.Get(res.JSON(t), "api_key", "uuid").(string), nil))
				}
			}
			victim, _ := rakCreate(t, alice.Client, map[string]any{"name": "victim"})
			vid := victim["uuid"].(string)
			rakRecreate(t, apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID, "api-keys.recreate")), vid)
			apptest.WantEmpty(t, apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID, "api-keys.delete")).Do(http.MethodDelete, rakPath+"/"+vid, nil))
		})
		t.Run("a deleted key fails on the very next request", func(t *testing.T) {
			k, key := rakCreate(t, alice.Client, map[string]any{"name": "doomed", "user_permissions": []string{"api-keys.read"}})
			kc := apptest.KeyClient(t, ts, key)
			rakList(t, kc, "")
			apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+k["uuid"].(string), nil))
			for _, r := range rakRoutes(id, keyStart) {
				apptest.WantErrors(t, kc.Do(r.method, r.path, r.body), http.StatusUnauthorized, "invalid api key")
			}
		})
		t.Run("a key deleting itself", func(t *testing.T) {
			key := rakKey(t, ts, alice.ID, "api-keys.delete", "api-keys.read")
			kc := apptest.KeyClient(t, ts, key)
			apptest.WantEmpty(t, kc.Do(http.MethodDelete, rakPath+"/"+rakID(t, ts, key), nil))
			apptest.WantErrors(t, kc.Do(http.MethodGet, rakPath, nil), http.StatusUnauthorized, "invalid api key")
		})
		t.Run("the old secret of a recreated key fails on the very next request", func(t *testing.T) {
			k, old := rakCreate(t, alice.Client, map[string]any{"name": "rotated", "user_permissions": []string{"api-keys.read"}})
			oc := apptest.KeyClient(t, ts, old)
			rakList(t, oc, "")
			key := rakRecreate(t, alice.Client, k["uuid"].(string))
			for _, r := range rakRoutes(id, keyStart) {
				apptest.WantErrors(t, oc.Do(r.method, r.path, r.body), http.StatusUnauthorized, "invalid api key")
			}
			if got := rakGet(t, apptest.KeyClient(t, ts, key), key[:16]); got["uuid"] != k["uuid"] {
				t.Errorf("the new secret is another key: %v", got)
			}
		})
		t.Run("a key recreating itself", func(t *testing.T) {
			old := rakKey(t, ts, alice.ID, "api-keys.recreate", "api-keys.read")
			oc := apptest.KeyClient(t, ts, old)
			key := rakRecreate(t, oc, rakID(t, ts, old))
			apptest.WantErrors(t, oc.Do(http.MethodGet, rakPath, nil), http.StatusUnauthorized, "invalid api key")
			rakList(t, apptest.KeyClient(t, ts, key), "")
		})
	})
}

func TestRESTAPIKeyExpiredOverHTTP(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) { cfg.MaxAPIKeys = 1 }, func(t *testing.T, ts *apptest.Server) {
		clock := restFakeClock(ts)
		alice := apptest.Register(t, ts, "alice", "alice password")
		expires := clock.now().Add(30 * time.Minute)
		k, key := rakCreate(t, alice.Client, map[string]any{"name": "short-lived", "user_permissions": rakManage,
			"expires": expires.Format(time.RFC3339Nano)})
		id := k["uuid"].(string)
		kc := apptest.KeyClient(t, ts, key)
		rakList(t, kc, "")
		apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath, map[string]any{"name": "second"}),
			http.StatusExpectationFailed, "maximum number of api keys reached")

		clock.advance(29 * time.Minute)
		rakList(t, kc, "")
		clock.advance(2 * time.Minute)

		t.Run("the key fails on the next request", func(t *testing.T) {
			for _, r := range rakRoutes(id, key[:16]) {
				apptest.WantErrors(t, kc.Do(r.method, r.path, r.body), http.StatusUnauthorized, "invalid api key")
			}
		})
		t.Run("hidden from list and lookups", func(t *testing.T) {
			if p := rakList(t, alice.Client, ""); p.Total != 0 || len(p.Items) != 0 {
				t.Errorf("expired key listed: %q total %d", p.names(), p.Total)
			}
			apptest.WantErrors(t, alice.Do(http.MethodGet, rakPath+"/identifier/"+key[:16], nil), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, alice.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"expires": nil}), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, alice.Do(http.MethodPost, rakPath+"/"+id+"/recreate", nil), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, alice.Do(http.MethodDelete, rakPath+"/"+id, nil), http.StatusNotFound, "api key not found")
			// PATCH expires:null did not revive it.
			apptest.WantErrors(t, kc.Do(http.MethodGet, rakPath, nil), http.StatusUnauthorized, "invalid api key")
		})
		t.Run("its slot and name are free", func(t *testing.T) {
			n, _ := rakCreate(t, alice.Client, map[string]any{"name": "short-lived"})
			if n["uuid"] == id {
				t.Errorf("the expired key came back")
			}
			rakWantCount(t, ts, alice.ID, 1)
		})
	})
}

func TestRESTAPIKeyAllowedIPs(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		t.Run("the test client is 127.0.0.1", func(t *testing.T) {
			if !strings.HasPrefix(ts.URL, "http://127.0.0.1:") {
				t.Fatalf("server at %s", ts.URL)
			}
			k, _ := rakCreate(t, alice.Client, map[string]any{"name": "probe"})
			acts := rakActivities(t, ts, alice.ID)
			if len(acts) == 0 || acts[len(acts)-1].IP == nil || *acts[len(acts)-1].IP != "127.0.0.1" {
				t.Fatalf("the create was recorded from %v, want 127.0.0.1", acts)
			}
			apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+k["uuid"].(string), nil))
		})
		for _, tc := range []struct {
			name    string
			allowed []string
			stored  []string
			xff     string
			ok      bool
		}{
			{"10.0.0.0/8 only", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, "", false},
			{"10.0.0.0/8 only, forged X-Forwarded-For", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, "10.1.2.3", false},
			{"10.0.0.0/8 only, forged X-Forwarded-For chain", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, "10.1.2.3, 10.4.5.6", false},
			{"bare 127.0.0.1", []string{"127.0.0.1"}, []string{"127.0.0.1/32"}, "", true},
			{"127.0.0.1/32", []string{"127.0.0.1/32"}, []string{"127.0.0.1/32"}, "", true},
			{"127.0.0.0/8, unmasked", []string{"127.1.2.3/8"}, []string{"127.0.0.0/8"}, "", true},
			{"IPv4-mapped 127.0.0.1", []string{"::ffff:127.0.0.1"}, []string{"127.0.0.1/32"}, "", true},
			{"127.0.0.2 only", []string{"127.0.0.2"}, []string{"127.0.0.2/32"}, "", false},
			{"IPv6 loopback only", []string{"::1"}, []string{"::1/128"}, "", false},
			{"IPv6 network and the client", []string{"2001:db8::/32", "127.0.0.1"}, []string{"2001:db8::/32", "127.0.0.1/32"}, "", true},
			{"empty list allows every address", []string{}, []string{}, "8.8.8.8", true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				k, key := rakCreate(t, alice.Client, map[string]any{"name": "ips-" + secret.RandomString(8),
					"allowed_ips": tc.allowed, "user_permissions": rakManage})
				rakSameSet(t, "allowed_ips", k["allowed_ips"], tc.stored...)
				kc := apptest.KeyClient(t, ts, key)
				if tc.xff != "" {
					kc.Header.Set("X-Forwarded-For", tc.xff)
				}
				n := rakCount(t, ts, alice.ID)
				for _, r := range rakRoutes(k["uuid"].(string), key[:16]) {
					if r.method != http.MethodGet && tc.ok {
						continue // the refused case is what matters for writes
					}
					res := kc.Do(r.method, r.path, r.body)
					if tc.ok {
						apptest.WantStatus(t, res, http.StatusOK)
					} else {
						apptest.WantErrors(t, res, http.StatusForbidden, "ip address not allowed for this api key")
					}
				}
				rakWantCount(t, ts, alice.ID, n)
			})
		}
		t.Run("clearing the list lets the key in", func(t *testing.T) {
			k, key := rakCreate(t, alice.Client, map[string]any{"name": "opened", "allowed_ips": []string{"10.0.0.0/8"},
				"user_permissions": []string{"api-keys.read"}})
			kc := apptest.KeyClient(t, ts, key)
			apptest.WantErrors(t, kc.Do(http.MethodGet, rakPath, nil), http.StatusForbidden, "ip address not allowed for this api key")
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, rakPath+"/"+k["uuid"].(string), map[string]any{"allowed_ips": []string{}}))
			rakList(t, kc, "")
			apptest.WantEmpty(t, alice.Do(http.MethodPatch, rakPath+"/"+k["uuid"].(string), map[string]any{"allowed_ips": []string{"192.0.2.0/24"}}))
			apptest.WantErrors(t, kc.Do(http.MethodGet, rakPath, nil), http.StatusForbidden, "ip address not allowed for this api key")
		})
	})
}

func TestRESTAPIKeyAllowedIPsBehindProxy(t *testing.T) {
	t.Parallel()
	restServer(t, func(cfg *app.Config) {
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		create := func(t *testing.T, allowed ...string) (string, string) {
			t.Helper()
			k, key := rakCreate(t, alice.Client, map[string]any{"name": "ips-" + secret.RandomString(8),
				"allowed_ips": allowed, "user_permissions": rakManage})
			return k["uuid"].(string), key
		}
		_, v4 := create(t, "10.0.0.0/8")
		_, v6 := create(t, "2001:db8::/32")
		_, host6 := create(t, "2001:db8::7")
		for _, tc := range []struct {
			name string
			key  string
			xff  []string
			ok   bool
		}{
			{"v4: no header, the proxy itself", v4, nil, false},
			{"v4: client in the network", v4, []string{"10.1.2.3"}, true},
			{"v4: right-most untrusted entry is 8.8.8.8", v4, []string{"10.1.2.3, 8.8.8.8"}, false},
			{"v4: right-most untrusted entry is 10.1.2.3", v4, []string{"8.8.8.8, 10.1.2.3"}, true},
			{"v4: behind a second hop of the trusted proxy", v4, []string{"10.1.2.3, 127.0.0.1"}, true},
			{"v4: IPv4-mapped client", v4, []string{"::ffff:10.1.2.3"}, true},
			{"v4: an IPv6 client", v4, []string{"2001:db8::5"}, false},
			{"v6: client in the network", v6, []string{"2001:db8::5"}, true},
			{"v6: client outside", v6, []string{"2001:db9::1"}, false},
			{"v6: an IPv4 client", v6, []string{"10.1.2.3"}, false},
			{"v6 host: the host", host6, []string{"2001:db8::7"}, true},
			{"v6 host: its neighbour", host6, []string{"2001:db8::8"}, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				kc := apptest.KeyClient(t, ts, tc.key)
				if tc.xff != nil {
					kc.Header["X-Forwarded-For"] = tc.xff
				}
				res := kc.Do(http.MethodGet, rakPath, nil)
				if tc.ok {
					apptest.WantStatus(t, res, http.StatusOK)
				} else {
					apptest.WantErrors(t, res, http.StatusForbidden, "ip address not allowed for this api key")
				}
			})
		}
		t.Run("the activity records the address behind the proxy", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, v4)
			kc.Header.Set("X-Forwarded-For", "10.1.2.3")
			k, _ := rakCreate(t, kc, map[string]any{"name": "made-behind-proxy", "allowed_ips": []string{"10.0.0.0/8"}})
			acts := rakActivities(t, ts, alice.ID)
			last := acts[len(acts)-1]
			if last.Event != "api-key:create" || last.IP == nil || *last.IP != "10.1.2.3" ||
				last.APIKeyID == nil || last.APIKeyID.String() != rakID(t, ts, v4) {
				t.Errorf("activity %s ip %v key %v, want api-key:create from 10.1.2.3 by the calling key", last.Event, last.IP, last.APIKeyID)
			}
			if !strings.Contains(last.Data, k["uuid"].(string)) {
				t.Errorf("activity data %s does not name the new key", last.Data)
			}
		})
	})
}

func TestRESTAPIKeyPermissionSubset(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password") // an admin
		callerKey := rakKey(t, ts, alice.ID, "api-keys.create", "api-keys.read", "api-keys.update", "api-keys.recreate", "account.infos")
		caller := apptest.KeyClient(t, ts, callerKey)
		strong, strongKey := rakCreate(t, alice.Client, map[string]any{"name": "strong", "user_permissions": []string{"account.password"}})
		strongID := strong["uuid"].(string)
		strongBefore := rakSnapshot(t, ts, strongID)

		t.Run("create with more than self: refused, nothing created", func(t *testing.T) {
			n := rakCount(t, ts, alice.ID)
			acts := len(rakActivities(t, ts, alice.ID))
			for _, body := range []map[string]any{
				{"name": "wider", "user_permissions": []string{"account.email"}},
				{"name": "wider", "user_permissions": []string{"account.infos", "api-keys.delete"}},
				{"name": "wider", "admin_permissions": []string{"stats.read"}},
				{"name": "wider", "server_permissions": []string{"control.start"}},
			} {
				apptest.WantErrors(t, caller.Do(http.MethodPost, rakPath, body), http.StatusBadRequest, "permissions: more permissions than self")
			}
			rakWantCount(t, ts, alice.ID, n)
			if got := len(rakActivities(t, ts, alice.ID)); got != acts {
				t.Errorf("refused creates recorded %d events", got-acts)
			}
		})
		var sub map[string]any
		var subKey string
		t.Run("a subset: created, and it holds exactly that", func(t *testing.T) {
			sub, subKey = rakCreate(t, caller, map[string]any{"name": "subset", "user_permissions": []string{"account.infos", "api-keys.read"}})
			rakSameSet(t, "user_permissions", sub["user_permissions"], "account.infos", "api-keys.read")
			sc := apptest.KeyClient(t, ts, subKey)
			rakList(t, sc, "")
			rakGet(t, sc, subKey[:16])
			apptest.WantEmpty(t, sc.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Sub"}))
			apptest.WantErrors(t, sc.Do(http.MethodPut, "/api/client/account/email", map[string]any{"email": "x@example.com", "password": "alice password"}),
				http.StatusForbidden, "you do not have permission to perform this action: account.email")
			for _, r := range rakRoutes(sub["uuid"].(string), subKey[:16])[2:] {
				apptest.WantErrors(t, sc.Do(r.method, r.path, r.body), http.StatusForbidden, "you do not have permission to perform this action: "+r.perm)
			}
		})
		t.Run("an empty key can always be made", func(t *testing.T) {
			k, _ := rakCreate(t, caller, map[string]any{"name": "empty-by-key"})
			rakSameSet(t, "user_permissions", k["user_permissions"])
		})
		t.Run("update to more than self: refused, unchanged", func(t *testing.T) {
			id := sub["uuid"].(string)
			before := rakSnapshot(t, ts, id)
			apptest.WantErrors(t, caller.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"user_permissions": []string{"account.infos", "account.email"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			apptest.WantErrors(t, caller.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"name": "subset-2", "server_permissions": []string{"files.read"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			if after := rakSnapshot(t, ts, id); after != before {
				t.Errorf("refused PATCH changed the key:\n%s\n%s", before, after)
			}
			// Within self it works.
			apptest.WantEmpty(t, caller.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"user_permissions": []string{"account.infos"}}))
			rakSameSet(t, "user_permissions", rakGet(t, alice.Client, subKey[:16])["user_permissions"], "account.infos")
		})
		t.Run("a stronger key cannot be edited, not even its name", func(t *testing.T) {
			apptest.WantErrors(t, caller.Do(http.MethodPatch, rakPath+"/"+strongID, map[string]any{"name": "weakened"}),
				http.StatusBadRequest, "permissions: more permissions than self")
			if after := rakSnapshot(t, ts, strongID); after != strongBefore {
				t.Errorf("the stronger key changed:\n%s\n%s", strongBefore, after)
			}
		})
		t.Run("recreating a stronger key: refused, its secret still works", func(t *testing.T) {
			apptest.WantErrors(t, caller.Do(http.MethodPost, rakPath+"/"+strongID+"/recreate", nil),
				http.StatusBadRequest, "unable to recreate api key with more permissions than self")
			if after := rakSnapshot(t, ts, strongID); after != strongBefore {
				t.Errorf("the stronger key changed:\n%s\n%s", strongBefore, after)
			}
			if restAccount(t, apptest.KeyClient(t, ts, strongKey))["username"] != "alice" {
				t.Errorf("the stronger key authenticates someone else")
			}
			// It still holds its permission: a wrong password is checked, not refused.
			apptest.WantErrors(t, apptest.KeyClient(t, ts, strongKey).Do(http.MethodPut, "/api/client/account/password",
				map[string]any{"password": "wrong password", "new_password": "whatever password"}), http.StatusForbidden, "invalid password")
		})
		t.Run("recreating a weaker key works", func(t *testing.T) {
			key := rakRecreate(t, caller, sub["uuid"].(string))
			apptest.WantEmpty(t, apptest.KeyClient(t, ts, key).Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Recreated"}))
			apptest.WantErrors(t, apptest.KeyClient(t, ts, subKey).Do(http.MethodGet, "/api/client/account", nil), http.StatusUnauthorized, "invalid api key")
		})
		t.Run("admin permissions: within the key's list and only while the user is an admin", func(t *testing.T) {
			_, adminKey := rakCreate(t, alice.Client, map[string]any{"name": "admin-caller",
				"user_permissions": []string{"api-keys.create"}, "admin_permissions": []string{"stats.read"}})
			ac := apptest.KeyClient(t, ts, adminKey)
			rakCreate(t, ac, map[string]any{"name": "admin-sub", "admin_permissions": []string{"stats.read"}})
			n := rakCount(t, ts, alice.ID)
			apptest.WantErrors(t, ac.Do(http.MethodPost, rakPath, map[string]any{"name": "admin-wider", "admin_permissions": []string{"settings.read"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			restSetFlags(t, ts, alice.ID, false, false, false)
			apptest.WantErrors(t, ac.Do(http.MethodPost, rakPath, map[string]any{"name": "admin-after", "admin_permissions": []string{"stats.read"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			rakWantCount(t, ts, alice.ID, n)
			rakCreate(t, ac, map[string]any{"name": "plain-after"})
			restSetFlags(t, ts, alice.ID, true, false, false)
		})
		t.Run("server permissions: within the key's list", func(t *testing.T) {
			_, serverKey := rakCreate(t, alice.Client, map[string]any{"name": "server-caller",
				"user_permissions": []string{"api-keys.create"}, "server_permissions": []string{"control.start", "files.read"}})
			sc := apptest.KeyClient(t, ts, serverKey)
			k, _ := rakCreate(t, sc, map[string]any{"name": "server-sub", "server_permissions": []string{"files.read"}})
			rakSameSet(t, "server_permissions", k["server_permissions"], "files.read")
			n := rakCount(t, ts, alice.ID)
			apptest.WantErrors(t, sc.Do(http.MethodPost, rakPath, map[string]any{"name": "server-wider", "server_permissions": []string{"control.stop"}}),
				http.StatusBadRequest, "permissions: more permissions than self")
			rakWantCount(t, ts, alice.ID, n)
		})
		t.Run("a key recreating itself", func(t *testing.T) {
			key := rakRecreate(t, caller, rakID(t, ts, callerKey))
			apptest.WantErrors(t, caller.Do(http.MethodGet, rakPath, nil), http.StatusUnauthorized, "invalid api key")
			rakList(t, apptest.KeyClient(t, ts, key), "")
		})
	})
}
