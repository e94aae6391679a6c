package rest_test

// What API-key writes leave behind: the quota and names under concurrent
// requests, PATCH semantics, activity records, and keys across a password
// change.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"accountd/app"
	"accountd/app/apptest"
)

// rakRace sends the requests at once and returns the answers in order.
func rakRace(n int, send func(i int) *apptest.Response) []*apptest.Response {
	out := make([]*apptest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = send(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

func TestRESTAPIKeyConcurrentCreatesAtQuota(t *testing.T) {
	t.Parallel()
	const quota = 20
	restServer(t, func(cfg *app.Config) { cfg.MaxAPIKeys = quota }, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		for range quota - 1 {
			rakKey(t, ts, alice.ID)
		}
		rakWantCount(t, ts, alice.ID, quota-1)
		clients := make([]*apptest.Client, quota)
		for i := range clients {
			clients[i], _ = apptest.Login(t, ts, "alice", "alice password")
		}
		res := rakRace(quota, func(i int) *apptest.Response {
			return clients[i].Do(http.MethodPost, rakPath, map[string]any{"name": fmt.Sprintf("racer-%02d", i)})
		})
		ok := 0
		for _, r := range res {
			if r.Status == http.StatusOK {
				ok++
				continue
			}
			apptest.WantErrors(t, r, http.StatusExpectationFailed, "maximum number of api keys reached")
		}
		if ok != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", ok)
		}
		rakWantCount(t, ts, alice.ID, quota)
		if p := rakList(t, alice.Client, "?per_page=100"); p.Total != quota {
			t.Errorf("the list counts %d keys, want %d", p.Total, quota)
		}
		if n := len(rakActivities(t, ts, alice.ID)); n != 1 {
			t.Errorf("%d api-key events recorded, want 1", n)
		}
		if strings.Contains(ts.LogText(), "internal error") {
			t.Errorf("internal error logged:\n%s", ts.LogText())
		}
	})
}

func TestRESTAPIKeyConcurrentCreatesSameName(t *testing.T) {
	t.Parallel()
	const n = 10
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		res := rakRace(n, func(int) *apptest.Response {
			return alice.Do(http.MethodPost, rakPath, map[string]any{"name": "contested"})
		})
		ok := 0
		for _, r := range res {
			if r.Status == http.StatusOK {
				ok++
				continue
			}
			apptest.WantErrors(t, r, http.StatusConflict, "api key with name already exists")
		}
		if ok != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", ok)
		}
		rakWantCount(t, ts, alice.ID, 1)
		if strings.Contains(ts.LogText(), "internal error") {
			t.Errorf("internal error logged:\n%s", ts.LogText())
		}
	})
}

func TestRESTAPIKeyPatchSemantics(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password") // an admin
		expires := time.Now().Add(48 * time.Hour)
		k, _ := rakCreate(t, alice.Client, map[string]any{"name": "subject", "allowed_ips": []string{"10.0.0.0/8", "192.0.2.1"},
			"user_permissions": []string{"account.infos", "api-keys.read"}, "admin_permissions": []string{"stats.read"},
			"server_permissions": []string{"control.start"}, "expires": expires.Format(time.RFC3339Nano)})
		id, ks := k["uuid"].(string), k["key_start"].(string)
		rakCreate(t, alice.Client, map[string]any{"name": "neighbour"})
		patch := func(t *testing.T, body string) {
			t.Helper()
			apptest.WantEmpty(t, alice.Raw(http.MethodPatch, rakPath+"/"+id, "application/json", strings.NewReader(body)))
		}
		cur := rakGet(t, alice.Client, ks)

		for _, tc := range []struct {
			name, body string
			changed    string // the member that changes, "" for none
			want       any
		}{
			{"empty object", `{}`, "", nil},
			{"null lists stay", `{"allowed_ips":null,"user_permissions":null,"admin_permissions":null,"server_permissions":null}`, "", nil},
			{"null name stays", `{"name":null}`, "", nil},
			{"name alone", `{"name":"subject-2"}`, "name", "subject-2"},
			{"allowed_ips alone, normalised", `{"allowed_ips":["2001:db8::1"]}`, "allowed_ips", []any{"2001:db8::1/128"}},
			{"user_permissions alone", `{"user_permissions":["account.email"]}`, "user_permissions", []any{"account.email"}},
			{"admin_permissions alone", `{"admin_permissions":["settings.read"]}`, "admin_permissions", []any{"settings.read"}},
			{"server_permissions alone", `{"server_permissions":["files.read"]}`, "server_permissions", []any{"files.read"}},
			{"expires set", `{"expires":"` + expires.Add(time.Hour).Format(time.RFC3339Nano) + `"}`, "expires", rakTS(expires.Add(time.Hour))},
			{"expires null clears", `{"expires":null}`, "expires", nil},
			{"expires null again", `{"expires":null}`, "", nil},
			{"[] empties allowed_ips", `{"allowed_ips":[]}`, "allowed_ips", []any{}},
			{"[] empties user_permissions", `{"user_permissions":[]}`, "user_permissions", []any{}},
			{"[] empties admin_permissions", `{"admin_permissions":[]}`, "admin_permissions", []any{}},
			{"[] empties server_permissions", `{"server_permissions":[]}`, "server_permissions", []any{}},
			{"renaming to its own name", `{"name":"subject-2"}`, "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				patch(t, tc.body)
				got := rakGet(t, alice.Client, ks)
				if tc.changed == "" {
					rakWantSame(t, "after "+tc.body, got, cur)
				} else {
					rakWantSame(t, "after "+tc.body, got, cur, tc.changed)
					if !rakJSONEqual(got[tc.changed], tc.want) {
						t.Errorf("%s = %#v, want %#v", tc.changed, got[tc.changed], tc.want)
					}
				}
				cur = got
			})
		}
		t.Run("absent expires keeps it", func(t *testing.T) {
			patch(t, `{"expires":"`+expires.Format(time.RFC3339Nano)+`"}`)
			patch(t, `{"name":"subject-3","user_permissions":["account.infos"]}`)
			got := rakGet(t, alice.Client, ks)
			if got["expires"] != rakTS(expires) || got["name"] != "subject-3" {
				t.Errorf("expires %v name %v", got["expires"], got["name"])
			}
			cur = got
		})
		t.Run("several fields at once", func(t *testing.T) {
			patch(t, `{"allowed_ips":["10.0.0.0/8"],"admin_permissions":["stats.read"],"server_permissions":["control.stop"],"expires":null}`)
			got := rakGet(t, alice.Client, ks)
			rakWantSame(t, "untouched members", got, cur, "allowed_ips", "admin_permissions", "server_permissions", "expires")
			rakSameSet(t, "allowed_ips", got["allowed_ips"], "10.0.0.0/8")
			rakSameSet(t, "admin_permissions", got["admin_permissions"], "stats.read")
			rakSameSet(t, "server_permissions", got["server_permissions"], "control.stop")
			if got["expires"] != nil {
				t.Errorf("expires %v", got["expires"])
			}
			cur = got
		})
		t.Run("renaming onto another key's name: 409, nothing changed", func(t *testing.T) {
			before := rakSnapshot(t, ts, id)
			apptest.WantErrors(t, alice.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"name": "neighbour", "allowed_ips": []string{}}),
				http.StatusConflict, "api key with name already exists")
			if after := rakSnapshot(t, ts, id); after != before {
				t.Errorf("the key changed:\n%s\n%s", before, after)
			}
			rakWantSame(t, "after the refused rename", rakGet(t, alice.Client, ks), cur)
		})
		t.Run("the secret and id never change by PATCH", func(t *testing.T) {
			got := rakGet(t, alice.Client, ks)
			if got["uuid"] != id || got["created"] != k["created"] {
				t.Errorf("uuid %v created %v, want %s %v", got["uuid"], got["created"], id, k["created"])
			}
		})
	})
}

func TestRESTAPIKeyConcurrentPatches(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password") // an admin, so admin lists can be set
		k, _ := rakCreate(t, alice.Client, map[string]any{"name": "contested-0"})
		id, ks := k["uuid"].(string), k["key_start"].(string)
		clients := make([]*apptest.Client, 6)
		for i := range clients {
			clients[i], _ = apptest.Login(t, ts, "alice", "alice password")
		}
		for round := range 3 {
			expires := time.Now().Add(time.Duration(round+1) * 24 * time.Hour)
			patches := []map[string]any{
				{"name": fmt.Sprintf("contested-%d", round+1)},
				{"allowed_ips": []string{fmt.Sprintf("10.%d.0.0/16", round)}},
				{"user_permissions": []string{rakManage[round]}},
				{"admin_permissions": []string{[]string{"stats.read", "settings.read", "settings.update"}[round]}},
				{"server_permissions": []string{[]string{"control.start", "control.stop", "files.read"}[round]}},
				{"expires": expires.Format(time.RFC3339Nano)},
			}
			res := rakRace(len(patches), func(i int) *apptest.Response {
				return clients[i].Do(http.MethodPatch, rakPath+"/"+id, patches[i])
			})
			for i, r := range res {
				if r.Status != http.StatusOK {
					t.Errorf("round %d, PATCH %v: %d %s", round, patches[i], r.Status, r.Body)
				}
			}
			got := rakGet(t, alice.Client, ks)
			if got["name"] != patches[0]["name"] {
				t.Errorf("round %d: name %v, want %v (a concurrent write was lost)", round, got["name"], patches[0]["name"])
			}
			for _, f := range []string{"allowed_ips", "user_permissions", "admin_permissions", "server_permissions"} {
				for _, p := range patches {
					if v, ok := p[f]; ok {
						rakSameSet(t, fmt.Sprintf("round %d: %s", round, f), got[f], v.([]string)...)
					}
				}
			}
			if got["expires"] != rakTS(expires) {
				t.Errorf("round %d: expires %v, want %s (a concurrent write was lost)", round, got["expires"], rakTS(expires))
			}
		}
	})
}

func TestRESTAPIKeyActivity(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		var secrets []string

		// Through the session.
		k, key := rakCreate(t, alice.Client, map[string]any{"name": "audited", "allowed_ips": []string{"127.0.0.1"},
			"user_permissions": []string{"account.infos"}})
		secrets = append(secrets, key)
		id := k["uuid"].(string)
		apptest.WantEmpty(t, alice.Do(http.MethodPatch, rakPath+"/"+id, map[string]any{"name": "audited-2", "expires": nil}))
		renewed := rakRecreate(t, alice.Client, id)
		secrets = append(secrets, renewed)
		apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+id, nil))
		// Refused requests record nothing.
		apptest.WantStatus(t, alice.Do(http.MethodPost, rakPath, map[string]any{"name": "x"}), http.StatusBadRequest)
		apptest.WantStatus(t, alice.Do(http.MethodDelete, rakPath+"/"+id, nil), http.StatusNotFound)
		apptest.WantStatus(t, alice.Do(http.MethodPost, rakPath+"/"+id+"/recreate", nil), http.StatusNotFound)

		// Through a key.
		actorKey := rakKey(t, ts, alice.ID, rakManage...)
		secrets = append(secrets, actorKey)
		actorID := rakID(t, ts, actorKey)
		kc := apptest.KeyClient(t, ts, actorKey)
		k2, key2 := rakCreate(t, kc, map[string]any{"name": "by-key"})
		secrets = append(secrets, key2)
		id2 := k2["uuid"].(string)
		apptest.WantEmpty(t, kc.Do(http.MethodPatch, rakPath+"/"+id2, map[string]any{"allowed_ips": []string{"10.0.0.0/8"}}))
		secrets = append(secrets, rakRecreate(t, kc, id2))
		apptest.WantEmpty(t, kc.Do(http.MethodDelete, rakPath+"/"+id2, nil))

		acts := rakActivities(t, ts, alice.ID)
		events := make([]string, len(acts))
		for i, a := range acts {
			events[i] = a.Event
		}
		want := []string{"api-key:create", "api-key:update", "api-key:recreate", "api-key:delete",
			"api-key:create", "api-key:update", "api-key:recreate", "api-key:delete"}
		if !slices.Equal(events, want) {
			t.Fatalf("events %q, want %q", events, want)
		}
		for i, a := range acts {
			t.Run(fmt.Sprintf("%d %s", i, a.Event), func(t *testing.T) {
				target, viaKey := id, false
				if i >= 4 {
					target, viaKey = id2, true
				}
				if a.IP == nil || *a.IP != "127.0.0.1" {
					t.Errorf("ip %v, want 127.0.0.1", a.IP)
				}
				switch {
				case viaKey && (a.APIKeyID == nil || a.APIKeyID.String() != actorID):
					t.Errorf("api_key_id %v, want the acting key %s", a.APIKeyID, actorID)
				case !viaKey && a.APIKeyID != nil:
					t.Errorf("api_key_id %v under a session, want null", a.APIKeyID)
				}
				if a.Impersonator != nil {
					t.Errorf("impersonator %v", a.Impersonator)
				}
				var data map[string]any
				if err := json.Unmarshal([]byte(a.Data), &data); err != nil {
					t.Fatalf("data is not a JSON object: %s", a.Data)
				}
				if data["uuid"] != target {
					t.Errorf("data %s does not name the key %s", a.Data, target)
				}
				rakNoSecret(t, "activity data", []byte(a.Data), secrets...)
			})
		}
		t.Run("the update names the new name", func(t *testing.T) {
			if !strings.Contains(acts[1].Data, "audited-2") {
				t.Errorf("update data %s", acts[1].Data)
			}
		})
		t.Run("no secret in the log", func(t *testing.T) {
			var all []string
			for _, s := range secrets {
				all = append(all, rakSecretForms(s)...)
			}
			apptest.NoSecrets(t, ts, all...)
		})
	})
}

// rakJSONEqual compares two values by their JSON encoding.
func rakJSONEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

func TestRESTAPIKeySurvivesPasswordChange(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		_, k1 := rakCreate(t, alice.Client, map[string]any{"name": "before-change", "user_permissions": []string{"api-keys.read", "account.password"}})
		rakKey(t, ts, alice.ID, "api-keys.read")
		rakWantCount(t, ts, alice.ID, 2)

		t.Run("through the session", func(t *testing.T) {
			apptest.WantEmpty(t, alice.Do(http.MethodPut, "/api/client/account/password",
				map[string]any{"password": "alice password", "new_password": "alice password 2", "revoke_api_keys": true}))
			rakWantCount(t, ts, alice.ID, 2)
			if p := rakList(t, apptest.KeyClient(t, ts, k1), ""); p.Total != 2 {
				t.Errorf("the key lists %d keys, want 2", p.Total)
			}
			if p := rakList(t, alice.Client, ""); p.Total != 2 {
				t.Errorf("the session lists %d keys, want 2", p.Total)
			}
		})
		t.Run("through a key", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, k1)
			apptest.WantEmpty(t, kc.Do(http.MethodPut, "/api/client/account/password",
				map[string]any{"password": "alice password 2", "new_password": "alice password 3", "revoke_api_keys": true}))
			rakWantCount(t, ts, alice.ID, 2)
			rakList(t, kc, "")
		})
	})
}
