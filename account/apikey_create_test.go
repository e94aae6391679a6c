package account_test

import (
	"bytes"
	"fmt"
	"reflect"
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

// akUse authenticates a new key from an address its allow-list admits.
func akUse(t *testing.T, e *env, nk *account.NewAPIKey) *model.Actor {
	t.Helper()
	ip := clientIP
	if len(nk.Key.AllowedIPs) > 0 {
		ip = nk.Key.AllowedIPs[0].Addr()
	}
	auth, err := e.svc.Authenticate(e.ctx, account.Credentials{HasAuthorization: true, Authorization: "Bearer " + nk.Secret, IP: ip, UserAgent: clientUA})
	if err != nil {
		t.Fatalf("authenticate %q from %s: %v", nk.Key.Name, ip, err)
	}
	if auth.Actor.APIKey == nil || auth.Actor.APIKey.ID != nk.Key.ID {
		t.Fatalf("authenticated as %+v, want key %s", auth.Actor.APIKey, nk.Key.ID)
	}
	return auth.Actor
}

func TestAPIKeyCreate(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		a := e.actor(alice.Token)
		now := e.clock.Now()
		exp := now.Add(24 * time.Hour)
		before := akSnap(e)
		nk := akCreate(e, a, account.APIKeyFields{
			Name:              ptr("deploy bot"),
			AllowedIPs:        ptr([]string{"10.0.0.0/8", "2001:db8::/32"}),
			UserPermissions:   ptr([]string{model.PermAPIKeysRead, model.PermAccountInfos}),
			ServerPermissions: ptr([]string{"control.start", "files.read"}),
			SetExpires:        true, Expires: &exp,
		})
		if got := akSnap(e); got != (akCounts{before.keys + 1, before.activities + 1}) {
			t.Errorf("rows = %v, want one key and one activity more than %v", got, before)
		}

		t.Run("SecretFormat", func(t *testing.T) {
			if !akKeyRE.MatchString(nk.Secret) {
				t.Fatalf("key %q: want c7sp_ and 43 alphanumerics", nk.Secret)
			}
			if nk.Key.KeyStart != nk.Secret[:16] {
				t.Errorf("key_start %q, want the first 16 characters %q", nk.Key.KeyStart, nk.Secret[:16])
			}
		})

		t.Run("ReturnedKey", func(t *testing.T) {
			e := akSub(e, t)
			k := nk.Key
			if k.ID == uuid.Nil || k.UserID != alice.ID || k.Name != "deploy bot" {
				t.Errorf("id/user/name = %s/%s/%q", k.ID, k.UserID, k.Name)
			}
			if got := akIPs(k); !reflect.DeepEqual(got, []string{"10.0.0.0/8", "2001:db8::/32"}) {
				t.Errorf("allowed_ips = %q", got)
			}
			if !reflect.DeepEqual(k.UserPermissions, []string{model.PermAPIKeysRead, model.PermAccountInfos}) ||
				!reflect.DeepEqual(k.ServerPermissions, []string{"control.start", "files.read"}) ||
				k.AdminPermissions == nil || len(k.AdminPermissions) != 0 {
				t.Errorf("lists = %q %q %q", k.UserPermissions, k.AdminPermissions, k.ServerPermissions)
			}
			if k.Expires == nil || !k.Expires.Equal(exp) {
				t.Errorf("expires = %v, want %v", akTime(k.Expires), exp)
			}
			if !k.Created.Equal(now) || k.LastUsed != nil {
				t.Errorf("created/last_used = %v/%v, want %v/null", k.Created, akTime(k.LastUsed), now)
			}
			stored, err := e.svc.APIKey(e.ctx, a, k.ID)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if akDump(stored) != akDump(k) {
				t.Errorf("stored key\n %s\nreturned\n %s", akDump(stored), akDump(k))
			}
		})

		t.Run("OnlyTheDigestIsStored", func(t *testing.T) {
			e := akSub(e, t)
			row := akRow(e, nk.Key.ID)
			digest, ok := row["digest"].([]byte)
			if !ok {
				t.Fatalf("digest column is %T", row["digest"])
			}
			sum := secret.Digest(nk.Secret)
			if len(sum) != 32 || !bytes.Equal(digest, sum) {
				t.Errorf("digest = %x, want sha256(key) = %x", digest, sum)
			}
			if row["key_start"] != nk.Secret[:16] {
				t.Errorf("key_start column = %v", row["key_start"])
			}
			hidden := nk.Secret[16:]
			for col, v := range row {
				var s string
				switch v := v.(type) {
				case string:
					s = v
				case []byte:
					s = string(v)
				default:
					s = fmt.Sprint(v)
				}
				if strings.Contains(s, hidden) {
					t.Errorf("column %s holds the key", col)
				}
			}
		})

		t.Run("Authenticates", func(t *testing.T) {
			e := akSub(e, t)
			ka := akUse(t, e, nk)
			if ka.User.ID != alice.ID {
				t.Errorf("actor user = %+v", ka.User)
			}
		})

		t.Run("Defaults", func(t *testing.T) {
			e := akSub(e, t)
			k := akCreate(e, a, account.APIKeyFields{Name: ptr("defaults")})
			for name, l := range map[string][]string{"user": k.Key.UserPermissions, "admin": k.Key.AdminPermissions,
				"server": k.Key.ServerPermissions, "allowed_ips": akIPs(k.Key)} {
				if l == nil || len(l) != 0 {
					t.Errorf("%s = %#v, want []", name, l)
				}
			}
			if k.Key.AllowedIPs == nil || k.Key.Expires != nil {
				t.Errorf("allowed_ips/expires = %#v/%v", k.Key.AllowedIPs, akTime(k.Key.Expires))
			}
			row := akRow(e, k.Key.ID)
			for _, col := range []string{"allowed_ips", "user_permissions", "admin_permissions", "server_permissions"} {
				if v := fmt.Sprintf("%s", row[col]); v != "[]" {
					t.Errorf("column %s = %q, want []", col, v)
				}
			}
			if k.Secret == nk.Secret || k.Key.KeyStart == nk.Key.KeyStart || k.Key.ID == nk.Key.ID {
				t.Error("two keys share a secret, identifier or id")
			}
		})

		t.Run("NamesAreCaseSensitivePerUser", func(t *testing.T) {
			e := akSub(e, t)
			akCreate(e, a, akIn("Deploy Bot"))
			b := e.register("carol")
			akCreate(e, e.actor(b.Token), akIn("deploy bot"))
			before := akSnap(e)
			_, err := akTryCreate(e, a, akIn("deploy bot"))
			wantErr(t, err, model.CodeConflict, "api key with name already exists")
			akUnchanged(t, e, before)
		})
	})
}

func TestAPIKeyCreateValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		root, _, _ := akUsers(e)
		a := e.actor(root.Token) // an administrator: admin lists are allowed
		now := e.clock.Now()
		ips := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("198.51.100.%d", i)
			}
			return out
		}
		const (
			lower3    = "length is lower than 3"
			greater31 = "length is greater than 31"
			noNUL     = "must not contain NUL characters"
			badIP     = "invalid ip address or network: …"
			future    = "time must be in the future"
		)

		bad := []struct {
			name string
			in   account.APIKeyFields
			want []model.FieldError
		}{
			{"ErrNameAbsent", account.APIKeyFields{}, []model.FieldError{fe("name", lower3)}},
			{"ErrNameEmpty", akIn(""), []model.FieldError{fe("name", lower3)}},
			{"ErrName2", akIn("ab"), []model.FieldError{fe("name", lower3)}},
			{"ErrName32", akIn(strings.Repeat("n", 32)), []model.FieldError{fe("name", greater31)}},
			{"ErrName32MultiByte", akIn(strings.Repeat("é", 32)), []model.FieldError{fe("name", greater31)}},
			{"ErrNameNUL", akIn("abc\x00def"), []model.FieldError{fe("name", noNUL)}},
			{"ErrNameShortNUL", akIn("a\x00"), []model.FieldError{fe("name", lower3), fe("name", noNUL)}},
			{"ErrIPOctet", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"10.0.0.256"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrIPText", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"localhost"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrIPEmpty", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{""})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrIPv4Bits33", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"10.0.0.0/33"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrIPv6Bits129", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"2001:db8::/129"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrIPv6Zone", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"fe80::1%eth0"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrIPNegativeBits", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"10.0.0.0/-1"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrMappedShorterThanIPv4", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"::ffff:0:0/95"})}, []model.FieldError{fe("allowed_ips", badIP)}},
			{"ErrTwoBadIPs", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr([]string{"10.0.0.1", "x", "1.2.3.4", "y"})},
				[]model.FieldError{fe("allowed_ips", "invalid ip address or network: x"), fe("allowed_ips", "invalid ip address or network: y")}},
			{"ErrIPs101", account.APIKeyFields{Name: ptr("ips"), AllowedIPs: ptr(ips(101))}, []model.FieldError{fe("allowed_ips", "too many entries (at most 100)")}},
			{"ErrUnknownUserPermission", akIn("perms", "foo.bar"), []model.FieldError{fe("user_permissions", "invalid permission: foo.bar")}},
			{"ErrServerPermissionInUserList", akIn("perms", "control.start"), []model.FieldError{fe("user_permissions", "invalid permission: control.start")}},
			{"ErrUnknownAdminPermission", account.APIKeyFields{Name: ptr("perms"), AdminPermissions: ptr([]string{"foo.bar"})},
				[]model.FieldError{fe("admin_permissions", "invalid permission: foo.bar")}},
			{"ErrUserPermissionInAdminList", account.APIKeyFields{Name: ptr("perms"), AdminPermissions: ptr([]string{model.PermAccountEmail})},
				[]model.FieldError{fe("admin_permissions", "invalid permission: account.email")}},
			{"ErrUnknownServerPermission", account.APIKeyFields{Name: ptr("perms"), ServerPermissions: ptr([]string{"foo.bar"})},
				[]model.FieldError{fe("server_permissions", "invalid permission: foo.bar")}},
			{"ErrUserPermissionInServerList", account.APIKeyFields{Name: ptr("perms"), ServerPermissions: ptr([]string{model.PermAPIKeysRead})},
				[]model.FieldError{fe("server_permissions", "invalid permission: api-keys.read")}},
			{"ErrPermissionCase", akIn("perms", "API-KEYS.READ"), []model.FieldError{fe("user_permissions", "invalid permission: API-KEYS.READ")}},
			{"ErrUser513", akIn("perms", akRepeat(513, model.PermAPIKeysRead)...), []model.FieldError{fe("user_permissions", "too many entries (at most 512)")}},
			{"ErrAdmin513", account.APIKeyFields{Name: ptr("perms"), AdminPermissions: ptr(akRepeat(513, "stats.read"))},
				[]model.FieldError{fe("admin_permissions", "too many entries (at most 512)")}},
			{"ErrServer513", account.APIKeyFields{Name: ptr("perms"), ServerPermissions: ptr(akRepeat(513, "control.start"))},
				[]model.FieldError{fe("server_permissions", "too many entries (at most 512)")}},
			{"ErrExpiresPast", account.APIKeyFields{Name: ptr("exp"), SetExpires: true, Expires: ptr(now.Add(-time.Hour))}, []model.FieldError{fe("expires", future)}},
			{"ErrExpiresMicroAgo", account.APIKeyFields{Name: ptr("exp"), SetExpires: true, Expires: ptr(now.Add(-time.Microsecond))}, []model.FieldError{fe("expires", future)}},
			{"ErrExpiresNow", account.APIKeyFields{Name: ptr("exp"), SetExpires: true, Expires: ptr(now)}, []model.FieldError{fe("expires", future)}},
			{"ErrExpiresNowOtherZone", account.APIKeyFields{Name: ptr("exp"), SetExpires: true, Expires: ptr(now.In(time.FixedZone("X", 3600)))}, []model.FieldError{fe("expires", future)}},
			{"ErrEveryRuleAtOnce", account.APIKeyFields{
				Name:              ptr("x"),
				AllowedIPs:        ptr([]string{"10.0.0.0/8", "nope"}),
				UserPermissions:   ptr([]string{"foo.user"}),
				AdminPermissions:  ptr([]string{"foo.admin"}),
				ServerPermissions: ptr([]string{"foo.server"}),
				SetExpires:        true, Expires: ptr(now.Add(-time.Second)),
			}, []model.FieldError{fe("name", lower3), fe("allowed_ips", "invalid ip address or network: nope"),
				fe("user_permissions", "invalid permission: foo.user"), fe("admin_permissions", "invalid permission: foo.admin"),
				fe("server_permissions", "invalid permission: foo.server"), fe("expires", future)}},
		}
		before := akSnap(e)
		for _, c := range bad {
			t.Run(c.name, func(t *testing.T) {
				e := akSub(e, t)
				nk, err := akTryCreate(e, a, c.in)
				wantFieldsLoose(t, err, c.want...)
				me := asError(t, err)
				if me.Field != c.want[0].Field {
					t.Errorf("Field = %q, want the first rule's %q", me.Field, c.want[0].Field)
				}
				if nk != nil {
					t.Errorf("result = %+v", nk)
				}
				akUnchanged(t, e, before)
			})
		}

		good := []struct {
			name  string
			in    account.APIKeyFields
			check func(t *testing.T, k *model.APIKey)
		}{
			{"Name3", akIn("abc"), nil},
			{"Name31", akIn(strings.Repeat("n", 31)), nil},
			{"Name31MultiByte", akIn(strings.Repeat("é", 31)), func(t *testing.T, k *model.APIKey) {
				if k.Name != strings.Repeat("é", 31) {
					t.Errorf("name = %q", k.Name)
				}
			}},
			{"BareIPv4Is32", account.APIKeyFields{Name: ptr("bare v4"), AllowedIPs: ptr([]string{"192.0.2.1"})}, akWantIPs("192.0.2.1/32")},
			{"BareIPv6Is128", account.APIKeyFields{Name: ptr("bare v6"), AllowedIPs: ptr([]string{"2001:db8::1"})}, akWantIPs("2001:db8::1/128")},
			{"IPv4NetworkMasked", account.APIKeyFields{Name: ptr("masked v4"), AllowedIPs: ptr([]string{"10.1.2.3/8"})}, akWantIPs("10.0.0.0/8")},
			{"IPv6NetworkMasked", account.APIKeyFields{Name: ptr("masked v6"), AllowedIPs: ptr([]string{"2001:db8:1:2::5/32"})}, akWantIPs("2001:db8::/32")},
			{"IPv6Compressed", account.APIKeyFields{Name: ptr("long v6"), AllowedIPs: ptr([]string{"2001:0DB8:0000:0000:0000:0000:0000:0001"})}, akWantIPs("2001:db8::1/128")},
			{"MappedIPv4Unmapped", account.APIKeyFields{Name: ptr("mapped"), AllowedIPs: ptr([]string{"::ffff:10.1.2.3"})}, akWantIPs("10.1.2.3/32")},
			{"MappedNetworkUnmapped", account.APIKeyFields{Name: ptr("mapped net"), AllowedIPs: ptr([]string{"::ffff:10.9.9.9/104"})}, akWantIPs("10.0.0.0/8")},
			{"HostRoutes", account.APIKeyFields{Name: ptr("host routes"), AllowedIPs: ptr([]string{"192.0.2.7/32", "2001:db8::7/128"})},
				akWantIPs("192.0.2.7/32", "2001:db8::7/128")},
			{"DuplicatesDropped", account.APIKeyFields{Name: ptr("dups"), AllowedIPs: ptr([]string{"10.0.0.0/8", "10.200.0.1/8", "192.0.2.1", "192.0.2.1/32"}),
				UserPermissions: ptr([]string{model.PermAPIKeysRead, model.PermAccountInfos, model.PermAPIKeysRead})},
				func(t *testing.T, k *model.APIKey) {
					akWantIPs("10.0.0.0/8", "192.0.2.1/32")(t, k)
					if !reflect.DeepEqual(k.UserPermissions, []string{model.PermAPIKeysRead, model.PermAccountInfos}) {
						t.Errorf("user_permissions = %q", k.UserPermissions)
					}
				}},
			{"IPs100", account.APIKeyFields{Name: ptr("ips 100"), AllowedIPs: ptr(ips(100))}, func(t *testing.T, k *model.APIKey) {
				if len(k.AllowedIPs) != 100 {
					t.Errorf("%d networks, want 100", len(k.AllowedIPs))
				}
			}},
			{"EmptyAllowList", account.APIKeyFields{Name: ptr("no ips"), AllowedIPs: ptr([]string{})}, akWantIPs()},
			{"User512", akIn("user 512", akRepeat(512, model.PermAPIKeysRead)...), func(t *testing.T, k *model.APIKey) {
				if !reflect.DeepEqual(k.UserPermissions, []string{model.PermAPIKeysRead}) {
					t.Errorf("user_permissions = %q", k.UserPermissions)
				}
			}},
			{"Admin512", account.APIKeyFields{Name: ptr("admin 512"), AdminPermissions: ptr(akRepeat(512, "stats.read"))}, func(t *testing.T, k *model.APIKey) {
				if !reflect.DeepEqual(k.AdminPermissions, []string{"stats.read"}) {
					t.Errorf("admin_permissions = %q", k.AdminPermissions)
				}
			}},
			{"Server512", account.APIKeyFields{Name: ptr("server 512"), ServerPermissions: ptr(akRepeat(512, "control.start"))}, func(t *testing.T, k *model.APIKey) {
				if !reflect.DeepEqual(k.ServerPermissions, []string{"control.start"}) {
					t.Errorf("server_permissions = %q", k.ServerPermissions)
				}
			}},
			{"EveryUserPermission", akIn("every user perm", sharedCatalog(t).AllUser()...), nil},
			{"EveryAdminPermission", account.APIKeyFields{Name: ptr("every admin perm"), AdminPermissions: ptr(sharedCatalog(t).AllAdmin())}, nil},
			{"ExpiresInAMicrosecond", account.APIKeyFields{Name: ptr("exp micro"), SetExpires: true, Expires: ptr(now.Add(time.Microsecond))},
				akWantExpires(now.Add(time.Microsecond))},
			{"ExpiresNextYear", account.APIKeyFields{Name: ptr("exp year"), SetExpires: true, Expires: ptr(now.AddDate(1, 0, 0))},
				akWantExpires(now.AddDate(1, 0, 0))},
			{"ExpiresOtherZone", account.APIKeyFields{Name: ptr("exp zone"), SetExpires: true, Expires: ptr(now.Add(time.Hour).In(time.FixedZone("X", -5*3600)))},
				akWantExpires(now.Add(time.Hour))},
			{"ExpiresNull", account.APIKeyFields{Name: ptr("exp null"), SetExpires: true}, func(t *testing.T, k *model.APIKey) {
				if k.Expires != nil {
					t.Errorf("expires = %v, want null", akTime(k.Expires))
				}
			}},
		}
		for _, c := range good {
			t.Run(c.name, func(t *testing.T) {
				e := akSub(e, t)
				before := akSnap(e)
				nk, err := akTryCreate(e, a, c.in)
				if err != nil {
					t.Fatalf("create: %v", err)
				}
				if got := akSnap(e); got != (akCounts{before.keys + 1, before.activities + 1}) {
					t.Errorf("rows = %v, want one key and one event more than %v", got, before)
				}
				stored := akReread(e, root.ID, nk.Key.ID)
				if akDump(stored) != akDump(nk.Key) {
					t.Errorf("stored\n %s\nreturned\n %s", akDump(stored), akDump(nk.Key))
				}
				if c.check != nil {
					c.check(t, stored)
				}
				akUse(t, e, nk)
			})
		}

		// A time less than a microsecond ahead is in the future, but it is
		// stored at microsecond precision: it must be refused, or the key
		// must work. A key that is created already expired is neither.
		t.Run("ExpiresWithinTheStoredPrecision", func(t *testing.T) {
			e := akSub(e, t)
			before := akSnap(e)
			nk, err := akTryCreate(e, a, account.APIKeyFields{Name: ptr("exp nano"), SetExpires: true, Expires: ptr(now.Add(time.Nanosecond))})
			if err != nil {
				wantFields(t, err, fe("expires", future))
				akUnchanged(t, e, before)
				return
			}
			if _, err := e.svc.Authenticate(e.ctx, bearer(nk.Secret)); err != nil {
				t.Errorf("created with expires %v (now %v) but unusable at once: %v", akTime(nk.Key.Expires), now, err)
			}
			if _, err := e.svc.APIKey(e.ctx, a, nk.Key.ID); err != nil {
				t.Errorf("created but hidden at once: %v", err)
			}
		})
	})
}

func akWantIPs(want ...string) func(t *testing.T, k *model.APIKey) {
	return func(t *testing.T, k *model.APIKey) {
		t.Helper()
		if want == nil {
			want = []string{}
		}
		if got := akIPs(k); !reflect.DeepEqual(got, want) {
			t.Errorf("allowed_ips = %q, want %q", got, want)
		}
	}
}

func akWantExpires(want time.Time) func(t *testing.T, k *model.APIKey) {
	return func(t *testing.T, k *model.APIKey) {
		t.Helper()
		if k.Expires == nil || !k.Expires.Equal(want) || k.Expires.Location() != time.UTC {
			t.Errorf("expires = %v, want %v in UTC", akTime(k.Expires), want.UTC())
		}
	}
}
