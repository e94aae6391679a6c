package account_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
)

// akWithout returns list without drop.
func akWithout(list []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == drop })
}

func TestAPIKeyPermissionSubset(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		root, alice, _ := akUsers(e)
		sa, sr := e.actor(alice.Token), e.actor(root.Token)
		more := fe("permissions", "more permissions than self")

		refuseCreate := func(t *testing.T, a *model.Actor, in account.APIKeyFields) {
			t.Helper()
			before := akSnap(e)
			nk, err := akTryCreate(e, a, in)
			wantFields(t, err, more)
			if nk != nil {
				t.Errorf("result = %+v", nk)
			}
			akUnchanged(t, e, before)
			if n := e.count("api_keys", "name = ?", *in.Name); n != 0 {
				t.Errorf("%d keys named %q", n, *in.Name)
			}
		}

		t.Run("KeyCallerCannotExceedItself", func(t *testing.T) {
			e := akSub(e, t)
			caller := akCreate(e, sa, account.APIKeyFields{Name: ptr("caller"),
				UserPermissions:   ptr([]string{model.PermAPIKeysCreate, model.PermAPIKeysRead}),
				ServerPermissions: ptr([]string{"control.start"})})
			ka := e.keyActor(caller.Secret)
			refuseCreate(t, ka, akIn("wider user", model.PermAPIKeysRead, model.PermAccountEmail))
			refuseCreate(t, ka, account.APIKeyFields{Name: ptr("wider server"), ServerPermissions: ptr([]string{"control.start", "control.stop"})})
			refuseCreate(t, ka, account.APIKeyFields{Name: ptr("wider admin"), AdminPermissions: ptr([]string{"stats.read"})})
			// Within its own lists it may create, including an equal key.
			akCreate(e, ka, akIn("narrower", model.PermAPIKeysRead))
			akCreate(e, ka, account.APIKeyFields{Name: ptr("equal"), UserPermissions: ptr([]string{model.PermAPIKeysRead, model.PermAPIKeysCreate}),
				ServerPermissions: ptr([]string{"control.start"})})
			akCreate(e, ka, account.APIKeyFields{Name: ptr("no lists")})
		})

		t.Run("ErrSessionNonAdminAdminPermissions", func(t *testing.T) {
			e := akSub(e, t)
			refuseCreate(t, sa, account.APIKeyFields{Name: ptr("alice admin"), AdminPermissions: ptr([]string{"stats.read"})})
			// Every user and server permission is fine.
			akCreate(e, sa, account.APIKeyFields{Name: ptr("alice all"), UserPermissions: ptr(sharedCatalog(t).AllUser()),
				ServerPermissions: ptr([]string{"control.start", "files.read"})})
		})

		t.Run("SessionAdminAdminPermissions", func(t *testing.T) {
			e := akSub(e, t)
			nk := akCreate(e, sr, account.APIKeyFields{Name: ptr("root admin"), AdminPermissions: ptr([]string{"stats.read", "users.read"})})
			if !reflect.DeepEqual(nk.Key.AdminPermissions, []string{"stats.read", "users.read"}) {
				t.Errorf("admin_permissions = %q", nk.Key.AdminPermissions)
			}
		})

		strongRoot := akCreate(e, sr, account.APIKeyFields{Name: ptr("root strong"),
			UserPermissions:   ptr([]string{model.PermAPIKeysCreate, model.PermAPIKeysRead}),
			AdminPermissions:  ptr([]string{"stats.read", "users.read"}),
			ServerPermissions: ptr([]string{"control.start"})})

		t.Run("AdminKeySubset", func(t *testing.T) {
			e := akSub(e, t)
			kr := e.keyActor(strongRoot.Secret)
			nk := akCreate(e, kr, account.APIKeyFields{Name: ptr("root subset"), UserPermissions: ptr([]string{model.PermAPIKeysRead}),
				AdminPermissions: ptr([]string{"stats.read"}), ServerPermissions: ptr([]string{"control.start"})})
			if !reflect.DeepEqual(nk.Key.AdminPermissions, []string{"stats.read"}) {
				t.Errorf("admin_permissions = %q", nk.Key.AdminPermissions)
			}
			refuseCreate(t, kr, account.APIKeyFields{Name: ptr("root wider"), AdminPermissions: ptr([]string{"stats.read", "settings.read"})})
		})

		t.Run("ErrAdminKeyOfDemotedUser", func(t *testing.T) {
			e := akSub(e, t)
			e.setColumn(root.User, "admin", false)
			defer e.setColumn(root.User, "admin", true)
			kr := e.keyActor(strongRoot.Secret)
			refuseCreate(t, kr, account.APIKeyFields{Name: ptr("demoted"), AdminPermissions: ptr([]string{"stats.read"})})
			refuseCreate(t, e.actor(root.Token), account.APIKeyFields{Name: ptr("demoted session"), AdminPermissions: ptr([]string{"stats.read"})})
			// Keys without admin permissions are still fine.
			akCreate(e, kr, akIn("demoted plain", model.PermAPIKeysRead))
		})

		// A weak and a strong key of the same user.
		weak := akCreate(e, sa, akIn("weak", model.PermAPIKeysUpdate, model.PermAPIKeysRecreate, model.PermAPIKeysRead))
		strong := akCreate(e, sa, akIn("strong", model.PermAPIKeysUpdate, model.PermAPIKeysRecreate, model.PermAPIKeysRead, model.PermAccountEmail))
		kw := e.keyActor(weak.Secret)

		t.Run("ErrWeakKeyUpdatesStrongKey", func(t *testing.T) {
			e := akSub(e, t)
			for name, in := range map[string]account.APIKeyFields{
				"Rename":       {Name: ptr("renamed strong")},
				"AllowedIPs":   {AllowedIPs: ptr([]string{"10.0.0.0/8"})},
				"Expiry":       {SetExpires: true, Expires: ptr(e.clock.Now().Add(time.Hour))},
				"SameServer":   {ServerPermissions: ptr([]string{})},
				"KeepUserList": {UserPermissions: ptr(strong.Key.UserPermissions)},
			} {
				t.Run(name, func(t *testing.T) {
					e := akSub(e, t)
					before, dump := akSnap(e), akDump(akReread(e, alice.ID, strong.Key.ID))
					got, err := e.svc.UpdateAPIKey(e.ctx, kw, strong.Key.ID, in)
					wantFields(t, err, more)
					if got != nil {
						t.Errorf("result = %+v", got)
					}
					akUnchanged(t, e, before)
					if after := akDump(akReread(e, alice.ID, strong.Key.ID)); after != dump {
						t.Errorf("strong key changed:\n %s\n %s", dump, after)
					}
				})
			}
		})

		t.Run("ErrKeyWidensItself", func(t *testing.T) {
			e := akSub(e, t)
			before, dump := akSnap(e), akDump(akReread(e, alice.ID, weak.Key.ID))
			_, err := e.svc.UpdateAPIKey(e.ctx, kw, weak.Key.ID, account.APIKeyFields{
				UserPermissions: ptr(append(slices.Clone(weak.Key.UserPermissions), model.PermAccountEmail))})
			// Refused either by the subset rule or because a key may not
			// edit itself at all.
			if me := asError(t, err); me.Code != model.CodeInvalid ||
				!slices.Contains([]string{"more permissions than self", "api keys cannot edit themselves"}, me.Message) {
				t.Errorf("err = %v, want the key's own widening refused", err)
			}
			akUnchanged(t, e, before)
			if after := akDump(akReread(e, alice.ID, weak.Key.ID)); after != dump {
				t.Errorf("weak key changed:\n %s\n %s", dump, after)
			}
		})

		t.Run("ErrWeakKeyRecreatesStrongKey", func(t *testing.T) {
			e := akSub(e, t)
			before, dump := akSnap(e), akDump(akReread(e, alice.ID, strong.Key.ID))
			nk, err := akRecreate(e, kw, strong.Key.ID)
			wantErr(t, err, model.CodeInvalid, "unable to recreate api key with more permissions than self")
			if nk != nil {
				t.Errorf("result = %+v", nk)
			}
			akUnchanged(t, e, before)
			if after := akDump(akReread(e, alice.ID, strong.Key.ID)); after != dump {
				t.Errorf("strong key changed:\n %s\n %s", dump, after)
			}
			if ka := e.keyActor(strong.Secret); ka.APIKey.ID != strong.Key.ID {
				t.Errorf("strong key authenticates as %s", ka.APIKey.ID)
			}
		})

		t.Run("StrongKeyManagesWeakKey", func(t *testing.T) {
			e := akSub(e, t)
			ks := e.keyActor(strong.Secret)
			if _, err := e.svc.UpdateAPIKey(e.ctx, ks, weak.Key.ID, account.APIKeyFields{Name: ptr("weak renamed")}); err != nil {
				t.Fatalf("update: %v", err)
			}
			nk, err := akRecreate(e, ks, weak.Key.ID)
			if err != nil {
				t.Fatalf("recreate: %v", err)
			}
			akDead(t, e, weak.Secret)
			weak = nk
		})

		// The rule is about the key as it will be: a weak key may narrow a
		// strong key down to within its own lists.
		t.Run("WeakKeyNarrowsStrongKey", func(t *testing.T) {
			e := akSub(e, t)
			kw := e.keyActor(weak.Secret)
			got, err := e.svc.UpdateAPIKey(e.ctx, kw, strong.Key.ID, account.APIKeyFields{Name: ptr("narrowed"),
				UserPermissions: ptr([]string{model.PermAPIKeysRead})})
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			if got.Name != "narrowed" || !reflect.DeepEqual(got.UserPermissions, []string{model.PermAPIKeysRead}) {
				t.Errorf("key = %s", akDump(got))
			}
		})
	})
}

func TestAPIKeyPermissionChecks(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		sa := e.actor(alice.Token)
		target := akCreate(e, sa, akIn("target")).Key
		calls := []struct {
			name, perm string
			call       func(a *model.Actor) error
		}{
			{"Create", model.PermAPIKeysCreate, func(a *model.Actor) error {
				_, err := akTryCreate(e, a, akIn(fmt.Sprintf("created %d", e.next())))
				return err
			}},
			{"APIKey", model.PermAPIKeysRead, func(a *model.Actor) error {
				_, err := e.svc.APIKey(e.ctx, a, target.ID)
				return err
			}},
			{"APIKeyByKeyStart", model.PermAPIKeysRead, func(a *model.Actor) error {
				_, err := e.svc.APIKeyByKeyStart(e.ctx, a, target.KeyStart)
				return err
			}},
			{"ListKeyset", model.PermAPIKeysRead, func(a *model.Actor) error {
				_, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Keyset: true, First: 10})
				return err
			}},
			{"ListOffset", model.PermAPIKeysRead, func(a *model.Actor) error {
				_, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Page: 1, PerPage: 10})
				return err
			}},
			{"Update", model.PermAPIKeysUpdate, func(a *model.Actor) error {
				_, err := e.svc.UpdateAPIKey(e.ctx, a, target.ID, account.APIKeyFields{Name: ptr(fmt.Sprintf("target %d", e.next()))})
				return err
			}},
			{"Recreate", model.PermAPIKeysRecreate, func(a *model.Actor) error {
				nk, err := akRecreate(e, a, target.ID)
				if err == nil {
					target = nk.Key
				}
				return err
			}},
			{"Delete", model.PermAPIKeysDelete, func(a *model.Actor) error {
				return e.svc.DeleteAPIKey(e.ctx, a, target.ID)
			}},
		}
		refused := func(t *testing.T, a *model.Actor, name, perm string, call func(*model.Actor) error) {
			t.Helper()
			before, dump := akSnap(e), akDump(akReread(e, alice.ID, target.ID))
			err := call(a)
			me := wantErr(t, err, model.CodeForbidden, "you do not have permission to perform this action: "+perm)
			if me.Permission != perm {
				t.Errorf("%s: Permission = %q, want %q", name, me.Permission, perm)
			}
			akUnchanged(t, e, before)
			if after := akDump(akReread(e, alice.ID, target.ID)); after != dump {
				t.Errorf("%s: target changed:\n %s\n %s", name, dump, after)
			}
		}

		for _, c := range calls {
			t.Run("ErrMissing"+c.name, func(t *testing.T) {
				e := akSub(e, t)
				key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: akWithout(sharedCatalog(t).AllUser(), c.perm)})
				refused(t, e.keyActor(key), c.name, c.perm, c.call)
			})
		}

		t.Run("EmptyListGrantsNothing", func(t *testing.T) {
			e := akSub(e, t)
			key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{}})
			ka := e.keyActor(key)
			for _, c := range calls {
				refused(t, ka, c.name, c.perm, c.call)
			}
		})

		t.Run("ValidationComesFirst", func(t *testing.T) {
			e := akSub(e, t)
			key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{}})
			ka := e.keyActor(key)
			before := akSnap(e)
			_, err := akTryCreate(e, ka, akIn("ab"))
			wantFields(t, err, fe("name", "length is lower than 3"))
			_, err = e.svc.UpdateAPIKey(e.ctx, ka, target.ID, account.APIKeyFields{UserPermissions: ptr([]string{"nope"})})
			wantFields(t, err, fe("user_permissions", "invalid permission: nope"))
			_, err = e.svc.ListAPIKeys(e.ctx, ka, model.ListQuery{Keyset: true, First: 0})
			wantFields(t, err, fe("first", "lower than 1"))
			_, err = e.svc.ListAPIKeys(e.ctx, ka, model.ListQuery{Page: 1, PerPage: 101})
			wantFields(t, err, fe("per_page", "greater than 100"))
			akUnchanged(t, e, before)
		})

		// Each permission alone is enough for its method (the subset rule
		// aside: target has no permissions).
		for _, c := range calls {
			t.Run("Only"+c.name, func(t *testing.T) {
				e := akSub(e, t)
				key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{c.perm}})
				if err := c.call(e.keyActor(key)); err != nil {
					t.Fatalf("%s with %s: %v", c.name, c.perm, err)
				}
			})
		}
		if n := e.count("api_keys", "id = ?", target.ID); n != 0 {
			t.Errorf("target still stored after delete")
		}

		t.Run("SessionHoldsEverything", func(t *testing.T) {
			e := akSub(e, t)
			target = akCreate(e, sa, akIn("session target")).Key
			for _, c := range calls {
				if err := c.call(sa); err != nil {
					t.Errorf("%s by session: %v", c.name, err)
				}
			}
		})
	})
}

func TestAPIKeyOtherUsersKey(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		bobs := akCreate(e, e.actor(bob.Token), account.APIKeyFields{Name: ptr("bobs key"),
			UserPermissions: ptr([]string{model.PermAccountInfos}), AllowedIPs: ptr([]string{clientIP.String()})})
		e.keyActor(bobs.Secret) // records a use
		aliceKey, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: sharedCatalog(t).AllUser()})
		// Alice has a key with the same name: a lookup must not match on it.
		akCreate(e, e.actor(alice.Token), akIn("bobs key"))

		for name, a := range map[string]*model.Actor{"Session": e.actor(alice.Token), "APIKey": e.keyActor(aliceKey)} {
			t.Run(name, func(t *testing.T) {
				e := akSub(e, t)
				calls := map[string]func() error{
					"APIKey": func() error {
						k, err := e.svc.APIKey(e.ctx, a, bobs.Key.ID)
						if k != nil {
							t.Errorf("APIKey returned %s", akDump(k))
						}
						return err
					},
					"APIKeyByKeyStart": func() error {
						k, err := e.svc.APIKeyByKeyStart(e.ctx, a, bobs.Key.KeyStart)
						if k != nil {
							t.Errorf("APIKeyByKeyStart returned %s", akDump(k))
						}
						return err
					},
					"UpdateName": func() error {
						_, err := e.svc.UpdateAPIKey(e.ctx, a, bobs.Key.ID, account.APIKeyFields{Name: ptr("stolen")})
						return err
					},
					"UpdateLists": func() error {
						_, err := e.svc.UpdateAPIKey(e.ctx, a, bobs.Key.ID, account.APIKeyFields{AllowedIPs: ptr([]string{}),
							UserPermissions: ptr([]string{}), SetExpires: true, Expires: ptr(e.clock.Now().Add(time.Minute))})
						return err
					},
					"Recreate": func() error {
						nk, err := akRecreate(e, a, bobs.Key.ID)
						if nk != nil {
							t.Errorf("Recreate returned %+v", nk.Key)
						}
						return err
					},
					"Delete": func() error { return e.svc.DeleteAPIKey(e.ctx, a, bobs.Key.ID) },
				}
				for call, fn := range calls {
					t.Run(call, func(t *testing.T) {
						e := akSub(e, t)
						before, dump := akSnap(e), akDump(akReread(e, bob.ID, bobs.Key.ID))
						wantErr(t, fn(), model.CodeNotFound, "api key not found")
						akUnchanged(t, e, before)
						if after := akDump(akReread(e, bob.ID, bobs.Key.ID)); after != dump {
							t.Errorf("bob's key changed:\n %s\n %s", dump, after)
						}
						if ka := e.keyActor(bobs.Secret); ka.User.ID != bob.ID || ka.APIKey.ID != bobs.Key.ID {
							t.Errorf("bob's key authenticates as %+v", ka.APIKey)
						}
					})
				}
				t.Run("List", func(t *testing.T) {
					e := akSub(e, t)
					for _, q := range []model.ListQuery{{Keyset: true, First: 100}, {Page: 1, PerPage: 100}, {Keyset: true, First: 100, Search: "bob"}} {
						p, err := e.svc.ListAPIKeys(e.ctx, a, q)
						if err != nil {
							t.Fatal(err)
						}
						for _, k := range p.Items {
							if k.ID == bobs.Key.ID || k.UserID != alice.ID {
								t.Errorf("list %+v shows %s", q, akDump(k))
							}
						}
					}
				})
			})
		}
		if n := len(e.activities(bob.User)); n != 1 {
			t.Errorf("bob has %d events, want only his own create", n)
		}
	})
}
