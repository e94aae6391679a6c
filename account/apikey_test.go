package account_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// akKeyRE is the shape of an API key secret.
var akKeyRE = regexp.MustCompile(`^c7sp_[A-Za-z0-9]{43}$`)

// akAllKeyPerms are the permissions of the API-key routes.
var akAllKeyPerms = []string{model.PermAPIKeysCreate, model.PermAPIKeysRead, model.PermAPIKeysUpdate,
	model.PermAPIKeysDelete, model.PermAPIKeysRecreate}

// akUsers registers an administrator (the first account ever is one) and
// two plain users.
func akUsers(e *env) (root, alice, bob *user) {
	e.t.Helper()
	return e.register("root"), e.register("alice"), e.register("bob")
}

// akIn is a create input with a name and user permissions; the other
// lists are absent.
func akIn(name string, perms ...string) account.APIKeyFields {
	if perms == nil {
		perms = []string{}
	}
	return account.APIKeyFields{Name: ptr(name), UserPermissions: ptr(perms)}
}

// akRemember marks a key's secret, the part of it that is not its public
// identifier, and every usual encoding of its digest as values no activity
// may contain.
func akRemember(e *env, nk *account.NewAPIKey) {
	if nk == nil || nk.Secret == "" {
		return
	}
	d := secret.Digest(nk.Secret)
	e.secret(nk.Secret, nk.Secret[16:], hex.EncodeToString(d), base64.StdEncoding.EncodeToString(d),
		base64.RawStdEncoding.EncodeToString(d), base64.URLEncoding.EncodeToString(d), base64.RawURLEncoding.EncodeToString(d))
}

// akTryCreate creates a key; it is safe to call from several goroutines.
func akTryCreate(e *env, a *model.Actor, in account.APIKeyFields) (*account.NewAPIKey, error) {
	nk, err := e.svc.CreateAPIKey(e.ctx, a, in)
	if err == nil {
		akRemember(e, nk)
	}
	return nk, err
}

// akCreate creates a key that must be accepted.
func akCreate(e *env, a *model.Actor, in account.APIKeyFields) *account.NewAPIKey {
	e.t.Helper()
	nk, err := akTryCreate(e, a, in)
	if err != nil {
		e.t.Fatalf("create api key: %v", err)
	}
	if nk == nil || nk.Key == nil || nk.Secret == "" {
		e.t.Fatalf("create api key returned %+v", nk)
	}
	return nk
}

// akRecreate recreates a key and remembers its new secret.
func akRecreate(e *env, a *model.Actor, id uuid.UUID) (*account.NewAPIKey, error) {
	nk, err := e.svc.RecreateAPIKey(e.ctx, a, id)
	if err == nil {
		akRemember(e, nk)
	}
	return nk, err
}

// akReread reads a key straight from storage, whatever its user's rights.
func akReread(e *env, userID, id uuid.UUID) *model.APIKey {
	e.t.Helper()
	k, err := e.store.APIKeyByID(e.ctx, userID, id, e.clock.Now().UTC().Truncate(time.Microsecond))
	if err != nil {
		e.t.Fatalf("reread api key %s: %v", id, err)
	}
	return k
}

// akDump renders every field of a key, so two reads can be compared.
func akDump(k *model.APIKey) string {
	if k == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s %s %q %q %x %q %q %q %q %v %v %v", k.ID, k.UserID, k.Name, k.KeyStart, k.Digest,
		akIPs(k), k.UserPermissions, k.AdminPermissions, k.ServerPermissions, akTime(k.LastUsed), akTime(k.Expires), k.Created.UTC())
}

func akTime(t *time.Time) string {
	if t == nil {
		return "null"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// akIPs renders a key's allow-list.
func akIPs(k *model.APIKey) []string {
	out := make([]string, len(k.AllowedIPs))
	for i, p := range k.AllowedIPs {
		out[i] = p.String()
	}
	return out
}

// akCounts is the number of key and activity rows of the whole database.
type akCounts struct{ keys, activities int }

func akSnap(e *env) akCounts {
	e.t.Helper()
	return akCounts{e.count("api_keys", ""), e.count("activities", "")}
}

// akUnchanged checks that no key or activity row was added or removed.
func akUnchanged(t *testing.T, e *env, before akCounts) {
	t.Helper()
	if now := akSnap(e); now != before {
		t.Errorf("rows (api_keys, activities) = %v, want %v: a refused call wrote", now, before)
	}
}

// akAuthFrom authenticates key as a request from ip.
func akAuthFrom(e *env, key, ip string) (*account.Authentication, error) {
	return e.svc.Authenticate(e.ctx, account.Credentials{HasAuthorization: true, Authorization: "Bearer " + key,
		IP: netip.MustParseAddr(ip), UserAgent: clientUA})
}

// akDead checks that key no longer authenticates.
func akDead(t *testing.T, e *env, key string) {
	t.Helper()
	a, err := e.svc.Authenticate(e.ctx, bearer(key))
	wantErr(t, err, model.CodeUnauthenticated, "invalid api key")
	if a != nil {
		t.Errorf("authentication = %+v", a)
	}
}

// akSub returns e reporting to the subtest t, so that its helpers fail
// the subtest rather than its parent.
func akSub(e *env, t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

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

// akRow reads a key's row as stored, column by column.
func akRow(e *env, id uuid.UUID) map[string]any {
	e.t.Helper()
	var m map[string]any
	if err := e.d.NewSelect().Table("api_keys").Where("id = ?", id).Scan(e.ctx, &m); err != nil {
		e.t.Fatalf("read api key row %s: %v", id, err)
	}
	return m
}

// akWithout returns list without drop.
func akWithout(list []string, drop string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return s == drop })
}

func akRepeat(n int, s string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestAPIKeyCreate(t *testing.T) {
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

func TestAPIKeyUpdate(t *testing.T) {
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

func TestAPIKeyPermissionSubset(t *testing.T) {
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

func TestAPIKeyQuota(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.MaxAPIKeys = 3
		e := newEnv(t, d, cfg)
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		full := func(t *testing.T, a *model.Actor, name string) {
			t.Helper()
			before := akSnap(e)
			nk, err := akTryCreate(e, a, akIn(name))
			wantErr(t, err, model.CodeQuotaExceeded, "maximum number of api keys reached")
			if nk != nil {
				t.Errorf("result = %+v", nk)
			}
			akUnchanged(t, e, before)
		}
		k1 := akCreate(e, a, akIn("one"))
		akCreate(e, a, akIn("two"))
		mgr := akCreate(e, a, akIn("three", model.PermAPIKeysCreate))

		t.Run("ErrFull", func(t *testing.T) {
			e := akSub(e, t)
			full(t, a, "four")
			full(t, e.keyActor(mgr.Secret), "four")
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 3 {
				t.Errorf("alice has %d keys, want 3", n)
			}
		})

		t.Run("PerUser", func(t *testing.T) {
			e := akSub(e, t)
			akCreate(e, e.actor(bob.Token), akIn("one"))
		})

		t.Run("DeleteFreesASlot", func(t *testing.T) {
			e := akSub(e, t)
			if err := e.svc.DeleteAPIKey(e.ctx, a, k1.Key.ID); err != nil {
				t.Fatal(err)
			}
			k1 = akCreate(e, a, account.APIKeyFields{Name: ptr("temporary"), SetExpires: true, Expires: ptr(e.clock.Now().Add(time.Hour))})
			full(t, a, "four")
		})

		var temporary *account.NewAPIKey
		t.Run("ExpiredKeysDoNotCount", func(t *testing.T) {
			e := akSub(e, t)
			e.clock.Advance(time.Hour)
			// The expired key's name is free again; the new key replaces it.
			temporary = akCreate(e, a, akIn("temporary"))
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 3 {
				t.Errorf("alice has %d key rows, want 3: the expired one is purged", n)
			}
			if n := e.count("api_keys", "id = ?", k1.Key.ID); n != 0 {
				t.Error("the expired key is still stored")
			}
			if got := akReread(e, alice.ID, temporary.Key.ID); got == nil || got.Name != "temporary" {
				t.Errorf("new key = %s", akDump(got))
			}
			full(t, a, "four")
		})

		t.Run("ExpiredKeysFreeTheirNameBelowQuota", func(t *testing.T) {
			e := akSub(e, t)
			if temporary == nil {
				t.Fatal("the previous step created no key")
			}
			for _, id := range []uuid.UUID{mgr.Key.ID, temporary.Key.ID} {
				if err := e.svc.DeleteAPIKey(e.ctx, a, id); err != nil {
					t.Fatal(err)
				}
			}
			old := akCreate(e, a, account.APIKeyFields{Name: ptr("reused"), SetExpires: true, Expires: ptr(e.clock.Now().Add(time.Minute))})
			// Still live: the name is taken.
			before := akSnap(e)
			_, err := akTryCreate(e, a, akIn("reused"))
			wantErr(t, err, model.CodeConflict, "api key with name already exists")
			akUnchanged(t, e, before)
			e.clock.Advance(time.Minute)
			nk := akCreate(e, a, akIn("reused"))
			if nk.Key.ID == old.Key.ID || e.count("api_keys", "user_id = ? AND name = ?", alice.ID, "reused") != 1 ||
				e.count("api_keys", "id = ?", old.Key.ID) != 0 {
				t.Error("the expired key was not replaced")
			}
		})
	})
}

// akRace runs n calls at once and returns their errors.
func akRace(n int, call func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

func TestAPIKeyConcurrentCreatesHoldTheQuota(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		cfg := defaultConfig()
		cfg.MaxAPIKeys = 25
		e := newEnv(t, d, cfg)
		_, alice, _ := akUsers(e)
		for range 24 {
			e.newAPIKey(alice.User, keyOpts{})
		}
		actors := make([]*model.Actor, 20)
		for i := range actors {
			actors[i] = e.actor(alice.Token)
		}
		errs := akRace(len(actors), func(i int) error {
			_, err := akTryCreate(e, actors[i], akIn(fmt.Sprintf("racer %02d", i)))
			return err
		})
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if model.ErrorCode(err) != model.CodeQuotaExceeded || asError(t, err).Message != "maximum number of api keys reached" {
				t.Errorf("create %d: %v, want quota_exceeded", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", ok)
		}
		if n := e.count("api_keys", "user_id = ?", alice.ID); n != 25 {
			t.Errorf("alice has %d keys, want exactly the quota, 25", n)
		}
		if n := len(e.events(alice.User, model.EventAPIKeyCreate)); n != 1 {
			t.Errorf("%d api-key:create events, want 1", n)
		}
	})
}

func TestAPIKeyConcurrentCreatesSameName(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		key, _ := e.newAPIKey(alice.User, keyOpts{UserPerms: []string{model.PermAPIKeysCreate}})
		actors := make([]*model.Actor, 10)
		for i := range actors {
			if i%2 == 0 {
				actors[i] = e.actor(alice.Token)
			} else {
				actors[i] = e.keyActor(key)
			}
		}
		errs := akRace(len(actors), func(i int) error {
			_, err := akTryCreate(e, actors[i], akIn("shared name"))
			return err
		})
		ok := 0
		for i, err := range errs {
			if err == nil {
				ok++
				continue
			}
			if model.ErrorCode(err) != model.CodeConflict || asError(t, err).Message != "api key with name already exists" {
				t.Errorf("create %d: %v, want conflict", i, err)
			}
		}
		if ok != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", ok)
		}
		if n := e.count("api_keys", "user_id = ? AND name = ?", alice.ID, "shared name"); n != 1 {
			t.Errorf("%d keys named %q, want 1", n, "shared name")
		}
		if n := len(e.events(alice.User, model.EventAPIKeyCreate)); n != 1 {
			t.Errorf("%d api-key:create events, want 1", n)
		}
	})
}

func TestAPIKeyOtherUsersKey(t *testing.T) {
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

func TestAPIKeyRecreate(t *testing.T) {
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

func TestAPIKeyLookupByKeyStart(t *testing.T) {
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

func TestAPIKeyExpiryAndCleanup(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		start := e.clock.Now()

		// A confirmation token that expires after five minutes.
		e.setColumn(bob.User, "totp_enabled", true)
		akPendingLogin(t, e, bob)

		soon := akCreate(e, a, account.APIKeyFields{Name: ptr("soon"), UserPermissions: ptr([]string{model.PermAPIKeysRead}),
			SetExpires: true, Expires: ptr(start.Add(time.Hour))})
		live := akCreate(e, a, akIn("live", model.PermAPIKeysRead))
		later := akCreate(e, a, account.APIKeyFields{Name: ptr("later"), SetExpires: true, Expires: ptr(start.Add(2 * time.Hour))})
		listed := func(t *testing.T) []uuid.UUID {
			t.Helper()
			p, err := e.svc.ListAPIKeys(e.ctx, a, model.ListQuery{Keyset: true, First: 100})
			if err != nil {
				t.Fatal(err)
			}
			n, err := p.Count(e.ctx)
			if err != nil || n != len(p.Items) {
				t.Errorf("count = %d, %v; want %d", n, err, len(p.Items))
			}
			ids := make([]uuid.UUID, len(p.Items))
			for i, k := range p.Items {
				ids[i] = k.ID
			}
			return ids
		}

		e.clock.Advance(time.Hour - time.Microsecond)
		if ka := e.keyActor(soon.Secret); ka.APIKey.ID != soon.Key.ID {
			t.Fatalf("actor = %+v", ka.APIKey)
		}
		if got := listed(t); !slices.Equal(got, []uuid.UUID{soon.Key.ID, live.Key.ID, later.Key.ID}) {
			t.Errorf("listed %v before expiry", got)
		}

		e.clock.Advance(time.Microsecond) // exactly at expiry
		akDead(t, e, soon.Secret)
		if got := listed(t); !slices.Equal(got, []uuid.UUID{live.Key.ID, later.Key.ID}) {
			t.Errorf("listed %v after expiry, want live and later", got)
		}
		before := akSnap(e)
		_, err := e.svc.APIKey(e.ctx, a, soon.Key.ID)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = e.svc.APIKeyByKeyStart(e.ctx, a, soon.Key.KeyStart)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = e.svc.UpdateAPIKey(e.ctx, a, soon.Key.ID, account.APIKeyFields{SetExpires: true})
		wantErr(t, err, model.CodeNotFound, "api key not found")
		_, err = akRecreate(e, a, soon.Key.ID)
		wantErr(t, err, model.CodeNotFound, "api key not found")
		wantErr(t, e.svc.DeleteAPIKey(e.ctx, a, soon.Key.ID), model.CodeNotFound, "api key not found")
		akUnchanged(t, e, before)
		akDead(t, e, soon.Secret) // an update cannot revive it
		if n := e.count("api_keys", "id = ?", soon.Key.ID); n != 1 {
			t.Fatalf("expired key rows before clean-up = %d, want 1", n)
		}

		// A confirmation token that has not expired yet.
		akPendingLogin(t, e, bob)
		if n := e.count("login_tokens", ""); n != 2 {
			t.Fatalf("login tokens = %d, want 2", n)
		}

		res, err := e.svc.Cleanup(e.ctx)
		if err != nil {
			t.Fatalf("cleanup: %v", err)
		}
		if res != (account.CleanupResult{APIKeys: 1, LoginTokens: 1}) {
			t.Errorf("cleanup = %+v, want one key and one token", res)
		}
		if n := e.count("api_keys", "id = ?", soon.Key.ID); n != 0 {
			t.Error("expired key still stored after clean-up")
		}
		if n := e.count("api_keys", "user_id = ?", alice.ID); n != 2 {
			t.Errorf("alice has %d keys after clean-up, want 2", n)
		}
		if n := e.count("login_tokens", ""); n != 1 {
			t.Errorf("login tokens after clean-up = %d, want 1", n)
		}
		e.keyActor(live.Secret)
		e.keyActor(later.Secret)

		if res, err := e.svc.Cleanup(e.ctx); err != nil || res != (account.CleanupResult{}) {
			t.Errorf("second clean-up = %+v, %v; want nothing deleted", res, err)
		}

		e.clock.Advance(time.Hour)
		akDead(t, e, later.Secret)
		if res, err := e.svc.Cleanup(e.ctx); err != nil || res != (account.CleanupResult{APIKeys: 1, LoginTokens: 1}) {
			t.Errorf("third clean-up = %+v, %v; want one key and one token", res, err)
		}
		if n := e.count("api_keys", ""); n != 1 {
			t.Errorf("%d key rows left, want the live one", n)
		}
		e.keyActor(live.Secret)
	})
}

// akPendingLogin signs u in up to the two-factor checkpoint, leaving a
// confirmation token.
func akPendingLogin(t *testing.T, e *env, u *user) {
	t.Helper()
	res, err := e.svc.Login(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, account.LoginInput{User: u.Username, Password: u.Password})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	e.secret(res.SessionToken, res.ConfirmationToken)
	if !res.TwoFactorRequired() {
		t.Fatalf("login of %s did not stop at the checkpoint", u.Username)
	}
}

func TestAPIKeyCleanupBatches(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		past := e.clock.Now().Add(-time.Second)
		for i := range 1001 {
			u := alice.User
			if i%2 == 1 {
				u = bob.User
			}
			e.newAPIKey(u, keyOpts{Expires: &past})
		}
		live, _ := e.newAPIKey(alice.User, keyOpts{Expires: ptr(e.clock.Now().Add(time.Second))})
		res, err := e.svc.Cleanup(e.ctx)
		if err != nil || res.APIKeys != 1001 {
			t.Fatalf("cleanup = %+v, %v; want 1001 keys", res, err)
		}
		if n := e.count("api_keys", ""); n != 1 {
			t.Errorf("%d key rows left, want 1", n)
		}
		e.keyActor(live)
	})
}

func TestAPIKeyActivity(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, _ := akUsers(e)
		sa := e.actor(alice.Token)
		mgr := akCreate(e, sa, akIn("manager", akAllKeyPerms...))
		ka := e.keyActor(mgr.Secret)

		worker := akCreate(e, ka, account.APIKeyFields{Name: ptr("worker"), AllowedIPs: ptr([]string{"10.0.0.0/8"}),
			UserPermissions: ptr([]string{model.PermAPIKeysRead})})
		if _, err := e.svc.UpdateAPIKey(e.ctx, ka, worker.Key.ID, account.APIKeyFields{Name: ptr("worker-2"),
			UserPermissions: ptr([]string{model.PermAPIKeysCreate})}); err != nil {
			t.Fatalf("update: %v", err)
		}
		// An edit that changes nothing records nothing.
		if _, err := e.svc.UpdateAPIKey(e.ctx, ka, worker.Key.ID, account.APIKeyFields{}); err != nil {
			t.Fatalf("empty update: %v", err)
		}
		re, err := akRecreate(e, ka, worker.Key.ID)
		if err != nil {
			t.Fatalf("recreate: %v", err)
		}
		if err := e.svc.DeleteAPIKey(e.ctx, ka, worker.Key.ID); err != nil {
			t.Fatalf("delete: %v", err)
		}
		secrets := []string{mgr.Secret, worker.Secret, re.Secret, mgr.Secret[16:], worker.Secret[16:], re.Secret[16:]}
		for _, k := range []string{mgr.Secret, worker.Secret, re.Secret} {
			dg := secret.Digest(k)
			secrets = append(secrets, hex.EncodeToString(dg), base64.StdEncoding.EncodeToString(dg), base64.RawURLEncoding.EncodeToString(dg))
		}

		// one returns the only event named event about key id.
		one := func(t *testing.T, event string, id uuid.UUID) (*model.Activity, map[string]any) {
			t.Helper()
			var found []*model.Activity
			var data map[string]any
			for _, act := range e.events(alice.User, event) {
				var m map[string]any
				if err := json.Unmarshal(act.Data, &m); err != nil {
					t.Fatalf("%s data %q: %v", event, act.Data, err)
				}
				if m["uuid"] == id.String() {
					found, data = append(found, act), m
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d %s events for %s, want 1", len(found), event, id)
			}
			act := found[0]
			for _, s := range secrets {
				if strings.Contains(string(act.Data), s) {
					t.Errorf("%s data %s holds a secret (%.8s…)", event, act.Data, s)
				}
			}
			if act.IP == nil || *act.IP != clientIP.String() {
				t.Errorf("%s ip = %v", event, act.IP)
			}
			return act, data
		}
		wantKeyID := func(t *testing.T, act *model.Activity, want *uuid.UUID) {
			t.Helper()
			if (act.APIKeyID == nil) != (want == nil) || (want != nil && *act.APIKeyID != *want) {
				t.Errorf("%s api_key_id = %v, want %v", act.Event, act.APIKeyID, want)
			}
			if act.IsAPI() != (want != nil) {
				t.Errorf("%s IsAPI = %v", act.Event, act.IsAPI())
			}
		}
		wantStr := func(t *testing.T, data map[string]any, field, want string) {
			t.Helper()
			if data[field] != want {
				t.Errorf("data.%s = %v, want %q", field, data[field], want)
			}
		}

		t.Run("CreateBySession", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyCreate, mgr.Key.ID)
			wantKeyID(t, act, nil)
			wantStr(t, data, "name", "manager")
			wantStr(t, data, "identifier", mgr.Key.KeyStart)
		})
		t.Run("CreateByKey", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyCreate, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker")
			wantStr(t, data, "identifier", worker.Key.KeyStart)
		})
		t.Run("Update", func(t *testing.T) {
			e := akSub(e, t)
			if n := len(e.events(alice.User, model.EventAPIKeyUpdate)); n != 1 {
				t.Errorf("%d api-key:update events, want 1 (the empty edit records none)", n)
			}
			act, data := one(t, model.EventAPIKeyUpdate, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker-2")
			wantStr(t, data, "identifier", worker.Key.KeyStart)
			if got, _ := json.Marshal(data["fields"]); string(got) != `["name","user_permissions"]` {
				t.Errorf("data.fields = %s, want the changed fields", got)
			}
		})
		t.Run("Recreate", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyRecreate, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker-2")
			wantStr(t, data, "identifier", re.Key.KeyStart)
		})
		t.Run("Delete", func(t *testing.T) {
			act, data := one(t, model.EventAPIKeyDelete, worker.Key.ID)
			wantKeyID(t, act, &mgr.Key.ID)
			wantStr(t, data, "name", "worker-2")
			wantStr(t, data, "identifier", re.Key.KeyStart)
		})
		t.Run("NoOtherEvents", func(t *testing.T) {
			e := akSub(e, t)
			if n := len(e.activities(alice.User)); n != 5 {
				t.Errorf("alice has %d events, want 5", n)
			}
		})
	})
}

func TestAPIKeyChangePasswordRevokesKeys(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, defaultConfig())
		_, alice, bob := akUsers(e)
		a := e.actor(alice.Token)
		one := akCreate(e, a, akIn("one"))
		two := akCreate(e, a, akIn("two", model.PermAPIKeysRead))
		bobs := akCreate(e, e.actor(bob.Token), akIn("bobs"))
		const first, second = "first new password", "second new password"
		e.secret(first, second)

		t.Run("KeepsKeys", func(t *testing.T) {
			e := akSub(e, t)
			res, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: alice.Password, NewPassword: first})
			if err != nil {
				t.Fatalf("change password: %v", err)
			}
			if res.RevokedAPIKeys != 0 {
				t.Errorf("revoked %d keys, want 0", res.RevokedAPIKeys)
			}
			e.keyActor(one.Secret)
			e.keyActor(two.Secret)
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 2 {
				t.Errorf("alice has %d keys, want 2", n)
			}
		})
		t.Run("RevokesKeys", func(t *testing.T) {
			e := akSub(e, t)
			res, err := e.svc.ChangePassword(e.ctx, e.actor(alice.Token), account.ChangePasswordInput{Password: first, NewPassword: second,
				RevokeAPIKeys: true})
			if err != nil {
				t.Fatalf("change password: %v", err)
			}
			if res.RevokedAPIKeys != 2 {
				t.Errorf("revoked %d keys, want 2", res.RevokedAPIKeys)
			}
			akDead(t, e, one.Secret)
			akDead(t, e, two.Secret)
			if n := e.count("api_keys", "user_id = ?", alice.ID); n != 0 {
				t.Errorf("alice has %d keys, want 0", n)
			}
			e.keyActor(bobs.Secret)
			e.actor(alice.Token) // the session that made the change stays
		})
	})
}

func TestAPIKeyAllowedIPs(t *testing.T) {
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
