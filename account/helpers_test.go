package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"accountd/account"
	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// Addresses and user agents the tests present.
var (
	clientIP  = netip.MustParseAddr("203.0.113.7")
	clientUA  = "account-test/1.0"
	testStart = time.Date(2026, 8, 22, 12, 0, 0, 123456000, time.UTC)
)

// fakeClock is the service clock under the tests' control.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: testStart} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// cheapArgon2 is the cost of the hasher most tests use. Hashing is not what
// they test, and at the production cost (secret.DefaultArgon2: 19 MiB, two
// passes) every sign-up, sign-in, password check and recovery code costs
// tens of milliseconds, many times that under the race detector. The tests
// about the cost itself (upgrades of weaker hashes, the parameters a new
// hash is stored with) use productionHasher; secret/ tests the defaults.
var cheapArgon2 = secret.Argon2Params{MemoryKiB: 256, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// The hashers, each built once: building one costs a hash (its dummy).
var (
	hasherOnce sync.Once
	hasher     *secret.PasswordHasher
	hasherErr  error

	productionHasherOnce sync.Once
	productionHasherVal  *secret.PasswordHasher
	productionHasherErr  error
)

// sharedHasher is the cheap hasher every service of the tests gets unless a
// test asks for another.
func sharedHasher(t testing.TB) *secret.PasswordHasher {
	t.Helper()
	hasherOnce.Do(func() { hasher, hasherErr = secret.NewPasswordHasher(cheapArgon2, 4) })
	if hasherErr != nil {
		t.Fatalf("password hasher: %v", hasherErr)
	}
	return hasher
}

// productionHasher is a hasher with the production parameters
// (secret.DefaultArgon2), for the tests that are about them.
func productionHasher(t testing.TB) *secret.PasswordHasher {
	t.Helper()
	productionHasherOnce.Do(func() {
		productionHasherVal, productionHasherErr = secret.NewPasswordHasher(secret.DefaultArgon2, 4)
	})
	if productionHasherErr != nil {
		t.Fatalf("production password hasher: %v", productionHasherErr)
	}
	return productionHasherVal
}

var (
	catalogOnce sync.Once
	catalog     *model.PermissionCatalog
	catalogErr  error
)

func sharedCatalog(t testing.TB) *model.PermissionCatalog {
	t.Helper()
	catalogOnce.Do(func() { catalog, catalogErr = model.LoadPermissionCatalog() })
	if catalogErr != nil {
		t.Fatalf("permission catalog: %v", catalogErr)
	}
	return catalog
}

// defaultConfig is the panel's default configuration.
func defaultConfig() account.Config {
	return account.Config{
		AppName:              "Calagopus",
		SessionDuration:      7 * 24 * time.Hour,
		RegistrationEnabled:  true,
		MaxAPIKeys:           50,
		AllowLanguageChange:  true,
		TwoFactorRequirement: account.TwoFactorNone,
	}
}

// newService builds the service on d with the cheap test hasher, the real
// catalog and a fake clock.
func newService(t testing.TB, d *db.DB, cfg account.Config) (*account.Service, *db.Store, *fakeClock) {
	t.Helper()
	store := db.NewStore(d)
	clock := newClock()
	svc := account.New(storesOf(store), sharedHasher(t), sharedCatalog(t), cfg, nil)
	svc.Now = clock.Now
	return svc, store, clock
}

// env is one test's service, database and clock, plus every secret the test
// handed out or used, which must never show up in an activity record.
type env struct {
	t     *testing.T
	ctx   context.Context
	d     *db.DB
	store *db.Store
	svc   *account.Service
	clock *fakeClock

	mu      *sync.Mutex
	secrets *[]string
	seq     *int
}

func newEnv(t *testing.T, d *db.DB, cfg account.Config) *env {
	t.Helper()
	svc, store, clock := newService(t, d, cfg)
	e := &env{t: t, ctx: context.Background(), d: d, store: store, svc: svc, clock: clock,
		mu: new(sync.Mutex), secrets: new([]string), seq: new(int)}
	// Runs before the database is closed (cleanups run last-in first-out).
	t.Cleanup(e.assertNoSecretsInActivities)
	return e
}

// withService returns a copy of e (same database, clock and secret list)
// whose service is built from st, h and cfg.
func (e *env) withService(st account.Stores, h *secret.PasswordHasher, cfg account.Config) *env {
	e.t.Helper()
	svc := account.New(st, h, sharedCatalog(e.t), cfg, nil)
	svc.Now = e.clock.Now
	c := *e
	c.svc = svc
	return &c
}

// withConfig returns a service with another configuration.
func (e *env) withConfig(cfg account.Config) *env {
	return e.withService(storesOf(e.store), sharedHasher(e.t), cfg)
}

// withHasher returns a service that hashes with h (withConfig and
// withStore go back to sharedHasher).
func (e *env) withHasher(h *secret.PasswordHasher) *env {
	return e.withService(storesOf(e.store), h, e.svc.Config())
}

// withStore returns a service whose activity records go to a instead: a
// way to make the last write of a change fail.
func (e *env) withStore(a account.ActivityStore) *env {
	st := storesOf(e.store)
	st.Activities = a
	return e.withService(st, sharedHasher(e.t), e.svc.Config())
}

// storesOf hands every store interface to s, as the server does.
func storesOf(s *db.Store) account.Stores {
	return account.Stores{Tx: s, Users: s, Sessions: s, APIKeys: s, TwoFactor: s, Activities: s, Attempts: s, Throttle: s, Operators: s, Mail: s,
		ResetTokens: s, EmailVerifications: s, SecurityKeys: s}
}

// secret remembers values that must never be recorded.
func (e *env) secret(vals ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, v := range vals {
		if v != "" {
			*e.secrets = append(*e.secrets, v)
		}
	}
}

func (e *env) allSecrets() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := append([]string(nil), *e.secrets...)
	// Every password hash currently stored is a secret too.
	var hashes []*string
	if err := e.d.NewSelect().Table("users").Column("password_hash").Scan(e.ctx, &hashes); err != nil {
		e.t.Errorf("read password hashes: %v", err)
	}
	for _, h := range hashes {
		if h != nil && *h != "" {
			out = append(out, *h)
			// Its salt and key alone are secret too.
			parts := strings.Split(*h, "$")
			for _, p := range parts[max(0, len(parts)-2):] {
				if len(p) >= 16 {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// assertNoSecretsInActivities scans every activity row of the database.
func (e *env) assertNoSecretsInActivities() {
	e.t.Helper()
	secrets := e.allSecrets()
	var rows []struct {
		Event string `bun:"event"`
		Data  string `bun:"data"`
	}
	if err := e.d.NewSelect().Table("activities").Column("event", "data").Scan(e.ctx, &rows); err != nil {
		e.t.Errorf("read activities: %v", err)
		return
	}
	for _, r := range rows {
		if !json.Valid([]byte(r.Data)) {
			e.t.Errorf("activity %s: data is not JSON: %q", r.Event, r.Data)
		}
		for _, s := range secrets {
			if holdsSecret(r.Data, s) {
				e.t.Errorf("activity %s: data %q contains a secret (%.12s…)", r.Event, r.Data, s)
			}
		}
	}
}

// holdsSecret reports whether text holds secret. A short secret (a
// six-digit code) counts only as a whole word: its digits turning up
// inside a UUID or another identifier are chance, not a leak.
func holdsSecret(text, secret string) bool {
	if len(secret) >= 12 {
		return strings.Contains(text, secret)
	}
	for i := 0; ; {
		j := strings.Index(text[i:], secret)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(secret)
		if (start == 0 || !isWordByte(text[start-1])) && (end == len(text) || !isWordByte(text[end])) {
			return true
		}
		i = start + 1
	}
}

func isWordByte(c byte) bool {
	return c == '_' || c == '-' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// assertNoSecretInError checks err's text for the given secrets.
func assertNoSecretInError(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if s != "" && holdsSecret(err.Error(), s) {
			t.Errorf("error %q contains a secret", err.Error())
		}
	}
}

// user is a registered account with its password and first session.
type user struct {
	*model.User
	Password string
	Token    string
}

func (e *env) next() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.seq++
	return *e.seq
}

// registerInput returns a valid sign-up for username.
func registerInput(username string) account.RegisterInput {
	return account.RegisterInput{
		Username:  username,
		Email:     strings.ToLower(username) + "@example.com",
		NameFirst: "First " + username,
		NameLast:  "Last " + username,
		Password:  "pw-" + username + "-correct-horse",
	}
}

// register signs up username through the service.
func (e *env) register(username string) *user {
	e.t.Helper()
	return e.registerWith(registerInput(username))
}

func (e *env) registerWith(in account.RegisterInput) *user {
	e.t.Helper()
	e.secret(in.Password)
	res, err := e.svc.Register(e.ctx, model.Client{IP: clientIP, UserAgent: clientUA}, in)
	if err != nil {
		e.t.Fatalf("register %q: %v", in.Username, err)
	}
	e.secret(res.SessionToken)
	return &user{User: res.User, Password: in.Password, Token: res.SessionToken}
}

// newSession stores another session of u directly (no password hash),
// last used now, and returns its token.
func (e *env) newSession(u *model.User) string {
	e.t.Helper()
	tok := secret.RandomString(48)
	e.secret(tok)
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	err := e.store.CreateSession(e.ctx, &model.Session{ID: uuid.New(), UserID: u.ID, KeyStart: tok[:16],
		Digest: secret.Digest(tok), IP: clientIP.String(), UserAgent: clientUA, LastUsed: now, Created: now})
	if err != nil {
		e.t.Fatalf("create session: %v", err)
	}
	return tok
}

func cookie(tok string) account.Credentials {
	return account.Credentials{HasCookie: true, Cookie: tok, IP: clientIP, UserAgent: clientUA}
}

func bearer(key string) account.Credentials {
	return account.Credentials{HasAuthorization: true, Authorization: "Bearer " + key, IP: clientIP, UserAgent: clientUA}
}

// authenticate resolves credentials that must be valid.
func (e *env) authenticate(c account.Credentials) *account.Authentication {
	e.t.Helper()
	a, err := e.svc.Authenticate(e.ctx, c)
	if err != nil {
		e.t.Fatalf("authenticate: %v", err)
	}
	if a == nil || a.Actor == nil || a.Actor.User == nil {
		e.t.Fatalf("authenticate returned no actor: %+v", a)
	}
	return a
}

// actor authenticates a session token.
func (e *env) actor(tok string) *model.Actor {
	e.t.Helper()
	a := e.authenticate(cookie(tok)).Actor
	if a.Session == nil || a.APIKey != nil {
		e.t.Fatalf("session authentication gave %+v", a)
	}
	return a
}

// keyActor authenticates an API key.
func (e *env) keyActor(key string) *model.Actor {
	e.t.Helper()
	a := e.authenticate(bearer(key)).Actor
	if a.APIKey == nil || a.Session != nil {
		e.t.Fatalf("api key authentication gave %+v", a)
	}
	return a
}

// keyOpts describes a test API key.
type keyOpts struct {
	Name       string
	UserPerms  []string
	AllowedIPs []string
	Expires    *time.Time
}

// newAPIKey inserts an API key row for u and returns the full key and its
// id. There is no API-key service yet, so this writes SQL directly.
func (e *env) newAPIKey(u *model.User, o keyOpts) (string, uuid.UUID) {
	e.t.Helper()
	key := "c7sp_" + secret.RandomString(43)
	e.secret(key)
	id := uuid.New()
	if o.Name == "" {
		o.Name = "key-" + key[5:13]
	}
	if o.UserPerms == nil {
		o.UserPerms = []string{}
	}
	if o.AllowedIPs == nil {
		o.AllowedIPs = []string{}
	}
	perms, _ := json.Marshal(o.UserPerms)
	ips, _ := json.Marshal(o.AllowedIPs)
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	_, err := e.d.ExecContext(e.ctx, `INSERT INTO api_keys (id, user_id, name, key_start, digest, allowed_ips,
		user_permissions, admin_permissions, server_permissions, last_used, expires, created)
		VALUES (?, ?, ?, ?, ?, ?, ?, '[]', '[]', NULL, ?, ?)`,
		id, u.ID, o.Name, key[:16], secret.Digest(key), string(ips), string(perms), o.Expires, now)
	if err != nil {
		e.t.Fatalf("insert api key: %v", err)
	}
	return key, id
}

// count returns the number of rows of table matching where (with args).
func (e *env) count(table, where string, args ...any) int {
	e.t.Helper()
	q := e.d.NewSelect().Table(table)
	if where != "" {
		q = q.Where(where, args...)
	}
	n, err := q.Count(e.ctx)
	if err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return int(n)
}

func (e *env) sessionCount(u *model.User) int { return e.count("sessions", "user_id = ?", u.ID) }

// setColumn sets one column of a user row.
func (e *env) setColumn(u *model.User, column string, value any) {
	e.t.Helper()
	_, err := e.d.NewUpdate().Table("users").Set("? = ?", bun.Ident(column), value).Where("id = ?", u.ID).Exec(e.ctx)
	if err != nil {
		e.t.Fatalf("set %s: %v", column, err)
	}
}

// setFlags sets frozen and suspended, keeping the admin flag.
func (e *env) setFlags(u *model.User, frozen, suspended bool) {
	e.t.Helper()
	cur := e.reload(u)
	if err := e.store.SetUserFlags(e.ctx, u.ID, cur.Admin, frozen, suspended); err != nil {
		e.t.Fatalf("set flags: %v", err)
	}
}

// reload reads the user back from the database.
func (e *env) reload(u *model.User) *model.User {
	e.t.Helper()
	got, err := e.store.UserByID(e.ctx, u.ID)
	if err != nil || got == nil {
		e.t.Fatalf("reload user %s: %v %v", u.ID, got, err)
	}
	return got
}

// passwordHash reads a user's stored hash.
func (e *env) passwordHash(u *model.User) string {
	e.t.Helper()
	h := e.reload(u).PasswordHash
	if h == nil {
		return ""
	}
	return *h
}

// activities returns the user's events, newest first.
func (e *env) activities(u *model.User) []*model.Activity {
	e.t.Helper()
	acts, err := dbtest.RecentActivity(e.ctx, e.store, u.ID, 1000)
	if err != nil {
		e.t.Fatalf("activities: %v", err)
	}
	return acts
}

// events returns the user's events with the given name, newest first.
func (e *env) events(u *model.User, event string) []*model.Activity {
	e.t.Helper()
	var out []*model.Activity
	for _, a := range e.activities(u) {
		if a.Event == event {
			out = append(out, a)
		}
	}
	return out
}

// assertData compares an activity's data with want as JSON.
func assertData(t *testing.T, a *model.Activity, want string) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(a.Data, &got); err != nil {
		t.Fatalf("activity %s data %q: %v", a.Event, a.Data, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		t.Fatalf("bad want %q: %v", want, err)
	}
	if !reflect.DeepEqual(got, exp) {
		t.Errorf("activity %s data = %s, want %s", a.Event, a.Data, want)
	}
}

// asError extracts the *model.Error of err.
func asError(t *testing.T, err error) *model.Error {
	t.Helper()
	var me *model.Error
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want a *model.Error", err, err)
	}
	return me
}

// wantErr checks an error's code and message, and that it carries no field
// list.
func wantErr(t *testing.T, err error, code model.Code, msg string) *model.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %s %q", code, msg)
	}
	if got := model.ErrorCode(err); got != code {
		t.Fatalf("code = %q (%v), want %q %q", got, err, code, msg)
	}
	me := asError(t, err)
	if me.Message != msg {
		t.Fatalf("message = %q, want %q", me.Message, msg)
	}
	if len(me.Fields) != 0 {
		t.Errorf("fields = %v, want none", me.Fields)
	}
	return me
}

// fe builds a field error.
func fe(field, msg string) model.FieldError { return model.FieldError{Field: field, Message: msg} }

// wantFields checks a validation error lists exactly want, in order.
func wantFields(t *testing.T, err error, want ...model.FieldError) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want validation errors %v", want)
	}
	if got := model.ErrorCode(err); got != model.CodeInvalid {
		t.Fatalf("code = %q (%v), want %q", got, err, model.CodeInvalid)
	}
	me := asError(t, err)
	if !reflect.DeepEqual(me.Fields, want) {
		t.Fatalf("fields = %q, want %q", me.Fields, want)
	}
	if me.Field != want[0].Field || me.Message != want[0].Message {
		t.Errorf("Field/Message = %q/%q, want the first rule %q/%q", me.Field, me.Message, want[0].Field, want[0].Message)
	}
}

// fieldsMatch compares field lists; a want message ending in "…" is a
// prefix (for messages the contract does not fix, like the allowed-value
// lists).
func fieldsMatch(got []model.FieldError, want []model.FieldError) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Field != want[i].Field {
			return false
		}
		if strings.HasSuffix(want[i].Message, "…") {
			if !strings.HasPrefix(got[i].Message, strings.TrimSuffix(want[i].Message, "…")) {
				return false
			}
		} else if got[i].Message != want[i].Message {
			return false
		}
	}
	return true
}

// wantFieldsLoose is wantFields where a want message ending in "…" is a
// prefix.
func wantFieldsLoose(t *testing.T, err error, want ...model.FieldError) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want validation errors %v", want)
	}
	if got := model.ErrorCode(err); got != model.CodeInvalid {
		t.Fatalf("code = %q (%v), want %q", got, err, model.CodeInvalid)
	}
	me := asError(t, err)
	if !fieldsMatch(me.Fields, want) {
		t.Fatalf("fields = %q, want %q", me.Fields, want)
	}
}

func ptr[T any](v T) *T { return &v }

// Validation messages of the contract.
const (
	msgUsernamePattern = "does not match pattern /^[a-zA-Z0-9_]+$/"
	msgInvalidEmail    = "not a valid email address"
)

// failingStore is the real store with one activity event refused, to show
// that the change it records rolls back with it.
type failingStore struct {
	*db.Store
	failEvent string
}

var errInjected = errors.New("injected activity failure")

func (f *failingStore) RecordActivity(ctx context.Context, a *model.Activity) error {
	if a.Event == f.failEvent {
		return errInjected
	}
	return f.Store.RecordActivity(ctx, a)
}
