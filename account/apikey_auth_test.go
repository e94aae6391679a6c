package account_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// akAuthFrom authenticates key as a request from ip.
func akAuthFrom(e *env, key, ip string) (*account.Authentication, error) {
	return e.svc.Authenticate(e.ctx, account.Credentials{HasAuthorization: true, Authorization: "Bearer " + key,
		IP: netip.MustParseAddr(ip), UserAgent: clientUA})
}

func TestAPIKeyLookupByKeyStart(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		nk := akCreate(e, a, akIn("lookup"))
		k, err := e.svc.APIKeyByKeyStart(e.ctx, a, nk.Key.KeyStart)
		if err != nil || akDump(k) != akDump(nk.Key) {
			t.Fatalf("lookup = %s, %v", akDump(k), err)
		}
		for name, start := range map[string]string{
			"ErrEmpty":     "",
			"ErrShort":     nk.Key.KeyStart[:15],
			"ErrLong":      nk.Secret[:17],
			"ErrWholeKey":  nk.Secret,
			"ErrOtherCase": strings.ToUpper(nk.Key.KeyStart),
			"ErrUnknown":   "c7sp_" + secret.RandomString(11),
			"ErrWildcard":  nk.Key.KeyStart[:15] + "%",
			"ErrQuote":     nk.Key.KeyStart[:15] + "'",
		} {
			t.Run(name, func(t *testing.T) {
				e := akSub(e, t)
				k, err := e.svc.APIKeyByKeyStart(e.ctx, a, start)
				wantErr(t, err, model.CodeNotFound, "api key not found")
				if k != nil {
					t.Errorf("key = %s", akDump(k))
				}
			})
		}
		_, err = e.svc.APIKey(e.ctx, a, uuid.New())
		wantErr(t, err, model.CodeNotFound, "api key not found")
	})
}

func TestAPIKeyAllowedIPs(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		withIPs := func(name string, ips ...string) *account.NewAPIKey {
			return akCreate(e, a, account.APIKeyFields{Name: ptr(name), AllowedIPs: ptr(ips)})
		}
		net10 := withIPs("net10", "10.0.0.0/8")
		net6 := withIPs("net6", "2001:db8::/32")
		host6 := withIPs("host6", "2001:db8::1")
		host4 := withIPs("host4", "192.0.2.1")
		mapped := withIPs("mapped", "::ffff:10.0.0.0/104")
		mixed := withIPs("mixed", "192.0.2.0/24", "2001:db8:ffff::/48")
		open := withIPs("open")

		// A refused request does not count as a use.
		_, err := akAuthFrom(e, net10.Secret, "11.0.0.1")
		wantErr(t, err, model.CodeForbidden, "ip address not allowed for this api key")
		if k := akReread(e, alice.ID, net10.Key.ID); k.LastUsed != nil {
			t.Errorf("last_used = %v after a refused request", akTime(k.LastUsed))
		}

		for _, c := range []struct {
			name string
			key  *account.NewAPIKey
			ip   string
			ok   bool
		}{
			{"Net10Inside", net10, "10.1.2.3", true},
			{"ErrNet10Outside", net10, "11.0.0.1", false},
			{"ErrNet10Below", net10, "9.255.255.255", false},
			{"Net10Mapped", net10, "::ffff:10.1.2.3", true},
			{"ErrNet10MappedOutside", net10, "::ffff:11.0.0.1", false},
			{"ErrNet10FromIPv6", net10, "2001:db8::1", false},
			{"Net6Inside", net6, "2001:db8:ffff::1", true},
			{"Net6Start", net6, "2001:db8::", true},
			{"ErrNet6Outside", net6, "2001:db9::1", false},
			{"ErrNet6FromIPv4", net6, "10.1.2.3", false},
			{"Host6", host6, "2001:db8::1", true},
			{"ErrHost6Neighbour", host6, "2001:db8::2", false},
			{"Host4", host4, "192.0.2.1", true},
			{"Host4Mapped", host4, "::ffff:192.0.2.1", true},
			{"ErrHost4Neighbour", host4, "192.0.2.2", false},
			{"MappedEntry", mapped, "10.200.0.1", true},
			{"MappedEntryMappedClient", mapped, "::ffff:10.200.0.1", true},
			{"ErrMappedEntryOutside", mapped, "11.0.0.1", false},
			{"MixedIPv4", mixed, "192.0.2.200", true},
			{"MixedIPv6", mixed, "2001:db8:ffff:1::1", true},
			{"ErrMixedOutside", mixed, "2001:db8:fffe::1", false},
			{"EmptyListAnyIPv4", open, "198.51.100.1", true},
			{"EmptyListAnyIPv6", open, "2001:db9::1", true},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := akSub(e, t)
				auth, err := akAuthFrom(e, c.key.Secret, c.ip)
				if c.ok {
					if err != nil {
						t.Fatalf("from %s: %v", c.ip, err)
					}
					if auth.Actor.APIKey.ID != c.key.Key.ID {
						t.Errorf("actor key = %s", auth.Actor.APIKey.ID)
					}
					return
				}
				wantErr(t, err, model.CodeForbidden, "ip address not allowed for this api key")
				if auth != nil {
					t.Errorf("authentication = %+v", auth)
				}
			})
		}

		t.Run("UpdatedListAppliesAtOnce", func(t *testing.T) {
			e := akSub(e, t)
			if _, err := e.svc.UpdateAPIKey(e.ctx, a, net10.Key.ID, account.APIKeyFields{AllowedIPs: ptr([]string{"11.0.0.0/8"})}); err != nil {
				t.Fatal(err)
			}
			_, err := akAuthFrom(e, net10.Secret, "10.1.2.3")
			wantErr(t, err, model.CodeForbidden, "ip address not allowed for this api key")
			if _, err := akAuthFrom(e, net10.Secret, "11.0.0.1"); err != nil {
				t.Errorf("from the new network: %v", err)
			}
			if _, err := e.svc.UpdateAPIKey(e.ctx, a, net10.Key.ID, account.APIKeyFields{AllowedIPs: ptr([]string{})}); err != nil {
				t.Fatal(err)
			}
			if _, err := akAuthFrom(e, net10.Secret, "198.51.100.1"); err != nil {
				t.Errorf("after emptying the list: %v", err)
			}
		})
	})
}
