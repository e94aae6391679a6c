package account_test

import (
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// A key's restrictions carry over to the keys it makes, and a key never
// edits itself: otherwise a key limited to one network or one hour could
// mint, or turn itself into, an unlimited one.
func TestAPIKeyRestrictionsCarryOver(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		alice := e.register("alice")
		perms := []string{model.PermAPIKeysCreate, model.PermAPIKeysUpdate, model.PermAPIKeysRecreate, model.PermAPIKeysRead}
		expires := e.clock.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
		limitedKey, limitedID := e.newAPIKey(alice.User, keyOpts{Name: "limited", UserPerms: perms,
			AllowedIPs: []string{"203.0.113.0/24"}, Expires: &expires})
		limited := e.keyActor(limitedKey)
		limited.IP = clientIP // 203.0.113.7, inside the key's network
		keys := func() int { return e.count("api_keys", "user_id = ?", alice.ID) }
		before := keys()
		in := func(ips []string, exp *time.Time) account.APIKeyFields {
			name := "child-" + e.clock.Now().Format("150405.000000")
			e.clock.Advance(time.Microsecond)
			return account.APIKeyFields{Name: &name, AllowedIPs: &ips, UserPermissions: &[]string{model.PermAPIKeysRead},
				SetExpires: true, Expires: exp}
		}
		soon := expires.Add(-time.Minute)
		later := expires.Add(time.Minute)

		for _, tc := range []struct {
			name string
			in   account.APIKeyFields
			want []model.FieldError
		}{
			{"no allow-list", in(nil, &soon), []model.FieldError{fe("allowed_ips", "wider than the calling api key's")}},
			{"a wider network", in([]string{"203.0.0.0/16"}, &soon), []model.FieldError{fe("allowed_ips", "wider than the calling api key's")}},
			{"one network outside", in([]string{"203.0.113.0/25", "198.51.100.1"}, &soon), []model.FieldError{fe("allowed_ips", "wider than the calling api key's")}},
			{"no expiry", in([]string{"203.0.113.7"}, nil), []model.FieldError{fe("expires", "later than the calling api key's")}},
			{"a later expiry", in([]string{"203.0.113.7"}, &later), []model.FieldError{fe("expires", "later than the calling api key's")}},
			{"both", in(nil, nil), []model.FieldError{fe("allowed_ips", "wider than the calling api key's"), fe("expires", "later than the calling api key's")}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := e.svc.CreateAPIKey(e.ctx, limited, tc.in)
				wantFields(t, err, tc.want...)
				if n := keys(); n != before {
					t.Errorf("keys = %d, want %d: nothing created", n, before)
				}
			})
		}

		t.Run("within the limits", func(t *testing.T) {
			res, err := e.svc.CreateAPIKey(e.ctx, limited, in([]string{"203.0.113.0/28", "203.0.113.200"}, &expires))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			e.secret(res.Secret)
			if n := keys(); n != before+1 {
				t.Errorf("keys = %d, want %d", n, before+1)
			}
			// Widening the new key later is refused the same way.
			_, err = e.svc.UpdateAPIKey(e.ctx, limited, res.Key.ID, account.APIKeyFields{AllowedIPs: &[]string{}})
			wantFields(t, err, fe("allowed_ips", "wider than the calling api key's"))
			_, err = e.svc.UpdateAPIKey(e.ctx, limited, res.Key.ID, account.APIKeyFields{SetExpires: true})
			wantFields(t, err, fe("expires", "later than the calling api key's"))
		})

		t.Run("recreating an unrestricted key", func(t *testing.T) {
			openKey, openID := e.newAPIKey(alice.User, keyOpts{Name: "open", UserPerms: []string{model.PermAPIKeysRead}})
			_, err := e.svc.RecreateAPIKey(e.ctx, limited, openID)
			wantErr(t, err, model.CodeInvalid, "unable to recreate api key with more permissions than self")
			e.authenticate(bearer(openKey)) // the old secret still works
		})

		t.Run("a key never edits itself", func(t *testing.T) {
			name := "renamed"
			_, err := e.svc.UpdateAPIKey(e.ctx, limited, limitedID, account.APIKeyFields{Name: &name})
			wantErr(t, err, model.CodeInvalid, "api keys cannot edit themselves")
			_, err = e.svc.UpdateAPIKey(e.ctx, limited, limitedID, account.APIKeyFields{AllowedIPs: &[]string{}, SetExpires: true})
			wantErr(t, err, model.CodeInvalid, "api keys cannot edit themselves")
			k, err := e.svc.APIKey(e.ctx, limited, limitedID)
			if err != nil || k.Name != "limited" || len(k.AllowedIPs) != 1 || k.Expires == nil {
				t.Errorf("key after refused self-edits = %+v, %v", k, err)
			}
		})

		t.Run("a session is not limited by any key", func(t *testing.T) {
			res, err := e.svc.CreateAPIKey(e.ctx, e.actor(alice.Token), in(nil, nil))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			e.secret(res.Secret)
			name := "renamed by session"
			if _, err := e.svc.UpdateAPIKey(e.ctx, e.actor(alice.Token), limitedID, account.APIKeyFields{Name: &name}); err != nil {
				t.Errorf("session renaming the limited key: %v", err)
			}
		})
		e.assertNoSecretsInActivities()
	})
}
