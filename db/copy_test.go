package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"accountd/db"
	"accountd/db/dbtest"
	"accountd/model"
	"accountd/secret"
)

// copyT0 is the fill's clock: microseconds set, so a copy that loses them
// (or shifts a zone) shows.
var copyT0 = time.Date(2026, 5, 6, 7, 8, 9, 123456000, time.UTC)

// copyFixture is what fillCopySource wrote, for the checks of a copy.
type copyFixture struct {
	alice, bob, carol       *model.User
	sessionKey, bobSession  string
	apiKey, plainKey        *model.APIKey
	device                  *model.Device
	recoveryDigests         [][]byte
	loginTokenKey           string
	activityData            string
	rateLimitKey, ghostName string
	securityKey             *model.SecurityKey
	ceremony                *model.SecurityKeyCeremony
}

// fillCopySource writes rows into every table through the store, the way
// the service does: users with each flag and two-factor state, sessions
// (one from a device), API keys with lists, recovery codes, a confirmation
// token, activity, attempt counters of an account, a device and an unknown
// name, and a rate-limit window.
func fillCopySource(t *testing.T, d *db.DB) *copyFixture {
	t.Helper()
	ctx := context.Background()
	s := db.NewStore(d)
	f := &copyFixture{rateLimitKey: "login:203.0.113.7", ghostName: "ghost"}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	hash := "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	role, avatar := "owner", "https://cdn.example.com/a.png"
	f.alice = &model.User{ID: uuid.New(), Username: "Alice", Email: "Alice@Example.com", EmailVerified: true, NameFirst: "Zoë", NameLast: "O'Brien",
		Role: &role, Avatar: &avatar, Language: "en", ToastPosition: "bottom_right", PasswordHash: &hash, Created: copyT0}
	f.bob = &model.User{ID: uuid.New(), Username: "bob", Email: "bob@example.com", NameFirst: "Bob", NameLast: "B",
		Language: "en", ToastPosition: "top_left", PasswordHash: &hash, Created: copyT0.Add(time.Second)}
	f.carol = &model.User{ID: uuid.New(), Username: "carol", Email: "carol@example.com", NameFirst: "Carol", NameLast: "C",
		Language: "fr", ToastPosition: "bottom_right", Created: copyT0.Add(2 * time.Second)}
	for _, u := range []*model.User{f.alice, f.bob, f.carol} {
		must(s.CreateUser(ctx, u, true))
	}
	grouped, lang := true, "de"
	must(s.UpdateUser(ctx, f.alice.ID, model.UserPatch{StartOnGroupedServers: &grouped, Language: &lang}, copyT0.Add(time.Minute)))
	must(s.SetUserFlags(ctx, f.bob.ID, false, true, false))
	must(s.SetUserFlags(ctx, f.carol.ID, false, false, true))

	// Bob has two-factor on, with recovery codes; Carol a pending secret.
	if got, err := s.EnsurePendingTOTPSecret(ctx, f.bob.ID, "BOBSECRET", copyT0, copyT0.Add(-15*time.Minute)); err != nil || got != "BOBSECRET" {
		t.Fatalf("EnsurePendingTOTPSecret = %q, %v", got, err)
	}
	salt := []byte("0123456789abcdef")
	if ok, err := s.EnableTwoFactor(ctx, f.bob.ID, "BOBSECRET", 59_000_123, copyT0.Add(3*time.Second), salt); err != nil || !ok {
		t.Fatalf("EnableTwoFactor = %v, %v", ok, err)
	}
	for i := range 3 {
		f.recoveryDigests = append(f.recoveryDigests, secret.Digest("recovery-"+string(rune('a'+i))))
	}
	must(s.ReplaceRecoveryCodes(ctx, f.bob.ID, salt, f.recoveryDigests, copyT0.Add(4*time.Second)))
	if _, err := s.EnsurePendingTOTPSecret(ctx, f.carol.ID, "CAROLPENDING", copyT0.Add(5*time.Second), copyT0); err != nil {
		t.Fatal(err)
	}

	// A device with a blocked budget, and Alice's session from it.
	f.device = &model.Device{ID: uuid.New(), UserID: f.alice.ID, Digest: secret.Digest("device cookie"), Created: copyT0, LastUsed: copyT0.Add(time.Hour)}
	must(s.CreateDevice(ctx, f.device))
	must(s.InTx(ctx, func(ctx context.Context) error {
		c, err := s.LockDeviceAttempts(ctx, f.device.ID, copyT0)
		if err != nil {
			return err
		}
		blocked := copyT0.Add(5 * time.Minute)
		c.Failures, c.Consecutive, c.BlockedUntil = 2, 2, &blocked
		return s.SaveAttempts(ctx, c)
	}))
	tok := secret.RandomString(48)
	f.sessionKey = tok[:16]
	must(s.CreateSession(ctx, &model.Session{ID: uuid.New(), UserID: f.alice.ID, KeyStart: f.sessionKey, Digest: secret.Digest(tok),
		IP: "2001:db8::1", UserAgent: "Mozilla/5.0 \"quoted\"", LastUsed: copyT0.Add(10 * time.Second), Created: copyT0, DeviceID: &f.device.ID}))
	tok = secret.RandomString(48)
	f.bobSession = tok[:16]
	must(s.CreateSession(ctx, &model.Session{ID: uuid.New(), UserID: f.bob.ID, KeyStart: f.bobSession, Digest: secret.Digest(tok),
		IP: "192.0.2.1", UserAgent: "curl/8", LastUsed: copyT0.Add(90 * time.Minute), Created: copyT0.Add(time.Second)}))

	// API keys: one with every list, an expiry and a use; one plain.
	expires := copyT0.Add(720 * time.Hour)
	tok = secret.RandomString(48)
	f.apiKey = &model.APIKey{ID: uuid.New(), UserID: f.alice.ID, Name: "ci", KeyStart: tok[:16], Digest: secret.Digest(tok),
		AllowedIPs:      []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")},
		UserPermissions: []string{"account.read", "api-keys.*"}, AdminPermissions: []string{},
		ServerPermissions: []string{"control.console", "files.read"}, Expires: &expires, Created: copyT0}
	must(s.CreateAPIKey(ctx, f.apiKey))
	must(s.TouchAPIKey(ctx, f.apiKey.ID, copyT0.Add(20*time.Second), copyT0))
	tok = secret.RandomString(48)
	f.plainKey = &model.APIKey{ID: uuid.New(), UserID: f.alice.ID, Name: "plain", KeyStart: tok[:16], Digest: secret.Digest(tok), Created: copyT0.Add(time.Second)}
	must(s.CreateAPIKey(ctx, f.plainKey))

	// A pending two-factor confirmation of Bob's.
	tok = secret.RandomString(48)
	f.loginTokenKey = tok[:16]
	must(s.CreateLoginToken(ctx, &model.LoginToken{ID: uuid.New(), UserID: f.bob.ID, KeyStart: f.loginTokenKey, Digest: secret.Digest(tok),
		Attempts: 1, Expires: copyT0.Add(5 * time.Minute), Created: copyT0}))

	// A queued mail with its template data, and a password reset token.
	must(s.EnqueueMail(ctx, &model.Mail{ID: uuid.New(), UserID: &f.alice.ID, Template: model.MailPasswordReset, To: f.alice.Email,
		Data:    model.MailData{User: model.MailUserOf(f.alice), Link: "https://panel.example.com/auth/reset-password?token=x", ExpiresIn: "20 minutes"},
		Created: copyT0.Add(6 * time.Second)}))
	tok = secret.RandomString(96)
	_, err := d.ExecContext(ctx, "INSERT INTO password_reset_tokens (id, user_id, key_start, digest, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
		uuid.New(), f.alice.ID, tok[:16], secret.Digest(tok), copyT0, copyT0.Add(20*time.Minute))
	must(err)
	// Bob's pending change of address.
	tok = secret.RandomString(96)
	must(s.ReplaceEmailVerification(ctx, &model.EmailVerification{ID: uuid.New(), UserID: f.bob.ID, Email: "Bob.New@Example.com",
		KeyStart: tok[:16], Digest: secret.Digest(tok), Created: copyT0, Expires: copyT0.Add(24 * time.Hour)}))

	// Alice's security key (every column set) and a pending one; a
	// sign-in ceremony of hers and a checkpoint ceremony of a token of Bob's.
	f.securityKey = &model.SecurityKey{ID: uuid.New(), UserID: f.alice.ID, Name: "laptop", Challenge: []byte{1, 2}, Created: copyT0}
	must(s.CreateSecurityKey(ctx, f.securityKey))
	f.securityKey.CredentialID, f.securityKey.PublicKey, f.securityKey.SignCount = []byte("credential\x00\xff"), []byte{0xa5, 0x01, 0x02}, 4_000_000_000
	f.securityKey.BackupEligible, f.securityKey.BackupState, f.securityKey.AAGUID = true, true, make([]byte, 16)
	f.securityKey.Transports, f.securityKey.AttestationFormat, f.securityKey.Challenge = []string{"internal", "hybrid"}, "none", nil
	if ok, err := s.FinishSecurityKey(ctx, f.securityKey); err != nil || !ok {
		t.Fatalf("FinishSecurityKey = %v, %v", ok, err)
	}
	if ok, err := s.UseSecurityKey(ctx, f.securityKey.ID, 4_000_000_001, false, copyT0.Add(time.Minute)); err != nil || !ok {
		t.Fatalf("UseSecurityKey = %v, %v", ok, err)
	}
	must(s.CreateSecurityKey(ctx, &model.SecurityKey{ID: uuid.New(), UserID: f.alice.ID, Name: "pending", Challenge: []byte{3}, Created: copyT0}))
	f.ceremony = &model.SecurityKeyCeremony{ID: uuid.New(), Kind: model.CeremonyLogin, Challenge: []byte("challenge"),
		UserIDs: []uuid.UUID{f.alice.ID}, Expires: copyT0.Add(5 * time.Minute), Created: copyT0}
	must(s.CreateCeremony(ctx, f.ceremony))
	checkpointToken := &model.LoginToken{ID: uuid.New(), UserID: f.bob.ID, KeyStart: secret.RandomString(16), Digest: []byte{1},
		Expires: copyT0.Add(5 * time.Minute), Created: copyT0}
	must(s.CreateLoginToken(ctx, checkpointToken))
	must(s.CreateCeremony(ctx, &model.SecurityKeyCeremony{ID: uuid.New(), Kind: model.CeremonyCheckpoint, Challenge: []byte("c"),
		LoginTokenID: &checkpointToken.ID, Expires: copyT0.Add(5 * time.Minute), Created: copyT0}))

	// History, with and without the optional columns.
	ip := "203.0.113.7"
	f.activityData = `{"name":"ci","ips":["10.0.0.0/8"],"note":"naïve"}`
	must(s.RecordActivity(ctx, &model.Activity{ID: uuid.New(), UserID: f.alice.ID, APIKeyID: &f.apiKey.ID, Impersonator: &f.bob.ID,
		Event: model.EventAPIKeyCreate, IP: &ip, Data: json.RawMessage(f.activityData), Created: copyT0.Add(30 * time.Second)}))
	must(s.RecordActivity(ctx, &model.Activity{ID: uuid.New(), UserID: f.alice.ID, Event: model.EventAccountUpdate, Created: copyT0.Add(31 * time.Second)}))

	// Attempt counters: Bob's account, and a name that matches no account.
	must(s.InTx(ctx, func(ctx context.Context) error {
		c, err := s.LockAttempts(ctx, f.bob.ID, copyT0)
		if err != nil {
			return err
		}
		c.Failures, c.Consecutive, c.CodeFailures = 3, 3, 1
		return s.SaveAttempts(ctx, c)
	}))
	must(s.InTx(ctx, func(ctx context.Context) error {
		c, err := s.LockLoginAttempts(ctx, f.ghostName, false, copyT0)
		if err != nil {
			return err
		}
		blocked := copyT0.Add(time.Minute)
		c.Failures, c.Consecutive, c.BlockedUntil = 1, 1, &blocked
		return s.SaveAttempts(ctx, c)
	}))

	// A rate-limit window with two hits.
	for range 2 {
		if _, _, err := s.Hit(ctx, f.rateLimitKey, copyT0, 5*time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// copyCatalogTables lists the tables of d's current schema from the engine's
// own catalog, written here independently of db's, so that a table a
// migration adds and the copy missed fails the test.
func copyCatalogTables(t *testing.T, d *db.DB) []string {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'`
	if d.Dialect == db.Postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	}
	rows, err := d.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// copyTableCounts counts the rows of every table of d's catalog.
func copyTableCounts(t *testing.T, d *db.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, name := range copyCatalogTables(t, d) {
		var n int64
		if err := d.QueryRowContext(context.Background(), `SELECT count(*) FROM "`+name+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	return out
}

// openAsIs opens e's database without migrating it, closing it when t
// ends.
func openAsIs(t *testing.T, e dbtest.Engine) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), e.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestCopy copies a filled database between every pair of engines and
// checks the target: every table of the catalog copied with the source's
// count, and the data working through the store as it did on the source.
func TestCopy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, srcEngine := range dbtest.Engines(t) {
		src := dbtest.Open(t, srcEngine)
		f := fillCopySource(t, src)
		want := copyTableCounts(t, src)
		for name, n := range want {
			// The copy of a table the fill leaves empty would go unchecked:
			// a new table needs rows here.
			if n == 0 && name != "schema_migrations" {
				t.Fatalf("the fill leaves table %s empty: give it rows in fillCopySource", name)
			}
		}
		for _, dstEngine := range dbtest.Engines(t) {
			t.Run(srcEngine.Name+"_to_"+dstEngine.Name, func(t *testing.T) {
				dst := openAsIs(t, dstEngine) // not migrated: Copy does it
				counts, err := db.Copy(ctx, src, dst)
				if err != nil {
					t.Fatal(err)
				}

				var copied []string
				for _, c := range counts {
					copied = append(copied, c.Table)
					if c.Rows != want[c.Table] {
						t.Errorf("%s: copied %d rows, the source has %d", c.Table, c.Rows, want[c.Table])
					}
					if c.Table != "users" && c.Table != "rate_limits" && c.Table != "login_attempt_counters" && !slices.Contains(copied, "users") {
						t.Errorf("%s copied before users, which it refers to (order %v)", c.Table, copied)
					}
				}
				sort.Strings(copied)
				var catalog []string
				for _, n := range copyCatalogTables(t, dst) {
					if n != "schema_migrations" {
						catalog = append(catalog, n)
					}
				}
				if !reflect.DeepEqual(copied, catalog) {
					t.Fatalf("copied tables %v, the target's catalog has %v", copied, catalog)
				}
				if got := copyTableCounts(t, dst); !reflect.DeepEqual(got, want) {
					t.Fatalf("target counts %v, source %v", got, want)
				}
				if n, err := dst.Pending(ctx); err != nil || n != 0 {
					t.Fatalf("target Pending = %d, %v", n, err)
				}
				checkCopiedData(t, f, db.NewStore(src), db.NewStore(dst))
			})
		}
	}
}

// checkCopiedData reads the fill back through the store on both sides:
// equal answers, the values the fill wrote, and the engine's own range
// conditions (timestamps compared in SQL) still right on the target.
func checkCopiedData(t *testing.T, f *copyFixture, src, dst *db.Store) {
	t.Helper()
	ctx := context.Background()
	same := func(what string, a, b any) {
		t.Helper()
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s differs:\nsource %+v\ntarget %+v", what, a, b)
		}
	}

	for _, u := range []*model.User{f.alice, f.bob, f.carol} {
		a, err := src.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := dst.UserByLogin(ctx, strings.ToUpper(u.Email), true)
		if err != nil || b == nil {
			t.Fatalf("user %s on the target: %v, %v", u.Username, b, err)
		}
		same("user "+u.Username, a, b)
	}
	alice, _ := dst.UserByID(ctx, f.alice.ID)
	bob, _ := dst.UserByID(ctx, f.bob.ID)
	carol, _ := dst.UserByID(ctx, f.carol.ID)
	switch {
	case !alice.Admin || alice.Frozen || !alice.StartOnGroupedServers || alice.Language != "de" || *alice.Role != "owner" || alice.NameFirst != "Zoë" || alice.NameLast != "O'Brien" || !alice.EmailVerified:
		t.Errorf("alice: %+v", alice)
	case bob.Admin || !bob.Frozen || bob.EmailVerified || !bob.TOTPEnabled || bob.TOTPLastStep != 59_000_123 || bob.TOTPLastUsed == nil || !bob.TOTPLastUsed.Equal(copyT0.Add(3*time.Second)) || string(bob.RecoverySalt) != "0123456789abcdef":
		t.Errorf("bob: %+v", bob)
	case !carol.Suspended || carol.PasswordHash != nil || carol.TOTPEnabled || carol.TOTPSecret == nil || !carol.Created.Equal(copyT0.Add(2*time.Second)):
		t.Errorf("carol: %+v", carol)
	}

	// Authentication: the session and the key by their lookup prefix.
	s1, u1, err := src.SessionByKeyStart(ctx, f.sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	s2, u2, err := dst.SessionByKeyStart(ctx, f.sessionKey)
	if err != nil || s2 == nil {
		t.Fatalf("session on the target: %v, %v", s2, err)
	}
	same("session", s1, s2)
	same("session user", u1, u2)
	if u2.ID != f.alice.ID || !s2.LastUsed.Equal(copyT0.Add(10*time.Second)) || s2.LastUsed.Nanosecond() != 123456000 ||
		s2.DeviceID == nil || *s2.DeviceID != f.device.ID || s2.UserAgent != "Mozilla/5.0 \"quoted\"" {
		t.Errorf("session on the target: %+v of %s", s2, u2.ID)
	}
	k1, _, err := src.APIKeyByKeyStart(ctx, f.apiKey.KeyStart)
	if err != nil {
		t.Fatal(err)
	}
	k2, ku, err := dst.APIKeyByKeyStart(ctx, f.apiKey.KeyStart)
	if err != nil || k2 == nil {
		t.Fatalf("key on the target: %v, %v", k2, err)
	}
	same("api key", k1, k2)
	if ku.ID != f.alice.ID || !reflect.DeepEqual(k2.AllowedIPs, f.apiKey.AllowedIPs) || !reflect.DeepEqual(k2.UserPermissions, f.apiKey.UserPermissions) ||
		!reflect.DeepEqual(k2.ServerPermissions, f.apiKey.ServerPermissions) || len(k2.AdminPermissions) != 0 ||
		!k2.Expires.Equal(*f.apiKey.Expires) || k2.LastUsed == nil || !k2.LastUsed.Equal(copyT0.Add(20*time.Second)) {
		t.Errorf("key on the target: %+v", k2)
	}
	p1, _, _ := src.APIKeyByKeyStart(ctx, f.plainKey.KeyStart)
	p2, _, _ := dst.APIKeyByKeyStart(ctx, f.plainKey.KeyStart)
	same("plain api key", p1, p2)

	// The security key and the ceremony, as the sign-in reads them.
	sk1, _ := src.SecurityKeyByCredentialID(ctx, f.securityKey.CredentialID)
	sk2, err := dst.SecurityKeyByCredentialID(ctx, f.securityKey.CredentialID)
	if err != nil || sk2 == nil {
		t.Fatalf("security key on the target: %v, %v", sk2, err)
	}
	same("security key", sk1, sk2)
	if sk2.SignCount != 4_000_000_001 || !sk2.BackupEligible || sk2.BackupState || sk2.LastUsed == nil || len(sk2.Transports) != 2 {
		t.Errorf("security key on the target: %+v", sk2)
	}
	if c, err := dst.ConsumeCeremony(ctx, f.ceremony.ID); err != nil || c == nil || c.UserIDs[0] != f.alice.ID || !c.Expires.Equal(f.ceremony.Expires) {
		t.Errorf("ceremony on the target: %+v, %v", c, err)
	}

	// Lists and the rest of the tables, read the same way on both sides.
	a1, _, err := src.ListActivities(ctx, f.alice.ID, model.ListQuery{Keyset: true, First: 10})
	if err != nil {
		t.Fatal(err)
	}
	a2, _, err := dst.ListActivities(ctx, f.alice.ID, model.ListQuery{Keyset: true, First: 10})
	if err != nil {
		t.Fatal(err)
	}
	same("activities", a1, a2)
	if len(a2) != 2 || string(a2[1].Data) != f.activityData || a2[0].IP != nil || a2[1].Impersonator == nil || *a2[1].APIKeyID != f.apiKey.ID {
		t.Errorf("activities on the target: %+v", a2)
	}
	l1, _, _ := src.ListSessions(ctx, f.alice.ID, copyT0, model.ListQuery{First: 10})
	l2, _, _ := dst.ListSessions(ctx, f.alice.ID, copyT0, model.ListQuery{First: 10})
	same("sessions", l1, l2)
	d1, _ := src.DeviceByDigest(ctx, f.device.Digest)
	d2, _ := dst.DeviceByDigest(ctx, f.device.Digest)
	same("device", d1, d2)
	t1, tu1, _ := src.LoginTokenByKeyStart(ctx, f.loginTokenKey)
	t2, tu2, _ := dst.LoginTokenByKeyStart(ctx, f.loginTokenKey)
	same("login token", t1, t2)
	same("login token user", tu1, tu2)
	w1, h1, _ := src.CountHits(ctx, f.rateLimitKey, copyT0, 5*time.Minute)
	w2, h2, _ := dst.CountHits(ctx, f.rateLimitKey, copyT0, 5*time.Minute)
	same("rate-limit window", []any{w1, h1}, []any{w2, h2})
	if h2 != 2 || !w2.Equal(copyT0) {
		t.Errorf("rate-limit window on the target: %v, %d hits", w2, h2)
	}
	counters := func(st *db.Store) []*model.AttemptCounter {
		t.Helper()
		var got []*model.AttemptCounter
		err := st.InTx(ctx, func(ctx context.Context) error {
			later := copyT0.Add(time.Hour)
			a, err := st.LockAttempts(ctx, f.bob.ID, later)
			if err != nil {
				return err
			}
			d, err := st.LockDeviceAttempts(ctx, f.device.ID, later)
			if err != nil {
				return err
			}
			l, err := st.LockLoginAttempts(ctx, f.ghostName, false, later)
			if err != nil {
				return err
			}
			got = []*model.AttemptCounter{a, d, l}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	c1, c2 := counters(src), counters(dst)
	same("attempt counters", c1, c2)
	if c2[0].Failures != 3 || c2[0].CodeFailures != 1 || c2[1].BlockedUntil == nil || !c2[1].BlockedUntil.Equal(copyT0.Add(5*time.Minute)) ||
		c2[2].Failures != 1 || !c2[2].WindowStart.Equal(copyT0) {
		t.Errorf("attempt counters on the target: %+v %+v %+v", c2[0], c2[1], c2[2])
	}

	// Conditions the engines evaluate on stored timestamps: the target
	// must compare them as the source did.
	if n, err := dst.CountLiveAPIKeys(ctx, f.alice.ID, copyT0.Add(719*time.Hour)); err != nil || n != 2 {
		t.Errorf("live keys before the expiry = %d, %v; want 2", n, err)
	}
	if n, err := dst.CountLiveAPIKeys(ctx, f.alice.ID, copyT0.Add(720*time.Hour)); err != nil || n != 1 {
		t.Errorf("live keys at the expiry = %d, %v; want 1", n, err)
	}
	if got, err := dst.EnsurePendingTOTPSecret(ctx, f.carol.ID, "NEWER", copyT0.Add(time.Minute), copyT0.Add(5*time.Second-time.Microsecond)); err != nil || got != "CAROLPENDING" {
		t.Errorf("a pending secret younger than the cut-off: got %q, %v; want it kept", got, err)
	}
	if n, err := dst.DeleteIdleSessions(ctx, copyT0.Add(10*time.Second), 100); err != nil || n != 0 {
		t.Errorf("sessions idle before their last use: deleted %d, %v", n, err)
	}
	if n, err := dst.DeleteIdleSessions(ctx, copyT0.Add(10*time.Second+time.Microsecond), 100); err != nil || n != 1 {
		t.Errorf("sessions idle a microsecond after their last use: deleted %d, %v; want 1", n, err)
	}

	// Recovery codes: counted and usable once.
	if n, err := dst.CountRecoveryCodes(ctx, f.bob.ID); err != nil || n != 3 {
		t.Errorf("recovery codes = %d, %v", n, err)
	}
	for i, want := range []bool{true, false} {
		if ok, err := dst.UseRecoveryCode(ctx, f.bob.ID, f.recoveryDigests[0]); err != nil || ok != want {
			t.Errorf("use %d of a recovery code = %v, %v; want %v", i+1, ok, err, want)
		}
	}
}

// TestCopyRefusesNonEmptyTarget: a row in any table stops the copy before
// anything is written, with the table named.
func TestCopyRefusesNonEmptyTarget(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := dbtest.Open(t, dbtest.Engines(t)[0])
	fillCopySource(t, src)
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			dst := dbtest.Open(t, e)
			if _, _, err := db.NewStore(dst).Hit(ctx, "client:192.0.2.9", copyT0, time.Minute); err != nil {
				t.Fatal(err)
			}
			before := copyTableCounts(t, dst)
			_, err := db.Copy(ctx, src, dst)
			if !errors.Is(err, db.ErrNotEmpty) || !strings.Contains(err.Error(), "rate_limits") {
				t.Fatalf("Copy into a target with a rate-limit row: %v; want ErrNotEmpty naming rate_limits", err)
			}
			if after := copyTableCounts(t, dst); !reflect.DeepEqual(after, before) {
				t.Fatalf("the refused target changed: %v, was %v", after, before)
			}
		})
	}
}

// TestCopyRefusesUnmigratedSource: the source is only read, so one behind
// the binary's schema is refused, not migrated.
func TestCopyRefusesUnmigratedSource(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := openAsIs(t, dbtest.Engines(t)[0])
	dst := openAsIs(t, dbtest.Engines(t)[0])
	if _, err := db.Copy(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "accountd migrate") {
		t.Fatalf("Copy from a database never migrated: %v", err)
	}
	if _, err := src.ExecContext(ctx, "CREATE TABLE schema_migrations (version text PRIMARY KEY, applied text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.ExecContext(ctx, "INSERT INTO schema_migrations VALUES ('0001_init', 'x'), ('9999_future', 'x')"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Copy(ctx, src, dst); err == nil || !strings.Contains(err.Error(), "9999_future") {
		t.Fatalf("Copy from a database with an unknown migration: %v", err)
	}
	if n := len(copyCatalogTables(t, dst)); n != 0 {
		t.Fatalf("the target got %d tables from a refused copy", n)
	}
}

// TestCopyFailureLeavesTargetEmpty: a value that cannot be converted
// (here a timestamp SQLite holds as garbage text) fails the copy after
// earlier tables were written, and the target is left migrated and empty,
// ready for another try. The error names the table and column, never the
// value.
func TestCopyFailureLeavesTargetEmpty(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := dbtest.Open(t, dbtest.Engines(t)[0])
	f := fillCopySource(t, src)
	if _, err := src.ExecContext(ctx, "UPDATE sessions SET last_used = 'secret-looking garbage' WHERE key_start = ?", f.bobSession); err != nil {
		t.Fatal(err)
	}
	for _, e := range dbtest.Engines(t) {
		t.Run(e.Name, func(t *testing.T) {
			dst := openAsIs(t, e)
			_, err := db.Copy(ctx, src, dst)
			if err == nil || !strings.Contains(err.Error(), "sessions") || !strings.Contains(err.Error(), "last_used") {
				t.Fatalf("Copy of a bad timestamp: %v; want an error naming sessions.last_used", err)
			}
			if strings.Contains(err.Error(), "garbage") {
				t.Fatalf("the error shows the value: %v", err)
			}
			for name, n := range copyTableCounts(t, dst) {
				if n != 0 && name != "schema_migrations" {
					t.Errorf("table %s holds %d rows after a failed copy", name, n)
				}
			}
		})
	}
}
