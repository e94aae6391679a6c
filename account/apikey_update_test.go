package account_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

func TestAPIKeyUpdate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		now := e.clock.Now()
		k := akCreate(e, a, account.APIKeyFields{
			Name:              ptr("original"),
			AllowedIPs:        ptr([]string{"10.0.0.0/8"}),
			UserPermissions:   ptr([]string{model.PermAPIKeysRead, model.PermAccountInfos}),
			ServerPermissions: ptr([]string{"control.start"}),
			SetExpires:        true, Expires: ptr(now.Add(24 * time.Hour)),
		}).Key
		akCreate(e, a, akIn("other"))
		update := func(in account.APIKeyFields) (*model.APIKey, error) {
			return e.svc.UpdateAPIKey(e.ctx, a, k.ID, in)
		}
		// expect checks a successful update against the key as it was
		// with edit applied, and returns the new state.
		expect := func(t *testing.T, got *model.APIKey, err error, edit func(k *model.APIKey)) {
			t.Helper()
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			want := *k
			edit(&want)
			if akDump(got) != akDump(&want) {
				t.Errorf("returned\n %s\nwant\n %s", akDump(got), akDump(&want))
			}
			if stored := akReread(e, alice.ID, k.ID); akDump(stored) != akDump(&want) {
				t.Errorf("stored\n %s\nwant\n %s", akDump(stored), akDump(&want))
			}
			k = got
		}

		t.Run("OnlyGivenFieldsChange", func(t *testing.T) {
			got, err := update(account.APIKeyFields{Name: ptr("renamed")})
			expect(t, got, err, func(k *model.APIKey) { k.Name = "renamed" })
		})
		t.Run("EmptyListEmpties", func(t *testing.T) {
			got, err := update(account.APIKeyFields{UserPermissions: ptr([]string{}), AllowedIPs: ptr([]string{})})
			expect(t, got, err, func(k *model.APIKey) { k.UserPermissions, k.AllowedIPs = []string{}, []netip.Prefix{} })
		})
		t.Run("ListsNormalised", func(t *testing.T) {
			got, err := update(account.APIKeyFields{AllowedIPs: ptr([]string{"::ffff:192.0.2.9", "2001:db8::1/32", "192.0.2.9"}),
				AdminPermissions: ptr([]string{})})
			expect(t, got, err, func(k *model.APIKey) {
				k.AllowedIPs = []netip.Prefix{netip.MustParsePrefix("192.0.2.9/32"), netip.MustParsePrefix("2001:db8::/32")}
			})
		})
		t.Run("ClearExpiry", func(t *testing.T) {
			got, err := update(account.APIKeyFields{SetExpires: true})
			expect(t, got, err, func(k *model.APIKey) { k.Expires = nil })
		})
		t.Run("SetExpiry", func(t *testing.T) {
			exp := now.Add(time.Hour)
			got, err := update(account.APIKeyFields{SetExpires: true, Expires: &exp})
			expect(t, got, err, func(k *model.APIKey) { k.Expires = &exp })
		})
		t.Run("SameName", func(t *testing.T) {
			got, err := update(account.APIKeyFields{Name: ptr(k.Name)})
			expect(t, got, err, func(*model.APIKey) {})
		})
		t.Run("NameCaseDiffers", func(t *testing.T) {
			got, err := update(account.APIKeyFields{Name: ptr("OTHER")})
			expect(t, got, err, func(k *model.APIKey) { k.Name = "OTHER" })
		})
		t.Run("EmptyPatchWritesNothing", func(t *testing.T) {
			e := akSub(e, t)
			before := akSnap(e)
			got, err := update(account.APIKeyFields{})
			expect(t, got, err, func(*model.APIKey) {})
			akUnchanged(t, e, before)
		})

		refused := []struct {
			name string
			in   account.APIKeyFields
			err  func(t *testing.T, err error)
		}{
			{"ErrDuplicateName", account.APIKeyFields{Name: ptr("other")}, func(t *testing.T, err error) {
				wantErr(t, err, model.CodeConflict, "api key with name already exists")
			}},
			{"ErrExpiresNow", account.APIKeyFields{SetExpires: true, Expires: ptr(now)}, func(t *testing.T, err error) {
				wantFields(t, err, fe("expires", "time must be in the future"))
			}},
			{"ErrExpiresPast", account.APIKeyFields{SetExpires: true, Expires: ptr(now.Add(-time.Second))}, func(t *testing.T, err error) {
				wantFields(t, err, fe("expires", "time must be in the future"))
			}},
			{"ErrEveryRuleAtOnce", account.APIKeyFields{Name: ptr(strings.Repeat("x", 32)), AllowedIPs: ptr([]string{"10.0.0.0/40"}),
				UserPermissions: ptr([]string{"nope"}), AdminPermissions: ptr(akRepeat(513, "stats.read")),
				ServerPermissions: ptr([]string{"nope"}), SetExpires: true, Expires: ptr(now)},
				func(t *testing.T, err error) {
					wantFieldsLoose(t, err, fe("name", "length is greater than 31"), fe("allowed_ips", "invalid ip address or network: …"),
						fe("user_permissions", "invalid permission: nope"), fe("admin_permissions", "too many entries (at most 512)"),
						fe("server_permissions", "invalid permission: nope"), fe("expires", "time must be in the future"))
				}},
			{"ErrNameTooShort", account.APIKeyFields{Name: ptr("ab")}, func(t *testing.T, err error) {
				wantFields(t, err, fe("name", "length is lower than 3"))
			}},
			{"ErrNameNUL", account.APIKeyFields{Name: ptr("nul\x00name")}, func(t *testing.T, err error) {
				wantFields(t, err, fe("name", "must not contain NUL characters"))
			}},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				e := akSub(e, t)
				before, dump := akSnap(e), akDump(akReread(e, alice.ID, k.ID))
				got, err := update(c.in)
				c.err(t, err)
				if got != nil {
					t.Errorf("result = %+v", got)
				}
				akUnchanged(t, e, before)
				if after := akDump(akReread(e, alice.ID, k.ID)); after != dump {
					t.Errorf("key changed:\n %s\n %s", dump, after)
				}
			})
		}

		t.Run("ErrUnknownID", func(t *testing.T) {
			e := akSub(e, t)
			before := akSnap(e)
			_, err := e.svc.UpdateAPIKey(e.ctx, a, uuid.New(), account.APIKeyFields{Name: ptr("ghost")})
			wantErr(t, err, model.CodeNotFound, "api key not found")
			akUnchanged(t, e, before)
		})
	})
}

func TestAPIKeyRecreate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		orig := akCreate(e, a, account.APIKeyFields{Name: ptr("rotating"), AllowedIPs: ptr([]string{"203.0.113.0/24"}),
			UserPermissions: ptr([]string{model.PermAccountInfos}), ServerPermissions: ptr([]string{"files.read"}),
			SetExpires: true, Expires: ptr(e.clock.Now().Add(48 * time.Hour))})
		e.clock.Advance(time.Minute)
		e.keyActor(orig.Secret)
		before := akReread(e, alice.ID, orig.Key.ID)
		if before.LastUsed == nil {
			t.Fatal("last_used not recorded by a use")
		}
		e.clock.Advance(time.Minute)

		nk, err := akRecreate(e, a, orig.Key.ID)
		if err != nil {
			t.Fatalf("recreate: %v", err)
		}
		if !akKeyRE.MatchString(nk.Secret) || nk.Secret == orig.Secret || nk.Key.KeyStart != nk.Secret[:16] {
			t.Errorf("new key %q (start %q), old %q", nk.Secret, nk.Key.KeyStart, orig.Secret)
		}
		after := akReread(e, alice.ID, orig.Key.ID)
		want := *before
		want.KeyStart, want.Digest, want.LastUsed = nk.Secret[:16], secret.Digest(nk.Secret), nil
		if akDump(after) != akDump(&want) {
			t.Errorf("stored after recreate\n %s\nwant\n %s", akDump(after), akDump(&want))
		}
		if akDump(nk.Key) != akDump(&want) {
			t.Errorf("returned\n %s\nwant\n %s", akDump(nk.Key), akDump(&want))
		}
		if row := akRow(e, orig.Key.ID); row["last_used"] != nil {
			t.Errorf("last_used column = %v, want NULL", row["last_used"])
		}

		akDead(t, e, orig.Secret)
		if ka := e.keyActor(nk.Secret); ka.APIKey.ID != orig.Key.ID {
			t.Errorf("new secret authenticates as %s", ka.APIKey.ID)
		}
		akDead(t, e, orig.Secret) // still dead after the new one was used
		_, err = e.svc.APIKeyByKeyStart(e.ctx, a, orig.Key.KeyStart)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		if k, err := e.svc.APIKeyByKeyStart(e.ctx, a, nk.Key.KeyStart); err != nil || k.ID != orig.Key.ID {
			t.Errorf("lookup by new identifier = %v, %v", k, err)
		}

		t.Run("ItsOwnKey", func(t *testing.T) {
			e := akSub(e, t)
			self := akCreate(e, a, akIn("self", model.PermAPIKeysRecreate))
			again, err := akRecreate(e, e.keyActor(self.Secret), self.Key.ID)
			if err != nil {
				t.Fatalf("recreate: %v", err)
			}
			akDead(t, e, self.Secret)
			e.keyActor(again.Secret)
		})

		t.Run("ErrUnknownID", func(t *testing.T) {
			e := akSub(e, t)
			before := akSnap(e)
			_, err := akRecreate(e, a, uuid.New())
			wantErr(t, err, model.CodeNotFound, "api key not found")
			akUnchanged(t, e, before)
		})
	})
}

func TestAPIKeyDelete(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		gone := akCreate(e, a, akIn("gone"))
		kept := akCreate(e, a, akIn("kept"))
		e.keyActor(gone.Secret)
		if err := e.svc.DeleteAPIKey(e.ctx, a, gone.Key.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		akDead(t, e, gone.Secret)
		if n := e.count("api_keys", "id = ?", gone.Key.ID); n != 0 {
			t.Error("deleted key still stored")
		}
		_, err := e.svc.APIKey(e.ctx, a, gone.Key.ID)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = e.svc.APIKeyByKeyStart(e.ctx, a, gone.Key.KeyStart)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		before := akSnap(e)
		wantErr(t, e.svc.DeleteAPIKey(e.ctx, a, gone.Key.ID), model.CodeNotFound, "api key not found")
		akUnchanged(t, e, before)
		e.keyActor(kept.Secret)

		t.Run("ItsOwnKey", func(t *testing.T) {
			e := akSub(e, t)
			self := akCreate(e, a, akIn("self", model.PermAPIKeysDelete))
			ka := e.keyActor(self.Secret)
			if err := e.svc.DeleteAPIKey(e.ctx, ka, self.Key.ID); err != nil {
				t.Fatalf("delete: %v", err)
			}
			akDead(t, e, self.Secret)
		})
	})
}
