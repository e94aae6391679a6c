package rest_test

// End-to-end tests of the API-key routes of REST.md §4: happy paths and
// listing, and what the other API-key REST tests share.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app/apptest"
	"accountd/db/dbtest"
	"accountd/secret"
)

// rakPath is the collection of the signed-in user's API keys.
const rakPath = "/api/client/account/api-keys"

// rakFields are the members of the ApiKey object, in the contract's order.
var rakFields = []string{"uuid", "name", "key_start", "allowed_ips", "user_permissions", "admin_permissions",
	"server_permissions", "last_used", "expires", "created"}

// rakManage is every permission the API-key routes check.
var rakManage = []string{"api-keys.create", "api-keys.read", "api-keys.update", "api-keys.delete", "api-keys.recreate"}

var rakSecretRE = regexp.MustCompile(`^c7sp_[A-Za-z0-9]{43}$`)

// rakTS renders a time as the REST layer does: UTC, microseconds, Z.
func rakTS(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.000000Z")
}

// rakOrder returns the member names of a JSON object in document order.
func rakOrder(t testing.TB, raw []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		t.Fatalf("not a JSON object: %s", raw)
	}
	var out []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatalf("bad JSON object %s: %v", raw, err)
		}
		out = append(out, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatalf("bad JSON object %s: %v", raw, err)
		}
	}
	return out
}

// rakMember returns one member of a JSON object, undecoded.
func rakMember(t testing.TB, raw []byte, name string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	v, ok := m[name]
	if !ok {
		t.Fatalf("no member %q in %s", name, raw)
	}
	return v
}

// rakWantOrder checks that raw is an object with exactly these members in
// this order.
func rakWantOrder(t testing.TB, what string, raw []byte, want ...string) {
	t.Helper()
	if got := rakOrder(t, raw); !slices.Equal(got, want) {
		t.Errorf("%s members %q, want %q in this order: %s", what, got, want, raw)
	}
}

// rakCheckKey checks that raw is an ApiKey object (REST.md §3): the ten
// members in order, with the right JSON types (so no member for a
// secret). It returns the object decoded.
func rakCheckKey(t testing.TB, raw []byte) map[string]any {
	t.Helper()
	rakWantOrder(t, "ApiKey", raw, rakFields...)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("ApiKey is not an object: %s", raw)
	}
	if s, _ := m["uuid"].(string); !restUUIDRE.MatchString(s) {
		t.Errorf("uuid = %#v, want a lowercase hyphenated UUID", m["uuid"])
	}
	if _, ok := m["name"].(string); !ok {
		t.Errorf("name = %#v, want a string", m["name"])
	}
	if s, _ := m["key_start"].(string); len(s) != 16 || !strings.HasPrefix(s, "c7sp_") {
		t.Errorf("key_start = %#v, want the key's first 16 characters", m["key_start"])
	}
	for _, f := range []string{"allowed_ips", "user_permissions", "admin_permissions", "server_permissions"} {
		l, ok := m[f].([]any)
		if !ok {
			t.Errorf("%s = %#v, want an array (never null)", f, m[f])
			continue
		}
		for _, e := range l {
			if _, ok := e.(string); !ok {
				t.Errorf("%s holds %#v, want strings", f, e)
			}
		}
	}
	for _, f := range []string{"last_used", "expires"} {
		if v := m[f]; v != nil {
			if s, _ := v.(string); !restTimestampRE.MatchString(s) {
				t.Errorf("%s = %#v, want null or RFC 3339 UTC with 6 fractional digits", f, v)
			}
		}
	}
	restCheckTimestamp(t, "created", m["created"], time.Hour)
	return m
}

// rakCreate creates a key and returns the ApiKey object and the secret; it
// fails the test unless the answer is 200 {"api_key":…, "key":…}.
func rakCreate(t testing.TB, c *apptest.Client, body map[string]any) (map[string]any, string) {
	t.Helper()
	res := c.Do(http.MethodPost, rakPath, body)
	if res.Status != http.StatusOK {
		t.Fatalf("create %v: %d %s", body, res.Status, res.Body)
	}
	rakWantOrder(t, "create answer", res.Body, "api_key", "key")
	var key string
	if err := json.Unmarshal(rakMember(t, res.Body, "key"), &key); err != nil || !rakSecretRE.MatchString(key) {
		t.Fatalf("key = %s, want c7sp_ and 43 alphanumerics", rakMember(t, res.Body, "key"))
	}
	k := rakCheckKey(t, rakMember(t, res.Body, "api_key"))
	if k["key_start"] != key[:16] {
		t.Errorf("key_start %v is not the start of the key", k["key_start"])
	}
	return k, key
}

// rakGet looks a key up by its identifier and returns the ApiKey object.
func rakGet(t testing.TB, c *apptest.Client, keyStart string) map[string]any {
	t.Helper()
	res := c.Do(http.MethodGet, rakPath+"/identifier/"+url.PathEscape(keyStart), nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET identifier %s: %d %s", keyStart, res.Status, res.Body)
	}
	rakWantOrder(t, "identifier answer", res.Body, "api_key")
	return rakCheckKey(t, rakMember(t, res.Body, "api_key"))
}

// rakPage is a decoded page of the list route.
type rakPage struct {
	Total, PerPage, Page int
	Items                []map[string]any
	Raw                  []byte
}

// names returns the names of the page's keys in order.
func (p rakPage) names() []string {
	out := make([]string, len(p.Items))
	for i, k := range p.Items {
		out[i], _ = k["name"].(string)
	}
	return out
}

// rakList fetches GET api-keys with a query ("" or "?page=2…") and checks
// the envelope's shape.
func rakList(t testing.TB, c *apptest.Client, query string) rakPage {
	t.Helper()
	res := c.Do(http.MethodGet, rakPath+query, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET api-keys%s: %d %s", query, res.Status, res.Body)
	}
	rakWantOrder(t, "list answer", res.Body, "api_keys")
	env := rakMember(t, res.Body, "api_keys")
	rakWantOrder(t, "pagination envelope", env, "total", "per_page", "page", "data")
	var p struct {
		Total   int               `json:"total"`
		PerPage int               `json:"per_page"`
		Page    int               `json:"page"`
		Data    []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(env, &p); err != nil || p.Data == nil {
		t.Fatalf("bad envelope (data must be an array): %v %s", err, env)
	}
	out := rakPage{Total: p.Total, PerPage: p.PerPage, Page: p.Page, Items: make([]map[string]any, len(p.Data)), Raw: res.Body}
	for i, raw := range p.Data {
		out.Items[i] = rakCheckKey(t, raw)
	}
	return out
}

// rakKey inserts a key for userID holding exactly these user permissions.
func rakKey(t testing.TB, ts *apptest.Server, userID uuid.UUID, perms ...string) string {
	t.Helper()
	if perms == nil {
		perms = []string{}
	}
	return apptest.APIKey(t, ts, userID, apptest.KeyOpts{UserPermissions: perms})
}

// rakSnapshot renders the row of key id for before/after comparisons; ""
// when there is no such row.
func rakSnapshot(t testing.TB, ts *apptest.Server, id string) string {
	t.Helper()
	var r dbtest.APIKeyRow
	err := ts.App.DB.NewSelect().Model(&r).Where("id = ?", uuid.MustParse(id)).Scan(context.Background())
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatalf("read api key %s: %v", id, err)
	}
	tm := func(p *time.Time) string {
		if p == nil {
			return "null"
		}
		return p.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprintf("id=%s user=%s name=%q key_start=%s digest=%x ips=%s user=%s admin=%s server=%s last_used=%s expires=%s created=%s",
		r.ID, r.UserID, r.Name, r.KeyStart, r.Digest, r.AllowedIPs, r.UserPermissions, r.AdminPermissions,
		r.ServerPermissions, tm(r.LastUsed), tm(r.Expires), r.Created.UTC().Format(time.RFC3339Nano))
}

// rakID returns the id of the key whose secret is key.
func rakID(t testing.TB, ts *apptest.Server, key string) string {
	t.Helper()
	var id uuid.UUID
	err := ts.App.DB.NewSelect().Table("api_keys").Column("id").Where("key_start = ?", key[:16]).
		Scan(context.Background(), &id)
	if err != nil {
		t.Fatalf("id of key %s…: %v", key[:16], err)
	}
	return id.String()
}

// rakCount counts the rows of api_keys of userID, expired ones included.
func rakCount(t testing.TB, ts *apptest.Server, userID uuid.UUID) int {
	t.Helper()
	n, err := ts.App.DB.NewSelect().Table("api_keys").Where("user_id = ?", userID).Count(context.Background())
	if err != nil {
		t.Fatalf("count api keys: %v", err)
	}
	return int(n)
}

// rakWantCount checks the number of rows of api_keys of userID.
func rakWantCount(t testing.TB, ts *apptest.Server, userID uuid.UUID, want int) {
	t.Helper()
	if n := rakCount(t, ts, userID); n != want {
		t.Errorf("%d api keys in the database, want %d", n, want)
	}
}

// rakSetColumn sets a column of the key whose secret is key.
func rakSetColumn(t testing.TB, ts *apptest.Server, key, column string, value any) {
	t.Helper()
	_, err := ts.App.DB.NewUpdate().Table("api_keys").Set(column+" = ?", value).
		Where("key_start = ?", key[:16]).Exec(context.Background())
	if err != nil {
		t.Fatalf("set %s: %v", column, err)
	}
}

// rakNameOf returns the name of the key whose secret is key.
func rakNameOf(t testing.TB, ts *apptest.Server, key string) string {
	t.Helper()
	var name string
	err := ts.App.DB.NewSelect().Table("api_keys").Column("name").Where("key_start = ?", key[:16]).
		Scan(context.Background(), &name)
	if err != nil {
		t.Fatalf("name of key: %v", err)
	}
	return name
}

// rakActivities returns userID's api-key:* events, oldest first.
func rakActivities(t testing.TB, ts *apptest.Server, userID uuid.UUID) []dbtest.ActivityRow {
	t.Helper()
	var rows []dbtest.ActivityRow
	err := ts.App.DB.NewSelect().Model(&rows).Where("user_id = ?", userID).Where("event LIKE ?", "api-key:%").
		OrderExpr("created ASC, id ASC").Scan(context.Background())
	if err != nil {
		t.Fatalf("read activities: %v", err)
	}
	return rows
}

// rakSecretForms are the ways a key could leak: itself, the part after
// the public identifier, and its digest in the usual encodings.
func rakSecretForms(key string) []string {
	d := secret.Digest(key)
	return []string{key, key[16:], hex.EncodeToString(d), base64.StdEncoding.EncodeToString(d),
		base64.RawURLEncoding.EncodeToString(d)}
}

// rakNoSecret fails when text holds any form of any of the keys.
func rakNoSecret(t testing.TB, what string, text []byte, keys ...string) {
	t.Helper()
	for _, k := range keys {
		for _, f := range rakSecretForms(k) {
			if bytes.Contains(text, []byte(f)) {
				t.Errorf("%s holds a secret (%q…): %s", what, f[:8], text)
			}
		}
	}
}

// rakSameSet compares a decoded JSON list with want, ignoring order.
func rakSameSet(t testing.TB, what string, got any, want ...string) {
	t.Helper()
	l, ok := got.([]any)
	if !ok {
		t.Errorf("%s = %#v, want a list", what, got)
		return
	}
	g := make([]string, len(l))
	for i, e := range l {
		g[i], _ = e.(string)
	}
	w := slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s = %q, want %q", what, g, w)
	}
}

// rakWithout returns a copy of m without the named members.
func rakWithout(m map[string]any, names ...string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !slices.Contains(names, k) {
			out[k] = v
		}
	}
	return out
}

// rakWantSame checks two ApiKey objects agree except for the named members.
func rakWantSame(t testing.TB, what string, got, want map[string]any, except ...string) {
	t.Helper()
	if g, w := rakWithout(got, except...), rakWithout(want, except...); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %v\nwant %v", what, g, w)
	}
}

func TestRESTAPIKeyRoutesHappyPath(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		var secrets []string
		var bodies [][]byte // every answer, checked for secrets at the end

		// An expiry with nanoseconds and an offset: the answer is UTC with
		// microseconds.
		expires := time.Now().Add(72 * time.Hour).Truncate(time.Second).Add(123456789).In(time.FixedZone("", 2*3600))
		full, fullKey := rakCreate(t, alice.Client, map[string]any{
			"name": "deploy-bot", "allowed_ips": []string{"10.0.0.0/8", "1.2.3.4", "2001:db8::1"},
			"user_permissions": []string{"account.infos", "api-keys.read"}, "admin_permissions": []string{"stats.read"},
			"server_permissions": []string{"control.start", "files.read"}, "expires": expires.Format(time.RFC3339Nano)})
		minimal, minimalKey := rakCreate(t, alice.Client, map[string]any{"name": "minimal"})
		reader, readerKey := rakCreate(t, alice.Client, map[string]any{"name": "reader", "user_permissions": []string{"api-keys.read"}})
		secrets = append(secrets, fullKey, minimalKey, readerKey)

		t.Run("create: the object as given, normalised", func(t *testing.T) {
			if full["name"] != "deploy-bot" {
				t.Errorf("name = %v", full["name"])
			}
			rakSameSet(t, "allowed_ips", full["allowed_ips"], "10.0.0.0/8", "1.2.3.4/32", "2001:db8::1/128")
			rakSameSet(t, "user_permissions", full["user_permissions"], "account.infos", "api-keys.read")
			rakSameSet(t, "admin_permissions", full["admin_permissions"], "stats.read")
			rakSameSet(t, "server_permissions", full["server_permissions"], "control.start", "files.read")
			if full["last_used"] != nil {
				t.Errorf("last_used = %v, want null", full["last_used"])
			}
			if want := rakTS(expires); full["expires"] != want {
				t.Errorf("expires = %v, want %s", full["expires"], want)
			}
			restCheckTimestamp(t, "created", full["created"], time.Minute)
			if full["uuid"] != rakID(t, ts, fullKey) {
				t.Errorf("uuid %v is not the stored id", full["uuid"])
			}
		})
		t.Run("create: absent lists are empty, absent expiry is none", func(t *testing.T) {
			for _, f := range []string{"allowed_ips", "user_permissions", "admin_permissions", "server_permissions"} {
				rakSameSet(t, f, minimal[f])
			}
			if minimal["expires"] != nil || minimal["last_used"] != nil {
				t.Errorf("expires %v, last_used %v, want null", minimal["expires"], minimal["last_used"])
			}
			if minimal["uuid"] == full["uuid"] || minimalKey == fullKey {
				t.Errorf("two keys share an id or a secret")
			}
		})
		t.Run("create: a client cannot choose the id or the secret", func(t *testing.T) {
			chosen := "c7sp_" + secret.RandomString(43)
			chosenID := uuid.NewString()
			k, key := rakCreate(t, alice.Client, map[string]any{"name": "chooser", "key": chosen, "uuid": chosenID,
				"key_start": chosen[:16], "created": "2000-01-01T00:00:00Z", "last_used": "2000-01-01T00:00:00Z"})
			if key == chosen || k["uuid"] == chosenID || k["key_start"] == chosen[:16] || k["last_used"] != nil {
				t.Errorf("the server took client-chosen members: %v", k)
			}
			restCheckTimestamp(t, "created", k["created"], time.Minute)
			secrets = append(secrets, key)
			apptest.WantEmpty(t, alice.Do(http.MethodDelete, rakPath+"/"+k["uuid"].(string), nil))
		})

		var listETag string
		t.Run("list", func(t *testing.T) {
			res := alice.Do(http.MethodGet, rakPath, nil)
			bodies = append(bodies, res.Body)
			p := rakList(t, alice.Client, "")
			if p.Total != 3 || p.PerPage != 25 || p.Page != 1 || len(p.Items) != 3 {
				t.Fatalf("envelope total %d per_page %d page %d, %d items; want 3 25 1 3", p.Total, p.PerPage, p.Page, len(p.Items))
			}
			rakWantSame(t, "first item", p.Items[0], full)
			rakWantSame(t, "second item", p.Items[1], minimal)
			rakWantSame(t, "third item", p.Items[2], reader)
			listETag = res.Header.Get("ETag")
			if listETag == "" {
				t.Fatalf("GET list without ETag")
			}
			alice.Header.Set("If-None-Match", listETag)
			defer alice.Header.Del("If-None-Match")
			res = alice.Do(http.MethodGet, rakPath, nil)
			if res.Status != http.StatusNotModified || len(res.Body) != 0 {
				t.Errorf("matching If-None-Match: %d %q, want 304 without a body", res.Status, res.Body)
			}
		})
		t.Run("identifier", func(t *testing.T) {
			for _, want := range []map[string]any{full, minimal, reader} {
				res := alice.Do(http.MethodGet, rakPath+"/identifier/"+want["key_start"].(string), nil)
				bodies = append(bodies, res.Body)
				rakWantSame(t, "identifier", rakGet(t, alice.Client, want["key_start"].(string)), want)
				etag := res.Header.Get("ETag")
				if etag == "" {
					t.Fatalf("GET identifier without ETag")
				}
				alice.Header.Set("If-None-Match", etag)
				res = alice.Do(http.MethodGet, rakPath+"/identifier/"+want["key_start"].(string), nil)
				alice.Header.Del("If-None-Match")
				if res.Status != http.StatusNotModified || len(res.Body) != 0 {
					t.Errorf("matching If-None-Match: %d %q, want 304 without a body", res.Status, res.Body)
				}
			}
		})
		t.Run("last_used is set by use", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, readerKey)
			p := rakList(t, kc, "")
			bodies = append(bodies, p.Raw)
			restCheckTimestamp(t, "last_used", p.Items[2]["last_used"], time.Minute)
			self := rakGet(t, kc, readerKey[:16])
			restCheckTimestamp(t, "last_used", self["last_used"], time.Minute)
			rakWantSame(t, "the key seen by itself", self, reader, "last_used")
			if p.Items[0]["last_used"] != nil || p.Items[1]["last_used"] != nil {
				t.Errorf("unused keys have last_used: %v %v", p.Items[0]["last_used"], p.Items[1]["last_used"])
			}
		})
		t.Run("update", func(t *testing.T) {
			res := alice.Do(http.MethodPatch, rakPath+"/"+minimal["uuid"].(string), map[string]any{"name": "minimal-2"})
			apptest.WantEmpty(t, res)
			bodies = append(bodies, res.Body)
			got := rakGet(t, alice.Client, minimalKey[:16])
			if got["name"] != "minimal-2" {
				t.Errorf("name = %v after PATCH", got["name"])
			}
			rakWantSame(t, "after PATCH", got, minimal, "name")
			minimal = got
			res = alice.Do(http.MethodGet, rakPath, nil)
			if res.Status != http.StatusOK || res.Header.Get("ETag") == listETag {
				t.Errorf("the list's ETag did not change with its content: %d %q", res.Status, res.Header.Get("ETag"))
			}
		})
		t.Run("recreate", func(t *testing.T) {
			res := alice.Raw(http.MethodPost, rakPath+"/"+reader["uuid"].(string)+"/recreate", "", nil)
			if res.Status != http.StatusOK {
				t.Fatalf("recreate: %d %s", res.Status, res.Body)
			}
			bodies = append(bodies, res.Body)
			rakWantOrder(t, "recreate answer", res.Body, "key")
			var key string
			if err := json.Unmarshal(rakMember(t, res.Body, "key"), &key); err != nil || !rakSecretRE.MatchString(key) {
				t.Fatalf("key = %s", res.Body)
			}
			if key == readerKey || key[:16] == readerKey[:16] {
				t.Errorf("recreate kept the secret or its identifier")
			}
			secrets = append(secrets, key)
			got := rakGet(t, alice.Client, key[:16])
			if got["key_start"] != key[:16] || got["last_used"] != nil {
				t.Errorf("after recreate: key_start %v, last_used %v; want %s, null", got["key_start"], got["last_used"], key[:16])
			}
			rakWantSame(t, "after recreate", got, reader, "key_start", "last_used")
			apptest.WantErrors(t, alice.Do(http.MethodGet, rakPath+"/identifier/"+readerKey[:16], nil), http.StatusNotFound, "api key not found")
			apptest.WantErrors(t, apptest.KeyClient(t, ts, readerKey).Do(http.MethodGet, rakPath, nil), http.StatusUnauthorized, "invalid api key")
			if p := rakList(t, apptest.KeyClient(t, ts, key), ""); p.Total != 3 {
				t.Errorf("the new secret lists %d keys, want 3", p.Total)
			}
		})
		t.Run("delete", func(t *testing.T) {
			res := alice.Do(http.MethodDelete, rakPath+"/"+minimal["uuid"].(string), nil)
			apptest.WantEmpty(t, res)
			bodies = append(bodies, res.Body)
			apptest.WantErrors(t, alice.Do(http.MethodGet, rakPath+"/identifier/"+minimalKey[:16], nil), http.StatusNotFound, "api key not found")
			p := rakList(t, alice.Client, "")
			bodies = append(bodies, p.Raw)
			if got := p.names(); !slices.Equal(got, []string{"deploy-bot", "reader"}) || p.Total != 2 {
				t.Errorf("after DELETE: %q total %d", got, p.Total)
			}
			if rakSnapshot(t, ts, minimal["uuid"].(string)) != "" {
				t.Errorf("the deleted key's row is still there")
			}
		})
		t.Run("no secret in any answer but create and recreate, nor in the log", func(t *testing.T) {
			for _, b := range bodies {
				if bytes.HasPrefix(b, []byte(`{"key":`)) {
					continue // the recreate answer shows its own secret once
				}
				rakNoSecret(t, "answer", b, secrets...)
			}
			var all []string
			for _, s := range secrets {
				all = append(all, rakSecretForms(s)...)
			}
			apptest.NoSecrets(t, ts, all...)
		})
	})
}

func TestRESTAPIKeyList(t *testing.T) {
	t.Parallel()
	restServer(t, nil, func(t *testing.T, ts *apptest.Server) {
		alice := apptest.Register(t, ts, "alice", "alice password")
		bob := apptest.Register(t, ts, "bob", "bob password")

		t.Run("no keys: an empty page", func(t *testing.T) {
			res := bob.Do(http.MethodGet, rakPath, nil)
			if res.Status != http.StatusOK || string(res.Body) != `{"api_keys":{"total":0,"per_page":25,"page":1,"data":[]}}` {
				t.Errorf("empty list: %d %s", res.Status, res.Body)
			}
		})

		names := []string{"alpha", "100%_done", "a_b", "it's-mine", "UPPER-case", "percent%", "plain", "under_score", `back\slash`, "ÜBER-key", "zulu"}
		for _, n := range names {
			rakCreate(t, alice.Client, map[string]any{"name": n})
		}
		// Noise the list must not show: another user's keys, and an
		// expired key of alice's whose name would match every search.
		rakCreate(t, bob.Client, map[string]any{"name": "alpha"})
		rakCreate(t, bob.Client, map[string]any{"name": "bob%_'s"})
		past := time.Now().Add(-time.Minute)
		expired := apptest.APIKey(t, ts, alice.ID, apptest.KeyOpts{Expires: &past})
		rakSetColumn(t, ts, expired, "name", "expired%_'a")

		t.Run("oldest first, expired and foreign keys hidden", func(t *testing.T) {
			p := rakList(t, alice.Client, "")
			if !slices.Equal(p.names(), names) || p.Total != len(names) {
				t.Errorf("list %q total %d, want %q total %d", p.names(), p.Total, names, len(names))
			}
			prev := ""
			for _, k := range p.Items {
				if c := k["created"].(string); c < prev {
					t.Errorf("created %s after %s: not oldest first", c, prev)
				} else {
					prev = c
				}
			}
		})
		t.Run("page walk", func(t *testing.T) {
			var seen []string
			for page := 1; page <= 4; page++ {
				p := rakList(t, alice.Client, fmt.Sprintf("?page=%d&per_page=4", page))
				if p.Total != len(names) || p.PerPage != 4 || p.Page != page {
					t.Errorf("page %d: total %d per_page %d page %d", page, p.Total, p.PerPage, p.Page)
				}
				want := min(4, max(0, len(names)-(page-1)*4))
				if len(p.Items) != want {
					t.Errorf("page %d holds %d keys, want %d", page, len(p.Items), want)
				}
				seen = append(seen, p.names()...)
			}
			if !slices.Equal(seen, names) {
				t.Errorf("pages walked %q, want %q", seen, names)
			}
		})
		t.Run("the largest page number", func(t *testing.T) {
			p := rakList(t, alice.Client, "?page=2147483648&per_page=100")
			if p.Total != len(names) || len(p.Items) != 0 {
				t.Errorf("page 2^31: total %d, %d items", p.Total, len(p.Items))
			}
		})
		t.Run("far past the last page: the true total", func(t *testing.T) {
			p := rakList(t, alice.Client, "?page=1000&per_page=100")
			if p.Total != len(names) || len(p.Items) != 0 || p.Page != 1000 || p.PerPage != 100 {
				t.Errorf("page 1000: total %d, %d items, page %d, per_page %d", p.Total, len(p.Items), p.Page, p.PerPage)
			}
		})
		t.Run("per_page bounds", func(t *testing.T) {
			if p := rakList(t, alice.Client, "?per_page=1"); len(p.Items) != 1 || p.names()[0] != names[0] {
				t.Errorf("per_page=1: %q", p.names())
			}
			if p := rakList(t, alice.Client, "?per_page=100"); len(p.Items) != len(names) {
				t.Errorf("per_page=100: %q", p.names())
			}
		})
		for _, tc := range []struct {
			name, search string
			want         []string
		}{
			{"percent is literal", "%", []string{"100%_done", "percent%"}},
			{"underscore is literal", "_", []string{"100%_done", "a_b", "under_score"}},
			{"percent-underscore", "%_", []string{"100%_done"}},
			{"quote is literal", "'", []string{"it's-mine"}},
			{"case-insensitive", "upper-CASE", []string{"UPPER-case"}},
			{"substring", "ph", []string{"alpha"}},
			{"backslash is literal", `\`, []string{`back\slash`}},
			{"backslash-percent is literal", `\%`, nil},
			{"non-ASCII, case-insensitive", "über", []string{"ÜBER-key"}},
			{"non-ASCII, same case", "ÜBER", []string{"ÜBER-key"}},
			{"LIKE wildcard spelled out matches nothing", "a%b", nil},
			{"not the identifier", "c7sp_", nil},
			{"empty is absent", "", names},
		} {
			t.Run("search: "+tc.name, func(t *testing.T) {
				p := rakList(t, alice.Client, "?search="+url.QueryEscape(tc.search))
				want := tc.want
				if want == nil {
					want = []string{}
				}
				if got := p.names(); !slices.Equal(got, want) || p.Total != len(want) {
					t.Errorf("search %q: %q total %d, want %q total %d", tc.search, got, p.Total, want, len(want))
				}
			})
		}
		t.Run("search does not match ids", func(t *testing.T) {
			p := rakList(t, alice.Client, "?per_page=1")
			id := p.Items[0]["uuid"].(string)
			if q := rakList(t, alice.Client, "?search="+id[:8]); q.Total != 0 {
				t.Errorf("search by an id fragment found %q", q.names())
			}
		})
		t.Run("search with paging: total counts the matches", func(t *testing.T) {
			p := rakList(t, alice.Client, "?search=_&per_page=2&page=2")
			if p.Total != 3 || !slices.Equal(p.names(), []string{"under_score"}) {
				t.Errorf("search _ page 2: %q total %d", p.names(), p.Total)
			}
		})
		t.Run("a 128-character search is allowed", func(t *testing.T) {
			if p := rakList(t, alice.Client, "?search="+url.QueryEscape(strings.Repeat("é", 128))); p.Total != 0 {
				t.Errorf("found %q", p.names())
			}
		})
		t.Run("bob sees only his", func(t *testing.T) {
			if p := rakList(t, bob.Client, ""); !slices.Equal(p.names(), []string{"alpha", "bob%_'s"}) {
				t.Errorf("bob's list %q", p.names())
			}
		})
		t.Run("through a key with api-keys.read", func(t *testing.T) {
			kc := apptest.KeyClient(t, ts, rakKey(t, ts, alice.ID, "api-keys.read"))
			// A search no name has: the reading key's random name is
			// alphanumeric, so it cannot contain "%".
			p := rakList(t, kc, "?search="+url.QueryEscape("zz%"))
			if p.Total != 0 {
				t.Errorf("search zz%%: %q", p.names())
			}
			// The reading key itself is listed, last.
			p = rakList(t, kc, "")
			if p.Total != len(names)+1 || len(p.Items) != len(names)+1 {
				t.Errorf("with the reading key: total %d", p.Total)
			}
		})
	})
}
