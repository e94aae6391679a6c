package account_test

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/account"
	"accountd/model"
	"accountd/secret"
)

// akKeyRE is the shape of an API key secret.
var akKeyRE = regexp.MustCompile(`^c7sp_[A-Za-z0-9]{43}$`)

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

// akRow reads a key's row as stored, column by column.
func akRow(e *env, id uuid.UUID) map[string]any {
	e.t.Helper()
	var m map[string]any
	if err := e.d.NewSelect().Table("api_keys").Where("id = ?", id).Scan(e.ctx, &m); err != nil {
		e.t.Fatalf("read api key row %s: %v", id, err)
	}
	return m
}

func akRepeat(n int, s string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}
