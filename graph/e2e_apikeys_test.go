package graph_test

// End-to-end tests of the API-key operations over GraphQL: createApiKey,
// updateApiKey, recreateApiKey, deleteApiKey. Helpers of these files start
// with "gak".

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/app/apptest"
	"accountd/db/dbtest"
	"accountd/secret"
)

// gakKeyFields selects every field of ApiKey.
const gakKeyFields = `id name keyStart allowedIps userPermissions adminPermissions serverPermissions lastUsedAt expiresAt createdAt`

const (
	gakCreateDoc = `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
		apiKey { ` + gakKeyFields + ` } key ` + apptest.GQLUserErrorFields + ` } }`
	gakUpdateDoc = `mutation($input: UpdateApiKeyInput!) { updateApiKey(input: $input) {
		apiKey { ` + gakKeyFields + ` } ` + apptest.GQLUserErrorFields + ` } }`
	gakRecreateDoc = `mutation($input: RecreateApiKeyInput!) { recreateApiKey(input: $input) {
		apiKey { ` + gakKeyFields + ` } key ` + apptest.GQLUserErrorFields + ` } }`
	gakDeleteDoc = `mutation($input: DeleteApiKeyInput!) { deleteApiKey(input: $input) {
		deletedApiKeyId ` + apptest.GQLUserErrorFields + ` } }`
	gakListDoc = `query($first: Int, $after: String, $search: String) { viewer { apiKeys(first: $first, after: $after, search: $search) {
		totalCount edges { cursor node { ` + gakKeyFields + ` } }
		pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`
	gakLookupDoc = `query($id: ID, $keyStart: String) { viewer { id apiKey(id: $id, keyStart: $keyStart) { ` + gakKeyFields + ` } } }`
)

// gakSecretRE is the shape of a full API key.
var gakSecretRE = regexp.MustCompile(`^c7sp_[A-Za-z0-9]{43}$`)

// Times far enough in the future or past not to depend on the clock.
const (
	gakFuture  = "2099-01-02T03:04:05Z"
	gakFuture2 = "2098-06-07T08:09:10.5Z"
	gakPast    = "2001-01-01T00:00:00Z"
)

// gakInv is an INVALID userError about an input field.
func gakInv(field, msg string) apptest.GQLUserErr {
	return apptest.GQLUserErr{Field: gqlField(field), Message: msg, Code: "INVALID"}
}

// gakMore is the refusal of a key exceeding its creator.
var gakMore = apptest.GQLUserErr{Message: "more permissions than self", Code: "INVALID"}

// gakCreate creates a key and fails unless it worked; it returns the key and
// the secret.
func gakCreate(t testing.TB, c *apptest.Client, in map[string]any) (map[string]any, string) {
	t.Helper()
	r := c.GQL(gakCreateDoc, apptest.GQLIn(in))
	gqlWantUserErrs(t, r, "createApiKey")
	k, _ := apptest.Get(r.Data, "createApiKey", "apiKey").(map[string]any)
	key, _ := apptest.Get(r.Data, "createApiKey", "key").(string)
	if k == nil || !gakSecretRE.MatchString(key) {
		t.Fatalf("createApiKey payload: %s", r.Raw)
	}
	if k["keyStart"] != key[:16] {
		t.Fatalf("keyStart %v is not the key's first 16 characters", k["keyStart"])
	}
	return k, key
}

// gakUserID returns the id of a user map from apptest.GQLRegister.
func gakUserID(t testing.TB, u map[string]any) string {
	t.Helper()
	id, _ := u["id"].(string)
	if id == "" {
		t.Fatalf("user without id: %v", u)
	}
	return id
}

// gakKeyOpts describes a key inserted directly into the database.
type gakKeyOpts struct {
	Name       string
	UserPerms  []string
	AllowedIPs []string
	Created    time.Time // zero: now
	Expires    *time.Time
}

// gakInsert stores a key for userID directly and returns its secret and id.
func gakInsert(t testing.TB, ts *apptest.Server, userID string, o gakKeyOpts) (string, string) {
	t.Helper()
	key := "c7sp_" + secret.RandomString(43)
	if o.Name == "" {
		o.Name = "key-" + strings.ToLower(secret.RandomString(8))
	}
	if o.Created.IsZero() {
		o.Created = time.Now()
	}
	list := func(l []string) string {
		if len(l) == 0 {
			return "[]"
		}
		return `["` + strings.Join(l, `","`) + `"]`
	}
	row := &dbtest.APIKeyRow{ID: uuid.New(), UserID: uuid.MustParse(userID), Name: o.Name, KeyStart: key[:16],
		Digest: secret.Digest(key), AllowedIPs: list(o.AllowedIPs), UserPermissions: list(o.UserPerms),
		AdminPermissions: "[]", ServerPermissions: "[]", Expires: o.Expires,
		Created: o.Created.UTC().Truncate(time.Microsecond)}
	if _, err := ts.App.DB.NewInsert().Model(row).Exec(context.Background()); err != nil {
		t.Fatalf("insert api key: %v", err)
	}
	return key, row.ID.String()
}

// gakSnapshot renders every stored key of userID except last_used (which
// records use, not change), in id order, so that a failed request can be
// shown to have changed nothing.
func gakSnapshot(t testing.TB, ts *apptest.Server, userID string) string {
	t.Helper()
	var rows []dbtest.APIKeyRow
	if err := ts.App.DB.NewSelect().Model(&rows).Where("user_id = ?", uuid.MustParse(userID)).
		Order("id").Scan(context.Background()); err != nil {
		t.Fatalf("read api keys: %v", err)
	}
	var b strings.Builder
	for _, r := range rows {
		exp := "-"
		if r.Expires != nil {
			exp = r.Expires.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(&b, "%s %q %s %s %s %s %s %s %s %s\n", r.ID, r.Name, r.KeyStart, hex.EncodeToString(r.Digest),
			r.AllowedIPs, r.UserPermissions, r.AdminPermissions, r.ServerPermissions, exp,
			r.Created.UTC().Format(time.RFC3339Nano))
	}
	return b.String()
}

// gakRowByID reads one stored key (nil if there is none).
func gakRowByID(t testing.TB, ts *apptest.Server, id string) *dbtest.APIKeyRow {
	t.Helper()
	var rows []dbtest.APIKeyRow
	if err := ts.App.DB.NewSelect().Model(&rows).Where("id = ?", uuid.MustParse(id)).Scan(context.Background()); err != nil {
		t.Fatalf("read api key: %v", err)
	}
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// gakActivities returns userID's activity records, oldest first.
func gakActivities(t testing.TB, ts *apptest.Server, userID string) []dbtest.ActivityRow {
	t.Helper()
	var out []dbtest.ActivityRow
	err := ts.App.DB.NewSelect().Model(&out).Where("user_id = ?", userID).
		OrderExpr("created, id").Scan(context.Background())
	if err != nil {
		t.Fatalf("read activities: %v", err)
	}
	return out
}

// gakEvents returns the event names of userID's activity records with the
// given prefix, oldest first.
func gakEvents(t testing.TB, ts *apptest.Server, userID, prefix string) []string {
	t.Helper()
	var out []string
	for _, a := range gakActivities(t, ts, userID) {
		if strings.HasPrefix(a.Event, prefix) {
			out = append(out, a.Event)
		}
	}
	return out
}

// gakNoSecrets fails if any of the secrets, or the stored digest of a key,
// shows up in text.
func gakNoSecrets(t testing.TB, what string, text []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		d := secret.Digest(s)
		for _, needle := range []string{s, s[min(16, len(s)):], hex.EncodeToString(d),
			base64.StdEncoding.EncodeToString(d), base64.RawURLEncoding.EncodeToString(d)} {
			if strings.Contains(string(text), needle) {
				t.Errorf("%s contains a secret (%.10s…): %s", what, needle, text)
			}
		}
	}
}

// gakWorks reports whether the key authenticates (viewer is not null).
func gakWorks(t testing.TB, ts *apptest.Server, key string) bool {
	t.Helper()
	r := gqlKeyClient(t, ts, key).GQL(`{ viewer { id } }`, nil)
	apptest.GQLNoErrors(t, r)
	return apptest.Get(r.Data, "viewer") != nil
}

// gakWantDead checks that a key no longer authenticates: viewer is null
// and a mutation is refused as UNAUTHENTICATED.
func gakWantDead(t testing.TB, ts *apptest.Server, key string) {
	t.Helper()
	c := gqlKeyClient(t, ts, key)
	r := c.GQL(`{ viewer { id } }`, nil)
	apptest.GQLNoErrors(t, r)
	if v, ok := r.Data["viewer"]; !ok || v != nil {
		t.Fatalf("viewer with a dead key should be null: %s", r.Raw)
	}
	r = c.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "never-" + strings.ToLower(secret.RandomString(6))}))
	if msg, _ := apptest.GQLTopError(t, r, "UNAUTHENTICATED", "createApiKey"); msg != "invalid api key" {
		t.Errorf("message = %q, want %q", msg, "invalid api key")
	}
}

// gakLookup runs viewer.apiKey with the given arguments (nil values are
// left out) and returns the key, failing on any error.
func gakLookup(t testing.TB, c *apptest.Client, vars map[string]any) map[string]any {
	t.Helper()
	r := c.GQL(gakLookupDoc, vars)
	apptest.GQLNoErrors(t, r)
	if apptest.Get(r.Data, "viewer") == nil {
		t.Fatalf("viewer is null: %s", r.Raw)
	}
	k, _ := apptest.Get(r.Data, "viewer", "apiKey").(map[string]any)
	return k
}

// gakList runs viewer.apiKeys and returns the connection, failing on any
// error.
func gakList(t testing.TB, c *apptest.Client, vars map[string]any) map[string]any {
	t.Helper()
	r := c.GQL(gakListDoc, vars)
	apptest.GQLNoErrors(t, r)
	conn, _ := apptest.Get(r.Data, "viewer", "apiKeys").(map[string]any)
	if conn == nil {
		t.Fatalf("no connection: %s", r.Raw)
	}
	return conn
}

// gakNodes returns the nodes of a connection.
func gakNodes(conn map[string]any) []map[string]any {
	edges, _ := conn["edges"].([]any)
	out := make([]map[string]any, 0, len(edges))
	for _, e := range edges {
		n, _ := apptest.Get(e, "node").(map[string]any)
		out = append(out, n)
	}
	return out
}

// gakStrings converts a decoded JSON list of strings.
func gakStrings(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, len(l))
	for i, s := range l {
		out[i], _ = s.(string)
	}
	return out
}

// gakWantList checks a decoded list field equals want exactly (order
// included).
func gakWantList(t testing.TB, k map[string]any, field string, want ...string) {
	t.Helper()
	if want == nil {
		want = []string{}
	}
	got := gakStrings(k[field])
	if got == nil || !slices.Equal(got, want) {
		t.Errorf("%s = %#v, want %q", field, k[field], want)
	}
}

// gakWantTime checks a decoded time field is the given instant, written in
// UTC.
func gakWantTime(t testing.TB, k map[string]any, field, want string) {
	t.Helper()
	s, _ := k[field].(string)
	got, err := time.Parse(time.RFC3339Nano, s)
	w, _ := time.Parse(time.RFC3339Nano, want)
	if err != nil || !got.Equal(w) || !strings.HasSuffix(s, "Z") {
		t.Errorf("%s = %#v, want %s", field, k[field], want)
	}
}

// gakAllUserPerms lists every user permission of the catalog.
func gakAllUserPerms(t testing.TB) []string {
	t.Helper()
	var out []string
	for _, g := range gqlCatalogFromJSON(t)["userPermissions"] {
		for _, p := range g.Permissions {
			out = append(out, p.Key)
		}
	}
	return out
}

// gakAllBut is every user permission except the given one.
func gakAllBut(t testing.TB, perm string) []string {
	t.Helper()
	all := gakAllUserPerms(t)
	if !slices.Contains(all, perm) {
		t.Fatalf("%s is not a user permission", perm)
	}
	return slices.DeleteFunc(all, func(p string) bool { return p == perm })
}

func TestGraphQLAPIKeyCreate(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)

		t.Run("session, every field", func(t *testing.T) {
			in := map[string]any{
				"name": "deploy bot",
				"allowedIps": []string{"10.1.2.3/8", "1.2.3.4", "::ffff:192.0.2.1", "2001:db8::1", "1.2.3.4/32",
					"2001:db8:abcd::/32", "::ffff:198.51.100.0/120", "127.0.0.1"},
				"userPermissions":   []string{"account.infos", "api-keys.read", "account.infos"},
				"adminPermissions":  []string{"stats.read"},
				"serverPermissions": []string{"control.start", "files.read"},
				"expiresAt":         gakFuture,
			}
			k, key := gakCreate(t, alice, in)
			if k["name"] != "deploy bot" || k["lastUsedAt"] != nil {
				t.Errorf("key = %v", k)
			}
			gakWantList(t, k, "allowedIps", "10.0.0.0/8", "1.2.3.4/32", "192.0.2.1/32", "2001:db8::1/128",
				"2001:db8::/32", "198.51.100.0/24", "127.0.0.1/32")
			gakWantList(t, k, "userPermissions", "account.infos", "api-keys.read")
			gakWantList(t, k, "adminPermissions", "stats.read")
			gakWantList(t, k, "serverPermissions", "control.start", "files.read")
			gakWantTime(t, k, "expiresAt", gakFuture)
			if _, err := uuid.Parse(k["id"].(string)); err != nil {
				t.Errorf("id %v: %v", k["id"], err)
			}
			if s, _ := k["createdAt"].(string); !strings.HasSuffix(s, "Z") {
				t.Errorf("createdAt = %v", k["createdAt"])
			}
			// The key is stored as the payload says, as a digest only.
			row := gakRowByID(t, ts, k["id"].(string))
			if row == nil || row.UserID.String() != aliceID || row.KeyStart != key[:16] ||
				!reflect.DeepEqual(row.Digest, secret.Digest(key)) {
				t.Fatalf("stored row = %+v", row)
			}
			// The key authenticates as alice with the listed permissions.
			kc := gqlKeyClient(t, ts, key)
			if v := apptest.GQLViewer(t, kc); v == nil || v["id"] != aliceID {
				t.Fatalf("viewer with the new key = %v", v)
			}
			if got := gakLookup(t, kc, map[string]any{"id": k["id"]}); got == nil || got["name"] != "deploy bot" {
				t.Fatalf("apiKey(id) with the key's own api-keys.read = %v", got)
			}
		})

		t.Run("lists left out are empty, expiresAt null", func(t *testing.T) {
			k, _ := gakCreate(t, alice, map[string]any{"name": "bare"})
			for _, f := range []string{"allowedIps", "userPermissions", "adminPermissions", "serverPermissions"} {
				gakWantList(t, k, f)
			}
			if k["expiresAt"] != nil {
				t.Errorf("expiresAt = %v", k["expiresAt"])
			}
			k, _ = gakCreate(t, alice, map[string]any{"name": "explicit nulls", "allowedIps": nil,
				"userPermissions": nil, "adminPermissions": nil, "serverPermissions": nil, "expiresAt": nil})
			for _, f := range []string{"allowedIps", "userPermissions", "adminPermissions", "serverPermissions"} {
				gakWantList(t, k, f)
			}
			if k["expiresAt"] != nil {
				t.Errorf("expiresAt = %v", k["expiresAt"])
			}
			// A key with no permissions authenticates but may do nothing.
			_, key := gakCreate(t, alice, map[string]any{"name": "no rights"})
			r := gqlKeyClient(t, ts, key).GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "child"}))
			apptest.GQLTopError(t, r, "FORBIDDEN", "createApiKey")
		})

		t.Run("names are case-sensitive, 3 and 31 characters are fine", func(t *testing.T) {
			for _, name := range []string{"Case", "case", "abc", strings.Repeat("n", 31), "ééé", "with space"} {
				k, _ := gakCreate(t, alice, map[string]any{"name": name})
				if k["name"] != name {
					t.Errorf("name = %v, want %q", k["name"], name)
				}
			}
		})

		t.Run("with a key holding api-keys.create", func(t *testing.T) {
			parent := gqlInsertAPIKey(t, ts, aliceID, []string{"api-keys.create", "account.infos"})
			kc := gqlKeyClient(t, ts, parent)
			k, key := gakCreate(t, kc, map[string]any{"name": "made by a key", "userPermissions": []string{"account.infos"}})
			gakWantList(t, k, "userPermissions", "account.infos")
			if !gakWorks(t, ts, key) {
				t.Fatal("child key does not authenticate")
			}
			// Equal lists are within the parent's too.
			gakCreate(t, kc, map[string]any{"name": "twin", "userPermissions": []string{"account.infos", "api-keys.create"}})
		})

		t.Run("activity records no secret", func(t *testing.T) {
			before := len(gakEvents(t, ts, aliceID, "api-key:create"))
			_, key := gakCreate(t, alice, map[string]any{"name": "audited", "allowedIps": []string{"10.0.0.1"}})
			acts := gakActivities(t, ts, aliceID)
			if got := len(gakEvents(t, ts, aliceID, "api-key:create")); got != before+1 {
				t.Fatalf("api-key:create events = %d, want %d", got, before+1)
			}
			last := acts[len(acts)-1]
			if last.Event != "api-key:create" || !strings.Contains(last.Data, "audited") || !strings.Contains(last.Data, key[:16]) {
				t.Errorf("last activity = %+v", last)
			}
			for _, a := range acts {
				gakNoSecrets(t, "activity "+a.Event, []byte(a.Data), key)
			}
		})
	})
}

// gakValidationCases are inputs every write of a key refuses, with the
// userErrors they give; set is merged into a valid input.
func gakValidationCases() []struct {
	name string
	set  map[string]any
	want []apptest.GQLUserErr
} {
	manyIPs := make([]string, 101)
	for i := range manyIPs {
		manyIPs[i] = fmt.Sprintf("10.0.%d.%d", i/250, i%250)
	}
	manyPerms := make([]string, 513)
	for i := range manyPerms {
		manyPerms[i] = "account.infos"
	}
	long := strings.Repeat("x", 200)
	return []struct {
		name string
		set  map[string]any
		want []apptest.GQLUserErr
	}{
		{"name too short", map[string]any{"name": "ab"}, []apptest.GQLUserErr{gakInv("name", "length is lower than 3")}},
		{"name empty", map[string]any{"name": ""}, []apptest.GQLUserErr{gakInv("name", "length is lower than 3")}},
		{"name too long", map[string]any{"name": strings.Repeat("n", 32)}, []apptest.GQLUserErr{gakInv("name", "length is greater than 31")}},
		{"name with NUL", map[string]any{"name": "bad\x00name"}, []apptest.GQLUserErr{gakInv("name", "must not contain NUL characters")}},
		{"allowedIps not an address", map[string]any{"allowedIps": []string{"10.0.0.1", "999.1.1.1"}},
			[]apptest.GQLUserErr{gakInv("allowedIps", "invalid ip address or network: 999.1.1.1")}},
		{"allowedIps bad prefix length", map[string]any{"allowedIps": []string{"10.0.0.0/33"}},
			[]apptest.GQLUserErr{gakInv("allowedIps", "invalid ip address or network: 10.0.0.0/33")}},
		{"allowedIps zone", map[string]any{"allowedIps": []string{"fe80::1%eth0"}},
			[]apptest.GQLUserErr{gakInv("allowedIps", "invalid ip address or network: fe80::1%eth0")}},
		{"allowedIps long entry is shortened", map[string]any{"allowedIps": []string{long}},
			[]apptest.GQLUserErr{gakInv("allowedIps", "invalid ip address or network: "+long[:64]+"…")}},
		{"allowedIps too many", map[string]any{"allowedIps": manyIPs},
			[]apptest.GQLUserErr{gakInv("allowedIps", "too many entries (at most 100)")}},
		{"userPermissions unknown", map[string]any{"userPermissions": []string{"account.infos", "foo.bar"}},
			[]apptest.GQLUserErr{gakInv("userPermissions", "invalid permission: foo.bar")}},
		{"userPermissions admin name", map[string]any{"userPermissions": []string{"stats.read"}},
			[]apptest.GQLUserErr{gakInv("userPermissions", "invalid permission: stats.read")}},
		{"userPermissions too many", map[string]any{"userPermissions": manyPerms},
			[]apptest.GQLUserErr{gakInv("userPermissions", "too many entries (at most 512)")}},
		{"adminPermissions unknown", map[string]any{"adminPermissions": []string{"nope"}},
			[]apptest.GQLUserErr{gakInv("adminPermissions", "invalid permission: nope")}},
		{"serverPermissions unknown", map[string]any{"serverPermissions": []string{"account.infos"}},
			[]apptest.GQLUserErr{gakInv("serverPermissions", "invalid permission: account.infos")}},
		{"expiresAt in the past", map[string]any{"expiresAt": gakPast},
			[]apptest.GQLUserErr{gakInv("expiresAt", "time must be in the future")}},
		{"everything at once", map[string]any{"name": "x", "allowedIps": []string{"nope"},
			"userPermissions": []string{"a.b"}, "adminPermissions": []string{"c.d"}, "serverPermissions": []string{"e.f"},
			"expiresAt": gakPast},
			[]apptest.GQLUserErr{gakInv("name", "length is lower than 3"), gakInv("allowedIps", "invalid ip address or network: nope"),
				gakInv("userPermissions", "invalid permission: a.b"), gakInv("adminPermissions", "invalid permission: c.d"),
				gakInv("serverPermissions", "invalid permission: e.f"), gakInv("expiresAt", "time must be in the future")}},
	}
}

// gakRESTBody turns a GraphQL key input into the REST body.
func gakRESTBody(in map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range in {
		switch k {
		case "expiresAt":
			out["expires"] = v
		case "id":
		default:
			out[gqlSnake(k)] = v
		}
	}
	return out
}

// gakRESTMessages renders userErrors as the REST layer lists them.
func gakRESTMessages(es []apptest.GQLUserErr) []string {
	out := make([]string, len(es))
	for i, e := range es {
		switch {
		case len(e.Field) == 0 && e.Message == "more permissions than self":
			out[i] = "permissions: " + e.Message
		case len(e.Field) == 0:
			out[i] = e.Message
		case e.Field[len(e.Field)-1] == "expiresAt":
			out[i] = "expires: " + e.Message
		default:
			out[i] = gqlSnake(e.Field[len(e.Field)-1]) + ": " + e.Message
		}
	}
	sort.Strings(out)
	return out
}

func TestGraphQLAPIKeyCreateUserErrors(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(nil), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		bob, bu := apptest.GQLRegister(t, ts, "bob", "correct horse")
		bobID := gakUserID(t, bu)
		gakCreate(t, alice, map[string]any{"name": "taken"})

		// wantNothing checks a refused create stored and recorded nothing.
		wantNothing := func(t *testing.T, userID, snap string, events int) {
			t.Helper()
			if got := gakSnapshot(t, ts, userID); got != snap {
				t.Errorf("keys changed:\n%s\nwas\n%s", got, snap)
			}
			if got := len(gakActivities(t, ts, userID)); got != events {
				t.Errorf("activity records = %d, want %d", got, events)
			}
		}

		for _, tc := range gakValidationCases() {
			t.Run("validation/"+tc.name, func(t *testing.T) {
				in := map[string]any{"name": "valid name", "allowedIps": []string{"10.0.0.0/8"},
					"userPermissions": []string{"account.infos"}, "expiresAt": gakFuture}
				for k, v := range tc.set {
					in[k] = v
				}
				snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
				r := alice.GQL(gakCreateDoc, apptest.GQLIn(in))
				gqlWantUserErrs(t, r, "createApiKey", tc.want...)
				if apptest.Get(r.Data, "createApiKey", "apiKey") != nil || apptest.Get(r.Data, "createApiKey", "key") != nil {
					t.Errorf("refused create returned a key: %s", r.Raw)
				}
				wantNothing(t, aliceID, snap, events)
				// The REST layer refuses the same body with the same text.
				res := alice.Do(http.MethodPost, "/api/client/account/api-keys", gakRESTBody(in))
				rest := res.Errors(t)
				sort.Strings(rest)
				if res.Status != http.StatusBadRequest || !slices.Equal(rest, gakRESTMessages(tc.want)) {
					t.Errorf("REST parity: REST %d %q, GraphQL %q", res.Status, rest, gakRESTMessages(tc.want))
				}
				wantNothing(t, aliceID, snap, events)
			})
		}

		t.Run("duplicate name", func(t *testing.T) {
			snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
			r := alice.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "taken", "userPermissions": []string{"account.infos"}}))
			gqlWantUserErrs(t, r, "createApiKey",
				apptest.GQLUserErr{Field: gqlField("name"), Message: "api key with name already exists", Code: "CONFLICT"})
			if apptest.Get(r.Data, "createApiKey", "key") != nil {
				t.Errorf("key in a refused payload: %s", r.Raw)
			}
			wantNothing(t, aliceID, snap, events)
			// Other case, or another user: no conflict.
			gakCreate(t, alice, map[string]any{"name": "TAKEN"})
			gakCreate(t, bob, map[string]any{"name": "taken"})
		})

		t.Run("admin permissions from a user who is not an admin", func(t *testing.T) {
			snap, events := gakSnapshot(t, ts, bobID), len(gakActivities(t, ts, bobID))
			in := map[string]any{"name": "escalate", "adminPermissions": []string{"stats.read"}}
			r := bob.GQL(gakCreateDoc, apptest.GQLIn(in))
			gqlWantUserErrs(t, r, "createApiKey", gakMore)
			wantNothing(t, bobID, snap, events)
			res := bob.Do(http.MethodPost, "/api/client/account/api-keys", gakRESTBody(in))
			if errs := res.Errors(t); res.Status != http.StatusBadRequest || !slices.Equal(errs, []string{"permissions: more permissions than self"}) {
				t.Errorf("REST: %d %q", res.Status, errs)
			}
			wantNothing(t, bobID, snap, events)
		})

		t.Run("expired key frees its name", func(t *testing.T) {
			past := time.Now().Add(-time.Hour)
			gakInsert(t, ts, aliceID, gakKeyOpts{Name: "recycled", Expires: &past})
			k, _ := gakCreate(t, alice, map[string]any{"name": "recycled"})
			if k["name"] != "recycled" {
				t.Fatalf("key = %v", k)
			}
		})
	})
}

func TestGraphQLAPIKeyQuota(t *testing.T) {
	t.Parallel()
	apptest.EachServer(t, apptest.NoRateLimit(func(cfg *app.Config) { cfg.MaxAPIKeys = 3 }), func(t *testing.T, ts *apptest.Server) {
		alice, au := apptest.GQLRegister(t, ts, "alice", "correct horse")
		aliceID := gakUserID(t, au)
		for i := range 3 {
			gakCreate(t, alice, map[string]any{"name": fmt.Sprintf("quota-%d", i)})
		}
		snap, events := gakSnapshot(t, ts, aliceID), len(gakActivities(t, ts, aliceID))
		r := alice.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "one too many"}))
		gqlWantUserErrs(t, r, "createApiKey", apptest.GQLUserErr{Message: "maximum number of api keys reached", Code: "QUOTA_EXCEEDED"})
		if apptest.Get(r.Data, "createApiKey", "key") != nil || apptest.Get(r.Data, "createApiKey", "apiKey") != nil {
			t.Errorf("key in a refused payload: %s", r.Raw)
		}
		if got := gakSnapshot(t, ts, aliceID); got != snap || len(gakActivities(t, ts, aliceID)) != events {
			t.Errorf("a refused create changed something:\n%s", got)
		}
		// Validation comes first: a bad input over quota reports the input.
		r = alice.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "x"}))
		gqlWantUserErrs(t, r, "createApiKey", gakInv("name", "length is lower than 3"))

		// An expired key holds no slot.
		past := time.Now().Add(-time.Minute)
		if _, err := ts.App.DB.NewUpdate().Model((*dbtest.APIKeyRow)(nil)).Set("expires = ?", past).
			Where("name = ?", "quota-0").Where("user_id = ?", uuid.MustParse(aliceID)).Exec(context.Background()); err != nil {
			t.Fatal(err)
		}
		gakCreate(t, alice, map[string]any{"name": "fits again"})
		if n := gqlCountAPIKeys(t, ts, aliceID); n != 3 {
			t.Errorf("keys = %d, want 3 (the expired one purged)", n)
		}
		// A deleted key frees its slot too.
		first := gakNodes(gakList(t, alice, nil))[0]
		r = alice.GQL(gakDeleteDoc, apptest.GQLIn(map[string]any{"id": first["id"]}))
		gqlWantUserErrs(t, r, "deleteApiKey")
		gakCreate(t, alice, map[string]any{"name": "after delete"})
		r = alice.GQL(gakCreateDoc, apptest.GQLIn(map[string]any{"name": "over again"}))
		gqlWantUserErrs(t, r, "createApiKey", apptest.GQLUserErr{Message: "maximum number of api keys reached", Code: "QUOTA_EXCEEDED"})
	})
}
