package apptest

// Sessions and activity helpers: the REST tests list and check them, and
// the GraphQL tests use the same ones to set states up in the database and
// to compare their answers with REST's.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/app"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/secret"
)

// The sessions and activity tests of both transports share a password,
// the REST routes and the wording of a missing permission, so that the
// GraphQL tests can compare their answers with REST's.
const (
	// SessionsPassword is the password of every account these tests make.
	SessionsPassword = "correct horse battery"
	// SessionsPath lists and revokes sessions over REST.
	SessionsPath = "/api/client/account/sessions"
	// ActivityPath lists the history over REST.
	ActivityPath = "/api/client/account/activity"
	// ForbiddenPrefix starts the message of a refusal for a missing
	// permission, on both transports.
	ForbiddenPrefix = "you do not have permission to perform this action: "
	// GoUserAgent is the User-Agent Go's HTTP client sends when none is set
	// (the sign-up requests of these tests).
	GoUserAgent = "Go-http-client/1.1"
)

// sessionKeys and activityKeys are the members of the Session and
// Activity objects, in the order REST.md §3 lists them; functions, so that
// no test can change what another checks against.
func sessionKeys() []string {
	return []string{"uuid", "ip", "user_agent", "is_using", "last_used", "created"}
}

func activityKeys() []string {
	return []string{"impersonator", "event", "ip", "data", "is_api", "created"}
}

// Proxied is the REST base configuration plus 127.0.0.1 as a trusted
// proxy, so that each test client can speak from an address of its own
// through X-Forwarded-For and the recorded addresses tell clients apart.
func Proxied(cfg *app.Config) {
	cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

// LoginFrom signs in with a fresh client that sends userAgent (and, if not
// "", X-Forwarded-For: ip) on every request; it fails unless the login
// succeeded.
func LoginFrom(t testing.TB, ts *Server, user, userAgent, ip string) *Client {
	t.Helper()
	c := ts.Client(t)
	c.Header.Set("User-Agent", userAgent)
	if ip != "" {
		c.Header.Set("X-Forwarded-For", ip)
	}
	res := c.Do(http.MethodPost, "/api/auth/login", map[string]any{"user": user, "password": SessionsPassword})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s (%s): %d %s", user, userAgent, res.Status, res.Body)
	}
	return c
}

// SessionItem is a Session object of the REST list, decoded so that the
// GraphQL tests can compare their nodes with it.
type SessionItem struct {
	UUID      string `json:"uuid"`
	IP        string `json:"ip"`
	UserAgent string `json:"user_agent"`
	IsUsing   bool   `json:"is_using"`
	LastUsed  string `json:"last_used"`
	Created   string `json:"created"`
}

// ActivityItem is an Activity object; Data must be a JSON object.
type ActivityItem struct {
	Impersonator *string        `json:"impersonator"`
	Event        string         `json:"event"`
	IP           *string        `json:"ip"`
	Data         map[string]any `json:"data"`
	IsAPI        bool           `json:"is_api"`
	Created      string         `json:"created"`
}

// Page is a decoded pagination envelope of the REST list routes.
type Page[T any] struct {
	Total, PerPage, Page int
	Data                 []T
}

// list GETs path?query with c and decodes the envelope under key,
// checking the exact members and their order on the way: the envelope
// {key: {"total","per_page","page","data"}}, and each item's keys.
func list[T any](t testing.TB, c *Client, path, query, key string, itemKeys []string) *Page[T] {
	t.Helper()
	target := path
	if query != "" {
		target += "?" + query
	}
	res := c.Do(http.MethodGet, target, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", target, res.Status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("GET %s: Content-Type %q", target, ct)
	}
	outer, ovals := OrderedObject(t, res.Body)
	if !slices.Equal(outer, []string{key}) {
		t.Fatalf("GET %s: top-level keys %q, want [%s]: %s", target, outer, key, res.Body)
	}
	inner, ivals := OrderedObject(t, ovals[key])
	if want := []string{"total", "per_page", "page", "data"}; !slices.Equal(inner, want) {
		t.Fatalf("GET %s: envelope keys %q, want %q", target, inner, want)
	}
	var raws []json.RawMessage
	if !bytes.HasPrefix(bytes.TrimSpace(ivals["data"]), []byte("[")) {
		t.Fatalf("GET %s: data is not an array: %s", target, ivals["data"])
	}
	if err := json.Unmarshal(ivals["data"], &raws); err != nil {
		t.Fatalf("GET %s: data: %v", target, err)
	}
	out := &Page[T]{Data: make([]T, len(raws))}
	for name, dst := range map[string]*int{"total": &out.Total, "per_page": &out.PerPage, "page": &out.Page} {
		if err := json.Unmarshal(ivals[name], dst); err != nil {
			t.Fatalf("GET %s: %s = %s is not an integer", target, name, ivals[name])
		}
	}
	for i, raw := range raws {
		keys, vals := OrderedObject(t, raw)
		if !slices.Equal(keys, itemKeys) {
			t.Errorf("GET %s: data[%d] keys %q, want %q", target, i, keys, itemKeys)
		}
		if d, ok := vals["data"]; ok && !bytes.HasPrefix(bytes.TrimSpace(d), []byte("{")) {
			t.Errorf("GET %s: data[%d].data is not a JSON object: %s", target, i, d)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out.Data[i]); err != nil {
			t.Fatalf("GET %s: data[%d]: %v: %s", target, i, err, raw)
		}
	}
	return out
}

// ListSessions lists c's sessions with the query string query.
func ListSessions(t testing.TB, c *Client, query string) *Page[SessionItem] {
	t.Helper()
	return list[SessionItem](t, c, SessionsPath, query, "sessions", sessionKeys())
}

// ListActivities lists c's history with the query string query.
func ListActivities(t testing.TB, c *Client, query string) *Page[ActivityItem] {
	t.Helper()
	return list[ActivityItem](t, c, ActivityPath, query, "activities", activityKeys())
}

// Query builds a query string from key, value pairs, escaping each, so
// tests can send searches with any characters.
func Query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v.Encode()
}

// PageEvents returns the event name of every entry of a page, in order.
func PageEvents(p *Page[ActivityItem]) []string {
	out := make([]string, len(p.Data))
	for i, a := range p.Data {
		out[i] = a.Event
	}
	return out
}

// SessionID returns the id of the session a client's cookie names,
// read from the database (independently of the API under test).
func SessionID(t testing.TB, ts *Server, c *Client) string {
	t.Helper()
	return SessionIDOf(t, ts, CookieValue(t, c))
}

// SessionIDOf returns the id of the session of a cookie value.
func SessionIDOf(t testing.TB, ts *Server, cookie string) string {
	t.Helper()
	var id uuid.UUID
	err := ts.App.DB.NewSelect().Table("sessions").Column("id").Where("key_start = ?", cookie[:16]).
		Scan(context.Background(), &id)
	if err != nil {
		t.Fatalf("session of cookie: %v", err)
	}
	return id.String()
}

// DBTime is t as the database stores it (UTC, microseconds).
func DBTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// SetColumn writes a time column of one row directly, which is how
// these tests move a row back in time.
func SetColumn(t testing.TB, ts *Server, table, id, column string, at time.Time) {
	t.Helper()
	q := ts.App.DB.NewUpdate().Table(table).Set(column+" = ?", DBTime(at)).Where("id = ?", id)
	if table == "sessions" && column == "last_used" {
		// The clean-up's index column follows last_used, as every write
		// of the store keeps it.
		q = q.Set("last_used_hour = ?", db.LastUsedHour(at))
	}
	res, err := q.Exec(context.Background())
	if err != nil {
		t.Fatalf("update %s.%s: %v", table, column, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("update %s.%s of %s: %d rows", table, column, id, n)
	}
}

// ActivityIDs returns the ids of a user's events, oldest first, with
// their names.
func ActivityIDs(t testing.TB, ts *Server, userID uuid.UUID) (ids []string, events []string) {
	t.Helper()
	var rows []struct {
		ID    uuid.UUID `bun:"id"`
		Event string    `bun:"event"`
	}
	err := ts.App.DB.NewSelect().Table("activities").Column("id", "event").Where("user_id = ?", userID).
		OrderExpr("created ASC, id ASC").Scan(context.Background(), &rows)
	if err != nil {
		t.Fatalf("activities: %v", err)
	}
	for _, r := range rows {
		ids = append(ids, r.ID.String())
		events = append(events, r.Event)
	}
	return ids, events
}

// SessionsState is what the tests check a refused request left alone: every
// session (id and user agent) and the number of activity rows and keys.
type SessionsState struct {
	Sessions   []string
	Activities int
	APIKeys    int
}

// SessionsSnapshot records the SessionsState, so that a test can check a
// refused request changed nothing (SessionsUnchanged).
func SessionsSnapshot(t testing.TB, ts *Server) SessionsState {
	t.Helper()
	ctx := context.Background()
	var rows []struct {
		ID        uuid.UUID `bun:"id"`
		UserAgent string    `bun:"user_agent"`
	}
	if err := ts.App.DB.NewSelect().Table("sessions").Column("id", "user_agent").
		OrderExpr("id").Scan(ctx, &rows); err != nil {
		t.Fatalf("sessions: %v", err)
	}
	var s SessionsState
	for _, r := range rows {
		s.Sessions = append(s.Sessions, r.ID.String()+" "+r.UserAgent)
	}
	for table, dst := range map[string]*int{"activities": &s.Activities, "api_keys": &s.APIKeys} {
		n, err := ts.App.DB.NewSelect().Table(table).Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		*dst = int(n)
	}
	return s
}

// SessionsUnchanged fails when the database differs from before.
func SessionsUnchanged(t testing.TB, ts *Server, before SessionsState) {
	t.Helper()
	if after := SessionsSnapshot(t, ts); !reflect.DeepEqual(before, after) {
		t.Errorf("a refused request changed the database:\nbefore %+v\nafter  %+v", before, after)
	}
}

// WantDeleted checks a 200 {"deleted": n} answer, exactly.
func WantDeleted(t testing.TB, res *Response, n int) {
	t.Helper()
	if res.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", res.Status, res.Body)
	}
	keys, vals := OrderedObject(t, res.Body)
	if !slices.Equal(keys, []string{"deleted"}) || string(vals["deleted"]) != fmt.Sprint(n) {
		t.Errorf("body %s, want {\"deleted\":%d}", res.Body, n)
	}
}

// Hist is what History did (the clients, key and session it used), so
// that tests of both transports can check the recorded history against it.
type Hist struct {
	// First is the first session's client (from 203.0.113.7).
	First *Client
	// KeyID, KeyStart and KeySecret describe the key made through a key.
	KeyID, KeyStart, KeySecret string
	// Revoked is the id of the second session, which the first revoked.
	Revoked string
}

// History gives alice (registered already) the history the activity
// tests read: a login from 203.0.113.7, a profile update, an API key made
// through a key from 198.51.100.9, a second login from 192.0.2.44, and the
// first session revoking the second.
func History(t *testing.T, ts *Server, userID uuid.UUID) Hist {
	t.Helper()
	var h Hist
	h.First = LoginFrom(t, ts, "alice", "Firefox", "203.0.113.7")
	WantEmpty(t, h.First.Do(http.MethodPatch, "/api/client/account", map[string]any{"name_first": "Alicia"}))

	kc := KeyClient(t, ts, APIKey(t, ts, userID, KeyOpts{UserPermissions: []string{"api-keys.create", "activity.read"}}))
	kc.Header.Set("X-Forwarded-For", "198.51.100.9")
	res := kc.Do(http.MethodPost, "/api/client/account/api-keys", map[string]any{"name": "made-by-key", "user_permissions": []string{}})
	if res.Status != http.StatusOK {
		t.Fatalf("create key through a key: %d %s", res.Status, res.Body)
	}
	var created struct {
		APIKey struct {
			UUID     string `json:"uuid"`
			KeyStart string `json:"key_start"`
		} `json:"api_key"`
		Key string `json:"key"`
	}
	if err := json.Unmarshal(res.Body, &created); err != nil || created.Key == "" {
		t.Fatalf("create key: %v %s", err, res.Body)
	}
	h.KeyID, h.KeyStart, h.KeySecret = created.APIKey.UUID, created.APIKey.KeyStart, created.Key

	second := LoginFrom(t, ts, "alice", "Chrome", "192.0.2.44")
	h.Revoked = SessionID(t, ts, second)
	WantEmpty(t, h.First.Do(http.MethodDelete, SessionsPath+"/"+h.Revoked, nil))
	return h
}

// Backlog writes n activity rows created at oldAt and m sessions last
// used at idleAt for userID.
func Backlog(t testing.TB, ts *Server, userID uuid.UUID, n int, oldAt time.Time, m int, idleAt time.Time) {
	t.Helper()
	ctx := context.Background()
	const chunk = 400
	for i := 0; i < n; i += chunk {
		var rows []dbtest.ActivityRow
		for j := i; j < min(n, i+chunk); j++ {
			rows = append(rows, dbtest.ActivityRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, Event: "account:update",
				Data: `{"fields":["name_first"]}`, Created: DBTime(oldAt.Add(-time.Duration(j) * time.Second))})
		}
		if _, err := ts.App.DB.NewInsert().Model(&rows).Exec(ctx); err != nil {
			t.Fatalf("insert activities: %v", err)
		}
	}
	for i := 0; i < m; i += chunk {
		var rows []dbtest.SessionRow
		for j := i; j < min(m, i+chunk); j++ {
			tok := secret.RandomString(48)
			rows = append(rows, dbtest.SessionRow{ID: uuid.Must(uuid.NewV7()), UserID: userID, KeyStart: tok[:16],
				Digest: secret.Digest(tok), IP: "192.0.2.1", UserAgent: "backlog", LastUsed: DBTime(idleAt),
				Created: DBTime(idleAt.Add(-time.Hour))})
		}
		if _, err := ts.App.DB.NewInsert().Model(&rows).Exec(ctx); err != nil {
			t.Fatalf("insert sessions: %v", err)
		}
	}
}

// CountRows counts a user's rows of a table.
func CountRows(t testing.TB, ts *Server, table string, userID uuid.UUID) int {
	t.Helper()
	n, err := ts.App.DB.NewSelect().Table(table).Where("user_id = ?", userID).Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}
